// SPDX-License-Identifier: GPL-2.0
//! Pre-copy: the address space goes to the destination while the process
//! runs, then rounds of the pages it dirtied meanwhile, then the eager
//! freeze for the rest.
//!
//! Dirty tracking uses the kernel's soft-dirty bits: a round is a short
//! stop of the process (a task work, as for the capture) in which it reads
//! its own `/proc/self/pagemap` and clears its soft-dirty bits
//! (`/proc/self/clear_refs` 4); afterwards, while it runs again, the pages
//! that were dirty are read from outside (`access_process_vm`) and sent as
//! `MigratePages`. A page written after the clear is dirty at the next
//! round (or at the freeze), so it is sent again; a page clean at the
//! freeze was last sent after its last write. The first round sends every
//! page in memory (except zero pages of anonymous mappings: the process the
//! destination rebuilt ahead, from an image without memory, reads zero
//! where nothing was written); later rounds send dirty pages, zero or not.
//! Rounds stop when the dirty remainder is small, when a round does not
//! shrink it, or after [`MAX_ROUNDS`] (`proto::migration::precopy_continue`).
//! The destination writes each round's pages into that process as they
//! come (`round_pages.rs`).
//!
//! At the freeze, the capture looks at the pagemap once more: it writes
//! only the dirty pages into the image (zero ones too) and reports the
//! clean ones (`MigrateKeep`); the destination keeps those of what the
//! rounds wrote, drops every other page and writes the image's.

use super::sys::{self, UserScratch};
use crate::{
    checkpoint::{
        capture::DirtyPages,
        task::{self, Task},
    },
    cluster::Cluster,
    proto::{
        image::is_zero_page,
        migration::{page_state, precopy_continue, Data, PageState, Run, MAX_DATA, PAGE},
        wire::MsgType,
    },
};
use core::{
    mem::offset_of,
    sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
};
use kernel::{
    bindings, new_condvar, new_mutex,
    prelude::*,
    sync::{Arc, CondVar, Mutex},
    time::msecs_to_jiffies,
    types::Opaque,
};

/// Most rounds before the freeze.
pub(crate) const MAX_ROUNDS: u32 = 8;
/// A dirty remainder this small (pages) goes with the freeze.
const SMALL_REMAINDER: u64 = 256;
/// Pagemap entries read at once.
const PAGEMAP_CHUNK: usize = 8192;
/// How long a round's stop may take to happen.
const ROUND_TIMEOUT_MS: u64 = 10_000;

use crate::checkpoint::task::{VM_READ, VM_SHARED};
const O_RDONLY: u32 = 0;
const O_WRONLY: u32 = 1;

/// The pages of a process by pre-copy state, as sorted runs.
#[derive(Default)]
pub(crate) struct Scan {
    pub(crate) dirty: KVec<Run>,
    pub(crate) clean: KVec<Run>,
    /// The private file mappings scanned (start, end), sorted: a zero page
    /// there is sent all the same (not sending it would leave the file's
    /// content at the destination).
    files: KVec<(u64, u64)>,
    /// Every mapping scanned (start, end), sorted.
    pub(crate) scanned: KVec<(u64, u64)>,
    /// With `clear`: the token of this clear of the soft-dirty bits
    /// ([`clear_token`]); 0 otherwise.
    pub(crate) cleared: u32,
}

/// The last clear of each process's soft-dirty bits, by pid (a slot per
/// `pid % CLEAR_SLOTS`): `pid << 32 | token`. The bits have one owner at
/// a time: a checkpoint that relies on them (high availability's
/// increments) checks that the last clear was its own, or writes
/// everything.
const CLEAR_SLOTS: usize = 64;
static CLEARS: [AtomicU64; CLEAR_SLOTS] = [const { AtomicU64::new(0) }; CLEAR_SLOTS];
static NEXT_TOKEN: AtomicU32 = AtomicU32::new(1);

/// The token of the last clear of process `pid`'s soft-dirty bits, if
/// this node still knows it (a clear of another pid of the same slot
/// forgets it).
pub(crate) fn clear_token(pid: u32) -> Option<u32> {
    let v = CLEARS[pid as usize % CLEAR_SLOTS].load(Ordering::Acquire);
    ((v >> 32) as u32 == pid && v as u32 != 0).then_some(v as u32)
}

fn note_clear(pid: u32) -> u32 {
    let mut token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
    if token == 0 {
        token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
    }
    CLEARS[pid as usize % CLEAR_SLOTS].store((u64::from(pid) << 32) | u64::from(token), Ordering::Release);
    token
}

