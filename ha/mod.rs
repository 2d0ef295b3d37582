// SPDX-License-Identifier: GPL-2.0
//! High availability (issue 22): protected processes are checkpointed
//! periodically and restarted, with the same pid, when the node running
//! them is lost.
//!
//! The pure logic (when to checkpoint, when the fence allows a restart,
//! which images to keep, the wire bodies) is `proto::ha`; here it runs:
//!
//! - [`HaService`] holds this node's protected processes (their home is
//!   here: the process runs here or its deputy does) and the checkpoints
//!   other nodes asked of this one. `ssi-ctl ha on|off PID` comes in as
//!   `/dev/ssi` op `Protect` ([`HaService::protect`]).
//! - `guard.rs`: the `ssi-ha` thread, every [`TICK_MS`]: for each
//!   protected process, what `proto::ha::Protection::tick` says: write a
//!   checkpoint here (`images.rs`), ask the node running it for one
//!   (`HaCheckpoint`, answered with `HaDone`), or restart it from its
//!   newest image on another node (`migration::resume`) once its node is
//!   lost and the lease fence passed; and the checkpoints asked of this
//!   node.
//! - `images.rs`: the image files on the shared file system; `sys.rs`,
//!   `ha_helpers.c`: the file system calls.
//! - `status.rs`: `/proc/ssi/ha`.
//! - Replicas (`--replicas N`, silent data corruption): `replicas.rs`
//!   (the home node's side: the copies, their digests, the verdicts,
//!   rollbacks and replacements), `copies.rs` (the copies that run on
//!   this node, stopping at each point), `digest.rs` (a copy's state as
//!   CRCs), `replica_io.rs` (a replica's fds 0-2).

pub(crate) mod chain;
pub(crate) mod copies;
pub(crate) mod digest;
pub(crate) mod guard;
pub(crate) mod images;
pub(crate) mod increments;
pub(crate) mod replica_io;
pub(crate) mod replicas;
pub(crate) mod replication;
pub(crate) mod status;
pub(crate) mod sys;

use crate::{
    checkpoint::task,
    cluster::Cluster,
    ctl_reply::fail,
    kernel_ext::StackStr,
    krpc::handlers::{Handler, Incoming},
    kthread::KThread,
    migration::Migrations,
    proto::{
        ctl::{CtlReply, CtlRequest, FLAG_HA_OFF},
        ha::{
            replica::{Verdict, MAX_REPLICAS, MIN_REPLICAS},
            CheckpointAsk, CheckpointDone, Protection, DEFAULT_FULL_EVERY, MAX_CHAIN, MAX_INTERVAL_S, MIN_INTERVAL_S,
        },
        wire::MsgType,
    },
    scheduler::SchedService,
};
use core::{
    fmt::Write,
    sync::atomic::{AtomicU16, AtomicU64, Ordering},
};
use kernel::{c_str, new_mutex, prelude::*, sync::Arc, sync::Mutex};

/// How often the `ssi-ha` thread looks at the protected processes.
pub(crate) const TICK_MS: u32 = 250;
/// The default checkpoint interval, seconds.
pub(crate) const DEFAULT_INTERVAL_S: u32 = 30;
/// Most protected processes per node, and most checkpoints queued here
/// for other nodes.
pub(crate) const MAX_PROTECTED: usize = 256;
const MAX_JOBS: usize = 256;

/// Malformed messages from other nodes: logged at most once a second.
static MALFORMED_LOG: crate::kernel_ext::LogLimit = crate::kernel_ext::LogLimit::new();

/// A protected process whose home is this node.
pub(crate) struct Entry {
    /// What `proto::ha` keeps of it.
    pub(crate) prot: Protection,
    /// Its deputy's home id once it migrated (0: it never left).
    pub(crate) home_id: u64,
    /// Where it ran when last seen (0: here).
    pub(crate) node: u16,
    /// Its copies, when it is replicated.
    pub(crate) replicas: Option<KBox<replicas::ReplicaSet>>,
}

/// A checkpoint another node asked of this one, for a process that runs
/// here.
pub(crate) struct Job {
    pub(crate) from: u16,
    pub(crate) ask: CheckpointAsk,
    /// When it was asked (mono ms).
    pub(crate) since_ms: u64,
}

pub(crate) struct State {
    pub(crate) entries: KVec<Entry>,
    pub(crate) jobs: KVec<Job>,
    /// What the next image of each process whose images this node writes
    /// may be based on (`increments.rs`), at most [`MAX_PROTECTED`].
    pub(crate) chains: KVec<increments::Chain>,
    /// A full image every this many (`ha_full_every`).
    pub(crate) full_every: u32,
    /// Where the images go (`ha_dir`).
    dir: [u8; images::MAX_DIR],
    dir_len: usize,
    /// The interval of `ssi-ctl ha on` without `--interval` (`ha_interval_s`).
    pub(crate) default_interval_s: u32,
}

