// SPDX-License-Identifier: GPL-2.0
//! The moving side of a migration (`ssi-ctl migrate PID NODE`, `/dev/ssi`
//! op 6).
//!
//! The request is checked as a checkpoint's is (owner or root, a user
//! process, not stopped or traced); `MigrateBegin` tells the destination,
//! then the capture of `checkpoint/` freezes the process and, in its own
//! context, streams the image to the destination as `MigrateData` frames
//! while it writes it: the capture calls the hand-over hook
//! (`checkpoint::handover::Handover`) that [`Outgoing`] fills
//! ([`Outgoing::send_image`], `stream.rs`). Still frozen,
//! [`Outgoing::hand_over`] sends `MigrateCommit`, waits
//! until the destination restored and checked the image (`RestartStatus`
//! polls), and hands the process over with `MigrateGo`. Any failure
//! before `MigrateGo` succeeded (a refusal, a dead node, a broken link,
//! the caller interrupted) sends `MigrateAbort` and the process goes on
//! where it was, unharmed: it never runs in two places. Afterwards the
//! task becomes the process's deputy on its home node, or, on a node the
//! process had migrated to, vanishes (its home is told where it went).

use super::{
    deputy, precopy,
    remote::{Hosted, HostedState},
    stream::ImageStream,
    sys, Direction, Migrations, Record,
};
use crate::{
    checkpoint::{
        self,
        capture::{ImageSink, Memory, Written},
        handover::{CaptureFn, Handover},
        remote::await_outcome,
        task,
    },
    cluster::Cluster,
    ctl_reply::fail,
    proto::{
        ctl::{strategy_name, CtlReply, CtlRequest, STRATEGY_EAGER, STRATEGY_LAZY, STRATEGY_POSTCOPY, STRATEGY_PRECOPY},
        migration::{Begin, Commit, Family, Keep, Moved, Run, MAX_KEEP_RUNS},
        wire::{MsgType, RestartStarted},
    },
};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::{new_mutex, prelude::*, sync::Arc, sync::Mutex};

/// How long `MigrateBegin`, `MigrateCommit` and `MigrateGo` may take.
const CALL_TIMEOUT_MS: u32 = 10_000;
/// How long a pre-copy's destination may take to be ready for `MigrateGo`
/// (it may still be writing the last rounds' pages into the process).
const GO_PRECOPY_TIMEOUT_MS: u32 = 60_000;

/// One process on its way to another node.
#[pin_data]
pub(crate) struct Outgoing {
    cluster: Arc<Cluster>,
    migrations: Arc<Migrations>,
    node: u16,
    strategy: u8,
    id: u64,
    home_id: u64,
    home_node: u16,
    home_pid: u32,
    /// Its parent, process group and session at home.
    home_family: Family,
    /// When it started at home (ns since the epoch).
    start_ns: u64,
    uid: u32,
    pid: u32,
    /// Set when the process had migrated to this node.
    hosted: Option<Arc<Hosted>>,
    started_ns: u64,
    /// `MigrateBegin` was sent (before the freeze: the image is sent while
    /// it is captured).
    begun: AtomicBool,
    /// `MigrateAbort` was sent.
    aborted: AtomicBool,
    /// Pre-copy: rounds done and bytes they sent.
    rounds: AtomicU32,
    precopy_bytes: AtomicU64,
    /// Pre-copy: the pages the destination keeps of its rounds (found
    /// clean at the freeze).
    #[pin]
    keep: Mutex<KVec<Run>>,
    /// Post-copy, lazy: the lender of the memory, listed before the
    /// hand-over.
    #[pin]
    lender: Mutex<Option<Arc<super::lender::Lender>>>,
    /// Where the freeze went (ns): capture, send, the destination's checks,
    /// `MigrateGo`; logged with the outcome.
    phase_ns: [AtomicU64; 4],
    hand: HandOver,
}

