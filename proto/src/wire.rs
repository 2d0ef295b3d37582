//! krpc frame format: the fixed header, the message bodies and the pure
//! parts of the handshake, all explicitly little-endian.
//!
//! # Frames
//!
//! Every krpc frame is a [`HEADER_LEN`]-byte header followed by
//! `body_len` bytes of body:
//!
//! ```text
//! off len field
//! 0   4   magic = b"SSIK"
//! 4   1   version = 3 (WIRE_VERSION)
//! 5   1   msg_type (u8, see MsgType; unknown types decode, dispatch rejects)
//! 6   2   flags (bit0 = REPLY, bit1 = ERROR reply, bit2 = RELIABLE; other bits must be 0)
//! 8   2   src_node (1..=4095; 0 only in Hello/HelloAuth frames)
//! 10  2   dst_node (0..=4095; 0 = any/unknown)
//! 12  4   src_incarnation
//! 16  8   seq (per connection and direction, starts at 1, +1 per frame)
//! 24  8   request_id (0 for one-way messages)
//! 32  4   body_len (<= MAX_BODY)
//! 36  4   ack_gap (RELIABLE requests: request_id minus the sender's floor, < reliable::WINDOW; else 0)
//! 40  32  tag = SipHash-2-4-128(session_key[..16], header with tag zeroed || body), 16 zero bytes
//! ```
//!
//! # Handshake
//!
//! All nodes of a cluster share a secret. No cryptography is done here: the
//! caller supplies HMAC-SHA256 (handshake) and random bytes, this module
//! only lays out the bytes that are MACed; frame tags are
//! [`super::frame_tag`]. On a new TCP connection the side that
//! connected is the client ([`ROLE_CLIENT`]), the side that accepted is the
//! server ([`ROLE_SERVER`]).
//!
//! 1. The client sends a `Hello` frame (seq 1) whose [`Hello`] body
//!    carries its node id, incarnation, listener address and port and a
//!    fresh random 32-byte nonce; the server checks it and answers with its
//!    own `Hello` (seq 1).
//! 2. The client sends a `HelloAuth` frame (seq 2) whose [`HelloAuth`]
//!    proof is `HMAC(secret, proof_input(ROLE_CLIENT, &hello_client,
//!    &hello_server))`. The server computes the proof it expects and
//!    compares with [`tags_equal`]; on mismatch it closes the connection
//!    without showing its own proof. Otherwise it sends its `HelloAuth`
//!    (seq 2, role [`ROLE_SERVER`]), which the client checks the same way.
//! 3. The role byte stops a proof being reflected back, the two nonces
//!    stop it being replayed on another connection.
//! 4. Both sides derive
//!    `session_key = HMAC(secret, session_key_input(&nonce_client, &nonce_server))`.
//!
//! Hello and HelloAuth frames are sent with an all-zero tag, which the
//! receiver ignores: their bodies are authenticated by the proofs, which
//! cover both Hellos. Every later frame (seq 3 onwards) carries
//! `tag = frame_tag(session_key[..16], mac_header(), body)` (SipHash-2-4
//! with a 128-bit output, then 16 zero bytes; version 1 used HMAC-SHA256
//! here, at several times the cost per byte); the receiver checks all 32
//! bytes
//! with [`tags_equal`] before looking at the body, checks `seq` with a
//! [`ReplayGuard`] (exactly the previous seq + 1, no gaps or replays), and
//! checks that `src_node` and `src_incarnation` are those of the peer's
//! Hello (the session key is the same in both directions, so this is what
//! stops a frame being reflected back to its sender). The sender numbers
//! its frames with a [`SeqCounter`].
//!
//! # Bodies
//!
//! Every body type has `encode(&self, out) -> Result<usize, WireError>`
//! (bytes written; an error if `out` is too small or a value is invalid)
//! and `decode(body) -> Result<Self, WireError>`, which rejects short
//! bodies, trailing bytes and invalid values. Nothing here panics on any
//! input.

use super::identity::MAX_NODE_ID;

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
/// `ack_gap` says where the sender's floor is; see [`super::reliable`]),
/// or the acknowledgement of one (with [`FLAG_REPLY`]).
pub const FLAG_RELIABLE: u16 = 1 << 2;
/// Most a reliable request's id may be above the sender's floor
/// (`ack_gap` < this); the window a receiver keeps ([`super::reliable`]).
pub const RELIABLE_WINDOW: u64 = 4096;
/// All flags defined by [`WIRE_VERSION`] 3 (version 2 had no
/// [`FLAG_RELIABLE`] and a reserved field where `ack_gap` is).
pub const KNOWN_FLAGS: u16 = FLAG_REPLY | FLAG_ERROR | FLAG_RELIABLE;

/// Most entries a [`JoinReply`] carries.
pub const MAX_NODES_IN_REPLY: usize = 64;

/// Role of the side that opened the connection, for [`proof_input`].
pub const ROLE_CLIENT: u8 = 0;
/// Role of the side that accepted the connection, for [`proof_input`].
pub const ROLE_SERVER: u8 = 1;

/// Length of a handshake nonce.
pub const NONCE_LEN: usize = 32;

const SESSION_LABEL: &[u8] = b"ssi-krpc-session-v1";
const PROOF_LABEL: &[u8] = b"ssi-krpc-proof-v1";

/// Length of what [`session_key_input`] writes.
pub const SESSION_KEY_INPUT_LEN: usize = SESSION_LABEL.len() + 2 * NONCE_LEN;
/// Length of what [`proof_input`] writes.
pub const PROOF_INPUT_LEN: usize = PROOF_LABEL.len() + 1 + 2 * Hello::LEN;

/// Why a frame or body was refused, or could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// Fewer bytes than the structure needs.
    Truncated,
    /// Bytes left over after the structure.
    TrailingBytes,
    /// The output buffer is too small.
    BufferTooSmall,
    /// The header does not start with [`MAGIC`].
    BadMagic,
    /// The header carries a version other than [`WIRE_VERSION`].
    BadVersion,
    /// Undefined flag bits set, or ERROR without REPLY.
    BadFlags,
    /// `ack_gap` is not zero on a frame that is not a reliable request,
    /// or out of the window on one.
    BadReserved,
    /// `body_len` is larger than [`MAX_BODY`].
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

/// Message types. The header keeps the raw byte ([`FrameHeader::msg_type`])
/// so that unknown types decode and can be refused at dispatch; values not
/// listed here are free for later versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MsgType {
    /// First frame of each side of a connection; body [`Hello`].
    Hello = 1,
    /// Handshake proof; body [`HelloAuth`].
    HelloAuth = 2,
    /// Periodic liveness and load report; body [`Heartbeat`].
    Heartbeat = 3,
    /// A node asks to join; body [`Heartbeat`] describing the joiner.
    JoinRequest = 4,
    /// Answer to JoinRequest; body [`JoinReply`].
    JoinReply = 5,
    /// A node leaves the cluster; body [`Leave`].
    Leave = 6,
    /// A node was found dead; body [`NodeDead`].
    NodeDead = 7,
    /// Request/reply test and benchmark; the reply echoes the body.
    Echo = 8,
    /// One-way throughput test; the body is discarded.
    Stream = 9,
    /// Start a restart from an image on the shared file system; body
    /// [`RestartRequest`], reply [`RestartStarted`].
    RestartRequest = 10,
    /// How a remote restart is going; body [`RestartQuery`], reply
    /// [`RestartStatus`].
    RestartStatus = 11,
    /// A migration starts: the destination prepares to receive the image;
    /// body [`super::migration::Begin`], empty reply.
    MigrateBegin = 12,
    /// A piece of a migrating process's image (one-way); body
    /// [`super::migration::Data`].
    MigrateData = 13,
    /// The whole image was sent: restore it; body
    /// [`super::migration::Commit`], reply [`RestartStarted`] (the outcome
    /// is polled with `RestartStatus`).
    MigrateCommit = 14,
    /// The source hands the process over: run it; body
    /// [`super::migration::Ref`], empty reply.
    MigrateGo = 15,
    /// The source gave up a migration (one-way); body
    /// [`super::migration::Ref`].
    MigrateAbort = 16,
    /// A migrated process ended (one-way, to its home node); body
    /// [`super::migration::Exit`].
    MigrateExit = 17,
    /// A signal for a migrated process (one-way, from its home node); body
    /// [`super::migration::Signal`].
    MigrateSignal = 18,
    /// A migrated process reads or writes a file its deputy keeps (one-way,
    /// to its home node); body [`super::migration::Io`].
    MigrateIo = 19,
    /// The deputy's answer to [`MsgType::MigrateIo`] (one-way); body
    /// [`super::migration::IoDone`].
    MigrateIoDone = 20,
    /// A migrated process moved on to another node (one-way, to its home
    /// node); body [`super::migration::Moved`].
    MigrateMoved = 21,
    /// Pre-copy: pages of the running process (one-way); body
    /// [`super::migration::Data`] with the pages' address as `offset`.
    MigratePages = 22,
    /// Pre-copy: the pages the destination keeps from the pre-copy rounds
    /// (one-way, before `MigrateCommit`); body [`super::migration::Keep`].
    MigrateKeep = 23,
    /// Post-copy and lazy: pages of a process that resumed at the
    /// destination, asked of the node holding its memory (one-way); body
    /// [`super::migration::PageRequest`].
    MigratePageRequest = 24,
    /// The answer to [`MsgType::MigratePageRequest`] (one-way); body
    /// [`super::migration::PageData`].
    MigratePageData = 25,
    /// Post-copy and lazy: the destination needs no more pages (all came,
    /// or the process ended or moved on): the source frees the memory it
    /// kept (one-way); body [`super::migration::Ref`].
    MigrateRelease = 26,
    /// The node running a migrated process renews its lease with the
    /// process's deputy (request, to the home node); body
    /// [`super::migration::Lease`], reply [`super::migration::LeaseReply`].
    MigrateLease = 27,
}

