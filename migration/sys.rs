// SPDX-License-Identifier: GPL-2.0
//! Thin safe wrappers over the C glue in `migration_helpers.c`: a file in
//! kernel memory, signals of the current task, stand-in files, the end of
//! a process seen from outside, a doorbell to sleep on. Every `unsafe`
//! block of the migration code is here but those of the files whose
//! entry points C calls back into (`precopy.rs`, `forward.rs`, `pages.rs`).

use crate::checkpoint::task::{File, Task};
use crate::extra as raw;
use kernel::{bindings, error::from_err_ptr, ffi::c_void, prelude::*, types::Opaque};

/// A file in kernel memory (shmem), on no file system, of `size` bytes
/// (it grows as it is written), for an incoming image's description (its
/// page data stays apart: the file is small).
pub(crate) fn image_file(size: u64) -> Result<File> {
    shmem_file(size)
}

/// A sparse file of `size` bytes in kernel memory (small pages: each page
/// written costs one page).
pub(crate) fn sparse_file(size: u64) -> Result<File> {
    shmem_file(size)
}

fn shmem_file(size: u64) -> Result<File> {
    // SAFETY: plain call; returns a counted file or an ERR_PTR.
    let f = from_err_ptr(unsafe { raw::ssi_shmem_file(size) })?;
    // SAFETY: `f` is a new counted reference that we own.
    Ok(unsafe { File::from_raw(f.cast()) })
}

/// Installs a new reference to `file` at the caller's lowest free
/// descriptor (close-on-exec); the descriptor.
pub(crate) fn install_new_fd(file: &File) -> Result<u32> {
    // SAFETY: `file` is counted; the helper takes its own reference.
    let fd = unsafe { raw::ssi_install_new_fd(file.as_raw().cast()) };
    kernel::error::to_result(fd.min(0))?;
    Ok(fd as u32)
}

/// Whether `a` and `b` are open files of the same inode (a file reopened
/// through `/proc/self/fd` is another `struct file`).
pub(crate) fn same_inode(a: &File, b: &File) -> bool {
    // SAFETY: both files are counted; only their inode pointers are read.
    unsafe { raw::ssi_file_same_inode(a.as_raw().cast(), b.as_raw().cast()) != 0 }
}

/// Takes one pending, unblocked signal of the current task off its
/// queues; None if there is none.
pub(crate) fn dequeue_signal() -> Option<u32> {
    // SAFETY: acts on current under its siglock.
    let sig = unsafe { raw::ssi_dequeue_signal() };
    (sig > 0).then_some(sig as u32)
}

/// How many child processes process `pid` has on this node (zombies
/// too).
pub(crate) fn children_of(pid: u32) -> u32 {
    // SAFETY: plain walk of the task list under RCU.
    unsafe { raw::ssi_children_of(pid) }
}

/// Sends `sig` to process `pid`, as the kernel does.
pub(crate) fn kill_pid(pid: u32, sig: u32) -> Result {
    // SAFETY: plain lookup and send under RCU.
    kernel::error::to_result(unsafe { raw::ssi_kill_pid(pid, sig as i32) })
}

/// The current task ends by `sig` on its way back to user mode (default
/// action, unblocked).
pub(crate) fn die_by_signal(sig: u32) {
    // SAFETY: acts on current; `sig` is checked by the caller to be 1..=64.
    unsafe { raw::ssi_die_by_signal(sig as i32) };
}

/// The wait status of `task`'s process once all its threads ended.
pub(crate) fn exit_status(task: &Task) -> Option<u32> {
    let mut status = 0u32;
    // SAFETY: `task` is counted (its signal_struct lives as long); the
    // helper only reads.
    let ended = unsafe { raw::ssi_task_exit_status(task.as_raw().cast(), &mut status) };
    (ended == 1).then_some(status)
}