/// Where the hand-over stands.
struct HandOver {
    /// Post-copy, lazy: the pid of the process the destination rebuilt
    /// from the image sent ahead.
    there_pid: AtomicU32,
    /// The hand-over began: its end (`finish`) owns the lender.
    begun: AtomicBool,
    /// The token of the restart program the destination started (0:
    /// none, the process comes home): an eager restore may fail while the
    /// image still comes, and its outcome says why.
    restart_token: AtomicU32,
}

/// How long a failed commit or hand-over waits for the destination's
/// restore to say why it failed.
const REFUSAL_WAIT_NS: u64 = 3_000_000_000;

/// The names of [`Outgoing::phase_ns`]'s parts, in the log.
const PHASES: [&str; 4] = ["capture and send", "commit", "restore checks", "hand-over"];

/// Refuses to move a process with children here: they would stay
/// behind, and its `wait` for them could not reach them from another
/// node (docs/migration.md, "Limits").
fn refuse_parent(pid: u32, reply: &mut CtlReply) -> Result {
    match sys::children_of(pid) {
        0 => Ok(()),
        n => Err(fail(
            reply,
            EBUSY,
            format_args!(
                "process {pid} has {n} child process(es) here: it could not wait for them from another node (migrate it when they have ended)"
            ),
        )),
    }
}

