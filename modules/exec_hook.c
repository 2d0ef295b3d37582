// SPDX-License-Identifier: GPL-2.0
/*
 * The exec hook: glue between the sched_process_exec tracepoint and the
 * scheduler's placer (exec_hook.h). See docs/design.md, "Kernel internals
 * relied on". The tracepoint is found by name (for_each_kernel_tracepoint:
 * its symbol is not exported); its probes run with preemption disabled,
 * so the probe only queues the tgid under a spinlock and wakes the placer.
 */
#include <linux/kthread.h>
#include <linux/pid_namespace.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/wait.h>
#include "exec_hook.h"

struct linux_binprm;

/* Execs queued at most (a burst beyond is dropped and counted). */
#define SSI_EXEC_QUEUE 64

static struct tracepoint *ssi_exec_tp;
static DEFINE_SPINLOCK(ssi_exec_lock);
static u32 ssi_exec_queue[SSI_EXEC_QUEUE];
static u32 ssi_exec_head, ssi_exec_len;
static u64 ssi_exec_dropped;
static DECLARE_WAIT_QUEUE_HEAD(ssi_exec_wq);

static void ssi_exec_probe(void *data, struct task_struct *p, pid_t old_pid,
			   struct linux_binprm *bprm)
{
	unsigned long flags;

	if ((p->flags & PF_KTHREAD) || task_active_pid_ns(p) != &init_pid_ns)
		return;
	spin_lock_irqsave(&ssi_exec_lock, flags);
	if (ssi_exec_len < SSI_EXEC_QUEUE) {
		ssi_exec_queue[(ssi_exec_head + ssi_exec_len) % SSI_EXEC_QUEUE] = task_tgid_nr(p);
		ssi_exec_len++;
	} else {
		ssi_exec_dropped++;
	}
	spin_unlock_irqrestore(&ssi_exec_lock, flags);
	wake_up(&ssi_exec_wq);
}

static void ssi_exec_find(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_process_exec"))
		*(struct tracepoint **)priv = tp;
}

int ssi_exec_hook_arm(void)
{
	struct tracepoint *tp = NULL;
	int r;

	if (ssi_exec_tp)
		return -EBUSY;
	for_each_kernel_tracepoint(ssi_exec_find, &tp);
	if (!tp)
		return -ENOENT;
	r = tracepoint_probe_register(tp, (void *)ssi_exec_probe, NULL);
	if (r)
		return r;
	ssi_exec_tp = tp;
	return 0;
}

void ssi_exec_hook_disarm(void)
{
	unsigned long flags;

	if (!ssi_exec_tp)
		return;
	tracepoint_probe_unregister(ssi_exec_tp, (void *)ssi_exec_probe, NULL);
	/* No probe runs after this (it waits for an RCU-sched grace period). */
	tracepoint_synchronize_unregister();
	ssi_exec_tp = NULL;
	spin_lock_irqsave(&ssi_exec_lock, flags);
	ssi_exec_len = 0;
	spin_unlock_irqrestore(&ssi_exec_lock, flags);
}

static bool ssi_exec_queued(void)
{
	return READ_ONCE(ssi_exec_len) != 0;
}

void ssi_exec_hook_wait(u32 ms)
{
	wait_event_interruptible_timeout(ssi_exec_wq, ssi_exec_queued() || kthread_should_stop(),
					 msecs_to_jiffies(ms));
}

int ssi_exec_hook_next(u32 *tgid)
{
	unsigned long flags;
	int got = 0;

	spin_lock_irqsave(&ssi_exec_lock, flags);
	if (ssi_exec_len) {
		*tgid = ssi_exec_queue[ssi_exec_head];
		ssi_exec_head = (ssi_exec_head + 1) % SSI_EXEC_QUEUE;
		ssi_exec_len--;
		got = 1;
	}
	spin_unlock_irqrestore(&ssi_exec_lock, flags);
	return got;
}

u64 ssi_exec_hook_dropped(void)
{
	return READ_ONCE(ssi_exec_dropped);
}
