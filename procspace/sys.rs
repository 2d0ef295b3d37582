// SPDX-License-Identifier: GPL-2.0
//! Thin safe wrappers over the C glue in `procs_helpers.c`: the raw facts
//! of this node's processes, one at a time in pid order, and the boot
//! clock. Every `unsafe` block of the process space is here.

use crate::extra as raw;

/// One thread-group leader's raw facts (`struct ssi_proc_facts`).
pub(crate) type Facts = raw::ssi_proc_facts;

/// The thread-group leader with the lowest tgid above `after` (kernel
/// threads too), and its command line's raw bytes in `cmdline` (the first
/// `cmdline_len`); `None` past the last one. May sleep.
pub(crate) fn next_process(after: u32, cmdline: &mut [u8]) -> Option<Facts> {
    let mut f = Facts::default();
    let len = u32::try_from(cmdline.len()).unwrap_or(u32::MAX);
    // SAFETY: `f` is writable; `cmdline` is writable for `len` bytes, at
    // most what the helper writes there.
    let found = unsafe { raw::ssi_procs_next(after, &mut f, cmdline.as_mut_ptr(), len) };
    (found != 0).then_some(f)
}

/// Nanoseconds of the boot clock (`CLOCK_BOOTTIME`, which task start
/// times count in).
pub(crate) fn boottime_ns() -> u64 {
    // SAFETY: plain call.
    unsafe { raw::ssi_boottime_ns() }
}
