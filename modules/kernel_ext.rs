// SPDX-License-Identifier: GPL-2.0
//! Small additions to the 6.12 kernel crate: error codes it does not
//! declare, `KVec` operations it lacks, a formatting buffer on the stack,
//! whether the current task was killed, random bytes, the clocks, this
//! node's resources, a short uninterruptible sleep, the C struct of a
//! kernel crate task and a limit on noisy log lines.

use kernel::{alloc::KVec, bindings, error::Error};

fn errno(e: u32) -> Error {
    Error::from_errno(-(e as i32))
}

/// No cluster secret set ("Required key not available").
pub(crate) fn enokey() -> Error {
    errno(bindings::ENOKEY)
}
/// Operation cancelled.
pub(crate) fn ecanceled() -> Error {
    errno(bindings::ECANCELED)
}
/// Not connected.
pub(crate) fn enotconn() -> Error {
    errno(bindings::ENOTCONN)
}
/// Sequence numbers exhausted.
pub(crate) fn eoverflow() -> Error {
    errno(bindings::EOVERFLOW)
}
/// Message too long.
pub(crate) fn emsgsize() -> Error {
    errno(bindings::EMSGSIZE)
}
/// File name too long.
pub(crate) fn enametoolong() -> Error {
    errno(bindings::ENAMETOOLONG)
}
/// Timed out.
pub(crate) fn etimedout() -> Error {
    errno(bindings::ETIMEDOUT)
}

/// Connection reset by peer (its connection ended during a call).
pub(crate) fn econnreset() -> Error {
    errno(bindings::ECONNRESET)
}

/// The service is shutting down.
pub(crate) fn eshutdown() -> Error {
    errno(bindings::ESHUTDOWN)
}
/// The peer answered with an error.
pub(crate) fn eremoteio() -> Error {
    errno(bindings::EREMOTEIO)
}

/// A file changed since it was recorded.
pub(crate) fn estale() -> Error {
    errno(bindings::ESTALE)
}

/// Nobody handles this kind of request.
pub(crate) fn eopnotsupp() -> Error {
    errno(bindings::EOPNOTSUPP)
}

/// `EHOSTDOWN`.
pub(crate) fn ehostdown() -> Error {
    errno(bindings::EHOSTDOWN)
}

/// Removes element `i` (the last element takes its place), like
/// `Vec::swap_remove`.
pub(crate) fn swap_remove<T>(v: &mut KVec<T>, i: usize) -> Option<T> {
    let len = v.len();
    if i >= len {
        return None;
    }
    v.as_mut_slice().swap(i, len - 1);
    // SAFETY: `len - 1 < len`, so that element is initialised; it is read
    // out exactly once and the length shrinks past it, so it is not
    // dropped again by the vector.
    unsafe {
        let item = core::ptr::read(v.as_ptr().add(len - 1));
        v.set_len(len - 1);
        Some(item)
    }
}

/// Text formatted into a fixed buffer on the stack (`write!` fails when it
/// is full).
pub(crate) struct StackStr<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackStr<N> {
    /// Empty.
    pub(crate) fn new() -> Self {
        StackStr { buf: [0; N], len: 0 }
    }

    /// The bytes written.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The text written.
    pub(crate) fn as_str(&self) -> &str {
        // Only whole `str`s are ever copied in.
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl<const N: usize> core::fmt::Write for StackStr<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(core::fmt::Error)?;
        self.buf.get_mut(self.len..end).ok_or(core::fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Whether the current task has been killed (SIGKILL pending).
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: reads the current task's pending set; no preconditions.
    unsafe { crate::extra::ssi_fatal_signal_pending() != 0 }
}

/// Random bytes from the kernel's CRNG.
pub(crate) fn random_bytes(buf: &mut [u8]) {
    // SAFETY: `buf` is writable for its length.
    unsafe { bindings::get_random_bytes(buf.as_mut_ptr().cast(), buf.len()) };
}

/// A random `u64` with its lowest bit set (never 0: ids).
pub(crate) fn random_id() -> u64 {
    let mut b = [0u8; 8];
    random_bytes(&mut b);
    u64::from_le_bytes(b) | 1
}

/// Nanoseconds of monotonic time: the one clock of the module.
pub(crate) fn mono_ns() -> u64 {
    // SAFETY: ktime_get has no preconditions.
    (unsafe { bindings::ktime_get() }) as u64
}

/// Milliseconds of monotonic time.
pub(crate) fn mono_ms() -> u64 {
    mono_ns() / 1_000_000
}

/// Sleeps `ms` milliseconds, signals or not (a short wait of a task that
/// must not be interrupted).
pub(crate) fn msleep(ms: u32) {
    // SAFETY: plain sleep, in process context.
    unsafe { bindings::msleep(ms) };
}

/// Wall-clock time in nanoseconds (for incarnations and image dates;
/// intervals use [`mono_ns`]).
pub(crate) fn real_time_ns() -> u64 {
    // SAFETY: reads the clock, no preconditions.
    unsafe { crate::extra::ssi_real_time_ns() }
}

/// This node's online CPUs, total and free memory (KiB) and load averages
/// (the kernel's fixed point).
pub(crate) fn node_resources() -> (u32, u64, u64, [u32; 3]) {
    let (mut cpus, mut total, mut free, mut load) = (0u32, 0u64, 0u64, [0u32; 3]);
    // SAFETY: all four are valid out-pointers; `load` has room for three.
    unsafe { crate::extra::ssi_node_resources(&raw mut cpus, &raw mut total, &raw mut free, load.as_mut_ptr()) };
    (cpus, total, free, load)
}

/// The C `task_struct` of a kernel crate task, for the C glue; valid as
/// long as `task` is.
pub(crate) fn task_ptr(task: &kernel::task::Task) -> *mut bindings::task_struct {
    // `Task` is a transparent wrapper of `Opaque<task_struct>`, itself a
    // transparent wrapper of the C struct.
    core::ptr::from_ref(task).cast_mut().cast()
}

/// A limit on a noisy kind of log line (a peer sending malformed
/// messages): at most one a second; the next line allowed says first how
/// many were left out.
pub(crate) struct LogLimit {
    last_ms: core::sync::atomic::AtomicU64,
    left_out: core::sync::atomic::AtomicU64,
}

impl LogLimit {
    /// No line logged yet.
    pub(crate) const fn new() -> Self {
        LogLimit { last_ms: core::sync::atomic::AtomicU64::new(0), left_out: core::sync::atomic::AtomicU64::new(0) }
    }

    /// Whether a line of this kind may be logged now; if lines were left
    /// out since the last one, a line saying how many is logged first.
    pub(crate) fn allow(&self) -> bool {
        use core::sync::atomic::Ordering::Relaxed;
        let now = mono_ms().max(1);
        let last = self.last_ms.load(Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= 1000;
        if !due || self.last_ms.compare_exchange(last, now, Relaxed, Relaxed).is_err() {
            self.left_out.fetch_add(1, Relaxed);
            return false;
        }
        let n = self.left_out.swap(0, Relaxed);
        if n > 0 {
            kernel::pr_warn!("{} more lines like the next were not logged\n", n);
        }
        true
    }
}
