// SPDX-License-Identifier: GPL-2.0
//! The scheduler (issue 21): the cluster balances its own load.
//!
//! The pure logic (probes' smoothing, filters, policies, the configuration
//! and its codec) is `proto::sched`; here it runs in the kernel:
//!
//! - [`SchedService`] holds the cluster-wide configuration
//!   (`sched::Config`): a change typed on any node
//!   ([`SchedService::change`], from configfs) is a `sched::Command`,
//!   checked there and made by the coordinator (the lowest node id; a
//!   `SchedChange` request from the others), which bumps the generation
//!   and sends the result to every node (`SchedConfig`); a node takes a
//!   configuration if it supersedes its own. A node that joins gets it
//!   from every member (the balancer sends it to each node it sees for
//!   the first time), and every node sends its own to all every 5 s, so
//!   a lost copy is made up for.
//! - `balancer.rs`: the `ssi-sched` thread, every `load.period_ms`:
//!   samples this node's load into its probe, broadcasts the reports its
//!   filter lets out (`SchedLoad`), keeps the others' in its load cache,
//!   and runs the enabled policies of the schedulers whose node set holds
//!   this node: a dynamic-balancing decision migrates one process (the
//!   migration layer's own path, as `ssi-ctl migrate` does).
//! - `status.rs`: `/proc/ssi/scheduler`, what it does and why.
//! - `config_tree.rs`: the configfs tree `scheduler/` that shows and
//!   changes the configuration.

pub(crate) mod balancer;
pub(crate) mod config_tree;
pub(crate) mod offers;
pub(crate) mod placer;
pub(crate) mod status;
pub(crate) mod sys;

use crate::{
    cluster::Cluster,
    exec_hook::ExecHook,
    krpc::handlers::{Handler, Incoming},
    kthread::KThread,
    migration::{source, Migrations},
    proto::{
        ctl::{CtlOp, CtlReply, CtlRequest},
        sched::{
            decode_request, encode_request, ChangeReply, Command, Config, ConfigError, LoadReport, PolicyKind,
            MAX_CONFIG_LEN,
        },
        wire::MsgType,
    },
};
use core::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use kernel::{c_str, new_mutex, prelude::*, sync::Arc, sync::Mutex};

/// Malformed messages from other nodes: logged at most once a second.
static MALFORMED_LOG: crate::kernel_ext::LogLimit = crate::kernel_ext::LogLimit::new();

/// The scheduler of one node.
#[pin_data]
pub(crate) struct SchedService {
    /// This node's id (0 until the cluster service starts).
    own: AtomicU16,
    /// The configuration in force.
    #[pin]
    config: Mutex<Config>,
    /// The balancer's state: probes, the others' loads, the processes it
    /// follows, what it did.
    #[pin]
    pub(crate) state: Mutex<KBox<balancer::State>>,
    /// Migrations, for the processes' roles and to move them.
    pub(crate) migrations: Arc<Migrations>,
    /// Counters (`/proc/ssi/scheduler`).
    pub(crate) stats: status::Stats,
    /// Configurations taken from other nodes.
    configs_taken: AtomicU64,
}

impl SchedService {
    /// The scheduler of a node whose migrations are `migrations`; no
    /// scheduler configured.
    pub(crate) fn new(migrations: Arc<Migrations>) -> Result<Arc<Self>> {
        let state = balancer::State::new()?;
        Arc::pin_init(
            pin_init!(SchedService {
                own: AtomicU16::new(0),
                config <- new_mutex!(Config::new(0)),
                state <- new_mutex!(state),
                migrations,
                stats: status::Stats::new(),
                configs_taken: AtomicU64::new(0),
            }),
            GFP_KERNEL,
        )
    }

    /// The configuration in force (a copy).
    pub(crate) fn config(&self) -> Config {
        *self.config.lock()
    }

    /// This node's id (0: not in a cluster).
    pub(crate) fn own_node(&self) -> u16 {
        self.own.load(Ordering::Relaxed)
    }

    /// Changes the cluster-wide configuration by `cmd` (`what` names it
    /// in the log). The change is checked against this node's copy first
    /// (a refusal is logged here, `EINVAL`), then made by the
    /// coordinator, the lowest node id this node is connected to (itself,
    /// perhaps), which sends the result to every node; this node takes
    /// it before returning. Changes made at once on several nodes are so
    /// all kept, in the coordinator's order. A coordinator that does not
    /// answer within `CHANGE_TIMEOUT_MS` fails the change (its error),
    /// which may then be tried again.
    pub(crate) fn change(&self, cluster: &Cluster, what: &str, cmd: &Command) -> Result {
        let own = cluster.node_id();
        if let Err(e) = self.check(own, cmd) {
            pr_warn!("scheduler: {} refused: {}\n", what, e.describe());
            return Err(EINVAL);
        }
        let coordinator = coordinator(cluster);
        if coordinator == own {
            return match self.make(cluster, own, cmd) {
                Ok(generation) => {
                    pr_info!("scheduler: {} (configuration generation {})\n", what, generation);
                    Ok(())
                }
                Err(e) => {
                    pr_warn!("scheduler: {} refused: {}\n", what, e.describe());
                    Err(EINVAL)
                }
            };
        }
        let body = encode_request(cmd).map_err(|_| EINVAL)?;
        let reply =
            cluster.call(coordinator, MsgType::SchedChange, body.as_bytes(), CHANGE_TIMEOUT_MS).inspect_err(|e| {
                pr_warn!(
                    "scheduler: {} not made: the coordinator, node {}, did not answer (error {}); try again\n",
                    what,
                    coordinator,
                    e.to_errno()
                )
            })?;
        self.answered(coordinator, what, &reply)
    }

