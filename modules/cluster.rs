// SPDX-License-Identifier: GPL-2.0
//! The cluster service: krpc connections to every other node, heartbeats
//! carrying each node's resources, failure detection and the membership
//! view (whose rules are in `proto/src/membership/`).
//!
//! Threads, all stopped by [`Service`]'s drop:
//! - `ssi-listen`: accepts connections and hands each to a link thread;
//! - `ssi-tick`: every heartbeat interval sends heartbeats, expires silent
//!   nodes, and starts link threads towards seeds and known nodes it has no
//!   connection to;
//! - `ssi-link`: one per connection: connects (or takes an accepted socket),
//!   runs the handshake, then reads frames until the connection ends:
//!   replies go straight to their waiting callers, everything else to the
//!   connection's inbox;
//! - `ssi-rx`: one per connection: runs the registered handler of each
//!   message in the inbox (`krpc/handlers.rs`), in order, and sends the
//!   replies to requests. Membership messages are handled like any other.

use crate::{
    identity::Identity,
    kernel_ext::{econnreset, eopnotsupp, eremoteio, eshutdown, mono_ms, mono_ns, swap_remove, LogLimit},
    krpc::{
        calls::Calls,
        connection::{Connection, LinkError},
        handlers::{Handler, Handlers, Incoming},
        hmac::Hmac,
        inbox::Delivery,
        reliable::{Outbox, Windows},
        socket::TcpSocket,
        stats::Stats,
    },
    kthread::{self, KThread, ThreadBody},
    proto::{
        identity::Ipv4,
        membership::{Change, NodeId, NodeState, View},
        reliable::Verdict,
        wire::{self, FrameHeader, Heartbeat, Hello, JoinReply, Leave, MsgType, Resources},
    },
};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use kernel::{c_str, new_mutex, prelude::*, sync::Arc, sync::Mutex};

/// Link threads allowed at once (connections plus handshakes in progress).
const MAX_LINKS: usize = 48;
/// Connection attempts towards one target are at least this far apart.
const CONNECT_RETRY_MS: u64 = 1000;
const CONNECT_TIMEOUT_MS: u32 = 1000;
/// How long a finished connection's handlers get to handle what arrived.
const INBOX_DRAIN_MS: u32 = 2000;
/// An RTT probe unanswered this long is given up and a new one sent.
const PROBE_TIMEOUT_NS: u64 = 5_000_000_000;

/// Incarnations count sixteenths of a second of wall-clock time, so a
/// rebooted or reloaded node comes back with a newer one (compared with
/// wrap-around arithmetic, see `membership::incarnation_newer`). Waiting
/// for the next tick guarantees a reload within one tick still gets a
/// larger value than the instance before it.
fn new_incarnation() -> u32 {
    const TICK_NS: u64 = 62_500_000;
    let now = || crate::kernel_ext::real_time_ns() / TICK_NS;
    let start = now();
    while now() == start {
        kthread::sleep_ms(10);
    }
    now() as u32
}

/// This node's resources now.
pub(crate) fn local_resources() -> Resources {
    let (cpus, total, free, load) = crate::kernel_ext::node_resources();
    Resources { cpus, mem_total_kib: total, mem_free_kib: free.min(total), load }
}

/// This node's first membership view. Not inlined: the view is a few
/// KiB, built on the stack before it goes to the heap, and `Service::start`
/// runs at the bottom of the deep stack of a write to `enabled`.
#[inline(never)]
fn new_view(node: u32, incarnation: u32, address: Ipv4, port: u16) -> Result<KBox<View>> {
    let mut view = KBox::new(View::new(), GFP_KERNEL)?;
    let id = NodeId::new(node as u16).ok_or(EINVAL)?;
    view.set_local(id, incarnation, address.0, port).map_err(|_| EINVAL)?;
    let _ = view.update_local(local_resources(), mono_ms());
    Ok(view)
}

/// Where a link thread gets its connection from.
enum LinkStart {
    Accepted(TcpSocket),
    Connect(Ipv4, u16),
}

#[pin_data]
struct LinkBody {
    cluster: Arc<Cluster>,
    #[pin]
    start: Mutex<Option<LinkStart>>,
    /// The address this link connects to (outgoing links only).
    target: Option<(Ipv4, u16)>,
    done: AtomicBool,
}

struct Link {
    body: Arc<LinkBody>,
    _thread: KThread,
}

