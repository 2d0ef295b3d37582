// SPDX-License-Identifier: GPL-2.0
//! The krpc messages of an incoming migration (see `remote.rs` for the
//! whole): `MigrateBegin` makes the [`Hosted`] and starts the restart
//! program; `MigrateData` fills its image receiver, `MigratePages` and
//! `MigrateKeep` bring pre-copy's rounds, `MigrateCommit` lets the restore
//! go on (or, back home, hands the image to the deputy), `MigrateGo`
//! hands the process over and `MigrateAbort` gives it up. `MigrateSignal`
//! brings a signal from its deputy while it runs here.
//!
//! The answers the process gets while it runs here are taken elsewhere:
//! `MigrateIoDone` by `forward.rs`, `MigratePageData` by `pages.rs`.

use super::{
    remote::{Hosted, HostedState},
    round_pages::RoundPages,
    sys, Migrations,
};
use crate::{
    checkpoint::task,
    cluster::Cluster,
    kernel_ext::StackStr,
    proto::{
        ctl::{STRATEGY_POSTCOPY, STRATEGY_PRECOPY},
        migration::{Begin, Commit, Data, Keep, Ref, Run, Signal, PAGE, USER_TOP},
        pid_range,
        wire::RestartStarted,
    },
};
use kernel::{prelude::*, sync::Arc};

/// Most incoming migrations and hosted processes per node.
const MAX_HOSTED: usize = 256;
/// Largest image an incoming migration may send.
const MAX_IMAGE: u64 = 1 << 40;
/// How long `MigrateBegin` of a post-copy or lazy migration waits for the
/// restart program to be up (the source freezes the process after the
/// answer). It holds the connection's handler thread, so it is short; a
/// slower start only makes the freeze longer.
const PROGRAM_UP_WAIT_MS: u64 = 1500;

/// `MigrateBegin` from `from`: prepares to receive. The reply body: the
/// restart program's token and pid (none for a process coming home).
pub(crate) fn begin(cluster: &Cluster, migrations: &Arc<Migrations>, from: u16, body: &[u8]) -> Result<KVec<u8>> {
    let b = Begin::decode(body).map_err(|_| EINVAL)?;
    if migrations.hosted_count() >= MAX_HOSTED {
        return Err(EBUSY);
    }
    let returning = b.home_node == cluster.node_id();
    if returning && migrations.deputy(b.home_id).is_none() {
        // Coming home, but its deputy is gone.
        return Err(ESRCH);
    }
    if migrations.find_hosted(|h| h.id == b.id).is_some() {
        return Err(EEXIST);
    }
    if b.size > MAX_IMAGE {
        return Err(EFBIG);
    }
    let file = sys::image_file(b.size)?;
    // Pre-copy: prepared (the rounds written into the process rebuilt
    // ahead) unless it comes home into its deputy.
    let rounds =
        if b.strategy == STRATEGY_PRECOPY { Some(RoundPages::new(sys::sparse_file(USER_TOP)?, !returning)) } else { None };
    let h = Arc::pin_init(Hosted::new(&b, from, returning, file, rounds), GFP_KERNEL)?;
    migrations.add_hosted(h.clone())?;
    h.record(migrations, "receiving");
    if !returning {
        // The restart program starts now, while the image comes, and waits
        // in the module for it (`Hosted::image_fd`): its start is not part
        // of the freeze.
        let started = start_restore(migrations, &h, from).inspect_err(|_| h.fail_because("cannot start the restore"))?;
        h.inner.lock().started = Some(started);
        if h.pages_later() {
            // Post-copy, lazy: the freeze that follows is short; the
            // program should be up (its page server started) before it.
            h.await_program(PROGRAM_UP_WAIT_MS);
        }
        let mut out = KVec::from_elem(0u8, RestartStarted::LEN, GFP_KERNEL)?;
        started.encode(&mut out).map_err(|_| EINVAL)?;
        return Ok(out);
    }
    Ok(KVec::new())
}

