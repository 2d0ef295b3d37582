// SPDX-License-Identifier: GPL-2.0
//! The pid files hook (issue 20, "a migrated process once, with its real
//! state"): `stat`, `statm`, `status` and `cmdline` of a local
//! `/proc/PID` directory are served by a [`PidFiles`] when it says so, and
//! by the kernel otherwise. The process space uses it for the two local
//! faces of a migrated process: the deputy at home, asleep in the module
//! with its memory unmapped, shows the running copy's files; the running
//! copy shows its home parent, group and session instead of the restart
//! program's. ftrace callbacks with IPMODIFY on the four kernel functions
//! send each call through the C glue (`modules/pid_files.c`), which asks
//! the [`PidFiles`] and calls the original when it declines. See
//! docs/design.md, "Kernel internals relied on".

use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    ffi::{c_char, c_int, c_long, c_void},
    prelude::*,
    sync::Arc,
};

/// A file of a `/proc/PID` directory the hook may serve.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum PidFile {
    /// `stat`.
    Stat,
    /// `statm`.
    Statm,
    /// `status`.
    Status,
    /// `cmdline`.
    Cmdline,
}

impl PidFile {
    /// The file of the C glue's index.
    fn from_index(i: c_int) -> Option<PidFile> {
        match u32::try_from(i).ok()? {
            crate::extra::SSI_PID_FILE_STAT => Some(PidFile::Stat),
            crate::extra::SSI_PID_FILE_STATM => Some(PidFile::Statm),
            crate::extra::SSI_PID_FILE_STATUS => Some(PidFile::Status),
            crate::extra::SSI_PID_FILE_CMDLINE => Some(PidFile::Cmdline),
            _ => None,
        }
    }
}

/// Decides and renders the files the hook serves.
pub(crate) trait PidFiles: Send + Sync {
    /// Whether `file` of the process `tgid` is the module's. May sleep;
    /// called for every read of one of the four files, so it must be
    /// cheap.
    fn serves(&self, tgid: u32, file: PidFile) -> bool;
    /// Writes `file` of `tgid` into `out`, as much as fits, and returns
    /// its whole length; `ENOENT` leaves it to the kernel after all.
    fn render(&self, tgid: u32, file: PidFile, out: &mut [u8]) -> Result<usize>;
}

/// What the C glue's callbacks reach (a thin pointer to it is their
/// `priv`).
struct Source(Arc<dyn PidFiles>);

/// Whether the hook is armed (the C glue holds one).
static ARMED: AtomicBool = AtomicBool::new(false);

/// The armed hook; dropping it puts the kernel's files back, after every
/// task in the module's path left it.
pub(crate) struct PidFilesHook {
    source: *mut Source,
}

// SAFETY: `source` is owned by the hook and only read through shared
// references (`PidFiles` is `Send + Sync`).
unsafe impl Send for PidFilesHook {}
// SAFETY: as above.
unsafe impl Sync for PidFilesHook {}

static OPS: crate::extra::ssi_pid_files_ops = crate::extra::ssi_pid_files_ops { serves: Some(serves), render: Some(render) };

impl PidFilesHook {
    /// Arms the hook with `source`. `EBUSY`: armed already;
    /// `EOPNOTSUPP`: no ftrace with registers; other errors from ftrace.
    pub(crate) fn arm(source: Arc<dyn PidFiles>) -> Result<Self> {
        if ARMED.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        let source = KBox::into_raw(KBox::new(Source(source), GFP_KERNEL).inspect_err(|_| {
            ARMED.store(false, Ordering::Release);
        })?);
        // SAFETY: `OPS` is static; `source` lives until
        // `ssi_pid_files_disarm` returned (drop), after which no callback
        // runs.
        let r = kernel::error::to_result(unsafe { crate::extra::ssi_pid_files_arm(&OPS, source.cast()) });
        if let Err(e) = r {
            // SAFETY: not armed: nothing else holds `source`.
            drop(unsafe { KBox::from_raw(source) });
            ARMED.store(false, Ordering::Release);
            return Err(e);
        }
        pr_info!("pid files hook armed: /proc/PID of migrated processes shows them as they run\n");
        Ok(PidFilesHook { source })
    }
}

impl Drop for PidFilesHook {
    fn drop(&mut self) {
        // SAFETY: armed by `arm`; when it returns no callback runs and no
        // task is in the module's wrappers.
        unsafe { crate::extra::ssi_pid_files_disarm() };
        // SAFETY: from `KBox::into_raw` in `arm`; the C glue forgot it.
        drop(unsafe { KBox::from_raw(self.source) });
        ARMED.store(false, Ordering::Release);
        pr_info!("pid files hook disarmed\n");
    }
}

/// # Safety
///
/// `p` is the `priv` given to `ssi_pid_files_arm`, still armed.
unsafe fn source<'a>(p: *mut c_void) -> &'a dyn PidFiles {
    // SAFETY: per the contract, a live `Source`.
    unsafe { &*(*p.cast::<Source>()).0 }
}

/// # Safety
///
/// The C glue's `serves` contract.
unsafe extern "C" fn serves(p: *mut c_void, tgid: u32, file: c_int) -> c_int {
    let Some(file) = PidFile::from_index(file) else { return 0 };
    // SAFETY: per the contract.
    c_int::from(unsafe { source(p) }.serves(tgid, file))
}

/// # Safety
///
/// The C glue's `render` contract: `buf` is writable for `cap` bytes.
unsafe extern "C" fn render(p: *mut c_void, tgid: u32, file: c_int, buf: *mut c_char, cap: usize) -> c_long {
    let Some(file) = PidFile::from_index(file) else { return ENOENT.to_errno() as c_long };
    // SAFETY: per the contract.
    let out = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), cap) };
    // SAFETY: per the contract.
    match unsafe { source(p) }.render(tgid, file, out) {
        Ok(n) => c_long::try_from(n).unwrap_or(c_long::MAX),
        Err(e) => e.to_errno() as c_long,
    }
}
