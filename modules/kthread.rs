// SPDX-License-Identifier: GPL-2.0
//! Thin safe wrapper around kernel threads (`include/linux/kthread.h`).
//!
//! A [`KThread`] runs `T::run` on shared data `Arc<T>` in its own kernel
//! thread. `run` must return soon after [`should_stop`] turns true (block
//! only with timeouts); dropping the `KThread` stops the thread and waits
//! for it. The thread never exits on its own: after `run` returns it idles
//! until stopped, so stopping is always safe.

use kernel::{
    bindings,
    error::from_err_ptr,
    ffi::{c_int, c_void},
    prelude::*,
    str::CStr,
    sync::Arc,
    task::Task,
    types::ARef,
};

/// The body of a kernel thread.
pub(crate) trait ThreadBody: Send + Sync + 'static {
    /// Runs until the work is done or [`should_stop`] is true.
    fn run(&self);
}

/// Whether the current kernel thread was asked to stop.
pub(crate) fn should_stop() -> bool {
    // SAFETY: only called from threads started by `KThread::spawn`.
    unsafe { bindings::kthread_should_stop() }
}

/// Sleeps for `ms` milliseconds or until the thread is asked to stop.
pub(crate) fn sleep_ms(ms: u32) {
    // SAFETY: plain call; kthread_stop wakes an interruptible sleeper.
    unsafe {
        bindings::schedule_timeout_interruptible(bindings::__msecs_to_jiffies(ms) as _);
    }
}

/// A running kernel thread; stopped and joined on drop.
pub(crate) struct KThread {
    /// The thread, by reference.
    task: ARef<Task>,
    data: *const c_void,
    drop_data: unsafe fn(*const c_void),
}

// SAFETY: the task is only used for kthread_stop (callable from any
// thread); the data is an `Arc<T>` with `T: Send + Sync`.
unsafe impl Send for KThread {}
// SAFETY: `&KThread` exposes nothing.
unsafe impl Sync for KThread {}

impl KThread {
    /// Starts a thread named `name` (shown in `ps`) running `body.run()`.
    pub(crate) fn spawn<T: ThreadBody>(name: &CStr, body: Arc<T>) -> Result<KThread> {
        let data = Arc::into_raw(body).cast::<c_void>();
        // SAFETY: the trampoline matches `data`'s type; "%s" with a
        // NUL-terminated name; -1 is NUMA_NO_NODE.
        let task = unsafe {
            bindings::kthread_create_on_node(
                Some(trampoline::<T>),
                data.cast_mut(),
                -1,
                c"%s".as_ptr().cast(),
                name.as_char_ptr(),
            )
        };
        let task = match from_err_ptr(task) {
            Ok(t) => t,
            Err(e) => {
                // SAFETY: the thread does not exist; reclaim our reference.
                unsafe { drop_arc::<T>(data) };
                return Err(e);
            }
        };
        // SAFETY: `task` is a new kthread waiting to be woken, so it is
        // valid here; `ARef::from` takes a reference of our own on it.
        let task: ARef<Task> = ARef::from(unsafe { &*task.cast::<Task>() });
        task.wake_up();
        Ok(KThread { task, data, drop_data: drop_arc::<T> })
    }
}

impl Drop for KThread {
    fn drop(&mut self) {
        // SAFETY: we hold a reference on `task`, and the thread never
        // exits before kthread_stop (see the trampoline); kthread_stop
        // waits for it to leave, after which nothing uses `data` and we
        // release it. The task reference goes with `self`.
        unsafe {
            bindings::kthread_stop(crate::kernel_ext::task_ptr(&self.task));
            (self.drop_data)(self.data);
        }
    }
}

/// # Safety
///
/// `data` must come from `Arc::<T>::into_raw` and not be used afterwards.
unsafe fn drop_arc<T>(data: *const c_void) {
    // SAFETY: per the contract.
    drop(unsafe { Arc::from_raw(data.cast::<T>()) });
}

/// The thread function of a `KThread` running `T`.
///
/// # Safety
///
/// `data` must be the `Arc<T>` pointer held by the `KThread`, which stays
/// alive until this function has returned.
unsafe extern "C" fn trampoline<T: ThreadBody>(data: *mut c_void) -> c_int {
    // SAFETY: `data` is the `Arc<T>` held by the `KThread`, which outlives
    // this function (its drop waits for us in kthread_stop).
    let body = unsafe { &*data.cast_const().cast::<T>() };
    body.run();
    while !should_stop() {
        sleep_ms(1000);
    }
    0
}
