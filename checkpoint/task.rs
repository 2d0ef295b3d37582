// SPDX-License-Identifier: GPL-2.0
//! Thin safe wrappers over the C glue in `task_helpers.c` and
//! `file_helpers.c`: another task (by reference), the current task's
//! state, its memory map, files and user memory. Every `unsafe` block of
//! the checkpoint code is here but the task work's (`mod.rs`) and the
//! `crc32` instruction's (`crc.rs`).

use crate::{
    extra as raw,
    proto::{classify, image},
};

pub(crate) use crate::proto::classify::{FileClass, Special, VmaClass};
use core::ptr::NonNull;
use kernel::{bindings, ffi::c_void, prelude::*, str::CStr, types::ARef, uaccess::UserSlice};

/// A task held by reference (the kernel crate's `ARef<Task>`: a
/// `get_task_struct` reference, put on drop).
pub(crate) struct Task(ARef<kernel::task::Task>);

/// What `Task::brief` tells about a task.
pub(crate) use raw::ssi_task_brief as TaskBrief;

impl Task {
    /// Takes over a counted task reference (NULL: none).
    ///
    /// # Safety
    ///
    /// `t` is NULL or a valid task with a reference the caller gives up.
    unsafe fn from_counted(t: *mut bindings::task_struct) -> Option<Task> {
        let t = NonNull::new(t)?;
        // SAFETY: per the contract; `kernel::task::Task` is a transparent
        // wrapper of `task_struct`.
        Some(Task(unsafe { ARef::from_raw(t.cast()) }))
    }

    /// The task, for the C glue; valid while `self` lives.
    pub(crate) fn as_raw(&self) -> *mut bindings::task_struct {
        crate::kernel_ext::task_ptr(&self.0)
    }

    /// The process `pid` of the caller's pid namespace.
    pub(crate) fn get(pid: u32) -> Option<Task> {
        // SAFETY: plain lookup; returns a counted reference or NULL, which
        // `from_counted` takes over.
        unsafe { Task::from_counted(raw::ssi_get_task(pid)) }
    }

    /// Its state now (racy by nature: used for refusals and messages).
    pub(crate) fn brief(&self) -> TaskBrief {
        let mut b = TaskBrief::default();
        // SAFETY: `self` holds a task reference; `b` is writable.
        unsafe { raw::ssi_task_brief(self.as_raw(), &mut b) };
        b
    }

    /// Whether the calling task may checkpoint process `pid` (this task's
    /// process): the check `ptrace(PTRACE_ATTACH)` makes, the LSM's hook
    /// (Yama, SELinux, ...) included. `ptrace_may_access` is not exported
    /// to modules; opening `/proc/PID/mem` makes that very check
    /// (`mm_access` with `PTRACE_MODE_ATTACH_FSCREDS`) as the caller, in
    /// its own mount and pid namespaces, so the module opens it and closes
    /// it at once. No `/proc` where the caller is: refused.
    pub(crate) fn may_checkpoint(&self, pid: u32) -> bool {
        let mut path = crate::kernel_ext::StackStr::<32>::new();
        if core::fmt::Write::write_fmt(&mut path, format_args!("/proc/{pid}/mem\0")).is_err() {
            return false;
        }
        open_path(path.as_bytes(), bindings::O_RDONLY).is_ok()
    }

    /// Every thread of its process, the leader first; `E2BIG` past `max`.
    pub(crate) fn threads(&self, max: usize) -> Result<KVec<Task>> {
        let mut raw_threads: KVec<*mut bindings::task_struct> = KVec::from_elem(core::ptr::null_mut(), max, GFP_KERNEL)?;
        // SAFETY: `self` holds a task reference; `raw_threads` holds `max`
        // pointers.
        let n = unsafe { raw::ssi_task_threads(self.as_raw(), raw_threads.as_mut_ptr(), max as u32) };
        kernel::error::to_result(n.min(0))?;
        let mut out = KVec::with_capacity(n as usize, GFP_KERNEL);
        for &t in raw_threads.iter().take(n as usize) {
            // SAFETY: each of the first `n` pointers is a task with a
            // reference the Task now owns (dropped with it, also if a push
            // fails).
            let task = unsafe { Task::from_counted(t) };
            if let (Ok(out), Some(task)) = (&mut out, task) {
                // Cannot fail (capacity reserved); a failure drops the task.
                let _ = out.push(task, GFP_KERNEL);
            }
        }
        out.map_err(Error::from)
    }

