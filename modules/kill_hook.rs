// SPDX-License-Identifier: GPL-2.0
//! The kill hook (issue 20, "signals anywhere"): while armed, a `kill(2)`
//! of a pid or process group this node does not know, whose number is
//! outside slot 0 and outside this node's own slot, is answered by a
//! [`KillRouter`] instead of the kernel. An ftrace callback on
//! `__x64_sys_kill` makes such a call return through a wrapper of the
//! module (C glue `ssi_kill_hook_arm` in `modules/helpers.c`; see
//! docs/design.md, "Kernel internals relied on"). Also reads who the
//! current task is, for the signal's sender.

use crate::proto::{pid_range::PidRange, signal::Sender};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    ffi::{c_int, c_long, c_void},
    prelude::*,
    sync::Arc,
};

/// Answers the `kill` calls the hook routes.
pub(crate) trait KillRouter: Send + Sync + 'static {
    /// `kill(pid, sig)` of the current task: 0 or a negative errno. May
    /// sleep.
    fn route(&self, pid: i32, sig: i32) -> i32;
}

/// Whether a [`KillHook`] exists: the C glue holds one ftrace ops.
static ARMED: AtomicBool = AtomicBool::new(false);

/// The armed hook; dropping it disarms it, after every task in the
/// routed path left it.
pub(crate) struct KillHook<R: KillRouter> {
    router: *const R,
}

// SAFETY: the raw pointer is an `Arc<R>` the hook owns; `R` is `Send +
// Sync`.
unsafe impl<R: KillRouter> Send for KillHook<R> {}
// SAFETY: as above; the hook itself has no interior state.
unsafe impl<R: KillRouter> Sync for KillHook<R> {}

/// The C glue's callback: gives the call to the router.
unsafe extern "C" fn route_trampoline<R: KillRouter>(data: *mut c_void, pid: c_int, sig: c_int) -> c_long {
    // SAFETY: `data` is the `Arc<R>` pointer given to `ssi_kill_hook_arm`,
    // which stays alive until `ssi_kill_hook_disarm` returned, which waits
    // for every task in this path.
    let router = unsafe { &*data.cast::<R>() };
    router.route(pid, sig) as c_long
}

impl<R: KillRouter> KillHook<R> {
    /// Arms the hook: pids below `pid_range::SLOT` and those of `own` (this
    /// node's slot, if it has one) are never routed. `EBUSY` if a hook is
    /// armed already.
    pub(crate) fn arm(router: Arc<R>, own: Option<PidRange>) -> Result<Self> {
        if ARMED.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        let own = own.unwrap_or(PidRange { lo: 0, hi: 0 });
        let router = Arc::into_raw(router);
        // SAFETY: only one hook is armed at a time (`ARMED`), so the C
        // glue's ops is not registered; it writes the callback and the
        // numbers before registering it. `router` stays alive until
        // `Drop`, after `ssi_kill_hook_disarm`.
        let r = kernel::error::to_result(unsafe {
            crate::extra::ssi_kill_hook_arm(
                Some(route_trampoline::<R>),
                router.cast_mut().cast(),
                crate::proto::pid_range::SLOT,
                own.lo,
                own.hi,
            )
        });
        if let Err(e) = r {
            // SAFETY: from `Arc::into_raw` above; the glue did not keep it.
            drop(unsafe { Arc::from_raw(router) });
            ARMED.store(false, Ordering::Release);
            return Err(e);
        }
        pr_info!("kill hook armed: kills of other nodes' pids are routed to their home\n");
        Ok(KillHook { router })
    }
}

impl<R: KillRouter> Drop for KillHook<R> {
    fn drop(&mut self) {
        // SAFETY: registered by `arm` (this hook exists); the glue
        // unregisters it and waits until no task runs the routed path.
        unsafe { crate::extra::ssi_kill_hook_disarm() };
        // SAFETY: from `Arc::into_raw` in `arm`; nothing uses it any more.
        drop(unsafe { Arc::from_raw(self.router) });
        ARMED.store(false, Ordering::Release);
        pr_info!("kill hook disarmed\n");
    }
}

/// The current task as the sender of a signal.
pub(crate) fn current_sender() -> Sender {
    let (mut pid, mut uid, mut euid, mut cap_kill) = (0u32, 0u32, 0u32, 0 as c_int);
    // SAFETY: the four pointers are writable locals.
    unsafe { crate::extra::ssi_kill_sender(&mut pid, &mut uid, &mut euid, &mut cap_kill) };
    Sender { pid, uid, euid, cap_kill: cap_kill != 0 }
}
