// SPDX-License-Identifier: GPL-2.0
//! The copies of replicated processes that run on this node (silent data
//! corruption, `proto::ha::replica`).
//!
//! A copy is the primary (copy 0: a process that migrated here, whose
//! writes to its stand-ins for fds 0-2 pass through the migration layer's
//! [`WriteGate`]) or a replica (copies 1 and 2: restarted here from a
//! checkpoint image, with the stand-ins of `replica_io.rs`, which throw
//! its output away). Both count their writes to those files: the points.
//! From its first checkpoint on (the primary) or from its start (a
//! replica), a copy stops at each point in the write, in its own context:
//! it sends its home node the digest of its state (`digest.rs`,
//! `HaDigest`) and waits for the verdict (`HaVerdict`): go on, and for
//! the primary whether the write reaches the world, or stop (it is
//! killed: it is replaced or rolled back).

use super::digest;
use crate::{
    checkpoint::task,
    cluster::Cluster,
    migration::{
        forward::WriteGate,
        sys::{kill_pid, Doorbell},
    },
    proto::{
        ha::replica::{Action, DigestHead, ReplicaAsk, Verdict},
        wire::MsgType,
    },
};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{new_mutex, prelude::*, sync::Arc, sync::Mutex};

/// Most copies on one node.
const MAX_COPIES: usize = 64;
/// How long a copy waits for a verdict with its home node unreachable
/// before the primary goes on unchecked and a replica stops.
const VERDICT_TIMEOUT_MS: u64 = 120_000;
/// How long a copy tries to hand its digest to an unreachable home, and
/// how long a replica's home may be lost before the replica stops.
const HOME_LOST_MS: u64 = 30_000;
const SIGKILL: u32 = 9;
/// A verdict for whatever point the copy is at (the process ended).
pub(crate) const ANY_POINT: u64 = u64::MAX;

static TIMEOUT_LOG: crate::kernel_ext::LogLimit = crate::kernel_ext::LogLimit::new();

/// The home node's side, for a copy that runs on its home node (a
/// replica there): its digests are handed over without a message.
pub(crate) trait Home {
    /// `HaDigest` from this node.
    fn take_digest(&self, cluster: &Cluster, body: &[u8]) -> Result;
}

struct CopyState {
    generation: u32,
    /// Writes done (the next point).
    point: u64,
    /// Writes the world has seen (the primary's writes below it are not
    /// emitted again, whoever decides).
    emitted: u64,
    /// Whether it stops at points (the primary: from its first
    /// checkpoint on).
    armed: bool,
    verdict: Option<Verdict>,
    /// Its pid here (0: not known yet).
    pid: u32,
    /// The restart that makes it (replicas), 0 once it ran.
    token: u32,
    /// The primary: a checkpoint is asked for; it waits at its next point
    /// (`parked`) until the capture is queued on it.
    capture_wanted: bool,
    parked: bool,
    /// Since when its home node is not connected (mono ms).
    home_lost_ms: Option<u64>,
}

/// How long a primary waits at a point for its capture to be queued.
const PARK_MS: u64 = 5_000;

/// A copy registered this long ago without a process is forgotten.
const UNBORN_MS: u64 = 120_000;
/// Generation of a copy replaced by a newer one.
const SUPERSEDED: u32 = 0;

/// One copy of a replicated process on this node.
#[pin_data]
pub(crate) struct Copy {
    pub(crate) home_node: u16,
    pub(crate) home_id: u64,
    pub(crate) home_pid: u32,
    pub(crate) index: u8,
    /// When it was registered (mono ms).
    since_ms: u64,
    #[pin]
    state: Mutex<CopyState>,
    #[pin]
    bell: Doorbell,
}

/// The copies on this node, and counters.
#[pin_data]
pub(crate) struct Copies {
    #[pin]
    list: Mutex<KVec<Arc<Copy>>>,
    pub(crate) points: AtomicU64,
    pub(crate) wait_ns: AtomicU64,
    pub(crate) digest_ns: AtomicU64,
    pub(crate) stopped: AtomicU64,
}