/// `ssi-ctl migrate PID NODE`: moves process `req.pid` to node `req.node`.
///
/// `cluster`: the cluster service, if it runs. `asked_by`: a migration
/// another node asked for (`ask.rs`, run by a kernel thread): the user
/// who asked (0: root), already checked; `None`: the caller asks.
pub(crate) fn migrate(
    cluster: Option<Arc<Cluster>>,
    migrations: &Arc<Migrations>,
    req: &CtlRequest,
    reply: &mut CtlReply,
    asked_by: Option<u32>,
) -> Result {
    let start = task::mono_ns();
    let pid = req.pid;
    let node = req.node;
    let Some(cluster) = cluster else {
        return Err(fail(
            reply,
            crate::kernel_ext::enotconn(),
            format_args!("this node is not in a cluster (enabled is 0)"),
        ));
    };
    if ![STRATEGY_EAGER, STRATEGY_PRECOPY, STRATEGY_POSTCOPY, STRATEGY_LAZY].contains(&req.strategy) {
        return Err(fail(reply, EINVAL, format_args!("unknown strategy {}", req.strategy)));
    }
    let own = cluster.node_id();
    if node == own {
        return Err(fail(reply, EINVAL, format_args!("process {pid} is already on node {node}")));
    }
    if node == 0 || !cluster.is_connected(node) {
        return Err(fail(reply, crate::kernel_ext::enotconn(), format_args!("node {node} is not connected to this node")));
    }
    let migrations = migrations.clone();
    if let Some((there, there_pid)) = migrations.deputy_of_pid(pid).map(|d| d.location()) {
        return Err(fail(
            reply,
            EBUSY,
            format_args!("process {pid} runs on node {there} as pid {there_pid}: migrate it from there"),
        ));
    }
    let target = checkpoint::check_target(pid, reply)?;
    refuse_parent(pid, reply)?;
    let threaded = target.brief().nr_threads > 1;
    if threaded && req.strategy != STRATEGY_EAGER {
        // A round stops one thread; the others could write a page between
        // its pagemap read and the clear.
        return Err(fail(
            reply,
            crate::kernel_ext::eopnotsupp(),
            format_args!("process {pid} has several threads: they migrate eagerly only (yet)"),
        ));
    }
    // A process that arrived here: handed over (`Go`: its restore may still
    // be writing its pages) or running. One still arriving is not ours yet.
    let hosted =
        migrations.find_hosted(|h| h.pid() == pid && !matches!(h.state(), HostedState::Moved | HostedState::Failed));
    let hosted = match hosted {
        Some(h) if !matches!(h.state(), HostedState::Go | HostedState::Running) => {
            return Err(fail(reply, EBUSY, format_args!("process {pid} is still arriving on this node")));
        }
        h => h,
    };
    if req.strategy == STRATEGY_PRECOPY && hosted.as_ref().is_some_and(|h| h.pages_later() && !h.all_pages_came()) {
        // Pre-copy reads page states, not pages: the ones still to come
        // would look never touched.
        return Err(fail(
            reply,
            EBUSY,
            format_args!(
                "process {pid} is still getting its memory from node {}: use eager, postcopy or lazy",
                hosted.as_ref().map_or(0, |h| h.from_node)
            ),
        ));
    }
    let id = crate::kernel_ext::random_id();
    let (home_id, home_node, home_pid, home_family, start_ns) = match &hosted {
        Some(h) => (h.home_id, h.home_node, h.home_pid, h.home_family, h.start_ns),
        None => {
            let b = target.brief();
            let start_ns = crate::kernel_ext::real_time_ns().saturating_sub(b.age_ns);
            (id, own, pid, Family { ppid: b.ppid, pgrp: b.pgrp, session: b.session }, start_ns)
        }
    };
    if threaded && home_node == node {
        // Its deputy has one thread; the restart program makes the others.
        return Err(fail(
            reply,
            crate::kernel_ext::eopnotsupp(),
            format_args!("process {pid} has several threads: it cannot come back into its deputy on node {node} yet"),
        ));
    }
    // Coming home, the deputy restores the process itself, with all of its
    // memory: post-copy and lazy become eager for that hop.
    let strategy = if home_node == node && matches!(req.strategy, STRATEGY_POSTCOPY | STRATEGY_LAZY) {
        pr_info!("pid {}: back to its home node {}: {} becomes eager\n", pid, node, strategy_name(req.strategy));
        STRATEGY_EAGER
    } else {
        req.strategy
    };
    let uid = match asked_by {
        Some(uid) => uid,
        None => match task::caller_identity() {
            (true, _) => 0,
            (false, uid) => uid,
        },
    };
    let out = Arc::pin_init(
        pin_init!(Outgoing {
            cluster,
            migrations,
            node,
            strategy,
            id,
            home_id,
            home_node,
            home_pid,
            home_family,
            start_ns,
            uid,
            pid,
            hosted,
            started_ns: start,
            begun: AtomicBool::new(false),
            aborted: AtomicBool::new(false),
            rounds: AtomicU32::new(0),
            precopy_bytes: AtomicU64::new(0),
            keep <- new_mutex!(KVec::new()),
            lender <- new_mutex!(None),
            phase_ns: [const { AtomicU64::new(0) }; 4],
            hand: HandOver { there_pid: AtomicU32::new(0), begun: AtomicBool::new(false), restart_token: AtomicU32::new(0) },
        }),
        GFP_KERNEL,
    )?;
    let target = if out.sends_ahead() {
        // Post-copy, lazy, pre-copy: the description goes ahead while the
        // process runs on; the destination rebuilds the process from it and
        // waits for the final state, captured at the freeze (pre-copy:
        // writing the rounds' pages into it meanwhile).
        out.begin(0, reply)?;
        out.record("sending-ahead", 0, 0);
        // Held across, so that the pid cannot name another process after.
        let first = task::Task::get(pid).ok_or(ESRCH)?;
        let r = checkpoint::capture(own.into(), pid, target, None, false, Some(out.clone()), None, true, start, reply)
            .and_then(|()| out.commit_ahead(reply))
            .and_then(|()| checkpoint::check_target(pid, reply))
            .and_then(|t| {
                if t.as_raw() != first.as_raw() {
                    return Err(fail(reply, ESRCH, format_args!("process {pid} ended while it migrated")));
                }
                Ok(t)
            });
        match r {
            Ok(t) => t,
            Err(e) => {
                out.abort();
                out.drop_lender();
                out.record("failed", 0, 0);
                return Err(e);
            }
        }
    } else {
        target
    };
    if out.is_precopy() {
        if !out.begun.load(Ordering::Acquire) {
            out.begin(0, reply)?;
        }
        out.record("precopy", 0, 0);
        let rounds = precopy::run(&out.cluster, node, id, pid, &target, &|| kernel::current!().signal_pending());
        match rounds {
            Ok(r) => {
                out.rounds.store(r.rounds, Ordering::Relaxed);
                out.precopy_bytes.fetch_add(r.bytes, Ordering::Relaxed);
            }
            Err(e) => {
                out.abort();
                out.record("failed", 0, 0);
                return Err(fail(reply, e, format_args!("pre-copy to node {node} failed (error {})", e.to_errno())));
            }
        }
    }
    if !out.begun.load(Ordering::Acquire) {
        // The capture streams the image to the destination as it writes it.
        out.begin(0, reply)?;
    }
    out.record("capturing", 0, 0);
    let r = checkpoint::capture(own.into(), pid, target, None, false, Some(out.clone()), None, false, start, reply);
    if r.is_err() {
        // The process's own context aborts what it began; this covers a
        // capture that never started (sent once either way).
        out.abort();
        out.drop_lender();
        out.record("failed", reply.image_bytes, reply.frozen_ns);
    } else {
        // What ran, which is not always what was asked (coming home).
        reply.set_message(strategy_name(out.strategy));
    }
    r
}

