// SPDX-License-Identifier: GPL-2.0
//! The `ssi-ha` thread: follows this node's protected processes and
//! writes the checkpoints other nodes ask of this one.
//!
//! Every [`TICK_MS`](super::TICK_MS), for each protected process, it
//! gathers the facts (`proto::ha::Facts`: does it run here or on a node
//! this one is connected to; how long since its deputy's lease was
//! renewed), asks `Protection::tick` what to do, and does it without
//! holding the service's lock:
//! - a checkpoint of a process that runs here: written by this thread
//!   (`images::write`, the checkpoint layer's capture);
//! - of a process that runs on another node: `HaCheckpoint` to that
//!   node, whose thread writes it and answers `HaDone`;
//! - a restart: the newest complete image goes to the least loaded
//!   connected node other than the lost one (`migration::resume`), which
//!   restarts it with the same pid; its deputy here follows it;
//! - giving up: the deputy is released and ends killed, as an
//!   unprotected one does.
//!
//! While a process is protected its deputy is held (`Deputy::hold`): a
//! lease that runs out no longer ends it; the fence decides instead.

use super::{
    chain,
    copies::Copy,
    images, increments,
    replicas::{Outbox, Start, COPY_TIMEOUT_MS},
    HaService,
};
use crate::{
    checkpoint::{capture::ImageSink, increment::Increment, task},
    cluster::Cluster,
    kthread::{should_stop, sleep_ms, ThreadBody},
    migration::{lease, remote::HostedState, resume},
    proto::{
        ctl::CtlReply,
        ha::{Action, CheckpointAsk, CheckpointDone, Facts, Timing, MAX_CHAIN},
        wire::MsgType,
    },
};
use core::sync::atomic::Ordering;
use kernel::{prelude::*, sync::Arc};

/// The fence's margin over the lease rule (`proto::ha::Timing`).
const FENCE_MARGIN_MS: u64 = 1_000;
/// How long a checkpoint of a replicated primary waits for it to get to
/// a point.
const PARK_WAIT_MS: u64 = 30_000;
/// How long the node running a process may take to queue a checkpoint.
const ASK_TIMEOUT_MS: u32 = 2_000;
/// Failed checkpoints: logged at most once a second.
static FAILED_LOG: crate::kernel_ext::LogLimit = crate::kernel_ext::LogLimit::new();

/// The lease rule the fence is computed from.
pub(crate) const TIMING: Timing =
    Timing { lease_lost_ms: lease::LOST_MS, renew_ms: lease::RENEW_MS, margin_ms: FENCE_MARGIN_MS };

/// The thread's data.
pub(crate) struct Guard {
    pub(crate) cluster: Arc<Cluster>,
    pub(crate) ha: Arc<HaService>,
}

impl ThreadBody for Guard {
    fn run(&self) {
        while !should_stop() {
            self.follow();
            self.tend_replicas();
            self.write_asked();
            sleep_ms(super::TICK_MS);
        }
    }
}

