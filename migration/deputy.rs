// SPDX-License-Identifier: GPL-2.0
//! The deputy: a migrated process's original task on its home node.
//!
//! Once the destination runs the process, the original task does not go
//! back to user mode: it stays in the module (in the capture's task work),
//! asleep, with its pid, parent, place in `ps` and open files; its memory
//! is unmapped. It wakes up for:
//! - a signal: taken off its queue and sent to the process
//!   (`MigrateSignal`); SIGKILL is sent too and ends the deputy at once;
//! - a read or write the process does on a file the deputy keeps
//!   (`MigrateIo`, see `forward.rs`), done on the real file here;
//! - the end of the process (`MigrateExit`): the deputy ends the same way,
//!   so its parent's `wait()` sees the real status: a signal death by that
//!   signal; an exit by returning to user mode at a `syscall` instruction
//!   of its vDSO with `exit_group(status)` in its registers (no code of
//!   the process runs again);
//! - the process moving on to another node (`MigrateMoved`);
//! - post-copy and lazy: page requests from the node the process went to
//!   (`lender.rs`): until that node releases them, the deputy keeps its
//!   memory and lends it.
//!
//! The node running the process renews the deputy's lease every few
//! seconds (`lease.rs`). If no renewal comes for [`lease::LOST_MS`] (that
//! node died or is cut off, or lost the process without a word), the
//! process is lost: the deputy logs it and ends killed (SIGKILL), which is
//! what its parent sees; that node kills its copy by the same rule.

use super::{lease, lender::Lender, remote::Hosted, sys, Direction, Migrations, Record};
use crate::{
    checkpoint::task::{self, File},
    cluster::Cluster,
    proto::{
        image::{REG_ORIG_RAX, REG_RAX, REG_RDI, REG_RIP},
        migration::{find_syscall, Exit, Io, IoDone, IoOp, Moved, Signal, WaitStatus, MAX_IO},
        wire::MsgType,
    },
};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use kernel::{new_mutex, prelude::*, sync::Arc, sync::Mutex};
/// Reads and writes waiting for the deputy, at most.
const MAX_QUEUED_IO: usize = 64;
/// `exit_group` and `exit` on x86-64.
const NR_EXIT_GROUP: u64 = 231;
const NR_EXIT: u64 = 60;
const SIGKILL: u32 = 9;

/// A read or write the process asked for.
struct IoRequest {
    from: u16,
    seq: u64,
    fd: u32,
    op: IoOp,
    len: u32,
    data: KVec<u8>,
}

struct Inbox {
    /// Where the process runs, and its pid there.
    node: u16,
    pid: u32,
    io: KVec<IoRequest>,
    exit: Option<u32>,
    /// The process comes back: its image, to restore here.
    back: Option<Arc<Hosted>>,
    /// A node the process was restarted away from (high availability):
    /// what it says of the process is not believed (0: none).
    fenced: u16,
}

/// A deputy, as the registry and the message handlers see it.
#[pin_data]
pub(crate) struct Deputy {
    pub(crate) home_id: u64,
    /// Its pid (the process's pid on its home node).
    pub(crate) pid: u32,
    #[pin]
    inbox: Mutex<Inbox>,
    /// Shared with its lender (post-copy, lazy).
    bell: Arc<sys::Doorbell>,
    /// When its lease was last renewed (mono ns).
    lease_ns: AtomicU64,
    /// High availability holds it: a lease that runs out does not end it
    /// (its process is to be restarted elsewhere, `ha/`).
    held: AtomicBool,
}

impl Deputy {
    /// The process comes back home with the image in `h`.
    pub(crate) fn take_back(&self, h: Arc<Hosted>) {
        self.inbox.lock().back = Some(h);
        self.bell.ring();
    }

    /// The node running the process renewed the lease (`lease.rs`).
    pub(crate) fn renew_lease(&self) {
        self.lease_ns.store(task::mono_ns(), Ordering::Relaxed);
    }

    /// Where the process runs: (node, pid there).
    pub(crate) fn location(&self) -> (u16, u32) {
        let i = self.inbox.lock();
        (i.node, i.pid)
    }

    /// How long since its lease was last renewed, ms.
    pub(crate) fn lease_silence_ms(&self) -> u64 {
        task::mono_ns().saturating_sub(self.lease_ns.load(Ordering::Relaxed)) / 1_000_000
    }

    /// High availability holds the deputy (`true`): a lease that runs out
    /// no longer ends it; released (`false`), it ends as without, once its
    /// lease ran out.
    pub(crate) fn hold(&self, on: bool) {
        if self.held.swap(on, Ordering::AcqRel) != on {
            self.bell.ring();
        }
    }