/// State shared by the service's threads.
#[pin_data]
pub(crate) struct Cluster {
    identity: Arc<Identity>,
    local_node: u16,
    /// Changes when this node learns it was declared dead (see `rejoin`).
    incarnation: AtomicU32,
    address: Ipv4,
    port: u16,
    secret: Hmac,
    #[pin]
    view: Mutex<KBox<View>>,
    #[pin]
    conns: Mutex<KVec<Arc<Connection>>>,
    #[pin]
    links: Mutex<KVec<Link>>,
    /// Last connection attempt per target address (bits of the IPv4).
    #[pin]
    attempts: Mutex<KVec<(u32, u64)>>,
    #[pin]
    calls: Calls,
    #[pin]
    handlers: Handlers<Cluster>,
    /// Reliable messages sent and not yet acknowledged.
    #[pin]
    outbox: Outbox,
    /// Reliable messages taken, per sending node.
    #[pin]
    windows: Windows,
    stopping: AtomicBool,
    last_refusal_log: LogLimit,
}

impl Cluster {
    fn stats(&self) -> &Stats {
        &self.identity.stats
    }

    fn incarnation(&self) -> u32 {
        self.incarnation.load(Ordering::Acquire)
    }

    /// A peer's view says this node, in its current incarnation, is dead:
    /// after a partition both sides declared each other dead, and a dead
    /// incarnation never comes back. Take a new incarnation and reconnect
    /// everywhere, so every node sees this one rejoin.
    fn rejoin(&self, told_by: u16) {
        let old = self.incarnation();
        let new = new_incarnation();
        if self.incarnation.compare_exchange(old, new, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return; // another link thread did it already
        }
        if let Some(id) = NodeId::new(self.local_node) {
            let _ = self.view.lock().set_local(id, new, self.address.0, self.port);
        }
        pr_warn!("node {} says this node is dead: rejoining with incarnation {:08x} (was {:08x})\n", told_by, new, old);
        // The others gave this incarnation up, and what it was telling them.
        self.give_up_reliable(None);
        if let Ok(conns) = self.connections() {
            for c in conns.iter() {
                c.close();
            }
        }
    }

    fn hello(&self) -> Hello {
        let mut nonce = [0u8; wire::NONCE_LEN];
        crate::kernel_ext::random_bytes(&mut nonce);
        Hello { node_id: self.local_node, incarnation: self.incarnation(), nonce, address: self.address.0, port: self.port }
    }

    /// Live connections, copied so that nobody sends under the lock.
    pub(crate) fn connections(&self) -> Result<KVec<Arc<Connection>>> {
        let conns = self.conns.lock();
        let mut out = KVec::with_capacity(conns.len(), GFP_KERNEL)?;
        for c in conns.iter() {
            out.push(c.clone(), GFP_KERNEL)?;
        }
        Ok(out)
    }

    fn connection_to(&self, node: u16) -> Option<Arc<Connection>> {
        self.conns.lock().iter().find(|c| c.peer.node_id == node).cloned()
    }

    /// Whether this node has a connection to `node` now.
    pub(crate) fn is_connected(&self, node: u16) -> bool {
        self.connection_to(node).is_some_and(|c| !c.is_closed())
    }

    /// This node's id.
    pub(crate) fn node_id(&self) -> u16 {
        self.local_node
    }

    /// Adds an authenticated connection. Of two connections to the same
    /// peer, one from a newer incarnation wins, then the one made by the
    /// lower node id (both ends decide alike).
    fn register(&self, conn: &Arc<Connection>) -> Result<bool> {
        let mut conns = self.conns.lock();
        if self.stopping.load(Ordering::Acquire) {
            return Ok(false);
        }
        if let Some(pos) = conns.iter().position(|c| c.peer.node_id == conn.peer.node_id) {
            let old = &conns[pos];
            let keep_old =
                !old.is_closed() && old.peer.incarnation == conn.peer.incarnation && old.client_node <= conn.client_node;
            if keep_old {
                return Ok(false);
            }
            old.close();
            conns[pos] = conn.clone();
            return Ok(true);
        }
        conns.push(conn.clone(), GFP_KERNEL)?;
        Ok(true)
    }

    fn unregister(&self, conn: &Arc<Connection>) {
        {
            let mut conns = self.conns.lock();
            if let Some(pos) = conns.iter().position(|c| Arc::ptr_eq(c, conn)) {
                swap_remove(&mut conns, pos);
            }
        }
        // Nothing more will arrive on it: its callers must not wait.
        self.calls.fail_node(conn.peer.node_id, econnreset());
    }

    /// Sends a request to `node` and waits for its reply (at most
    /// `timeout_ms`). Fails at once when there is no connection, and as
    /// soon as the connection ends.
    pub(crate) fn call(&self, node: u16, kind: MsgType, body: &[u8], timeout_ms: u32) -> Result<KVec<u8>> {
        self.call_with(node, kind, body, timeout_ms, true)
    }

    /// As [`Cluster::call`], but only a fatal signal ends the wait.
    pub(crate) fn call_steady(&self, node: u16, kind: MsgType, body: &[u8], timeout_ms: u32) -> Result<KVec<u8>> {
        self.call_with(node, kind, body, timeout_ms, false)
    }

