// SPDX-License-Identifier: GPL-2.0
/*
 * C glue for the process space; see procs_helpers.h.
 */
#include <linux/cred.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/uidgid.h>
#include <linux/user_namespace.h>
#include "procs_helpers.h"

/* The leader with the lowest tgid above `after`, counted; NULL if none. */
static struct task_struct *next_leader(u32 after)
{
	struct task_struct *task = NULL;
	struct pid *pid;
	int nr;

	if (after >= PID_MAX_LIMIT)
		return NULL;
	nr = after + 1;
	rcu_read_lock();
	while ((pid = find_ge_pid(nr, &init_pid_ns))) {
		/* Only a thread group's own pid has a TGID task. */
		task = get_pid_task(pid, PIDTYPE_TGID);
		if (task)
			break;
		nr = pid_nr(pid) + 1;
	}
	rcu_read_unlock();
	return task;
}

int ssi_procs_next(u32 after, struct ssi_proc_facts *f, u8 *cmdline, u32 len)
{
	struct task_struct *task = next_leader(after);
	struct task_struct *parent, *t;
	const struct cred *cred;
	struct mm_struct *mm;
	u64 cpu;

	if (!task)
		return 0;
	memset(f, 0, sizeof(*f));
	f->tgid = task_tgid_nr(task);
	f->state = task_index_to_char(task_state_index(task));
	f->kthread = !!(task->flags & PF_KTHREAD);
	f->start_boottime_ns = task->start_boottime;
	__get_task_comm((char *)f->comm, sizeof(f->comm), task);

	rcu_read_lock();
	if (pid_alive(task)) {
		parent = rcu_dereference(task->real_parent);
		f->ppid = task_tgid_nr(parent);
		f->parent_kthread = !!(parent->flags & PF_KTHREAD);
	}
	cred = __task_cred(task);
	f->uid = from_kuid_munged(&init_user_ns, cred->uid);
	f->gid = from_kgid_munged(&init_user_ns, cred->gid);
	f->threads = get_nr_threads(task);
	/* As thread_group_cputime (not exported) sums the scheduler's
	 * runtime: the dead threads' total, then each live thread's; the
	 * signal struct lives as long as our reference to the task. */
	cpu = READ_ONCE(task->signal->sum_sched_runtime);
	__for_each_thread(task->signal, t)
		cpu += READ_ONCE(t->se.sum_exec_runtime);
	f->cpu_ns = cpu;
	rcu_read_unlock();

	mm = get_task_mm(task);
	if (mm) {
		unsigned long start, end;
		int got;

		f->rss_bytes = (u64)get_mm_rss(mm) << PAGE_SHIFT;
		/* As get_mm_cmdline: the arguments as the process left them. */
		spin_lock(&mm->arg_lock);
		start = mm->arg_start;
		end = mm->arg_end;
		spin_unlock(&mm->arg_lock);
		if (end > start && len) {
			got = access_process_vm(task, start, cmdline, min_t(unsigned long, end - start, len),
						FOLL_FORCE);
			if (got > 0)
				f->cmdline_len = got;
		}
		mmput(mm);
	}
	put_task_struct(task);
	return 1;
}

u64 ssi_boottime_ns(void)
{
	return ktime_get_boottime_ns();
}

static void fill_signal_target(struct task_struct *p, struct ssi_signal_target *t)
{
	const struct cred *c = __task_cred(p);

	t->tgid = task_tgid_nr(p);
	t->uid = from_kuid_munged(&init_user_ns, c->uid);
	t->suid = from_kuid_munged(&init_user_ns, c->suid);
	t->pad = 0;
}

int ssi_signal_target(u32 pid, struct ssi_signal_target *t)
{
	struct task_struct *p;
	int r = -ESRCH;

	if (pid > PID_MAX_LIMIT)
		return -ESRCH;
	rcu_read_lock();
	p = pid_task(find_pid_ns(pid, &init_pid_ns), PIDTYPE_PID);
	if (p) {
		fill_signal_target(p, t);
		r = 0;
	}
	rcu_read_unlock();
	return r;
}

u32 ssi_signal_group(u32 pgid, struct ssi_signal_target *t, u32 max)
{
	struct task_struct *p;
	struct pid *grp;
	u32 n = 0;

	if (pgid > PID_MAX_LIMIT)
		return 0;
	rcu_read_lock();
	grp = find_pid_ns(pgid, &init_pid_ns);
	/* As __kill_pgrp_info: every task whose process group it is. */
	do_each_pid_task(grp, PIDTYPE_PGID, p) {
		if (n < max)
			fill_signal_target(p, &t[n]);
		n++;
	} while_each_pid_task(grp, PIDTYPE_PGID, p);
	rcu_read_unlock();
	return n;
}

int ssi_signal_send(u32 pid, int sig, u32 sender_pid, u32 sender_uid)
{
	struct kernel_siginfo info;
	struct task_struct *p;
	int r;

	if (pid > PID_MAX_LIMIT)
		return -ESRCH;
	clear_siginfo(&info);
	info.si_signo = sig;
	info.si_errno = 0;
	info.si_code = SI_USER;
	info.si_pid = sender_pid;
	info.si_uid = sender_uid;
	rcu_read_lock();
	p = pid_task(find_pid_ns(pid, &init_pid_ns), PIDTYPE_PID);
	r = p ? send_sig_info(sig, &info, p) : -ESRCH;
	rcu_read_unlock();
	return r;
}