    /// Whether `cmd` applies to this node's copy (not kept).
    #[inline(never)]
    fn check(&self, own: u16, cmd: &Command) -> core::result::Result<(), ConfigError> {
        let mut next = self.config();
        cmd.apply(&mut next)?;
        next.bump(own);
        next.validate()
    }

    /// The coordinator's part: applies `cmd`, asked for by node `origin`,
    /// to the configuration in force, as its next generation, and sends
    /// the result to every node. Returns the new generation.
    #[inline(never)]
    fn make(&self, cluster: &Cluster, origin: u16, cmd: &Command) -> core::result::Result<u64, ConfigError> {
        let next = {
            let mut cfg = self.config.lock();
            let mut next = *cfg;
            cmd.apply(&mut next)?;
            next.bump(origin);
            next.validate()?;
            *cfg = next;
            next
        };
        self.stats.changes_made.fetch_add(1, Ordering::Relaxed);
        send_config(cluster, &next, None);
        Ok(next.generation)
    }

    /// Takes the coordinator's answer to a change.
    #[inline(never)]
    fn answered(&self, coordinator: u16, what: &str, reply: &[u8]) -> Result {
        match ChangeReply::decode(reply) {
            Ok(ChangeReply::Applied(c)) => {
                self.take(coordinator, c);
                pr_info!("scheduler: {} (configuration generation {}, made by node {})\n", what, c.generation, coordinator);
                Ok(())
            }
            Ok(ChangeReply::Refused(why)) => {
                pr_warn!("scheduler: {} refused by node {}: {}\n", what, coordinator, why);
                Err(EINVAL)
            }
            Err(e) => {
                self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                if MALFORMED_LOG.allow() {
                    pr_warn!("scheduler: {}: malformed answer from node {}: {:?}\n", what, coordinator, e);
                }
                Err(crate::kernel_ext::eremoteio())
            }
        }
    }

    /// Answers a `SchedChange` request of node `from`.
    #[inline(never)]
    fn on_change(&self, cluster: &Cluster, from: u16, body: &[u8]) -> Result<KVec<u8>> {
        let mut buf = [0u8; 1 + MAX_CONFIG_LEN];
        let reply = match decode_request(body) {
            Err(e) => {
                self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                if MALFORMED_LOG.allow() {
                    pr_warn!("scheduler: malformed change from node {}: {}\n", from, e.describe());
                }
                ChangeReply::Refused(e.describe())
            }
            Ok(cmd) => match self.make(cluster, from, &cmd) {
                Ok(generation) => {
                    pr_info!("scheduler: '{}' for node {} (configuration generation {})\n", cmd, from, generation);
                    ChangeReply::Applied(self.config())
                }
                Err(e) => {
                    pr_info!("scheduler: '{}' for node {} refused: {}\n", cmd, from, e.describe());
                    ChangeReply::refused(e)
                }
            },
        };
        let n = reply.encode(&mut buf).map_err(|_| EINVAL)?;
        let mut out = KVec::with_capacity(n, GFP_KERNEL)?;
        out.extend_from_slice(&buf[..n], GFP_KERNEL)?;
        Ok(out)
    }

    /// Takes `c`, sent by node `from`, if it supersedes the configuration
    /// in force.
    fn take(&self, from: u16, c: Config) {
        let mut cfg = self.config.lock();
        if !c.supersedes(&cfg) {
            return;
        }
        *cfg = c;
        drop(cfg);
        self.configs_taken.fetch_add(1, Ordering::Relaxed);
        pr_info!("scheduler: configuration generation {} (changed on node {}) from node {}\n", c.generation, c.origin, from);
    }
}

impl SchedService {
    /// Migrates process `pid` to node `dest` with `strategy` for a policy,
    /// as `ssi-ctl migrate` would (on the caller's thread, until the
    /// process runs there or stays here); counts and records it, and
    /// remembers a refusal with its reason.
    pub(crate) fn move_process(
        &self,
        cluster: &Arc<Cluster>,
        pid: u32,
        dest: u16,
        strategy: u8,
        policy: PolicyKind,
    ) -> Result {
        let req = CtlRequest { op: CtlOp::Migrate, pid, image_fd: 0, flags: 0, token: 0, node: dest, strategy, uffd: 0 };
        let mut reply = CtlReply::EMPTY;
        let start = crate::kernel_ext::mono_ms();
        let r = source::migrate(Some(cluster.clone()), &self.migrations, &req, &mut reply, Some(0));
        let took_ms = crate::kernel_ext::mono_ms().saturating_sub(start);
        self.stats.moves.fetch_add(1, Ordering::Relaxed);
        let mut st = self.state.lock();
        let errno = match &r {
            Ok(()) => 0,
            Err(e) => {
                self.stats.moves_failed.fetch_add(1, Ordering::Relaxed);
                let errno = e.to_errno().unsigned_abs();
                pr_info!("scheduler: pid {} stays: {} (error {})\n", pid, reply.message(), errno);
                st.refused(pid, errno, reply.message());
                errno
            }
        };
        st.record(pid, dest, policy, strategy, errno, took_ms);
        r
    }
}

