// SPDX-License-Identifier: GPL-2.0
//! Thin safe wrappers over the C glue in `procs_helpers.c`: the raw facts
//! of this node's processes, one at a time in pid order, and the boot
//! clock; and over `resources_helpers.c`: the kernel's own `/proc` files
//! through a private procfs mount. Every `unsafe` block of the process
//! space is here.

use crate::extra as raw;
use kernel::{
    ffi::{c_int, c_void},
    prelude::*,
    str::CStr,
};

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

/// The credentials a signal's permission rule reads, and the process's
/// tgid (`struct ssi_signal_target`).
pub(crate) type SignalTarget = raw::ssi_signal_target;

/// The task with pid `pid` (a thread id too), if any.
pub(crate) fn signal_target(pid: u32) -> Option<SignalTarget> {
    let mut t = SignalTarget::default();
    // SAFETY: `t` is writable.
    let r = unsafe { raw::ssi_signal_target(pid, &mut t) };
    (r == 0).then_some(t)
}

/// The processes of group `pgid`, the first `out.len()` of them in `out`;
/// returns how many there are.
pub(crate) fn signal_group(pgid: u32, out: &mut [SignalTarget]) -> usize {
    let max = u32::try_from(out.len()).unwrap_or(u32::MAX);
    // SAFETY: `out` is writable for `max` entries, at most what the helper
    // fills.
    let n = unsafe { raw::ssi_signal_group(pgid, out.as_mut_ptr(), max) };
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Sends `sig` to the task with pid `pid` as a signal from user space of
/// `sender_pid` and `sender_uid` (no permission check).
pub(crate) fn signal_send(pid: u32, sig: u8, sender_pid: u32, sender_uid: u32) -> kernel::error::Result {
    // SAFETY: plain call; the helper looks the task up itself.
    kernel::error::to_result(unsafe { raw::ssi_signal_send(pid, c_int::from(sig), sender_pid, sender_uid) })
}

/// A private procfs mount (attached nowhere): the kernel's own files of
/// the `/proc` root, which the `/proc` root hook does not replace there.
/// Unmounted on drop.
pub(crate) struct KernelProc {
    mnt: *mut c_void,
}

// SAFETY: the mount is only handed to the VFS, which does its own locking.
unsafe impl Send for KernelProc {}
// SAFETY: as above.
unsafe impl Sync for KernelProc {}

impl KernelProc {
    /// Mounts it (of the caller's pid namespace).
    pub(crate) fn mount() -> Result<Self> {
        let mut err = 0;
        // SAFETY: `err` is writable.
        let mnt = unsafe { raw::ssi_kproc_mount(&mut err) };
        if mnt.is_null() {
            return Err(Error::from_errno(err));
        }
        Ok(KernelProc { mnt })
    }

    /// Reads its root's file `name` into `buf`, as much as fits; returns
    /// the bytes read (`buf.len()`: maybe more were left). May sleep.
    pub(crate) fn read(&self, name: &CStr, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: `mnt` is mounted until drop; `name` is NUL-terminated;
        // `buf` is writable for its length.
        let n = unsafe { raw::ssi_kproc_read(self.mnt, name.as_char_ptr(), buf.as_mut_ptr(), buf.len()) };
        if n < 0 {
            return Err(Error::from_errno(n as i32));
        }
        Ok(usize::try_from(n).unwrap_or(0).min(buf.len()))
    }
}

impl Drop for KernelProc {
    fn drop(&mut self) {
        // SAFETY: mounted by `mount`, unmounted once here.
        unsafe { raw::ssi_kproc_unmount(self.mnt) };
    }
}
