// SPDX-License-Identifier: GPL-2.0
//! Small additions to the 6.12 kernel crate: error codes it does not
//! declare, `KVec` operations it lacks, and a formatting buffer on the
//! stack.

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
