// SPDX-License-Identifier: GPL-2.0
//! This node: its settings (`identity.rs`), the cluster service while it
//! runs, the state the layers above the service keep across its restarts
//! (remote restarts, restore groups, migrations), and the configfs and
//! /proc files that show and change them. The composition root: it starts
//! the service with the layers' start functions.

use crate::{
    checkpoint::{
        remote::{RemoteRestarts, MAX_CTL_PATH},
        threads::RestoreGroups,
    },
    cluster::{Cluster, Service},
    configfs::{AttrDesc, Attribute, Page},
    ha::HaService,
    identity::{Identity, MAX_SECRET},
    krpc::stats::Stats,
    krpc_bench::{self as bench, BenchResult},
    kthread::KThread,
    migration::Migrations,
    pid_hook::{self, PidHook},
    procfs::{ProcShow, SeqFile},
    procspace::{signal::SignalRouting, ProcSpace, PsSource},
    proto::{identity as id, membership, pid_range, version, wire},
    scheduler::{config_tree::SchedHost, SchedService},
};
use core::fmt::Write;
use kernel::{c_str, new_mutex, prelude::*, str::CStr, sync::Arc, sync::Mutex};

/// This node: its settings and its cluster service.
#[pin_data]
pub(crate) struct Node {
    /// The settings the cluster service reads.
    pub(crate) identity: Arc<Identity>,
    /// The cluster service, while enabled.
    #[pin]
    service: Mutex<Option<Service>>,
    /// The last krpc benchmark run.
    #[pin]
    last_bench: Mutex<Option<BenchResult>>,
    /// Restarts this node carries out for other nodes (`ctl_path`).
    pub(crate) restarts: Arc<RemoteRestarts>,
    /// Threads of multithreaded restarts waiting for their process.
    pub(crate) restore_groups: Arc<RestoreGroups>,
    /// Deputies, hosted processes and recent migrations.
    pub(crate) migrations: Arc<Migrations>,
    /// The process space (`/proc/ssi/ps`, `ProcList`).
    pub(crate) procspace: Arc<ProcSpace>,
    /// The scheduler (`/proc/ssi/scheduler`, configfs `scheduler/`).
    pub(crate) scheduler: Arc<SchedService>,
    /// High availability (`/proc/ssi/ha`, `ssi-ctl ha`).
    pub(crate) ha: Arc<HaService>,
    /// This node's pid range: armed while in the cluster, or why not.
    #[pin]
    pids: Mutex<PidRangeState>,
    /// Routing of `kill` to other nodes' pids, while in the cluster and
    /// the kill hook could be armed.
    #[pin]
    kill_routing: Mutex<Option<SignalRouting>>,
}

/// This node's pid range (`proto::pid_range`, `modules/pid_hook.rs`).
enum PidRangeState {
    /// New pids come from the hook's range.
    Armed(PidHook),
    /// New pids come from the whole `pid_max` space, because of this.
    Off(PidRangeOff),
}

/// Why this node allocates pids without a range.
#[derive(Clone, Copy)]
enum PidRangeOff {
    /// The node is not in the cluster.
    NotJoined,
    /// Its node id has no range.
    NoRange(pid_range::NoRange),
    /// `pid_max` is below `PID_MAX_NEEDED`.
    PidMaxLow(u64),
    /// `pid_max` could not be read (errno).
    PidMaxUnreadable(i32),
    /// The hook could not be registered (errno).
    Hook(i32),
}

impl core::fmt::Display for PidRangeState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PidRangeState::Armed(h) => write!(f, "{}-{}", h.range().lo, h.range().hi),
            PidRangeState::Off(PidRangeOff::NotJoined) => write!(f, "off (not in the cluster)"),
            PidRangeState::Off(PidRangeOff::NoRange(r)) => write!(f, "off ({})", r.describe()),
            PidRangeState::Off(PidRangeOff::PidMaxLow(v)) => {
                write!(f, "off (pid_max {} below {})", v, pid_range::PID_MAX_NEEDED)
            }
            PidRangeState::Off(PidRangeOff::PidMaxUnreadable(e)) => write!(f, "off (pid_max unreadable: error {})", e),
            PidRangeState::Off(PidRangeOff::Hook(e)) => write!(f, "off (kprobe error {})", e),
        }
    }
}