impl Scan {
    fn pages(runs: &[Run]) -> u64 {
        runs.iter().map(|r| u64::from(r.npages)).sum()
    }

    pub(crate) fn dirty_pages(&self) -> u64 {
        Self::pages(&self.dirty)
    }

    /// Whether the page at `addr` is in memory (dirty or clean).
    pub(crate) fn is_present(&self, addr: u64) -> bool {
        Self::in_runs(&self.dirty, addr) || Self::in_runs(&self.clean, addr)
    }

    /// Whether `addr` lies in a mapping the scan looked at.
    pub(crate) fn was_scanned(&self, addr: u64) -> bool {
        let i = self.scanned.partition_point(|&(_, end)| end <= addr);
        self.scanned.get(i).is_some_and(|&(start, _)| start <= addr)
    }

    /// Whether `addr` lies in one of `runs` (sorted).
    pub(crate) fn in_runs(runs: &[Run], addr: u64) -> bool {
        let i = runs.partition_point(|r| r.addr + u64::from(r.npages) * PAGE <= addr);
        runs.get(i).is_some_and(|r| r.addr <= addr)
    }

    /// The pages in memory, dirty or clean, as sorted runs.
    pub(crate) fn present(&self) -> Result<KVec<Run>> {
        let mut out: KVec<Run> = KVec::with_capacity(self.dirty.len() + self.clean.len(), GFP_KERNEL)?;
        let (mut d, mut c) = (0, 0);
        while d < self.dirty.len() || c < self.clean.len() {
            let take_dirty = c >= self.clean.len() || (d < self.dirty.len() && self.dirty[d].addr < self.clean[c].addr);
            let r = if take_dirty {
                d += 1;
                self.dirty[d - 1]
            } else {
                c += 1;
                self.clean[c - 1]
            };
            match out.last_mut() {
                Some(last)
                    if last.addr + u64::from(last.npages) * PAGE == r.addr
                        && last.npages.checked_add(r.npages).is_some() =>
                {
                    last.npages += r.npages
                }
                _ => out.push(r, GFP_KERNEL)?,
            }
        }
        Ok(out)
    }

    /// Whether `addr` lies in a private file mapping.
    fn in_file(&self, addr: u64) -> bool {
        let i = self.files.partition_point(|&(_, end)| end <= addr);
        self.files.get(i).is_some_and(|&(start, _)| start <= addr)
    }
}

/// At the freeze, the capture writes only the pages this scan found dirty.
impl DirtyPages for Scan {
    /// Whether the page at `addr` is dirty (runs are sorted).
    fn is_dirty(&self, addr: u64) -> bool {
        let i = self.dirty.partition_point(|r| r.addr + u64::from(r.npages) * PAGE <= addr);
        self.dirty.get(i).is_some_and(|r| r.addr <= addr)
    }
}

/// Appends the page at `addr` to `runs`, merging with the last run.
fn push_page(runs: &mut KVec<Run>, addr: u64) -> Result {
    if let Some(last) = runs.last_mut() {
        if last.addr + u64::from(last.npages) * PAGE == addr && last.npages < u32::MAX {
            last.npages += 1;
            return Ok(());
        }
    }
    runs.push(Run { addr, npages: 1 }, GFP_KERNEL)?;
    Ok(())
}