impl Copies {
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Copies {
                list <- new_mutex!(KVec::new()),
                points: AtomicU64::new(0),
                wait_ns: AtomicU64::new(0),
                digest_ns: AtomicU64::new(0),
                stopped: AtomicU64::new(0),
            }),
            GFP_KERNEL,
        )
    }

    fn find(&self, f: impl Fn(&Copy) -> bool) -> Option<Arc<Copy>> {
        self.list.lock().iter().find(|c| f(c)).cloned()
    }

    /// Copy `ask.copy` of the process of `home` (`HaReplica`): replaces
    /// any copy of the same index of it here. A replica waits for its
    /// restart `token`; the primary (`token` 0) is the process that runs
    /// here, whose pid is `pid`.
    pub(crate) fn register(&self, home: u16, ask: &ReplicaAsk<'_>, token: u32, pid: u32) -> Result<Arc<Copy>> {
        let armed = ask.armed;
        let c = Arc::pin_init(
            pin_init!(Copy {
                home_node: home,
                home_id: ask.home_id,
                home_pid: ask.home_pid,
                index: ask.copy,
                since_ms: crate::kernel_ext::mono_ms(),
                state <- new_mutex!(CopyState {
                    generation: ask.generation,
                    point: ask.point,
                    emitted: ask.emitted,
                    armed,
                    verdict: None,
                    pid,
                    token,
                    capture_wanted: false,
                    parked: false,
                    home_lost_ms: None,
                }),
                bell <- Doorbell::new(),
            }),
            GFP_KERNEL,
        )?;
        let mut list = self.list.lock();
        let old = list.iter().position(|o| o.home_node == home && o.home_id == ask.home_id && o.index == ask.copy);
        if let Some(o) = old.and_then(|i| crate::kernel_ext::swap_remove(&mut list, i)) {
            // A copy of an older generation still here: it stops.
            o.state.lock().generation = SUPERSEDED;
            o.bell.ring();
        }
        if list.len() >= MAX_COPIES {
            return Err(ENOSPC);
        }
        list.push(c.clone(), GFP_KERNEL)?;
        Ok(c)
    }

    /// The primary of the process of `home_node`'s deputy `home_id`, if
    /// it runs here.
    pub(crate) fn primary(&self, home_node: u16, home_id: u64) -> Option<Arc<Copy>> {
        self.find(|c| c.index == 0 && c.home_node == home_node && c.home_id == home_id)
    }

    /// The replica restart `token` makes, while it has not run.
    pub(crate) fn pending(&self, token: u32) -> Option<Arc<Copy>> {
        if token == 0 {
            return None;
        }
        self.find(|c| c.index != 0 && c.state.lock().token == token)
    }

    /// `HaVerdict` from `from`.
    pub(crate) fn on_verdict(&self, from: u16, v: &Verdict) -> Result {
        let c = self.find(|c| c.home_node == from && c.home_id == v.home_id && c.index == v.copy).ok_or(ESRCH)?;
        if v.point == ANY_POINT {
            // Not followed any more: forgotten here (a checkpoint of it
            // no longer waits for a point).
            let mut list = self.list.lock();
            if let Some(i) = list.iter().position(|o| Arc::ptr_eq(o, &c)) {
                drop(crate::kernel_ext::swap_remove(&mut list, i));
            }
        }
        let mut st = c.state.lock();
        if st.generation != v.generation {
            return Err(ESRCH);
        }
        if v.point != ANY_POINT && v.point < st.point {
            // A verdict sent again for a point it passed.
            return Ok(());
        }
        if v.point == ANY_POINT && v.action == Action::Stop {
            let pid = st.pid;
            st.verdict = Some(*v);
            drop(st);
            c.bell.ring();
            // Not at a point: a replica still running on; the primary's
            // deputy ended already.
            if pid != 0 && c.index != 0 {
                let _ = kill_pid(pid, SIGKILL);
            }
            return Ok(());
        }
        if v.point == ANY_POINT {
            // No longer replicated: it goes on unchecked.
            st.armed = false;
        }
        st.verdict = Some(*v);
        drop(st);
        c.bell.ring();
        Ok(())
    }

    /// Forgets the copies whose process is gone (run by the `ssi-ha`
    /// thread); `hosted(home_node, home_id)` says whether a primary still
    /// runs here, and its pid.
    ///
    /// A replica whose home node is not connected for [`HOME_LOST_MS`]
    /// is killed: nobody compares it any more (the primary ends by its
    /// lease the same way).
    pub(crate) fn sweep(&self, hosted: impl Fn(u16, u64) -> Option<u32>, connected: impl Fn(u16) -> bool) {
        let now = crate::kernel_ext::mono_ms();
        let keep = |c: &Copy| {
            let mut st = c.state.lock();
            if connected(c.home_node) {
                st.home_lost_ms = None;
            } else if c.index != 0 && st.pid != 0 {
                let since = *st.home_lost_ms.get_or_insert(now);
                if now.saturating_sub(since) >= HOME_LOST_MS {
                    pr_warn!(
                        "ha: copy {} (pid {}) of node {}'s process {}: its home node is lost; it stops\n",
                        c.index,
                        st.pid,
                        c.home_node,
                        c.home_pid
                    );
                    let _ = kill_pid(st.pid, SIGKILL);
                    return false;
                }
            }
            let young = now.saturating_sub(c.since_ms) < UNBORN_MS;
            if c.index == 0 {
                // A primary registered before it comes (a restart) has
                // no pid until it runs here.
                match hosted(c.home_node, c.home_id) {
                    Some(pid) => {
                        st.pid = pid;
                        true
                    }
                    None => st.pid == 0 && young,
                }
            } else if st.pid == 0 {
                young
            } else {
                task::process_alive(st.pid)
            }
        };
        let mut list = self.list.lock();
        let mut i = 0;
        while i < list.len() {
            if keep(&list[i]) {
                i += 1;
            } else {
                drop(crate::kernel_ext::swap_remove(&mut list, i));
            }
        }
    }

    /// Lines of `/proc/ssi/ha` for the copies here.
    pub(crate) fn show(&self, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        for c in self.list.lock().iter() {
            let st = c.state.lock();
            writeln!(
                out,
                "copy: home={} pid={} copy={} local_pid={} generation={} point={} armed={}",
                c.home_node,
                c.home_pid,
                c.index,
                st.pid,
                st.generation,
                st.point,
                u8::from(st.armed)
            )?;
        }
        Ok(())
    }
}

