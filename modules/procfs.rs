// SPDX-License-Identifier: GPL-2.0
//! Thin safe wrapper around procfs (`include/linux/proc_fs.h`) and
//! `seq_file`: a directory under `/proc` with read-only files rendered by
//! Rust types.

use crate::extra as raw;
use core::{fmt, marker::PhantomData, ptr};
use kernel::{
    ffi::{c_int, c_void},
    prelude::*,
    str::CStr,
    sync::Arc,
};

/// A read-only file of a [`ProcDir`] with data `D`.
pub(crate) trait ProcShow<D>: 'static {
    /// File name.
    const NAME: &'static CStr;
    /// Writes the file's content.
    fn show(data: &D, out: &mut SeqFile<'_>) -> Result;
}

/// The `seq_file` a [`ProcShow`] writes to. Output longer than the current
/// buffer makes seq_file call `show` again with a larger one.
pub(crate) struct SeqFile<'a> {
    m: *mut raw::seq_file,
    _lifetime: PhantomData<&'a mut raw::seq_file>,
}

impl SeqFile<'_> {
    /// Writes `bytes`; `false` if they do not fit the buffer. `show` then
    /// returns `Ok`, and seq_file calls it again with a larger buffer (an
    /// error from `show` would end the read with that error).
    pub(crate) fn write_bytes(&mut self, bytes: &[u8]) -> bool {
        // SAFETY: `m` is the seq_file of the ongoing `show` call; `bytes`
        // is readable for its length.
        unsafe { raw::seq_write(self.m, bytes.as_ptr().cast(), bytes.len()) == 0 }
    }

    /// The open file being read, for as long as it is open: a `show`
    /// called again with a larger buffer sees the same key.
    pub(crate) fn key(&self) -> usize {
        self.m as usize
    }
}

impl fmt::Write for SeqFile<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // SAFETY: `m` is the seq_file of the ongoing `show` call.
        let r = unsafe { raw::seq_write(self.m, s.as_ptr().cast(), s.len()) };
        if r == 0 {
            Ok(())
        } else {
            Err(fmt::Error)
        }
    }
}

/// A directory `/proc/<name>` whose files share data `D`. Removing it (on
/// drop) removes its files and waits for readers to leave them.
pub(crate) struct ProcDir<D> {
    entry: *mut raw::proc_dir_entry,
    data: Arc<D>,
}

// SAFETY: the entry pointer is only handed to procfs, which does its own
// locking; `D` is reached from readers on any thread, hence the bounds.
unsafe impl<D: Send + Sync> Send for ProcDir<D> {}
// SAFETY: as above.
unsafe impl<D: Send + Sync> Sync for ProcDir<D> {}

impl<D: Send + Sync + 'static> ProcDir<D> {
    /// Creates `/proc/<name>`.
    pub(crate) fn new(name: &'static CStr, data: Arc<D>) -> Result<Self> {
        // SAFETY: `name` is NUL-terminated and 'static; a NULL parent means
        // /proc itself.
        let entry = unsafe { raw::proc_mkdir(name.as_char_ptr(), ptr::null_mut()) };
        if entry.is_null() {
            return Err(EEXIST);
        }
        Ok(ProcDir { entry, data })
    }

    /// Adds the file `S` to the directory.
    pub(crate) fn add<S: ProcShow<D>>(&self) -> Result {
        // SAFETY: `self.entry` is a live directory; the data pointer stays
        // valid until `drop` has removed the file (and waited for readers),
        // because `self.data` holds a reference until then.
        let file = unsafe {
            raw::proc_create_single_data(
                S::NAME.as_char_ptr(),
                0o444,
                self.entry,
                Some(show_trampoline::<D, S>),
                ptr::from_ref::<D>(&self.data).cast_mut().cast::<c_void>(),
            )
        };
        if file.is_null() {
            return Err(ENOMEM);
        }
        Ok(())
    }
}

impl<D> Drop for ProcDir<D> {
    fn drop(&mut self) {
        // SAFETY: `entry` came from proc_mkdir; proc_remove removes the
        // subtree and waits until no reader is inside a `show`.
        unsafe { raw::proc_remove(self.entry) };
    }
}

/// seq_file `show` callback of file `S`.
///
/// # Safety
///
/// Called by procfs only, for a file created by `ProcDir::<D>::add`, whose
/// private data points to the directory's `D`.
unsafe extern "C" fn show_trampoline<D: 'static, S: ProcShow<D>>(m: *mut raw::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: procfs calls this for a file created by `ProcDir::add`, whose
    // private data is the `D` kept alive by the directory.
    let data = unsafe { &*raw::ssi_seq_private(m).cast::<D>() };
    let mut out = SeqFile { m, _lifetime: PhantomData };
    match S::show(data, &mut out) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}
