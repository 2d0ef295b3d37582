/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C glue for the scheduler (scheduler/): the raw facts of this node's load
 * the probes sample. What they mean is decided in Rust (proto/src/sched).
 */
#ifndef SSI_SCHED_HELPERS_H
#define SSI_SCHED_HELPERS_H

#include <linux/types.h>

struct ssi_sched_load {
	/* User threads running or waiting for a CPU now. */
	u32 runnable;
	/* Online CPUs. */
	u32 cpus;
	/* MemAvailable and MemTotal, in KiB. */
	u64 available_kib;
	u64 total_kib;
};

/* Samples this node's load into `l`. */
void ssi_sched_load(struct ssi_sched_load *l);
/*
 * The thread-group ids of the ancestors of the process with pid `pid` on
 * this node (its real parent first, up to but not including init and
 * kernel threads), at most `max` of them into `out`; returns how many
 * (0: no such process, or its parent is init or a kernel thread).
 */
u32 ssi_sched_ancestors(u32 pid, u32 *out, u32 max);

#endif