impl WriteGate for Copies {
    fn before_write(&self, cluster: &Cluster, home_node: u16, home_id: u64) -> Result<bool> {
        match self.primary(home_node, home_id) {
            None => Ok(true),
            Some(c) => c.at_point(cluster, self, None),
        }
    }
}

impl Copy {
    /// The restart of this replica ran: it is process `pid` here.
    pub(crate) fn restored(&self, pid: u32) {
        let mut st = self.state.lock();
        st.pid = pid;
        st.token = 0;
    }

    /// The point of a checkpoint taken now, in the process's own context
    /// (the primary starts stopping at points from here).
    pub(crate) fn captured(&self) -> u64 {
        let mut st = self.state.lock();
        st.armed = true;
        st.point
    }

    /// A checkpoint of the primary is asked for: whether it waits at a
    /// point now (then its capture may be queued); otherwise it will at
    /// its next one.
    pub(crate) fn park_for_capture(&self) -> bool {
        let mut st = self.state.lock();
        st.capture_wanted = true;
        st.parked
    }

    /// The capture was queued (or failed): the primary goes on.
    pub(crate) fn capture_queued(&self) {
        let mut st = self.state.lock();
        st.capture_wanted = false;
        st.parked = false;
        drop(st);
        self.bell.ring();
    }

    /// At a point, after its verdict: a primary whose checkpoint is asked
    /// for waits until its capture is queued, so that the image holds the
    /// state right after this write (a capture elsewhere would interrupt a
    /// system call, whose effects on memory differ from the replicas').
    fn park(&self) {
        {
            let mut st = self.state.lock();
            if !st.capture_wanted {
                return;
            }
            st.parked = true;
        }
        let start = crate::kernel_ext::mono_ms();
        loop {
            let seen = self.bell.seen();
            // The capture's task work is queued with TWA_SIGNAL.
            if kernel::current!().signal_pending() || !self.state.lock().capture_wanted {
                break;
            }
            if crate::kernel_ext::fatal_signal_pending() || crate::kernel_ext::mono_ms().saturating_sub(start) > PARK_MS {
                break;
            }
            self.bell.wait_killable(seen, 20);
        }
        self.state.lock().parked = false;
    }

