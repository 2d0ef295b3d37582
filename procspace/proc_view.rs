// SPDX-License-Identifier: GPL-2.0
//! The processes of the other nodes in this node's `/proc` (issue 20): the
//! [`RemoteProcs`] behind the `/proc` root hook (`modules/proc_root.rs`).
//!
//! - A *view* is every other alive node's snapshot (`ProcList`, one call
//!   per node and batch of 256), merged in pid order. It is refreshed when
//!   a reader needs it and it is older than `ps_refresh_ms` (configfs,
//!   default 1000): one refresh at a time, the others wait for it. A
//!   numeric lookup that misses refreshes a view older than
//!   [`MISS_REFRESH_MS`], so `ps -p PID` of a process started a moment ago
//!   finds it. A node that does not answer within the call timeout is left
//!   out of that view (and logged, at most once per [`WARN_EVERY_MS`]).
//! - Only cluster-wide pids are offered (`proto::pid_range`: slot 0 holds
//!   each node's own early processes, whose numbers repeat on every node),
//!   and never one this node has: its own process, a deputy at home, a
//!   thread id all win.
//! - The files of a remote directory are rendered when opened, from the
//!   entry the view holds (`proto::proc_text`).

use super::{remote_entries, PsSource};
use crate::{
    checkpoint::task::Task,
    kernel_ext::mono_ms,
    migration::PidRole,
    pid_files::{PidFile, PidFiles},
    proc_root::{RemoteDir, RemoteProcs},
    proto::{
        pid_range,
        proc_text::{self, ReaderClock},
        procs::ProcEntry,
    },
};
use core::{
    fmt,
    sync::atomic::{AtomicU64, Ordering},
};
use kernel::{c_str, new_mutex, prelude::*, str::CStr, sync::Arc, sync::Mutex};

/// A lookup of a pid missing from a view older than this refreshes it.
pub(crate) const MISS_REFRESH_MS: u64 = 250;
/// How long one refresh spends on one node, all its batches together.
const NODE_BUDGET_MS: u64 = 3_000;
/// "Left out" warnings, at most one per node per this long.
const WARN_EVERY_MS: u64 = 60_000;
/// The files of a remote process's directory.
static FILES: [&CStr; 5] = [c_str!("stat"), c_str!("statm"), c_str!("status"), c_str!("cmdline"), c_str!("comm")];

/// The other nodes' processes at one moment, in pid order.
struct View {
    at_ms: u64,
    entries: KVVec<(u16, ProcEntry)>,
}

impl View {
    /// The index of the first entry at or above `pid`.
    fn first_at(&self, pid: u32) -> usize {
        self.entries.partition_point(|(_, e)| e.pid < pid)
    }

    fn find(&self, pid: u32) -> Option<&(u16, ProcEntry)> {
        self.entries.get(self.first_at(pid)).filter(|(_, e)| e.pid == pid)
    }
}

/// The processes of the other nodes, for `/proc`.
#[pin_data]
pub(crate) struct ClusterProcs<S: PsSource + 'static> {
    source: Arc<S>,
    #[pin]
    current: Mutex<Option<Arc<View>>>,
    /// Held by the one refresh under way.
    #[pin]
    refreshing: Mutex<()>,
    /// When the last "left out" warning was logged (mono ms).
    warned_ms: AtomicU64,
}

impl<S: PsSource + 'static> ClusterProcs<S> {
    pub(crate) fn new(source: Arc<S>) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(ClusterProcs {
                source,
                current <- new_mutex!(None),
                refreshing <- new_mutex!(()),
                warned_ms: AtomicU64::new(0),
            }),
            GFP_KERNEL,
        )
    }

    /// A view at most `max_age_ms` old (or, if no node answers, the one
    /// just built without them).
    fn view(&self, max_age_ms: u64) -> Option<Arc<View>> {
        let fresh = |v: &Option<Arc<View>>| v.as_ref().filter(|v| mono_ms().saturating_sub(v.at_ms) <= max_age_ms).cloned();
        if let Some(v) = fresh(&self.current.lock()) {
            return Some(v);
        }
        let _one_at_a_time = self.refreshing.lock();
        // Someone else may have refreshed it meanwhile.
        if let Some(v) = fresh(&self.current.lock()) {
            return Some(v);
        }
        let v = Arc::new(self.build().ok()?, GFP_KERNEL).ok()?;
        *self.current.lock() = Some(v.clone());
        Some(v)
    }

    /// A new view: every other alive node's processes, merged by pid.
    fn build(&self) -> Result<View> {
        let mut entries = KVVec::new();
        let at_ms = mono_ms();
        let own = self.source.own_node();
        if let Some((cluster, peers)) = self.source.peers()? {
            for &node in peers.iter().filter(|&&n| n != own) {
                let got = remote_entries(&cluster, node, NODE_BUDGET_MS, &mut |e| {
                    entries.push((node, e), GFP_KERNEL)?;
                    Ok(())
                });
                match got {
                    Ok(()) => {}
                    Err(e) if e == EINTR || e == ERESTARTSYS => return Err(e),
                    Err(e) => {
                        self.source.procspace().failed.fetch_add(1, Ordering::Relaxed);
                        let last = self.warned_ms.load(Ordering::Relaxed);
                        if last == 0 || mono_ms().saturating_sub(last) >= WARN_EVERY_MS {
                            self.warned_ms.store(mono_ms(), Ordering::Relaxed);
                            pr_warn!("/proc: node {} left out of the process listing (error {})\n", node, e.to_errno());
                        }
                    }
                }
            }
        }
        entries.sort_unstable_by_key(|(_, e)| e.pid);
        Ok(View { at_ms, entries })
    }

    fn refresh_ms(&self) -> u64 {
        self.source.procspace().refresh_ms.load(Ordering::Relaxed)
    }
}

