// SPDX-License-Identifier: GPL-2.0
//! Merged resources (issue 20): on a node in a cluster, `/proc/meminfo`,
//! `/proc/stat`, `/proc/cpuinfo` and `/proc/loadavg` describe the whole
//! cluster, so unmodified `free`, `top` and `vmstat` show it.
//!
//! - Each node's facts are what its kernel's own files say, read through
//!   a private procfs mount (`sys::KernelProc`, which the `/proc` root
//!   hook does not reach) and parsed into a `proto::node_stats` record.
//!   The `NodeStats` handler answers a peer with this node's record; the
//!   cluster's files are rendered from every alive node's record in
//!   node-id order (`proto::node_stats`: sums, CPUs numbered across
//!   nodes, `btime` and the last pid this node's).
//! - This node's record is read fresh for every open; the others' are
//!   kept for at most `ps_refresh_ms` (the process listing's knob), one
//!   refresh at a time, each call waiting at most [`CALL_TIMEOUT_MS`]. A
//!   node that fails is left out (and logged, at most once per
//!   [`WARN_EVERY_MS`]).
//! - configfs `merged_proc` (default 1) turns it off: the four files are
//!   the kernel's again. Out of a cluster they are the kernel's text as
//!   it is. `/proc/ssi/local_*` always show this node's own.
//! - `/proc/uptime` stays this node's: `ps` computes START and %CPU from
//!   it and `btime`; `nproc` counts the CPUs a process may run on here.

use super::{sys::KernelProc, ProcSpace, PsSource, Text, CALL_TIMEOUT_MS};
use crate::{
    cluster::Cluster,
    kernel_ext::mono_ms,
    krpc::handlers::{Handler, Incoming},
    procfs::{ProcShow, SeqFile},
    proto::{
        node_stats::{self, NodeStats, Texts},
        wire::MsgType,
    },
};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use kernel::{c_str, new_mutex, prelude::*, str::CStr, sync::Arc, sync::Mutex};

/// Malformed messages from other nodes: logged at most once a second.
static MALFORMED_LOG: crate::kernel_ext::LogLimit = crate::kernel_ext::LogLimit::new();

/// "Left out" warnings, at most one per this long.
const WARN_EVERY_MS: u64 = 60_000;
/// The longest kernel text read (cpuinfo of a very large machine).
const MAX_TEXT: usize = 4 << 20;

/// The files of the `/proc` root merged, by index.
pub(crate) static ROOT_FILES: [&CStr; 4] = [c_str!("meminfo"), c_str!("stat"), c_str!("cpuinfo"), c_str!("loadavg")];

/// The other nodes' records at one moment, each checked, by node id.
struct Remote {
    at_ms: u64,
    records: KVec<(u16, KVec<u8>)>,
}

/// The merged resources' state, part of the process space.
#[pin_data]
pub(crate) struct Resources {
    /// The kernel's own files (`None`: procfs could not be mounted; then
    /// nothing is merged).
    kproc: Option<KernelProc>,
    /// configfs `merged_proc`: whether the four files are merged.
    pub(crate) merged: AtomicBool,
    /// `NodeStats` requests answered.
    pub(crate) served: AtomicU64,
    /// `NodeStats` calls that failed (that node was left out).
    pub(crate) failed: AtomicU64,
    #[pin]
    current: Mutex<Option<Arc<Remote>>>,
    /// Held by the one refresh under way.
    #[pin]
    refreshing: Mutex<()>,
    warned_ms: AtomicU64,
}

impl Resources {
    /// Mounts the private procfs (of the caller's pid namespace: module
    /// load's).
    pub(crate) fn new() -> impl PinInit<Self> {
        let kproc = KernelProc::mount()
            .inspect_err(|e| {
                pr_warn!("merged /proc files off: cannot mount procfs (error {})\n", e.to_errno());
            })
            .ok();
        pin_init!(Resources {
            kproc,
            merged: AtomicBool::new(true),
            served: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            current <- new_mutex!(None),
            refreshing <- new_mutex!(()),
            warned_ms: AtomicU64::new(0),
        })
    }

