// SPDX-License-Identifier: GPL-2.0
//! The `/proc` root hook (issue 20, "cluster-wide process listing"): the
//! initial pid namespace's `/proc` also holds a directory for each process
//! that runs on another node, so unmodified `ps`, `top` and `pgrep` list
//! it. The C glue (`modules/proc_root.c`) replaces the lookup and readdir
//! of that mount's root inode, calling the originals first; what exists
//! and what its files say comes from a [`RemoteProcs`] (the process space).
//! See docs/design.md, "Kernel internals relied on".

use crate::proto::procs::ProcEntry;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    ffi::{c_char, c_int, c_long, c_void},
    prelude::*,
    str::CStr,
    sync::Arc,
};

/// A process of another node, as its `/proc` directory shows it.
pub(crate) struct RemoteDir {
    /// The node that runs it.
    pub(crate) node: u16,
    /// What that node said about it.
    pub(crate) entry: ProcEntry,
}

/// The processes of the other nodes, for `/proc`.
pub(crate) trait RemoteProcs: Send + Sync {
    /// Fills `out` with the remote pids at or above `from`, ascending;
    /// returns how many (0: none left). Never a pid this node has.
    fn list(&self, from: u32, out: &mut [u32]) -> usize;
    /// The remote process `pid`, if there is one.
    fn get(&self, pid: u32) -> Option<Arc<RemoteDir>>;
    /// Who owns its directory and files: (euid, egid).
    fn owner(&self, dir: &RemoteDir) -> (u32, u32);
    /// The files of a remote directory.
    fn files(&self) -> &'static [&'static CStr];
    /// Writes file `file` of `dir` into `out`, as much as fits; returns
    /// its whole length.
    fn render(&self, dir: &RemoteDir, file: usize, out: &mut [u8]) -> Result<usize>;
    /// A file of the `/proc` root served instead of the kernel's (merged
    /// resources): its index, or `None` to leave `name` to the kernel.
    fn root_file(&self, _name: &CStr) -> Option<usize> {
        None
    }
    /// Writes root file `index` into `out`, as much as fits; returns its
    /// whole length.
    fn render_root(&self, _index: usize, _out: &mut [u8]) -> Result<usize> {
        Err(ENOENT)
    }
}

/// Forgets the cached dentry of `name` in the hooked `/proc` root, so that
/// its next lookup asks [`RemoteProcs::root_file`] again.
pub(crate) fn forget(name: &CStr) {
    // SAFETY: `name` is NUL-terminated; the glue checks that the hook is
    // installed.
    unsafe { crate::extra::ssi_proc_root_forget(name.as_char_ptr()) }
}

/// What the C glue's callbacks reach (a thin pointer to it is their
/// `priv`).
struct Source(Arc<dyn RemoteProcs>);

/// Whether the hook is installed (the C glue holds one).
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The installed hook; dropping it puts `/proc` back as it was.
pub(crate) struct ProcRootHook {
    source: *mut Source,
}

// SAFETY: `source` is owned by the hook and only read through shared
// references (`RemoteProcs` is `Send + Sync`).
unsafe impl Send for ProcRootHook {}
// SAFETY: as above.
unsafe impl Sync for ProcRootHook {}

static OPS: crate::extra::ssi_proc_root_ops = crate::extra::ssi_proc_root_ops {
    list: Some(list),
    get: Some(get),
    put: Some(put),
    file_name: Some(file_name),
    render: Some(render),
    root_file: Some(root_file),
    render_root: Some(render_root),
};

impl ProcRootHook {
    /// Installs the hook with `source`. `ENOENT`: `/proc` is not the
    /// initial pid namespace's proc mount; `EBUSY`: installed already.
    pub(crate) fn install(source: Arc<dyn RemoteProcs>) -> Result<Self> {
        if INSTALLED.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        let source = KBox::into_raw(KBox::new(Source(source), GFP_KERNEL).inspect_err(|_| {
            INSTALLED.store(false, Ordering::Release);
        })?);
        // SAFETY: `OPS` is static; `source` lives until `ssi_proc_root_remove`
        // returned (drop), after which no callback runs.
        let r = kernel::error::to_result(unsafe { crate::extra::ssi_proc_root_install(&OPS, source.cast()) });
        if let Err(e) = r {
            // SAFETY: not installed: nothing else holds `source`.
            drop(unsafe { KBox::from_raw(source) });
            INSTALLED.store(false, Ordering::Release);
            return Err(e);
        }
        Ok(ProcRootHook { source })
    }
}

