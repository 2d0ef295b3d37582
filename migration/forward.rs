// SPDX-License-Identifier: GPL-2.0
//! Stand-in files: what a migrated process has, on the node it runs on,
//! for a file its deputy keeps at home (a pipe or terminal on fds 0-2).
//!
//! A read or write on a stand-in is a `MigrateIo` to the home node, done
//! by the deputy in its own context on the real file, answered with
//! `MigrateIoDone`. The caller waits for the answer (killable only: the
//! deputy's read or write may have happened, so the answer must be
//! taken); a read the deputy could not finish because of a signal comes
//! back as `ERESTARTSYS`, and the signal, forwarded first on the same
//! ordered connection, is pending here by then. A home node that stays
//! unreachable for [`LOST_AFTER_MS`] ends the wait with `EIO`.
//!
//! The answers wait in the hosted process's `IoAnswers` (`io_answers.rs`)
//! until the stand-in that asked takes them.

use super::{
    remote::{Hosted, HostedState},
    Migrations,
};
use crate::{
    checkpoint::task::{File, StreamOps},
    cluster::Cluster,
    proto::{
        migration::{Io, IoDone, IoOp, MAX_IO},
        wire::MsgType,
    },
};
use kernel::{
    ffi::{c_char, c_long, c_void},
    prelude::*,
    sync::Arc,
    uaccess::UserSlice,
};

/// How long the home node may be unreachable before a read or write
/// fails.
const LOST_AFTER_MS: u32 = 10_000;

/// What a write of a migrated process to a stand-in asks first: high
/// availability's replicas (`ha/copies.rs`) stop the process there, in
/// its own context, to compare it with its copies.
pub(crate) trait WriteGate: Send + Sync {
    /// Before a write of the process whose deputy is `home_id` on
    /// `home_node`: whether it is forwarded (`false`: it is not, and
    /// counts as written); an error fails it.
    fn before_write(&self, cluster: &Cluster, home_node: u16, home_id: u64) -> Result<bool>;
}

/// What a stand-in file stands for.
struct Forward {
    cluster: Arc<Cluster>,
    hosted: Arc<Hosted>,
    /// The descriptor in the deputy's table.
    fd: u32,
    gate: Option<Arc<dyn WriteGate>>,
}

/// A stand-in for the deputy's descriptor `fd`; its writes ask `gate`
/// first.
pub(crate) fn stand_in(
    cluster: &Arc<Cluster>,
    hosted: &Arc<Hosted>,
    fd: u32,
    readable: bool,
    writable: bool,
    gate: Option<Arc<dyn WriteGate>>,
) -> Result<File> {
    let f = KBox::new(Forward { cluster: cluster.clone(), hosted: hosted.clone(), fd, gate }, GFP_KERNEL)?;
    let raw = KBox::into_raw(f);
    // SAFETY: `raw` stays valid until `ssi_fwd_release` takes it back, which
    // the file calls once, when it is closed for the last time.
    let file = unsafe { File::new_stream(kernel::c_str!("[ssi-forward]"), &STAND_IN_OPS, raw.cast(), readable, writable) };
    file.inspect_err(|_| {
        // SAFETY: no file was made: the box is still ours.
        drop(unsafe { KBox::from_raw(raw) });
    })
}

/// What the stand-in file calls.
static STAND_IN_OPS: StreamOps =
    StreamOps { read: Some(ssi_fwd_read), write: Some(ssi_fwd_write), release: Some(ssi_fwd_release) };