/// Counters (`/proc/ssi/ha`).
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) checkpoints_asked: AtomicU64,
    pub(crate) checkpoints_written: AtomicU64,
    pub(crate) checkpoints_failed: AtomicU64,
    /// Checkpoints written here for other nodes.
    pub(crate) checkpoints_for_others: AtomicU64,
    pub(crate) restarts: AtomicU64,
    pub(crate) restarts_failed: AtomicU64,
    pub(crate) given_up: AtomicU64,
    pub(crate) malformed: AtomicU64,
    /// Replicas: points where copies disagreed.
    pub(crate) corruptions: AtomicU64,
}

/// High availability on one node.
#[pin_data]
pub(crate) struct HaService {
    own: AtomicU16,
    #[pin]
    pub(crate) state: Mutex<State>,
    pub(crate) migrations: Arc<Migrations>,
    /// For the loads of the nodes a process may restart on.
    pub(crate) sched: Arc<SchedService>,
    /// The copies of replicated processes that run here.
    pub(crate) copies: Arc<copies::Copies>,
    pub(crate) stats: Stats,
}

impl HaService {
    /// No protected process yet; images in [`images::DEFAULT_DIR`].
    pub(crate) fn new(migrations: Arc<Migrations>, sched: Arc<SchedService>) -> Result<Arc<Self>> {
        let mut dir = [0u8; images::MAX_DIR];
        let d = images::DEFAULT_DIR.as_bytes();
        dir[..d.len()].copy_from_slice(d);
        let copies = copies::Copies::new()?;
        migrations.set_write_gate(copies.clone());
        Arc::pin_init(
            pin_init!(HaService {
                own: AtomicU16::new(0),
                state <- new_mutex!(State {
                    entries: KVec::new(),
                    jobs: KVec::new(),
                    chains: KVec::new(),
                    full_every: DEFAULT_FULL_EVERY,
                    dir,
                    dir_len: d.len(),
                    default_interval_s: DEFAULT_INTERVAL_S,
                }),
                migrations,
                sched,
                copies,
                stats: Stats::default(),
            }),
            GFP_KERNEL,
        )
    }

    /// This node's id (0: not in a cluster).
    pub(crate) fn own_node(&self) -> u16 {
        self.own.load(Ordering::Relaxed)
    }

    /// The image directory, copied.
    pub(crate) fn dir(&self) -> StackStr<{ images::MAX_DIR }> {
        let st = self.state.lock();
        let mut d = StackStr::new();
        // Only whole UTF-8 names are stored (`set_dir`), and they fit.
        let _ = d.write_str(core::str::from_utf8(&st.dir[..st.dir_len]).unwrap_or(""));
        d
    }

    /// Sets the image directory: an absolute path, at most
    /// [`images::MAX_DIR`] - 1 bytes, no NUL.
    pub(crate) fn set_dir(&self, d: &[u8]) -> Result {
        if !d.starts_with(b"/") || d.len() >= images::MAX_DIR || d.contains(&0) || core::str::from_utf8(d).is_err() {
            return Err(EINVAL);
        }
        let mut st = self.state.lock();
        st.dir = [0; images::MAX_DIR];
        st.dir[..d.len()].copy_from_slice(d);
        st.dir_len = d.len();
        Ok(())
    }

