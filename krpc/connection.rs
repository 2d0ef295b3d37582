// SPDX-License-Identifier: GPL-2.0
//! One authenticated krpc connection to a peer: the handshake, framed and
//! MACed sends, and checked receives. The frame format and the handshake's
//! byte layout are in `proto/src/wire/`.

use super::{
    frame_mac::FrameMac,
    hmac::Hmac,
    inbox::Inbox,
    send_queue::{Frame, SendQueue},
    socket::Received,
    socket::TcpSocket,
    stats::{PeerStats, Stats},
};
use crate::{kthread, proto::wire};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{new_mutex, prelude::*, sync::Arc, sync::Mutex};
use wire::{FrameHeader, Hello, HelloAuth, MsgType, ReplayGuard, SeqCounter, WireError};

/// Time a peer has to finish the handshake, and any frame once started.
pub(crate) const FRAME_TIMEOUT_MS: u64 = 3000;
/// Socket timeouts: how often blocked threads look at their stop flag, and
/// how long a send may wait for a peer that stopped reading.
const RECV_POLL_MS: u32 = 500;
const SEND_TIMEOUT_MS: u32 = 2000;

/// Why a connection ended; counted and logged by the caller.
#[derive(Debug)]
pub(crate) enum LinkError {
    /// The peer closed the connection or the socket failed.
    Closed,
    /// This thread was asked to stop.
    Stopped,
    /// The peer does not know the cluster secret.
    BadProof,
    /// A frame with a wrong MAC.
    BadMac,
    /// A replayed or out-of-sequence frame.
    Replay,
    /// Malformed input.
    Malformed(&'static str),
    /// A kernel error (allocation, crypto).
    Kernel(Error),
}

impl From<Error> for LinkError {
    fn from(e: Error) -> Self {
        LinkError::Kernel(e)
    }
}

impl LinkError {
    fn from_wire(e: WireError) -> Self {
        match e {
            WireError::Replay | WireError::SeqGap => LinkError::Replay,
            e => LinkError::Malformed(e.describe()),
        }
    }