/// What a tick decided for one process, done after the lock is dropped.
enum Todo {
    /// Write checkpoint `seq` here (based on `parent` if it can be).
    Local { pid: u32, seq: u32, parent: u32 },
    /// Ask `node` for checkpoint `seq`.
    Remote { pid: u32, seq: u32, parent: u32, node: u16, home_id: u64 },
    /// Restart from image `seq`; its node `lost` is lost.
    Restart { pid: u32, seq: u32, lost: u16 },
    /// Give it up (why).
    GiveUp { pid: u32, why: &'static str },
    /// It ended: forget it and remove its images.
    Ended { pid: u32, kept: [u32; MAX_CHAIN + 6] },
    /// Replicas: messages to send, images to remove.
    Send { pid: u32, out: Outbox },
}

/// Whether process `pid` runs here (exists, not exiting).
fn runs_here(pid: u32) -> bool {
    task::Task::get(pid).is_some_and(|t| t.brief().exiting == 0)
}

impl Guard {
    /// One look at every protected process.
    fn follow(&self) {
        let ha = &self.ha;
        let pids: KVec<u32> = {
            let st = ha.state.lock();
            let mut v = KVec::new();
            for e in st.entries.iter() {
                if v.push(e.prot.pid, GFP_KERNEL).is_err() {
                    return;
                }
            }
            v
        };
        for &pid in pids.iter() {
            if should_stop() {
                return;
            }
            let now = crate::kernel_ext::mono_ms();
            let deputy = ha.migrations.deputy_of_pid(pid);
            let (facts, home_id, node) = match &deputy {
                Some(d) => {
                    d.hold(true);
                    let (node, _) = d.location();
                    let reachable = self.cluster.is_connected(node);
                    (Facts { now_ms: now, reachable, lease_silence_ms: d.lease_silence_ms() }, d.home_id, node)
                }
                None if runs_here(pid) => (Facts { now_ms: now, reachable: true, lease_silence_ms: 0 }, 0, 0),
                None => (Facts { now_ms: now, reachable: false, lease_silence_ms: 0 }, 0, u16::MAX),
            };
            let todo = {
                let mut st = ha.state.lock();
                let Some(e) = st.entries.iter_mut().find(|e| e.prot.pid == pid) else { continue };
                if node == u16::MAX {
                    let mut kept = [0u32; MAX_CHAIN + 6];
                    for (k, s) in kept.iter_mut().zip(e.prot.kept()) {
                        *k = *s;
                    }
                    if let Some(set) = &e.replicas {
                        set.image_seqs(&mut kept[MAX_CHAIN..]);
                    }
                    Todo::Ended { pid, kept }
                } else {
                    if home_id != 0 {
                        e.home_id = home_id;
                    }
                    e.node = node;
                    // A replicated process whose primary is being started
                    // again: its copies decide (`tend_replicas`).
                    if e.replicas.as_ref().is_some_and(|r| r.slots[0].state != super::replicas::SlotState::Running) {
                        continue;
                    }
                    match e.prot.tick(&facts, &TIMING) {
                        Action::Wait => continue,
                        Action::Restart { .. } if e.replicas.is_some() => {
                            // Every copy restarts from the newest good
                            // image, the primary through its deputy.
                            let mut out = Outbox::default();
                            if let Some(set) = e.replicas.as_mut() {
                                let _ = set.roll_back(e.home_id, &mut out);
                            }
                            e.prot.restarted(now);
                            pr_warn!("ha: process {}: node {} was lost with its primary: its copies roll back\n", pid, node);
                            Todo::Send { pid, out }
                        }
                        Action::Checkpoint { seq, parent } if node == 0 => Todo::Local { pid, seq, parent },
                        Action::Checkpoint { seq, parent } => Todo::Remote { pid, seq, parent, node, home_id },
                        Action::Restart { seq } => Todo::Restart { pid, seq, lost: node },
                        Action::GiveUp(why) => Todo::GiveUp { pid, why: why.describe() },
                    }
                }
            };
            self.act(todo);
        }
    }

    fn act(&self, todo: Todo) {
        let ha = &self.ha;
        let own = ha.own_node();
        match todo {
            Todo::Local { pid, seq, parent } => {
                ha.stats.checkpoints_asked.fetch_add(1, Ordering::Relaxed);
                let mut reply = CtlReply::EMPTY;
                let (r, parent, point) = write_checkpoint(ha, 0, pid, pid, seq, parent, None, &mut reply);
                let done = done_of(0, seq, r, parent, point, &reply);
                checkpoint_ended(ha, 0, pid, &done, own);
            }
            Todo::Remote { pid, seq, parent, node, home_id } => {
                ha.stats.checkpoints_asked.fetch_add(1, Ordering::Relaxed);
                let ask = CheckpointAsk { home_id, home_pid: pid, seq, parent };
                let mut b = [0u8; CheckpointAsk::LEN];
                let r = ask
                    .encode(&mut b)
                    .map_err(|_| EINVAL)
                    .and_then(|n| self.cluster.call(node, MsgType::HaCheckpoint, &b[..n], ASK_TIMEOUT_MS));
                if let Err(e) = r {
                    let done = done_of(home_id, seq, Err(e), 0, 0, &CtlReply::EMPTY);
                    checkpoint_ended(ha, home_id, pid, &done, node);
                }
            }
            Todo::Restart { pid, seq, lost } => self.restart(pid, seq, lost),
            Todo::GiveUp { pid, why } => {
                ha.stats.given_up.fetch_add(1, Ordering::Relaxed);
                pr_warn!("ha: process {} is lost and given up: {}; it ends killed\n", pid, why);
                if let Some(d) = ha.migrations.deputy_of_pid(pid) {
                    d.hold(false);
                }
            }
            Todo::Send { pid, out } => ha.send_outbox(&self.cluster, pid, out),
            Todo::Ended { pid, kept } => {
                let mut st = ha.state.lock();
                let e = match st.entries.iter().position(|e| e.prot.pid == pid) {
                    Some(i) => crate::kernel_ext::swap_remove(&mut st.entries, i),
                    None => None,
                };
                drop(st);
                if let Some(e) = e {
                    ha.end_replicas(&self.cluster, e, false);
                }
                forget_chain(ha, 0, pid);
                pr_info!("ha: process {} ended: no longer protected, its images removed\n", pid);
                images::remove_all(ha.dir().as_str(), pid, kept.iter().copied().filter(|&s| s != 0));
            }
        }
    }