impl Outgoing {
    /// Whether this is a pre-copy migration.
    fn is_precopy(&self) -> bool {
        self.strategy == STRATEGY_PRECOPY
    }

    /// Post-copy or lazy: the image holds no anonymous memory; the old copy
    /// lends it after the hand-over.
    fn pages_later(&self) -> bool {
        matches!(self.strategy, STRATEGY_POSTCOPY | STRATEGY_LAZY)
    }

    /// Post-copy, lazy, pre-copy (not coming home: the deputy restores a
    /// whole image): the image goes ahead, the final state follows.
    fn sends_ahead(&self) -> bool {
        self.pages_later() || (self.is_precopy() && self.node != self.home_node)
    }

    /// Pre-copy: the pages found clean at the freeze.
    fn set_keep(&self, runs: KVec<Run>) {
        *self.keep.lock() = runs;
    }

    /// The image sent ahead (its size and the process's stop in `reply`)
    /// is complete: the destination rebuilds the process from it; returns
    /// once it waits for the final state (pre-copy: and the rounds).
    fn commit_ahead(&self, reply: &mut CtlReply) -> Result {
        let node = self.node;
        let (size, stopped_ns) = (reply.image_bytes, reply.frozen_ns);
        self.precopy_bytes.fetch_add(size, Ordering::Relaxed);
        if self.pages_later() {
            self.rounds.store(1, Ordering::Relaxed);
        }
        let mut small = [0u8; Commit::LEN];
        let n = (Commit { id: self.id, size }).encode(&mut small).map_err(|_| EINVAL)?;
        let answer = self
            .cluster
            .call_steady(node, MsgType::MigrateCommit, &small[..n], CALL_TIMEOUT_MS)
            .map_err(|e| fail(reply, e, format_args!("node {node} could not start the restore (error {})", e.to_errno())))?;
        let started =
            RestartStarted::decode(&answer).map_err(|_| fail(reply, EIO, format_args!("bad answer from node {node}")))?;
        await_outcome(&self.cluster, node, &started, reply, &|| kernel::current!().signal_pending(), true)?;
        self.hand.there_pid.store(reply.pid, Ordering::Relaxed);
        if self.pages_later() {
            // Listed now, not during the freeze; it serves nothing before
            // the hand-over (the destination asks for pages only then).
            self.make_lender(reply)?;
        }
        pr_info!(
            "pid {}: sent ahead to node {} ({} bytes, stopped {} us), rebuilt there as pid {}\n",
            self.pid,
            node,
            size,
            stopped_ns / 1000,
            reply.pid
        );
        Ok(())
    }

    /// Post-copy, lazy: lists the lender of the process's memory.
    fn make_lender(&self, reply: &mut CtlReply) -> Result {
        let l = super::lender::Lender::new(&self.migrations, self.id, self.node)
            .map_err(|e| fail(reply, e, format_args!("no memory to lend the pages")))?;
        *self.lender.lock() = Some(l);
        Ok(())
    }

    /// A migration that failed before the hand-over lends nothing (once
    /// the hand-over began, its end decides: the caller may give up while
    /// `MigrateGo` is still on its way).
    fn drop_lender(&self) {
        if self.hand.begun.load(Ordering::Acquire) {
            return;
        }
        if let Some(l) = self.lender.lock().take() {
            l.close(&self.cluster, &self.migrations);
        }
    }