    /// Counts the error in `stats`.
    pub(crate) fn count(&self, stats: &Stats) {
        match self {
            LinkError::BadProof => Stats::add(&stats.auth_failures, 1),
            LinkError::BadMac => Stats::add(&stats.bad_macs, 1),
            LinkError::Replay => Stats::add(&stats.replays, 1),
            LinkError::Malformed(_) => Stats::add(&stats.malformed, 1),
            _ => {}
        }
    }
}

/// Receives `len` bytes with `recv` (called with the count so far, it
/// receives the next ones). Before the first byte, waits as long as
/// `idle_ok` allows (an idle connection); once a frame has started it must
/// complete within [`FRAME_TIMEOUT_MS`].
fn recv_exact(len: usize, idle_ok: bool, mut recv: impl FnMut(usize) -> Result<Received>) -> Result<(), LinkError> {
    let mut got = 0;
    let mut started = if idle_ok { None } else { Some(crate::kernel_ext::mono_ms()) };
    while got < len {
        if kthread::should_stop() {
            return Err(LinkError::Stopped);
        }
        match recv(got).map_err(|_| LinkError::Closed)? {
            Received::Data(n) => {
                got += n;
                started.get_or_insert_with(crate::kernel_ext::mono_ms);
            }
            Received::Closed if got == 0 => return Err(LinkError::Closed),
            Received::Closed => return Err(LinkError::Malformed("connection closed in the middle of a frame")),
            Received::TimedOut => {}
        }
        if started.is_some_and(|t| crate::kernel_ext::mono_ms().saturating_sub(t) > FRAME_TIMEOUT_MS) {
            return Err(LinkError::Malformed("frame not completed in time"));
        }
    }
    Ok(())
}

/// Reads one frame header and its body (at most `max_body` bytes).
fn recv_frame(sock: &TcpSocket, max_body: usize, idle_ok: bool) -> Result<(FrameHeader, KVec<u8>, u64), LinkError> {
    let mut hdr = [0u8; wire::HEADER_LEN];
    recv_exact(hdr.len(), idle_ok, |got| sock.recv(&mut hdr[got..]))?;
    let h = FrameHeader::decode(&hdr).map_err(LinkError::from_wire)?;
    let len = h.body_len as usize;
    if len > max_body {
        return Err(LinkError::Malformed("body too large"));
    }
    let t0 = crate::kernel_ext::mono_ns();
    // Received straight into the allocation, not zeroed first.
    let mut body = KVec::with_capacity(len, GFP_KERNEL).map_err(|_| LinkError::Kernel(ENOMEM))?;
    recv_exact(len, false, |got| sock.recv_append(&mut body, len - got))?;
    Ok((h, body, crate::kernel_ext::mono_ns() - t0))
}

/// A frame before the session key exists (Hello, HelloAuth): zero tag.
fn send_plain(sock: &TcpSocket, kind: MsgType, seq: u64, src: u16, inc: u32, body: &[u8]) -> Result {
    let h = FrameHeader {
        msg_type: kind.as_u8(),
        flags: 0,
        src_node: src,
        dst_node: 0,
        src_incarnation: inc,
        seq,
        request_id: 0,
        body_len: body.len() as u32,
        ack_gap: 0,
        tag: [0; wire::TAG_LEN],
    };
    let mut hdr = [0u8; wire::HEADER_LEN];
    h.encode(&mut hdr);
    sock.send_all(&[&hdr, body])
}

/// Receives the expected handshake frame (its seq and type are fixed).
fn recv_plain(sock: &TcpSocket, kind: MsgType, seq: u64) -> Result<(FrameHeader, KVec<u8>), LinkError> {
    let (h, body, _) = recv_frame(sock, Hello::LEN.max(HelloAuth::LEN), false)?;
    if h.kind() != Some(kind) || h.seq != seq || h.flags != 0 {
        return Err(LinkError::Malformed("unexpected handshake frame"));
    }
    Ok((h, body))
}

/// An authenticated connection to one peer.
#[pin_data]
pub(crate) struct Connection {
    sock: TcpSocket,
    /// Tags every frame after the handshake (keyed by the session key).
    session: FrameMac,
    /// The peer's Hello: its node id, incarnation, listener address, port.
    pub(crate) peer: Hello,
    /// Node id of the side that connected (ties between two connections to
    /// the same peer keep the one made by the lower node id).
    pub(crate) client_node: u16,
    local_node: u16,
    local_incarnation: u32,
    /// Taken by the one sender writing to the socket at a time.
    #[pin]
    send_seq: Mutex<SeqCounter>,
    /// Frames waiting for the socket.
    #[pin]
    pub(crate) queue: SendQueue,
    /// Received requests and one-way messages waiting for their handler.
    #[pin]
    pub(crate) inbox: Inbox,
    /// Traffic and round-trip times of this connection.
    pub(crate) stats: PeerStats,
    closed: AtomicBool,
}

impl Connection {
    /// Runs the handshake (see `proto/src/wire/`) on a connected socket.
    /// `role` is `wire::ROLE_CLIENT` for the side that connected.
    pub(crate) fn handshake(sock: TcpSocket, role: u8, local: &Hello, secret: &Hmac) -> Result<Arc<Connection>, LinkError> {
        sock.set_timeouts(RECV_POLL_MS, SEND_TIMEOUT_MS);
        // The client speaks first at each step; the server answers only
        // what checked out, and never shows its proof to a peer that has
        // not proved knowledge of the secret.
        let is_client = role == wire::ROLE_CLIENT;
        let mut buf = [0u8; Hello::LEN];
        local.encode(&mut buf).map_err(LinkError::from_wire)?;
        let send_hello =
            || send_plain(&sock, MsgType::Hello, 1, local.node_id, local.incarnation, &buf).map_err(|_| LinkError::Closed);
        if is_client {
            send_hello()?;
        }
        let (h, body) = recv_plain(&sock, MsgType::Hello, 1)?;
        let peer = Hello::decode(&body).map_err(LinkError::from_wire)?;
        if peer.node_id == 0 || h.src_node != peer.node_id || peer.node_id == local.node_id {
            return Err(LinkError::Malformed("bad node id in Hello"));
        }
        if !is_client {
            send_hello()?;
        }
        let (client, server) = if role == wire::ROLE_CLIENT { (local, &peer) } else { (&peer, local) };
        let mut input = [0u8; wire::PROOF_INPUT_LEN];
        let n = wire::proof_input(role, client, server, &mut input);
        let proof = HelloAuth { proof: secret.mac(&input[..n], &[])? };
        let mut pbuf = [0u8; HelloAuth::LEN];
        proof.encode(&mut pbuf).map_err(LinkError::from_wire)?;
        let send_proof = || {
            send_plain(&sock, MsgType::HelloAuth, 2, local.node_id, local.incarnation, &pbuf).map_err(|_| LinkError::Closed)
        };
        if is_client {
            send_proof()?;
        }
        let (_, body) = recv_plain(&sock, MsgType::HelloAuth, 2)?;
        let theirs = HelloAuth::decode(&body).map_err(LinkError::from_wire)?;
        let n = wire::proof_input(1 - role, client, server, &mut input);
        let expected = secret.mac(&input[..n], &[])?;
        if !wire::tags_equal(&expected, &theirs.proof) {
            return Err(LinkError::BadProof);
        }
        if !is_client {
            send_proof()?;
        }
        let mut kin = [0u8; wire::SESSION_KEY_INPUT_LEN];
        let n = wire::session_key_input(&client.nonce, &server.nonce, &mut kin);
        let session = FrameMac::new(secret.mac(&kin[..n], &[])?);
        let mut seq = SeqCounter::new();
        // Hello and HelloAuth used seq 1 and 2.
        seq.next_seq().map_err(LinkError::from_wire)?;
        seq.next_seq().map_err(LinkError::from_wire)?;
        let conn = Arc::pin_init(
            pin_init!(Connection {
                sock,
                session,
                peer,
                client_node: client.node_id,
                local_node: local.node_id,
                local_incarnation: local.incarnation,
                send_seq <- new_mutex!(seq),
                queue <- SendQueue::new(),
                inbox <- Inbox::new(),
                stats: PeerStats::default(),
                closed: AtomicBool::new(false),
            }),
            GFP_KERNEL,
        )?;
        Ok(conn)
    }

