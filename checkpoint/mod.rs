// SPDX-License-Identifier: GPL-2.0
//! Checkpoint of unmodified processes (`ssi-ctl checkpoint`, through
//! `/dev/ssi`).
//!
//! The caller's request is checked (the target exists, is a user process
//! the caller owns or the caller is root, is not stopped, traced or
//! exiting), then a task work is queued on every thread of the target with
//! `TWA_SIGNAL`: each thread is interrupted and, on its way back to user
//! mode, in its own context and at a safe point, records its own state
//! (registers, FPU, signal mask, altstack, TLS) and parks; the last one to
//! arrive writes the image of the whole process (`checkpoint/capture.rs`)
//! while the caller waits, then releases the others. No user code of the
//! process runs meanwhile: that is the freeze. Afterwards the process goes
//! on unharmed, or is killed (`--kill`). A caller interrupted by a signal,
//! or a thread that does not stop within [`ARRIVAL_TIMEOUT_MS`], ends the
//! capture: parked threads are released and nothing is written.

pub(crate) mod capture;
pub(crate) mod crc;
pub(crate) mod handover;
pub(crate) mod increment;
pub(crate) mod page_store;
pub(crate) mod remote;
pub(crate) mod restore;
pub(crate) mod task;
pub(crate) mod thread_plan;
pub(crate) mod threads;

use crate::ctl_reply::{fail, say};
use crate::proto::ctl::{CtlReply, CtlRequest, FLAG_KILL};
use capture::Origin;
use core::{
    mem::offset_of,
    sync::atomic::{AtomicBool, Ordering},
};
use handover::Handover;
use kernel::{
    bindings, new_condvar, new_mutex,
    prelude::*,
    sync::{Arc, CondVar, Mutex},
    time::msecs_to_jiffies,
    types::Opaque,
};
use task::{File, Task};

/// Most threads a checkpointed process may have.
const MAX_THREADS: usize = 64;
/// How long the threads of the target have to stop.
const ARRIVAL_TIMEOUT_MS: u64 = 10_000;

/// The threads' records, gathered as they stop.
struct Gather {
    /// Threads that recorded themselves (or failed to).
    arrived: usize,
    /// One record per thread, by index (the leader's first).
    records: KVec<Option<KBox<capture::ThreadRecord>>>,
    /// A thread could not record itself.
    failed: Option<Error>,
}

/// One capture waiting for, or done by, the threads of its target.
#[pin_data]
struct CaptureJob {
    /// A checkpoint: where the image goes (a migration streams it).
    file: Option<File>,
    kill: bool,
    /// A migration (`handover.rs`): the image goes to another node, then
    /// the process.
    handover: Option<Arc<dyn Handover>>,
    /// A checkpoint that may be incremental (`increment.rs`).
    increment: Option<Arc<dyn increment::Increment>>,
    /// With `handover`: only the image goes, sent ahead of the freeze
    /// (post-copy, lazy); the process goes on here.
    ahead: bool,
    origin: Origin,
    /// The caller stopped waiting: do nothing.
    cancelled: AtomicBool,
    /// The process was handed over to another node: the parked threads
    /// end instead of going on (the one that wrote the image is the deputy).
    retire: AtomicBool,
    #[pin]
    gather: Mutex<Gather>,
    /// Opened when the capture is over (or cancelled): parked threads go on.
    #[pin]
    release: task::Gate,
    #[pin]
    outcome: Mutex<Option<(Result<capture::Written>, CtlReply, u64)>>,
    /// Notified when the outcome is set, and on every arrival.
    #[pin]
    done: CondVar,
}

impl CaptureJob {
    /// Lets every parked thread go on.
    fn release_all(&self) {
        self.release.open();
    }
}

/// The task work queued on one thread of the target.
struct ThreadWork {
    work: Opaque<bindings::callback_head>,
    job: Arc<CaptureJob>,
    index: usize,
}