/// Starts `ctl_path restart --token T --as-uid U --migration` for `h`.
/// A cluster-wide home pid is kept (`--keep-pid P`): the program makes
/// the copy of itself that becomes the process with that pid, which no
/// other process of the cluster can hold (the deputy holds it at home;
/// no node but the home allocates in its range).
fn start_restore(migrations: &Migrations, h: &Arc<Hosted>, from: u16) -> Result<RestartStarted> {
    let mut uid = StackStr::<16>::new();
    core::fmt::Write::write_fmt(&mut uid, format_args!("{}\0", h.uid)).map_err(|_| EINVAL)?;
    let mut pid = StackStr::<16>::new();
    core::fmt::Write::write_fmt(&mut pid, format_args!("{}\0", h.home_pid)).map_err(|_| EINVAL)?;
    let mut args: KVec<&[u8]> = KVec::with_capacity(7, GFP_KERNEL)?;
    for a in [&b"--as-uid\0"[..], uid.as_bytes(), b"--migration\0"] {
        args.push(a, GFP_KERNEL)?;
    }
    if pid_range::is_cluster_wide(h.home_pid) {
        args.push(b"--keep-pid\0", GFP_KERNEL)?;
        args.push(pid.as_bytes(), GFP_KERNEL)?;
    }
    if h.pages_later() {
        // Post-copy, lazy: the restart program also starts the page server.
        let how: &[u8] = if h.strategy == STRATEGY_POSTCOPY { b"postcopy\0" } else { b"lazy\0" };
        args.push(b"--pages-later\0", GFP_KERNEL)?;
        args.push(how, GFP_KERNEL)?;
    }
    migrations.restarts.start_program(from, &args, |token| {
        h.inner.lock().token = token;
    })
}

/// `MigrateData` from `from`: image bytes, in order.
/// The page data stays in `body` (kept by the page store), the rest is
/// copied into the image file.
pub(crate) fn data(migrations: &Migrations, from: u16, body: KVec<u8>) -> Result {
    let d = Data::decode(&body).map_err(|_| EINVAL)?;
    let h = migrations.find_hosted(|h| h.id == d.id && h.from_node == from).ok_or(ENOENT)?;
    let mut i = h.inner.lock();
    if i.state == HostedState::Failed {
        // Given up (`MigrateAbort`): frames the source sent before it
        // stopped are dropped quietly.
        return Err(crate::kernel_ext::ecanceled());
    }
    let end = d.offset + d.data.len() as u64;
    let limit = if h.size != 0 { h.size } else { MAX_IMAGE };
    let receiving = matches!(i.state, HostedState::Receiving | HostedState::Prepared);
    if !receiving || d.offset != i.receiver.received() || end > limit {
        drop(i);
        h.fail_because("image data out of order or too large");
        return Err(EINVAL);
    }
    // The description goes into the image file, one piece after the
    // other; the page data stays in the body, kept by the page store.
    // The data is the end of the body.
    let at = body.len() - d.data.len();
    if let Err((why, e)) = i.receiver.store(body, at, end) {
        drop(i);
        h.fail_because(why);
        return Err(e);
    }
    i.since_ns = task::mono_ns();
    drop(i);
    // An eager restore may wait for these bytes.
    h.bell.ring();
    Ok(())
}

/// `MigratePages` from `from`: pre-copy pages, kept as they came (their
/// frame) for the restoring process to write (`round_pages`).
pub(crate) fn pages(migrations: &Migrations, from: u16, body: KVec<u8>) -> Result {
    let d = Data::decode(&body).map_err(|_| EINVAL)?;
    let h = migrations.find_hosted(|h| h.id == d.id && h.from_node == from).ok_or(ENOENT)?;
    let run = Run { addr: d.offset, npages: (d.data.len() as u64 / PAGE) as u32 };
    let mut i = h.inner.lock();
    if i.state == HostedState::Failed {
        // Given up: rounds sent before the source heard of it are dropped.
        return Err(crate::kernel_ext::ecanceled());
    }
    let open = matches!(i.state, HostedState::Receiving | HostedState::Committed | HostedState::Prepared);
    if d.data.len() as u64 % PAGE != 0 || !run.is_valid() || !open || !h.is_precopy() {
        drop(i);
        h.fail_because("bad pre-copy pages");
        return Err(EINVAL);
    }
    let kept = i.receiver.add_round(body, run);
    if let Err(e) = kept {
        drop(i);
        h.fail_because("cannot keep pre-copy pages");
        return Err(e);
    }
    i.since_ns = task::mono_ns();
    drop(i);
    // The restoring process writes them.
    h.bell.ring();
    Ok(())
}

/// `MigrateKeep` from `from`: the pre-copied pages clean at the freeze (in
/// address order, over one or more frames).
pub(crate) fn keep(migrations: &Migrations, from: u16, body: &[u8]) -> Result {
    let k = Keep::decode(body).map_err(|_| EINVAL)?;
    let h = migrations.find_hosted(|h| h.id == k.id && h.from_node == from).ok_or(ENOENT)?;
    let mut i = h.inner.lock();
    let open = matches!(i.state, HostedState::Receiving | HostedState::Prepared);
    if !open || i.receiver.add_keep(k.runs()).is_err() {
        drop(i);
        h.fail_because("bad keep list");
        return Err(EINVAL);
    }
    Ok(())
}

