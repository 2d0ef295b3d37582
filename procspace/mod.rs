// SPDX-License-Identifier: GPL-2.0
//! The process space (issue 20): one listing of the user processes of
//! every alive node, `/proc/ssi/ps`.
//!
//! - `snapshot.rs`: this node's user processes, in pid order, as
//!   `proto::procs::ProcEntry` records (what is listed and what is not);
//!   `sys.rs` and `procs_helpers.c`: the raw facts of a task.
//! - `signal.rs`: signals anywhere, `kill` of a pid or process group of
//!   another node's slot delivered at its home node (`ProcSignal`).
//! - Here: the `ProcList` handler, which answers a peer's request with a
//!   batch of the local snapshot, and the cluster listing, which asks each
//!   other alive node for its processes a batch at a time.
//!
//! Pids are each node's own until cluster-wide pids land: the listing
//! names the node of every process.

pub(crate) mod proc_view;
pub(crate) mod resources;
pub(crate) mod signal;
pub(crate) mod snapshot;
pub(crate) mod sys;

use crate::{
    cluster::Cluster,
    krpc::handlers::{Handler, Incoming},
    migration::Migrations,
    procfs::{ProcShow, SeqFile},
    proto::{
        procs::{ProcEntry, ProcLine, ProcListReply, ProcListRequest, MAX_ENTRIES, PS_HEADER, REQUEST_LEN},
        wire::MsgType,
    },
};
use core::{
    fmt::{self, Write},
    sync::atomic::{AtomicU64, Ordering},
};
use kernel::{c_str, new_mutex, prelude::*, str::CStr, sync::Arc, sync::Mutex};

/// Malformed messages from other nodes: logged at most once a second.
static MALFORMED_LOG: crate::kernel_ext::LogLimit = crate::kernel_ext::LogLimit::new();

/// How old the other nodes' processes in `/proc` may be, by default (ms).
pub(crate) const DEFAULT_REFRESH_MS: u64 = 1_000;
/// How long one `ProcList` call waits for its reply.
pub(crate) const CALL_TIMEOUT_MS: u32 = 2_000;
/// How long the listing spends on one node, all its batches together.
pub(crate) const NODE_BUDGET_MS: u64 = 10_000;
/// How long a listing built for a reader whose buffer was too small is
/// kept for its next `show` (seq_file calls it again at once).
const STASH_MS: u64 = 5_000;
/// Listings kept that way, at most.
const STASHES: usize = 16;

/// A listing kept for the reader `key` (its seq_file).
struct Stash {
    key: usize,
    at_ms: u64,
    text: KVVec<u8>,
}

/// The process space's state: the registry of migrations the snapshot
/// consults, counters, and the listings kept for their readers.
#[pin_data]
pub(crate) struct ProcSpace {
    migrations: Arc<Migrations>,
    /// `ProcList` requests answered.
    pub(crate) served: AtomicU64,
    /// `ProcList` calls that failed (no answer in time, an error, a
    /// malformed reply): that node was left out of a listing.
    pub(crate) failed: AtomicU64,
    /// How old the other nodes' processes in `/proc` may be, in ms
    /// (configfs `ps_refresh_ms`; `proc_view.rs`).
    pub(crate) refresh_ms: AtomicU64,
    /// Routed signals (`signal.rs`).
    pub(crate) signals: signal::SignalStats,
    #[pin]
    stashes: Mutex<KVec<Stash>>,
    /// The merged `/proc` resource files (`resources.rs`).
    #[pin]
    pub(crate) resources: resources::Resources,
}