    /// Restarts process `pid`, lost with node `lost`, from its image `seq`.
    fn restart(&self, pid: u32, seq: u32, lost: u16) {
        let ha = &self.ha;
        let now = crate::kernel_ext::mono_ms();
        let Some(d) = ha.migrations.deputy_of_pid(pid) else {
            // Its deputy ended meanwhile (killed): nothing to restart.
            let _ = self.failed(pid, now);
            return;
        };
        let silence = d.lease_silence_ms();
        let mut reply = CtlReply::EMPTY;
        let dir = ha.dir();
        let mut seqs = [0u32; MAX_CHAIN];
        let n = match ha.state.lock().entries.iter().find(|e| e.prot.pid == pid) {
            Some(e) => {
                // Not copy_from_slice: its length check's panic path makes
                // objtool warn on 6.12 (a call it does not know is noreturn).
                for (to, from) in seqs.iter_mut().zip(e.prot.kept()) {
                    *to = *from;
                }
                e.prot.kept().len()
            }
            None => 0,
        };
        let seqs = &seqs[..n];
        let r = match self.choose_node(lost) {
            None => Err(crate::ctl_reply::fail(&mut reply, EAGAIN, format_args!("no other node is connected"))),
            Some(node) => {
                let mut image =
                    |sink: &mut dyn ImageSink, reply: &mut CtlReply| chain::stream(dir.as_str(), pid, seqs, sink, reply);
                resume::resume(&self.cluster, &ha.migrations, &d, &mut image, node, &mut reply).map(|there| (node, there))
            }
        };
        match r {
            Ok((node, there)) => {
                ha.stats.restarts.fetch_add(1, Ordering::Relaxed);
                if let Some(e) = ha.state.lock().entries.iter_mut().find(|e| e.prot.pid == pid) {
                    e.prot.restarted(crate::kernel_ext::mono_ms());
                    e.node = node;
                }
                pr_info!(
                    "ha: process {} restarted on node {} as pid {} from {}/{}/{}.img ({} image(s) in its chain): node {} was lost {} ms after its last lease renewal, restarted in {} ms\n",
                    pid,
                    node,
                    there,
                    dir.as_str(),
                    pid,
                    seq,
                    seqs.len(),
                    lost,
                    silence,
                    crate::kernel_ext::mono_ms().saturating_sub(now)
                );
            }
            Err(e) => {
                ha.stats.restarts_failed.fetch_add(1, Ordering::Relaxed);
                pr_warn!(
                    "ha: restart of process {} from image {} failed (error {}): {}\n",
                    pid,
                    seq,
                    e.to_errno(),
                    reply.message()
                );
                if self.failed(pid, now) {
                    ha.stats.given_up.fetch_add(1, Ordering::Relaxed);
                    pr_warn!("ha: process {} is given up after its failed restarts; it ends killed\n", pid);
                    d.hold(false);
                }
            }
        }
    }

    /// A restart failed: whether the process is given up now.
    fn failed(&self, pid: u32, now: u64) -> bool {
        let mut st = self.ha.state.lock();
        let Some(e) = st.entries.iter_mut().find(|e| e.prot.pid == pid) else { return true };
        matches!(e.prot.restart_failed(now), Action::GiveUp(_))
    }