    fn call_with(&self, node: u16, kind: MsgType, body: &[u8], timeout_ms: u32, interruptible: bool) -> Result<KVec<u8>> {
        let conn = self.connection_to(node).ok_or_else(crate::kernel_ext::enotconn)?;
        let id = self.calls.begin(node)?;
        if let Err(e) = conn.send(kind, 0, id, body, self.stats()) {
            self.calls.cancel(id);
            return Err(e);
        }
        self.calls.wait(id, timeout_ms, interruptible)
    }

    /// Sends a one-way message to `node`.
    pub(crate) fn send_to(&self, node: u16, kind: MsgType, body: &[u8]) -> Result {
        self.send_parts_to(node, kind, [body, &[]], &[])
    }

    /// Sends a one-way message to `node` whose body is `body[0]`,
    /// `body[1]`, then each of `more`, not copied together.
    pub(crate) fn send_parts_to(&self, node: u16, kind: MsgType, body: [&[u8]; 2], more: &[&[u8]]) -> Result {
        let conn = self.connection_to(node).ok_or_else(crate::kernel_ext::enotconn)?;
        conn.send_parts(kind, 0, 0, body, more, self.stats())
    }

    /// Sends a reliable control message to `node`: it is sent again until
    /// `node` acknowledges it or is declared dead, and handled there once
    /// (`krpc/reliable.rs`). Fails only when `node` is not an alive member,
    /// or too many messages wait (`EBUSY`), or for memory; a connection
    /// that is down now is not an error (the message waits for it).
    pub(crate) fn send_reliable(&self, node: u16, kind: MsgType, body: &[u8]) -> Result {
        let id = NodeId::new(node).ok_or(EINVAL)?;
        let alive = self.view.lock().get(id).is_some_and(|n| n.state == NodeState::Alive);
        if !alive || node == self.local_node {
            return Err(crate::kernel_ext::enotconn());
        }
        let m = self.outbox.add(node, kind, body, mono_ms())?;
        Stats::add(&self.stats().reliable_sent, 1);
        if let Some(conn) = self.connection_to(node) {
            let _ = conn.send_reliable(m.kind, m.id, m.ack_gap, &m.body, self.stats());
        }
        Ok(())
    }

    /// Sends again the reliable messages due: those to `node`, or else
    /// those not acknowledged for `RESEND_MS`.
    fn resend_reliable(&self, node: Option<u16>) {
        let Ok(due) = self.outbox.due(node, mono_ms()) else { return };
        for m in due.iter() {
            Stats::add(&self.stats().reliable_resent, 1);
            if let Some(conn) = self.connection_to(m.node) {
                let _ = conn.send_reliable(m.kind, m.id, m.ack_gap, &m.body, self.stats());
            }
        }
    }

    /// Gives up the reliable messages to `node` (declared dead), or to
    /// every node.
    fn give_up_reliable(&self, node: Option<u16>) {
        let (n, kind) = self.outbox.give_up(node);
        if n == 0 {
            return;
        }
        Stats::add(&self.stats().reliable_given_up, n as u64);
        let kind = kind.map_or("?", MsgType::name);
        match node {
            Some(node) => pr_warn!("node {} is dead: {} message(s) to it never acknowledged (one: {})\n", node, n, kind),
            None => pr_warn!("{} message(s) never acknowledged are given up (one: {})\n", n, kind),
        }
    }

    /// Changes whenever reliable messages to `node` are given up (it was
    /// declared dead, or this node rejoined): an answer to one of them
    /// may never come (`krpc::reliable::Outbox::give_up_epoch`).
    pub(crate) fn reliable_epoch(&self, node: u16) -> u64 {
        self.outbox.give_up_epoch(node)
    }

    /// Reliable messages waiting for their acknowledgement.
    pub(crate) fn reliable_pending(&self) -> usize {
        self.outbox.len()
    }

    /// Sends a one-way message to every connected node; returns how many
    /// got it.
    pub(crate) fn broadcast(&self, kind: MsgType, body: &[u8]) -> usize {
        let Ok(conns) = self.connections() else { return 0 };
        conns.iter().filter(|c| c.send(kind, 0, 0, body, self.stats()).is_ok()).count()
    }

    /// Requests waiting for a reply.
    pub(crate) fn calls_in_flight(&self) -> usize {
        self.calls.in_flight()
    }

    /// Applies `f` to the view under its lock; returns its result and the
    /// view's epoch afterwards. The lock is released before returning, so
    /// callers can log and send.
    fn update_view<R>(&self, f: impl FnOnce(&mut View) -> R) -> (R, u64) {
        let mut view = self.view.lock();
        let r = f(&mut view);
        (r, view.epoch())
    }