/// The task work: runs in the context of one thread of the target.
///
/// # Safety
///
/// `work` is the `work` field of a `ThreadWork` given to the thread with
/// `KBox::into_raw` when the work was queued.
unsafe extern "C" fn capture_work(work: *mut bindings::callback_head) {
    let off = offset_of!(ThreadWork, work);
    // SAFETY: per the contract, `work` lies `off` bytes into a ThreadWork
    // whose box we take back here.
    let tw = unsafe { KBox::from_raw(work.cast::<u8>().sub(off).cast::<ThreadWork>()) };
    let (job, index) = (tw.job.clone(), tw.index);
    drop(tw);
    if job.cancelled.load(Ordering::Acquire) {
        return;
    }
    let start = task::mono_ns();
    let record = if task::current_exiting() { Err(ESRCH) } else { capture::thread_record() };
    let record = record.and_then(|r| KBox::new(r, GFP_KERNEL).map_err(|_| ENOMEM));
    let mut g = job.gather.lock();
    match record {
        Ok(r) => {
            if let Some(slot) = g.records.get_mut(index) {
                *slot = Some(r);
            }
        }
        Err(e) => g.failed = Some(e),
    }
    g.arrived += 1;
    job.done.notify_all();
    if g.arrived < g.records.len() {
        // Parked until the last thread wrote the image.
        drop(g);
        // A fatal signal ends the wait: the thread dies anyway.
        let _ = job.release.wait();
        if let (true, Some(h)) = (job.retire.load(Ordering::Acquire), &job.handover) {
            h.retire_thread();
        }
        return;
    }
    // The last thread to stop writes the image.
    let records = core::mem::replace(&mut g.records, KVec::new());
    let failed = g.failed.take();
    drop(g);
    let mut reply = CtlReply::EMPTY;
    let result = if job.cancelled.load(Ordering::Acquire) {
        Err(EINTR)
    } else if let Some(e) = failed {
        say(&mut reply, format_args!("a thread of the process could not record its state"));
        Err(e)
    } else {
        collect_records(records).and_then(|all| match &job.handover {
            // A migration: it picks the pages that go in the image, which
            // goes to the destination as it is written.
            Some(out) => out.send_image(job.ahead, &job.cancelled, &mut reply, &mut |sink, memory, reply| {
                capture::capture_current(sink, &job.origin, &all, reply, memory, None)
            }),
            None => match &job.file {
                Some(file) => {
                    let sink = &mut capture::FileSink::new(file);
                    match &job.increment {
                        Some(inc) => inc.write(sink, &mut reply, &mut |sink, memory, parent, reply| {
                            capture::capture_current(sink, &job.origin, &all, reply, memory, parent)
                        }),
                        None => capture::capture_current(sink, &job.origin, &all, &mut reply, capture::Memory::All, None),
                    }
                }
                None => Err(EINVAL),
            },
        })
    };
    if let (Ok(w), Some(out), false) = (&result, job.handover.clone(), job.ahead) {
        // A migration: hand the process over, tell the caller, then become
        // its deputy (or let it go on here if the hand-over failed).
        let (bytes, pages) = (w.image_bytes, w.pages);
        let handed = out.hand_over(bytes, start, &job.cancelled, &mut reply);
        let frozen = task::mono_ns().saturating_sub(start);
        let there = handed.as_ref().ok().copied();
        job.retire.store(there.is_some(), Ordering::Release);
        let all_bytes = out.total_bytes(bytes);
        *job.outcome.lock() = Some((handed.map(|_| capture::Written { image_bytes: all_bytes, pages }), reply, frozen));
        job.done.notify_all();
        job.release_all();
        // The image (in the job) goes with the last reference.
        drop(job);
        out.finish(there, bytes, frozen);
        return;
    }
    let frozen = task::mono_ns().saturating_sub(start);
    if result.is_ok() && job.kill {
        task::kill_current();
    }
    *job.outcome.lock() = Some((result, reply, frozen));
    job.done.notify_all();
    job.release_all();
}

/// Every thread's record, in thread order; `EAGAIN` if one is missing.
fn collect_records(records: KVec<Option<KBox<capture::ThreadRecord>>>) -> Result<KVec<KBox<capture::ThreadRecord>>> {
    let mut all = KVec::with_capacity(records.len(), GFP_KERNEL)?;
    for r in records {
        all.push(r.ok_or(EAGAIN)?, GFP_KERNEL)?;
    }
    Ok(all)
}

/// Checkpoints process `req.pid` into the caller's file `req.image_fd`.
pub(crate) fn checkpoint(node: u32, req: &CtlRequest, reply: &mut CtlReply) -> Result {
    let start = task::mono_ns();
    let target = check_target(req.pid, reply)?;
    let file = File::from_fd(req.image_fd).ok_or_else(|| fail(reply, EBADF, format_args!("bad image descriptor")))?;
    let info = file.info();
    if info.kind != task::FileClass::Regular || info.writable == 0 {
        return Err(fail(reply, EBADF, format_args!("the image must be a regular file open for writing")));
    }
    capture(node, req.pid, target, Some(file), req.flags & FLAG_KILL != 0, None, None, false, start, reply)
}

/// Process `pid`, if the caller may capture it: a user process of the
/// caller (or the caller is root), not the caller's own, not exiting,
/// traced or stopped, with at most [`MAX_THREADS`] threads.
pub(crate) fn check_target(pid: u32, reply: &mut CtlReply) -> Result<Task> {
    if pid == task::task_state()?.tgid {
        // Its task work would wait for this very call to return.
        return Err(fail(reply, EINVAL, format_args!("a process cannot checkpoint or migrate itself")));
    }
    let target = Task::get(pid).ok_or_else(|| fail(reply, ESRCH, format_args!("no process {pid}")))?;
    if target.brief().kthread != 0 {
        return Err(fail(reply, EPERM, format_args!("{pid} is a kernel thread")));
    }
    if !target.may_checkpoint(pid) {
        return Err(fail(
            reply,
            EPERM,
            format_args!(
                "only root or the owner of process {pid} may checkpoint or migrate it (the ptrace attach check refused)"
            ),
        ));
    }
    // After the check: had the pid been reused meanwhile, this one is exiting.
    let brief = target.brief();
    if brief.exiting != 0 {
        return Err(fail(reply, ESRCH, format_args!("process {pid} is exiting")));
    }
    if brief.ptraced != 0 {
        return Err(fail(reply, EBUSY, format_args!("process {pid} is being traced")));
    }
    if brief.stopped != 0 {
        return Err(fail(reply, EBUSY, format_args!("process {pid} is stopped: continue it (SIGCONT) first")));
    }
    if brief.nr_threads as usize > MAX_THREADS {
        return Err(fail(
            reply,
            E2BIG,
            format_args!("process {pid} has {} threads: at most {MAX_THREADS} are supported", brief.nr_threads),
        ));
    }
    Ok(target)
}

