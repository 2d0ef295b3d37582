// SPDX-License-Identifier: GPL-2.0
//! Signals anywhere (issue 20): `kill -SIG PID`, `kill -0 PID` and
//! `kill -SIG -PGID` typed on any node reach the process or group
//! wherever it runs.
//!
//! A pid names its home node (the owner of its slot,
//! `proto::pid_range`); a process that migrated keeps a deputy there,
//! which forwards the signals it gets (`migration/deputy.rs`), and stays
//! in its process group there through the deputy. So a `kill` whose pid
//! this node does not know goes to the pid's home node and is delivered
//! there:
//!
//! - the sending side: the kill hook (`modules/kill_hook.rs`) gives such
//!   calls to [`Router`], which asks the home node with a `ProcSignal`
//!   call carrying the sender's pid, uids and `CAP_KILL`;
//! - the home side: [`ProcSignalHandler`] checks the kernel's permission
//!   rule (`proto::signal::may_signal`) against the target's credentials
//!   and sends the signal as one from user space (`SI_USER`, the sender's
//!   pid and uid), to the process or to every member of the group it may
//!   signal.

use super::{sys, ProcSpace};
use crate::{
    cluster::Cluster,
    kill_hook::{self, KillHook, KillRouter},
    krpc::handlers::{Handler, Incoming},
    proto::{
        pid_range,
        signal::{
            group_outcome, is_valid_signal, may_signal, route, Outcome, Route, SignalReply, SignalRequest, Target,
            TargetCreds, REPLY_LEN, REQUEST_LEN,
        },
        wire::MsgType,
    },
};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{prelude::*, sync::Arc};

/// Malformed messages from other nodes: logged at most once a second.
static MALFORMED_LOG: crate::kernel_ext::LogLimit = crate::kernel_ext::LogLimit::new();

/// How long a routed `kill` waits for its home node's answer.
pub(crate) const CALL_TIMEOUT_MS: u32 = 2_000;
/// Most members of one process group signalled by one request.
const MAX_GROUP: usize = 4096;

/// Counters of routed signals (`/proc/ssi/krpc`).
pub(crate) struct SignalStats {
    /// `kill` calls this node sent to another node.
    pub(crate) routed: AtomicU64,
    /// `ProcSignal` requests this node answered.
    pub(crate) served: AtomicU64,
    /// Of those, answered `EPERM`.
    pub(crate) refused: AtomicU64,
    /// Routed calls that got no answer (timeout, error, malformed reply).
    pub(crate) failed: AtomicU64,
    /// Failures are logged at most once a second.
    warn_limit: crate::kernel_ext::LogLimit,
}

impl SignalStats {
    /// Every counter zero.
    pub(crate) const fn new() -> Self {
        SignalStats {
            routed: AtomicU64::new(0),
            served: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            warn_limit: crate::kernel_ext::LogLimit::new(),
        }
    }

    /// Whether a failure may be logged now (at most one a second).
    fn may_warn(&self) -> bool {
        self.warn_limit.allow()
    }
}

/// Registers the `ProcSignal` handler.
pub(crate) fn register(cluster: &Arc<Cluster>, space: &Arc<ProcSpace>) -> Result {
    let handler: Arc<dyn Handler<Cluster>> = Arc::new(ProcSignalHandler { space: space.clone() }, GFP_KERNEL)?;
    cluster.register_handler(MsgType::ProcSignal, handler)
}

/// Routing of `kill` while the node is in the cluster; dropping it
/// disarms the kill hook (waiting for the calls in flight, each at most
/// [`CALL_TIMEOUT_MS`]).
pub(crate) struct SignalRouting {
    _hook: KillHook<Router>,
}

/// Arms the kill hook for this node (`cluster`'s node id), whose own slot
/// the kernel answers alone.
pub(crate) fn arm(cluster: &Arc<Cluster>, space: &Arc<ProcSpace>) -> Result<SignalRouting> {
    let own = pid_range::range_of(u32::from(cluster.node_id())).ok();
    let router = Arc::new(Router { cluster: cluster.clone(), space: space.clone() }, GFP_KERNEL)?;
    Ok(SignalRouting { _hook: KillHook::arm(router, own)? })
}

/// The sending side: carries a `kill` to the pid's home node.
pub(crate) struct Router {
    cluster: Arc<Cluster>,
    space: Arc<ProcSpace>,
}

impl KillRouter for Router {
    fn route(&self, pid: i32, sig: i32) -> i32 {
        match self.send(pid, sig) {
            Ok(o) => o.to_kill_result(),
            Err(e) => e.to_errno(),
        }
    }
}