/// In the process's own context: classifies every page of its private
/// readable mappings from its pagemap; with `clear`, clears its soft-dirty
/// bits afterwards (nothing of the process runs meanwhile). A round's stop
/// clears; the freeze's (`Outgoing::send_image`, `source.rs`) does not.
pub(crate) fn scan_current(clear: bool) -> Result<Scan> {
    // The mappings first: the scratch buffer is not one of them.
    let mut vmas: KVec<(u64, u64, bool)> = KVec::new();
    let mut addr = 0u64;
    while let Some(v) = task::vma_find(addr) {
        addr = v.end;
        if v.class.special.is_some()
            || v.class.is_io
            || v.class.is_shmem
            || v.vm_flags & VM_READ == 0
            || v.vm_flags & VM_SHARED != 0
        {
            continue;
        }
        vmas.push((v.start, v.end, v.file.is_some()), GFP_KERNEL)?;
    }
    let mut scanned = KVec::with_capacity(vmas.len(), GFP_KERNEL)?;
    for &(start, end, _) in vmas.iter() {
        scanned.push((start, end), GFP_KERNEL)?;
    }
    let scratch = UserScratch::new((PAGEMAP_CHUNK * 8) as u64)?;
    let pagemap = task::open_path(b"/proc/self/pagemap\0", O_RDONLY)?;
    let mut raw = KVec::from_elem(0u8, PAGEMAP_CHUNK * 8, GFP_KERNEL)?;
    let mut scan = Scan { scanned, ..Scan::default() };
    for &(start, end, file_backed) in vmas.iter() {
        if file_backed {
            scan.files.push((start, end), GFP_KERNEL)?;
        }
        let mut page = start;
        while page < end {
            let n = (((end - page) / PAGE) as usize).min(PAGEMAP_CHUNK);
            let mut pos = ((page / PAGE) * 8) as i64;
            let got = sys::file_read_user(&pagemap, &scratch, (n * 8) as u64, &mut pos)?;
            if got != n * 8 {
                return Err(EIO);
            }
            task::read_user(scratch.addr(), &mut raw[..n * 8])?;
            for (i, e) in raw[..n * 8].chunks_exact(8).enumerate() {
                let mut w = [0u8; 8];
                w.copy_from_slice(e);
                let at = page + i as u64 * PAGE;
                match page_state(u64::from_le_bytes(w), file_backed) {
                    PageState::Dirty => push_page(&mut scan.dirty, at)?,
                    PageState::Clean => push_page(&mut scan.clean, at)?,
                    PageState::Absent => {}
                }
            }
            page += n as u64 * PAGE;
        }
    }
    if clear {
        task::write_user(scratch.addr(), b"4")?;
        let refs = task::open_path(b"/proc/self/clear_refs\0", O_WRONLY)?;
        let mut pos = 0i64;
        sys::file_write_user(&refs, &scratch, 1, &mut pos)?;
        scan.cleared = note_clear(task::current_pid());
    }
    Ok(scan)
}

/// One round's stop of the process, waited for by the migrating caller.
#[pin_data]
struct RoundJob {
    cancelled: AtomicBool,
    #[pin]
    result: Mutex<Option<Result<Scan>>>,
    #[pin]
    done: CondVar,
}

struct RoundWork {
    work: Opaque<bindings::callback_head>,
    job: Arc<RoundJob>,
}

/// The task work of a round: runs in the process's own context.
///
/// # Safety
///
/// `work` is the `work` field of a `RoundWork` given to the task with
/// `KBox::into_raw` when the work was queued.
unsafe extern "C" fn round_work(work: *mut bindings::callback_head) {
    let off = offset_of!(RoundWork, work);
    // SAFETY: per the contract, `work` lies `off` bytes into a RoundWork
    // whose box we take back here.
    let rw = unsafe { KBox::from_raw(work.cast::<u8>().sub(off).cast::<RoundWork>()) };
    let job = rw.job.clone();
    drop(rw);
    let r = if job.cancelled.load(Ordering::Acquire) || task::current_exiting() { Err(EINTR) } else { scan_current(true) };
    if let Err(e) = &r {
        pr_info!("pre-copy: pid {} could not scan its pages (error {})\n", task::current_pid(), e.to_errno());
    }
    *job.result.lock() = Some(r);
    job.done.notify_all();
}

/// Stops `target` for a moment to read and clear its dirty bits.
fn round_scan(target: &Task) -> Result<Scan> {
    let job = Arc::pin_init(
        pin_init!(RoundJob { cancelled: AtomicBool::new(false), result <- new_mutex!(None), done <- new_condvar!() }),
        GFP_KERNEL,
    )?;
    let raw = KBox::into_raw(KBox::new(RoundWork { work: Opaque::uninit(), job: job.clone() }, GFP_KERNEL)?);
    // SAFETY: `raw` points to a live RoundWork.
    let work = unsafe { Opaque::raw_get(core::ptr::addr_of!((*raw).work)) };
    // SAFETY: `work` is the RoundWork's callback_head.
    unsafe { task::init_work(work, round_work) };
    // SAFETY: the work is initialised and lives in the box `round_work`
    // takes back.
    if let Err(e) = unsafe { target.add_work(work) } {
        // SAFETY: not queued: the box is still ours.
        drop(unsafe { KBox::from_raw(raw) });
        return Err(e);
    }
    let start = task::mono_ns();
    let mut result = job.result.lock();
    while result.is_none() {
        let res = job.done.wait_interruptible_timeout(&mut result, msecs_to_jiffies(200));
        let interrupted = matches!(res, kernel::sync::CondVarTimeoutResult::Signal { .. });
        if interrupted || task::mono_ns().saturating_sub(start) > ROUND_TIMEOUT_MS * 1_000_000 {
            pr_info!(
                "pre-copy: a round of pid {} did not happen ({})\n",
                task::current_pid(),
                if interrupted { "interrupted" } else { "timed out" }
            );
            job.cancelled.store(true, Ordering::Release);
            return Err(if interrupted { EINTR } else { crate::kernel_ext::etimedout() });
        }
    }
    result.take().unwrap_or(Err(EINVAL))
}