/// A pages file whose reads call `pages.rs` with `priv_`.
///
/// # Safety
///
/// `priv_` must stay valid until `ssi_pages_release(priv_)` is called,
/// which happens once, when the file's last reference goes.
pub(crate) unsafe fn pages_file(priv_: *mut c_void) -> Result<File> {
    // SAFETY: per the contract; returns a counted file or an ERR_PTR.
    let f = from_err_ptr(unsafe { raw::ssi_pages_file(priv_) })?;
    // SAFETY: new counted reference.
    Ok(unsafe { File::from_raw(f.cast()) })
}

/// The private data of `file` if it is a pages file.
pub(crate) fn pages_priv(file: &File) -> Option<*mut c_void> {
    // SAFETY: counted file; only its `f_op` and `private_data` are read.
    let p = unsafe { raw::ssi_pages_priv(file.as_raw().cast()) };
    (!p.is_null()).then_some(p)
}

/// Whether `file` is a userfaultfd.
pub(crate) fn is_userfaultfd(file: &File) -> bool {
    // SAFETY: counted file; its dentry name is read.
    unsafe { raw::ssi_is_userfaultfd(file.as_raw().cast()) == 1 }
}

/// Registers `[start, end)` of current's memory with userfaultfd `uffd`
/// for missing pages (`scratch`: 32 bytes of user memory for the request).
pub(crate) fn uffd_register(uffd: &File, scratch: &UserScratch, start: u64, end: u64) -> Result {
    if scratch.len < 32 {
        return Err(EINVAL);
    }
    // SAFETY: counted file; `scratch` is mapped user memory of current.
    let r = unsafe { raw::ssi_uffd_register(uffd.as_raw().cast(), scratch.addr, start, end - start) };
    kernel::error::to_result(r as i32)
}

/// Keeps the module loaded while a deputy or hosted process needs it.
pub(crate) struct ModuleRef(());

impl ModuleRef {
    /// Takes a module reference.
    pub(crate) fn take() -> ModuleRef {
        // SAFETY: the module is live (we run its code).
        unsafe { raw::ssi_module_get() };
        ModuleRef(())
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        // SAFETY: releases the reference `take` got.
        unsafe { raw::ssi_module_put() };
    }
}

/// Something to sleep on until another thread rings.
#[pin_data]
pub(crate) struct Doorbell {
    #[pin]
    wq: Opaque<bindings::wait_queue_head>,
    rung: core::sync::atomic::AtomicU32,
}

// SAFETY: the wait queue head is only used through the kernel's wait
// queue functions, which lock it; the counter is atomic.
unsafe impl Send for Doorbell {}
// SAFETY: as for Send.
unsafe impl Sync for Doorbell {}

/// How a doorbell wait ended.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    Rung,
    Signal,
    Timeout,
}

impl Doorbell {
    /// A quiet doorbell.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Doorbell {
            // SAFETY: `slot` is valid for writing a wait queue head, which
            // stays pinned inside the doorbell.
            wq <- Opaque::ffi_init(|slot: *mut bindings::wait_queue_head| unsafe { raw::ssi_gate_init(slot.cast()) }),
            rung: core::sync::atomic::AtomicU32::new(0),
        })
    }

    /// The current ring count, to wait for the next ring after it.
    pub(crate) fn seen(&self) -> u32 {
        self.rung.load(core::sync::atomic::Ordering::Acquire)
    }

    /// Wakes the sleepers.
    pub(crate) fn ring(&self) {
        self.rung.fetch_add(1, core::sync::atomic::Ordering::AcqRel);
        // SAFETY: the wait queue was initialised in `new`.
        unsafe { raw::ssi_gate_wake(self.wq.get().cast()) };
    }

    /// Sleeps until a ring after `seen`, a fatal signal or `ms`.
    pub(crate) fn wait_killable(&self, seen: u32, ms: u32) -> Woken {
        // SAFETY: initialised wait queue; `rung` is a live u32 read
        // atomically by the helper.
        let r = unsafe { raw::ssi_doorbell_wait_killable_timeout(self.wq.get().cast(), self.rung.as_ptr(), seen, ms) };
        match r {
            r if r > 0 => Woken::Rung,
            0 => Woken::Timeout,
            _ => Woken::Signal,
        }
    }

    /// Sleeps (interruptible) until a ring after `seen`, a signal or `ms`.
    pub(crate) fn wait(&self, seen: u32, ms: u32) -> Woken {
        // SAFETY: initialised wait queue; `rung` is a live u32 read
        // atomically by the helper.
        let r = unsafe { raw::ssi_doorbell_wait_timeout(self.wq.get().cast(), self.rung.as_ptr(), seen, ms) };
        match r {
            r if r > 0 => Woken::Rung,
            0 => Woken::Timeout,
            _ => Woken::Signal,
        }
    }
}

