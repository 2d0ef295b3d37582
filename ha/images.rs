// SPDX-License-Identifier: GPL-2.0
//! The checkpoint images of protected processes on the shared file
//! system: `<dir>/<pid>/<seq>.img`, directories mode 0700 and images mode
//! 0600, owned by root.
//!
//! An image is written as `<seq>.img.part` and renamed to `<seq>.img`
//! only once the capture wrote all of it: a crash mid-write leaves a
//! `.part` file, never an image that looks complete. A failed capture
//! removes its `.part` file.

use super::sys;
use crate::{
    checkpoint::{self, increment::Increment, task, task::File},
    kernel_ext::StackStr,
    proto::{
        ctl::CtlReply,
        image::{ImageHeader, IMAGE_HEADER_LEN},
    },
};
use core::fmt::Write;
use kernel::{prelude::*, sync::Arc};

/// The longest directory name `dir` may have.
pub(crate) const MAX_DIR: usize = 128;
/// The default directory of the images.
pub(crate) const DEFAULT_DIR: &str = "/cluster/ssi-ha";

/// A path, NUL-terminated.
type Path = StackStr<{ MAX_DIR + 48 }>;

fn path(args: core::fmt::Arguments<'_>) -> Result<Path> {
    let mut p = Path::new();
    p.write_fmt(args).map_err(|_| crate::kernel_ext::enametoolong())?;
    p.write_str("\0").map_err(|_| crate::kernel_ext::enametoolong())?;
    Ok(p)
}

/// The directory of process `pid`'s images.
fn pid_dir(dir: &str, pid: u32) -> Result<Path> {
    path(format_args!("{dir}/{pid}"))
}

/// Image `seq`'s file name (`part`: while it is written).
fn name(seq: u32, part: bool) -> Result<Path> {
    path(format_args!("{seq}.img{}", if part { ".part" } else { "" }))
}

/// Writes checkpoint `seq` of process `pid` (this node's pid of it; its
/// cluster-wide pid `home_pid` names the directory) under `dir`,
/// incremental if `increment` makes it so; the outcome in `reply` (size,
/// freeze, why it failed).
pub(crate) fn write(
    node: u32,
    dir: &str,
    home_pid: u32,
    pid: u32,
    seq: u32,
    increment: Option<Arc<dyn Increment>>,
    reply: &mut CtlReply,
) -> Result {
    let start = task::mono_ns();
    let base = path(format_args!("{dir}"))?;
    let pdir = pid_dir(dir, home_pid)?;
    sys::mkdir(base.as_bytes(), 0o700).and_then(|()| sys::mkdir(pdir.as_bytes(), 0o700)).map_err(|e| {
        crate::ctl_reply::fail(
            reply,
            e,
            format_args!("cannot make {} (error {})", &pdir.as_str()[..pdir.as_str().len() - 1], e.to_errno()),
        )
    })?;
    let part = name(seq, true)?;
    let part_path = path(format_args!("{dir}/{home_pid}/{seq}.img.part"))?;
    let file = sys::create(part_path.as_bytes(), 0o600).map_err(|e| {
        crate::ctl_reply::fail(reply, e, format_args!("cannot create an image in {dir} (error {})", e.to_errno()))
    })?;
    let r = checkpoint::check_target(pid, reply)
        .and_then(|target| checkpoint::capture(node, pid, target, Some(file), false, None, increment, false, start, reply))
        .and_then(|()| {
            sys::rename(pdir.as_bytes(), part.as_bytes(), name(seq, false)?.as_bytes()).map_err(|e| {
                crate::ctl_reply::fail(reply, e, format_args!("cannot put image {seq} in place (error {})", e.to_errno()))
            })
        });
    if r.is_err() {
        let _ = sys::remove(pdir.as_bytes(), part.as_bytes(), false);
    }
    r
}

/// The path of image `seq` of process `pid`, without a NUL (a Parent
/// section names it).
pub(crate) fn image_path(dir: &str, pid: u32, seq: u32) -> Result<KVec<u8>> {
    let p = path(format_args!("{dir}/{pid}/{seq}.img"))?;
    let b = p.as_bytes();
    let mut v = KVec::with_capacity(b.len() - 1, GFP_KERNEL)?;
    v.extend_from_slice(&b[..b.len() - 1], GFP_KERNEL)?;
    Ok(v)
}

/// The image id in the header of image `seq` of process `pid`.
pub(crate) fn image_id(dir: &str, pid: u32, seq: u32) -> Result<u64> {
    let f = open(dir, pid, seq)?;
    let mut h = [0u8; IMAGE_HEADER_LEN];
    f.read_exact(&mut h, &mut 0)?;
    Ok(ImageHeader::decode(&h).map_err(|_| EINVAL)?.image_id)
}

/// Opens image `seq` of process `pid` for reading.
pub(crate) fn open(dir: &str, pid: u32, seq: u32) -> Result<File> {
    let p = path(format_args!("{dir}/{pid}/{seq}.img"))?;
    task::open_path(p.as_bytes(), kernel::bindings::O_RDONLY | kernel::bindings::O_LARGEFILE)
}

/// Removes image `seq` of process `pid`.
pub(crate) fn remove(dir: &str, pid: u32, seq: u32) {
    if let (Ok(d), Ok(n)) = (pid_dir(dir, pid), name(seq, false)) {
        // One already gone (removed with the chain it was in) is fine.
        let r = sys::remove(d.as_bytes(), n.as_bytes(), false);
        if let Err(e) = r.or_else(|e| if e == ENOENT { Ok(()) } else { Err(e) }) {
            pr_warn!("ha: cannot remove {}/{}/{}.img (error {})\n", dir, pid, seq, e.to_errno());
        }
    }
}

/// Removes the images `seqs` of process `pid` and its directory.
pub(crate) fn remove_all(dir: &str, pid: u32, seqs: impl Iterator<Item = u32>) {
    for seq in seqs {
        remove(dir, pid, seq);
    }
    if let (Ok(base), Ok(n)) = (path(format_args!("{dir}")), path(format_args!("{pid}"))) {
        let _ = sys::remove(base.as_bytes(), n.as_bytes(), true);
    }
}