impl Drop for ProcRootHook {
    fn drop(&mut self) {
        // SAFETY: installed by `install`; when it returns, no callback runs
        // and none will (remote directories in use hold module references,
        // so the module is not unloading while one exists).
        unsafe { crate::extra::ssi_proc_root_remove() };
        // SAFETY: from `KBox::into_raw` in `install`; the C glue forgot it.
        drop(unsafe { KBox::from_raw(self.source) });
        INSTALLED.store(false, Ordering::Release);
    }
}

/// # Safety
///
/// `p` is the `priv` given to `ssi_proc_root_install`, still installed.
unsafe fn source<'a>(p: *mut c_void) -> &'a dyn RemoteProcs {
    // SAFETY: per the contract, a live `Source`.
    unsafe { &*(*p.cast::<Source>()).0 }
}

/// # Safety
///
/// The C glue's `list` contract: `pids` is writable for `max` values.
unsafe extern "C" fn list(p: *mut c_void, from: u32, pids: *mut u32, max: c_int) -> c_int {
    let Ok(max) = usize::try_from(max) else { return 0 };
    // SAFETY: per the contract.
    let out = unsafe { core::slice::from_raw_parts_mut(pids, max) };
    // SAFETY: per the contract.
    let n = unsafe { source(p) }.list(from, out);
    c_int::try_from(n.min(max)).unwrap_or(0)
}

/// # Safety
///
/// The C glue's `get` contract: `uid` and `gid` are writable.
unsafe extern "C" fn get(p: *mut c_void, pid: u32, uid: *mut u32, gid: *mut u32) -> *mut c_void {
    // SAFETY: per the contract.
    let src = unsafe { source(p) };
    let Some(dir) = src.get(pid) else { return core::ptr::null_mut() };
    let (u, g) = src.owner(&dir);
    // SAFETY: per the contract.
    unsafe {
        *uid = u;
        *gid = g;
    }
    Arc::into_raw(dir).cast_mut().cast()
}

/// # Safety
///
/// `dir` came from `get` and is given back once.
unsafe extern "C" fn put(_p: *mut c_void, dir: *mut c_void) {
    // SAFETY: per the contract, a reference made by `Arc::into_raw`.
    drop(unsafe { Arc::<RemoteDir>::from_raw(dir.cast_const().cast()) });
}

/// # Safety
///
/// The C glue's `file_name` contract.
unsafe extern "C" fn file_name(p: *mut c_void, index: c_int) -> *const c_char {
    // SAFETY: per the contract.
    let files = unsafe { source(p) }.files();
    usize::try_from(index).ok().and_then(|i| files.get(i)).map_or(core::ptr::null(), |n| n.as_char_ptr())
}

/// # Safety
///
/// The C glue's `render` contract: `dir` came from `get` and is held;
/// `buf` is writable for `cap` bytes.
unsafe extern "C" fn render(p: *mut c_void, dir: *mut c_void, index: c_int, buf: *mut c_char, cap: usize) -> c_long {
    // SAFETY: per the contract.
    let dir = unsafe { &*dir.cast_const().cast::<RemoteDir>() };
    // SAFETY: per the contract.
    let out = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), cap) };
    let Ok(index) = usize::try_from(index) else { return EINVAL.to_errno() as c_long };
    // SAFETY: per the contract.
    match unsafe { source(p) }.render(dir, index, out) {
        Ok(n) => c_long::try_from(n).unwrap_or(c_long::MAX),
        Err(e) => e.to_errno() as c_long,
    }
}

/// # Safety
///
/// The C glue's `root_file` contract: `name` is NUL-terminated.
unsafe extern "C" fn root_file(p: *mut c_void, name: *const c_char) -> c_int {
    // SAFETY: per the contract.
    let name = unsafe { CStr::from_char_ptr(name) };
    // SAFETY: per the contract.
    match unsafe { source(p) }.root_file(name) {
        Some(i) => c_int::try_from(i).unwrap_or(-1),
        None => -1,
    }
}

/// # Safety
///
/// The C glue's `render_root` contract: `buf` is writable for `cap` bytes.
unsafe extern "C" fn render_root(p: *mut c_void, index: c_int, buf: *mut c_char, cap: usize) -> c_long {
    // SAFETY: per the contract.
    let out = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), cap) };
    let Ok(index) = usize::try_from(index) else { return EINVAL.to_errno() as c_long };
    // SAFETY: per the contract.
    match unsafe { source(p) }.render_root(index, out) {
        Ok(n) => c_long::try_from(n).unwrap_or(c_long::MAX),
        Err(e) => e.to_errno() as c_long,
    }
}
