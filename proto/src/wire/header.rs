//! The fixed frame header: magic, version, lengths and flags,
//! [`FrameHeader`] with its checks, the constant-time [`tags_equal`], and
//! the sequence numbers of a connection ([`SeqCounter`] sending,
//! [`ReplayGuard`] receiving).

use super::super::le::{Reader, Writer};
use super::error::{node_id_ok, nonzero_node_id_ok, WireError};
use super::msg_type::MsgType;

/// First four bytes of every frame.
pub const MAGIC: [u8; 4] = *b"SSIK";
/// Version of the frame format carried in byte 4.
pub const WIRE_VERSION: u8 = 3;
/// Length of the fixed frame header.
pub const HEADER_LEN: usize = 72;
/// Length of a frame's tag field and of a handshake proof (HMAC-SHA256).
pub const TAG_LEN: usize = 32;
/// Offset of the tag in the header.
pub const TAG_OFFSET: usize = 40;
/// Largest body a frame may carry (1 MiB).
pub const MAX_BODY: u32 = 1 << 20;

/// Flag: this frame is a reply to the request with the same `request_id`.
pub const FLAG_REPLY: u16 = 1 << 0;
/// Flag: this reply reports an error (only valid together with
/// [`FLAG_REPLY`]).
pub const FLAG_ERROR: u16 = 1 << 1;
/// Flag: a reliable control message (`request_id` is its message id,
/// `ack_gap` says where the sender's floor is; see [`super::super::reliable`]),
/// or the acknowledgement of one (with [`FLAG_REPLY`]).
pub const FLAG_RELIABLE: u16 = 1 << 2;
/// Most a reliable request's id may be above the sender's floor
/// (`ack_gap` < this); the window a receiver keeps ([`super::super::reliable`]).
pub const RELIABLE_WINDOW: u64 = 4096;
/// All flags defined by [`WIRE_VERSION`] 3 (version 2 had no
/// [`FLAG_RELIABLE`] and a reserved field where `ack_gap` is).
pub const KNOWN_FLAGS: u16 = FLAG_REPLY | FLAG_ERROR | FLAG_RELIABLE;

/// A decoded frame header. Magic and version are implied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameHeader {
    /// Raw message type; see [`FrameHeader::kind`].
    pub msg_type: u8,
    /// [`FLAG_REPLY`], [`FLAG_ERROR`].
    pub flags: u16,
    /// Sending node (1..=4095; 0 only in handshake frames).
    pub src_node: u16,
    /// Destination node (0..=4095; 0 = any/unknown).
    pub dst_node: u16,
    /// Incarnation of the sending node.
    pub src_incarnation: u32,
    /// Per-connection, per-direction sequence number, from 1.
    pub seq: u64,
    /// Request this frame is or answers; 0 for one-way messages.
    pub request_id: u64,
    /// Length of the body that follows the header.
    pub body_len: u32,
    /// Reliable requests only: `request_id` minus the sender's floor.
    pub ack_gap: u32,
    /// Tag over [`FrameHeader::mac_header`] and the body ([`super::super::frame_tag`]).
    pub tag: [u8; TAG_LEN],
}

impl FrameHeader {
    /// Writes the header, with `self.tag` in the tag field. Does not
    /// validate: see [`FrameHeader::validate`].
    pub fn encode(&self, out: &mut [u8; HEADER_LEN]) {
        let mut w = Writer::new(out);
        // Cannot fail: the fields add up to exactly HEADER_LEN bytes.
        let _ = self.write_to(&mut w, &self.tag);
    }

    /// The encoded header with the tag field zeroed: what the tag covers,
    /// followed by the body.
    pub fn mac_header(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let mut w = Writer::new(&mut out);
        // Cannot fail: the fields add up to exactly HEADER_LEN bytes.
        let _ = self.write_to(&mut w, &[0u8; TAG_LEN]);
        out
    }

    fn write_to(&self, w: &mut Writer<'_>, tag: &[u8; TAG_LEN]) -> Result<(), WireError> {
        w.bytes(&MAGIC)?;
        w.u8(WIRE_VERSION)?;
        w.u8(self.msg_type)?;
        w.u16(self.flags)?;
        w.u16(self.src_node)?;
        w.u16(self.dst_node)?;
        w.u32(self.src_incarnation)?;
        w.u64(self.seq)?;
        w.u64(self.request_id)?;
        w.u32(self.body_len)?;
        w.u32(self.ack_gap)?;
        Ok(w.bytes(tag)?)
    }