    fn begin(&self, size: u64, reply: &mut CtlReply) -> Result {
        let node = self.node;
        let begin = Begin {
            id: self.id,
            home_id: self.home_id,
            home_node: self.home_node,
            home_pid: self.home_pid,
            home_family: self.home_family,
            start_ns: self.start_ns,
            uid: self.uid,
            strategy: self.strategy,
            size,
        };
        let mut small = [0u8; Begin::LEN];
        let n = begin.encode(&mut small).map_err(|_| EINVAL)?;
        let answer = self.cluster.call_steady(node, MsgType::MigrateBegin, &small[..n], CALL_TIMEOUT_MS).map_err(|e| {
            fail(reply, e, format_args!("node {node} did not accept the migration (error {})", e.to_errno()))
        })?;
        if let Ok(started) = RestartStarted::decode(&answer) {
            self.hand.restart_token.store(started.token, Ordering::Relaxed);
        }
        self.begun.store(true, Ordering::Release);
        Ok(())
    }

    /// The error of a failed `MigrateCommit` or `MigrateGo`: the restore
    /// may have failed already, saying why (eager: it starts while the
    /// image comes, and a file it names may have changed; post-copy, lazy:
    /// the process changed its name or credentials since the image sent
    /// ahead), and then its outcome has the reason; otherwise `e`: the
    /// destination `what`.
    fn failed_there(&self, e: Error, reply: &mut CtlReply, what: &str) -> Error {
        let token = self.hand.restart_token.load(Ordering::Relaxed);
        if token != 0 && self.cluster.is_connected(self.node) {
            let started = RestartStarted { token, pid: 0 };
            let deadline = task::mono_ns() + REFUSAL_WAIT_NS;
            let outcome = await_outcome(&self.cluster, self.node, &started, reply, &|| task::mono_ns() > deadline, true);
            if let Err(why) = outcome {
                if why != EINTR {
                    return why;
                }
            }
        }
        fail(reply, e, format_args!("node {} {what} (error {})", self.node, e.to_errno()))
    }

    /// Gives up on the destination's side (once; not before `MigrateBegin`).
    pub(crate) fn abort(&self) {
        if !self.begun.load(Ordering::Acquire) || self.aborted.swap(true, Ordering::AcqRel) {
            return;
        }
        super::send_abort(&self.cluster, self.node, self.id);
    }

    fn record(&self, state: &'static str, bytes: u64, frozen_ns: u64) {
        self.migrations.record(Record {
            id: self.id,
            direction: Direction::Out,
            pid: self.pid,
            peer: self.node,
            strategy: self.strategy,
            state,
            bytes: bytes + self.precopy_bytes.load(Ordering::Relaxed),
            rounds: self.rounds.load(Ordering::Relaxed) + 1,
            frozen_ns,
            total_ns: task::mono_ns().saturating_sub(self.started_ns),
        });
    }

    /// Runs `capture` (in the frozen process's context) with the image
    /// going straight to the destination as it is written; aborts the
    /// migration if it fails.
    fn capture_and_send(
        &self,
        cancelled: &AtomicBool,
        reply: &mut CtlReply,
        capture: impl FnOnce(&mut dyn ImageSink, &mut CtlReply) -> Result<Written>,
    ) -> Result<Written> {
        let node = self.node;
        let mut stream = ImageStream::new(&self.cluster, node, self.id, cancelled)?;
        let r = capture(&mut stream, reply).and_then(|w| {
            let sent = stream.finish()?;
            if sent != w.image_bytes {
                return Err(EINVAL);
            }
            Ok(w)
        });
        if let Err(e) = r {
            if stream.lost() {
                fail(reply, e, format_args!("lost node {node} while sending the image"));
            } else if e == EINTR && cancelled.load(Ordering::Acquire) {
                fail(reply, e, format_args!("interrupted while sending the image"));
            }
            self.abort();
        }
        r
    }