    /// The kernel's own text of `/proc/<name>` on this node, read now.
    pub(crate) fn local_text(&self, name: &CStr) -> Result<KVVec<u8>> {
        let kproc = self.kproc.as_ref().ok_or(ENOENT)?;
        let mut cap = 16 * 1024;
        loop {
            let mut buf = KVVec::from_elem(0u8, cap, GFP_KERNEL)?;
            let n = kproc.read(name, &mut buf)?;
            if n < cap {
                let mut text = KVVec::with_capacity(n, GFP_KERNEL)?;
                text.extend_from_slice(&buf[..n], GFP_KERNEL)?;
                return Ok(text);
            }
            if cap >= MAX_TEXT {
                return Err(EFBIG);
            }
            cap *= 2;
        }
    }

    /// This node's record, read now.
    pub(crate) fn local_record(&self) -> Result<KVec<u8>> {
        let meminfo = self.local_text(c_str!("meminfo"))?;
        let stat = self.local_text(c_str!("stat"))?;
        let loadavg = self.local_text(c_str!("loadavg"))?;
        let cpuinfo = self.local_text(c_str!("cpuinfo"))?;
        let t = Texts { meminfo: &meminfo, stat: &stat, loadavg: &loadavg, cpuinfo: &cpuinfo };
        let mut out = KVec::from_elem(0u8, node_stats::encoded_len(&stat), GFP_KERNEL)?;
        let n = node_stats::encode(&t, &mut out).map_err(|_| EINVAL)?;
        if n != out.len() {
            return Err(EINVAL);
        }
        Ok(out)
    }

    /// The other nodes' records, at most `refresh_ms` old (or, if a
    /// refresh fails, none).
    fn remote(&self, src: &impl PsSource) -> Option<Arc<Remote>> {
        let max_age = src.procspace().refresh_ms.load(Ordering::Relaxed);
        let fresh = |v: &Option<Arc<Remote>>| v.as_ref().filter(|v| mono_ms().saturating_sub(v.at_ms) <= max_age).cloned();
        if let Some(v) = fresh(&self.current.lock()) {
            return Some(v);
        }
        let _one_at_a_time = self.refreshing.lock();
        if let Some(v) = fresh(&self.current.lock()) {
            return Some(v);
        }
        let v = Arc::new(self.fetch(src).ok()?, GFP_KERNEL).ok()?;
        *self.current.lock() = Some(v.clone());
        Some(v)
    }

    /// Asks every other alive node for its record.
    fn fetch(&self, src: &impl PsSource) -> Result<Remote> {
        let at_ms = mono_ms();
        let mut records = KVec::new();
        let own = src.own_node();
        if let Some((cluster, peers)) = src.peers()? {
            for &node in peers.iter().filter(|&&n| n != own) {
                match call(&cluster, node) {
                    Ok(r) => records.push((node, r), GFP_KERNEL)?,
                    Err(e) if e == EINTR || e == ERESTARTSYS => return Err(e),
                    Err(e) => {
                        self.failed.fetch_add(1, Ordering::Relaxed);
                        let last = self.warned_ms.load(Ordering::Relaxed);
                        if last == 0 || mono_ms().saturating_sub(last) >= WARN_EVERY_MS {
                            self.warned_ms.store(mono_ms(), Ordering::Relaxed);
                            pr_warn!("/proc: node {} left out of the merged resources (error {})\n", node, e.to_errno());
                        }
                    }
                }
            }
        }
        Ok(Remote { at_ms, records })
    }