    /// Decodes the first [`HEADER_LEN`] bytes of `buf` (more may follow,
    /// they are not looked at). Checks magic, version, flags, the reserved
    /// field, the body length bound and node id ranges; does not check the
    /// tag, the sequence number or the message type.
    pub fn decode(buf: &[u8]) -> Result<FrameHeader, WireError> {
        let mut r = Reader::new(buf.get(..HEADER_LEN).ok_or(WireError::Truncated)?);
        if r.array::<4>()? != MAGIC {
            return Err(WireError::BadMagic);
        }
        if r.u8()? != WIRE_VERSION {
            return Err(WireError::BadVersion);
        }
        let msg_type = r.u8()?;
        let flags = r.u16()?;
        let src_node = r.u16()?;
        let dst_node = r.u16()?;
        let src_incarnation = r.u32()?;
        let seq = r.u64()?;
        let request_id = r.u64()?;
        let body_len = r.u32()?;
        let ack_gap = r.u32()?;
        let tag = r.array::<TAG_LEN>()?;
        r.finish()?;
        let h = FrameHeader {
            msg_type,
            flags,
            src_node,
            dst_node,
            src_incarnation,
            seq,
            request_id,
            body_len,
            ack_gap,
            tag,
        };
        h.validate()?;
        Ok(h)
    }

    /// The checks [`FrameHeader::decode`] makes on the fields (flags, body
    /// length, node ids), for a sender to check what it is about to send.
    pub fn validate(&self) -> Result<(), WireError> {
        if self.flags & !KNOWN_FLAGS != 0 {
            return Err(WireError::BadFlags);
        }
        if self.flags & FLAG_ERROR != 0 && self.flags & FLAG_REPLY == 0 {
            return Err(WireError::BadFlags);
        }
        let reliable_request = self.flags & (FLAG_RELIABLE | FLAG_REPLY) == FLAG_RELIABLE;
        if reliable_request && self.request_id == 0 {
            return Err(WireError::BadFlags);
        }
        let gap_ok = if reliable_request {
            u64::from(self.ack_gap) < self.request_id && u64::from(self.ack_gap) < RELIABLE_WINDOW
        } else {
            self.ack_gap == 0
        };
        if !gap_ok {
            return Err(WireError::BadReserved);
        }
        if self.body_len > MAX_BODY {
            return Err(WireError::BodyTooLarge);
        }
        let handshake = self.kind().is_some_and(MsgType::is_handshake);
        let src_ok = if handshake {
            node_id_ok(self.src_node)
        } else {
            nonzero_node_id_ok(self.src_node)
        };
        if !src_ok || !node_id_ok(self.dst_node) {
            return Err(WireError::BadNodeId);
        }
        Ok(())
    }

    /// The message type, if this version knows it.
    pub fn kind(&self) -> Option<MsgType> {
        MsgType::from_u8(self.msg_type)
    }

    /// Whether this frame is a reply.
    pub fn is_reply(&self) -> bool {
        self.flags & FLAG_REPLY != 0
    }

    /// Whether this frame is an error reply.
    pub fn is_error(&self) -> bool {
        self.flags & FLAG_ERROR != 0
    }

    /// Whether this frame is a reliable message or its acknowledgement.
    pub fn is_reliable(&self) -> bool {
        self.flags & FLAG_RELIABLE != 0
    }
}

/// Constant-time comparison of two tags: no early exit on the first
/// difference.
pub fn tags_equal(a: &[u8; TAG_LEN], b: &[u8; TAG_LEN]) -> bool {
    let mut acc = 0u8;
    for (x, y) in a.iter().zip(b.iter()) {
        acc |= x ^ y;
    }
    core::hint::black_box(acc) == 0
}

/// Receiving side of the sequence check: accepts exactly the next sequence
/// number of the connection, and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayGuard {
    /// The only sequence number [`ReplayGuard::check_and_advance`] accepts
    /// next; 0 once `u64::MAX` has been accepted (nothing more can be).
    pub next_expected: u64,
}

impl ReplayGuard {
    /// A guard for a new connection: expects seq 1.
    pub const fn new() -> ReplayGuard {
        ReplayGuard { next_expected: 1 }
    }

    /// Accepts `seq` if it is exactly the next expected one, and then
    /// expects the one after it. Sequence number 0 is never accepted.
    pub fn check_and_advance(&mut self, seq: u64) -> Result<(), WireError> {
        if self.next_expected == 0 {
            return Err(WireError::SeqExhausted);
        }
        if seq < self.next_expected {
            return Err(WireError::Replay);
        }
        if seq > self.next_expected {
            return Err(WireError::SeqGap);
        }
        self.next_expected = seq.wrapping_add(1);
        Ok(())
    }
}

impl Default for ReplayGuard {
    fn default() -> ReplayGuard {
        ReplayGuard::new()
    }
}

/// Sending side of the sequence numbers of a connection: 1, 2, 3, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqCounter {
    /// The number [`SeqCounter::next_seq`] hands out next; 0 once
    /// `u64::MAX` has been handed out.
    pub next: u64,
}

impl SeqCounter {
    /// A counter for a new connection: starts at 1.
    pub const fn new() -> SeqCounter {
        SeqCounter { next: 1 }
    }

    /// The sequence number for the next frame; an error once the sequence
    /// space is used up (the connection must then be closed).
    pub fn next_seq(&mut self) -> Result<u64, WireError> {
        let seq = self.next;
        if seq == 0 {
            return Err(WireError::SeqExhausted);
        }
        self.next = seq.wrapping_add(1);
        Ok(seq)
    }
}

impl Default for SeqCounter {
    fn default() -> SeqCounter {
        SeqCounter::new()
    }
}