    /// Sets the default interval ([`MIN_INTERVAL_S`]..=[`MAX_INTERVAL_S`]).
    pub(crate) fn set_default_interval(&self, s: u32) -> Result {
        if !(MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(&s) {
            return Err(EINVAL);
        }
        self.state.lock().default_interval_s = s;
        Ok(())
    }

    /// Sets how often a full image is written (1..=[`MAX_CHAIN`]: every
    /// image, ..., one full image and 15 increments).
    pub(crate) fn set_full_every(&self, n: u32) -> Result {
        if !(1..=MAX_CHAIN as u32).contains(&n) {
            return Err(EINVAL);
        }
        self.state.lock().full_every = n;
        Ok(())
    }

    /// `ssi-ctl ha on|off PID` (`/dev/ssi` op `Protect`): protects process
    /// `req.pid` with a checkpoint every `req.token` seconds (0: the
    /// default), run as `req.node` copies (0 or 1: one), or
    /// (`FLAG_HA_OFF`) no longer. Root or its owner only; on its home node
    /// only.
    pub(crate) fn protect(&self, cluster: Option<&Cluster>, req: &CtlRequest, reply: &mut CtlReply) -> Result {
        let pid = req.pid;
        if self.own_node() == 0 {
            return Err(fail(reply, crate::kernel_ext::enotconn(), format_args!("this node is not in a cluster")));
        }
        if let Some(h) = self.migrations.find_hosted(|h| h.pid() == pid && !h.returning) {
            return Err(fail(
                reply,
                EXDEV,
                format_args!("process {pid} migrated here from node {}: protect it there, its home", h.home_node),
            ));
        }
        let target = task::Task::get(pid).ok_or_else(|| fail(reply, ESRCH, format_args!("no process {pid}")))?;
        if target.brief().kthread != 0 {
            return Err(fail(reply, EPERM, format_args!("{pid} is a kernel thread")));
        }
        if !target.may_checkpoint(pid) {
            return Err(fail(reply, EPERM, format_args!("only root or the owner of process {pid} may protect it")));
        }
        drop(target);
        let off = req.flags & FLAG_HA_OFF != 0;
        let mut st = self.state.lock();
        let at = st.entries.iter().position(|e| e.prot.pid == pid);
        if off {
            let Some(i) = at else {
                return Err(fail(reply, ENOENT, format_args!("process {pid} is not protected")));
            };
            let e = crate::kernel_ext::swap_remove(&mut st.entries, i);
            drop(st);
            if let (Some(e), Some(c)) = (e, cluster) {
                self.end_replicas(c, e, true);
            }
            if let Some(d) = self.migrations.deputy_of_pid(pid) {
                d.hold(false);
            }
            pr_info!("ha: process {} no longer protected (its images stay in {}/{})\n", pid, self.dir().as_str(), pid);
            crate::ctl_reply::say(reply, format_args!("process {pid} is no longer protected"));
            return Ok(());
        }
        let interval = if req.token == 0 { st.default_interval_s } else { req.token };
        if !(MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(&interval) {
            return Err(fail(
                reply,
                EINVAL,
                format_args!("the interval must be {MIN_INTERVAL_S} to {MAX_INTERVAL_S} s, not {interval}"),
            ));
        }
        let copies = u32::from(req.node);
        if copies > 1 && !(MIN_REPLICAS..=MAX_REPLICAS).contains(&copies) {
            return Err(fail(
                reply,
                EINVAL,
                format_args!("replicas must be {MIN_REPLICAS} or {MAX_REPLICAS}, not {copies}"),
            ));
        }
        match at {
            Some(i) if copies > 1 || st.entries[i].replicas.is_some() => {
                return Err(fail(
                    reply,
                    EBUSY,
                    format_args!("process {pid} is protected already: ha off first to change its replicas"),
                ));
            }
            Some(i) => st.entries[i].prot.set_interval(interval),
            None => {
                if st.entries.len() >= MAX_PROTECTED {
                    return Err(fail(reply, ENOSPC, format_args!("{MAX_PROTECTED} processes are protected already")));
                }
                let prot = Protection::new(pid, interval, st.full_every);
                let mut e = Entry { prot, home_id: 0, node: 0, replicas: None };
                if copies > 1 {
                    drop(st);
                    e = self.replicate(cluster, e, copies as u8, reply)?;
                    st = self.state.lock();
                    if st.entries.iter().any(|o| o.prot.pid == pid) || st.entries.len() >= MAX_PROTECTED {
                        return Err(fail(reply, EBUSY, format_args!("process {pid} was protected meanwhile")));
                    }
                }
                st.entries.push(e, GFP_KERNEL)?;
            }
        }
        drop(st);
        if copies > 1 {
            pr_info!(
                "ha: process {} runs as {} copies, compared at each write to its standard output or error\n",
                pid,
                copies
            );
        }
        pr_info!("ha: process {} protected: a checkpoint every {} s in {}/{}\n", pid, interval, self.dir().as_str(), pid);
        if copies > 1 {
            crate::ctl_reply::say(
                reply,
                format_args!("process {pid} protected: a checkpoint every {interval} s, {copies} copies compared"),
            );
        } else {
            crate::ctl_reply::say(reply, format_args!("process {pid} protected: a checkpoint every {interval} s"));
        }
        Ok(())
    }

    /// `/dev/ssi` op `FlipBit` (a test aid, root only): flips bit
    /// `req.token` of the page at `req.uffd << 32 | req.image_fd` of this
    /// node's process `req.pid`, without marking the page dirty.
    pub(crate) fn flip_bit(&self, req: &CtlRequest, reply: &mut CtlReply) -> Result {
        let (is_root, _) = task::caller_identity();
        if !is_root {
            return Err(fail(reply, EPERM, format_args!("only root may flip bits")));
        }
        let addr = (u64::from(req.uffd) << 32) | u64::from(req.image_fd);
        sys::flip_bit(req.pid, addr, req.token).map_err(|e| {
            fail(
                reply,
                e,
                format_args!("cannot flip bit {} of page 0x{:x} of process {}", req.token, addr & !0xfff, req.pid),
            )
        })?;
        pr_warn!(
            "ha: flipped bit {} of page 0x{:x} of process {} (asked by pid {}; a test aid)\n",
            req.token,
            addr & !0xfff,
            req.pid,
            task::current_pid()
        );
        crate::ctl_reply::say(
            reply,
            format_args!("flipped bit {} of page 0x{:x} of process {}", req.token, addr & !0xfff, req.pid),
        );
        Ok(())
    }

    /// `HaCheckpoint` from `from`: queues the checkpoint for the thread,
    /// if the process runs here and `from` is its home.
    fn on_ask(&self, from: u16, body: &[u8]) -> Result<KVec<u8>> {
        let ask = CheckpointAsk::decode(body).map_err(|e| self.malformed(from, "HaCheckpoint", e))?;
        let running = self.migrations.find_hosted(|h| {
            h.home_id == ask.home_id && h.home_node == from && h.state() == crate::migration::remote::HostedState::Running
        });
        if running.is_none() {
            return Err(ESRCH);
        }
        let mut st = self.state.lock();
        if st.jobs.len() >= MAX_JOBS {
            return Err(EBUSY);
        }
        st.jobs.push(Job { from, ask, since_ms: crate::kernel_ext::mono_ms() }, GFP_KERNEL)?;
        Ok(KVec::new())
    }

    /// `HaDone` from `from`: how a checkpoint asked of it ended.
    fn on_done(&self, from: u16, body: &[u8]) -> Result {
        let d = CheckpointDone::decode(body).map_err(|e| self.malformed(from, "HaDone", e))?;
        guard::checkpoint_ended(self, d.home_id, 0, &d, from);
        Ok(())
    }

    pub(crate) fn malformed(&self, from: u16, what: &str, e: crate::proto::wire::WireError) -> Error {
        self.stats.malformed.fetch_add(1, Ordering::Relaxed);
        if MALFORMED_LOG.allow() {
            pr_warn!("ha: malformed {} from node {}: {}\n", what, from, e.describe());
        }
        EINVAL
    }
}

/// Starts high availability's part of the cluster service: its message
/// handlers and the `ssi-ha` thread (into `threads`).
pub(crate) fn start(cluster: &Arc<Cluster>, ha: &Arc<HaService>, threads: &mut KVec<KThread>) -> Result {
    ha.own.store(cluster.node_id(), Ordering::Relaxed);
    let handler: Arc<dyn Handler<Cluster>> = Arc::new(HaHandler { ha: ha.clone() }, GFP_KERNEL)?;
    cluster.register_handler(MsgType::HaCheckpoint, handler.clone())?;
    cluster.register_handler(MsgType::HaDone, handler.clone())?;
    cluster.register_handler(MsgType::HaDigest, handler.clone())?;
    cluster.register_handler(MsgType::HaVerdict, handler.clone())?;
    cluster.register_handler(MsgType::HaReplica, handler)?;
    let body = Arc::new(guard::Guard { cluster: cluster.clone(), ha: ha.clone() }, GFP_KERNEL)?;
    threads.push(KThread::spawn(c_str!("ssi-ha"), body)?, GFP_KERNEL)?;
    Ok(())
}

/// Handles `HaCheckpoint` and `HaDone`.
struct HaHandler {
    ha: Arc<HaService>,
}

impl Handler<Cluster> for HaHandler {
    fn handle(&self, _cluster: &Cluster, msg: &Incoming<'_>) -> Result<KVec<u8>> {
        let from = msg.from_node();
        match MsgType::from_u8(msg.header.msg_type) {
            Some(MsgType::HaCheckpoint) if msg.is_request() => self.ha.on_ask(from, msg.body),
            Some(MsgType::HaDone) => self.ha.on_done(from, msg.body).map(|()| KVec::new()),
            Some(MsgType::HaDigest) if msg.is_request() => self.ha.on_digest(_cluster, from, msg.body).map(|()| KVec::new()),
            Some(MsgType::HaVerdict) => {
                let v = Verdict::decode(msg.body).map_err(|e| self.ha.malformed(from, "HaVerdict", e))?;
                self.ha.copies.on_verdict(from, &v).map(|()| KVec::new())
            }
            Some(MsgType::HaReplica) if msg.is_request() => self.ha.on_replica(from, msg.body),
            _ => Err(EINVAL),
        }
    }
}