/// Captures `target` into `file` (then kills it if `kill`; `increment`
/// may make the image incremental; or, with `handover` and no file,
/// streams it to another node and migrates it, or, `ahead`, only streams
/// it there and lets it go on); waits for the outcome.
#[allow(clippy::too_many_arguments)]
pub(crate) fn capture(
    node: u32,
    pid: u32,
    target: Task,
    file: Option<File>,
    kill: bool,
    handover: Option<Arc<dyn Handover>>,
    increment: Option<Arc<dyn increment::Increment>>,
    ahead: bool,
    start: u64,
    reply: &mut CtlReply,
) -> Result {
    let origin = Origin { node, image_id: crate::kernel_ext::random_id(), created_ns: crate::kernel_ext::real_time_ns() };
    let threads =
        target.threads(MAX_THREADS).map_err(|e| fail(reply, e, format_args!("cannot list the threads of {pid}")))?;
    drop(target);
    let mut records = KVec::with_capacity(threads.len(), GFP_KERNEL)?;
    for _ in 0..threads.len() {
        records.push(None, GFP_KERNEL)?;
    }
    let job = Arc::pin_init(
        pin_init!(CaptureJob {
            file,
            kill,
            handover,
            increment,
            ahead,
            origin,
            cancelled: AtomicBool::new(false),
            retire: AtomicBool::new(false),
            gather <- new_mutex!(Gather { arrived: 0, records, failed: None }),
            release <- task::Gate::new(),
            outcome <- new_mutex!(None),
            done <- new_condvar!(),
        }),
        GFP_KERNEL,
    )?;
    // Every thread gets its work; a thread that cannot (it is exiting)
    // cancels the capture, and the works already queued do nothing.
    for (index, thread) in threads.iter().enumerate() {
        let tw = KBox::new(ThreadWork { work: Opaque::uninit(), job: job.clone(), index }, GFP_KERNEL);
        let queued = tw.map_err(Error::from).and_then(|tw| {
            let raw = KBox::into_raw(tw);
            // SAFETY: `raw` points to a live ThreadWork.
            let work = unsafe { Opaque::raw_get(core::ptr::addr_of!((*raw).work)) };
            // SAFETY: `work` is the ThreadWork's callback_head.
            unsafe { task::init_work(work, capture_work) };
            // SAFETY: the work is initialised and lives in the box that
            // `capture_work` takes back.
            unsafe { thread.add_work(work) }.inspect_err(|_| {
                // SAFETY: not queued: the box is still ours.
                drop(unsafe { KBox::from_raw(raw) });
            })
        });
        if let Err(e) = queued {
            job.cancelled.store(true, Ordering::Release);
            job.release_all();
            return Err(fail(reply, e, format_args!("process {pid} is exiting or changing its threads")));
        }
    }
    drop(threads);
    // The threads' stop is timed from here (`start` may be long before: a
    // migration's earlier rounds).
    let queued = task::mono_ns();
    let mut outcome = job.outcome.lock();
    while outcome.is_none() {
        let waited_ms = task::mono_ns().saturating_sub(queued) / 1_000_000;
        let res = job.done.wait_interruptible_timeout(&mut outcome, msecs_to_jiffies(200));
        let interrupted = matches!(res, kernel::sync::CondVarTimeoutResult::Signal { .. });
        let stalled = outcome.is_none() && waited_ms > ARRIVAL_TIMEOUT_MS && {
            let g = job.gather.lock();
            g.arrived < g.records.len()
        };
        if interrupted || stalled {
            job.cancelled.store(true, Ordering::Release);
            drop(outcome);
            job.release_all();
            return Err(if interrupted {
                fail(reply, EINTR, format_args!("interrupted before the capture finished"))
            } else {
                fail(
                    reply,
                    EBUSY,
                    format_args!("a thread of process {pid} did not stop within {} s", ARRIVAL_TIMEOUT_MS / 1000),
                )
            });
        }
    }
    let (result, mut r, frozen) = outcome.take().ok_or(EINVAL)?;
    drop(outcome);
    r.frozen_ns = frozen;
    r.total_ns = task::mono_ns().saturating_sub(start);
    match result {
        Ok(w) => {
            r.image_bytes = w.image_bytes;
            r.pages = w.pages;
            *reply = r;
            Ok(())
        }
        Err(e) => {
            *reply = r;
            if reply.message().is_empty() {
                say(reply, format_args!("capture failed (error {})", e.to_errno()));
            }
            Err(e)
        }
    }
}