/// Whether `pid` is offered as a remote process here.
fn offered(pid: u32) -> bool {
    pid_range::is_cluster_wide(pid) && Task::get(pid).is_none()
}

impl<S: PsSource + 'static> RemoteProcs for ClusterProcs<S> {
    fn list(&self, from: u32, out: &mut [u32]) -> usize {
        let Some(v) = self.view(self.refresh_ms()) else { return 0 };
        let mut n = 0;
        for (_, e) in &v.entries[v.first_at(from)..] {
            if n == out.len() {
                break;
            }
            if offered(e.pid) {
                out[n] = e.pid;
                n += 1;
            }
        }
        n
    }

    fn get(&self, pid: u32) -> Option<Arc<RemoteDir>> {
        if !offered(pid) {
            return None;
        }
        let mut v = self.view(self.refresh_ms())?;
        if v.find(pid).is_none() && mono_ms().saturating_sub(v.at_ms) > MISS_REFRESH_MS {
            v = self.view(MISS_REFRESH_MS)?;
        }
        let &(node, entry) = v.find(pid)?;
        Arc::new(RemoteDir { node, entry }, GFP_KERNEL).ok()
    }

    fn owner(&self, dir: &RemoteDir) -> (u32, u32) {
        (dir.entry.euid, dir.entry.egid)
    }

    fn files(&self) -> &'static [&'static CStr] {
        &FILES
    }

    fn render(&self, dir: &RemoteDir, file: usize, out: &mut [u8]) -> Result<usize> {
        render_entry(dir.node, &dir.entry, file, out)
    }

    fn root_file(&self, name: &CStr) -> Option<usize> {
        super::resources::root_file(&*self.source, name)
    }

    fn render_root(&self, index: usize, out: &mut [u8]) -> Result<usize> {
        super::resources::render_root(&*self.source, index, out)
    }
}

impl<S: PsSource + 'static> PidFiles for ClusterProcs<S> {
    fn serves(&self, tgid: u32, file: PidFile) -> bool {
        match self.source.procspace().migrations.role_of(tgid) {
            // Asleep in the module with its memory unmapped: every file
            // is the running copy's.
            Some(PidRole::Deputy) => true,
            // Its own files, but its home's family (stat, status).
            Some(PidRole::Hosted { home_node, home_pid, running: true, .. }) => {
                home_node != 0 && home_pid != 0 && matches!(file, PidFile::Stat | PidFile::Status)
            }
            _ => false,
        }
    }

    fn render(&self, tgid: u32, file: PidFile, out: &mut [u8]) -> Result<usize> {
        let index = match file {
            PidFile::Stat => 0,
            PidFile::Statm => 1,
            PidFile::Status => 2,
            PidFile::Cmdline => 3,
        };
        match self.source.procspace().migrations.role_of(tgid) {
            Some(PidRole::Deputy) => {
                // The running node's entry; the kernel's files until a
                // view has one.
                let mut v = self.view(self.refresh_ms()).ok_or(ENOENT)?;
                if v.find(tgid).is_none() && mono_ms().saturating_sub(v.at_ms) > MISS_REFRESH_MS {
                    v = self.view(MISS_REFRESH_MS).ok_or(ENOENT)?;
                }
                let (node, entry) = v.find(tgid).ok_or(ENOENT)?;
                render_entry(*node, entry, index, out)
            }
            Some(PidRole::Hosted { running: true, .. }) => {
                let mut e = KBox::new(ProcEntry::EMPTY, GFP_KERNEL)?;
                if !super::snapshot::entry_of(&self.source.procspace().migrations, tgid, &mut e) {
                    return Err(ENOENT);
                }
                render_entry(self.source.own_node(), &e, index, out)
            }
            _ => Err(ENOENT),
        }
    }
}

/// Writes file `file` (an index of [`FILES`]) of the process `e` that
/// node `node` runs into `out`, as much as fits; returns its whole length.
fn render_entry(node: u16, e: &ProcEntry, file: usize, out: &mut [u8]) -> Result<usize> {
    let mut w = SliceWriter { out, len: 0 };
    let r = match file {
        0 => {
            let boot_wall_ns = crate::kernel_ext::real_time_ns().saturating_sub(super::sys::boottime_ns());
            proc_text::write_stat(e, &ReaderClock { boot_wall_ns }, &mut w)
        }
        1 => proc_text::write_statm(e, &mut w),
        2 => proc_text::write_status(e, node, &mut w),
        3 => w.write_bytes(e.cmdline()),
        4 => proc_text::write_comm(e, &mut w),
        _ => return Err(ENOENT),
    };
    r.map_err(|_| EINVAL)?;
    Ok(w.len)
}

/// Writes into a slice as much as fits and counts everything.
struct SliceWriter<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl SliceWriter<'_> {
    fn write_bytes(&mut self, b: &[u8]) -> fmt::Result {
        if let Some(room) = self.out.get_mut(self.len..) {
            let n = room.len().min(b.len());
            room[..n].copy_from_slice(&b[..n]);
        }
        self.len += b.len();
        Ok(())
    }
}

impl fmt::Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes())
    }
}
