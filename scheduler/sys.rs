// SPDX-License-Identifier: GPL-2.0
//! The scheduler's kernel calls (C glue `scheduler/sched_helpers.c`).

use crate::extra as raw;

/// This node's load now (`struct ssi_sched_load`).
pub(crate) type NodeSample = raw::ssi_sched_load;

/// Samples this node's load: runnable user threads, CPUs, memory.
pub(crate) fn sample() -> NodeSample {
    let mut l = NodeSample::default();
    // SAFETY: `l` is writable.
    unsafe { raw::ssi_sched_load(&mut l) };
    l
}

/// Most ancestors [`ancestors`] reports.
pub(crate) const MAX_ANCESTORS: usize = 32;

/// The tgids of the ancestors of process `pid` on this node, its real
/// parent first, up to init or a kernel thread (at most
/// [`MAX_ANCESTORS`]).
pub(crate) fn ancestors(pid: u32, out: &mut [u32; MAX_ANCESTORS]) -> &[u32] {
    // SAFETY: `out` is writable for `MAX_ANCESTORS` values.
    let n = unsafe { raw::ssi_sched_ancestors(pid, out.as_mut_ptr(), MAX_ANCESTORS as u32) };
    &out[..(n as usize).min(MAX_ANCESTORS)]
}