impl ProcSpace {
    /// The process space of the node whose migrations are `migrations`.
    pub(crate) fn new(migrations: Arc<Migrations>) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(ProcSpace {
                migrations,
                served: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                refresh_ms: AtomicU64::new(DEFAULT_REFRESH_MS),
                signals: signal::SignalStats::new(),
                stashes <- new_mutex!(KVec::new()),
                resources <- resources::Resources::new(),
            }),
            GFP_KERNEL,
        )
    }

    /// The listing kept for reader `key`, if any; forgets stale ones.
    fn take_stash(&self, key: usize) -> Option<KVVec<u8>> {
        let now = crate::kernel_ext::mono_ms();
        let mut st = self.stashes.lock();
        let mut i = 0;
        let mut found = None;
        while i < st.len() {
            let s = &st[i];
            if s.key == key || now.saturating_sub(s.at_ms) > STASH_MS {
                let s = crate::kernel_ext::swap_remove(&mut st, i);
                if let Some(s) = s.filter(|s| s.key == key) {
                    found = Some(s.text);
                }
            } else {
                i += 1;
            }
        }
        found
    }

    /// Keeps `text` for reader `key`'s next `show` (the oldest goes when
    /// too many are kept).
    fn stash(&self, key: usize, text: KVVec<u8>) -> Result {
        let mut st = self.stashes.lock();
        if st.len() >= STASHES {
            let oldest = st.iter().enumerate().min_by_key(|(_, s)| s.at_ms).map(|(i, _)| i);
            if let Some(i) = oldest {
                drop(crate::kernel_ext::swap_remove(&mut st, i));
            }
        }
        st.push(Stash { key, at_ms: crate::kernel_ext::mono_ms(), text }, GFP_KERNEL)?;
        Ok(())
    }
}

/// Starts the process space's part of the cluster service: registers the
/// `ProcList`, `ProcSignal` and `NodeStats` handlers.
pub(crate) fn start(cluster: &Arc<Cluster>, space: &Arc<ProcSpace>) -> Result {
    let handler: Arc<dyn Handler<Cluster>> = Arc::new(ProcListHandler { space: space.clone() }, GFP_KERNEL)?;
    cluster.register_handler(MsgType::ProcList, handler)?;
    signal::register(cluster, space)?;
    resources::register(cluster, space)
}

/// Answers `ProcList` with a batch of the local snapshot.
struct ProcListHandler {
    space: Arc<ProcSpace>,
}

impl Handler<Cluster> for ProcListHandler {
    fn handle(&self, _cluster: &Cluster, msg: &Incoming<'_>) -> Result<KVec<u8>> {
        let q = ProcListRequest::decode(msg.body).map_err(|e| {
            if MALFORMED_LOG.allow() {
                pr_warn!("malformed ProcList request from node {}: {:?}\n", msg.from_node(), e);
            }
            EINVAL
        })?;
        let mut entries = KVVec::from_elem(ProcEntry::EMPTY, usize::from(q.max), GFP_KERNEL)?;
        let (n, more) = snapshot::take(&self.space.migrations, q.after_pid, &mut entries)?;
        let mut body = KVec::from_elem(0u8, ProcListReply::len_of(n), GFP_KERNEL)?;
        ProcListReply::encode(more, &entries[..n], &mut body).map_err(|_| EINVAL)?;
        self.space.served.fetch_add(1, Ordering::Relaxed);
        Ok(body)
    }
}

/// What the listing needs from the node that holds the process space.
pub(crate) trait PsSource: Send + Sync {
    /// The node's process space.
    fn procspace(&self) -> &ProcSpace;
    /// This node's id (0 while unset).
    fn own_node(&self) -> u16;
    /// While the node is in a cluster: the cluster service and the other
    /// alive nodes.
    fn peers(&self) -> Result<Option<(Arc<Cluster>, KVec<u16>)>>;
}

/// Text being built, growing as needed.
struct Text(KVVec<u8>);

impl Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes(), GFP_KERNEL).map_err(|_| fmt::Error)
    }
}

/// Writes the lines of `entries`, run by `node`.
fn write_lines(text: &mut Text, node: u16, entries: impl Iterator<Item = ProcEntry>) -> Result {
    for e in entries {
        writeln!(text, "{}", ProcLine { node, entry: &e }).map_err(|_| ENOMEM)?;
    }
    Ok(())
}