/// Every message type this version knows, with its name.
const NAMES: [(MsgType, &str); 27] = [
    (MsgType::Hello, "Hello"),
    (MsgType::HelloAuth, "HelloAuth"),
    (MsgType::Heartbeat, "Heartbeat"),
    (MsgType::JoinRequest, "JoinRequest"),
    (MsgType::JoinReply, "JoinReply"),
    (MsgType::Leave, "Leave"),
    (MsgType::NodeDead, "NodeDead"),
    (MsgType::Echo, "Echo"),
    (MsgType::Stream, "Stream"),
    (MsgType::RestartRequest, "RestartRequest"),
    (MsgType::RestartStatus, "RestartStatus"),
    (MsgType::MigrateBegin, "MigrateBegin"),
    (MsgType::MigrateData, "MigrateData"),
    (MsgType::MigrateCommit, "MigrateCommit"),
    (MsgType::MigrateGo, "MigrateGo"),
    (MsgType::MigrateAbort, "MigrateAbort"),
    (MsgType::MigrateExit, "MigrateExit"),
    (MsgType::MigrateSignal, "MigrateSignal"),
    (MsgType::MigrateIo, "MigrateIo"),
    (MsgType::MigrateIoDone, "MigrateIoDone"),
    (MsgType::MigrateMoved, "MigrateMoved"),
    (MsgType::MigratePages, "MigratePages"),
    (MsgType::MigrateKeep, "MigrateKeep"),
    (MsgType::MigratePageRequest, "MigratePageRequest"),
    (MsgType::MigratePageData, "MigratePageData"),
    (MsgType::MigrateRelease, "MigrateRelease"),
    (MsgType::MigrateLease, "MigrateLease"),
];

impl MsgType {
    /// The type with wire value `v`, if this version knows it.
    pub fn from_u8(v: u8) -> Option<MsgType> {
        Some(match v {
            1 => MsgType::Hello,
            2 => MsgType::HelloAuth,
            3 => MsgType::Heartbeat,
            4 => MsgType::JoinRequest,
            5 => MsgType::JoinReply,
            6 => MsgType::Leave,
            7 => MsgType::NodeDead,
            8 => MsgType::Echo,
            9 => MsgType::Stream,
            10 => MsgType::RestartRequest,
            11 => MsgType::RestartStatus,
            12 => MsgType::MigrateBegin,
            13 => MsgType::MigrateData,
            14 => MsgType::MigrateCommit,
            15 => MsgType::MigrateGo,
            16 => MsgType::MigrateAbort,
            17 => MsgType::MigrateExit,
            18 => MsgType::MigrateSignal,
            19 => MsgType::MigrateIo,
            20 => MsgType::MigrateIoDone,
            21 => MsgType::MigrateMoved,
            22 => MsgType::MigratePages,
            23 => MsgType::MigrateKeep,
            24 => MsgType::MigratePageRequest,
            25 => MsgType::MigratePageData,
            26 => MsgType::MigrateRelease,
            27 => MsgType::MigrateLease,
            _ => return None,
        })
    }

    /// The wire value.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The type's name (`MigrateExit`).
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("?", |(_, n)| n)
    }

    /// The type named `name` (ASCII case ignored).
    pub fn from_name(name: &[u8]) -> Option<MsgType> {
        NAMES
            .iter()
            .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name))
            .map(|(k, _)| *k)
    }

    /// Whether frames of this type belong to the handshake (sent before a
    /// session key exists, `src_node` may be 0).
    pub fn is_handshake(self) -> bool {
        matches!(self, MsgType::Hello | MsgType::HelloAuth)
    }
}

impl TryFrom<u8> for MsgType {
    type Error = WireError;

    fn try_from(v: u8) -> Result<MsgType, WireError> {
        MsgType::from_u8(v).ok_or(WireError::UnknownType)
    }
}

impl From<MsgType> for u8 {
    fn from(t: MsgType) -> u8 {
        t as u8
    }
}

fn node_id_ok(id: u16) -> bool {
    u32::from(id) <= MAX_NODE_ID
}

fn nonzero_node_id_ok(id: u16) -> bool {
    id != 0 && node_id_ok(id)
}

use super::le::{self, Reader, Writer};

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
    /// Tag over [`FrameHeader::mac_header`] and the body ([`super::frame_tag`]).
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

/// First message of each side of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hello {
    /// Sender's node id (0..=4095; 0 = not configured).
    pub node_id: u16,
    /// Sender's incarnation.
    pub incarnation: u32,
    /// Fresh random nonce for this connection.
    pub nonce: [u8; NONCE_LEN],
    /// Sender's krpc listener address (IPv4, network order).
    pub address: [u8; 4],
    /// Sender's krpc listener port.
    pub port: u16,
}

impl Hello {
    /// Encoded length.
    pub const LEN: usize = 2 + 4 + NONCE_LEN + 4 + 2;

    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        w.u16(self.node_id)?;
        w.u32(self.incarnation)?;
        w.bytes(&self.nonce)?;
        w.bytes(&self.address)?;
        Ok(w.u16(self.port)?)
    }

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if !node_id_ok(self.node_id) {
            return Err(WireError::BadNodeId);
        }
        let mut w = Writer::new(out);
        self.write_to(&mut w)?;
        Ok(w.pos())
    }

    /// Decodes a body of exactly [`Hello::LEN`] bytes.
    pub fn decode(body: &[u8]) -> Result<Hello, WireError> {
        let mut r = Reader::new(body);
        let h = Hello {
            node_id: r.u16()?,
            incarnation: r.u32()?,
            nonce: r.array()?,
            address: r.array()?,
            port: r.u16()?,
        };
        r.finish()?;
        if !node_id_ok(h.node_id) {
            return Err(WireError::BadNodeId);
        }
        Ok(h)
    }
}

/// Handshake proof: `HMAC(secret, proof_input(role, ...))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HelloAuth {
    /// The proof.
    pub proof: [u8; TAG_LEN],
}

impl HelloAuth {
    /// Encoded length.
    pub const LEN: usize = TAG_LEN;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let mut w = Writer::new(out);
        w.bytes(&self.proof)?;
        Ok(w.pos())
    }

    /// Decodes a body of exactly [`HelloAuth::LEN`] bytes.
    pub fn decode(body: &[u8]) -> Result<HelloAuth, WireError> {
        let mut r = Reader::new(body);
        let proof = r.array()?;
        r.finish()?;
        Ok(HelloAuth { proof })
    }
}

/// Writes `b"ssi-krpc-session-v1" || nonce_client || nonce_server`, the
/// input of `session_key = HMAC(secret, input)`. Returns the length
/// ([`SESSION_KEY_INPUT_LEN`]).
pub fn session_key_input(
    nonce_client: &[u8; NONCE_LEN],
    nonce_server: &[u8; NONCE_LEN],
    out: &mut [u8; SESSION_KEY_INPUT_LEN],
) -> usize {
    let mut w = Writer::new(out);
    // Cannot fail: the parts add up to exactly SESSION_KEY_INPUT_LEN.
    let _ = w
        .bytes(SESSION_LABEL)
        .and_then(|()| w.bytes(nonce_client))
        .and_then(|()| w.bytes(nonce_server));
    w.pos()
}

/// Writes `b"ssi-krpc-proof-v1" || role || hello_client || hello_server`
/// (the Hellos encoded as on the wire), the input of the handshake proof
/// `HMAC(secret, input)` of the side with `role` ([`ROLE_CLIENT`] or
/// [`ROLE_SERVER`]; other values are written as given). Returns the length
/// ([`PROOF_INPUT_LEN`]).
pub fn proof_input(
    role: u8,
    hello_client: &Hello,
    hello_server: &Hello,
    out: &mut [u8; PROOF_INPUT_LEN],
) -> usize {
    let mut w = Writer::new(out);
    // Cannot fail: the parts add up to exactly PROOF_INPUT_LEN. The Hellos
    // are written as they are, without validation.
    let _ = w
        .bytes(PROOF_LABEL)
        .and_then(|()| w.u8(role))
        .map_err(WireError::from)
        .and_then(|()| hello_client.write_to(&mut w))
        .and_then(|()| hello_server.write_to(&mut w));
    w.pos()
}

/// Fixed-point shift of kernel load averages (`FSHIFT`).
pub const FSHIFT: u32 = 11;
/// 1.0 in kernel load-average fixed point (`FIXED_1`).
pub const FIXED_1: u32 = 1 << FSHIFT;

