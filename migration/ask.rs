// SPDX-License-Identifier: GPL-2.0
//! Control from anywhere (issue 20): migrating a process that runs on
//! another node (`MigrateAsk`, `/dev/ssi` op 9, and a home node's
//! migrate of its deputy's pid).
//!
//! The asking node sends the running node a `Start` with the process's
//! pid there, the destination, the strategy and the asker's real and
//! effective uid. The running node checks the permission (uid-based: the
//! asker's euid is 0 or the process's real or saved uid; a local ask keeps
//! the kernel's ptrace check instead), starts the migration in a kernel
//! thread of its own (`ssi-migask`: it runs as a local `ssi-ctl migrate`
//! would, for seconds, never in the krpc handler) and answers at once with
//! a token. The asker polls with `Query` every [`POLL_MS`] until the
//! migration is done or failed, at most [`OUTCOME_TIMEOUT_MS`]; a lost
//! node or a signal ends the wait with a clear error (the migration's own
//! rules keep the process whole either way).

use super::{source, Migrations};
use crate::{
    checkpoint::task,
    cluster::Cluster,
    ctl_reply::{fail, say},
    krpc::handlers::{Handler, Incoming},
    kthread::{KThread, ThreadBody},
    proto::{
        ctl::{CtlOp, CtlReply, CtlRequest},
        migration::{AskRequest, AskStart, AskState, AskStatus, ASK_QUERY_LEN, ASK_START_LEN, ASK_STATUS_MAX},
        wire::MsgType,
    },
};
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{c_str, new_mutex, prelude::*, sync::Arc, sync::Mutex};

/// Malformed messages from other nodes: logged at most once a second.
static MALFORMED_LOG: crate::kernel_ext::LogLimit = crate::kernel_ext::LogLimit::new();

/// How long one `MigrateAsk` call waits for its answer.
const CALL_TIMEOUT_MS: u32 = 10_000;
/// The asker's pause between two polls.
const POLL_MS: u32 = 200;
/// How long the asker waits for the outcome in all (an eager migration of
/// a large process under emulation takes minutes).
const OUTCOME_TIMEOUT_MS: u64 = 600_000;
/// Asked migrations running on this node at once, at most.
const MAX_RUNNING: usize = 16;
/// How long a finished ask's outcome is kept for its asker.
const KEEP_FINISHED_MS: u64 = 60_000;

/// The outcome of an asked migration.
#[derive(Clone, Copy)]
struct Outcome {
    /// 0 or the positive errno.
    errno: u32,
    reply: CtlReply,
    at_ms: u64,
}

/// One migration another node asked for, run by its own thread.
#[pin_data]
struct Job {
    token: u32,
    from_node: u16,
    req: CtlRequest,
    /// The user who asked (0: root).
    asked_by: u32,
    cluster: Arc<Cluster>,
    migrations: Arc<Migrations>,
    #[pin]
    outcome: Mutex<Option<Outcome>>,
}

impl ThreadBody for Job {
    fn run(&self) {
        let mut reply = CtlReply::EMPTY;
        let start = task::mono_ns();
        let r = source::migrate(Some(self.cluster.clone()), &self.migrations, &self.req, &mut reply, Some(self.asked_by));
        reply.total_ns = task::mono_ns().saturating_sub(start);
        let errno = match r {
            Ok(()) => {
                pr_info!(
                    "pid {}: migrated to node {} as pid {}, as node {} asked\n",
                    self.req.pid,
                    self.req.node,
                    reply.pid,
                    self.from_node
                );
                0
            }
            Err(e) => {
                pr_info!(
                    "pid {}: the migration to node {} node {} asked for failed: {}\n",
                    self.req.pid,
                    self.req.node,
                    self.from_node,
                    reply.message()
                );
                e.to_errno().unsigned_abs().clamp(1, 4095)
            }
        };
        *self.outcome.lock() = Some(Outcome { errno, reply, at_ms: crate::kernel_ext::mono_ms() });
    }
}