    /// The text of merged file `index`: the cluster's, or out of a
    /// cluster the kernel's own.
    fn merged_text(&self, src: &impl PsSource, index: usize) -> Result<KVVec<u8>> {
        let name = ROOT_FILES.get(index).ok_or(ENOENT)?;
        if src.peers()?.is_none() {
            return self.local_text(name);
        }
        let own_record = self.local_record()?;
        let remote = self.remote(src);
        let own_id = src.own_node();
        let mut nodes: KVec<(u16, NodeStats<'_>)> = KVec::new();
        nodes.push((own_id, NodeStats::decode(&own_record).map_err(|_| EINVAL)?), GFP_KERNEL)?;
        if let Some(r) = remote.as_ref() {
            for (node, body) in r.records.iter() {
                // Checked when it came.
                if let Ok(s) = NodeStats::decode(body) {
                    nodes.push((*node, s), GFP_KERNEL)?;
                }
            }
        }
        nodes.sort_unstable_by_key(|(n, _)| *n);
        let mut list: KVec<NodeStats<'_>> = KVec::with_capacity(nodes.len(), GFP_KERNEL)?;
        for (_, s) in nodes.iter() {
            list.push(*s, GFP_KERNEL)?;
        }
        let own = nodes.iter().position(|(n, _)| *n == own_id).unwrap_or(0);
        let mut text = Text(KVVec::new());
        let r = match index {
            0 => node_stats::write_meminfo(&list, own, &mut text),
            1 => node_stats::write_stat(&list, own, &mut text),
            2 => node_stats::write_cpuinfo(&list, &mut text),
            _ => node_stats::write_loadavg(&list, own, &mut text),
        };
        r.map_err(|_| ENOMEM)?;
        Ok(text.0)
    }
}

/// One `NodeStats` call to `node`: its record, checked.
fn call(cluster: &Cluster, node: u16) -> Result<KVec<u8>> {
    let mut q = [0u8; node_stats::REQUEST_LEN];
    let n = node_stats::encode_request(&mut q).map_err(|_| EINVAL)?;
    let reply = cluster.call(node, MsgType::NodeStats, &q[..n], CALL_TIMEOUT_MS)?;
    NodeStats::decode(&reply).map_err(|e| {
        if MALFORMED_LOG.allow() {
            pr_warn!("malformed NodeStats reply from node {}: {:?}\n", node, e);
        }
        EINVAL
    })?;
    Ok(reply)
}

/// Registers the `NodeStats` handler.
pub(crate) fn register(cluster: &Arc<Cluster>, space: &Arc<ProcSpace>) -> Result {
    let handler: Arc<dyn Handler<Cluster>> = Arc::new(NodeStatsHandler { space: space.clone() }, GFP_KERNEL)?;
    cluster.register_handler(MsgType::NodeStats, handler)
}

/// Answers `NodeStats` with this node's record.
struct NodeStatsHandler {
    space: Arc<ProcSpace>,
}

impl Handler<Cluster> for NodeStatsHandler {
    fn handle(&self, _cluster: &Cluster, msg: &Incoming<'_>) -> Result<KVec<u8>> {
        node_stats::decode_request(msg.body).map_err(|e| {
            if MALFORMED_LOG.allow() {
                pr_warn!("malformed NodeStats request from node {}: {:?}\n", msg.from_node(), e);
            }
            EINVAL
        })?;
        let r = self.space.resources.local_record()?;
        self.space.resources.served.fetch_add(1, Ordering::Relaxed);
        Ok(r)
    }
}

/// [`RemoteProcs::root_file`](crate::proc_root::RemoteProcs::root_file):
/// the index of a merged file, while `merged_proc` is on.
pub(crate) fn root_file(src: &impl PsSource, name: &CStr) -> Option<usize> {
    let r = &src.procspace().resources;
    if !r.merged.load(Ordering::Relaxed) || r.kproc.is_none() {
        return None;
    }
    ROOT_FILES.iter().position(|f| f.as_bytes() == name.as_bytes())
}

/// [`RemoteProcs::render_root`](crate::proc_root::RemoteProcs::render_root):
/// writes merged file `index` into `out`, as much as fits; returns its
/// whole length.
pub(crate) fn render_root(src: &impl PsSource, index: usize, out: &mut [u8]) -> Result<usize> {
    let text = src.procspace().resources.merged_text(src, index)?;
    let n = text.len().min(out.len());
    out[..n].copy_from_slice(&text[..n]);
    Ok(text.len())
}

/// `/proc/ssi/local_<name>`: this node's own `/proc/<name>`, as the
/// kernel shows it, whether or not the root's file is merged.
macro_rules! local_file {
    ($ty:ident, $file:literal, $name:literal) => {
        #[doc = concat!("`/proc/ssi/", $file, "`: this node's own `/proc/", $name, "`.")]
        pub(crate) struct $ty;

        impl<D: PsSource + 'static> ProcShow<D> for $ty {
            const NAME: &'static CStr = c_str!($file);

            fn show(data: &D, out: &mut SeqFile<'_>) -> Result {
                let text = data.procspace().resources.local_text(c_str!($name))?;
                // Too long for the buffer: seq_file calls again with a larger one.
                out.write_bytes(&text);
                Ok(())
            }
        }
    };
}

local_file!(LocalMeminfo, "local_meminfo", "meminfo");
local_file!(LocalStat, "local_stat", "stat");
local_file!(LocalCpuinfo, "local_cpuinfo", "cpuinfo");
local_file!(LocalLoadavg, "local_loadavg", "loadavg");