    /// Logs a change of the view; a node that died or left gets no more
    /// of the reliable messages waiting for it.
    fn note_change(&self, change: Change, epoch: u64) {
        let Some(id) = change.node() else { return };
        if matches!(change, Change::Died(_) | Change::Left(_)) {
            self.give_up_reliable(Some(id.get()));
        }
        match change {
            Change::Joined(_) => pr_info!("node {} joined (view epoch {})\n", id.get(), epoch),
            Change::Rejoined(_) => pr_info!("node {} rejoined with a new incarnation (view epoch {})\n", id.get(), epoch),
            Change::Died(_) => pr_warn!("node {} declared dead (view epoch {})\n", id.get(), epoch),
            Change::Left(_) => pr_info!("node {} left the cluster (view epoch {})\n", id.get(), epoch),
            Change::None => {}
        }
    }

    fn send_join_reply(&self, conn: &Connection) -> Result {
        let mut reply = KBox::new(JoinReply::EMPTY, GFP_KERNEL)?;
        self.view.lock().fill_join_reply(&mut reply);
        let mut buf = KVec::from_elem(0u8, JoinReply::MAX_LEN, GFP_KERNEL)?;
        let n = reply.encode(&mut buf).map_err(|_| EINVAL)?;
        conn.send(MsgType::JoinReply, 0, 0, &buf[..n], self.stats())
    }

    /// A peer finished the handshake: it is alive; tell it what we know.
    fn on_connected(&self, conn: &Arc<Connection>) {
        let p = &conn.peer;
        let Some(id) = NodeId::new(p.node_id) else { return };
        let (change, epoch) =
            self.update_view(|v| v.on_heartbeat(id, p.incarnation, p.address, p.port, Resources::ZERO, mono_ms()));
        match change {
            Ok(c) => self.note_change(c, epoch),
            Err(e) => pr_warn!("node {}: {}\n", p.node_id, e.describe()),
        }
        let _ = self.send_join_reply(conn);
        // What the last connection may have lost goes again now.
        self.resend_reliable(Some(p.node_id));
    }

    /// Makes `handler` handle messages of type `kind` from every peer.
    pub(crate) fn register_handler(&self, kind: MsgType, handler: Arc<dyn Handler<Cluster>>) -> Result {
        self.handlers.register(kind, handler)
    }

    /// The reading thread's part of a received frame: a reply goes to its
    /// waiting caller (or is the answer to an RTT probe), anything else to
    /// the connection's inbox, waiting while the inbox is full.
    fn receive(&self, conn: &Arc<Connection>, header: FrameHeader, body: KVec<u8>) -> Result {
        // Every authenticated frame shows the peer is alive, even when its
        // heartbeats wait behind bulk data in the inbox.
        if let Some(id) = NodeId::new(conn.peer.node_id) {
            self.view.lock().heard_from(id, conn.peer.incarnation, mono_ms());
        }
        if header.is_reply() {
            let probe = &conn.stats;
            if header.request_id == probe.probe_id.load(Ordering::Acquire)
                && probe.probe_id.compare_exchange(header.request_id, 0, Ordering::AcqRel, Ordering::Relaxed).is_ok()
            {
                let sent = probe.probe_sent_ns.load(Ordering::Acquire);
                probe.record_rtt(mono_ns().saturating_sub(sent));
                return Ok(());
            }
            if header.is_reliable() {
                if self.outbox.ack(conn.peer.node_id, header.request_id).is_some() {
                    Stats::add(&self.stats().reliable_acked, 1);
                }
                return Ok(());
            }
            let result = if header.is_error() { Err(remote_error(&body)) } else { Ok(body) };
            if !self.calls.complete(conn.peer.node_id, header.request_id, result) {
                Stats::add(&self.stats().late_replies, 1);
            }
            return Ok(());
        }
        let t0 = mono_ns();
        let r = conn.inbox.push(Delivery { header, body }, &|| kthread::should_stop() || conn.is_closed());
        Stats::add(&self.stats().inbox_full_ns, mono_ns() - t0);
        r
    }