    /// The write at the next point, in the copy's own context: whether it
    /// reaches the world; an error ends the write (the copy is stopped).
    /// `home`: the home node's side when it is this node.
    pub(crate) fn at_point(&self, cluster: &Cluster, copies: &Copies, home: Option<&dyn Home>) -> Result<bool> {
        let (generation, point) = {
            let mut st = self.state.lock();
            if !st.armed {
                let emit = self.index == 0 && st.point >= st.emitted;
                st.point += 1;
                drop(st);
                self.park();
                return Ok(emit);
            }
            (st.generation, st.point)
        };
        copies.points.fetch_add(1, Ordering::Relaxed);
        let start = task::mono_ns();
        let head = DigestHead {
            copy: self.index,
            generation,
            home_id: self.home_id,
            point,
            regs_crc: 0,
            fpu_crc: 0,
            layout_crc: 0,
            pages: 0,
        };
        let body = match digest::of_current(&head) {
            Ok(b) => b,
            Err(e) => {
                pr_warn!(
                    "ha: copy {} of process {}: no digest at point {} (error {}): it goes on unchecked\n",
                    self.index,
                    self.home_pid,
                    point,
                    e.to_errno()
                );
                return Ok(self.disarm());
            }
        };
        let digested = task::mono_ns();
        copies.digest_ns.fetch_add(digested - start, Ordering::Relaxed);
        let r = match self.hand_over(cluster, &body, home) {
            // Its home forgot it: the primary goes on unchecked.
            Err(e) if e == ESRCH && self.index == 0 => Ok(self.disarm()),
            Err(e) => Err(e),
            Ok(()) => self.await_verdict(cluster, generation, point),
        };
        if r.is_ok() {
            self.park();
        }
        copies.wait_ns.fetch_add(task::mono_ns().saturating_sub(digested), Ordering::Relaxed);
        if r.is_err() {
            copies.stopped.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    /// Sends the digest home until it is taken.
    fn hand_over(&self, cluster: &Cluster, body: &[u8], home: Option<&dyn Home>) -> Result {
        let start = crate::kernel_ext::mono_ms();
        loop {
            let r = if self.home_node == cluster.node_id() {
                home.map_or(Err(ESRCH), |h| h.take_digest(cluster, body))
            } else {
                cluster.call_steady(self.home_node, MsgType::HaDigest, body, 10_000).map(|_| ())
            };
            match r {
                Ok(()) => return Ok(()),
                // The home does not know this copy (any more): a replica
                // stops.
                Err(e) if (e == ESRCH) && self.index == 0 => return Err(ESRCH),
                Err(e) if e == ESRCH => {
                    task::kill_current();
                    return Err(EINTR);
                }
                Err(_) => {}
            }
            if crate::kernel_ext::fatal_signal_pending() {
                return Err(EINTR);
            }
            if crate::kernel_ext::mono_ms().saturating_sub(start) > HOME_LOST_MS {
                if self.index != 0 {
                    // Nobody compares a replica any more.
                    task::kill_current();
                }
                return Err(EIO);
            }
            let seen = self.bell.seen();
            self.bell.wait_killable(seen, 500);
        }
    }

    /// Waits for the verdict at `point`. While the home node is connected
    /// the wait has no end but a fatal signal (all copies meet at every
    /// point, and a primary being replaced waits for its stop).
    fn await_verdict(&self, cluster: &Cluster, generation: u32, point: u64) -> Result<bool> {
        let mut start = crate::kernel_ext::mono_ms();
        loop {
            let seen = self.bell.seen();
            {
                let mut st = self.state.lock();
                if st.generation != generation {
                    drop(st);
                    task::kill_current();
                    return Err(EINTR);
                }
                if let Some(v) = st.verdict.filter(|v| v.point == point || v.point == ANY_POINT) {
                    st.verdict = None;
                    match v.action {
                        Action::Go { emit } => {
                            // No longer replicated (`ANY_POINT`): the
                            // primary's write goes out unless it did.
                            let emit = if v.point == ANY_POINT { self.index == 0 && point >= st.emitted } else { emit };
                            if emit {
                                st.emitted = st.emitted.max(point.saturating_add(1));
                            }
                            st.point += 1;
                            return Ok(emit);
                        }
                        Action::Stop => {
                            drop(st);
                            task::kill_current();
                            return Err(EINTR);
                        }
                    }
                }
            }
            if crate::kernel_ext::fatal_signal_pending() {
                return Err(EINTR);
            }
            if self.home_node == cluster.node_id() || cluster.is_connected(self.home_node) {
                start = crate::kernel_ext::mono_ms();
            } else if crate::kernel_ext::mono_ms().saturating_sub(start) > VERDICT_TIMEOUT_MS {
                if self.index != 0 {
                    // A replica nobody answers stops; the primary goes on.
                    task::kill_current();
                    return Err(EINTR);
                }
                if TIMEOUT_LOG.allow() {
                    pr_warn!(
                        "ha: copy {} of process {}: its home unreachable for {} s at point {}: it goes on unchecked\n",
                        self.index,
                        self.home_pid,
                        VERDICT_TIMEOUT_MS / 1000,
                        point
                    );
                }
                return Ok(self.disarm());
            }
            self.bell.wait_killable(seen, 500);
        }
    }

    /// Stops checking this copy, past the current point; whether its write
    /// there reaches the world (the primary's, unless the world saw it).
    fn disarm(&self) -> bool {
        let mut st = self.state.lock();
        st.armed = false;
        let emit = self.index == 0 && st.point >= st.emitted;
        st.point += 1;
        emit
    }
}
