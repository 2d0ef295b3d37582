// SPDX-License-Identifier: GPL-2.0
//! Checkpoint of unmodified processes (`ssi-ctl checkpoint`, through
//! `/dev/ssi`).
//!
//! The caller's request is checked (the target exists, is a user process
//! the caller owns or the caller is root, is not stopped, traced or
//! exiting), then a task work is queued on the target with `TWA_SIGNAL`:
//! the target is interrupted, and on its way back to user mode, in its own
//! context and at a safe point, it writes its own image
//! (`checkpoint/capture.rs`) while the caller waits. The target's user code
//! does not run meanwhile: that is the freeze. Afterwards the target goes
//! on unharmed, or is killed (`--kill`). A caller interrupted by a signal
//! stops waiting; a capture that has not started by then is skipped.

pub(crate) mod capture;
pub(crate) mod remote;
pub(crate) mod restore;
pub(crate) mod task;

use crate::kernel_ext::eopnotsupp;
use crate::proto::ctl::{CtlReply, CtlRequest, MessageWriter, FLAG_KILL};
use capture::Origin;
use core::{fmt::Write, mem::offset_of, sync::atomic::{AtomicBool, Ordering}};
use kernel::{
    bindings, new_condvar, new_mutex,
    prelude::*,
    sync::{Arc, CondVar, Mutex},
    types::Opaque,
};
use task::{File, Task};

/// One capture waiting for, or done by, its target.
#[pin_data]
struct CaptureJob {
    /// The task work queued on the target.
    work: Opaque<bindings::callback_head>,
    file: File,
    kill: bool,
    origin: Origin,
    /// The caller stopped waiting: do nothing.
    cancelled: AtomicBool,
    #[pin]
    outcome: Mutex<Option<(Result<capture::Written>, CtlReply, u64)>>,
    #[pin]
    done: CondVar,
}

/// The task work: runs in the target's context.
///
/// # Safety
///
/// `work` is the `work` field of a `CaptureJob` whose `Arc` reference was
/// given to the target with `Arc::into_raw` when the work was queued.
unsafe extern "C" fn capture_work(work: *mut bindings::callback_head) {
    let off = offset_of!(CaptureJob, work);
    // SAFETY: per the contract, `work` lies `off` bytes into a CaptureJob
    // whose queued reference we take back here.
    let job = unsafe { Arc::from_raw(work.cast::<u8>().sub(off).cast::<CaptureJob>()) };
    let mut reply = CtlReply::EMPTY;
    let start = task::mono_ns();
    let result = if job.cancelled.load(Ordering::Acquire) {
        Err(EINTR)
    } else if task::current_exiting() {
        let _ = MessageWriter::new(&mut reply).write_str("the process exited");
        Err(ESRCH)
    } else {
        capture::capture_current(&job.file, &job.origin, &mut reply)
    };
    let frozen = task::mono_ns().saturating_sub(start);
    if result.is_ok() && job.kill {
        task::kill_current();
    }
    *job.outcome.lock() = Some((result, reply, frozen));
    job.done.notify_all();
}

fn fail(reply: &mut CtlReply, err: Error, args: core::fmt::Arguments<'_>) -> Error {
    let _ = MessageWriter::new(reply).write_fmt(args);
    err
}

/// Checkpoints process `req.pid` into the caller's file `req.image_fd`.
pub(crate) fn checkpoint(node: u32, req: &CtlRequest, reply: &mut CtlReply) -> Result {
    let start = task::mono_ns();
    let pid = req.pid;
    if pid == task::current_pid() {
        // Its task work would wait for this very call to return.
        return Err(fail(reply, EINVAL, format_args!("a process cannot checkpoint itself")));
    }
    let target = Task::get(pid).ok_or_else(|| fail(reply, ESRCH, format_args!("no process {pid}")))?;
    let brief = target.brief();
    if brief.kthread != 0 {
        return Err(fail(reply, EPERM, format_args!("{pid} is a kernel thread")));
    }
    if !target.may_checkpoint() {
        return Err(fail(reply, EPERM, format_args!("only root or the owner of process {pid} may checkpoint it")));
    }
    if brief.exiting != 0 {
        return Err(fail(reply, ESRCH, format_args!("process {pid} is exiting")));
    }
    if brief.ptraced != 0 {
        return Err(fail(reply, EBUSY, format_args!("process {pid} is being traced")));
    }
    if brief.stopped != 0 {
        return Err(fail(reply, EBUSY, format_args!("process {pid} is stopped: continue it (SIGCONT) first")));
    }
    if brief.nr_threads != 1 {
        return Err(fail(
            reply,
            eopnotsupp(),
            format_args!("process {pid} has {} threads: multithreaded processes are not supported yet", brief.nr_threads),
        ));
    }
    let file = File::from_fd(req.image_fd).ok_or_else(|| fail(reply, EBADF, format_args!("bad image descriptor")))?;
    let info = file.info();
    if info.kind != task::FILE_REGULAR || info.writable == 0 {
        return Err(fail(reply, EBADF, format_args!("the image must be a regular file open for writing")));
    }
    let mut id = [0u8; 8];
    // SAFETY: `id` is writable for its length.
    unsafe { bindings::get_random_bytes(id.as_mut_ptr().cast(), id.len()) };
    let origin = Origin { node, image_id: u64::from_le_bytes(id) | 1, created_ns: crate::cluster::real_time_ns() };
    let job = Arc::pin_init(
        pin_init!(CaptureJob {
            work: Opaque::uninit(),
            file,
            kill: req.flags & FLAG_KILL != 0,
            origin,
            cancelled: AtomicBool::new(false),
            outcome <- new_mutex!(None),
            done <- new_condvar!(),
        }),
        GFP_KERNEL,
    )?;
    let work = job.work.get();
    // SAFETY: `work` is a callback_head inside the job, which lives at least
    // as long as the reference handed over below.
    unsafe { task::init_work(work, capture_work) };
    let queued = Arc::into_raw(job.clone());
    // SAFETY: the work is initialised and owned by the job, kept alive by
    // the reference `queued` until `capture_work` takes it back.
    if let Err(e) = unsafe { target.add_work(work) } {
        // SAFETY: the work was not queued: the reference is still ours.
        drop(unsafe { Arc::from_raw(queued) });
        return Err(fail(reply, if e == ESRCH { ESRCH } else { e }, format_args!("process {pid} is exiting")));
    }
    drop(target);
    let mut outcome = job.outcome.lock();
    while outcome.is_none() {
        if job.done.wait_interruptible(&mut outcome) {
            job.cancelled.store(true, Ordering::Release);
            drop(outcome);
            return Err(fail(reply, EINTR, format_args!("interrupted before the capture finished")));
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
                let _ = MessageWriter::new(reply).write_fmt(format_args!("capture failed (error {})", e.to_errno()));
            }
            Err(e)
        }
    }
}