    /// A fresh replay guard for frames received after the handshake.
    pub(crate) fn replay_guard() -> ReplayGuard {
        let mut g = ReplayGuard::new();
        let _ = g.check_and_advance(1);
        let _ = g.check_and_advance(2);
        g
    }

    /// Sends one frame: MACed, numbered, in order with the other senders'
    /// frames (see `send_queue.rs` for the queueing and back-pressure).
    pub(crate) fn send(&self, kind: MsgType, flags: u16, request_id: u64, body: &[u8], stats: &Stats) -> Result {
        self.send_parts(kind, flags, request_id, [body, &[]], &[], stats)
    }

    /// Sends one frame whose body is `body[0]`, `body[1]`, then each of
    /// `more` (see [`Frame`]).
    pub(crate) fn send_parts(
        &self,
        kind: MsgType,
        flags: u16,
        request_id: u64,
        body: [&[u8]; 2],
        more: &[&[u8]],
        stats: &Stats,
    ) -> Result {
        self.send_frame(Frame { kind, flags, request_id, ack_gap: 0, body, more }, stats)
    }

    /// Sends reliable message `id` (`ack_gap` above the sender's floor;
    /// see `proto::reliable`).
    pub(crate) fn send_reliable(&self, kind: MsgType, id: u64, ack_gap: u32, body: &[u8], stats: &Stats) -> Result {
        let frame = Frame { kind, flags: wire::FLAG_RELIABLE, request_id: id, ack_gap, body: [body, &[]], more: &[] };
        self.send_frame(frame, stats)
    }

