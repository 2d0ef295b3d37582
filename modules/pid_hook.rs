// SPDX-License-Identifier: GPL-2.0
//! The node pid range hook (issue 20, "one pid for life"): while armed, the
//! initial pid namespace allocates new pids only from one range
//! (`proto::pid_range`). A kprobe on `idr_alloc_cyclic` replaces the start
//! and end arguments of `alloc_pid`'s calls for `init_pid_ns.idr` (C glue
//! `ssi_pid_hook_arm` in `modules/helpers.c`; see docs/design.md, "Kernel
//! internals relied on"). Also reads `pid_max`, which the hook needs to be
//! at least `PID_MAX_NEEDED`.

use crate::proto::{identity::parse_decimal, pid_range::PidRange};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{c_str, prelude::*};

/// Whether a [`PidHook`] exists: the C glue holds one kprobe.
static ARMED: AtomicBool = AtomicBool::new(false);

/// The armed hook; dropping it disarms it.
pub(crate) struct PidHook {
    range: PidRange,
}

impl PidHook {
    /// Arms the hook for `range` and moves the cursor to its start, so the
    /// next pid is in it. `EBUSY` if a hook is armed already.
    pub(crate) fn arm(range: PidRange) -> Result<Self> {
        if ARMED.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        // SAFETY: only one hook is armed at a time (`ARMED`), so the C
        // glue's kprobe is not registered; it writes the two numbers before
        // registering it.
        let r = kernel::error::to_result(unsafe { crate::extra::ssi_pid_hook_arm(range.lo, range.hi) });
        if let Err(e) = r {
            ARMED.store(false, Ordering::Release);
            return Err(e);
        }
        pr_info!("pid range {}-{} armed\n", range.lo, range.hi);
        Ok(PidHook { range })
    }

    /// The range the hook keeps new pids in.
    pub(crate) fn range(&self) -> PidRange {
        self.range
    }
}

impl Drop for PidHook {
    fn drop(&mut self) {
        // SAFETY: registered by `arm` (this hook exists); unregistering
        // waits until no pre-handler runs.
        unsafe { crate::extra::ssi_pid_hook_disarm() };
        ARMED.store(false, Ordering::Release);
        pr_info!("pid range {}-{} disarmed\n", self.range.lo, self.range.hi);
    }
}

/// The current `/proc/sys/kernel/pid_max` (the variable is not exported).
pub(crate) fn pid_max() -> Result<u64> {
    let path = c_str!("/proc/sys/kernel/pid_max");
    let mut buf = [0u8; 24];
    // SAFETY: `path` is NUL-terminated; `buf` is writable for its length.
    let n = unsafe { crate::extra::ssi_read_file_head(path.as_char_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    let n = usize::try_from(n).map_err(|_| i32::try_from(n).map_or(EINVAL, Error::from_errno))?;
    parse_decimal(&buf[..n.min(buf.len())], 0, u64::from(u32::MAX)).map_err(|_| EINVAL)
}