/// The migrations other nodes asked this node for: the `MigrateAsk`
/// handler. Each runs in its thread, kept (and joined when dropped) until
/// its outcome was kept [`KEEP_FINISHED_MS`].
#[pin_data]
pub(crate) struct Asks {
    cluster: Arc<Cluster>,
    migrations: Arc<Migrations>,
    next_token: AtomicU32,
    #[pin]
    jobs: Mutex<KVec<(Arc<Job>, KThread)>>,
}

/// Registers the `MigrateAsk` handler (at the cluster service's start).
pub(crate) fn register(cluster: &Arc<Cluster>, migrations: &Arc<Migrations>) -> Result {
    let asks = Arc::pin_init(
        pin_init!(Asks {
            cluster: cluster.clone(),
            migrations: migrations.clone(),
            next_token: AtomicU32::new(crate::kernel_ext::random_id() as u32),
            jobs <- new_mutex!(KVec::new()),
        }),
        GFP_KERNEL,
    )?;
    let handler: Arc<dyn Handler<Cluster>> = asks;
    cluster.register_handler(MsgType::MigrateAsk, handler)
}

impl Handler<Cluster> for Asks {
    fn handle(&self, _cluster: &Cluster, msg: &Incoming<'_>) -> Result<KVec<u8>> {
        let from = msg.from_node();
        let q = AskRequest::decode(msg.body).map_err(|e| {
            if MALFORMED_LOG.allow() {
                pr_warn!("malformed MigrateAsk from node {}: {:?}\n", from, e);
            }
            EINVAL
        })?;
        self.reap();
        let mut buf = [0u8; ASK_STATUS_MAX];
        let n = match q {
            AskRequest::Start(s) => self.start(from, &s, &mut buf)?,
            AskRequest::Query(token) => self.query(from, token, &mut buf)?,
        };
        let mut out = KVec::new();
        out.extend_from_slice(&buf[..n], GFP_KERNEL)?;
        Ok(out)
    }
}

impl Asks {
    /// Forgets the asks finished more than [`KEEP_FINISHED_MS`] ago (their
    /// threads, idle, are joined outside the lock).
    fn reap(&self) {
        let now = crate::kernel_ext::mono_ms();
        let mut gone = KVec::new();
        {
            let mut jobs = self.jobs.lock();
            let mut i = 0;
            while i < jobs.len() {
                let old = jobs[i].0.outcome.lock().is_some_and(|o| now.saturating_sub(o.at_ms) > KEEP_FINISHED_MS);
                if !old {
                    i += 1;
                    continue;
                }
                if let Some(j) = crate::kernel_ext::swap_remove(&mut jobs, i) {
                    // No room to keep it: it goes now, under the lock.
                    let _ = gone.push(j, GFP_KERNEL);
                }
            }
        }
        drop(gone);
    }

    /// `Start`: checks the ask and starts the migration's thread; the
    /// status (running with a token, or refused) into `out`.
    fn start(&self, from: u16, s: &AskStart, out: &mut [u8]) -> Result<usize> {
        let mut reply = CtlReply::EMPTY;
        let st = match self.admit(from, s, &mut reply) {
            Ok(token) => AskStatus::new(AskState::Running, token, ""),
            Err(e) => {
                pr_info!(
                    "migration of pid {} to node {} asked by node {} (uid {}, euid {}) refused: {}\n",
                    s.pid,
                    s.node,
                    from,
                    s.uid,
                    s.euid,
                    reply.message()
                );
                AskStatus { errno: e.to_errno().unsigned_abs().clamp(1, 4095), ..AskStatus::new(AskState::Failed, 0, "") }
            }
        };
        AskStatus { message: reply.message(), ..st }.encode(out).map_err(|_| EINVAL)
    }