    /// Marks the end of phase `index` (of [`PHASES`]) at `now`, which began
    /// at `since`; returns `now`.
    fn phase_done(&self, index: usize, since: u64) -> u64 {
        let now = task::mono_ns();
        if let Some(p) = self.phase_ns.get(index) {
            p.store(now.saturating_sub(since), Ordering::Relaxed);
        }
        now
    }

    fn restore_there(&self, size: u64, cancelled: &AtomicBool, reply: &mut CtlReply) -> Result<u32> {
        let node = self.node;
        let mut since = task::mono_ns();
        // Pre-copy: which pages the destination keeps of its rounds.
        {
            let keep = self.keep.lock();
            for runs in keep.chunks(MAX_KEEP_RUNS) {
                let mut b = KVec::from_elem(0u8, Keep::HEADER_LEN + runs.len() * Keep::RUN_LEN, GFP_KERNEL)?;
                let n = Keep::encode(self.id, runs, &mut b).map_err(|_| EINVAL)?;
                self.cluster
                    .send_to(node, MsgType::MigrateKeep, &b[..n])
                    .map_err(|e| fail(reply, e, format_args!("lost node {node} while sending the image")))?;
            }
        }
        let mut small = [0u8; Commit::LEN];
        let n = (Commit { id: self.id, size }).encode(&mut small).map_err(|_| EINVAL)?;
        if self.sends_ahead() {
            // The destination rebuilt the process from the image sent
            // ahead; it takes the final state (or is rebuilt again from
            // it) while `MigrateGo`, right behind, waits for that: one
            // round trip.
            self.cluster
                .send_to(node, MsgType::MigrateCommit, &small[..n])
                .map_err(|e| fail(reply, e, format_args!("lost node {node} while sending the image")))?;
            since = self.phase_done(1, since);
            reply.pid = self.hand.there_pid.load(Ordering::Relaxed);
        } else {
            let answer = self
                .cluster
                .call_steady(node, MsgType::MigrateCommit, &small[..n], CALL_TIMEOUT_MS)
                .map_err(|e| self.failed_there(e, reply, "could not start the restore"))?;
            since = self.phase_done(1, since);
            let started = RestartStarted::decode(&answer)
                .map_err(|_| fail(reply, EIO, format_args!("bad answer from node {node}")))?;
            await_outcome(&self.cluster, node, &started, reply, &|| cancelled.load(Ordering::Acquire), true)?;
        }
        since = self.phase_done(2, since);
        if cancelled.load(Ordering::Acquire) {
            return Err(fail(reply, EINTR, format_args!("interrupted before the hand-over")));
        }
        if self.pages_later() && self.lender.lock().is_none() {
            // The process may touch a missing page as soon as it runs.
            self.make_lender(reply)?;
        }
        // Pre-copy's destination may first write the last rounds' pages.
        let wait_ms = if self.is_precopy() { GO_PRECOPY_TIMEOUT_MS } else { CALL_TIMEOUT_MS };
        super::send_go(&self.cluster, node, self.id, wait_ms, &|| cancelled.load(Ordering::Acquire))
            .map_err(|e| self.failed_there(e, reply, "did not take the process over"))?;
        self.phase_done(3, since);
        Ok(reply.pid)
    }
}

/// The capture of `checkpoint/` calls these in the frozen process's
/// context (see `checkpoint/handover.rs`).
impl Handover for Outgoing {
    /// Which pages go in the image: pre-copy's freeze, only those dirtied
    /// since the last round (the process's own scan, now, without clearing
    /// its soft-dirty bits), and the destination keeps the clean ones it
    /// has; pre-copy's image sent ahead, none (the rounds bring them);
    /// post-copy and lazy, only those the lender cannot lend; eager, all.
    /// The image goes to the destination as it is written.
    fn send_image(
        &self,
        ahead: bool,
        cancelled: &AtomicBool,
        reply: &mut CtlReply,
        capture: &mut CaptureFn<'_>,
    ) -> Result<Written> {
        let scan = if self.is_precopy() && !ahead { Some(precopy::scan_current(false)?) } else { None };
        let memory = match &scan {
            Some(scan) => Memory::Dirty(scan),
            None if self.is_precopy() => Memory::Nothing,
            None if self.pages_later() => Memory::FilesOnly,
            None => Memory::All,
        };
        let r = self.capture_and_send(cancelled, reply, |sink, reply| capture(sink, memory, reply));
        if let Some(scan) = scan {
            self.set_keep(scan.clean);
        }
        r
    }

