// SPDX-License-Identifier: GPL-2.0
//! The exec hook (issue 21, exec-time placement): while armed, every user
//! process of the initial pid namespace that execs is queued (its tgid),
//! for the scheduler's placer to decide where it runs. A probe on the
//! `sched_process_exec` tracepoint, found by name (C glue
//! `modules/exec_hook.c`; see docs/design.md, "Kernel internals relied
//! on"). One hook at a time.

use core::sync::atomic::{AtomicBool, Ordering};
use kernel::prelude::*;

/// Whether the hook is armed.
static ARMED: AtomicBool = AtomicBool::new(false);

/// The armed hook; dropping it unregisters the probe.
pub(crate) struct ExecHook(());

impl ExecHook {
    /// Arms the hook. `EBUSY`: armed already; `ENOENT`: no such
    /// tracepoint in this kernel.
    pub(crate) fn arm() -> Result<Self> {
        if ARMED.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        // SAFETY: only one hook is armed at a time (`ARMED`).
        let r = kernel::error::to_result(unsafe { crate::extra::ssi_exec_hook_arm() });
        if let Err(e) = r {
            ARMED.store(false, Ordering::Release);
            return Err(e);
        }
        pr_info!("exec hook armed: programs that start may be placed on another node\n");
        Ok(ExecHook(()))
    }

    /// Waits at most `ms` for an exec, or until the calling kernel thread
    /// is asked to stop.
    pub(crate) fn wait(&self, ms: u32) {
        // SAFETY: plain call; the glue's wait queue is static.
        unsafe { crate::extra::ssi_exec_hook_wait(ms) }
    }

    /// The tgid of the oldest exec queued, if any.
    pub(crate) fn next(&self) -> Option<u32> {
        let mut tgid = 0u32;
        // SAFETY: `tgid` is writable.
        let got = unsafe { crate::extra::ssi_exec_hook_next(&mut tgid) };
        (got != 0).then_some(tgid)
    }
}

/// Execs dropped because the queue was full (since the module loaded).
pub(crate) fn dropped() -> u64 {
    // SAFETY: plain read of a counter.
    unsafe { crate::extra::ssi_exec_hook_dropped() }
}

impl Drop for ExecHook {
    fn drop(&mut self) {
        // SAFETY: armed by `arm` (this hook exists); the glue waits until
        // no probe runs.
        unsafe { crate::extra::ssi_exec_hook_disarm() };
        ARMED.store(false, Ordering::Release);
        pr_info!("exec hook disarmed\n");
    }
}
