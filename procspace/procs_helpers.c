// SPDX-License-Identifier: GPL-2.0
/*
 * C glue for the process space; see procs_helpers.h.
 */
#include <linux/cred.h>
#include <linux/fs_struct.h>
#include <linux/kdev_t.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/cputime.h>
#include <linux/sched/mm.h>
#include <linux/sched/prio.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/string.h>
#include <linux/seqlock.h>
#include <linux/timekeeping.h>
#include <linux/tty.h>
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

/* Under the signal lock, as do_task_stat (lock_task_sighand, whose
 * __lock_task_sighand is not exported, open-coded: the sighand may go
 * while we wait for its lock): terminal, process group, session, rsslim. */
static void read_sighand(struct task_struct *task, struct ssi_proc_facts *f)
{
	struct signal_struct *sig = task->signal;
	struct sighand_struct *sighand;
	unsigned long flags;

	rcu_read_lock();
	sighand = rcu_dereference(task->sighand);
	if (sighand) {
		spin_lock_irqsave(&sighand->siglock, flags);
		if (sighand == rcu_access_pointer(task->sighand)) {
			if (sig->tty) {
				struct pid *pgrp = tty_get_pgrp(sig->tty);

				f->tpgid = pid_nr_ns(pgrp, &init_pid_ns);
				put_pid(pgrp);
				f->tty_nr = new_encode_dev(tty_devnum(sig->tty));
			}
			f->rsslim = READ_ONCE(sig->rlim[RLIMIT_RSS].rlim_cur);
			f->session = task_session_nr_ns(task, &init_pid_ns);
			f->pgrp = task_pgrp_nr_ns(task, &init_pid_ns);
		}
		spin_unlock_irqrestore(&sighand->siglock, flags);
	}
	rcu_read_unlock();
}

/* The whole group's faults and times under the signal's stats lock, as
 * do_task_stat and thread_group_cputime (not exported) read them: the
 * dead threads' totals, then each live thread's. The signal struct lives
 * as long as our reference to the task. */
static void read_times(struct task_struct *task, struct ssi_proc_facts *f)
{
	struct signal_struct *sig = task->signal;
	struct task_struct *t;
	u64 ut, st;

	scoped_seqlock_read (&sig->stats_lock, ss_lock_irqsave) {
		f->minflt = sig->min_flt;
		f->majflt = sig->maj_flt;
		f->raw_utime_ns = sig->utime;
		f->raw_stime_ns = sig->stime;
		f->cpu_ns = sig->sum_sched_runtime;
		f->run_delay_ns = 0;
		rcu_read_lock();
		__for_each_thread(sig, t) {
			f->minflt += t->min_flt;
			f->majflt += t->maj_flt;
			task_cputime(t, &ut, &st);
			f->raw_utime_ns += ut;
			f->raw_stime_ns += st;
			f->cpu_ns += READ_ONCE(t->se.sum_exec_runtime);
#ifdef CONFIG_SCHED_INFO
			f->run_delay_ns += READ_ONCE(t->sched_info.run_delay);
#endif
		}
		rcu_read_unlock();
	}
}

/* The memory lines of status (task_mem), in bytes. */
static void read_mm(struct mm_struct *mm, struct ssi_proc_facts *f)
{
	unsigned long anon = get_mm_counter_sum(mm, MM_ANONPAGES);
	unsigned long file = get_mm_counter_sum(mm, MM_FILEPAGES);
	unsigned long shmem = get_mm_counter_sum(mm, MM_SHMEMPAGES);
	unsigned long total_vm = READ_ONCE(mm->total_vm);
	unsigned long exec = READ_ONCE(mm->exec_vm) << PAGE_SHIFT;
	unsigned long text;

	f->vsize = (u64)total_vm << PAGE_SHIFT;
	f->hiwater_vm = (u64)max(total_vm, READ_ONCE(mm->hiwater_vm)) << PAGE_SHIFT;
	f->rss_anon = (u64)anon << PAGE_SHIFT;
	f->rss_file = (u64)file << PAGE_SHIFT;
	f->rss_shmem = (u64)shmem << PAGE_SHIFT;
	f->hiwater_rss = (u64)max(anon + file + shmem, READ_ONCE(mm->hiwater_rss)) << PAGE_SHIFT;
	/* Executable areas split between text and lib. */
	text = PAGE_ALIGN(mm->end_code) - (mm->start_code & PAGE_MASK);
	text = min(text, exec);
	f->text = text;
	f->lib = exec - text;
	f->data = (u64)READ_ONCE(mm->data_vm) << PAGE_SHIFT;
	f->stack = (u64)READ_ONCE(mm->stack_vm) << PAGE_SHIFT;
	f->locked = (u64)READ_ONCE(mm->locked_vm) << PAGE_SHIFT;
	f->pinned = (u64)atomic64_read(&mm->pinned_vm) << PAGE_SHIFT;
	f->swap = (u64)get_mm_counter_sum(mm, MM_SWAPENTS) << PAGE_SHIFT;
	f->pte = mm_pgtables_bytes(mm);
}

