// SPDX-License-Identifier: GPL-2.0
//! The local snapshot: the user processes this node runs, in pid order,
//! as [`ProcEntry`] records. The C glue reads the raw facts of every
//! thread-group leader (`sys.rs`); here is what is listed:
//!
//! - no kernel thread;
//! - no deputy: its process runs on another node and is listed there;
//! - a process that migrated here, once it runs, with its home node and
//!   its pid there (`ENTRY_MIGRATED`); not the restart program still
//!   waiting for its image or restoring it, nor a copy that moved on to
//!   another node (which lends its memory to the next node until it
//!   ends). An old copy lending its memory is either a deputy (at home)
//!   or such a copy, so lenders need no rule of their own.

use super::sys::{self, Facts};
use crate::{
    migration::{Migrations, PidRole},
    proto::migration::Family,
    proto::procs::{ProcEntry, CMDLINE_LEN, ENTRY_MIGRATED, MAX_POLICY, STATES, UMASK_NONE},
};
use kernel::prelude::*;

/// Fills `out` with the user processes above pid `after`, in pid order, as
/// many as fit; returns how many, and whether more follow the last one.
/// Each command line is read straight into its slot (entries are large:
/// none is built on the stack).
pub(crate) fn take(migrations: &Migrations, after: u32, out: &mut [ProcEntry]) -> Result<(usize, bool)> {
    let roles = migrations.pid_roles()?;
    let now_real = crate::kernel_ext::real_time_ns();
    let now_boot = sys::boottime_ns();
    let mut cursor = after;
    let mut n = 0;
    loop {
        // Past the last slot only whether one more is listed matters.
        let cmdline: &mut [u8] = match out.get_mut(n) {
            Some(slot) => &mut slot.cmdline,
            None => &mut [],
        };
        let Some(f) = sys::next_process(cursor, cmdline) else { break };
        if f.tgid <= cursor {
            break;
        }
        cursor = f.tgid;
        let Some(home) = listed(&f, &roles) else { continue };
        let Some(slot) = out.get_mut(n) else { return Ok((n, true)) };
        fill(slot, &f, home, now_real, now_boot);
        n += 1;
    }
    Ok((n, false))
}

/// The listed process `pid` of this node into `out` (whose command line
/// is read straight into it); `false` if it is not listed (none, a kernel
/// thread, a deputy, a copy not running).
pub(crate) fn entry_of(migrations: &Migrations, pid: u32, out: &mut ProcEntry) -> bool {
    let Some(after) = pid.checked_sub(1) else { return false };
    let Some(f) = sys::next_process(after, &mut out.cmdline) else { return false };
    if f.tgid != pid {
        return false;
    }
    let Some(origin) = origin(&f, migrations.role_of(pid)) else { return false };
    fill(out, &f, origin, crate::kernel_ext::real_time_ns(), sys::boottime_ns());
    true
}

/// Where a listed process comes from: its flags, and for one that
/// migrated here its home node, pid and family there.
#[derive(Clone, Copy, Default)]
struct Origin {
    flags: u8,
    home_node: u16,
    home_pid: u32,
    family: Option<Family>,
}

/// Whether the process `f` describes is listed here, and if so where it
/// comes from.
fn listed(f: &Facts, roles: &[(u32, PidRole)]) -> Option<Origin> {
    origin(f, roles.iter().find(|(pid, _)| *pid == f.tgid).map(|&(_, r)| r))
}

/// Whether the process `f` describes, whose part in a migration is `role`,
/// is listed here, and if so where it comes from.
fn origin(f: &Facts, role: Option<PidRole>) -> Option<Origin> {
    if f.kthread != 0 || f.tgid == 0 {
        return None;
    }
    match role {
        None => Some(Origin::default()),
        Some(PidRole::Deputy | PidRole::Hosted { running: false, .. }) => None,
        Some(PidRole::Hosted { home_node, home_pid, family, running: true }) => {
            if home_node == 0 || home_pid == 0 {
                Some(Origin::default())
            } else {
                Some(Origin { flags: ENTRY_MIGRATED, home_node, home_pid, family: Some(family) })
            }
        }
    }
}

/// Fills `e` (whose `cmdline` already holds the first `f.cmdline_len`
/// bytes) from `f`, every value within what an entry may hold.
fn fill(e: &mut ProcEntry, f: &Facts, origin: Origin, now_real: u64, now_boot: u64) {
    let Origin { flags, home_node, home_pid, family } = origin;
    e.pid = f.tgid;
    // A parent that is no user process (kthreadd) is none.
    e.ppid = if f.parent_kthread != 0 { 0 } else { f.ppid };
    (e.uid, e.euid, e.suid, e.fsuid) = (f.uid, f.euid, f.suid, f.fsuid);
    (e.gid, e.egid, e.sgid, e.fsgid) = (f.gid, f.egid, f.sgid, f.fsgid);
    (e.pgrp, e.session, e.tty_nr, e.tpgid) = (f.pgrp, f.session, f.tty_nr, f.tpgid);
    e.task_flags = f.task_flags;
    e.processor = f.processor;
    e.state = if STATES.contains(&f.state) { f.state } else { b'R' };
    e.flags = flags;
    e.threads = u16::try_from(f.threads.max(1)).unwrap_or(u16::MAX);
    e.priority = f.priority.clamp(-101, 39);
    e.nice = f.nice.clamp(-20, 19);
    e.rt_priority = f.rt_priority.min(99);
    e.policy = if f.policy <= MAX_POLICY { f.policy } else { 0 };
    e.exit_signal = f.exit_signal.clamp(-1, 64);
    e.umask = u16::try_from(f.umask).ok().filter(|&m| m <= 0o777).unwrap_or(UMASK_NONE);
    e.home_node = home_node;
    e.home_pid = home_pid;
    // A migrated process's parent here is kthreadd: its home's family is
    // the one every node lists.
    if let Some(home) = family {
        (e.ppid, e.pgrp, e.session) = (home.ppid, home.pgrp, home.session);
    }
    e.set_cpu_time(f.cpu_ns, f.raw_utime_ns, f.raw_stime_ns);
    // Its start on the wall clock: now, less its age.
    e.start_ns = now_real.saturating_sub(now_boot.saturating_sub(f.start_boottime_ns));
    (e.minflt, e.majflt) = (f.minflt, f.majflt);
    e.set_rss(f.rss_anon, f.rss_file, f.rss_shmem);
    e.vsize = f.vsize;
    e.hiwater_vm = f.hiwater_vm.max(f.vsize);
    e.hiwater_rss = f.hiwater_rss.max(e.rss_bytes);
    (e.text, e.lib, e.data, e.stack) = (f.text, f.lib, f.data, f.stack);
    (e.locked, e.pinned, e.swap, e.pte) = (f.locked, f.pinned, f.swap, f.pte);
    e.rsslim = f.rsslim;
    e.comm = f.comm;
    let len = usize::try_from(f.cmdline_len).unwrap_or(usize::MAX).min(CMDLINE_LEN);
    e.cmdline[len..].fill(0);
    e.cmdline_len = len as u16;
}

// The C glue copies names of the length the entries keep.
const _: () = assert!(crate::extra::SSI_PROC_COMM as usize == crate::proto::procs::COMM_LEN);