    /// Runs the handler of one received message (on the connection's
    /// handler thread); answers a request with the handler's result.
    fn handle(&self, conn: &Arc<Connection>, d: Delivery) {
        let Delivery { header, body } = d;
        let is_request = header.request_id != 0;
        let reply_flags = if header.is_reliable() { wire::FLAG_REPLY | wire::FLAG_RELIABLE } else { wire::FLAG_REPLY };
        if header.is_reliable() {
            let p = &conn.peer;
            match self.windows.accept(p.node_id, p.incarnation, header.request_id, header.ack_gap) {
                Verdict::Fresh => {}
                Verdict::Duplicate => {
                    // Taken before, its acknowledgement lost: again.
                    Stats::add(&self.stats().reliable_duplicates, 1);
                    if let Some(kind) = header.kind() {
                        let _ = conn.send(kind, reply_flags, header.request_id, &[], self.stats());
                    }
                    return;
                }
                Verdict::Refused => {
                    Stats::add(&self.stats().malformed, 1);
                    return;
                }
            }
        }
        let result = match self.handlers.get(header.msg_type) {
            Some(handler) => {
                Stats::add(&self.stats().handled, 1);
                let r = handler.handle_owned(self, conn, &header, body);
                if r.is_err() {
                    Stats::add(&self.stats().handler_errors, 1);
                }
                r
            }
            None => {
                Stats::add(&self.stats().unhandled, 1);
                Err(eopnotsupp())
            }
        };
        if !is_request {
            return;
        }
        let Some(kind) = header.kind() else { return };
        let id = header.request_id;
        let _ = match result {
            Ok(reply) => conn.send(kind, reply_flags, id, &reply, self.stats()),
            Err(e) => {
                let errno = e.to_errno().to_le_bytes();
                conn.send(kind, reply_flags | wire::FLAG_ERROR, id, &errno, self.stats())
            }
        };
    }

    /// Sends an RTT probe (an Echo request nobody waits for) on `conn`
    /// unless one is still in flight; the reading thread times the reply.
    fn probe_rtt(&self, conn: &Connection) {
        let probe = &conn.stats;
        let now = mono_ns();
        if probe.probe_id.load(Ordering::Acquire) != 0
            && now.saturating_sub(probe.probe_sent_ns.load(Ordering::Acquire)) < PROBE_TIMEOUT_NS
        {
            return;
        }
        let id = self.calls.fresh_id();
        probe.probe_sent_ns.store(now, Ordering::Release);
        probe.probe_id.store(id, Ordering::Release);
        let _ = conn.send(MsgType::Echo, 0, id, &[], self.stats());
    }

    fn on_heartbeat(&self, msg: &Incoming<'_>) -> Result {
        let id = NodeId::new(msg.from_node()).ok_or(EINVAL)?;
        let hb = Heartbeat::decode(msg.body).map_err(|_| EINVAL)?;
        if hb.incarnation != msg.from_incarnation() {
            return Err(EINVAL);
        }
        let p = &msg.conn.peer;
        let (r, epoch) =
            self.update_view(|v| v.on_heartbeat(id, hb.incarnation, p.address, p.port, hb.resources, mono_ms()));
        if let Ok(c) = r {
            self.note_change(c, epoch);
        }
        Ok(())
    }

    fn on_join_reply(&self, msg: &Incoming<'_>) -> Result {
        let mut reply = KBox::new(JoinReply::EMPTY, GFP_KERNEL)?;
        reply.decode_into(msg.body).map_err(|_| EINVAL)?;
        let me = self.incarnation();
        let declared_dead = reply.used().iter().any(|e| e.node_id == self.local_node && !e.alive && e.incarnation == me);
        if declared_dead {
            let teller = NodeId::new(msg.from_node()).ok_or(EINVAL)?;
            if self.view.lock().should_rejoin(teller, &reply) {
                self.rejoin(msg.from_node());
            } else {
                // The smaller side of a healed partition: it rejoins (its
                // reply from this node says it is dead), not this node.
                pr_info!(
                    "node {} says this node is dead, but it was cut off from the larger part of the cluster: it rejoins\n",
                    msg.from_node()
                );
            }
            return Ok(());
        }
        let (changes, epoch) = self.update_view(|v| v.merge_join_reply(&reply, mono_ms()));
        for c in changes.iter() {
            self.note_change(*c, epoch);
        }
        Ok(())
    }

    fn on_leave(&self, msg: &Incoming<'_>) -> Result {
        let id = NodeId::new(msg.from_node()).ok_or(EINVAL)?;
        let leave = Leave::decode(msg.body).map_err(|_| EINVAL)?;
        if leave.node_id != msg.from_node() {
            return Err(EINVAL);
        }
        let (r, epoch) = self.update_view(|v| v.on_leave(id, leave.incarnation));
        if let Ok(c) = r {
            self.note_change(c, epoch);
        }
        msg.conn.close();
        Ok(())
    }

    fn spawn_link(self: &Arc<Self>, start: LinkStart) -> Result {
        let target = match &start {
            LinkStart::Connect(a, p) => Some((*a, *p)),
            LinkStart::Accepted(_) => None,
        };
        let mut links = self.links.lock();
        if self.stopping.load(Ordering::Acquire) || links.len() >= MAX_LINKS {
            return Err(EBUSY);
        }
        let body = Arc::pin_init(
            pin_init!(LinkBody {
                cluster: self.clone(),
                start <- new_mutex!(Some(start)),
                target,
                done: AtomicBool::new(false),
            }),
            GFP_KERNEL,
        )?;
        let thread = KThread::spawn(c_str!("ssi-link"), body.clone())?;
        links.push(Link { body, _thread: thread }, GFP_KERNEL)?;
        Ok(())
    }