    /// Queues `work` to run in the task's own context on its way back to
    /// user mode (waking it from an interruptible sleep).
    ///
    /// # Safety
    ///
    /// `work` must have been set up with [`init_work`] and stay valid until
    /// its function has run (or this call failed).
    pub(crate) unsafe fn add_work(&self, work: *mut bindings::callback_head) -> Result {
        // SAFETY: `self` holds a task reference; the caller vouches for
        // `work`.
        kernel::error::to_result(unsafe { raw::ssi_task_work_add(self.as_raw(), work.cast()) })
    }
}

/// Sets `work`'s function.
///
/// # Safety
///
/// `work` must point to a writable `callback_head`.
pub(crate) unsafe fn init_work(work: *mut bindings::callback_head, f: unsafe extern "C" fn(*mut bindings::callback_head)) {
    // SAFETY: per the contract; the function pointer types match.
    unsafe { raw::ssi_init_task_work(work.cast(), Some(core::mem::transmute(f))) };
}

/// Whether the current task is exiting (task work also runs at exit).
pub(crate) fn current_exiting() -> bool {
    // SAFETY: reads current's flags.
    unsafe { raw::ssi_current_exiting() != 0 }
}

/// Sends SIGKILL to the current task.
pub(crate) fn kill_current() {
    // SAFETY: plain call on current.
    unsafe { raw::ssi_kill_current() };
}

/// The pid of the current task (for log lines).
pub(crate) fn current_pid() -> u32 {
    // SAFETY: plain call on current.
    unsafe { raw::ssi_current_pid() }
}

/// Nanoseconds since the current process was created.
pub(crate) fn current_age_ns() -> u64 {
    // SAFETY: reads current's start time.
    unsafe { raw::ssi_current_age_ns() }
}

/// Monotonic nanoseconds.
pub(crate) use crate::kernel_ext::mono_ns;

/// The memory layout of current.
pub(crate) use raw::ssi_mm_layout as MmLayout;
/// Identity, credentials, limits, timers and signal state of current.
pub(crate) use raw::ssi_task_state as TaskState;

/// Reads current's state.
pub(crate) fn task_state() -> Result<KBox<TaskState>> {
    let mut s = KBox::new(TaskState::default(), GFP_KERNEL)?;
    // SAFETY: `s` is a writable ssi_task_state.
    unsafe { raw::ssi_task_state(&mut *s) };
    Ok(s)
}

/// Reads current's memory layout.
pub(crate) fn mm_layout() -> Result<KBox<MmLayout>> {
    let mut m = KBox::new(MmLayout::default(), GFP_KERNEL)?;
    // SAFETY: `m` is a writable ssi_mm_layout.
    kernel::error::to_result(unsafe { raw::ssi_mm_layout(&mut *m) })?;
    Ok(m)
}

/// One VMA of current, with a reference to its file.
pub(crate) struct Vma {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) vm_flags: u64,
    pub(crate) pgoff: u64,
    pub(crate) file: Option<File>,
    /// What it is (special mapping, stack, heap, shared memory, device).
    pub(crate) class: VmaClass,
}

/// Bits of [`Vma::vm_flags`] (`include/linux/mm.h`).
pub(crate) use crate::proto::classify::{VM_EXEC, VM_GROWSDOWN, VM_LOCKED, VM_NORESERVE, VM_READ, VM_SHARED, VM_WRITE};

// The kernel values `proto/src/classify.rs` decides with are the kernel's.
const _: () = {
    use crate::proto::classify as c;
    assert!(c::VM_READ == bindings::VM_READ as u64 && c::VM_WRITE == bindings::VM_WRITE as u64);
    assert!(c::VM_EXEC == bindings::VM_EXEC as u64 && c::VM_SHARED == bindings::VM_SHARED as u64);
    assert!(c::VM_GROWSDOWN == bindings::VM_GROWSDOWN as u64 && c::VM_LOCKED == bindings::VM_LOCKED as u64);
    assert!(c::VM_NORESERVE == bindings::VM_NORESERVE as u64 && c::VM_IO == bindings::VM_IO as u64);
    assert!(c::VM_PFNMAP == bindings::VM_PFNMAP as u64 && c::VM_MIXEDMAP == bindings::VM_MIXEDMAP as u64);
    assert!(c::TMPFS_MAGIC == bindings::TMPFS_MAGIC as u64);
    assert!(c::S_IFMT == bindings::S_IFMT && c::S_IFREG == bindings::S_IFREG && c::S_IFDIR == bindings::S_IFDIR);
    assert!(c::S_IFCHR == bindings::S_IFCHR && c::S_IFIFO == bindings::S_IFIFO && c::S_IFSOCK == bindings::S_IFSOCK);
};