int ssi_procs_next(u32 after, struct ssi_proc_facts *f, u8 *cmdline, u32 len)
{
	struct task_struct *task = next_leader(after);
	struct task_struct *parent;
	const struct cred *cred;
	struct mm_struct *mm;

	if (!task)
		return 0;
	memset(f, 0, sizeof(*f));
	f->tgid = task_tgid_nr(task);
	f->state = task_index_to_char(task_state_index(task));
	f->task_flags = task->flags;
	f->kthread = !!(task->flags & PF_KTHREAD);
	f->start_boottime_ns = task->start_boottime;
	f->priority = task->prio - MAX_RT_PRIO;
	f->nice = task_nice(task);
	f->rt_priority = task->rt_priority;
	f->policy = task->policy;
	f->exit_signal = task->exit_signal;
	f->processor = task_cpu(task);
	f->tpgid = -1;
	f->umask = -1;
	__get_task_comm((char *)f->comm, sizeof(f->comm), task);

	rcu_read_lock();
	if (pid_alive(task)) {
		parent = rcu_dereference(task->real_parent);
		f->ppid = task_tgid_nr(parent);
		f->parent_kthread = !!(parent->flags & PF_KTHREAD);
	}
	cred = __task_cred(task);
	f->uid = from_kuid_munged(&init_user_ns, cred->uid);
	f->euid = from_kuid_munged(&init_user_ns, cred->euid);
	f->suid = from_kuid_munged(&init_user_ns, cred->suid);
	f->fsuid = from_kuid_munged(&init_user_ns, cred->fsuid);
	f->gid = from_kgid_munged(&init_user_ns, cred->gid);
	f->egid = from_kgid_munged(&init_user_ns, cred->egid);
	f->sgid = from_kgid_munged(&init_user_ns, cred->sgid);
	f->fsgid = from_kgid_munged(&init_user_ns, cred->fsgid);
	f->threads = get_nr_threads(task);
	rcu_read_unlock();

	read_sighand(task, f);
	read_times(task, f);

	/* As task_state: the fs_struct under the task lock. */
	task_lock(task);
	if (task->fs)
		f->umask = task->fs->umask;
	task_unlock(task);

	mm = get_task_mm(task);
	if (mm) {
		unsigned long start, end;
		int got;

		read_mm(mm, f);
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

/*
 * The thread of `p`'s group a process-directed signal goes to: the kernel
 * queues kill(2)'s signals for the whole group (complete_signal picks a
 * thread that does not block it), but the only exported sender with a
 * caller-made siginfo queues for one thread. So the thread is picked here
 * as complete_signal would: `p` itself if it does not block `sig`, else
 * the first thread that does not (a thread in sigwait has the waited
 * signals out of `blocked` while it waits), else `p`. `blocked` is read
 * without the signal lock: a thread that changes its mask meanwhile gets
 * the signal as if it had come a moment earlier. Under rcu_read_lock.
 */
static struct task_struct *ssi_signal_taker(struct task_struct *p, int sig)
{
	struct task_struct *t;

	if (!sigismember(&p->blocked, sig))
		return p;
	for_each_thread(p, t) {
		if (!(t->flags & PF_EXITING) && !sigismember(&t->blocked, sig))
			return t;
	}
	return p;
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
	r = p ? send_sig_info(sig, &info, ssi_signal_taker(p, sig)) : -ESRCH;
	rcu_read_unlock();
	return r;
}