/// Splits a fixed-point load average (kernel `avenrun` format, value *
/// [`FIXED_1`]) into integer part and hundredths, rounded as
/// `/proc/loadavg` does (`LOAD_INT`/`LOAD_FRAC` after adding
/// `FIXED_1 / 200`).
pub fn format_load(v: u32) -> (u32, u32) {
    // In u64 (the kernel's unsigned long): no overflow.
    let x = u64::from(v).saturating_add(u64::from(FIXED_1 / 200));
    let int = x >> FSHIFT;
    let frac = (x & u64::from(FIXED_1 - 1)).saturating_mul(100) >> FSHIFT;
    // int < 2^22 and frac < 100: both fit.
    (
        u32::try_from(int).unwrap_or(u32::MAX),
        u32::try_from(frac).unwrap_or(99),
    )
}

/// A fixed-point load average in hundredths (1.5 -> 150), rounded like
/// [`format_load`].
pub fn load_hundredths(v: u32) -> u32 {
    let (int, frac) = format_load(v);
    int.saturating_mul(100).saturating_add(frac)
}

/// A node's resources, as reported in heartbeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resources {
    /// Online CPUs.
    pub cpus: u32,
    /// Total memory in KiB.
    pub mem_total_kib: u64,
    /// Free memory in KiB (never more than `mem_total_kib`).
    pub mem_free_kib: u64,
    /// 1, 5 and 15 minute load averages, fixed point (see [`format_load`]).
    pub load: [u32; 3],
}

impl Resources {
    /// Encoded length.
    pub const LEN: usize = 4 + 8 + 8 + 3 * 4;

    /// No resources known.
    pub const ZERO: Resources = Resources {
        cpus: 0,
        mem_total_kib: 0,
        mem_free_kib: 0,
        load: [0; 3],
    };

    fn validate(&self) -> Result<(), WireError> {
        if self.mem_free_kib > self.mem_total_kib {
            return Err(WireError::InvalidValue);
        }
        Ok(())
    }

    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        w.u32(self.cpus)?;
        w.u64(self.mem_total_kib)?;
        w.u64(self.mem_free_kib)?;
        for l in self.load {
            w.u32(l)?;
        }
        Ok(())
    }

    fn read_from(r: &mut Reader<'_>) -> Result<Resources, WireError> {
        let res = Resources {
            cpus: r.u32()?,
            mem_total_kib: r.u64()?,
            mem_free_kib: r.u64()?,
            load: [r.u32()?, r.u32()?, r.u32()?],
        };
        res.validate()?;
        Ok(res)
    }

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.validate()?;
        let mut w = Writer::new(out);
        self.write_to(&mut w)?;
        Ok(w.pos())
    }

    /// Decodes exactly [`Resources::LEN`] bytes.
    pub fn decode(body: &[u8]) -> Result<Resources, WireError> {
        let mut r = Reader::new(body);
        let res = Resources::read_from(&mut r)?;
        r.finish()?;
        Ok(res)
    }
}

/// Periodic liveness report (also the body of a JoinRequest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Heartbeat {
    /// Sender's incarnation.
    pub incarnation: u32,
    /// Epoch of the sender's membership view.
    pub view_epoch: u64,
    /// Sender's resources.
    pub resources: Resources,
}

impl Heartbeat {
    /// Encoded length.
    pub const LEN: usize = 4 + 8 + Resources::LEN;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.resources.validate()?;
        let mut w = Writer::new(out);
        w.u32(self.incarnation)?;
        w.u64(self.view_epoch)?;
        self.resources.write_to(&mut w)?;
        Ok(w.pos())
    }

    /// Decodes a body of exactly [`Heartbeat::LEN`] bytes.
    pub fn decode(body: &[u8]) -> Result<Heartbeat, WireError> {
        let mut r = Reader::new(body);
        let hb = Heartbeat {
            incarnation: r.u32()?,
            view_epoch: r.u64()?,
            resources: Resources::read_from(&mut r)?,
        };
        r.finish()?;
        Ok(hb)
    }
}

/// One node in a [`JoinReply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeEntry {
    /// Node id (1..=4095).
    pub node_id: u16,
    /// Incarnation the sender knows.
    pub incarnation: u32,
    /// krpc listener address (IPv4, network order).
    pub address: [u8; 4],
    /// krpc listener port.
    pub port: u16,
    /// Whether the sender sees the node alive.
    pub alive: bool,
}

impl NodeEntry {
    /// Encoded length.
    pub const LEN: usize = 2 + 4 + 4 + 2 + 1;

    /// The default entry, filling the unused part of a [`JoinReply`].
    pub const EMPTY: NodeEntry = NodeEntry {
        node_id: 0,
        incarnation: 0,
        address: [0; 4],
        port: 0,
        alive: false,
    };

    fn validate(&self) -> Result<(), WireError> {
        if !nonzero_node_id_ok(self.node_id) {
            return Err(WireError::BadNodeId);
        }
        Ok(())
    }

    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        w.u16(self.node_id)?;
        w.u32(self.incarnation)?;
        w.bytes(&self.address)?;
        w.u16(self.port)?;
        Ok(w.u8(u8::from(self.alive))?)
    }

    fn read_from(r: &mut Reader<'_>) -> Result<NodeEntry, WireError> {
        let node_id = r.u16()?;
        let incarnation = r.u32()?;
        let address = r.array()?;
        let port = r.u16()?;
        let alive = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(WireError::InvalidValue),
        };
        let e = NodeEntry {
            node_id,
            incarnation,
            address,
            port,
            alive,
        };
        e.validate()?;
        Ok(e)
    }

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.validate()?;
        let mut w = Writer::new(out);
        self.write_to(&mut w)?;
        Ok(w.pos())
    }

    /// Decodes exactly [`NodeEntry::LEN`] bytes.
    pub fn decode(body: &[u8]) -> Result<NodeEntry, WireError> {
        let mut r = Reader::new(body);
        let e = NodeEntry::read_from(&mut r)?;
        r.finish()?;
        Ok(e)
    }
}

/// Answer to a JoinRequest: the sender's view of the cluster. On the wire:
/// `view_epoch (u64) || count (u16) || count * NodeEntry`.
///
/// This is about 1 KiB; in the kernel keep it off the stack and use
/// [`JoinReply::decode_into`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinReply {
    /// Epoch of the sender's view.
    pub view_epoch: u64,
    /// Entries in use (at most [`MAX_NODES_IN_REPLY`]).
    pub count: u16,
    /// The nodes; entries from `count` on are [`NodeEntry::EMPTY`].
    pub entries: [NodeEntry; MAX_NODES_IN_REPLY],
}

impl JoinReply {
    /// Encoded length of the fixed part.
    pub const FIXED_LEN: usize = 8 + 2;
    /// Largest encoded length.
    pub const MAX_LEN: usize = Self::FIXED_LEN + MAX_NODES_IN_REPLY * NodeEntry::LEN;

    /// An empty reply.
    pub const EMPTY: JoinReply = JoinReply {
        view_epoch: 0,
        count: 0,
        entries: [NodeEntry::EMPTY; MAX_NODES_IN_REPLY],
    };

    /// The entries in use, `entries[..count]` (all of them if `count` is
    /// too large).
    pub fn used(&self) -> &[NodeEntry] {
        self.entries
            .get(..usize::from(self.count))
            .unwrap_or(&self.entries)
    }

    /// Encoded length (valid if `count` is).
    pub fn encoded_len(&self) -> usize {
        self.used()
            .len()
            .saturating_mul(NodeEntry::LEN)
            .saturating_add(Self::FIXED_LEN)
    }

    fn validate(&self) -> Result<(), WireError> {
        if usize::from(self.count) > MAX_NODES_IN_REPLY {
            return Err(WireError::InvalidValue);
        }
        let used = self.used();
        for (i, e) in used.iter().enumerate() {
            e.validate()?;
            let earlier = used.get(..i).unwrap_or(&[]);
            if earlier.iter().any(|p| p.node_id == e.node_id) {
                return Err(WireError::InvalidValue);
            }
        }
        Ok(())
    }

    /// Encodes into `out`; returns the bytes written. Refuses a `count`
    /// above [`MAX_NODES_IN_REPLY`], invalid node ids and duplicate ids.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.validate()?;
        let mut w = Writer::new(out);
        w.u64(self.view_epoch)?;
        w.u16(self.count)?;
        for e in self.used() {
            e.write_to(&mut w)?;
        }
        Ok(w.pos())
    }

    /// Decodes a body; the length must be exactly that of `count` entries.
    pub fn decode(body: &[u8]) -> Result<JoinReply, WireError> {
        let mut out = JoinReply::EMPTY;
        out.decode_into(body)?;
        Ok(out)
    }

    /// Like [`JoinReply::decode`], but into `self` (no 1 KiB temporary).
    /// On error `self` is left empty (`count` 0).
    pub fn decode_into(&mut self, body: &[u8]) -> Result<(), WireError> {
        self.clear();
        let r = self.decode_fields(body);
        if r.is_err() {
            self.clear();
        }
        r
    }

    /// Empties the reply in place: epoch 0, no entries.
    pub fn clear(&mut self) {
        self.view_epoch = 0;
        self.count = 0;
        for e in self.entries.iter_mut() {
            *e = NodeEntry::EMPTY;
        }
    }

    fn decode_fields(&mut self, body: &[u8]) -> Result<(), WireError> {
        let mut r = Reader::new(body);
        let view_epoch = r.u64()?;
        let count = r.u16()?;
        if usize::from(count) > MAX_NODES_IN_REPLY {
            return Err(WireError::InvalidValue);
        }
        let slots = self
            .entries
            .get_mut(..usize::from(count))
            .ok_or(WireError::InvalidValue)?;
        for slot in slots.iter_mut() {
            *slot = NodeEntry::read_from(&mut r)?;
        }
        r.finish()?;
        self.view_epoch = view_epoch;
        self.count = count;
        self.validate()
    }
}