/// `MigrateCommit` from `from`: starts the restore; the reply body.
pub(crate) fn commit(migrations: &Migrations, from: u16, body: &[u8]) -> Result<KVec<u8>> {
    let c = Commit::decode(body).map_err(|_| EINVAL)?;
    let h = migrations.find_hosted(|h| h.id == c.id && h.from_node == from).ok_or(ENOENT)?;
    if h.state() == HostedState::Prepared {
        return commit_final(&h, c.size);
    }
    // The restart program waiting for the image goes on.
    h.image_complete(c.size, HostedState::Receiving, HostedState::Committed)?;
    if h.returning {
        return back_home(migrations, from, &h);
    }
    let started = h.inner.lock().started.ok_or(EINVAL)?;
    h.record(migrations, "restoring");
    let mut out = KVec::from_elem(0u8, RestartStarted::LEN, GFP_KERNEL)?;
    started.encode(&mut out).map_err(|_| EINVAL)?;
    Ok(out)
}

/// How long `MigrateGo` waits for the restoring process to take the final
/// image before it answers `EAGAIN` (the source asks again): it holds the
/// connection's handler thread, which must stay well under the time after
/// which a silent node is declared dead. Taking the state of a prepared
/// process takes milliseconds; rebuilding it again may take longer.
const FINAL_TAKEN_MS: u64 = 200;

/// `MigrateCommit` of a prepared migration's final image (`size` bytes),
/// sent one-way: the restoring process takes it; `MigrateGo`, right
/// behind it on the connection, waits for that.
fn commit_final(h: &Arc<Hosted>, size: u64) -> Result<KVec<u8>> {
    h.image_complete(size, HostedState::Prepared, HostedState::Final)?;
    Ok(KVec::new())
}

/// The process comes home: its deputy restores it (reply body of the
/// commit: the token to poll, the deputy's pid).
fn back_home(migrations: &Migrations, from: u16, h: &Arc<Hosted>) -> Result<KVec<u8>> {
    let d = migrations.deputy(h.home_id).ok_or(ESRCH)?;
    let started = migrations.restarts.open_for(from, d.pid).inspect_err(|_| h.fail())?;
    h.inner.lock().token = started.token;
    h.inner.lock().pid = d.pid;
    d.take_back(h.clone());
    h.record(migrations, "restoring");
    let mut out = KVec::from_elem(0u8, RestartStarted::LEN, GFP_KERNEL)?;
    started.encode(&mut out).map_err(|_| EINVAL)?;
    Ok(out)
}

/// `MigrateGo` from `from`: the process may run.
pub(crate) fn go(migrations: &Migrations, from: u16, body: &[u8]) -> Result {
    let r = Ref::decode(body).map_err(|_| EINVAL)?;
    let h = migrations.find_hosted(|h| h.id == r.id && h.from_node == from).ok_or(ENOENT)?;
    // A prepared migration: the restoring process is taking the final
    // state (its commit came just before).
    let deadline = task::mono_ns() + FINAL_TAKEN_MS * 1_000_000;
    loop {
        let seen = h.bell.seen();
        if h.state() != HostedState::Final {
            break;
        }
        if task::mono_ns() > deadline {
            return Err(EAGAIN);
        }
        let _ = h.bell.wait(seen, FINAL_TAKEN_MS as u32);
    }
    let mut i = h.inner.lock();
    if i.state != HostedState::Ready {
        return Err(ENOENT);
    }
    i.state = HostedState::Go;
    drop(i);
    h.bell.ring();
    Ok(())
}

/// `MigrateAbort` from `from`: the source gave up.
pub(crate) fn abort(migrations: &Migrations, from: u16, body: &[u8]) -> Result {
    let r = Ref::decode(body).map_err(|_| EINVAL)?;
    let h = migrations.find_hosted(|h| h.id == r.id && h.from_node == from).ok_or(ENOENT)?;
    h.fail();
    pr_info!("migration {:016x} from node {}: given up by the source\n", r.id, from);
    Ok(())
}

/// `MigrateSignal` from the home node: a signal for a process here.
pub(crate) fn signal(migrations: &Migrations, from: u16, body: &[u8]) -> Result {
    let s = Signal::decode(body).map_err(|_| EINVAL)?;
    let h = migrations
        .find_hosted(|h| h.home_id == s.home_id && h.home_node == from && h.state() == HostedState::Running)
        .ok_or(ESRCH)?;
    sys::kill_pid(h.pid(), s.signo)
}
