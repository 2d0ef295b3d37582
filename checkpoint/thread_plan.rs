// SPDX-License-Identifier: GPL-2.0
//! One thread's own state at restore: read from its Thread section in
//! pass one ([`thread_plan`]), applied by that thread to itself at the end
//! ([`apply_thread`]): private pending signals, altstack, thread ids, FPU
//! state, registers and signal mask.

use super::task;
use crate::proto::image::{self, REG_ORIG_RAX, REG_RAX, REG_RIP};
use kernel::prelude::*;

/// The kernel's internal "restart the system call" results.
const ERESTARTSYS: i64 = 512;
const ERESTARTNOINTR: i64 = 513;
const ERESTARTNOHAND: i64 = 514;
const ERESTART_RESTARTBLOCK: i64 = 516;

/// One thread's own state, applied by that thread.
pub(crate) struct ThreadPlan {
    pub(super) regs: [u64; image::NR_REGS],
    pub(super) xstate: KVec<u8>,
    pub(super) sigmask: u64,
    pub(super) altstack: (u64, u64, u32),
    pub(super) clear_child_tid: u64,
    pub(super) robust: (u64, u64),
    pub(super) rseq: (u64, u32, u32),
    /// Its private pending signals, encoded.
    pub(super) pending: KVec<u8>,
}

/// A thread's own state, from its section.
pub(super) fn thread_plan(t: &image::ThreadBody<'_>) -> Result<ThreadPlan> {
    let mut th = ThreadPlan {
        regs: t.regs,
        xstate: KVec::new(),
        sigmask: t.sigmask,
        altstack: (t.altstack.sp, t.altstack.size, t.altstack.flags),
        clear_child_tid: t.clear_child_tid,
        robust: (t.robust_list_head, t.robust_list_len),
        rseq: (t.rseq.addr, t.rseq.len, t.rseq.sig),
        pending: KVec::new(),
    };
    th.xstate.extend_from_slice(t.xstate, GFP_KERNEL)?;
    for si in t.pending.iter() {
        th.pending.extend_from_slice(&si.0, GFP_KERNEL)?;
    }
    Ok(th)
}

/// Applies a thread's own state to the calling thread: private pending
/// signals, altstack, thread ids, FPU state, registers and signal mask.
/// Nothing may be written to its user memory afterwards.
pub(crate) fn apply_thread(t: &ThreadPlan) -> Result<i64> {
    for si in t.pending.chunks_exact(image::SIGINFO_LEN) {
        task::queue_signal(si)?;
    }
    task::set_altstack(t.altstack);
    task::set_thread_ids(t.clear_child_tid, t.robust, t.rseq);
    task::set_xstate(&t.xstate)?;
    let mut regs = t.regs;
    let ax = regs[REG_RAX] as i64;
    if (regs[REG_ORIG_RAX] as i64) >= 0
        && [-ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK].contains(&ax)
    {
        // Interrupted in a system call: issue it again, as the kernel does
        // after a signal whose handler allows it.
        regs[REG_RAX] = regs[REG_ORIG_RAX];
        regs[REG_RIP] = regs[REG_RIP].wrapping_sub(2);
    }
    task::set_user_regs(&regs)?;
    task::set_ax_on_return(regs[REG_RAX])?;
    task::set_blocked(t.sigmask);
    Ok(0)
}