/// The first VMA of current ending above `addr`.
pub(crate) fn vma_find(addr: u64) -> Option<Vma> {
    let mut v = raw::ssi_vma::default();
    // SAFETY: `v` is writable; on success `v.file` is a counted reference
    // (or NULL) that we take over.
    if unsafe { raw::ssi_vma_find(addr, &mut v) } != 0 {
        return None;
    }
    let name_len = v.name.iter().position(|&b| b == 0).unwrap_or(v.name.len());
    let class = classify::classify_vma(&classify::VmaFacts {
        start: v.start,
        end: v.end,
        vm_flags: v.vm_flags,
        special_name: (v.has_name != 0).then_some(&v.name[..name_len]),
        has_file: !v.file.is_null(),
        file_magic: v.file_magic,
        start_stack: v.start_stack,
        start_brk: v.start_brk,
        brk: v.brk,
    });
    Some(Vma {
        start: v.start,
        end: v.end,
        vm_flags: v.vm_flags,
        pgoff: v.pgoff,
        file: (!v.file.is_null()).then(|| File(v.file)),
        class,
    })
}

/// Whether the page at `addr` of current is a private copy (written since
/// it was mapped from its file).
pub(crate) fn page_is_anon(addr: u64) -> bool {
    // SAFETY: plain call on current's memory.
    unsafe { raw::ssi_page_is_anon(addr) == 1 }
}

/// Pages of current's memory held (a reference on each) so that their
/// data can be read where it is: the capture of a stopped process sends
/// its memory to the socket without copying it into a buffer first.
/// Released on [`HeldPages::release`] or drop.
pub(crate) struct HeldPages {
    pages: KVec<*mut core::ffi::c_void>,
    addrs: KVec<*mut core::ffi::c_void>,
    /// The data of the held pages, `views[i]` that of `pages[i]`.
    /// `'static` only inside: [`HeldPages::views`] lends them for as long
    /// as `self` is borrowed, and they are forgotten before release.
    views: KVec<&'static [u8]>,
    /// Pages held: the first this many of `pages`.
    held: usize,
}

impl HeldPages {
    /// Room for `max` pages at a time.
    pub(crate) fn new(max: usize) -> Result<HeldPages> {
        Ok(HeldPages {
            pages: KVec::from_elem(core::ptr::null_mut(), max, GFP_KERNEL)?,
            addrs: KVec::from_elem(core::ptr::null_mut(), max, GFP_KERNEL)?,
            views: KVec::from_elem(&[][..], max, GFP_KERNEL)?,
            held: 0,
        })
    }

    /// Holds the `n` pages of current's memory from `addr` (faulting them
    /// in for reading), after releasing those held before. `Ok(false)` if
    /// not all of them could be held (none is then): the caller copies
    /// them instead.
    ///
    /// The caller must keep the pages' content from changing while they
    /// are held and read: it is current's private memory, and current is
    /// stopped in the capture (see `checkpoint/mod.rs`).
    pub(crate) fn hold(&mut self, addr: u64, n: usize) -> Result<bool> {
        self.release();
        if n > self.pages.len() {
            return Err(EINVAL);
        }
        // SAFETY: `pages` and `addrs` have room for `n` entries; GUP runs
        // on current's mm, without its lock held.
        let got = unsafe { raw::ssi_hold_user_pages(addr, n as u32, self.pages.as_mut_ptr(), self.addrs.as_mut_ptr()) };
        let got = usize::try_from(got).unwrap_or(0).min(n);
        self.held = got;
        for (view, &a) in self.views.iter_mut().zip(&self.addrs[..got]) {
            // SAFETY: `a` is the kernel address of a page we hold a
            // reference on (x86-64 has no highmem: it is the direct map),
            // so PAGE_SIZE bytes there stay allocated until the release,
            // which clears the views first. The caller keeps its content
            // from changing meanwhile (a stopped process's private
            // memory); a write through another mapping racing with the
            // read (root's ptrace or process_vm_writev) could only make
            // the frame tag not match what the socket sends, and the
            // receiver then drops the connection.
            *view = unsafe { core::slice::from_raw_parts(a.cast::<u8>().cast_const(), image::PAGE_SIZE) };
        }
        if got < n {
            self.release();
            return Ok(false);
        }
        Ok(true)
    }

    /// The data of the held pages, in address order.
    pub(crate) fn views(&self) -> &[&[u8]] {
        &self.views[..self.held]
    }

