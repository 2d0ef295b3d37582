/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The exec hook (issue 21, exec-time placement): a probe on the
 * sched_process_exec tracepoint queues the tgid of every user process of
 * the initial pid namespace that has just exec'd; the scheduler's placer
 * thread takes them off the queue and decides where each runs. Glue only
 * (modules/exec_hook.rs).
 */
#ifndef SSI_EXEC_HOOK_H
#define SSI_EXEC_HOOK_H

#include <linux/types.h>

/* Registers the probe. -ENOENT without the tracepoint, -EBUSY if armed. */
int ssi_exec_hook_arm(void);
/* Unregisters it and waits until no probe runs; empties the queue. */
void ssi_exec_hook_disarm(void);
/* Waits at most `ms` for a queued exec, or until the calling kernel
 * thread is asked to stop. */
void ssi_exec_hook_wait(u32 ms);
/* The oldest queued tgid into *tgid: 1, or 0 if none is queued. */
int ssi_exec_hook_next(u32 *tgid);
/* Execs dropped because the queue was full. */
u64 ssi_exec_hook_dropped(void);

#endif