/// Arms the pid range of node `node_id`, or says why it stays off. Never
/// changes `pid_max`.
#[inline(never)]
fn arm_pid_range(node_id: u32) -> PidRangeState {
    let range = match pid_range::range_of(node_id) {
        Ok(r) => r,
        Err(why) => {
            pr_warn!("node {}: no pid range ({}); pids are node-local\n", node_id, why.describe());
            return PidRangeState::Off(PidRangeOff::NoRange(why));
        }
    };
    match pid_hook::pid_max() {
        Ok(v) if pid_range::pid_max_suffices(v) => {}
        Ok(v) => {
            pr_warn!(
                "pid_max is {}, below {}: no pid range; write {} to /proc/sys/kernel/pid_max before joining\n",
                v,
                pid_range::PID_MAX_NEEDED,
                pid_range::PID_MAX_NEEDED
            );
            return PidRangeState::Off(PidRangeOff::PidMaxLow(v));
        }
        Err(e) => {
            pr_warn!("cannot read /proc/sys/kernel/pid_max (error {}): no pid range\n", e.to_errno());
            return PidRangeState::Off(PidRangeOff::PidMaxUnreadable(e.to_errno()));
        }
    }
    match PidHook::arm(range) {
        Ok(h) => PidRangeState::Armed(h),
        Err(e) => {
            pr_warn!("cannot arm pid range {}-{} (error {})\n", range.lo, range.hi, e.to_errno());
            PidRangeState::Off(PidRangeOff::Hook(e.to_errno()))
        }
    }
}

impl Node {
    /// A node with no id, address or secret yet, default port and timers.
    pub(crate) fn new() -> Result<Arc<Self>> {
        let identity = Identity::new()?;
        let restarts = RemoteRestarts::new()?;
        let restore_groups = RestoreGroups::new()?;
        let migrations = Migrations::new(restarts.clone(), restore_groups.clone())?;
        let procspace = ProcSpace::new(migrations.clone())?;
        let scheduler = SchedService::new(migrations.clone())?;
        let ha = HaService::new(migrations.clone(), scheduler.clone())?;
        Arc::pin_init(
            pin_init!(Node {
                identity,
                service <- new_mutex!(None),
                last_bench <- new_mutex!(None),
                restarts,
                restore_groups,
                migrations,
                procspace,
                scheduler,
                ha,
                pids <- new_mutex!(PidRangeState::Off(PidRangeOff::NotJoined)),
                kill_routing <- new_mutex!(None),
            }),
            GFP_KERNEL,
        )
    }

    /// The node id, 0 while unset.
    pub(crate) fn node_id(&self) -> u32 {
        self.identity.node_id()
    }

    /// Runs `f` on the cluster service if it is running.
    pub(crate) fn with_service<R>(&self, f: impl FnOnce(Option<&Service>) -> R) -> R {
        let service = self.service.lock();
        f(service.as_ref())
    }

    /// Starts (`true`) or stops the cluster service.
    pub(crate) fn set_enabled(&self, on: bool) -> Result {
        let mut service = self.service.lock();
        match (on, service.is_some()) {
            (true, false) => {
                let s = Service::start(&self.identity, |c| self.start_layers(c))?;
                *self.kill_routing.lock() = self.arm_kill_routing(&s.cluster());
                *service = Some(s);
                *self.pids.lock() = arm_pid_range(self.node_id());
            }
            (false, true) => {
                self.disarm_kill_routing();
                drop(service.take());
                self.disarm_pid_range();
            }
            _ => {}
        }
        Ok(())
    }

    /// Stops the cluster service (module unload).
    pub(crate) fn shutdown(&self) {
        self.disarm_kill_routing();
        let s = self.service.lock().take();
        drop(s);
        self.disarm_pid_range();
    }

    /// Routes `kill` of other nodes' pids through `cluster`, or logs why
    /// not (kills then stay node-local).
    #[inline(never)]
    fn arm_kill_routing(&self, cluster: &Arc<Cluster>) -> Option<SignalRouting> {
        match crate::procspace::signal::arm(cluster, &self.procspace) {
            Ok(r) => Some(r),
            Err(e) => {
                pr_warn!("cannot arm the kill hook (error {}): kill reaches this node's processes only\n", e.to_errno());
                None
            }
        }
    }

    /// Stops routing `kill`; waits for the routed calls in flight, before
    /// the cluster service they use stops.
    #[inline(never)]
    fn disarm_kill_routing(&self) {
        let old = self.kill_routing.lock().take();
        drop(old);
    }

    /// Back to the kernel's own pid allocation (the hook's drop
    /// unregisters it); `pid_max` stays as it is.
    #[inline(never)]
    fn disarm_pid_range(&self) {
        let old = core::mem::replace(&mut *self.pids.lock(), PidRangeState::Off(PidRangeOff::NotJoined));
        drop(old);
    }

    fn is_enabled(&self) -> bool {
        self.service.lock().is_some()
    }

    /// Refuses changes that a running service cannot follow.
    fn not_while_enabled(&self, what: &str) -> Result {
        if self.is_enabled() {
            pr_warn!("cannot change {} while the node is in the cluster (write 0 to enabled first)\n", what);
            return Err(EBUSY);
        }
        Ok(())
    }

