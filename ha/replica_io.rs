// SPDX-License-Identifier: GPL-2.0
//! A replica's fds 0-2 (silent data corruption): where the primary has
//! stand-ins that forward its reads and writes to its deputy at home, a
//! replica has these stream files. A write is a point (`copies.rs`): the
//! replica stops there for the verdict, then its bytes are thrown away
//! (the primary's reach the world). A read sees end of file: input is not
//! replicated (docs/ha.md).

use super::{copies::Copy, HaService};
use crate::{
    checkpoint::task::{File, StreamOps},
    cluster::Cluster,
};
use kernel::{
    ffi::{c_char, c_long, c_void},
    prelude::*,
    sync::Arc,
};

/// What a replica's stand-in holds.
struct ReplicaFile {
    cluster: Arc<Cluster>,
    ha: Arc<HaService>,
    copy: Arc<Copy>,
}

static REPLICA_OPS: StreamOps =
    StreamOps { read: Some(ssi_replica_read), write: Some(ssi_replica_write), release: Some(ssi_replica_release) };

/// The stand-in for fd 0, 1 or 2 of replica `copy`.
pub(crate) fn stand_in(
    cluster: &Arc<Cluster>,
    ha: &Arc<HaService>,
    copy: &Arc<Copy>,
    readable: bool,
    writable: bool,
) -> Result<File> {
    let f = KBox::new(ReplicaFile { cluster: cluster.clone(), ha: ha.clone(), copy: copy.clone() }, GFP_KERNEL)?;
    let raw = KBox::into_raw(f);
    // SAFETY: `raw` stays valid until `ssi_replica_release` takes it back,
    // which the file calls once, when it is closed for the last time.
    let file = unsafe { File::new_stream(kernel::c_str!("[ssi-replica]"), &REPLICA_OPS, raw.cast(), readable, writable) };
    file.inspect_err(|_| {
        // SAFETY: no file was made: the box is still ours.
        drop(unsafe { KBox::from_raw(raw) });
    })
}

impl ReplicaFile {
    fn write(&self, len: usize) -> Result<usize> {
        let home: &HaService = &self.ha;
        self.copy.at_point(&self.cluster, &self.ha.copies, Some(home))?;
        Ok(len)
    }
}

/// `read` of a replica's stand-in: end of file.
///
/// # Safety
///
/// `priv_` is the `ReplicaFile` given to the file, alive until release.
unsafe extern "C" fn ssi_replica_read(_priv: *mut c_void, _buf: *mut c_char, _len: usize) -> c_long {
    0
}

/// `write` of a replica's stand-in.
///
/// # Safety
///
/// As for [`ssi_replica_read`].
unsafe extern "C" fn ssi_replica_write(priv_: *mut c_void, _buf: *const c_char, len: usize) -> c_long {
    // SAFETY: per the contract.
    let f = unsafe { &*priv_.cast_const().cast::<ReplicaFile>() };
    match f.write(len) {
        Ok(n) => n as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}

/// The last reference to a replica's stand-in went.
///
/// # Safety
///
/// `priv_` is the `ReplicaFile` given to the file; it is not used again.
unsafe extern "C" fn ssi_replica_release(priv_: *mut c_void) {
    // SAFETY: per the contract, the box made in `stand_in` comes back once.
    drop(unsafe { KBox::from_raw(priv_.cast::<ReplicaFile>()) });
}