/// The whole listing: the header, this node's processes, then each other
/// alive node's (a node that does not answer is left out).
fn build(src: &impl PsSource) -> Result<KVVec<u8>> {
    let space = src.procspace();
    let own = src.own_node();
    let mut text = Text(KVVec::new());
    writeln!(text, "{PS_HEADER}").map_err(|_| ENOMEM)?;
    let mut entries = KVVec::from_elem(ProcEntry::EMPTY, MAX_ENTRIES, GFP_KERNEL)?;
    let mut after = 0;
    loop {
        let (n, more) = snapshot::take(&space.migrations, after, &mut entries)?;
        write_lines(&mut text, own, entries[..n].iter().copied())?;
        match entries[..n].last() {
            Some(e) if more => after = e.pid,
            _ => break,
        }
    }
    if let Some((cluster, peers)) = src.peers()? {
        for &node in peers.iter().filter(|&&n| n != own) {
            let mut theirs = Text(KVVec::new());
            let got =
                remote_entries(&cluster, node, NODE_BUDGET_MS, &mut |e| write_lines(&mut theirs, node, core::iter::once(e)));
            match got {
                Ok(()) => text.0.extend_from_slice(&theirs.0, GFP_KERNEL)?,
                // The reader was interrupted: no listing.
                Err(e) if e == EINTR || e == ERESTARTSYS => return Err(e),
                Err(e) => {
                    space.failed.fetch_add(1, Ordering::Relaxed);
                    pr_warn!("ps: node {} left out of the listing (error {})\n", node, e.to_errno());
                }
            }
        }
    }
    Ok(text.0)
}

/// Node `node`'s processes, in pid order, to `sink`: a batch per
/// `ProcList` call, each call waiting at most [`CALL_TIMEOUT_MS`] and all
/// of them `budget_ms`.
pub(crate) fn remote_entries(
    cluster: &Cluster,
    node: u16,
    budget_ms: u64,
    sink: &mut dyn FnMut(ProcEntry) -> Result,
) -> Result {
    let deadline = crate::kernel_ext::mono_ms() + budget_ms;
    let mut after = 0u32;
    loop {
        let left = deadline.saturating_sub(crate::kernel_ext::mono_ms());
        if left == 0 {
            pr_warn!("ps: node {} took more than {} ms to list its processes\n", node, budget_ms);
            return Err(crate::kernel_ext::etimedout());
        }
        let mut q = [0u8; REQUEST_LEN];
        let n = ProcListRequest { after_pid: after, max: MAX_ENTRIES as u16 }.encode(&mut q).map_err(|_| EINVAL)?;
        let timeout = u32::try_from(left).unwrap_or(u32::MAX).min(CALL_TIMEOUT_MS);
        let reply = cluster.call(node, MsgType::ProcList, &q[..n], timeout)?;
        let r = ProcListReply::decode(&reply).map_err(|e| {
            if MALFORMED_LOG.allow() {
                pr_warn!("ps: malformed ProcList reply from node {}: {:?}\n", node, e);
            }
            EINVAL
        })?;
        let mut last = after;
        for e in r.iter() {
            let e = e.map_err(|_| EINVAL)?;
            if e.pid <= after {
                pr_warn!("ps: node {} answered pid {}, not above {}\n", node, e.pid, after);
                return Err(EINVAL);
            }
            last = e.pid;
            sink(e)?;
        }
        if !r.more || r.is_empty() {
            return Ok(());
        }
        after = last;
    }
}

/// `/proc/ssi/ps`: the user processes of every alive node, one
/// `proto::procs::ProcLine` each after the header `PS_HEADER`; only this
/// node's while it is not in a cluster. Built once per read: a `show`
/// called again with a larger buffer writes the listing it built before.
pub(crate) struct PsFile;

impl<D: PsSource + 'static> ProcShow<D> for PsFile {
    const NAME: &'static CStr = c_str!("ps");

    fn show(data: &D, out: &mut SeqFile<'_>) -> Result {
        let space = data.procspace();
        let key = out.key();
        let text = match space.take_stash(key) {
            Some(text) => text,
            None => build(data)?,
        };
        if !out.write_bytes(&text) {
            // Too long for the buffer: seq_file calls again with a larger one.
            space.stash(key, text)?;
        }
        Ok(())
    }
}
