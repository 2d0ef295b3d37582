//! [`WireError`], why a frame or body was refused, its conversions from
//! the little-endian reader's and writer's errors, and the node id range
//! checks every body shares. The lowest of the wire files: it uses none of
//! the others.

use super::super::identity::MAX_NODE_ID;
use super::super::le;

/// Why a frame or body was refused, or could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// Fewer bytes than the structure needs.
    Truncated,
    /// Bytes left over after the structure.
    TrailingBytes,
    /// The output buffer is too small.
    BufferTooSmall,
    /// The header does not start with [`MAGIC`](super::MAGIC).
    BadMagic,
    /// The header carries a version other than [`WIRE_VERSION`](super::WIRE_VERSION).
    BadVersion,
    /// Undefined flag bits set, or ERROR without REPLY.
    BadFlags,
    /// `ack_gap` is not zero on a frame that is not a reliable request,
    /// or out of the window on one.
    BadReserved,
    /// `body_len` is larger than [`MAX_BODY`](super::MAX_BODY).
    BodyTooLarge,
    /// A node id out of range (or 0 where 0 is not allowed).
    BadNodeId,
    /// A field holds a value it may not hold.
    InvalidValue,
    /// A message type this version does not know.
    UnknownType,
    /// A sequence number already seen (replay).
    Replay,
    /// A sequence number beyond the next one expected (frames missing).
    SeqGap,
    /// The sequence space of the connection is used up.
    SeqExhausted,
}

impl WireError {
    /// A short explanation, for logs and error messages.
    pub fn describe(self) -> &'static str {
        match self {
            WireError::Truncated => "truncated",
            WireError::TrailingBytes => "trailing bytes",
            WireError::BufferTooSmall => "output buffer too small",
            WireError::BadMagic => "bad magic",
            WireError::BadVersion => "unsupported wire version",
            WireError::BadFlags => "invalid flags",
            WireError::BadReserved => "ack_gap out of place or range",
            WireError::BodyTooLarge => "body too large",
            WireError::BadNodeId => "node id out of range",
            WireError::InvalidValue => "invalid field value",
            WireError::UnknownType => "unknown message type",
            WireError::Replay => "replayed sequence number",
            WireError::SeqGap => "sequence number gap",
            WireError::SeqExhausted => "sequence numbers exhausted",
        }
    }
}

pub(super) fn node_id_ok(id: u16) -> bool {
    u32::from(id) <= MAX_NODE_ID
}

pub(super) fn nonzero_node_id_ok(id: u16) -> bool {
    id != 0 && node_id_ok(id)
}

impl From<le::Truncated> for WireError {
    fn from(_: le::Truncated) -> Self {
        WireError::Truncated
    }
}

impl From<le::NoRoom> for WireError {
    fn from(_: le::NoRoom) -> Self {
        WireError::BufferTooSmall
    }
}

impl From<le::Trailing> for WireError {
    fn from(_: le::Trailing) -> Self {
        WireError::TrailingBytes
    }
}