    /// The least loaded connected node other than this one and `lost`, as
    /// the scheduler's reports say (a node without a report counts as
    /// busier than any with one; the lowest id of equals).
    #[inline(never)]
    fn choose_node(&self, lost: u16) -> Option<u16> {
        let own = self.cluster.node_id();
        let conns = self.cluster.connections().ok()?;
        let (_, table) = self.ha.sched.state.lock().loads(own, 0, crate::kernel_ext::mono_ms());
        let mut best: Option<(u32, u16)> = None;
        for c in conns.iter() {
            let id = c.peer.node_id;
            if id == own || id == lost || id == 0 || !self.cluster.is_connected(id) {
                continue;
            }
            let load = table.nodes().iter().find(|n| n.id == id).map_or(u32::MAX, |n| n.as_destination());
            if best.is_none_or(|b| (load, id) < b) {
                best = Some((load, id));
            }
        }
        best.map(|(_, id)| id)
    }

    /// Replicated processes: copies that keep the others waiting are
    /// replaced, wanted copies started; the copies here whose process is
    /// gone forgotten.
    fn tend_replicas(&self) {
        let ha = &self.ha;
        let migrations = &ha.migrations;
        ha.copies.sweep(
            |node, id| {
                migrations
                    .find_hosted(|h| h.home_node == node && h.home_id == id && h.state() == HostedState::Running)
                    .map(|h| h.pid())
            },
            |node| node == self.cluster.node_id() || self.cluster.is_connected(node),
        );
        let now = crate::kernel_ext::mono_ms();
        let mut starts: KVec<(u32, u64, Start)> = KVec::new();
        let mut sends: KVec<(u32, Outbox)> = KVec::new();
        {
            let mut st = ha.state.lock();
            for e in st.entries.iter_mut() {
                let (pid, home_id) = (e.prot.pid, e.home_id);
                let Some(set) = e.replicas.as_mut() else { continue };
                let mut out = Outbox::default();
                if set.check_waits(home_id, now, &mut out).unwrap_or(false) {
                    pr_warn!(
                        "ha: process {}: a copy did not reach the point the others wait at within {} s: it is replaced\n",
                        pid,
                        COPY_TIMEOUT_MS / 1000
                    );
                }
                if (!out.verdicts.is_empty() || !out.remove.is_empty()) && sends.push((pid, out), GFP_KERNEL).is_err() {
                    return;
                }
                // One at a time: the next one knows where this one runs.
                let busy = set.slots.iter().any(|s| s.state == super::replicas::SlotState::Starting);
                if let Some(s) = if busy { None } else { set.next_start(now) } {
                    if starts.push((pid, home_id, s), GFP_KERNEL).is_err() {
                        return;
                    }
                }
            }
        }
        for (pid, out) in sends {
            ha.send_outbox(&self.cluster, pid, out);
        }
        for (pid, home_id, s) in starts.iter() {
            let node = self.choose_copy_node(s);
            if let Some(n) = node {
                let mut st = ha.state.lock();
                if let Some(set) = st.entries.iter_mut().find(|e| e.prot.pid == *pid).and_then(|e| e.replicas.as_mut()) {
                    set.starting_on(s.copy, s.generation, n);
                }
            }
            let r = node.ok_or(EAGAIN).and_then(|n| ha.start_copy(&self.cluster, *pid, *home_id, s, n).map(|p| (n, p)));
            match r {
                Ok((n, there)) => pr_info!(
                    "ha: process {}: copy {} runs on node {} as pid {} from image {} (point {}, generation {})\n",
                    pid,
                    s.copy,
                    n,
                    there,
                    s.seq,
                    s.point,
                    s.generation
                ),
                Err(e) if FAILED_LOG.allow() => pr_warn!(
                    "ha: process {}: copy {} could not start (error {}); tried again shortly\n",
                    pid,
                    s.copy,
                    e.to_errno()
                ),
                Err(_) => {}
            }
            let mut st = ha.state.lock();
            if let Some(set) = st.entries.iter_mut().find(|e| e.prot.pid == *pid).and_then(|e| e.replicas.as_mut()) {
                set.started(s.copy, s.generation, r.ok(), crate::kernel_ext::mono_ms());
            }
        }
    }