    /// The layers above the cluster service, started with it: the krpc
    /// benchmark, remote restarts (checkpoint), migration and the process space register
    /// their own message handlers, with the state they keep here;
    /// migration runs its watcher thread.
    #[inline(never)]
    fn start_layers(&self, cluster: &Arc<Cluster>) -> Result<KVec<KThread>> {
        crate::krpc_bench::register(cluster)?;
        crate::checkpoint::remote::register(cluster, &self.restarts)?;
        crate::procspace::start(cluster, &self.procspace)?;
        let mut threads = KVec::new();
        threads.push(crate::migration::start(cluster, &self.migrations)?, GFP_KERNEL)?;
        crate::scheduler::start(cluster, &self.scheduler, &mut threads)?;
        crate::ha::start(cluster, &self.ha, &mut threads)?;
        Ok(threads)
    }
}

impl AsRef<HaService> for Node {
    fn as_ref(&self) -> &HaService {
        &self.ha
    }
}

impl AsRef<SchedService> for Node {
    fn as_ref(&self) -> &SchedService {
        &self.scheduler
    }
}

impl SchedHost for Node {
    fn sched(&self) -> &SchedService {
        &self.scheduler
    }

    fn cluster(&self) -> Option<Arc<Cluster>> {
        self.with_service(|s| s.map(|s| s.cluster()))
    }
}

impl AsRef<Migrations> for Node {
    fn as_ref(&self) -> &Migrations {
        &self.migrations
    }
}

impl PsSource for Node {
    fn procspace(&self) -> &ProcSpace {
        &self.procspace
    }

    fn own_node(&self) -> u16 {
        u16::try_from(self.node_id()).unwrap_or(0)
    }

    fn peers(&self) -> Result<Option<(Arc<Cluster>, KVec<u16>)>> {
        self.with_service(|s| {
            let Some(s) = s else { return Ok(None) };
            let cluster = s.cluster();
            let own = cluster.node_id();
            let peers = s.with_view(|view, _| {
                let mut v = KVec::new();
                for n in view.iter().filter(|n| n.state == membership::NodeState::Alive && n.id.get() != own) {
                    v.push(n.id.get(), GFP_KERNEL)?;
                }
                Ok::<_, Error>(v)
            })?;
            Ok(Some((cluster, peers)))
        })
    }
}

fn invalid(what: &str, input: &[u8], e: id::ParseError) -> Error {
    let shown = core::str::from_utf8(id::trim(input)).unwrap_or("<not text>");
    pr_warn!("rejected {} '{}': {}\n", what, shown, e.describe());
    EINVAL
}

type Data = Arc<Node>;

/// configfs `node_id`: this node's id in the cluster, 1..=4095 (0: unset).
pub(crate) struct NodeIdAttr;
impl Attribute<Data> for NodeIdAttr {
    const NAME: &'static CStr = c_str!("node_id");
    const WRITABLE: bool = true;
    fn show(data: &Data, out: &mut Page<'_>) -> Result {
        out.line(data.node_id())
    }
    fn store(data: &Data, input: &[u8]) -> Result {
        let v = id::parse_node_id(input).map_err(|e| invalid("node_id", input, e))?;
        data.not_while_enabled("node_id")?;
        if data.identity.set_node_id(v) {
            pr_info!("node id set to {}\n", v);
        }
        Ok(())
    }
}

/// configfs `address`: this node's IPv4 address (0.0.0.0: unset).
pub(crate) struct AddressAttr;
impl Attribute<Data> for AddressAttr {
    const NAME: &'static CStr = c_str!("address");
    const WRITABLE: bool = true;
    fn show(data: &Data, out: &mut Page<'_>) -> Result {
        out.line(data.identity.address())
    }
    fn store(data: &Data, input: &[u8]) -> Result {
        let v = id::parse_ipv4(input).map_err(|e| invalid("address", input, e))?;
        data.not_while_enabled("address")?;
        if data.identity.set_address(v) {
            pr_info!("address set to {}\n", v);
        }
        Ok(())
    }
}

/// configfs `port`: the TCP port krpc listens on.
pub(crate) struct PortAttr;
impl Attribute<Data> for PortAttr {
    const NAME: &'static CStr = c_str!("port");
    const WRITABLE: bool = true;
    fn show(data: &Data, out: &mut Page<'_>) -> Result {
        out.line(data.identity.port())
    }
    fn store(data: &Data, input: &[u8]) -> Result {
        let v = id::parse_port(input).map_err(|e| invalid("port", input, e))?;
        data.not_while_enabled("port")?;
        if data.identity.set_port(v) {
            pr_info!("krpc port set to {}\n", v);
        }
        Ok(())
    }
}