    fn send_frame(&self, frame: Frame<'_>, stats: &Stats) -> Result {
        if self.is_closed() {
            return Err(crate::kernel_ext::enotconn());
        }
        if stats.faults.take(frame.kind) {
            // Fault injection: the frame is lost on the way.
            return Ok(());
        }
        self.queue.send(frame, &|f| self.write_frame(f, stats))
    }

    /// Writes one frame to the socket; called by the queue's one writer.
    fn write_frame(&self, f: &Frame<'_>, stats: &Stats) -> Result {
        let mut seq = self.send_seq.lock();
        let mut h = FrameHeader {
            msg_type: f.kind.as_u8(),
            flags: f.flags,
            src_node: self.local_node,
            dst_node: self.peer.node_id,
            src_incarnation: self.local_incarnation,
            seq: seq.next_seq().map_err(|_| crate::kernel_ext::eoverflow())?,
            request_id: f.request_id,
            body_len: u32::try_from(f.body_len()).map_err(|_| crate::kernel_ext::emsgsize())?,
            ack_gap: f.ack_gap,
            tag: [0; wire::TAG_LEN],
        };
        h.validate().map_err(|_| EINVAL)?;
        let t0 = crate::kernel_ext::mono_ns();
        h.tag = self.session.tag_parts(&h.mac_header(), f.parts());
        let t1 = crate::kernel_ext::mono_ns();
        Stats::add(&stats.tag_ns, t1 - t0);
        let mut hdr = [0u8; wire::HEADER_LEN];
        h.encode(&mut hdr);
        let sent = self.sock.send_all_chained(&[&hdr, f.body[0], f.body[1]], f.more);
        Stats::add(&stats.socket_send_ns, crate::kernel_ext::mono_ns() - t1);
        match sent {
            Ok(()) => {
                let n = (hdr.len() + f.body_len()) as u64;
                Stats::add(&stats.frames_sent, 1);
                Stats::add(&stats.bytes_sent, n);
                Stats::add(&self.stats.frames_sent, 1);
                Stats::add(&self.stats.bytes_sent, n);
                Ok(())
            }
            Err(e) => {
                Stats::add(&stats.send_errors, 1);
                drop(seq);
                self.close();
                Err(e)
            }
        }
    }

    /// Receives the next frame (waiting while the connection is idle) and
    /// checks its MAC, sequence and origin.
    pub(crate) fn recv(&self, guard: &mut ReplayGuard, stats: &Stats) -> Result<(FrameHeader, KVec<u8>), LinkError> {
        let (h, body, body_ns) = recv_frame(&self.sock, wire::MAX_BODY as usize, true)?;
        Stats::add(&stats.body_recv_ns, body_ns);
        let t0 = crate::kernel_ext::mono_ns();
        let expected = self.session.tag(&h.mac_header(), &body);
        Stats::add(&stats.tag_ns, crate::kernel_ext::mono_ns() - t0);
        if !wire::tags_equal(&expected, &h.tag) {
            return Err(LinkError::BadMac);
        }
        guard.check_and_advance(h.seq).map_err(LinkError::from_wire)?;
        if h.src_node != self.peer.node_id || h.src_incarnation != self.peer.incarnation {
            return Err(LinkError::Malformed("frame from an unexpected node"));
        }
        let n = (wire::HEADER_LEN + body.len()) as u64;
        Stats::add(&stats.frames_received, 1);
        Stats::add(&stats.bytes_received, n);
        Stats::add(&self.stats.frames_received, 1);
        Stats::add(&self.stats.bytes_received, n);
        Ok((h, body))
    }

    /// Closes the connection: blocked sends and receives return at once.
    pub(crate) fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            self.sock.shutdown();
            self.queue.close();
            self.inbox.finish();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}
