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
//!
//! # Files
//!
//! Each file depends only on the ones listed before it:
//!
//! - `error.rs`: [`WireError`], the node id range checks;
//! - `msg_type.rs`: [`MsgType`];
//! - `header.rs`: magic, version, lengths, flags, [`FrameHeader`],
//!   [`tags_equal`], [`ReplayGuard`], [`SeqCounter`];
//! - `handshake.rs`: [`Hello`], [`HelloAuth`], the roles,
//!   [`session_key_input`], [`proof_input`];
//! - `cluster.rs`: the membership bodies ([`Resources`], [`Heartbeat`],
//!   [`NodeEntry`], [`JoinReply`], [`NodeDead`], [`Leave`]) and the
//!   load-average fixed point;
//! - `restart.rs`: the remote restart bodies ([`RestartRequest`],
//!   [`RestartStarted`], [`RestartQuery`], [`RestartStatus`]);
//! - `tests/`: unit and property tests.
//!
//! The bodies of the `Migrate*` messages are in [`super::migration`].
//! This file only declares the files and re-exports their public items,
//! so that every item is reached as `wire::Item`; the files are private.

mod cluster;
mod error;
mod handshake;
mod header;
mod msg_type;
mod restart;

#[cfg(test)]
mod tests;

pub use cluster::{
    format_load, load_hundredths, Heartbeat, JoinReply, Leave, NodeDead, NodeEntry, Resources,
    FIXED_1, FSHIFT, MAX_NODES_IN_REPLY,
};
pub use error::WireError;
pub use handshake::{
    proof_input, session_key_input, Hello, HelloAuth, NONCE_LEN, PROOF_INPUT_LEN, ROLE_CLIENT,
    ROLE_SERVER, SESSION_KEY_INPUT_LEN,
};
pub use header::{
    tags_equal, FrameHeader, ReplayGuard, SeqCounter, FLAG_ERROR, FLAG_RELIABLE, FLAG_REPLY,
    HEADER_LEN, KNOWN_FLAGS, MAGIC, MAX_BODY, RELIABLE_WINDOW, TAG_LEN, TAG_OFFSET, WIRE_VERSION,
};
pub use msg_type::MsgType;
pub use restart::{
    RestartQuery, RestartRequest, RestartStarted, RestartState, RestartStatus, MAX_RESTART_MESSAGE,
    MAX_RESTART_PATH,
};