/// configfs `seeds`: nodes to contact when joining, `a.b.c.d[:port]`, separated by commas or spaces.
pub(crate) struct SeedsAttr;
impl Attribute<Data> for SeedsAttr {
    const NAME: &'static CStr = c_str!("seeds");
    const WRITABLE: bool = true;
    fn show(data: &Data, out: &mut Page<'_>) -> Result {
        data.identity.write_seeds(out).map_err(|_| EINVAL)?;
        writeln!(out).map_err(|_| EINVAL)
    }
    fn store(data: &Data, input: &[u8]) -> Result {
        let mut list = [(id::Ipv4::UNSET, 0); id::MAX_SEEDS];
        let n = id::parse_seeds(input, &mut list).map_err(|e| invalid("seeds", input, e))?;
        data.identity.set_seeds(list, n);
        pr_info!("{} seed(s) set\n", n);
        Ok(())
    }
}

/// configfs `ctl_path`: the `ssi-ctl` this node starts to restart an image
/// for another node (`ssi-ctl restart --node`); default /usr/sbin/ssi-ctl.
pub(crate) struct CtlPathAttr;
impl Attribute<Data> for CtlPathAttr {
    const NAME: &'static CStr = c_str!("ctl_path");
    const WRITABLE: bool = true;
    fn show(data: &Data, out: &mut Page<'_>) -> Result {
        let mut buf = [0u8; MAX_CTL_PATH];
        let n = data.restarts.ctl_path(&mut buf);
        out.line(core::str::from_utf8(&buf[..n]).unwrap_or("?"))
    }
    fn store(data: &Data, input: &[u8]) -> Result {
        data.restarts.set_ctl_path(id::trim(input)).inspect_err(|_| {
            pr_warn!("rejected ctl_path: an absolute path of at most {} bytes\n", MAX_CTL_PATH);
        })
    }
}

/// configfs `secret`: the cluster secret, write-only (never readable back).
pub(crate) struct SecretAttr;
impl Attribute<Data> for SecretAttr {
    const NAME: &'static CStr = c_str!("secret");
    const WRITABLE: bool = true;
    const READABLE: bool = false;
    fn show(_data: &Data, _out: &mut Page<'_>) -> Result {
        Err(EPERM)
    }
    fn store(data: &Data, input: &[u8]) -> Result {
        let s = id::trim(input);
        if s.is_empty() || s.len() > MAX_SECRET {
            pr_warn!("rejected secret: must be 1 to {} bytes\n", MAX_SECRET);
            return Err(EINVAL);
        }
        data.not_while_enabled("secret")?;
        data.identity.set_secret(s);
        pr_info!("cluster secret set\n");
        Ok(())
    }
}

/// A timer setting in milliseconds, bounded, changeable at any time (the
/// service reads it on every use).
macro_rules! timer_attr {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $get:ident, $set:ident, $min:expr, $max:expr) => {
        $(#[$doc])*
        pub(crate) struct $ty;
        impl Attribute<Data> for $ty {
            const NAME: &'static CStr = c_str!($name);
            const WRITABLE: bool = true;
            fn show(data: &Data, out: &mut Page<'_>) -> Result {
                out.line(data.identity.$get())
            }
            fn store(data: &Data, input: &[u8]) -> Result {
                let v = id::parse_decimal(input, $min, $max).map_err(|e| invalid($name, input, e))?;
                data.identity.$set(v as u32);
                Ok(())
            }
        }
    };
}

timer_attr!(
    /// configfs `heartbeat_ms`: heartbeat interval, 100..=60000 ms.
    HeartbeatAttr, "heartbeat_ms", heartbeat_ms, set_heartbeat_ms, 100, 60_000
);
timer_attr!(
    /// configfs `dead_after_ms`: silence after which a node is declared dead, 300..=600000 ms.
    DeadAfterAttr, "dead_after_ms", dead_after_ms, set_dead_after_ms, 300, 600_000
);