    /// Where copy `s.copy` starts: a connected node none of the other
    /// copies runs on (the primary: not this node, the home, nor the node
    /// of the primary it replaces, but with another copy if it must), the
    /// least loaded.
    #[inline(never)]
    fn choose_copy_node(&self, s: &Start) -> Option<u16> {
        let own = self.cluster.node_id();
        let conns = self.cluster.connections().ok()?;
        let (_, table) = self.ha.sched.state.lock().loads(own, 0, crate::kernel_ext::mono_ms());
        let old = s.old.map_or(0, |(n, _, _)| n);
        let mut best: Option<(bool, u32, u16)> = None;
        let candidates = Iterator::chain(conns.iter().map(|c| c.peer.node_id), core::iter::once(own));
        for id in candidates {
            let taken = s.others.contains(&id);
            let allowed = if s.copy == 0 { id != own && id != old } else { !taken };
            if id == 0 || !allowed || (id != own && !self.cluster.is_connected(id)) {
                continue;
            }
            let load = table.nodes().iter().find(|n| n.id == id).map_or(u32::MAX, |n| n.as_destination());
            if best.is_none_or(|b| (taken, load, id) < b) {
                best = Some((taken, load, id));
            }
        }
        best.map(|(_, _, id)| id)
    }

    /// Writes the checkpoints other nodes asked of this one and answers.
    fn write_asked(&self) {
        let jobs = core::mem::take(&mut self.ha.state.lock().jobs);
        let now = crate::kernel_ext::mono_ms();
        for job in jobs {
            let (from, ask) = (job.from, job.ask);
            let mut reply = CtlReply::EMPTY;
            let hosted = self
                .ha
                .migrations
                .find_hosted(|h| h.home_id == ask.home_id && h.home_node == from && h.state() == HostedState::Running);
            let copy = self.ha.copies.primary(from, ask.home_id);
            let (r, parent, point) = match (hosted, copy) {
                (None, _) => (Err(ESRCH), 0, 0),
                // A replicated primary is captured at a point only: the job
                // waits for it to get to one.
                (Some(_), Some(c)) if !c.park_for_capture() => {
                    if now.saturating_sub(job.since_ms) < PARK_WAIT_MS {
                        let _ = self.ha.state.lock().jobs.push(job, GFP_KERNEL);
                        continue;
                    }
                    c.capture_queued();
                    (Err(crate::kernel_ext::etimedout()), 0, 0)
                }
                (Some(h), copy) => {
                    let c = copy.clone();
                    let r = write_checkpoint(
                        &self.ha,
                        ask.home_id,
                        ask.home_pid,
                        h.pid(),
                        ask.seq,
                        ask.parent,
                        copy,
                        &mut reply,
                    );
                    if let Some(c) = c {
                        c.capture_queued();
                    }
                    r
                }
            };
            if r.is_ok() {
                self.ha.stats.checkpoints_for_others.fetch_add(1, Ordering::Relaxed);
            } else if FAILED_LOG.allow() {
                pr_warn!(
                    "ha: checkpoint {} of process {} for node {} failed: {}\n",
                    ask.seq,
                    ask.home_pid,
                    from,
                    reply.message()
                );
            }
            let done = done_of(ask.home_id, ask.seq, r, parent, point, &reply);
            let mut b = [0u8; CheckpointDone::LEN];
            if let Ok(n) = done.encode(&mut b) {
                let _ = self.cluster.send_reliable(from, MsgType::HaDone, &b[..n]);
            }
        }
    }
}

/// The outcome of checkpoint `seq` (based on `parent`) as `HaDone` says
/// it.
fn done_of(home_id: u64, seq: u32, r: Result, parent: u32, point: u64, reply: &CtlReply) -> CheckpointDone {
    let errno = match r {
        Ok(()) => 0,
        Err(e) => e.to_errno().unsigned_abs(),
    };
    let parent = if r.is_ok() { parent } else { 0 };
    CheckpointDone {
        home_id,
        seq,
        errno,
        parent,
        bytes: reply.image_bytes,
        frozen_ns: reply.frozen_ns,
        pages: reply.pages,
        point,
    }
}

/// Writes checkpoint `seq` of process `pid` (this node's pid; `home_pid`
/// its cluster-wide one, `home_id` its home id or 0 when it runs at
/// home), based on image `parent` if this node wrote that one and the
/// process's soft-dirty bits are still its own (`increments.rs`); the
/// outcome, the parent it is based on (0: a full image) and, for a
/// replicated primary (`copy`), the point it holds.
#[allow(clippy::too_many_arguments)]
fn write_checkpoint(
    ha: &HaService,
    home_id: u64,
    home_pid: u32,
    pid: u32,
    seq: u32,
    parent: u32,
    copy: Option<Arc<Copy>>,
    reply: &mut CtlReply,
) -> (Result, u32, u64) {
    let dir = ha.dir();
    // Taken out whatever happens: the scan below clears the soft-dirty
    // bits, so only this image, if written, may be the next one's parent.
    let chain = take_chain(ha, home_id, pid).filter(|c| parent != 0 && c.seq == parent);
    let based = match chain {
        Some(c) => images::image_path(dir.as_str(), home_pid, c.seq).ok().map(|path| (c, path)),
        None => None,
    };
    let since = match increments::Since::new(pid, based, copy) {
        Ok(s) => s,
        Err(e) => return (Err(e), 0, 0),
    };
    let inc: Arc<dyn Increment> = since.clone();
    let r = images::write(ha.own_node().into(), dir.as_str(), home_pid, pid, seq, Some(inc), reply);
    let outcome = since.take_outcome();
    match (r, outcome) {
        (Ok(()), Some(o)) => {
            if let Ok(image_id) = images::image_id(dir.as_str(), home_pid, seq) {
                let c = increments::Chain { home_id, pid, seq, image_id, token: o.token, present: o.present };
                let mut st = ha.state.lock();
                if st.chains.len() >= super::MAX_PROTECTED {
                    drop(crate::kernel_ext::swap_remove(&mut st.chains, 0));
                }
                let _ = st.chains.push(c, GFP_KERNEL);
            }
            (Ok(()), o.parent, o.point)
        }
        (Ok(()), None) => (Ok(()), 0, 0),
        (Err(e), _) => (Err(e), 0, 0),
    }
}

/// Takes the chain state of process `pid` (home id `home_id`) out.
fn take_chain(ha: &HaService, home_id: u64, pid: u32) -> Option<increments::Chain> {
    let mut st = ha.state.lock();
    let i = st.chains.iter().position(|c| c.home_id == home_id && c.pid == pid)?;
    crate::kernel_ext::swap_remove(&mut st.chains, i)
}

/// Forgets the chain state of process `pid` (home id `home_id`).
fn forget_chain(ha: &HaService, home_id: u64, pid: u32) {
    drop(take_chain(ha, home_id, pid));
}

/// Checkpoint `d.seq` of the protected process with home id `home_id`
/// (or, 0, pid `pid`) ended on node `node`: its protection takes it; an
/// image no longer kept is removed.
pub(crate) fn checkpoint_ended(ha: &HaService, home_id: u64, pid: u32, d: &CheckpointDone, node: u16) {
    let ok = d.errno == 0;
    let mut out = Outbox::default();
    let mut removed = [0u32; MAX_CHAIN];
    let (pid, n) = {
        let mut st = ha.state.lock();
        let Some(e) = st.entries.iter_mut().find(|e| if home_id != 0 { e.home_id == home_id } else { e.prot.pid == pid })
        else {
            return;
        };
        let old = e.prot.done(d.seq, ok, d.parent, d.bytes, d.frozen_ns, crate::kernel_ext::mono_ms());
        if let (true, Some(set)) = (ok, e.replicas.as_mut()) {
            let _ = set.image_written(d.seq, d.point, &mut out);
        }
        // A replicated process's images stay while it may roll back to
        // them.
        let mut n = 0;
        for &s in old.seqs() {
            if !e.replicas.as_ref().is_some_and(|r| r.wants(s)) && n < removed.len() {
                removed[n] = s;
                n += 1;
            }
        }
        (e.prot.pid, n)
    };
    if ok {
        ha.stats.checkpoints_written.fetch_add(1, Ordering::Relaxed);
    } else {
        ha.stats.checkpoints_failed.fetch_add(1, Ordering::Relaxed);
        if FAILED_LOG.allow() {
            pr_warn!("ha: checkpoint {} of process {} on node {} failed (error {})\n", d.seq, pid, node, d.errno);
        }
    }
    let dir = ha.dir();
    for &old in Iterator::chain(removed[..n].iter(), out.remove.iter()) {
        images::remove(dir.as_str(), pid, old);
    }
}