    /// After the image (`size` bytes) went to the destination: has it
    /// restored and hands the process over; its pid on the destination.
    /// Runs in the frozen process's context, frozen since `frozen_since`
    /// (`task::mono_ns`); a failure aborts the migration.
    fn hand_over(&self, size: u64, frozen_since: u64, cancelled: &AtomicBool, reply: &mut CtlReply) -> Result<u32> {
        self.phase_done(0, frozen_since);
        // It may have forked since the first look; frozen, it cannot now.
        if let Err(e) = refuse_parent(task::current_pid(), reply) {
            self.abort();
            return Err(e);
        }
        self.hand.begun.store(true, Ordering::Release);
        self.record("handing-over", size, 0);
        let r = self.restore_there(size, cancelled, reply);
        if r.is_err() {
            self.abort();
        }
        r
    }

    /// Bytes sent in all: the image's and what went before it (pre-copy's
    /// rounds, an image sent ahead).
    fn total_bytes(&self, image: u64) -> u64 {
        image + self.precopy_bytes.load(Ordering::Relaxed)
    }

    /// After the capture's outcome went to the caller: the hand-over
    /// `handed` (the pid there) makes the current task the deputy, or, away
    /// from home, ends it; a failed one lets the process go on here.
    fn finish(&self, handed: Option<u32>, bytes: u64, frozen_ns: u64) {
        let rounds = self.rounds.load(Ordering::Relaxed) + 1;
        let bytes_all = bytes + self.precopy_bytes.load(Ordering::Relaxed);
        let lender = self.lender.lock().take();
        let Some(there) = handed else {
            if let Some(l) = lender {
                l.close(&self.cluster, &self.migrations);
            }
            self.record("failed", bytes, frozen_ns);
            pr_info!("pid {}: migration to node {} failed: it goes on here\n", self.pid, self.node);
            return;
        };
        self.record("done", bytes, frozen_ns);
        pr_info!(
            "pid {}: migrated to node {} as pid {} ({}): {} bytes in {} round(s), frozen {} us\n",
            self.pid,
            self.node,
            there,
            strategy_name(self.strategy),
            bytes_all,
            rounds,
            frozen_ns / 1000
        );
        pr_info!(
            "pid {}: frozen for {}: {} {} ms, {} {} ms, {} {} ms, {} {} ms\n",
            self.pid,
            strategy_name(self.strategy),
            PHASES[0],
            self.phase_ns[0].load(Ordering::Relaxed) / 1_000_000,
            PHASES[1],
            self.phase_ns[1].load(Ordering::Relaxed) / 1_000_000,
            PHASES[2],
            self.phase_ns[2].load(Ordering::Relaxed) / 1_000_000,
            PHASES[3],
            self.phase_ns[3].load(Ordering::Relaxed) / 1_000_000,
        );
        match &self.hosted {
            Some(h) => {
                // Not at home: tell home where it went; this copy ends
                // without a report (post-copy, lazy: once it lent its
                // memory).
                h.moved_away();
                let mut b = [0u8; Moved::LEN];
                let home = self.node == self.home_node;
                if !home && (Moved { home_id: self.home_id, node: self.node, pid: there }).encode(&mut b).is_ok() {
                    let _ = self.cluster.send_reliable(self.home_node, MsgType::MigrateMoved, &b);
                }
                if let Some(l) = lender {
                    super::lender::lend(&self.cluster, &self.migrations, &l);
                }
                task::kill_current();
            }
            None => deputy::become_deputy(&self.cluster, &self.migrations, self.home_id, self.node, there, lender),
        }
    }

    /// The process went to the destination: the other threads of this
    /// copy end.
    fn retire_thread(&self) {
        deputy::retire_thread();
    }
}