/// configfs `ps_refresh_ms`: how old the other nodes' processes in `/proc`
/// may be, 100..=60000 ms (every lookup of a remote pid reads the view: it
/// cannot be fetched anew for each).
pub(crate) struct PsRefreshAttr;
impl Attribute<Data> for PsRefreshAttr {
    const NAME: &'static CStr = c_str!("ps_refresh_ms");
    const WRITABLE: bool = true;
    fn show(data: &Data, out: &mut Page<'_>) -> Result {
        out.line(data.procspace.refresh_ms.load(core::sync::atomic::Ordering::Relaxed))
    }
    fn store(data: &Data, input: &[u8]) -> Result {
        let v = id::parse_decimal(input, 100, 60_000).map_err(|e| invalid("ps_refresh_ms", input, e))?;
        data.procspace.refresh_ms.store(v, core::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

/// configfs `ha_dir`: where protected processes' checkpoint images go
/// (`ha/images.rs`); default /cluster/ssi-ha, on the shared file system.
pub(crate) struct HaDirAttr;
impl Attribute<Data> for HaDirAttr {
    const NAME: &'static CStr = c_str!("ha_dir");
    const WRITABLE: bool = true;
    fn show(data: &Data, out: &mut Page<'_>) -> Result {
        out.line(data.ha.dir().as_str())
    }
    fn store(data: &Data, input: &[u8]) -> Result {
        data.ha.set_dir(id::trim(input)).inspect_err(|_| {
            pr_warn!("rejected ha_dir: an absolute path of at most {} bytes\n", crate::ha::images::MAX_DIR - 1);
        })
    }
}

/// configfs `ha_interval_s`: the checkpoint interval of `ssi-ctl ha on`
/// without `--interval` (1..3600, default 30).
pub(crate) struct HaIntervalAttr;
impl Attribute<Data> for HaIntervalAttr {
    const NAME: &'static CStr = c_str!("ha_interval_s");
    const WRITABLE: bool = true;
    fn show(data: &Data, out: &mut Page<'_>) -> Result {
        out.line(data.ha.state.lock().default_interval_s)
    }
    fn store(data: &Data, input: &[u8]) -> Result {
        let (lo, hi) = (crate::proto::ha::MIN_INTERVAL_S, crate::proto::ha::MAX_INTERVAL_S);
        let v = id::parse_decimal(input, lo.into(), hi.into()).map_err(|e| invalid("ha_interval_s", input, e))?;
        data.ha.set_default_interval(u32::try_from(v).map_err(|_| EINVAL)?)
    }
}

/// configfs `ha_full_every`: a full checkpoint image every this many
/// (1..16: 1 makes every image full), the others incremental.
pub(crate) struct HaFullEveryAttr;
impl Attribute<Data> for HaFullEveryAttr {
    const NAME: &'static CStr = c_str!("ha_full_every");
    const WRITABLE: bool = true;
    fn show(data: &Data, out: &mut Page<'_>) -> Result {
        out.line(data.ha.state.lock().full_every)
    }
    fn store(data: &Data, input: &[u8]) -> Result {
        let max = crate::proto::ha::MAX_CHAIN as u64;
        let v = id::parse_decimal(input, 1, max).map_err(|e| invalid("ha_full_every", input, e))?;
        data.ha.set_full_every(u32::try_from(v).map_err(|_| EINVAL)?)
    }
}

/// configfs `merged_proc`: 1 (default) makes `/proc/meminfo`, `stat`,
/// `cpuinfo` and `loadavg` describe the cluster while the node is in one;
/// 0 leaves them the kernel's (`procspace/resources.rs`).
pub(crate) struct MergedProcAttr;
impl Attribute<Data> for MergedProcAttr {
    const NAME: &'static CStr = c_str!("merged_proc");
    const WRITABLE: bool = true;
    fn show(data: &Data, out: &mut Page<'_>) -> Result {
        out.line(u8::from(data.procspace.resources.merged.load(core::sync::atomic::Ordering::Relaxed)))
    }
    fn store(data: &Data, input: &[u8]) -> Result {
        let v = id::parse_decimal(input, 0, 1).map_err(|e| invalid("merged_proc", input, e))?;
        data.procspace.resources.merged.store(v == 1, core::sync::atomic::Ordering::Relaxed);
        // Cached dentries of the files, the kernel's or the merged ones:
        // the next lookup asks again.
        for name in crate::procspace::resources::ROOT_FILES {
            crate::proc_root::forget(name);
        }
        Ok(())
    }
}

/// configfs `enabled`: 1 joins the cluster, 0 leaves it.
pub(crate) struct EnabledAttr;
impl Attribute<Data> for EnabledAttr {
    const NAME: &'static CStr = c_str!("enabled");
    const WRITABLE: bool = true;
    fn show(data: &Data, out: &mut Page<'_>) -> Result {
        out.line(u8::from(data.is_enabled()))
    }
    fn store(data: &Data, input: &[u8]) -> Result {
        let v = id::parse_decimal(input, 0, 1).map_err(|e| invalid("enabled", input, e))?;
        data.set_enabled(v == 1)
    }
}

/// configfs `bench`: write `echo NODE SIZE COUNT` or `stream NODE SIZE
/// COUNT` to run a krpc benchmark (the write returns when it is done);
/// read the last result.
pub(crate) struct BenchAttr;
impl Attribute<Data> for BenchAttr {
    const NAME: &'static CStr = c_str!("bench");
    const WRITABLE: bool = true;
    fn show(data: &Data, out: &mut Page<'_>) -> Result {
        match *data.last_bench.lock() {
            Some(r) => write!(out, "{r}").map_err(|_| EINVAL),
            None => writeln!(out, "no run yet").map_err(|_| EINVAL),
        }
    }
    fn store(data: &Data, input: &[u8]) -> Result {
        let spec = crate::proto::bench::parse_bench(input).map_err(|e| invalid("bench", input, e))?;
        let cluster = data.with_service(|s| s.map(|s| s.cluster())).ok_or_else(crate::kernel_ext::enotconn)?;
        let result = bench::run(&cluster, spec)?;
        *data.last_bench.lock() = Some(result);
        // The writer learns why a run stopped early; the file keeps the details.
        result.error().map_or(Ok(()), Err)
    }
}

/// configfs `drop_next`: fault injection (root only, for tests): write
/// `TYPE COUNT` and the next COUNT frames of message type TYPE this node
/// sends are lost (`krpc/faults.rs`); `TYPE 0` cancels. Reading lists what
/// is still to be dropped.
pub(crate) struct DropNextAttr;
impl Attribute<Data> for DropNextAttr {
    const NAME: &'static CStr = c_str!("drop_next");
    const WRITABLE: bool = true;
    fn show(data: &Data, out: &mut Page<'_>) -> Result {
        for (kind, n) in data.identity.stats.faults.pending() {
            writeln!(out, "{} {}", kind.name(), n).map_err(|_| EINVAL)?;
        }
        Ok(())
    }
    fn store(data: &Data, input: &[u8]) -> Result {
        let spec = crate::proto::reliable::parse_drop(input).map_err(|e| invalid("drop_next", input, e))?;
        data.identity.stats.faults.set(spec.kind, spec.count);
        pr_info!("fault injection: the next {} {} frame(s) this node sends will be lost\n", spec.count, spec.kind.name());
        Ok(())
    }
}

/// configfs `version`: release, read-only.
pub(crate) struct VersionAttr;
impl Attribute<Data> for VersionAttr {
    const NAME: &'static CStr = c_str!("version");
    fn show(_data: &Data, out: &mut Page<'_>) -> Result {
        out.line(version::RELEASE)
    }
}

/// Every attribute of `/sys/kernel/config/ssi`.
pub(crate) const CONFIG_ATTRS: [AttrDesc<Data>; 18] = [
    AttrDesc::of::<NodeIdAttr>(),
    AttrDesc::of::<AddressAttr>(),
    AttrDesc::of::<PortAttr>(),
    AttrDesc::of::<SeedsAttr>(),
    AttrDesc::of::<SecretAttr>(),
    AttrDesc::of::<HeartbeatAttr>(),
    AttrDesc::of::<DeadAfterAttr>(),
    AttrDesc::of::<EnabledAttr>(),
    AttrDesc::of::<BenchAttr>(),
    AttrDesc::of::<DropNextAttr>(),
    AttrDesc::of::<VersionAttr>(),
    AttrDesc::of::<NodesAttr>(),
    AttrDesc::of::<CtlPathAttr>(),
    AttrDesc::of::<PsRefreshAttr>(),
    AttrDesc::of::<MergedProcAttr>(),
    AttrDesc::of::<HaDirAttr>(),
    AttrDesc::of::<HaIntervalAttr>(),
    AttrDesc::of::<HaFullEveryAttr>(),
];

/// `/proc/ssi/version`: `key: value` lines that ssi-ctl reads.
pub(crate) struct VersionFile;
impl ProcShow<Node> for VersionFile {
    const NAME: &'static CStr = c_str!("version");
    fn show(_data: &Node, out: &mut SeqFile<'_>) -> Result {
        write!(out, "release: {}\ninterface: {}\n", version::RELEASE, version::INTERFACE).map_err(|_| ENOSPC)
    }
}

/// `/proc/ssi/node`: this node's identity, `key: value` lines.
pub(crate) struct NodeFile;
impl ProcShow<Node> for NodeFile {
    const NAME: &'static CStr = c_str!("node");
    fn show(data: &Node, out: &mut SeqFile<'_>) -> Result {
        let (enabled, incarnation, peers) =
            data.with_service(|s| s.map_or((0, 0, 0), |s| (1, s.incarnation(), s.connected())));
        write!(
            out,
            "node_id: {}\naddress: {}\nport: {}\nenabled: {}\nincarnation: {:08x}\nconnected_peers: {}\npid_range: {}\n",
            data.node_id(),
            data.identity.address(),
            data.identity.port(),
            enabled,
            incarnation,
            peers,
            *data.pids.lock()
        )
        .map_err(|_| ENOSPC)
    }
}

/// The header of the node table (`/proc/ssi/nodes`, configfs `nodes`).
fn write_node_header(out: &mut impl Write) -> core::fmt::Result {
    writeln!(
        out,
        "{:>4} {:<15} {:>5} {:<6} {:>8} {:>4} {:>12} {:>12} {:>6} {:>6} {:>6} {:>9}",
        "id", "address", "port", "state", "incarn", "cpus", "mem_kib", "free_kib", "load1", "load5", "load15", "heard_ms"
    )
}

/// One node's line of the node table.
fn write_node_line(out: &mut impl Write, n: &membership::Node, now_ms: u64) -> core::fmt::Result {
    let l: [(u32, u32); 3] = [
        wire::format_load(n.resources.load[0]),
        wire::format_load(n.resources.load[1]),
        wire::format_load(n.resources.load[2]),
    ];
    writeln!(
        out,
        "{:>4} {:<15} {:>5} {:<6} {:08x} {:>4} {:>12} {:>12} {:>3}.{:02} {:>3}.{:02} {:>3}.{:02} {:>9}",
        n.id.get(),
        id::Ipv4(n.address),
        n.port,
        n.state.name(),
        n.incarnation,
        n.resources.cpus,
        n.resources.mem_total_kib,
        n.resources.mem_free_kib,
        l[0].0,
        l[0].1,
        l[1].0,
        l[1].1,
        l[2].0,
        l[2].1,
        now_ms.saturating_sub(n.last_heard)
    )
}

/// `/proc/ssi/nodes`: every known node, one line each.
pub(crate) struct NodesFile;
impl ProcShow<Node> for NodesFile {
    const NAME: &'static CStr = c_str!("nodes");
    fn show(data: &Node, out: &mut SeqFile<'_>) -> Result {
        write_node_header(out).map_err(|_| ENOSPC)?;
        data.with_service(|s| {
            let Some(s) = s else { return Ok(()) };
            s.with_view(|view, now| {
                for n in view.iter() {
                    write_node_line(out, n, now).map_err(|_| ENOSPC)?;
                }
                Ok(())
            })
        })
    }
}

/// configfs `nodes`: the same table as `/proc/ssi/nodes`, read-only. A
/// configfs file holds one page: past about 45 nodes the table ends with a
/// pointer to `/proc/ssi/nodes`, which has no such limit.
pub(crate) struct NodesAttr;
impl Attribute<Data> for NodesAttr {
    const NAME: &'static CStr = c_str!("nodes");
    fn show(data: &Data, out: &mut Page<'_>) -> Result {
        const MORE: &str = "(more nodes: see /proc/ssi/nodes)\n";
        write_node_header(out).map_err(|_| EINVAL)?;
        data.with_service(|s| {
            let Some(s) = s else { return Ok(()) };
            s.with_view(|view, now| {
                for n in view.iter() {
                    let mut line = LineBuf::new();
                    write_node_line(&mut line, n, now).map_err(|_| EINVAL)?;
                    if out.remaining() < line.as_str().len() + MORE.len() {
                        return out.write_str(MORE).map_err(|_| EINVAL);
                    }
                    out.write_str(line.as_str()).map_err(|_| EINVAL)?;
                }
                Ok(())
            })
        })
    }
}

/// One formatted line of the node table.
type LineBuf = crate::kernel_ext::StackStr<160>;

/// `/proc/ssi/resources`: merged resources of the alive nodes.
pub(crate) struct ResourcesFile;
impl ProcShow<Node> for ResourcesFile {
    const NAME: &'static CStr = c_str!("resources");
    fn show(data: &Node, out: &mut SeqFile<'_>) -> Result {
        data.with_service(|s| {
            let t = match s {
                Some(s) => s.with_view(|view, _| view.totals()),
                None => {
                    let r = crate::cluster::local_resources();
                    crate::proto::membership::Totals {
                        alive_nodes: 1,
                        cpus: r.cpus,
                        mem_total_kib: r.mem_total_kib,
                        mem_free_kib: r.mem_free_kib,
                    }
                }
            };
            write!(
                out,
                "nodes: {}\ncpus: {}\nmem_total_kib: {}\nmem_free_kib: {}\n",
                t.alive_nodes, t.cpus, t.mem_total_kib, t.mem_free_kib
            )
            .map_err(|_| ENOSPC)
        })
    }
}

/// `/proc/ssi/krpc`: krpc counters.
pub(crate) struct KrpcFile;
impl ProcShow<Node> for KrpcFile {
    const NAME: &'static CStr = c_str!("krpc");
    fn show(data: &Node, out: &mut SeqFile<'_>) -> Result {
        let s = &data.identity.stats;
        write!(
            out,
            "frames_sent: {}\nframes_received: {}\nbytes_sent: {}\nbytes_received: {}\nconnections: {}\n\
             auth_failures: {}\nbad_macs: {}\nreplays: {}\nmalformed: {}\nrefused_busy: {}\nsend_errors: {}\nlate_replies: {}\ncalls_in_flight: {}\n\
             handled: {}\nhandler_errors: {}\nunhandled: {}\n\
             tag_us: {}\nsocket_send_us: {}\nbody_recv_us: {}\ninbox_full_us: {}\nhandler_us: {}\n\
             reliable_sent: {}\nreliable_resent: {}\nreliable_acked: {}\nreliable_given_up: {}\n\
             reliable_duplicates: {}\nreliable_pending: {}\ndropped_on_purpose: {}\n\
             proclist_served: {}\nproclist_failed: {}\n\
             signals_routed: {}\nsignals_served: {}\nsignals_refused: {}\nsignals_failed: {}\n\
             nodestats_served: {}\nnodestats_failed: {}\n",
            Stats::get(&s.frames_sent),
            Stats::get(&s.frames_received),
            Stats::get(&s.bytes_sent),
            Stats::get(&s.bytes_received),
            Stats::get(&s.connections),
            Stats::get(&s.auth_failures),
            Stats::get(&s.bad_macs),
            Stats::get(&s.replays),
            Stats::get(&s.malformed),
            Stats::get(&s.refused_busy),
            Stats::get(&s.send_errors),
            Stats::get(&s.late_replies),
            data.with_service(|svc| svc.map_or(0, |svc| svc.cluster().calls_in_flight())),
            Stats::get(&s.handled),
            Stats::get(&s.handler_errors),
            Stats::get(&s.unhandled),
            Stats::get(&s.tag_ns) / 1000,
            Stats::get(&s.socket_send_ns) / 1000,
            Stats::get(&s.body_recv_ns) / 1000,
            Stats::get(&s.inbox_full_ns) / 1000,
            Stats::get(&s.handler_ns) / 1000,
            Stats::get(&s.reliable_sent),
            Stats::get(&s.reliable_resent),
            Stats::get(&s.reliable_acked),
            Stats::get(&s.reliable_given_up),
            Stats::get(&s.reliable_duplicates),
            data.with_service(|svc| svc.map_or(0, |svc| svc.cluster().reliable_pending())),
            Stats::get(&s.faults.dropped),
            Stats::get(&data.procspace.served),
            Stats::get(&data.procspace.failed),
            Stats::get(&data.procspace.signals.routed),
            Stats::get(&data.procspace.signals.served),
            Stats::get(&data.procspace.signals.refused),
            Stats::get(&data.procspace.signals.failed),
            Stats::get(&data.procspace.resources.served),
            Stats::get(&data.procspace.resources.failed),
        )
        .map_err(|_| ENOSPC)
    }
}

/// `/proc/ssi/peers`: one line per connected peer: traffic, send queue and
/// inbox backlog, and round-trip times measured by the RTT probes.
pub(crate) struct PeersFile;
impl ProcShow<Node> for PeersFile {
    const NAME: &'static CStr = c_str!("peers");
    fn show(data: &Node, out: &mut SeqFile<'_>) -> Result {
        writeln!(
            out,
            "{:>4} {:<15} {:>10} {:>10} {:>12} {:>12} {:>6} {:>6} {:>6} {:>9} {:>9} {:>9}",
            "id",
            "address",
            "frames_tx",
            "frames_rx",
            "bytes_tx",
            "bytes_rx",
            "sendq",
            "inbox",
            "qwaits",
            "rtt_us",
            "rtt_avg",
            "rtt_min"
        )
        .map_err(|_| ENOSPC)?;
        let conns = data.with_service(|s| s.map(|s| s.cluster().connections()).transpose())?;
        for c in conns.iter().flat_map(|v| v.iter()) {
            let st = &c.stats;
            let us = |a: &core::sync::atomic::AtomicU64| Stats::get(a) / 1000;
            writeln!(
                out,
                "{:>4} {:<15} {:>10} {:>10} {:>12} {:>12} {:>6} {:>6} {:>6} {:>9} {:>9} {:>9}",
                c.peer.node_id,
                id::Ipv4(c.peer.address),
                Stats::get(&st.frames_sent),
                Stats::get(&st.frames_received),
                Stats::get(&st.bytes_sent),
                Stats::get(&st.bytes_received),
                c.queue.backlog().0,
                c.inbox.backlog().0,
                Stats::get(&c.queue.waits),
                us(&st.rtt_last_ns),
                us(&st.rtt_avg_ns),
                us(&st.rtt_min_ns),
            )
            .map_err(|_| ENOSPC)?;
        }
        Ok(())
    }
}