    /// The process was restarted on `node` as `pid` there (high
    /// availability, `resume.rs`): the deputy follows it there, and what
    /// the node it was lost on says of it is no longer believed.
    pub(crate) fn restarted_on(&self, node: u16, pid: u32) {
        let mut i = self.inbox.lock();
        if i.node != node {
            i.fenced = i.node;
        }
        i.node = node;
        i.pid = pid;
        drop(i);
        self.renew_lease();
        self.bell.ring();
    }

    /// Whether `from` is a node the process was restarted away from.
    pub(crate) fn is_fenced(&self, from: u16) -> bool {
        Self::fenced(&self.inbox.lock(), from)
    }

    fn fenced(i: &Inbox, from: u16) -> bool {
        i.fenced != 0 && from == i.fenced && from != i.node
    }
}

/// `MigrateExit` from `from`: the process ended there.
pub(crate) fn exit(migrations: &Migrations, from: u16, body: &[u8]) -> Result {
    let e = Exit::decode(body).map_err(|_| EINVAL)?;
    let d = migrations.deputy(e.home_id).ok_or(ESRCH)?;
    // From any node: the process may end on a node it moved to before
    // that node's `MigrateMoved` arrived.
    let mut i = d.inbox.lock();
    if Deputy::fenced(&i, from) {
        pr_info!("pid {}: an end reported by node {}, which it was restarted away from, is ignored\n", d.pid, from);
        return Err(EPERM);
    }
    pr_info!("pid {}: the migrated process ended on node {} (status {:#x})\n", d.pid, from, e.status);
    i.exit = Some(e.status);
    drop(i);
    d.bell.ring();
    Ok(())
}

/// `MigrateIo` from `from`: a read or write for the deputy to do.
pub(crate) fn io(migrations: &Migrations, from: u16, body: &[u8]) -> Result {
    let r = Io::decode(body).map_err(|_| EINVAL)?;
    let d = migrations.deputy(r.home_id).ok_or(ESRCH)?;
    let mut data = KVec::with_capacity(r.data.len(), GFP_KERNEL)?;
    data.extend_from_slice(r.data, GFP_KERNEL)?;
    // From any node (as for `exit`); the answer goes back to `from`.
    let mut i = d.inbox.lock();
    if Deputy::fenced(&i, from) {
        return Err(EPERM);
    }
    if i.io.len() >= MAX_QUEUED_IO {
        return Err(EBUSY);
    }
    i.io.push(IoRequest { from, seq: r.seq, fd: r.fd, op: r.op, len: r.len, data }, GFP_KERNEL)?;
    drop(i);
    d.bell.ring();
    Ok(())
}

/// `MigrateMoved` from `from`: the process moved on from `from`.
pub(crate) fn moved(migrations: &Migrations, from: u16, body: &[u8]) -> Result {
    let m = Moved::decode(body).map_err(|_| EINVAL)?;
    let d = migrations.deputy(m.home_id).ok_or(ESRCH)?;
    let mut i = d.inbox.lock();
    if i.node != from {
        return Err(EPERM);
    }
    i.node = m.node;
    i.pid = m.pid;
    drop(i);
    pr_info!("pid {}: now runs on node {} as pid {}\n", d.pid, m.node, m.pid);
    d.bell.ring();
    Ok(())
}

/// Makes the current task the deputy of the process now running on
/// `node` as `pid` there; returns when the deputy ends (its registers or
/// signals set so that it ends the way the process did).
///
/// `lender`: post-copy or lazy: the deputy keeps its memory and lends it
/// until released.
pub(crate) fn become_deputy(
    cluster: &Arc<Cluster>,
    migrations: &Arc<Migrations>,
    home_id: u64,
    node: u16,
    remote_pid: u32,
    lender: Option<Arc<Lender>>,
) {
    let me = task::current_pid();
    let mut lender = lender;
    let bell = match &lender {
        Some(l) => Ok(l.bell.clone()),
        None => Arc::pin_init(sys::Doorbell::new(), GFP_KERNEL),
    };
    let made = bell.and_then(|bell| {
        let d = Arc::pin_init(
            pin_init!(Deputy {
                home_id,
                pid: me,
                inbox <- new_mutex!(Inbox { node, pid: remote_pid, io: KVec::new(), exit: None, back: None, fenced: 0 }),
                bell,
                lease_ns: AtomicU64::new(task::mono_ns()),
                held: AtomicBool::new(false),
            }),
            GFP_KERNEL,
        )?;
        migrations.add_deputy(d.clone())?;
        Ok(d)
    });
    let d = match made {
        Ok(d) => d,
        Err(_) => {
            pr_err!("pid {}: no memory for its deputy: the process on node {} is not followed\n", me, node);
            if let Some(l) = lender.take() {
                l.close(cluster, migrations);
            }
            task::kill_current();
            return;
        }
    };
    let _module = sys::ModuleRef::take();
    if lender.is_none() {
        release_memory();
    }
    // Every signal wakes the deputy; the process's own mask applies there.
    task::set_blocked(0);
    let end = serve(cluster, migrations, &d, &mut lender);
    if let Some(l) = lender {
        l.close(cluster, migrations);
    }
    migrations.remove_deputy(home_id);
    migrations.record(Record {
        id: home_id,
        direction: Direction::Out,
        pid: me,
        peer: d.location().0,
        strategy: 0,
        state: "deputy-end",
        bytes: 0,
        rounds: 0,
        frozen_ns: 0,
        total_ns: 0,
    });
    finish(me, end);
}

