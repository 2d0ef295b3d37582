// SPDX-License-Identifier: GPL-2.0
//! High availability's kernel calls (C glue `ha/ha_helpers.c`): the file
//! system operations that put a checkpoint image in place. Every path is
//! NUL-terminated (`EINVAL` otherwise).

use crate::{checkpoint::task::File, extra as raw};
use kernel::prelude::*;

fn nul_terminated(s: &[u8]) -> Result {
    if s.last() == Some(&0) && !s[..s.len() - 1].contains(&0) {
        Ok(())
    } else {
        Err(EINVAL)
    }
}

/// Creates directory `path` with `mode` unless it exists.
pub(crate) fn mkdir(path: &[u8], mode: u16) -> Result {
    nul_terminated(path)?;
    // SAFETY: NUL-terminated path.
    kernel::error::to_result(unsafe { raw::ssi_ha_mkdir(path.as_ptr().cast(), mode) })
}

/// Creates (or truncates) the regular file `path` with `mode`, open for
/// writing.
pub(crate) fn create(path: &[u8], mode: u16) -> Result<File> {
    nul_terminated(path)?;
    let mut err = 0;
    // SAFETY: NUL-terminated path; a non-NULL result is a counted file.
    let f = unsafe { raw::ssi_ha_create(path.as_ptr().cast(), mode, &mut err) };
    if f.is_null() {
        return Err(Error::from_errno(if err < 0 { err } else { -(kernel::bindings::EINVAL as i32) }));
    }
    // SAFETY: a counted file reference, given to the `File`.
    Ok(unsafe { File::from_raw(f.cast()) })
}

/// Renames `from` to `to` in directory `dir`, replacing `to`.
pub(crate) fn rename(dir: &[u8], from: &[u8], to: &[u8]) -> Result {
    for s in [dir, from, to] {
        nul_terminated(s)?;
    }
    // SAFETY: NUL-terminated strings.
    kernel::error::to_result(unsafe { raw::ssi_ha_rename(dir.as_ptr().cast(), from.as_ptr().cast(), to.as_ptr().cast()) })
}

/// Removes file `name` (`is_dir`: the empty directory) of directory `dir`.
pub(crate) fn remove(dir: &[u8], name: &[u8], is_dir: bool) -> Result {
    nul_terminated(dir)?;
    nul_terminated(name)?;
    // SAFETY: NUL-terminated strings.
    kernel::error::to_result(unsafe { raw::ssi_ha_remove(dir.as_ptr().cast(), name.as_ptr().cast(), i32::from(is_dir)) })
}

/// Test aid: flips bit `bit` of the anonymous page at `addr` of this
/// node's process `pid` without marking the page dirty.
pub(crate) fn flip_bit(pid: u32, addr: u64, bit: u32) -> Result {
    // SAFETY: plain values; the glue checks them and takes its own
    // references.
    kernel::error::to_result(unsafe { raw::ssi_ha_flip_bit(pid, addr, bit) })
}