    /// The checks of a `Start`, then its thread; its token.
    fn admit(&self, from: u16, s: &AskStart, reply: &mut CtlReply) -> Result<u32> {
        let own = self.cluster.node_id();
        let pid = s.pid;
        if let Some((there, there_pid)) = self.migrations.deputy_of_pid(pid).map(|d| d.location()) {
            return Err(fail(
                reply,
                EBUSY,
                format_args!("process {pid} runs on node {there} as pid {there_pid}, not on node {own}: ask there"),
            ));
        }
        let target =
            task::Task::get(pid).ok_or_else(|| fail(reply, ESRCH, format_args!("no process {pid} on node {own}")))?;
        let b = target.brief();
        drop(target);
        if b.kthread != 0 {
            return Err(fail(reply, EPERM, format_args!("{pid} is a kernel thread")));
        }
        // Uid-based: the asker's credentials are not this node's to check
        // with ptrace's rules.
        if s.euid != 0 && s.euid != b.uid && s.euid != b.suid {
            return Err(fail(
                reply,
                EPERM,
                format_args!("only root or the owner (uid {}) of process {pid} may migrate it, not uid {}", b.uid, s.euid),
            ));
        }
        let mut jobs = self.jobs.lock();
        let running = jobs.iter().filter(|(j, _)| j.outcome.lock().is_none()).count();
        if running >= MAX_RUNNING {
            return Err(fail(reply, EBUSY, format_args!("node {own} runs {running} asked migrations already")));
        }
        let mut token = self.next_token.fetch_add(1, Ordering::Relaxed);
        if token == 0 {
            token = self.next_token.fetch_add(1, Ordering::Relaxed);
        }
        let req = CtlRequest {
            op: CtlOp::Migrate,
            pid,
            image_fd: 0,
            flags: 0,
            token: 0,
            node: s.node,
            strategy: s.strategy,
            uffd: 0,
        };
        let job = Arc::pin_init(
            pin_init!(Job {
                token,
                from_node: from,
                req,
                asked_by: s.euid,
                cluster: self.cluster.clone(),
                migrations: self.migrations.clone(),
                outcome <- new_mutex!(None),
            }),
            GFP_KERNEL,
        )?;
        jobs.reserve(1, GFP_KERNEL)?;
        let thread = KThread::spawn(c_str!("ssi-migask"), job.clone())
            .map_err(|e| fail(reply, e, format_args!("node {own} cannot start a thread for the migration")))?;
        jobs.push((job, thread), GFP_KERNEL)?;
        Ok(token)
    }

    /// `Query`: where ask `token` of node `from` stands, into `out`.
    fn query(&self, from: u16, token: u32, out: &mut [u8]) -> Result<usize> {
        let job = self.jobs.lock().iter().find(|(j, _)| j.token == token && j.from_node == from).map(|(j, _)| j.clone());
        let job = job.ok_or(ENOENT)?;
        let outcome = *job.outcome.lock();
        let st = match &outcome {
            None => AskStatus::new(AskState::Running, token, ""),
            Some(o) if o.errno == 0 => AskStatus {
                node: job.req.node,
                pid: o.reply.pid,
                image_bytes: o.reply.image_bytes,
                frozen_ns: o.reply.frozen_ns,
                total_ns: o.reply.total_ns,
                ..AskStatus::new(AskState::Done, token, o.reply.message())
            },
            Some(o) => AskStatus { errno: o.errno, ..AskStatus::new(AskState::Failed, token, o.reply.message()) },
        };
        st.encode(out).map_err(|_| EINVAL)
    }
}

/// Fills `reply` from a final status of node `there`: `Ok` if done.
fn outcome(there: u16, st: &AskStatus<'_>, reply: &mut CtlReply) -> Result {
    match st.state {
        AskState::Done => {
            reply.pid = st.pid;
            reply.image_bytes = st.image_bytes;
            reply.frozen_ns = st.frozen_ns;
            reply.total_ns = st.total_ns;
            say(reply, format_args!("{}", st.message));
            Ok(())
        }
        _ => {
            let errno = i32::try_from(st.errno).ok().filter(|e| (1..4096).contains(e)).unwrap_or(5);
            Err(fail(reply, Error::from_errno(-errno), format_args!("node {there}: {}", st.message)))
        }
    }
}

/// The asker was interrupted: it stops waiting, the migration goes on.
fn interrupted(reply: &mut CtlReply, pid: u32, there: u16) -> Error {
    fail(
        reply,
        EINTR,
        format_args!("interrupted; the migration of process {pid} goes on on node {there} (see ssi-ctl where)"),
    )
}

