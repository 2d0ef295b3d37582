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
    proto::procs::{ProcEntry, CMDLINE_LEN, ENTRY_MIGRATED, STATES},
};
use kernel::prelude::*;

/// Fills `out` with the user processes above pid `after`, in pid order, as
/// many as fit; returns how many, and whether more follow the last one.
pub(crate) fn take(migrations: &Migrations, after: u32, out: &mut [ProcEntry]) -> Result<(usize, bool)> {
    let roles = migrations.pid_roles()?;
    let now_real = crate::kernel_ext::real_time_ns();
    let now_boot = sys::boottime_ns();
    let mut cursor = after;
    let mut n = 0;
    let mut cmdline = [0u8; CMDLINE_LEN];
    while let Some(f) = sys::next_process(cursor, &mut cmdline) {
        if f.tgid <= cursor {
            break;
        }
        cursor = f.tgid;
        let Some(e) = entry(&f, &cmdline, &roles, now_real, now_boot) else { continue };
        let Some(slot) = out.get_mut(n) else { return Ok((n, true)) };
        *slot = e;
        n += 1;
    }
    Ok((n, false))
}

/// The entry of the process `f` describes, if it is listed here.
fn entry(f: &Facts, cmdline: &[u8], roles: &[(u32, PidRole)], now_real: u64, now_boot: u64) -> Option<ProcEntry> {
    if f.kthread != 0 || f.tgid == 0 {
        return None;
    }
    let (flags, home_node, home_pid) = match roles.iter().find(|(pid, _)| *pid == f.tgid).map(|&(_, r)| r) {
        None => (0, 0, 0),
        Some(PidRole::Deputy | PidRole::Hosted { running: false, .. }) => return None,
        Some(PidRole::Hosted { home_node, home_pid, running: true }) => {
            if home_node == 0 || home_pid == 0 {
                (0, 0, 0)
            } else {
                (ENTRY_MIGRATED, home_node, home_pid)
            }
        }
    };
    let mut e = ProcEntry {
        pid: f.tgid,
        // A parent that is no user process (kthreadd) is none.
        ppid: if f.parent_kthread != 0 { 0 } else { f.ppid },
        uid: f.uid,
        gid: f.gid,
        state: if STATES.contains(&f.state) { f.state } else { b'R' },
        flags,
        threads: u16::try_from(f.threads.max(1)).unwrap_or(u16::MAX),
        cpu_ns: f.cpu_ns,
        rss_bytes: f.rss_bytes,
        // Its start on the wall clock: now, less its age.
        start_ns: now_real.saturating_sub(now_boot.saturating_sub(f.start_boottime_ns)),
        home_node,
        home_pid,
        comm: f.comm,
        ..ProcEntry::EMPTY
    };
    let len = usize::try_from(f.cmdline_len).unwrap_or(usize::MAX).min(cmdline.len());
    e.set_cmdline(&cmdline[..len]);
    Some(e)
}

// The C glue copies names of the length the entries keep.
const _: () = assert!(crate::extra::SSI_PROC_COMM as usize == crate::proto::procs::COMM_LEN);
