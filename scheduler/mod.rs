// SPDX-License-Identifier: GPL-2.0
//! The scheduler (issue 21): the cluster balances its own load.
//!
//! The pure logic (probes' smoothing, filters, policies, the configuration
//! and its codec) is `proto::sched`; here it runs in the kernel:
//!
//! - [`SchedService`] holds the cluster-wide configuration
//!   (`sched::Config`): a change made on any node ([`SchedService::change`],
//!   from configfs) bumps its generation and is sent to every node
//!   (`SchedConfig`), which takes it if it supersedes its own; a node that
//!   joins gets it from every member (the balancer sends it to each node
//!   it sees for the first time).
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
        sched::{Config, ConfigError, LoadReport, PolicyKind, MAX_CONFIG_LEN},
        wire::MsgType,
    },
};
use core::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use kernel::{c_str, new_mutex, prelude::*, sync::Arc, sync::Mutex};

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

    /// Changes the configuration: `f` edits a copy; if it succeeds and the
    /// result is valid, the copy is the next generation, in force here and
    /// sent to every node of `cluster` (if the node is in one). `what`
    /// names the change in the log. A refused change leaves everything as
    /// it was and is logged with its reason (`EINVAL`).
    pub(crate) fn change(
        &self,
        cluster: Option<&Cluster>,
        what: &str,
        f: impl FnOnce(&mut Config) -> core::result::Result<(), ConfigError>,
    ) -> Result {
        let own = cluster.map_or(self.own_node(), |c| c.node_id());
        let next = {
            let mut cfg = self.config.lock();
            let mut next = *cfg;
            let checked = f(&mut next).and_then(|()| {
                next.bump(own);
                next.validate()
            });
            if let Err(e) = checked {
                pr_warn!("scheduler: {} refused: {}\n", what, e.describe());
                return Err(EINVAL);
            }
            *cfg = next;
            next
        };
        pr_info!("scheduler: {} (configuration generation {})\n", what, next.generation);
        if let Some(cluster) = cluster {
            send_config(cluster, &next, None);
        }
        Ok(())
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
    cluster.register_handler(MsgType::SchedConfig, handler)?;
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

/// Handles `SchedLoad` and `SchedConfig`.
struct SchedHandler {
    sched: Arc<SchedService>,
}

impl Handler<Cluster> for SchedHandler {
    fn handle(&self, _cluster: &Cluster, msg: &Incoming<'_>) -> Result<KVec<u8>> {
        let from = msg.from_node();
        match MsgType::from_u8(msg.header.msg_type) {
            Some(MsgType::SchedLoad) => {
                let r = LoadReport::decode(msg.body).map_err(|e| {
                    self.sched.stats.malformed.fetch_add(1, Ordering::Relaxed);
                    pr_warn!("scheduler: malformed load report from node {}: {:?}\n", from, e);
                    EINVAL
                })?;
                self.sched.state.lock().on_report(from, &r, kernel_ms());
                self.sched.stats.reports_in.fetch_add(1, Ordering::Relaxed);
            }
            Some(MsgType::SchedConfig) => {
                let c = Config::decode(msg.body).map_err(|e| {
                    self.sched.stats.malformed.fetch_add(1, Ordering::Relaxed);
                    pr_warn!("scheduler: malformed configuration from node {}: {}\n", from, e.describe());
                    EINVAL
                })?;
                self.sched.take(from, c);
            }
            _ => return Err(EINVAL),
        }
        Ok(KVec::new())
    }
}