    /// Drops finished link threads (stopping an idle thread is quick).
    pub(crate) fn reap_links(&self) {
        let mut finished = KVec::new();
        {
            let mut links = self.links.lock();
            let mut i = 0;
            while i < links.len() {
                if links[i].body.done.load(Ordering::Acquire) {
                    if let Some(l) = swap_remove(&mut links, i) {
                        if finished.push(l, GFP_KERNEL).is_err() {
                            break; // `l` was dropped: stops the thread, fine too
                        }
                    }
                } else {
                    i += 1;
                }
            }
        }
        drop(finished);
    }

    /// Starts connections towards seeds and alive nodes we are not
    /// connected to (at most one attempt per target per CONNECT_RETRY_MS).
    fn connect_missing(self: &Arc<Self>) -> Result {
        let mut targets: KVec<(Ipv4, u16)> = KVec::new();
        for seed in self.identity.seeds()?.iter() {
            targets.push(*seed, GFP_KERNEL)?;
        }
        {
            let view = self.view.lock();
            for n in view.iter() {
                if n.state == NodeState::Alive && n.id.get() != self.local_node && n.port != 0 {
                    targets.push((Ipv4(n.address), n.port), GFP_KERNEL)?;
                }
            }
        }
        let now = mono_ms();
        for (addr, port) in targets.iter() {
            if *addr == self.address || !addr.is_set() {
                continue;
            }
            let connected = self.conns.lock().iter().any(|c| Ipv4(c.peer.address) == *addr && !c.is_closed());
            let pending = self
                .links
                .lock()
                .iter()
                .any(|l| l.body.target.is_some_and(|(a, _)| a == *addr) && !l.body.done.load(Ordering::Acquire));
            if connected || pending {
                continue;
            }
            {
                let mut attempts = self.attempts.lock();
                match attempts.iter_mut().find(|(a, _)| *a == addr.to_bits()) {
                    Some((_, t)) if now.saturating_sub(*t) < CONNECT_RETRY_MS => continue,
                    Some((_, t)) => *t = now,
                    None => attempts.push((addr.to_bits(), now), GFP_KERNEL)?,
                }
            }
            let _ = self.spawn_link(LinkStart::Connect(*addr, *port));
        }
        Ok(())
    }

    /// One heartbeat period of work.
    fn tick(self: &Arc<Self>) {
        if let Ok(conns) = self.connections() {
            for c in conns.iter() {
                self.probe_rtt(c);
            }
        }
        let now = mono_ms();
        let resources = local_resources();
        let epoch = {
            let mut view = self.view.lock();
            let _ = view.update_local(resources, now);
            view.epoch()
        };
        let hb = Heartbeat { incarnation: self.incarnation(), view_epoch: epoch, resources };
        let mut buf = [0u8; Heartbeat::LEN];
        if hb.encode(&mut buf).is_ok() {
            self.broadcast(MsgType::Heartbeat, &buf);
        }
        let dead_after = u64::from(self.identity.dead_after_ms());
        let (changes, epoch) = self.update_view(|v| v.expire(now, dead_after));
        for c in changes.iter() {
            self.note_change(*c, epoch);
            if let Change::Died(id) = c {
                if let Some(conn) = self.connection_to(id.get()) {
                    conn.close();
                }
            }
        }
        self.resend_reliable(None);
        self.reap_links();
        let _ = self.connect_missing();
    }
}