impl Default for JoinReply {
    fn default() -> JoinReply {
        JoinReply::EMPTY
    }
}

/// A node was found dead (by the sender's failure detector).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeDead {
    /// The dead node (1..=4095).
    pub node_id: u16,
    /// Its incarnation that died.
    pub incarnation: u32,
    /// Sender's view epoch after the death.
    pub view_epoch: u64,
}

impl NodeDead {
    /// Encoded length.
    pub const LEN: usize = 2 + 4 + 8;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if !nonzero_node_id_ok(self.node_id) {
            return Err(WireError::BadNodeId);
        }
        let mut w = Writer::new(out);
        w.u16(self.node_id)?;
        w.u32(self.incarnation)?;
        w.u64(self.view_epoch)?;
        Ok(w.pos())
    }

    /// Decodes a body of exactly [`NodeDead::LEN`] bytes.
    pub fn decode(body: &[u8]) -> Result<NodeDead, WireError> {
        let mut r = Reader::new(body);
        let d = NodeDead {
            node_id: r.u16()?,
            incarnation: r.u32()?,
            view_epoch: r.u64()?,
        };
        r.finish()?;
        if !nonzero_node_id_ok(d.node_id) {
            return Err(WireError::BadNodeId);
        }
        Ok(d)
    }
}

/// A node leaves the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Leave {
    /// The leaving node (1..=4095).
    pub node_id: u16,
    /// Its incarnation.
    pub incarnation: u32,
}

impl Leave {
    /// Encoded length.
    pub const LEN: usize = 2 + 4;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if !nonzero_node_id_ok(self.node_id) {
            return Err(WireError::BadNodeId);
        }
        let mut w = Writer::new(out);
        w.u16(self.node_id)?;
        w.u32(self.incarnation)?;
        Ok(w.pos())
    }

    /// Decodes a body of exactly [`Leave::LEN`] bytes.
    pub fn decode(body: &[u8]) -> Result<Leave, WireError> {
        let mut r = Reader::new(body);
        let l = Leave {
            node_id: r.u16()?,
            incarnation: r.u32()?,
        };
        r.finish()?;
        if !nonzero_node_id_ok(l.node_id) {
            return Err(WireError::BadNodeId);
        }
        Ok(l)
    }
}

/// Longest image path a [`RestartRequest`] carries.
pub const MAX_RESTART_PATH: usize = 1024;
/// Longest message a [`RestartStatus`] carries.
pub const MAX_RESTART_MESSAGE: usize = 192;

/// Asks a node to restart the process saved in an image: the node starts
/// `ssi-ctl restart` on it as a new process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartRequest<'a> {
    /// The asking user (the receiving node lets only root or the image's
    /// owner restart it).
    pub uid: u32,
    /// Absolute path of the image, the same on every node (shared file
    /// system); no NUL byte.
    pub path: &'a [u8],
}

impl<'a> RestartRequest<'a> {
    fn check(&self) -> Result<(), WireError> {
        if self.path.is_empty()
            || self.path.len() > MAX_RESTART_PATH
            || self.path.first() != Some(&b'/')
            || self.path.contains(&0)
        {
            return Err(WireError::InvalidValue);
        }
        Ok(())
    }

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.check()?;
        let mut w = Writer::new(out);
        w.u32(self.uid)?;
        w.u16(self.path.len() as u16)?;
        w.bytes(self.path)?;
        Ok(w.pos())
    }

    /// Decodes a body; the path must be absolute, without NUL, at most
    /// [`MAX_RESTART_PATH`] bytes.
    pub fn decode(body: &'a [u8]) -> Result<RestartRequest<'a>, WireError> {
        let mut r = Reader::new(body);
        let uid = r.u32()?;
        let len = usize::from(r.u16()?);
        let path = r.bytes(len)?;
        r.finish()?;
        let req = RestartRequest { uid, path };
        req.check()?;
        Ok(req)
    }
}

/// Reply to [`RestartRequest`]: the restart has been started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartStarted {
    /// Names the restart in [`RestartQuery`]; never 0.
    pub token: u32,
    /// The process that is becoming the saved one.
    pub pid: u32,
}

impl RestartStarted {
    /// Encoded length.
    pub const LEN: usize = 8;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if self.token == 0 {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u32(self.token)?;
        w.u32(self.pid)?;
        Ok(w.pos())
    }

    /// Decodes a body of exactly [`RestartStarted::LEN`] bytes.
    pub fn decode(body: &[u8]) -> Result<RestartStarted, WireError> {
        let mut r = Reader::new(body);
        let s = RestartStarted {
            token: r.u32()?,
            pid: r.u32()?,
        };
        r.finish()?;
        if s.token == 0 {
            return Err(WireError::InvalidValue);
        }
        Ok(s)
    }
}

/// Asks how the restart `token` is going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartQuery {
    /// From [`RestartStarted`]; never 0.
    pub token: u32,
}

impl RestartQuery {
    /// Encoded length.
    pub const LEN: usize = 4;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if self.token == 0 {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u32(self.token)?;
        Ok(w.pos())
    }

    /// Decodes a body of exactly [`RestartQuery::LEN`] bytes.
    pub fn decode(body: &[u8]) -> Result<RestartQuery, WireError> {
        let mut r = Reader::new(body);
        let q = RestartQuery { token: r.u32()? };
        r.finish()?;
        if q.token == 0 {
            return Err(WireError::InvalidValue);
        }
        Ok(q)
    }
}

/// Where a remote restart is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RestartState {
    /// The new process reads and checks the image.
    Starting = 1,
    /// The image passed every check: the process is the saved one now.
    Running = 2,
    /// The restart was refused or failed (errno and message say why).
    Failed = 3,
}

impl RestartState {
    fn from_u8(v: u8) -> Option<RestartState> {
        Some(match v {
            1 => RestartState::Starting,
            2 => RestartState::Running,
            3 => RestartState::Failed,
            _ => return None,
        })
    }
}

/// Reply to [`RestartQuery`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartStatus<'a> {
    /// Where it is.
    pub state: RestartState,
    /// The restarted (or restarting) process.
    pub pid: u32,
    /// For `Failed`: the error number (positive); 0 otherwise.
    pub errno: u32,
    /// For `Failed`: why, at most [`MAX_RESTART_MESSAGE`] bytes of UTF-8.
    pub message: &'a [u8],
}