impl Forward {
    /// Sends one `MigrateIo` and waits for its answer.
    fn call(&self, op: IoOp, len: usize, data: &[u8], out: &mut KVec<u8>) -> Result<usize> {
        let h = &self.hosted;
        let seq = h.next_seq();
        let io = Io { home_id: h.home_id, seq, fd: self.fd, op, len: len as u32, data };
        let mut body = KVec::from_elem(0u8, Io::HEADER_LEN + data.len(), GFP_KERNEL)?;
        let n = io.encode(&mut body).map_err(|_| EINVAL)?;
        let mut epoch = self.cluster.reliable_epoch(h.home_node);
        self.cluster.send_reliable(h.home_node, MsgType::MigrateIo, &body[..n]).map_err(|_| EIO)?;
        let mut unreachable_ms = 0u32;
        loop {
            if self.cluster.is_connected(h.home_node) && self.cluster.reliable_epoch(h.home_node) != epoch {
                // The request may have been given up (the home node was
                // declared dead for a moment, or this node rejoined): it
                // is sent again, under the same number, rather than
                // waited for forever. Done twice at worst (its first copy
                // was taken but not acknowledged).
                epoch = self.cluster.reliable_epoch(h.home_node);
                self.cluster.send_reliable(h.home_node, MsgType::MigrateIo, &body[..n]).map_err(|_| EIO)?;
            }
            let seen = h.bell.seen();
            if let Some((result, data)) = h.io.take(seq) {
                if result < 0 {
                    return Err(Error::from_errno(result as i32));
                }
                *out = data;
                return Ok(result as usize);
            }
            if crate::kernel_ext::fatal_signal_pending() {
                return Err(EINTR);
            }
            if self.cluster.is_connected(h.home_node) {
                unreachable_ms = 0;
            } else {
                unreachable_ms += 500;
                if unreachable_ms >= LOST_AFTER_MS {
                    return Err(EIO);
                }
            }
            h.bell.wait_killable(seen, 500);
        }
    }

    fn read(&self, buf: usize, len: usize) -> Result<usize> {
        let len = len.min(MAX_IO);
        if len == 0 {
            return Ok(0);
        }
        let mut data = KVec::new();
        let n = self.call(IoOp::Read, len, &[], &mut data)?;
        let n = n.min(data.len()).min(len);
        UserSlice::new(buf, n).writer().write_slice(&data[..n])?;
        Ok(n)
    }

    fn write(&self, buf: usize, len: usize) -> Result<usize> {
        if let Some(g) = &self.gate {
            if !g.before_write(&self.cluster, self.hosted.home_node, self.hosted.home_id)? {
                return Ok(len);
            }
        }
        let mut done = 0usize;
        let mut chunk = KVec::from_elem(0u8, len.min(MAX_IO), GFP_KERNEL)?;
        while done < len {
            let n = (len - done).min(MAX_IO);
            UserSlice::new(buf + done, n).reader().read_slice(&mut chunk[..n])?;
            let mut none = KVec::new();
            match self.call(IoOp::Write, n, &chunk[..n], &mut none) {
                Ok(w) => {
                    done += w;
                    if w < n {
                        break;
                    }
                }
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(done)
    }
}

fn to_long(r: Result<usize>) -> c_long {
    match r {
        Ok(n) => n as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}

/// `MigrateIoDone` from the home node: the deputy's answer.
pub(crate) fn io_done(migrations: &Migrations, from: u16, body: &[u8]) -> Result {
    let d = IoDone::decode(body).map_err(|_| EINVAL)?;
    // Not an old copy that moved on (it may still lend its memory here).
    let h = migrations
        .find_hosted(|h| {
            h.home_id == d.home_id && h.home_node == from && !matches!(h.state(), HostedState::Moved | HostedState::Failed)
        })
        .ok_or(ESRCH)?;
    let mut data = KVec::with_capacity(d.data.len(), GFP_KERNEL)?;
    data.extend_from_slice(d.data, GFP_KERNEL)?;
    h.io.put(d.seq, d.result, data)?;
    h.bell.ring();
    Ok(())
}

/// `read` of a stand-in file (called by the stream file's C glue).
///
/// # Safety
///
/// `priv_` is the `Forward` given to the stand-in file, alive until release.
pub(crate) unsafe extern "C" fn ssi_fwd_read(priv_: *mut c_void, buf: *mut c_char, len: usize) -> c_long {
    // SAFETY: per the contract.
    let f = unsafe { &*priv_.cast_const().cast::<Forward>() };
    to_long(f.read(buf as usize, len))
}

/// `write` of a stand-in file (called by the stream file's C glue).
///
/// # Safety
///
/// As for [`ssi_fwd_read`].
pub(crate) unsafe extern "C" fn ssi_fwd_write(priv_: *mut c_void, buf: *const c_char, len: usize) -> c_long {
    // SAFETY: per the contract.
    let f = unsafe { &*priv_.cast_const().cast::<Forward>() };
    to_long(f.write(buf as usize, len))
}

/// The last reference to a stand-in file went.
///
/// # Safety
///
/// `priv_` is the `Forward` given to the stand-in file; it is not used again.
pub(crate) unsafe extern "C" fn ssi_fwd_release(priv_: *mut c_void) {
    // SAFETY: per the contract, the box made in `stand_in` comes back once.
    drop(unsafe { KBox::from_raw(priv_.cast::<Forward>()) });
}