impl ThreadBody for LinkBody {
    fn run(&self) {
        let cluster = &self.cluster;
        let start = self.start.lock().take();
        let (sock, role, from) = match start {
            Some(LinkStart::Accepted(s)) => {
                let peer = s.peer_addr();
                (s, wire::ROLE_SERVER, peer)
            }
            Some(LinkStart::Connect(addr, port)) => match TcpSocket::connect(addr, port, CONNECT_TIMEOUT_MS) {
                Ok(s) => (s, wire::ROLE_CLIENT, addr),
                Err(_) => {
                    self.done.store(true, Ordering::Release);
                    return;
                }
            },
            None => {
                self.done.store(true, Ordering::Release);
                return;
            }
        };
        let hello = cluster.hello();
        let conn = match Connection::handshake(sock, role, &hello, &cluster.secret) {
            Ok(c) => c,
            Err(e) => {
                e.count(cluster.stats());
                if !matches!(e, LinkError::Stopped | LinkError::Closed) && cluster.last_refusal_log.allow() {
                    match e {
                        LinkError::BadProof => pr_warn!("refused connection with {}: wrong cluster secret\n", from),
                        LinkError::Malformed(why) => pr_warn!("refused connection with {}: {}\n", from, why),
                        LinkError::Kernel(err) => pr_warn!("connection with {} failed: error {}\n", from, err.to_errno()),
                        _ => pr_warn!("refused connection with {}: {:?}\n", from, e),
                    }
                }
                self.done.store(true, Ordering::Release);
                return;
            }
        };
        Stats::add(&cluster.stats().connections, 1);
        let handler_thread = Arc::new(HandlerThread { cluster: cluster.clone(), conn: conn.clone() }, GFP_KERNEL)
            .map_err(Error::from)
            .and_then(|body| KThread::spawn(c_str!("ssi-rx"), body));
        if handler_thread.is_ok() && cluster.register(&conn) == Ok(true) {
            cluster.on_connected(&conn);
            let mut guard = Connection::replay_guard();
            loop {
                let received = conn.recv(&mut guard, cluster.stats());
                let delivered =
                    received.and_then(|(h, body)| cluster.receive(&conn, h, body).map_err(|_| LinkError::Closed));
                match delivered {
                    Ok(()) => {}
                    Err(e) => {
                        e.count(cluster.stats());
                        if matches!(e, LinkError::BadMac | LinkError::Replay | LinkError::Malformed(_)) {
                            pr_warn!("dropped connection with node {}: {:?}\n", conn.peer.node_id, e);
                        }
                        break;
                    }
                }
            }
            cluster.unregister(&conn);
        }
        conn.close();
        // What the peer sent before its connection ended (its Leave, say)
        // is still handled, unless this node is stopping; then the handler
        // thread stops (after the handler running now, which sees the
        // closed connection and its failed calls at once).
        if !kthread::should_stop() && !conn.inbox.wait_handled(INBOX_DRAIN_MS) {
            pr_warn!("node {}: handlers still busy when its connection ended\n", conn.peer.node_id);
        }
        drop(handler_thread);
        self.done.store(true, Ordering::Release);
    }
}

/// The handler thread of one connection.
struct HandlerThread {
    cluster: Arc<Cluster>,
    conn: Arc<Connection>,
}

impl ThreadBody for HandlerThread {
    fn run(&self) {
        while !kthread::should_stop() {
            for d in self.conn.inbox.take() {
                let t0 = mono_ns();
                let len = d.body.len();
                self.cluster.handle(&self.conn, d);
                Stats::add(&self.cluster.stats().handler_ns, mono_ns() - t0);
                self.conn.inbox.handled(len);
            }
        }
    }
}

/// The membership messages.
const MEMBERSHIP_MESSAGES: [MsgType; 3] = [MsgType::Heartbeat, MsgType::JoinReply, MsgType::Leave];

/// Handles the membership messages.
struct MembershipHandler;

impl Handler<Cluster> for MembershipHandler {
    fn handle(&self, cluster: &Cluster, msg: &Incoming<'_>) -> Result<KVec<u8>> {
        let r = match msg.header.kind() {
            Some(MsgType::Heartbeat) => cluster.on_heartbeat(msg),
            Some(MsgType::JoinReply) => cluster.on_join_reply(msg),
            Some(MsgType::Leave) => cluster.on_leave(msg),
            _ => Err(EINVAL),
        };
        if r == Err(EINVAL) {
            Stats::add(&cluster.stats().malformed, 1);
        }
        r.map(|()| KVec::new())
    }
}

/// The error a peer's error reply carries: its errno, or `EREMOTEIO`
/// when the body is not a valid one.
fn remote_error(body: &[u8]) -> Error {
    let errno = <[u8; 4]>::try_from(body).map(i32::from_le_bytes).unwrap_or(0);
    if (-4095..0).contains(&errno) {
        Error::from_errno(errno)
    } else {
        eremoteio()
    }
}

struct Listener {
    cluster: Arc<Cluster>,
    sock: TcpSocket,
}

impl ThreadBody for Listener {
    fn run(&self) {
        while !kthread::should_stop() {
            match self.sock.accept() {
                Ok(Some(s)) => {
                    self.cluster.reap_links();
                    // Over the limit the socket is dropped: closed at once.
                    if self.cluster.spawn_link(LinkStart::Accepted(s)).is_err() {
                        Stats::add(&self.cluster.stats().refused_busy, 1);
                    }
                }
                Ok(None) => {}
                Err(_) => kthread::sleep_ms(100),
            }
        }
    }
}

struct Ticker {
    cluster: Arc<Cluster>,
}

impl ThreadBody for Ticker {
    fn run(&self) {
        while !kthread::should_stop() {
            self.cluster.tick();
            kthread::sleep_ms(self.cluster.identity.heartbeat_ms());
        }
    }
}