impl Router {
    /// The home node's answer to `kill(pid, sig)` of the current task.
    fn send(&self, pid: i32, sig: i32) -> Result<Outcome> {
        if !is_valid_signal(sig) {
            return Err(EINVAL);
        }
        let (Route::Home(node), Some(target)) = (route(pid, self.cluster.node_id()), Target::of_kill_arg(pid)) else {
            return Ok(Outcome::NoSuchProcess);
        };
        // A home node that is not in the cluster took its processes with it.
        if !self.cluster.is_connected(node) {
            return Ok(Outcome::NoSuchProcess);
        }
        let sig = u8::try_from(sig).map_err(|_| EINVAL)?;
        let q = SignalRequest { target, sig, sender: kill_hook::current_sender() };
        let mut body = [0u8; REQUEST_LEN];
        let n = q.encode(&mut body).map_err(|_| EINVAL)?;
        let stats = &self.space.signals;
        stats.routed.fetch_add(1, Ordering::Relaxed);
        let reply = match self.cluster.call(node, MsgType::ProcSignal, &body[..n], CALL_TIMEOUT_MS) {
            Ok(r) => r,
            // The sender was interrupted: the signal may or may not be there.
            Err(e) if e == EINTR || e == ERESTARTSYS => return Err(EINTR),
            Err(e) if e == crate::kernel_ext::enotconn() => return Ok(Outcome::NoSuchProcess),
            Err(e) => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                if stats.may_warn() {
                    pr_warn!("kill {} (signal {}): node {} did not answer (error {})\n", pid, sig, node, e.to_errno());
                }
                return Err(e);
            }
        };
        SignalReply::decode(&reply).map(|r| r.0).map_err(|e| {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            if stats.may_warn() {
                if MALFORMED_LOG.allow() {
                    pr_warn!("kill {}: malformed ProcSignal reply from node {}: {:?}\n", pid, node, e);
                }
            }
            EINVAL
        })
    }
}

/// The home side: answers `ProcSignal`.
struct ProcSignalHandler {
    space: Arc<ProcSpace>,
}

impl Handler<Cluster> for ProcSignalHandler {
    fn handle(&self, cluster: &Cluster, msg: &Incoming<'_>) -> Result<KVec<u8>> {
        let q = SignalRequest::decode(msg.body).map_err(|e| {
            if MALFORMED_LOG.allow() {
                pr_warn!("malformed ProcSignal request from node {}: {:?}\n", msg.from_node(), e);
            }
            EINVAL
        })?;
        // Only the home node of a pid answers for it.
        let outcome = if pid_range::node_of(q.target.id()) != Some(u32::from(cluster.node_id())) {
            pr_warn!("node {} sent a signal for pid {}, not of this node's slot\n", msg.from_node(), q.target.id());
            Outcome::Invalid
        } else {
            deliver(&q)?
        };
        let stats = &self.space.signals;
        stats.served.fetch_add(1, Ordering::Relaxed);
        if outcome == Outcome::NotPermitted {
            stats.refused.fetch_add(1, Ordering::Relaxed);
        }
        let mut body = KVec::from_elem(0u8, REPLY_LEN, GFP_KERNEL)?;
        SignalReply(outcome).encode(&mut body).map_err(|_| EINVAL)?;
        Ok(body)
    }
}

/// The target's credentials as the permission rule reads them.
fn creds(t: &sys::SignalTarget) -> TargetCreds {
    TargetCreds { uid: t.uid, suid: t.suid }
}

/// Sends `q`'s signal to the process `pid` if the sender may signal it;
/// `Ok(false)` if it may not. Signal 0 only checks.
fn send_one(q: &SignalRequest, pid: u32, t: &sys::SignalTarget) -> Result<bool> {
    if !may_signal(&q.sender, &creds(t)) {
        return Ok(false);
    }
    if q.sig != 0 {
        sys::signal_send(pid, q.sig, q.sender.pid, q.sender.uid)?;
    }
    Ok(true)
}

/// Delivers `q` on this node, its target's home.
fn deliver(q: &SignalRequest) -> Result<Outcome> {
    match q.target {
        Target::Process(pid) => {
            let Some(t) = sys::signal_target(pid) else {
                return Ok(Outcome::NoSuchProcess);
            };
            Ok(match send_one(q, pid, &t) {
                Ok(true) => Outcome::Delivered(1),
                Ok(false) => Outcome::NotPermitted,
                // It ended in between.
                Err(e) if e == ESRCH => Outcome::NoSuchProcess,
                Err(_) => Outcome::Invalid,
            })
        }
        Target::Group(pgid) => {
            let total = sys::signal_group(pgid, &mut []);
            if total == 0 {
                return Ok(Outcome::NoSuchProcess);
            }
            // Room for a few that join meanwhile; more are left out.
            let room = total.saturating_add(16).min(MAX_GROUP);
            let mut members = KVec::with_capacity(room, GFP_KERNEL)?;
            for _ in 0..room {
                members.push(sys::SignalTarget::default(), GFP_KERNEL)?;
            }
            let total = sys::signal_group(pgid, &mut members);
            let (mut permitted, mut delivered) = (0u32, 0u32);
            for t in members.iter().take(total.min(room)) {
                match send_one(q, t.tgid, t) {
                    Ok(true) => {
                        permitted += 1;
                        delivered += 1;
                    }
                    Ok(false) => {}
                    // Permitted, but it ended in between.
                    Err(_) => permitted += 1,
                }
            }
            if total > room {
                pr_warn!("process group {}: {} members, only the first {} signalled\n", pgid, total, room);
            }
            Ok(match group_outcome(u32::try_from(total).unwrap_or(u32::MAX), permitted) {
                Outcome::Delivered(_) => Outcome::Delivered(delivered),
                o => o,
            })
        }
    }
}