    /// Releases the pages held.
    pub(crate) fn release(&mut self) {
        let n = core::mem::replace(&mut self.held, 0);
        for view in self.views.iter_mut().take(n) {
            *view = &[];
        }
        if n > 0 {
            // SAFETY: the first `n` entries are pages held by `hold`, and
            // no view of them is left.
            unsafe { raw::ssi_release_pages(self.pages.as_mut_ptr(), n as u32) };
        }
    }
}

impl Drop for HeldPages {
    fn drop(&mut self) {
        self.release();
    }
}

/// Copies current's user memory at `addr` into `buf`.
pub(crate) fn read_user(addr: u64, buf: &mut [u8]) -> Result {
    UserSlice::new(addr as usize, buf.len()).reader().read_slice(buf)
}

/// The user registers of current (NT_PRSTATUS layout).
pub(crate) fn user_regs() -> [u64; 27] {
    let mut regs = [0u64; 27];
    // SAFETY: `regs` has SSI_NGREG words.
    unsafe { raw::ssi_get_user_regs(regs.as_mut_ptr()) };
    regs
}

/// The extended FPU state of current (NT_X86_XSTATE) into `buf`; its length.
pub(crate) fn xstate(buf: &mut [u8]) -> Result<usize> {
    // SAFETY: `buf` is writable for its length.
    let n = unsafe { raw::ssi_get_xstate(buf.as_mut_ptr().cast::<c_void>(), buf.len() as u32) };
    kernel::error::to_result(n.min(0))?;
    Ok(n as usize)
}

/// The action of signal `sig` (1..=64): handler, flags, restorer, mask.
pub(crate) fn sigaction(sig: i32) -> (u64, u64, u64, u64) {
    let (mut h, mut f, mut r, mut m) = (0, 0, 0, 0);
    // SAFETY: four writable words.
    unsafe { raw::ssi_get_sigaction(sig, &mut h, &mut f, &mut r, &mut m) };
    (h, f, r, m)
}

/// Pending signals of current, private or shared, as user siginfo_t
/// records of 128 bytes in `out`; their count (`E2BIG` if they do not fit).
pub(crate) fn pending_signals(shared: bool, out: &mut [u8]) -> Result<usize> {
    let max = (out.len() / raw::SSI_SIGINFO_LEN as usize) as i32;
    // SAFETY: `out` holds `max` records.
    let n = unsafe { raw::ssi_get_pending(i32::from(shared), out.as_mut_ptr(), max) };
    kernel::error::to_result(n.min(0))?;
    Ok(n as usize)
}

/// An open file, held by reference.
pub(crate) struct File(*mut bindings::file);

// SAFETY: a counted file reference may be used and dropped on any thread.
unsafe impl Send for File {}
// SAFETY: the wrappers below are safe to call concurrently (the VFS locks).
unsafe impl Sync for File {}

/// What [`File::info`] tells about an open file.
pub(crate) struct FileInfo {
    /// What it is.
    pub(crate) kind: FileClass,
    /// Its open flags (`f_flags`).
    pub(crate) flags: u32,
    /// The device it is (`i_rdev`; 0 for other files).
    pub(crate) major: u32,
    pub(crate) minor: u32,
    pub(crate) pos: u64,
    pub(crate) size: u64,
    pub(crate) ino: u64,
    pub(crate) mtime_sec: i64,
    pub(crate) mtime_nsec: u32,
    /// Open for reading, for writing (1 or 0).
    pub(crate) readable: u32,
    pub(crate) writable: u32,
}

/// The operations of a stream file ([`File::new_stream`]): read, write
/// and release, each called with the file's private data.
pub(crate) use raw::ssi_stream_ops as StreamOps;

impl File {
    /// A new stream file (no position; `anon_inode:NAME`) whose reads and
    /// writes call `ops` with `priv_`.
    ///
    /// # Safety
    ///
    /// `ops`' functions must accept `priv_`, which must stay valid until
    /// `ops.release` is called with it: once, when the file's last
    /// reference goes (never if this fails).
    pub(crate) unsafe fn new_stream(
        name: &'static CStr,
        ops: &'static StreamOps,
        priv_: *mut c_void,
        readable: bool,
        writable: bool,
    ) -> Result<File> {
        // SAFETY: `name` is NUL-terminated and `ops` static; the caller
        // vouches for `priv_`. Returns a counted file or an ERR_PTR.
        let f = kernel::error::from_err_ptr(unsafe {
            raw::ssi_stream_file(name.as_char_ptr(), ops, priv_, i32::from(readable), i32::from(writable))
        })?;
        Ok(File(f.cast()))
    }