/// The running cluster service; stopping it (drop) leaves the cluster.
pub(crate) struct Service {
    cluster: Arc<Cluster>,
    listener: Option<KThread>,
    ticker: Option<KThread>,
    /// The threads of the layers above (stopped first).
    layer_threads: KVec<KThread>,
}

impl Service {
    /// Joins the cluster: listens on the configured port and contacts the
    /// seeds. Needs a node id, an address and the cluster secret.
    ///
    /// `start_layers` starts the layers above the service (checkpoint,
    /// migration): given the service as it starts, each registers its own
    /// message handlers and returns the threads it runs while the service
    /// runs.
    #[inline(never)]
    pub(crate) fn start(
        identity: &Arc<Identity>,
        start_layers: impl FnOnce(&Arc<Cluster>) -> Result<KVec<KThread>>,
    ) -> Result<Service> {
        let node = identity.node_id();
        let address = identity.address();
        if node == 0 || !address.is_set() {
            pr_err!("cannot start: set node_id and address first\n");
            return Err(EINVAL);
        }
        let secret = identity.secret_hmac().inspect_err(|_| {
            pr_err!("cannot start: no cluster secret (write it to /sys/kernel/config/ssi/secret)\n");
        })?;
        let port = identity.port();
        let listen_sock = TcpSocket::listen(port, 64).inspect_err(|e| {
            pr_err!("cannot listen on port {} (error {})\n", port, e.to_errno());
        })?;
        listen_sock.set_timeouts(500, 500);
        let incarnation = new_incarnation();
        let view = new_view(node, incarnation, address, port)?;
        let cluster = Arc::pin_init(
            pin_init!(Cluster {
                identity: identity.clone(),
                local_node: node as u16,
                incarnation: AtomicU32::new(incarnation),
                address,
                port,
                secret,
                view <- new_mutex!(view),
                conns <- new_mutex!(KVec::new()),
                links <- new_mutex!(KVec::new()),
                attempts <- new_mutex!(KVec::new()),
                calls <- Calls::new(),
                handlers <- Handlers::new(),
                outbox <- Outbox::new(),
                windows <- Windows::new(),
                stopping: AtomicBool::new(false),
                last_refusal_log: LogLimit::new(),
            }),
            GFP_KERNEL,
        )?;
        let membership: Arc<dyn Handler<Cluster>> = Arc::new(MembershipHandler, GFP_KERNEL)?;
        for kind in MEMBERSHIP_MESSAGES {
            cluster.register_handler(kind, membership.clone())?;
        }
        let layer_threads = start_layers(&cluster).inspect_err(|_| cluster.handlers.unregister_all())?;
        let listener_body = Arc::new(Listener { cluster: cluster.clone(), sock: listen_sock }, GFP_KERNEL)?;
        let listener = KThread::spawn(c_str!("ssi-listen"), listener_body)?;
        let ticker_body = Arc::new(Ticker { cluster: cluster.clone() }, GFP_KERNEL)?;
        let ticker = KThread::spawn(c_str!("ssi-tick"), ticker_body)?;
        pr_info!("node {} joining the cluster: listening on {}:{}, incarnation {:08x}\n", node, address, port, incarnation);
        Ok(Service { cluster, listener: Some(listener), ticker: Some(ticker), layer_threads })
    }

    /// The membership view, for display.
    pub(crate) fn with_view<R>(&self, f: impl FnOnce(&View, u64) -> R) -> R {
        let view = self.cluster.view.lock();
        f(&view, mono_ms())
    }

    /// This node's incarnation.
    pub(crate) fn incarnation(&self) -> u32 {
        self.cluster.incarnation()
    }

    /// The shared state, for work done outside the service lock.
    pub(crate) fn cluster(&self) -> Arc<Cluster> {
        self.cluster.clone()
    }

    /// Connected peers.
    pub(crate) fn connected(&self) -> usize {
        self.cluster.conns.lock().len()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let c = &self.cluster;
        // No new connections, then tell every peer we leave.
        drop(core::mem::take(&mut self.layer_threads));
        self.listener.take();
        self.ticker.take();
        c.stopping.store(true, Ordering::Release);
        let leave = Leave { node_id: c.local_node, incarnation: c.incarnation() };
        let mut buf = [0u8; Leave::LEN];
        if leave.encode(&mut buf).is_ok() {
            c.broadcast(MsgType::Leave, &buf);
        }
        if let Ok(conns) = c.connections() {
            for conn in conns.iter() {
                conn.close();
            }
        }
        // Stop every link thread (their sockets are shut down: quick).
        let links = core::mem::take(&mut *c.links.lock());
        drop(links);
        c.calls.fail_all(eshutdown());
        core::mem::take(&mut *c.conns.lock());
        c.handlers.unregister_all();
        pr_info!("node {} left the cluster\n", c.local_node);
    }
}