/// How long a node waits for the coordinator's answer to a change.
const CHANGE_TIMEOUT_MS: u32 = 5000;

/// The node that makes the configuration's changes: the lowest id among
/// this node and the nodes it is connected to.
pub(crate) fn coordinator(cluster: &Cluster) -> u16 {
    let own = cluster.node_id();
    let Ok(conns) = cluster.connections() else { return own };
    conns.iter().filter(|c| !c.is_closed()).map(|c| c.peer.node_id).fold(own, u16::min)
}

/// Sends `c` to node `to`, or to every node.
fn send_config(cluster: &Cluster, c: &Config, to: Option<u16>) {
    let mut body = [0u8; MAX_CONFIG_LEN];
    let Ok(n) = c.encode(&mut body) else { return };
    match to {
        Some(node) => {
            let _ = cluster.send_to(node, MsgType::SchedConfig, &body[..n]);
        }
        None => {
            cluster.broadcast(MsgType::SchedConfig, &body[..n]);
        }
    }
}

/// Starts the scheduler's part of the cluster service: its message
/// handlers, the balancer thread (`ssi-sched`) and, if the exec hook can
/// be armed, the placer thread (`ssi-place`); the threads go into
/// `threads`.
pub(crate) fn start(cluster: &Arc<Cluster>, sched: &Arc<SchedService>, threads: &mut KVec<KThread>) -> Result {
    sched.own.store(cluster.node_id(), Ordering::Relaxed);
    let handler: Arc<dyn Handler<Cluster>> = Arc::new(SchedHandler { sched: sched.clone() }, GFP_KERNEL)?;
    cluster.register_handler(MsgType::SchedLoad, handler.clone())?;
    cluster.register_handler(MsgType::SchedConfig, handler.clone())?;
    cluster.register_handler(MsgType::SchedChange, handler.clone())?;
    cluster.register_handler(MsgType::SchedOffer, handler)?;
    let body = Arc::new(balancer::Balancer { cluster: cluster.clone(), sched: sched.clone() }, GFP_KERNEL)?;
    threads.push(KThread::spawn(c_str!("ssi-sched"), body)?, GFP_KERNEL)?;
    match ExecHook::arm() {
        Ok(hook) => {
            let body = Arc::new(placer::Placer { cluster: cluster.clone(), sched: sched.clone(), hook }, GFP_KERNEL)?;
            threads.push(KThread::spawn(c_str!("ssi-place"), body)?, GFP_KERNEL)?;
        }
        Err(e) => pr_warn!("scheduler: no exec-time placement: cannot hook exec (error {})\n", e.to_errno()),
    }
    Ok(())
}

fn kernel_ms() -> u64 {
    crate::kernel_ext::mono_ms()
}

/// Handles `SchedLoad`, `SchedConfig`, `SchedChange` and `SchedOffer`.
struct SchedHandler {
    sched: Arc<SchedService>,
}

impl Handler<Cluster> for SchedHandler {
    fn handle(&self, cluster: &Cluster, msg: &Incoming<'_>) -> Result<KVec<u8>> {
        let from = msg.from_node();
        match MsgType::from_u8(msg.header.msg_type) {
            Some(MsgType::SchedLoad) => {
                let r = LoadReport::decode(msg.body).map_err(|e| {
                    self.sched.stats.malformed.fetch_add(1, Ordering::Relaxed);
                    if MALFORMED_LOG.allow() {
                        pr_warn!("scheduler: malformed load report from node {}: {:?}\n", from, e);
                    }
                    EINVAL
                })?;
                self.sched.state.lock().on_report(from, &r, kernel_ms());
                self.sched.stats.reports_in.fetch_add(1, Ordering::Relaxed);
            }
            Some(MsgType::SchedConfig) => {
                let c = Config::decode(msg.body).map_err(|e| {
                    self.sched.stats.malformed.fetch_add(1, Ordering::Relaxed);
                    if MALFORMED_LOG.allow() {
                        pr_warn!("scheduler: malformed configuration from node {}: {}\n", from, e.describe());
                    }
                    EINVAL
                })?;
                self.sched.take(from, c);
            }
            Some(MsgType::SchedChange) if msg.is_request() => return self.sched.on_change(cluster, from, msg.body),
            Some(MsgType::SchedOffer) if msg.is_request() => return self.sched.on_offer(from, msg.body),
            _ => return Err(EINVAL),
        }
        Ok(KVec::new())
    }
}
