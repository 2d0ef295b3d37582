// SPDX-License-Identifier: GPL-2.0
/*
 * The scheduler's C glue (sched_helpers.h): facts only, no policy.
 */
#include <linux/cpumask.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include "sched_helpers.h"

void ssi_sched_load(struct ssi_sched_load *l)
{
	struct task_struct *p, *t;
	struct sysinfo si;
	u32 n = 0;

	/* The tasks in TASK_RUNNING (on a CPU or in a run queue) that are not
	 * kernel threads, as nr_running counts them but for user work only. */
	rcu_read_lock();
	for_each_process_thread(p, t) {
		if (!(t->flags & PF_KTHREAD) && task_is_running(t))
			n++;
	}
	rcu_read_unlock();
	l->runnable = n;
	l->cpus = num_online_cpus();
	si_meminfo(&si);
	l->total_kib = (u64)si.totalram * si.mem_unit / 1024;
	l->available_kib = (u64)si_mem_available() * PAGE_SIZE / 1024;
}

u32 ssi_sched_ancestors(u32 pid, u32 *out, u32 max)
{
	struct task_struct *p;
	u32 n = 0;

	rcu_read_lock();
	p = pid_task(find_pid_ns(pid, &init_pid_ns), PIDTYPE_PID);
	while (p && n < max) {
		p = rcu_dereference(p->real_parent);
		if (!p || (p->flags & PF_KTHREAD) || is_global_init(p))
			break;
		out[n++] = task_tgid_nr(p);
	}
	rcu_read_unlock();
	return n;
}