    /// Takes over a counted file reference.
    ///
    /// # Safety
    ///
    /// `f` is a valid file whose reference the caller gives up.
    pub(crate) unsafe fn from_raw(f: *mut bindings::file) -> File {
        File(f)
    }

    /// The file, for the C glue; valid while `self` lives.
    pub(crate) fn as_raw(&self) -> *mut bindings::file {
        self.0
    }

    /// The caller's descriptor `fd`, with a reference.
    pub(crate) fn from_fd(fd: u32) -> Option<File> {
        // SAFETY: fget takes a reference or returns NULL.
        let f = unsafe { bindings::fget(fd) };
        (!f.is_null()).then(|| File(f))
    }

    /// Kind, flags, position, size, mtime, inode, access mode.
    pub(crate) fn info(&self) -> FileInfo {
        let mut i = raw::ssi_file_info::default();
        // SAFETY: counted file; writable info.
        unsafe { raw::ssi_file_info(self.0, &mut i) };
        let facts = classify::FileFacts { mode: i.mode, rdev_major: i.major, module_stream: i.module_stream != 0 };
        FileInfo {
            kind: classify::classify_file(&facts),
            flags: i.flags,
            major: i.major,
            minor: i.minor,
            pos: i.pos,
            size: i.size,
            ino: i.ino,
            mtime_sec: i.mtime_sec,
            mtime_nsec: i.mtime_nsec,
            readable: i.readable,
            writable: i.writable,
        }
    }

    /// Its path (as `d_path` gives it) into `buf`; the path's bytes.
    pub(crate) fn path<'a>(&self, buf: &'a mut [u8]) -> Result<&'a [u8]> {
        // SAFETY: counted file; `buf` writable for its length.
        let n = unsafe { raw::ssi_file_path(self.0, buf.as_mut_ptr().cast(), buf.len() as i32) };
        kernel::error::to_result(n.min(0))?;
        Ok(&buf[..n as usize])
    }

    /// If this file is the caller's controlling terminal: its settings
    /// (`struct termios2`) and window size (`struct winsize`).
    pub(crate) fn ctty_settings(&self) -> Option<([u8; image::TERMIOS2_LEN], [u8; image::WINSIZE_LEN])> {
        let (mut termios, mut winsize) = ([0u8; image::TERMIOS2_LEN], [0u8; image::WINSIZE_LEN]);
        // SAFETY: counted file; both buffers have the lengths the helper writes.
        let is_ctty = unsafe { raw::ssi_ctty_settings(self.0, termios.as_mut_ptr(), winsize.as_mut_ptr()) };
        (is_ctty == 1).then_some((termios, winsize))
    }

    /// Sets the terminal settings of the caller's controlling terminal,
    /// which this file must be (`ENOTTY` otherwise).
    pub(crate) fn set_ctty_termios(&self, termios: &[u8; image::TERMIOS2_LEN]) -> Result {
        // SAFETY: counted file; `termios` readable for the 44 bytes read.
        kernel::error::to_result(unsafe { raw::ssi_ctty_set_termios(self.0, termios.as_ptr()) })
    }

    /// Fills `buf` from `*pos`, advancing it; `EIO` at the end of file.
    pub(crate) fn read_exact(&self, mut buf: &mut [u8], pos: &mut i64) -> Result {
        while !buf.is_empty() {
            // SAFETY: counted file; `buf` writable; `pos` writable.
            let n = unsafe { bindings::kernel_read(self.0, buf.as_mut_ptr().cast(), buf.len(), pos) };
            if n < 0 {
                return Err(Error::from_errno(n as i32));
            }
            if n == 0 {
                return Err(EIO);
            }
            buf = &mut buf[n as usize..];
        }
        Ok(())
    }

    /// Reads `len` bytes at `*pos` straight into current's memory at
    /// `addr` (one copy; the user pages fault in as the copy reaches
    /// them). `EFAULT` if part of the range cannot be written (not mapped,
    /// or not writable: see [`poke_user`]); `EIO` at the end of the file.
    pub(crate) fn read_exact_to_user(&self, mut addr: u64, mut len: u64, pos: &mut i64) -> Result {
        while len > 0 {
            // SAFETY: counted file; `pos` writable; the destination is
            // current's user memory, checked by the copy itself
            // (copy_to_user), so no address can reach kernel memory.
            let n = unsafe { raw::ssi_file_read_user(self.0.cast(), addr, len, pos) };
            if n < 0 {
                return Err(Error::from_errno(n as i32));
            }
            if n == 0 {
                // The end of the file, or not one byte could be copied.
                return Err(if self.info().size <= *pos as u64 { EIO } else { EFAULT });
            }
            addr += n as u64;
            len -= (n as u64).min(len);
        }
        Ok(())
    }

    /// One read of up to `buf.len()` bytes (a pipe or terminal: no
    /// position); the bytes read or the errno (`ERESTARTSYS` included).
    pub(crate) fn read_once(&self, buf: &mut [u8]) -> core::result::Result<usize, i32> {
        let mut pos = 0i64;
        // SAFETY: counted file; `buf` writable; `pos` writable.
        let n = unsafe { bindings::kernel_read(self.0, buf.as_mut_ptr().cast(), buf.len(), &mut pos) };
        if n < 0 {
            Err(n as i32)
        } else {
            Ok(n as usize)
        }
    }

    /// One write of `data` (a pipe or terminal); the bytes written or the
    /// errno.
    pub(crate) fn write_once(&self, data: &[u8]) -> core::result::Result<usize, i32> {
        let mut pos = 0i64;
        // SAFETY: counted file; `data` readable; `pos` writable.
        let n = unsafe { bindings::kernel_write(self.0, data.as_ptr().cast(), data.len(), &mut pos) };
        if n < 0 {
            Err(n as i32)
        } else {
            Ok(n as usize)
        }
    }

    /// Sets the file position.
    pub(crate) fn set_pos(&self, pos: u64) {
        // SAFETY: counted file; nobody else uses it yet.
        unsafe { raw::ssi_file_set_pos(self.0, pos) };
    }

    /// Writes all of `data` at `*pos`, advancing it.
    pub(crate) fn write_all(&self, mut data: &[u8], pos: &mut i64) -> Result {
        while !data.is_empty() {
            // SAFETY: counted file; `data` readable; `pos` writable.
            let n = unsafe { bindings::kernel_write(self.0, data.as_ptr().cast(), data.len(), pos) };
            if n < 0 {
                return Err(Error::from_errno(n as i32));
            }
            if n == 0 {
                return Err(ENOSPC);
            }
            data = &data[n as usize..];
        }
        Ok(())
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { raw::ssi_fput(self.0) };
    }
}