/// The deputy's memory: everything but the vDSO and vvar goes.
fn release_memory() {
    let mut addr = 0u64;
    let mut ranges: KVec<(u64, u64)> = KVec::new();
    while let Some(v) = task::vma_find(addr) {
        addr = v.end;
        if v.class.special.is_none() && ranges.push((v.start, v.end), GFP_KERNEL).is_err() {
            return;
        }
    }
    for (a, b) in ranges.iter() {
        let _ = task::unmap(*a, *b);
    }
}

/// How the deputy ends.
enum End {
    /// The process ended with this wait status.
    As(u32),
    /// The deputy was killed (SIGKILL, forwarded).
    Killed,
    /// The process came back: the deputy is the process again.
    Restored,
}

/// The deputy's loop. `lender`: the memory it lends (post-copy, lazy)
/// until released.
fn serve(cluster: &Arc<Cluster>, migrations: &Migrations, d: &Deputy, lender: &mut Option<Arc<Lender>>) -> End {
    let mut woken_by_signal = false;
    loop {
        let seen = d.bell.seen();
        if let Some(l) = lender.as_ref() {
            l.serve(cluster);
            if l.released() {
                pr_info!("pid {}: node {} needs no more of its pages: memory released\n", d.pid, l.node);
                l.close(cluster, migrations);
                *lender = None;
                release_memory();
            }
        }
        let (node, pid) = d.location();
        if crate::kernel_ext::fatal_signal_pending() {
            forward_signal(cluster, d, node, SIGKILL);
            pr_info!("pid {}: killed; SIGKILL sent to pid {} on node {}\n", d.pid, pid, node);
            return End::Killed;
        }
        let mut forwarded = false;
        while let Some(sig) = sys::dequeue_signal() {
            forward_signal(cluster, d, node, sig);
            forwarded = true;
        }
        loop {
            let req = {
                let mut i = d.inbox.lock();
                if i.io.is_empty() {
                    None
                } else {
                    crate::kernel_ext::swap_remove(&mut i.io, 0)
                }
            };
            let Some(req) = req else { break };
            do_io(cluster, d, &req);
            // A signal that interrupted the read or write goes first.
            while let Some(sig) = sys::dequeue_signal() {
                forward_signal(cluster, d, node, sig);
            }
        }
        if let Some(status) = d.inbox.lock().exit {
            return End::As(status);
        }
        let back = d.inbox.lock().back.take();
        if let Some(h) = back {
            if restore_here(migrations, d, &h) {
                return End::Restored;
            }
        }
        let silent_ns = task::mono_ns().saturating_sub(d.lease_ns.load(Ordering::Relaxed));
        if silent_ns >= lease::LOST_MS * 1_000_000 && !d.held.load(Ordering::Acquire) {
            pr_warn!(
                "pid {}: no lease renewal from node {} for {} s: the process (pid {} there) is lost, the deputy ends killed\n",
                d.pid,
                node,
                lease::LOST_MS / 1000,
                pid
            );
            return End::As(SIGKILL);
        }
        // Something pending that is not a signal to forward (a task work
        // queued on the deputy cannot run while it is in one): sleep
        // killable, or the interruptible sleep would return at once.
        woken_by_signal = if woken_by_signal && !forwarded {
            d.bell.wait_killable(seen, 500) == sys::Woken::Signal
        } else {
            d.bell.wait(seen, 500) == sys::Woken::Signal
        };
    }
}

/// Restores the process that came back (image in `h`) into the deputy
/// itself: it keeps its own pipes and terminals on fds 0-2. Whether it is
/// the process again; if not, it stays the deputy (the process goes on
/// where it was) or, after the point of no return, was killed.
fn restore_here(migrations: &Migrations, d: &Deputy, h: &Arc<Hosted>) -> bool {
    let token = h.token();
    let mut reply = crate::proto::ctl::CtlReply::EMPTY;
    let Some(image) = h.take_image() else { return false };
    let preload = |step| h.preload(step);
    let pages = h.take_pages();
    let restored = crate::checkpoint::restore::restore(
        &image,
        &mut reply,
        &migrations.restore_groups,
        None,
        Some(&preload),
        pages,
        crate::checkpoint::restore::Incoming::Whole,
        || {
            migrations.restarts.running(token);
            h.await_go()
        },
    );
    match restored {
        Ok(_) => {
            h.record(migrations, "home");
            migrations.remove_hosted(h.id);
            pr_info!("pid {}: back home from node {}, runs here again\n", d.pid, h.from_node);
            true
        }
        Err(e) => {
            let _ = migrations.restarts.failed(token, e.to_errno().unsigned_abs(), reply.message());
            h.fail();
            pr_info!("pid {}: could not come back home ({}): still runs on node {}\n", d.pid, reply.message(), h.from_node);
            false
        }
    }
}

