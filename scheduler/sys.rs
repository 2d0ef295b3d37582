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