/// What the pre-copy rounds did.
pub(crate) struct Rounds {
    pub(crate) rounds: u32,
    pub(crate) bytes: u64,
}

/// Runs the pre-copy rounds of migration `id` of `target` (pid `pid`) to
/// `node` (already begun there), from the migrating caller's context; logs
/// what each round sent.
pub(crate) fn run(
    cluster: &Cluster,
    node: u16,
    id: u64,
    pid: u32,
    target: &Task,
    cancelled: &dyn Fn() -> bool,
) -> Result<Rounds> {
    let mut buf = KVec::from_elem(0u8, MAX_DATA, GFP_KERNEL)?;
    let mut done = Rounds { rounds: 0, bytes: 0 };
    let mut before = u64::MAX;
    loop {
        if cancelled() {
            pr_info!("pre-copy: interrupted after {} round(s)\n", done.rounds);
            return Err(EINTR);
        }
        let scan = round_scan(target)?;
        done.rounds += 1;
        let first = done.rounds == 1;
        let now = scan.dirty_pages();
        let sent = if first {
            send_runs(cluster, node, id, target, &scan.dirty, Some(&scan), &mut buf)?
                + send_runs(cluster, node, id, target, &scan.clean, Some(&scan), &mut buf)?
        } else {
            send_runs(cluster, node, id, target, &scan.dirty, None, &mut buf)?
        };
        done.bytes += sent;
        pr_info!("pid {}: pre-copy round {} sent {} pages ({} bytes)\n", pid, done.rounds, sent / PAGE, sent);
        if !first && !precopy_continue(before, now, done.rounds, MAX_ROUNDS, SMALL_REMAINDER) {
            return Ok(done);
        }
        before = if first { Scan::pages(&scan.dirty) + Scan::pages(&scan.clean) } else { now };
    }
}

/// Sends the pages of `runs` (read from `target` now); `skip_zero` (the
/// first round's scan) leaves out pages of zeros but in private file
/// mappings. The bytes sent.
#[allow(clippy::too_many_arguments)]
fn send_runs(
    cluster: &Cluster,
    node: u16,
    id: u64,
    target: &Task,
    runs: &[Run],
    skip_zero: Option<&Scan>,
    buf: &mut [u8],
) -> Result<u64> {
    let per = MAX_DATA / PAGE as usize;
    let mut sent = 0u64;
    for r in runs {
        let mut page = 0u32;
        while page < r.npages {
            let n = ((r.npages - page) as usize).min(per);
            let addr = r.addr + u64::from(page) * PAGE;
            let data = &mut buf[..n * PAGE as usize];
            if sys::task_read_mem(target, addr, data).is_err() {
                // Unmapped meanwhile: the freeze's scan decides about it.
                page += n as u32;
                continue;
            }
            // Runs of pages to send (all, or the non-zero ones).
            let mut i = 0;
            let skipped = |k: usize| {
                skip_zero.is_some_and(|scan| {
                    !scan.in_file(addr + k as u64 * PAGE) && is_zero_page(&data[k * PAGE as usize..(k + 1) * PAGE as usize])
                })
            };
            while i < n {
                if skipped(i) {
                    i += 1;
                    continue;
                }
                let mut j = i + 1;
                while j < n && !skipped(j) {
                    j += 1;
                }
                // The header, then the pages straight from `buf`.
                let chunk = &data[i * PAGE as usize..j * PAGE as usize];
                let mut header = [0u8; Data::HEADER_LEN];
                Data::encode_header(id, addr + i as u64 * PAGE, chunk.len(), &mut header).map_err(|_| EINVAL)?;
                super::send_bulk_parts(cluster, node, MsgType::MigratePages, [&header, chunk], &[])?;
                sent += chunk.len() as u64;
                i = j;
            }
            page += n as u32;
        }
    }
    Ok(sent)
}