/// The open files of current from descriptor `fd` on: the next one with
/// its number and close-on-exec flag.
pub(crate) fn next_file(fd: u32) -> Option<(u32, bool, File)> {
    let (mut no, mut cloexec) = (0u32, 0u32);
    // SAFETY: writable out-parameters; a non-NULL result is a counted ref.
    let f = unsafe { raw::ssi_next_file(fd, &mut no, &mut cloexec) };
    (!f.is_null()).then(|| (no, cloexec != 0, File(f)))
}

/// current's working directory into `buf`.
pub(crate) fn cwd_path(buf: &mut [u8]) -> Result<&[u8]> {
    // SAFETY: `buf` writable for its length.
    let n = unsafe { raw::ssi_cwd_path(buf.as_mut_ptr().cast(), buf.len() as i32) };
    kernel::error::to_result(n.min(0))?;
    Ok(&buf[..n as usize])
}

/// current's root directory into `buf`.
pub(crate) fn root_path(buf: &mut [u8]) -> Result<&[u8]> {
    // SAFETY: `buf` writable for its length.
    let n = unsafe { raw::ssi_root_path(buf.as_mut_ptr().cast(), buf.len() as i32) };
    kernel::error::to_result(n.min(0))?;
    Ok(&buf[..n as usize])
}

/// Opens the NUL-terminated `path` with `flags` (as for open(2)).
pub(crate) fn open_path(path: &[u8], flags: u32) -> Result<File> {
    if path.last() != Some(&0) {
        return Err(EINVAL);
    }
    let mut err = 0;
    // SAFETY: NUL-terminated path; a non-NULL result is a counted file.
    let f = unsafe { raw::ssi_open_path(path.as_ptr().cast(), flags, &mut err) };
    if f.is_null() {
        return Err(Error::from_errno(if err < 0 { err } else { -(bindings::EINVAL as i32) }));
    }
    Ok(File(f))
}

/// Whether the caller is root (CAP_SYS_ADMIN), and its real uid.
pub(crate) fn caller_identity() -> (bool, u32) {
    let mut uid = 0u32;
    // SAFETY: writable out-parameter.
    let root = unsafe { raw::ssi_caller_identity(&mut uid) };
    (root != 0, uid)
}

/// The caller's real and effective uid.
pub(crate) fn caller_uids() -> (u32, u32) {
    let (mut uid, mut euid) = (0u32, 0u32);
    // SAFETY: writable out-parameters.
    unsafe { raw::ssi_caller_uids(&mut uid, &mut euid) };
    (uid, euid)
}