fn forward_signal(cluster: &Cluster, d: &Deputy, node: u16, sig: u32) {
    let mut buf = [0u8; Signal::LEN];
    if (Signal { home_id: d.home_id, signo: sig }).encode(&mut buf).is_ok() {
        let _ = cluster.send_reliable(node, MsgType::MigrateSignal, &buf);
    }
}

/// Does a read or write on the real file and answers it.
fn do_io(cluster: &Cluster, d: &Deputy, req: &IoRequest) {
    let mut buf = KVec::new();
    let result: i64 = match File::from_fd(req.fd) {
        None => EBADF.to_errno().into(),
        Some(f) => {
            let info = f.info();
            match req.op {
                IoOp::Read if info.readable == 0 => EBADF.to_errno().into(),
                IoOp::Write if info.writable == 0 => EBADF.to_errno().into(),
                IoOp::Read => match KVec::from_elem(0u8, (req.len as usize).min(MAX_IO), GFP_KERNEL) {
                    Err(_) => ENOMEM.to_errno().into(),
                    Ok(mut b) => match f.read_once(&mut b) {
                        Ok(n) => match buf.extend_from_slice(&b[..n], GFP_KERNEL) {
                            Ok(()) => n as i64,
                            Err(_) => ENOMEM.to_errno().into(),
                        },
                        Err(e) => e.into(),
                    },
                },
                IoOp::Write => match f.write_once(&req.data) {
                    Ok(n) => n as i64,
                    Err(e) => e.into(),
                },
            }
        }
    };
    let done = IoDone { home_id: d.home_id, seq: req.seq, result, data: if result > 0 { &buf } else { &[] } };
    if let Ok(mut out) = KVec::from_elem(0u8, IoDone::HEADER_LEN + buf.len(), GFP_KERNEL) {
        if let Ok(n) = done.encode(&mut out) {
            let _ = cluster.send_reliable(req.from, MsgType::MigrateIoDone, &out[..n]);
        }
    }
}

/// Sets the current task up to end as the process did.
fn finish(me: u32, end: End) {
    let status = match end {
        End::Killed | End::Restored => return,
        End::As(s) => s,
    };
    match WaitStatus::from_raw(status) {
        Some(WaitStatus::Signaled { sig, .. }) => {
            pr_info!("pid {}: the migrated process was killed by signal {}\n", me, sig);
            sys::die_by_signal(u32::from(sig));
        }
        Some(WaitStatus::Exited(code)) => {
            if let Err(e) = exit_through_vdso(NR_EXIT_GROUP, code) {
                pr_warn!("pid {}: cannot exit with status {} (error {}): ends killed\n", me, code, e.to_errno());
                task::kill_current();
            }
        }
        None => task::kill_current(),
    }
}

/// Another thread of a process that was handed over: it ends (`exit`),
/// the deputy stays.
pub(crate) fn retire_thread() {
    if exit_through_vdso(NR_EXIT, 0).is_err() {
        task::kill_current();
    }
}

/// Returns to user mode at a `syscall` instruction of the vDSO with system
/// call `nr` (`exit_group` or `exit`) of `code` in the registers, every
/// signal blocked.
fn exit_through_vdso(nr: u64, code: u8) -> Result {
    let mut addr = 0u64;
    let vdso = loop {
        let v = task::vma_find(addr).ok_or(ENOENT)?;
        addr = v.end;
        if v.class.special == Some(task::Special::Vdso) {
            break v;
        }
    };
    let len = ((vdso.end - vdso.start) as usize).min(32 << 10);
    let mut text = KVec::from_elem(0u8, len, GFP_KERNEL)?;
    task::read_user(vdso.start, &mut text)?;
    let at = find_syscall(&text).ok_or(ENOENT)?;
    let mut regs = task::user_regs();
    regs[REG_RIP] = vdso.start + at as u64;
    regs[REG_RAX] = nr;
    regs[REG_RDI] = u64::from(code);
    // Not in a system call: nothing to restart on the way out.
    regs[REG_ORIG_RAX] = u64::MAX;
    task::set_user_regs(&regs)?;
    task::set_blocked(u64::MAX);
    Ok(())
}