impl<'a> RestartStatus<'a> {
    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if self.message.len() > MAX_RESTART_MESSAGE {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u8(self.state as u8)?;
        w.u32(self.pid)?;
        w.u32(self.errno)?;
        w.u16(self.message.len() as u16)?;
        w.bytes(self.message)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &'a [u8]) -> Result<RestartStatus<'a>, WireError> {
        let mut r = Reader::new(body);
        let state = RestartState::from_u8(r.u8()?).ok_or(WireError::InvalidValue)?;
        let pid = r.u32()?;
        let errno = r.u32()?;
        let len = usize::from(r.u16()?);
        if len > MAX_RESTART_MESSAGE {
            return Err(WireError::InvalidValue);
        }
        let message = r.bytes(len)?;
        r.finish()?;
        Ok(RestartStatus {
            state,
            pid,
            errno,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    fn sample_header() -> FrameHeader {
        FrameHeader {
            msg_type: MsgType::Echo as u8,
            flags: FLAG_REPLY,
            src_node: 0x0102,
            dst_node: 0x0304,
            src_incarnation: 0x0506_0708,
            seq: 0x1112_1314_1516_1718,
            request_id: 0x2122_2324_2526_2728,
            body_len: 0x0001_0203,
            ack_gap: 0,
            tag: [0xee; TAG_LEN],
        }
    }

    fn encoded(h: &FrameHeader) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        h.encode(&mut out);
        out
    }

    #[test]
    fn reliable_requests_carry_a_gap_below_their_id() {
        let mut h = sample_header();
        h.flags = FLAG_RELIABLE;
        h.request_id = 10;
        for (gap, ok) in [(0, true), (9, true), (10, false), (4095, false)] {
            h.ack_gap = gap;
            let want = if ok {
                Ok(h)
            } else {
                Err(WireError::BadReserved)
            };
            assert_eq!(FrameHeader::decode(&encoded(&h)), want);
        }
        h.request_id = 100_000;
        h.ack_gap = 4095;
        assert_eq!(FrameHeader::decode(&encoded(&h)), Ok(h));
        h.ack_gap = 4096;
        assert_eq!(
            FrameHeader::decode(&encoded(&h)),
            Err(WireError::BadReserved)
        );
        h.ack_gap = 0;
        h.request_id = 0;
        assert_eq!(FrameHeader::decode(&encoded(&h)), Err(WireError::BadFlags));
        // Acknowledgements carry no gap.
        h.flags = FLAG_RELIABLE | FLAG_REPLY;
        h.request_id = 10;
        assert_eq!(FrameHeader::decode(&encoded(&h)), Ok(h));
        h.ack_gap = 1;
        assert_eq!(
            FrameHeader::decode(&encoded(&h)),
            Err(WireError::BadReserved)
        );
    }

    #[test]
    fn message_type_names_round_trip() {
        for v in 0..=255u8 {
            if let Some(k) = MsgType::from_u8(v) {
                assert_eq!(MsgType::from_name(k.name().as_bytes()), Some(k));
                assert_ne!(k.name(), "?");
            }
        }
        assert_eq!(
            MsgType::from_name(b"migrateexit"),
            Some(MsgType::MigrateExit)
        );
        assert_eq!(MsgType::from_name(b"Nope"), None);
    }

    #[test]
    fn header_layout_is_little_endian() {
        let b = encoded(&sample_header());
        assert_eq!(&b[0..4], b"SSIK");
        assert_eq!(b[4], 3);
        assert_eq!(b[5], 8);
        assert_eq!(&b[6..8], &[1, 0]);
        assert_eq!(&b[8..10], &[0x02, 0x01]);
        assert_eq!(&b[10..12], &[0x04, 0x03]);
        assert_eq!(&b[12..16], &[0x08, 0x07, 0x06, 0x05]);
        assert_eq!(
            &b[16..24],
            &[0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11]
        );
        assert_eq!(
            &b[24..32],
            &[0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21]
        );
        assert_eq!(&b[32..36], &[0x03, 0x02, 0x01, 0x00]);
        assert_eq!(&b[36..40], &[0, 0, 0, 0]);
        assert_eq!(&b[TAG_OFFSET..TAG_OFFSET + TAG_LEN], &[0xee; TAG_LEN]);
        assert_eq!(FrameHeader::decode(&b), Ok(sample_header()));
    }

    #[test]
    fn mac_header_zeroes_only_the_tag() {
        let h = sample_header();
        let full = encoded(&h);
        let mac = h.mac_header();
        assert_eq!(&mac[..TAG_OFFSET], &full[..TAG_OFFSET]);
        assert_eq!(&mac[TAG_OFFSET..], &[0u8; TAG_LEN]);
        assert_eq!(FrameHeader::decode(&mac).map(|d| d.tag), Ok([0u8; TAG_LEN]));
    }

    #[test]
    fn header_decode_checks() {
        let good = encoded(&sample_header());
        let with = |f: &dyn Fn(&mut [u8; HEADER_LEN])| {
            let mut b = good;
            f(&mut b);
            FrameHeader::decode(&b)
        };
        assert_eq!(
            FrameHeader::decode(&good[..HEADER_LEN - 1]),
            Err(WireError::Truncated)
        );
        assert_eq!(FrameHeader::decode(&[]), Err(WireError::Truncated));
        // Extra bytes after the header (the body) are not looked at.
        let mut long = good.to_vec();
        long.extend_from_slice(b"body");
        assert_eq!(FrameHeader::decode(&long), Ok(sample_header()));

        assert_eq!(with(&|b| b[0] = b'X'), Err(WireError::BadMagic));
        assert_eq!(with(&|b| b[3] = b'k'), Err(WireError::BadMagic));
        assert_eq!(with(&|b| b[4] = 1), Err(WireError::BadVersion));
        assert_eq!(with(&|b| b[4] = 0), Err(WireError::BadVersion));
        assert_eq!(with(&|b| b[4] = 2), Err(WireError::BadVersion));
        assert_eq!(with(&|b| b[6] = 8), Err(WireError::BadFlags));
        assert_eq!(with(&|b| b[7] = 0x80), Err(WireError::BadFlags));
        assert_eq!(with(&|b| b[6] = FLAG_ERROR as u8), Err(WireError::BadFlags));
        assert!(with(&|b| b[6] = (FLAG_ERROR | FLAG_REPLY) as u8)
            .is_ok_and(|h| h.is_error() && h.is_reply()));
        assert!(with(&|b| b[6] = 0).is_ok_and(|h| !h.is_error() && !h.is_reply()));
        assert_eq!(with(&|b| b[39] = 1), Err(WireError::BadReserved));
        assert_eq!(with(&|b| b[36] = 1), Err(WireError::BadReserved));

        let set_len =
            |b: &mut [u8; HEADER_LEN], v: u32| b[32..36].copy_from_slice(&v.to_le_bytes());
        assert!(with(&|b| set_len(b, MAX_BODY)).is_ok());
        assert_eq!(
            with(&|b| set_len(b, MAX_BODY + 1)),
            Err(WireError::BodyTooLarge)
        );
        assert_eq!(
            with(&|b| set_len(b, u32::MAX)),
            Err(WireError::BodyTooLarge)
        );

        let set_src = |b: &mut [u8; HEADER_LEN], v: u16| b[8..10].copy_from_slice(&v.to_le_bytes());
        let set_dst =
            |b: &mut [u8; HEADER_LEN], v: u16| b[10..12].copy_from_slice(&v.to_le_bytes());
        assert_eq!(with(&|b| set_src(b, 0)), Err(WireError::BadNodeId));
        assert_eq!(with(&|b| set_src(b, 4096)), Err(WireError::BadNodeId));
        assert!(with(&|b| set_src(b, 4095)).is_ok());
        assert!(with(&|b| set_src(b, 1)).is_ok());
        assert_eq!(with(&|b| set_dst(b, 4096)), Err(WireError::BadNodeId));
        assert_eq!(with(&|b| set_dst(b, u16::MAX)), Err(WireError::BadNodeId));
        assert!(with(&|b| set_dst(b, 0)).is_ok());
        assert!(with(&|b| set_dst(b, 4095)).is_ok());
        // src 0 only in handshake frames.
        for t in [MsgType::Hello, MsgType::HelloAuth] {
            assert!(with(&|b| {
                set_src(b, 0);
                b[5] = t as u8;
            })
            .is_ok());
            assert_eq!(
                with(&|b| {
                    set_src(b, 4096);
                    b[5] = t as u8;
                }),
                Err(WireError::BadNodeId)
            );
        }
        // Unknown types decode; dispatch refuses them.
        for t in [0u8, 28, 200, 255] {
            let h = with(&|b| b[5] = t).unwrap();
            assert_eq!(h.msg_type, t);
            assert_eq!(h.kind(), None);
            assert_eq!(MsgType::try_from(t), Err(WireError::UnknownType));
        }
        assert_eq!(with(&|b| set_src(b, 0)), Err(WireError::BadNodeId)); // type 8 = Echo
    }

    #[test]
    fn msg_types() {
        for v in 0..=255u8 {
            match MsgType::from_u8(v) {
                Some(t) => {
                    assert!((1..=27).contains(&v));
                    assert_eq!(t.as_u8(), v);
                    assert_eq!(u8::from(t), v);
                    assert_eq!(MsgType::try_from(v), Ok(t));
                }
                None => assert!(v == 0 || v > 11),
            }
        }
        assert_eq!(MsgType::Hello as u8, 1);
        assert_eq!(MsgType::HelloAuth as u8, 2);
        assert_eq!(MsgType::Heartbeat as u8, 3);
        assert_eq!(MsgType::JoinRequest as u8, 4);
        assert_eq!(MsgType::JoinReply as u8, 5);
        assert_eq!(MsgType::Leave as u8, 6);
        assert_eq!(MsgType::NodeDead as u8, 7);
        assert_eq!(MsgType::Echo as u8, 8);
        assert_eq!(MsgType::Stream as u8, 9);
        assert!(MsgType::Hello.is_handshake() && MsgType::HelloAuth.is_handshake());
        assert!(!MsgType::Heartbeat.is_handshake());
    }

    #[test]
    fn errors_describe() {
        for e in [
            WireError::Truncated,
            WireError::TrailingBytes,
            WireError::BufferTooSmall,
            WireError::BadMagic,
            WireError::BadVersion,
            WireError::BadFlags,
            WireError::BadReserved,
            WireError::BodyTooLarge,
            WireError::BadNodeId,
            WireError::InvalidValue,
            WireError::UnknownType,
            WireError::Replay,
            WireError::SeqGap,
            WireError::SeqExhausted,
        ] {
            assert!(!e.describe().is_empty());
        }
    }

    fn sample_hello(node_id: u16, fill: u8) -> Hello {
        Hello {
            node_id,
            incarnation: 0xaabb_ccdd,
            nonce: [fill; NONCE_LEN],
            address: [10, 99, 0, 11],
            port: 7070,
        }
    }

    #[test]
    fn hello_layout_and_checks() {
        let h = sample_hello(3, 0x5a);
        let mut buf = [0u8; 64];
        assert_eq!(h.encode(&mut buf), Ok(Hello::LEN));
        assert_eq!(Hello::LEN, 44);
        assert_eq!(&buf[..2], &[3, 0]);
        assert_eq!(&buf[2..6], &[0xdd, 0xcc, 0xbb, 0xaa]);
        assert_eq!(&buf[6..38], &[0x5a; 32]);
        assert_eq!(&buf[38..42], &[10, 99, 0, 11]);
        assert_eq!(&buf[42..44], &7070u16.to_le_bytes());
        assert_eq!(Hello::decode(&buf[..44]), Ok(h));
        assert_eq!(Hello::decode(&buf[..43]), Err(WireError::Truncated));
        assert_eq!(Hello::decode(&buf[..45]), Err(WireError::TrailingBytes));
        assert_eq!(h.encode(&mut buf[..43]), Err(WireError::BufferTooSmall));
        // Node id 0 (not configured) is allowed in a Hello, above 4095 not.
        assert!(sample_hello(0, 1).encode(&mut buf).is_ok());
        assert_eq!(Hello::decode(&buf[..44]).map(|h| h.node_id), Ok(0));
        assert_eq!(
            sample_hello(4096, 1).encode(&mut buf),
            Err(WireError::BadNodeId)
        );
        buf[0..2].copy_from_slice(&4096u16.to_le_bytes());
        assert_eq!(Hello::decode(&buf[..44]), Err(WireError::BadNodeId));
    }

    #[test]
    fn small_bodies() {
        let mut buf = [0u8; 64];
        let a = HelloAuth { proof: [7; 32] };
        assert_eq!(a.encode(&mut buf), Ok(32));
        assert_eq!(HelloAuth::decode(&buf[..32]), Ok(a));
        assert_eq!(HelloAuth::decode(&buf[..33]), Err(WireError::TrailingBytes));

        let d = NodeDead {
            node_id: 4095,
            incarnation: 9,
            view_epoch: 1 << 40,
        };
        assert_eq!(d.encode(&mut buf), Ok(NodeDead::LEN));
        assert_eq!(
            &buf[..14],
            &[0xff, 0x0f, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]
        );
        assert_eq!(NodeDead::decode(&buf[..14]), Ok(d));
        assert_eq!(
            NodeDead { node_id: 0, ..d }.encode(&mut buf),
            Err(WireError::BadNodeId)
        );
        buf[0] = 0;
        buf[1] = 0;
        assert_eq!(NodeDead::decode(&buf[..14]), Err(WireError::BadNodeId));

        let l = Leave {
            node_id: 1,
            incarnation: 2,
        };
        assert_eq!(l.encode(&mut buf), Ok(6));
        assert_eq!(&buf[..6], &[1, 0, 2, 0, 0, 0]);
        assert_eq!(Leave::decode(&buf[..6]), Ok(l));
        assert_eq!(Leave::decode(&buf[..5]), Err(WireError::Truncated));
        assert_eq!(
            Leave { node_id: 4096, ..l }.encode(&mut buf),
            Err(WireError::BadNodeId)
        );
        assert_eq!(
            Leave::decode(&[0, 0x10, 0, 0, 0, 0]),
            Err(WireError::BadNodeId)
        );
    }

    #[test]
    fn resources_and_heartbeat() {
        let r = Resources {
            cpus: 4,
            mem_total_kib: 8 << 20,
            mem_free_kib: 3 << 20,
            load: [2048, 1024, 0],
        };
        let mut buf = [0u8; 64];
        assert_eq!(r.encode(&mut buf), Ok(Resources::LEN));
        assert_eq!(&buf[..4], &[4, 0, 0, 0]);
        assert_eq!(&buf[20..24], &[0, 8, 0, 0]);
        assert_eq!(Resources::decode(&buf[..32]), Ok(r));
        let bad = Resources {
            mem_free_kib: r.mem_total_kib + 1,
            ..r
        };
        assert_eq!(bad.encode(&mut buf), Err(WireError::InvalidValue));
        buf[12..20].copy_from_slice(&(r.mem_total_kib + 1).to_le_bytes());
        assert_eq!(Resources::decode(&buf[..32]), Err(WireError::InvalidValue));

        let hb = Heartbeat {
            incarnation: 5,
            view_epoch: 17,
            resources: r,
        };
        assert_eq!(hb.encode(&mut buf), Ok(Heartbeat::LEN));
        assert_eq!(Heartbeat::LEN, 44);
        assert_eq!(Heartbeat::decode(&buf[..44]), Ok(hb));
        assert_eq!(
            Heartbeat {
                resources: bad,
                ..hb
            }
            .encode(&mut buf),
            Err(WireError::InvalidValue)
        );
    }

    #[test]
    fn load_formatting_matches_the_kernel() {
        // LOAD_INT/LOAD_FRAC of (x + FIXED_1/200), as /proc/loadavg prints.
        assert_eq!(format_load(0), (0, 0));
        assert_eq!(format_load(FIXED_1), (1, 0));
        assert_eq!(format_load(FIXED_1 / 2), (0, 50));
        assert_eq!(format_load(FIXED_1 * 3 + FIXED_1 / 4), (3, 25));
        assert_eq!(format_load(FIXED_1 - 1), (1, 0)); // 0.9995 rounds up
        assert_eq!(format_load(9), (0, 0)); // 0.0044 rounds down
        assert_eq!(format_load(11), (0, 1)); // 0.0054 rounds up
        assert_eq!(format_load(u32::MAX), (2_097_152, 0));
        assert_eq!(load_hundredths(FIXED_1 * 3 / 2), 150);
        assert_eq!(load_hundredths(0), 0);
        assert_eq!(load_hundredths(u32::MAX), 209_715_200);
    }

    #[test]
    fn join_reply_layout_and_checks() {
        let mut jr = JoinReply {
            view_epoch: 3,
            count: 2,
            ..JoinReply::default()
        };
        jr.entries[0] = NodeEntry {
            node_id: 1,
            incarnation: 7,
            address: [1, 2, 3, 4],
            port: 9,
            alive: true,
        };
        jr.entries[1] = NodeEntry {
            node_id: 2,
            incarnation: 8,
            address: [5, 6, 7, 8],
            port: 10,
            alive: false,
        };
        let mut buf = [0u8; JoinReply::MAX_LEN + 1];
        let n = jr.encode(&mut buf).unwrap();
        assert_eq!(n, 10 + 2 * 13);
        assert_eq!(n, jr.encoded_len());
        assert_eq!(&buf[..10], &[3, 0, 0, 0, 0, 0, 0, 0, 2, 0]);
        assert_eq!(&buf[10..23], &[1, 0, 7, 0, 0, 0, 1, 2, 3, 4, 9, 0, 1]);
        assert_eq!(&buf[23..36], &[2, 0, 8, 0, 0, 0, 5, 6, 7, 8, 10, 0, 0]);
        assert_eq!(JoinReply::decode(&buf[..n]), Ok(jr.clone()));
        assert_eq!(JoinReply::decode(&buf[..n - 1]), Err(WireError::Truncated));
        assert_eq!(
            JoinReply::decode(&buf[..n + 1]),
            Err(WireError::TrailingBytes)
        );

        // alive must be 0 or 1.
        let mut b = buf;
        b[22] = 2;
        assert_eq!(JoinReply::decode(&b[..n]), Err(WireError::InvalidValue));
        // Duplicate ids.
        let mut b = buf;
        b[23] = 1;
        assert_eq!(JoinReply::decode(&b[..n]), Err(WireError::InvalidValue));
        let mut dup = jr.clone();
        dup.entries[1].node_id = 1;
        assert_eq!(dup.encode(&mut buf), Err(WireError::InvalidValue));
        // Node id 0 in a used entry.
        let mut zero = jr.clone();
        zero.entries[1].node_id = 0;
        assert_eq!(zero.encode(&mut buf), Err(WireError::BadNodeId));
        // count above the maximum.
        let mut b = [0u8; JoinReply::MAX_LEN + NodeEntry::LEN];
        b[8..10].copy_from_slice(&65u16.to_le_bytes());
        assert_eq!(JoinReply::decode(&b), Err(WireError::InvalidValue));
        assert_eq!(JoinReply::decode(&b[..10]), Err(WireError::InvalidValue));
        let big = JoinReply {
            count: 65,
            ..JoinReply::default()
        };
        assert_eq!(big.encode(&mut b), Err(WireError::InvalidValue));
        assert_eq!(big.used().len(), MAX_NODES_IN_REPLY);
        // Empty reply.
        let empty = JoinReply::default();
        assert_eq!(empty.encode(&mut b), Ok(10));
        assert_eq!(JoinReply::decode(&b[..10]), Ok(empty));
        // Output too small.
        assert_eq!(jr.encode(&mut b[..35]), Err(WireError::BufferTooSmall));
    }

    #[test]
    fn join_reply_full_and_decode_into() {
        let mut jr = JoinReply {
            view_epoch: u64::MAX,
            count: 64,
            ..JoinReply::default()
        };
        for (i, e) in jr.entries.iter_mut().enumerate() {
            *e = NodeEntry {
                node_id: 4095 - i as u16,
                incarnation: i as u32,
                address: [i as u8; 4],
                port: 1,
                alive: i % 2 == 0,
            };
        }
        let mut buf = [0u8; JoinReply::MAX_LEN];
        assert_eq!(jr.encode(&mut buf), Ok(JoinReply::MAX_LEN));
        let mut into = JoinReply::default();
        assert_eq!(into.decode_into(&buf), Ok(()));
        assert_eq!(into, jr);
        // A failed decode leaves it empty.
        assert_eq!(
            into.decode_into(&buf[..JoinReply::MAX_LEN - 1]),
            Err(WireError::Truncated)
        );
        assert_eq!(into, JoinReply::EMPTY);
        // A shorter reply after a longer one: stale entries are cleared.
        assert_eq!(into.decode_into(&buf), Ok(()));
        let small = JoinReply {
            view_epoch: 1,
            count: 1,
            entries: {
                let mut e = [NodeEntry::EMPTY; MAX_NODES_IN_REPLY];
                e[0] = NodeEntry {
                    node_id: 5,
                    ..NodeEntry::EMPTY
                };
                e
            },
        };
        let n = small.encode(&mut buf).unwrap();
        assert_eq!(into.decode_into(&buf[..n]), Ok(()));
        assert_eq!(into, small);
    }

    #[test]
    fn handshake_inputs() {
        let nc = [1u8; 32];
        let ns = [2u8; 32];
        let mut out = [0u8; SESSION_KEY_INPUT_LEN];
        assert_eq!(session_key_input(&nc, &ns, &mut out), SESSION_KEY_INPUT_LEN);
        assert_eq!(SESSION_KEY_INPUT_LEN, 19 + 64);
        assert_eq!(&out[..19], b"ssi-krpc-session-v1");
        assert_eq!(&out[19..51], &nc);
        assert_eq!(&out[51..], &ns);

        let hc = sample_hello(1, 0x11);
        let hs = sample_hello(2, 0x22);
        let mut p = [0u8; PROOF_INPUT_LEN];
        assert_eq!(proof_input(ROLE_CLIENT, &hc, &hs, &mut p), PROOF_INPUT_LEN);
        assert_eq!(PROOF_INPUT_LEN, 17 + 1 + 44 + 44);
        assert_eq!(&p[..17], b"ssi-krpc-proof-v1");
        assert_eq!(p[17], ROLE_CLIENT);
        let mut hb = [0u8; Hello::LEN];
        hc.encode(&mut hb).unwrap();
        assert_eq!(&p[18..62], &hb);
        hs.encode(&mut hb).unwrap();
        assert_eq!(&p[62..], &hb);
        let mut q = [0u8; PROOF_INPUT_LEN];
        proof_input(ROLE_SERVER, &hc, &hs, &mut q);
        assert_eq!(q[17], ROLE_SERVER);
        assert_eq!(&p[18..], &q[18..]);
        // Swapping the Hellos changes the input.
        proof_input(ROLE_CLIENT, &hs, &hc, &mut q);
        assert_ne!(p, q);
        // Invalid Hellos are still laid out, not refused.
        assert_eq!(
            proof_input(ROLE_CLIENT, &sample_hello(9999, 0), &hs, &mut q),
            PROOF_INPUT_LEN
        );
    }

    #[test]
    fn tags() {
        let a = [3u8; 32];
        assert!(tags_equal(&a, &a));
        for i in 0..32 {
            for bit in 0..8 {
                let mut b = a;
                b[i] ^= 1 << bit;
                assert!(!tags_equal(&a, &b));
            }
        }
    }

    #[test]
    fn replay_guard_examples() {
        let mut g = ReplayGuard::new();
        assert_eq!(g.check_and_advance(0), Err(WireError::Replay));
        assert_eq!(g.check_and_advance(2), Err(WireError::SeqGap));
        assert_eq!(g.check_and_advance(1), Ok(()));
        assert_eq!(g.check_and_advance(1), Err(WireError::Replay));
        assert_eq!(g.check_and_advance(2), Ok(()));
        assert_eq!(g.check_and_advance(u64::MAX), Err(WireError::SeqGap));
        assert_eq!(g.next_expected, 3);
        assert_eq!(ReplayGuard::default(), ReplayGuard::new());

        let mut g = ReplayGuard {
            next_expected: u64::MAX - 1,
        };
        assert_eq!(g.check_and_advance(u64::MAX - 1), Ok(()));
        assert_eq!(g.check_and_advance(u64::MAX), Ok(()));
        assert_eq!(g.next_expected, 0);
        for s in [0, 1, u64::MAX - 1, u64::MAX] {
            assert_eq!(g.check_and_advance(s), Err(WireError::SeqExhausted));
        }
    }

    #[test]
    fn seq_counter_examples() {
        let mut c = SeqCounter::new();
        assert_eq!(c.next_seq(), Ok(1));
        assert_eq!(c.next_seq(), Ok(2));
        assert_eq!(SeqCounter::default(), SeqCounter::new());
        let mut c = SeqCounter { next: u64::MAX };
        assert_eq!(c.next_seq(), Ok(u64::MAX));
        assert_eq!(c.next_seq(), Err(WireError::SeqExhausted));
        assert_eq!(c.next_seq(), Err(WireError::SeqExhausted));
        // A counter and a guard agree.
        let mut c = SeqCounter::new();
        let mut g = ReplayGuard::new();
        for _ in 0..1000 {
            assert_eq!(g.check_and_advance(c.next_seq().unwrap()), Ok(()));
        }
    }

    // ---- property tests ----

    fn node_id() -> impl Strategy<Value = u16> {
        1u16..=4095
    }

    fn valid_header() -> impl Strategy<Value = FrameHeader> {
        (
            any::<u8>(),
            prop_oneof![Just(0u16), Just(FLAG_REPLY), Just(FLAG_REPLY | FLAG_ERROR)],
            0u16..=4095,
            0u16..=4095,
            any::<u32>(),
            any::<u64>(),
            any::<u64>(),
            prop_oneof![0u32..=MAX_BODY, Just(MAX_BODY)],
            any::<[u8; 32]>(),
        )
            .prop_map(
                |(msg_type, flags, src, dst, inc, seq, rid, body_len, tag)| {
                    let handshake = MsgType::from_u8(msg_type).is_some_and(MsgType::is_handshake);
                    FrameHeader {
                        msg_type,
                        flags,
                        src_node: if src == 0 && !handshake { 1 } else { src },
                        dst_node: dst,
                        src_incarnation: inc,
                        seq,
                        request_id: rid,
                        body_len,
                        ack_gap: 0,
                        tag,
                    }
                },
            )
    }

    fn resources() -> impl Strategy<Value = Resources> {
        (any::<u32>(), any::<u64>(), any::<u64>(), any::<[u32; 3]>()).prop_map(
            |(cpus, a, b, load)| Resources {
                cpus,
                mem_total_kib: a.max(b),
                mem_free_kib: a.min(b),
                load,
            },
        )
    }

    fn hello() -> impl Strategy<Value = Hello> {
        (
            0u16..=4095,
            any::<u32>(),
            any::<[u8; 32]>(),
            any::<[u8; 4]>(),
            any::<u16>(),
        )
            .prop_map(|(node_id, incarnation, nonce, address, port)| Hello {
                node_id,
                incarnation,
                nonce,
                address,
                port,
            })
    }

    fn node_entry() -> impl Strategy<Value = NodeEntry> {
        (
            node_id(),
            any::<u32>(),
            any::<[u8; 4]>(),
            any::<u16>(),
            any::<bool>(),
        )
            .prop_map(|(node_id, incarnation, address, port, alive)| NodeEntry {
                node_id,
                incarnation,
                address,
                port,
                alive,
            })
    }

    fn join_reply() -> impl Strategy<Value = JoinReply> {
        (
            any::<u64>(),
            proptest::collection::vec(node_entry(), 0..=MAX_NODES_IN_REPLY),
        )
            .prop_map(|(view_epoch, list)| {
                let mut jr = JoinReply {
                    view_epoch,
                    ..JoinReply::default()
                };
                let mut n = 0usize;
                for e in list {
                    if jr.used().iter().all(|p| p.node_id != e.node_id) {
                        jr.entries[n] = e;
                        n += 1;
                        jr.count = n as u16;
                    }
                }
                jr
            })
    }

    type Enc<T> = fn(&T, &mut [u8]) -> Result<usize, WireError>;
    type Dec<T> = fn(&[u8]) -> Result<T, WireError>;

    /// Round trip, every truncation refused, a trailing byte refused, a
    /// short output buffer refused.
    fn check_body<T: PartialEq + core::fmt::Debug>(
        v: &T,
        enc: Enc<T>,
        dec: Dec<T>,
    ) -> Result<(), TestCaseError> {
        let mut buf = vec![0u8; JoinReply::MAX_LEN + 8];
        let n = enc(v, &mut buf).map_err(|e| TestCaseError::fail(e.describe()))?;
        prop_assert_eq!(&dec(&buf[..n]).unwrap(), v);
        for k in 0..n {
            prop_assert!(dec(&buf[..k]).is_err(), "truncation to {} accepted", k);
            let mut small = vec![0u8; k];
            prop_assert_eq!(enc(v, &mut small), Err(WireError::BufferTooSmall));
        }
        for extra in [0u8, 0xff] {
            buf[n] = extra;
            prop_assert_eq!(dec(&buf[..n + 1]), Err(WireError::TrailingBytes));
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn header_round_trip(h in valid_header()) {
            prop_assert_eq!(h.validate(), Ok(()));
            let b = encoded(&h);
            prop_assert_eq!(FrameHeader::decode(&b), Ok(h));
            prop_assert_eq!(&h.mac_header()[..TAG_OFFSET], &b[..TAG_OFFSET]);
            for k in 0..HEADER_LEN {
                prop_assert_eq!(FrameHeader::decode(&b[..k]), Err(WireError::Truncated));
            }
        }

        #[test]
        fn header_corruptions_rejected(h in valid_header(), magic_byte in 0usize..4, x in 1u8..=255,
                                       version in any::<u8>(), flags in 8u16..=u16::MAX,
                                       reserved in 1u32..=u32::MAX, body_len in (MAX_BODY + 1)..=u32::MAX) {
            let good = encoded(&h);
            let mut b = good;
            b[magic_byte] ^= x;
            prop_assert_eq!(FrameHeader::decode(&b), Err(WireError::BadMagic));
            let mut b = good;
            b[4] = version;
            prop_assert_eq!(FrameHeader::decode(&b).is_ok(), version == WIRE_VERSION);
            let mut b = good;
            b[6..8].copy_from_slice(&flags.to_le_bytes());
            prop_assert_eq!(FrameHeader::decode(&b), Err(WireError::BadFlags));
            let mut b = good;
            b[36..40].copy_from_slice(&reserved.to_le_bytes());
            prop_assert_eq!(FrameHeader::decode(&b), Err(WireError::BadReserved));
            let mut b = good;
            b[32..36].copy_from_slice(&body_len.to_le_bytes());
            prop_assert_eq!(FrameHeader::decode(&b), Err(WireError::BodyTooLarge));
        }

        #[test]
        fn header_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..100), fix in any::<bool>()) {
            let mut bytes = bytes;
            if fix && bytes.len() >= 40 {
                // Make a valid header more likely.
                bytes[..4].copy_from_slice(&MAGIC);
                bytes[4] = WIRE_VERSION;
                bytes[6] &= 1;
                bytes[7] = 0;
                bytes[9] &= 0x0f;
                bytes[11] &= 0x0f;
                bytes[34] &= 0x0f;
                bytes[35] = 0;
                bytes[36..40].fill(0);
            }
            if let Ok(h) = FrameHeader::decode(&bytes) {
                prop_assert_eq!(&encoded(&h)[..], &bytes[..HEADER_LEN]);
                prop_assert_eq!(h.validate(), Ok(()));
            }
        }

        #[test]
        fn bodies_round_trip(h in hello(), proof in any::<[u8; 32]>(), r in resources(),
                             inc in any::<u32>(), epoch in any::<u64>(), e in node_entry(),
                             id in node_id(), jr in join_reply()) {
            check_body(&h, Hello::encode, Hello::decode)?;
            check_body(&HelloAuth { proof }, HelloAuth::encode, HelloAuth::decode)?;
            check_body(&r, Resources::encode, Resources::decode)?;
            check_body(&Heartbeat { incarnation: inc, view_epoch: epoch, resources: r }, Heartbeat::encode, Heartbeat::decode)?;
            check_body(&e, NodeEntry::encode, NodeEntry::decode)?;
            check_body(&jr, JoinReply::encode, JoinReply::decode)?;
            check_body(&NodeDead { node_id: id, incarnation: inc, view_epoch: epoch }, NodeDead::encode, NodeDead::decode)?;
            check_body(&Leave { node_id: id, incarnation: inc }, Leave::encode, Leave::decode)?;
        }

        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..900)) {
            let _ = FrameHeader::decode(&bytes);
            let _ = Hello::decode(&bytes);
            let _ = HelloAuth::decode(&bytes);
            let _ = Resources::decode(&bytes);
            let _ = Heartbeat::decode(&bytes);
            let _ = NodeEntry::decode(&bytes);
            let _ = NodeDead::decode(&bytes);
            let _ = Leave::decode(&bytes);
            if let Ok(jr) = JoinReply::decode(&bytes) {
                let mut out = vec![0u8; JoinReply::MAX_LEN];
                let n = jr.encode(&mut out).unwrap();
                prop_assert_eq!(&out[..n], &bytes[..]);
            }
        }

        #[test]
        fn join_reply_plausible_bytes(epoch in any::<u64>(), count in 0u16..=70,
                                      raw in proptest::collection::vec(any::<[u8; 13]>(), 0..=70),
                                      mask in any::<bool>(), cut in 0usize..3, extra in 0usize..3) {
            // Well-formed prefix, mostly plausible entries: exercise the
            // entry checks and the length checks.
            let mut bytes = Vec::new();
            bytes.extend_from_slice(&epoch.to_le_bytes());
            bytes.extend_from_slice(&count.to_le_bytes());
            for (i, mut e) in raw.into_iter().take(usize::from(count)).enumerate() {
                if mask {
                    e[0] = i as u8 + 1;
                    e[1] = 0;
                    e[12] &= 1;
                }
                bytes.extend_from_slice(&e);
            }
            bytes.truncate(bytes.len().saturating_sub(cut));
            bytes.extend(core::iter::repeat_n(0u8, extra));
            match JoinReply::decode(&bytes) {
                Ok(jr) => {
                    // (cut and extra can rewrite the count field itself.)
                    prop_assert_eq!(&jr.count.to_le_bytes()[..], &bytes[8..10]);
                    prop_assert_eq!(bytes.len(), jr.encoded_len());
                    prop_assert!(jr.entries[usize::from(jr.count)..].iter().all(|e| *e == NodeEntry::EMPTY));
                    let mut out = vec![0u8; JoinReply::MAX_LEN];
                    let n = jr.encode(&mut out).unwrap();
                    prop_assert_eq!(&out[..n], &bytes[..]);
                }
                Err(e) => {
                    let len_ok = bytes.len() == 10 + usize::from(count) * 13;
                    prop_assert!(!mask || count > 64 || !len_ok, "{:?}", e);
                }
            }
        }

        #[test]
        fn load_matches_reference(v in any::<u32>()) {
            // Reference: the kernel macros on 64-bit unsigned long.
            let x = u64::from(v) + 10;
            let int = x >> 11;
            let frac = ((x & 2047) * 100) >> 11;
            prop_assert_eq!(format_load(v), (int as u32, frac as u32));
            prop_assert!(frac < 100);
            prop_assert_eq!(u64::from(load_hundredths(v)), int * 100 + frac);
        }

        #[test]
        fn replay_guard_accepts_exactly_the_sequence(start in prop_oneof![Just(1u64), any::<u64>()],
                                                     seqs in proptest::collection::vec(prop_oneof![
                                                         Just(0i64), Just(1), Just(-1), Just(2), -5i64..5], 0..60)) {
            // Offsets from the expected value; a model decides the outcome.
            let mut g = ReplayGuard { next_expected: start };
            let mut expected = Some(start).filter(|&s| s != 0);
            for off in seqs {
                let Some(exp) = expected else {
                    prop_assert_eq!(g.check_and_advance(start.wrapping_add(off as u64)), Err(WireError::SeqExhausted));
                    continue;
                };
                let seq = exp.wrapping_add(off as u64);
                let r = g.check_and_advance(seq);
                if seq == exp {
                    prop_assert_eq!(r, Ok(()));
                    expected = exp.checked_add(1);
                } else if seq < exp {
                    prop_assert_eq!(r, Err(WireError::Replay));
                } else {
                    prop_assert_eq!(r, Err(WireError::SeqGap));
                }
                prop_assert_eq!(g.next_expected, expected.unwrap_or(0));
            }
        }

        #[test]
        fn restart_bodies_round_trip(uid in any::<u32>(), path in proptest::collection::vec(1u8..=255, 0..MAX_RESTART_PATH),
                                     token in 1u32..=u32::MAX, pid in any::<u32>(), errno in any::<u32>(),
                                     state in 1u8..=3, message in proptest::collection::vec(any::<u8>(), 0..=MAX_RESTART_MESSAGE)) {
            let mut path = path;
            path.insert(0, b'/');
            let mut buf = vec![0u8; 2048];
            let req = RestartRequest { uid, path: &path };
            let n = req.encode(&mut buf).unwrap();
            prop_assert_eq!(RestartRequest::decode(&buf[..n]), Ok(req));
            for k in 0..n {
                prop_assert!(RestartRequest::decode(&buf[..k]).is_err());
            }
            let st = RestartStarted { token, pid };
            let n = st.encode(&mut buf).unwrap();
            prop_assert_eq!(RestartStarted::decode(&buf[..n]), Ok(st));
            let q = RestartQuery { token };
            let n = q.encode(&mut buf).unwrap();
            prop_assert_eq!(RestartQuery::decode(&buf[..n]), Ok(q));
            let status = RestartStatus { state: RestartState::from_u8(state).unwrap(), pid, errno, message: &message };
            let n = status.encode(&mut buf).unwrap();
            prop_assert_eq!(RestartStatus::decode(&buf[..n]), Ok(status));
            prop_assert_eq!(RestartStatus::decode(&buf[..n + 1]), Err(WireError::TrailingBytes));
        }

        #[test]
        fn restart_bodies_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1100)) {
            if let Ok(r) = RestartRequest::decode(&bytes) {
                prop_assert!(r.path.first() == Some(&b'/') && !r.path.contains(&0) && r.path.len() <= MAX_RESTART_PATH);
            }
            if let Ok(s) = RestartStatus::decode(&bytes) {
                prop_assert!(s.message.len() <= MAX_RESTART_MESSAGE);
            }
            prop_assert!(RestartStarted::decode(&bytes).map_or(true, |s| s.token != 0));
            prop_assert!(RestartQuery::decode(&bytes).map_or(true, |q| q.token != 0));
        }

        #[test]
        fn tags_equal_is_equality(a in any::<[u8; 32]>(), b in any::<[u8; 32]>()) {
            prop_assert_eq!(tags_equal(&a, &b), a == b);
            prop_assert!(tags_equal(&a, &a));
        }
    }
}