/// The size of the NT_X86_XSTATE regset on this machine.
pub(crate) fn xstate_size() -> Result<usize> {
    // SAFETY: plain call.
    let n = unsafe { raw::ssi_xstate_size() };
    kernel::error::to_result(n.min(0))?;
    Ok(n as usize)
}

/// Unmaps `[start, end)` of current.
pub(crate) fn unmap(start: u64, end: u64) -> Result {
    // SAFETY: plain call on current's mm.
    kernel::error::to_result(unsafe { raw::ssi_unmap(start, end) })
}

/// Maps `len` bytes at exactly `start` of current, from `file` or anonymous.
pub(crate) fn map(file: Option<&File>, start: u64, len: u64, prot: u32, flags: u32, offset: u64) -> Result {
    let f = file.map_or(core::ptr::null_mut(), |f| f.0);
    // SAFETY: `f` is NULL or a counted file; vm_mmap takes its own reference.
    kernel::error::to_result(unsafe { raw::ssi_map(f, start, len, prot, flags, offset) })
}

/// Copies `buf` into current's writable user memory at `addr`.
pub(crate) fn write_user(addr: u64, buf: &[u8]) -> Result {
    UserSlice::new(addr as usize, buf.len()).writer().write_slice(buf)
}

/// Writes `buf` at `addr` of current through read-only mappings too.
pub(crate) fn poke_user(addr: u64, buf: &[u8]) -> Result {
    // SAFETY: `buf` is readable for its length.
    kernel::error::to_result(unsafe { raw::ssi_poke_user(addr, buf.as_ptr().cast(), buf.len() as u32) })
}

/// Sets current's memory layout (code, data, brk, stack, args, env, auxv).
pub(crate) fn set_mm_layout(m: &MmLayout) -> Result {
    // SAFETY: `m` is a valid ssi_mm_layout.
    kernel::error::to_result(unsafe { raw::ssi_mm_set_layout(m) })
}

/// Makes `exe` current's executable file (`/proc/PID/exe`); the restore
/// unmapped the one it had. `EACCES`: someone has it open for writing.
pub(crate) fn set_exe_file(exe: &File) -> Result {
    // SAFETY: `exe.0` is a counted reference; the helper takes its own.
    kernel::error::to_result(unsafe { raw::ssi_mm_set_exe_file(exe.0) })
}

/// Makes current's process look `age_ns` old: its start time (`ps`'s
/// START) is then that long ago, on this node's clocks.
pub(crate) fn set_current_age(age_ns: u64) {
    // SAFETY: plain call on current.
    unsafe { raw::ssi_current_set_age(age_ns) }
}

/// Closes descriptor `fd` of current.
pub(crate) fn close_fd(fd: u32) {
    // SAFETY: plain call on current's table.
    unsafe { raw::ssi_close_fd(fd) };
}

/// Installs `file` at exactly descriptor `fd` of current.
pub(crate) fn install_fd(file: File, fd: u32, cloexec: bool) -> Result {
    // SAFETY: on success the table takes over our reference.
    let r = unsafe { raw::ssi_install_fd(file.0, fd, u32::from(cloexec)) };
    kernel::error::to_result(r)?;
    core::mem::forget(file);
    Ok(())
}

/// Sets the action of signal `sig`: (handler, flags, restorer, mask).
pub(crate) fn set_sigaction(sig: i32, a: (u64, u64, u64, u64)) -> Result {
    // SAFETY: plain call on current's sighand.
    kernel::error::to_result(unsafe { raw::ssi_set_sigaction(sig, a.0, a.1, a.2, a.3) })
}

/// Queues a pending signal for current from a saved user siginfo_t.
pub(crate) fn queue_signal(info: &[u8]) -> Result {
    if info.len() != raw::SSI_SIGINFO_LEN as usize {
        return Err(EINVAL);
    }
    // SAFETY: `info` holds one siginfo_t.
    kernel::error::to_result(unsafe { raw::ssi_queue_signal(info.as_ptr()) })
}

/// Sets current's blocked signals.
pub(crate) fn set_blocked(mask: u64) {
    // SAFETY: plain call on current.
    unsafe { raw::ssi_set_blocked(mask) };
}

/// Sets current's alternate signal stack: (sp, size, flags).
pub(crate) fn set_altstack(a: (u64, u64, u32)) {
    // SAFETY: plain call on current.
    unsafe { raw::ssi_set_altstack(a.0, a.1, a.2) };
}