/// `ssi-ctl migrate PID NODE` of a process node `there` runs, as pid
/// `req.pid` there: asks node `there` and waits for the outcome (in
/// `reply` as a local migration's). `there` may be this node: the
/// migration then runs here.
pub(crate) fn migrate_elsewhere(
    cluster: Option<Arc<Cluster>>,
    migrations: &Arc<Migrations>,
    there: u16,
    req: &CtlRequest,
    reply: &mut CtlReply,
) -> Result {
    let Some(cluster) = cluster else {
        return Err(fail(
            reply,
            crate::kernel_ext::enotconn(),
            format_args!("this node is not in a cluster (enabled is 0)"),
        ));
    };
    let (pid, node) = (req.pid, req.node);
    if there == cluster.node_id() {
        let local = CtlRequest { op: CtlOp::Migrate, token: 0, ..*req };
        return source::migrate(Some(cluster), migrations, &local, reply, None);
    }
    if there == 0 || !cluster.is_connected(there) {
        return Err(fail(
            reply,
            crate::kernel_ext::enotconn(),
            format_args!("node {there}, which runs process {pid}, is not connected to this node"),
        ));
    }
    let (uid, euid) = task::caller_uids();
    let start = task::mono_ns();
    let mut body = [0u8; ASK_START_LEN];
    let ask = AskRequest::Start(AskStart { pid, node, strategy: req.strategy, uid, euid });
    let n = ask.encode(&mut body).map_err(|_| fail(reply, EINVAL, format_args!("bad request")))?;
    let answer = cluster
        .call(there, MsgType::MigrateAsk, &body[..n], CALL_TIMEOUT_MS)
        .map_err(|e| fail(reply, e, format_args!("node {there} did not take the request (error {})", e.to_errno())))?;
    let st = AskStatus::decode(&answer).map_err(|_| fail(reply, EIO, format_args!("bad answer from node {there}")))?;
    if st.state != AskState::Running {
        return outcome(there, &st, reply);
    }
    let token = st.token;
    pr_info!("pid {} of node {}: node {} migrates it to node {} (ask {:08x})\n", pid, there, there, node, token);
    let mut query = [0u8; ASK_QUERY_LEN];
    let n = AskRequest::Query(token).encode(&mut query).map_err(|_| EINVAL)?;
    let deadline = crate::kernel_ext::mono_ms() + OUTCOME_TIMEOUT_MS;
    loop {
        if kernel::current!().signal_pending() {
            return Err(interrupted(reply, pid, there));
        }
        if crate::kernel_ext::mono_ms() > deadline {
            return Err(fail(
                reply,
                crate::kernel_ext::etimedout(),
                format_args!("no outcome from node {there} after {} s (see ssi-ctl where)", OUTCOME_TIMEOUT_MS / 1000),
            ));
        }
        crate::kernel_ext::msleep(POLL_MS);
        match cluster.call(there, MsgType::MigrateAsk, &query[..n], CALL_TIMEOUT_MS) {
            Err(e) if e == EINTR || e == ERESTARTSYS => return Err(interrupted(reply, pid, there)),
            // A slow answer from a node still there: ask again.
            Err(e) if e == crate::kernel_ext::etimedout() && cluster.is_connected(there) => continue,
            Err(e) => {
                return Err(fail(
                    reply,
                    e,
                    format_args!(
                        "lost node {there} while it migrated process {pid} (error {}): see ssi-ctl where",
                        e.to_errno()
                    ),
                ))
            }
            Ok(answer) => {
                let st = AskStatus::decode(&answer)
                    .map_err(|_| fail(reply, EIO, format_args!("bad answer from node {there}")))?;
                if st.token != token {
                    return Err(fail(reply, EIO, format_args!("node {there} answered for another ask")));
                }
                if st.state != AskState::Running {
                    let r = outcome(there, &st, reply);
                    if r.is_ok() {
                        // The asker's wait, not only the running node's work.
                        reply.total_ns = task::mono_ns().saturating_sub(start);
                    }
                    return r;
                }
            }
        }
    }
}