/// Anonymous memory mapped in the current task's address space for
/// interfaces that copy only to or from user memory; unmapped on drop.
pub(crate) struct UserScratch {
    addr: u64,
    len: u64,
}

impl UserScratch {
    /// Maps `len` bytes.
    pub(crate) fn new(len: u64) -> Result<UserScratch> {
        // SAFETY: plain call on current's mm.
        let addr = unsafe { raw::ssi_user_scratch(len) };
        if (-4095..0).contains(&addr) {
            return Err(Error::from_errno(addr as i32));
        }
        Ok(UserScratch { addr: addr as u64, len })
    }

    pub(crate) fn addr(&self) -> u64 {
        self.addr
    }
}

impl Drop for UserScratch {
    fn drop(&mut self) {
        // SAFETY: unmaps what `new` mapped in the same task.
        unsafe { raw::ssi_user_scratch_free(self.addr, self.len) };
    }
}

/// `file`'s own read into `len` bytes of user memory at `ubuf` (current's).
pub(crate) fn file_read_user(file: &File, ubuf: &UserScratch, len: u64, pos: &mut i64) -> Result<usize> {
    if len > ubuf.len {
        return Err(EINVAL);
    }
    // SAFETY: counted file; `ubuf` is mapped user memory of current, at
    // least `len` bytes; `pos` writable.
    let n = unsafe { raw::ssi_file_read_user(file.as_raw().cast(), ubuf.addr, len, pos) };
    kernel::error::to_result((n.min(0)) as i32)?;
    Ok(n as usize)
}

/// `file`'s own write of `len` bytes of user memory at `ubuf`.
pub(crate) fn file_write_user(file: &File, ubuf: &UserScratch, len: u64, pos: &mut i64) -> Result<usize> {
    if len > ubuf.len {
        return Err(EINVAL);
    }
    // SAFETY: as for `file_read_user`.
    let n = unsafe { raw::ssi_file_write_user(file.as_raw().cast(), ubuf.addr, len, pos) };
    kernel::error::to_result((n.min(0)) as i32)?;
    Ok(n as usize)
}

/// Drops the calling process's pages in `[start, end)` (page-aligned) of
/// its private mappings, as `MADV_DONTNEED` does: anonymous memory reads
/// zero again, a private file mapping its file. Locked, shared and special
/// mappings are left as they are.
pub(crate) fn zap_user_range(start: u64, end: u64) -> Result {
    // SAFETY: plain values; the helper takes current's mmap lock itself.
    kernel::error::to_result(unsafe { raw::ssi_zap_user_range(start, end) })
}

/// Reads `buf.len()` bytes at `addr` of `task`'s memory.
pub(crate) fn task_read_mem(task: &Task, addr: u64, buf: &mut [u8]) -> Result {
    // SAFETY: counted task; `buf` writable for its length.
    let n = unsafe { raw::ssi_task_read_mem(task.as_raw().cast(), addr, buf.as_mut_ptr().cast(), buf.len() as u32) };
    if n < 0 {
        return Err(Error::from_errno(n));
    }
    if n as usize != buf.len() {
        return Err(EFAULT);
    }
    Ok(())
}