/// Sets clear_child_tid, the robust futex list and the rseq area.
pub(crate) fn set_thread_ids(clear_child_tid: u64, robust: (u64, u64), rseq: (u64, u32, u32)) {
    // SAFETY: plain calls on current.
    unsafe {
        raw::ssi_set_clear_child_tid(clear_child_tid);
        raw::ssi_set_robust_list(robust.0, robust.1);
        raw::ssi_set_rseq(rseq.0, rseq.1, rseq.2);
    }
}

/// Arms ITIMER_REAL: (remaining ns, interval ns).
pub(crate) fn set_itimer_real(t: (u64, u64)) {
    // SAFETY: plain call on current.
    unsafe { raw::ssi_set_itimer_real(t.0, t.1) };
}

/// Loads the NT_X86_XSTATE image into current's FPU state.
pub(crate) fn set_xstate(buf: &[u8]) -> Result {
    // SAFETY: `buf` is readable for its length.
    kernel::error::to_result(unsafe { raw::ssi_set_xstate(buf.as_ptr().cast(), buf.len() as u32) })
}

/// Sets current's user registers (NT_PRSTATUS layout).
pub(crate) fn set_user_regs(regs: &[u64; 27]) -> Result {
    // SAFETY: `regs` has SSI_NGREG words.
    kernel::error::to_result(unsafe { raw::ssi_set_user_regs(regs.as_ptr()) })
}

/// Sets current's rax as it returns to user mode, after the running system
/// call stored its own return value (ioctl's is an int: it cannot carry a
/// 64-bit register).
pub(crate) fn set_ax_on_return(ax: u64) -> Result {
    // SAFETY: plain call on current.
    kernel::error::to_result(unsafe { raw::ssi_set_ax_on_return(ax) })
}

/// Starts the program `argv[0]` with arguments `argv` (each NUL-terminated)
/// as a usermode helper: a new root process with no open files, whose
/// parent is `kthreadd` (it is reaped by the kernel). Returns its pid once
/// it has exec'd.
pub(crate) fn spawn_usermode(argv: &[&[u8]]) -> Result<u32> {
    if argv.is_empty() || argv.iter().any(|a| a.last() != Some(&0) || a[..a.len() - 1].contains(&0)) {
        return Err(EINVAL);
    }
    let mut ptrs: KVec<*mut kernel::ffi::c_char> = KVec::with_capacity(argv.len() + 1, GFP_KERNEL)?;
    for a in argv {
        ptrs.push(a.as_ptr().cast_mut().cast(), GFP_KERNEL)?;
    }
    ptrs.push(core::ptr::null_mut(), GFP_KERNEL)?;
    let mut pid = 0u32;
    // SAFETY: `ptrs` is a NULL-terminated array of NUL-terminated strings
    // that outlive the call (it returns once the helper has exec'd, after
    // which the strings are not used); the helper does not write them.
    kernel::error::to_result(unsafe { raw::ssi_spawn_usermode(ptrs.as_mut_ptr(), &mut pid) })?;
    Ok(pid)
}

/// Whether process `pid` exists and is not exiting.
pub(crate) fn process_alive(pid: u32) -> bool {
    Task::get(pid).is_some_and(|t| t.brief().exiting == 0)
}

/// A one-shot gate: threads wait at it until it opens. The wait is
/// killable (only a fatal signal ends it early), so a long wait is not a
/// hung task.
#[pin_data]
pub(crate) struct Gate {
    #[pin]
    wq: kernel::types::Opaque<bindings::wait_queue_head>,
    open: core::sync::atomic::AtomicU32,
}

impl Gate {
    /// A closed gate.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Gate {
            // SAFETY: `slot` is valid for writing a wait queue head, which
            // stays pinned inside the gate.
            wq <- kernel::types::Opaque::ffi_init(|slot: *mut bindings::wait_queue_head| unsafe { raw::ssi_gate_init(slot.cast()) }),
            open: core::sync::atomic::AtomicU32::new(0),
        })
    }

    /// Opens the gate and wakes every waiter.
    pub(crate) fn open(&self) {
        self.open.store(1, core::sync::atomic::Ordering::Release);
        // SAFETY: the wait queue was initialised in `new`.
        unsafe { raw::ssi_gate_wake(self.wq.get().cast()) };
    }

    /// Waits until the gate is open; `ERESTARTSYS` on a fatal signal.
    pub(crate) fn wait(&self) -> Result {
        // SAFETY: the wait queue was initialised in `new`; `open` is a
        // live u32 read atomically by the helper.
        kernel::error::to_result(unsafe { raw::ssi_gate_wait(self.wq.get().cast(), self.open.as_ptr()) })
    }
}
