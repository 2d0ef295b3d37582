// SPDX-License-Identifier: GPL-2.0
/*
 * C glue for checkpoint/restart (see task_helpers.h): field access behind
 * locks, static inlines and macros of the task, mm, signal, fd and FPU code.
 * No policy here: every decision is made by the Rust code.
 */
#include <linux/capability.h>
#ifdef CONFIG_X86
#include <asm/cpufeature.h>
#endif
#include <linux/cred.h>
#include <linux/elf.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/futex.h>
#include <linux/hrtimer.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/namei.h>
#include <linux/pid.h>
#include <linux/posix-timers.h>
#include <linux/ptrace.h>
#include <linux/regset.h>
#include <linux/rseq.h>
#include <linux/sched.h>
#include <linux/sched/coredump.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/signal.h>
#include <linux/tty.h>
#include <linux/umh.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/completion.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <asm/fpu/api.h>
#include <asm/fsgsbase.h>
#include <asm/msr.h>
#include <asm/segment.h>
#include "task_helpers.h"
#include "../modules/helpers.h"

void ssi_task_state(struct ssi_task_state *o)
{
	struct task_struct *t = current;
	const struct cred *c = current_cred();
	struct user_namespace *ns = current_user_ns();
	struct signal_struct *sig = t->signal;
	struct group_info *gi = c->group_info;
	int i;

	memset(o, 0, sizeof(*o));
	o->pid = task_pid_vnr(t);
	o->tgid = task_tgid_vnr(t);
	o->nr_threads = get_nr_threads(t);
	o->ptraced = t->ptrace != 0;
	__get_task_comm((char *)o->comm, sizeof(o->comm), t);
	o->uid = from_kuid_munged(ns, c->uid);
	o->euid = from_kuid_munged(ns, c->euid);
	o->suid = from_kuid_munged(ns, c->suid);
	o->fsuid = from_kuid_munged(ns, c->fsuid);
	o->gid = from_kgid_munged(ns, c->gid);
	o->egid = from_kgid_munged(ns, c->egid);
	o->sgid = from_kgid_munged(ns, c->sgid);
	o->fsgid = from_kgid_munged(ns, c->fsgid);
	o->ngroups = min_t(u32, gi->ngroups, SSI_MAX_GROUPS);
	o->groups_truncated = gi->ngroups > SSI_MAX_GROUPS;
	for (i = 0; i < o->ngroups; i++)
		o->groups[i] = from_kgid_munged(ns, gi->gid[i]);
	o->cap_inheritable = c->cap_inheritable.val;
	o->cap_permitted = c->cap_permitted.val;
	o->cap_effective = c->cap_effective.val;
	o->cap_bset = c->cap_bset.val;
	o->cap_ambient = c->cap_ambient.val;
	o->securebits = c->securebits;
	o->no_new_privs = task_no_new_privs(t);
	o->personality = t->personality;
	o->umask = t->fs ? t->fs->umask : 0022;
	task_lock(t->group_leader);
	for (i = 0; i < SSI_NLIMITS && i < RLIM_NLIMITS; i++) {
		o->rlim_cur[i] = sig->rlim[i].rlim_cur;
		o->rlim_max[i] = sig->rlim[i].rlim_max;
	}
	task_unlock(t->group_leader);
	spin_lock_irq(&t->sighand->siglock);
	if (hrtimer_active(&sig->real_timer)) {
		s64 left = ktime_to_ns(hrtimer_get_remaining(&sig->real_timer));

		o->it_real_value_ns = left > 0 ? left : 1;
	}
	o->it_real_interval_ns = ktime_to_ns(sig->it_real_incr);
#ifdef CONFIG_POSIX_TIMERS
	/* As getitimer() computes them: an armed CPU-time itimer keeps the
	 * process's cputimer running, whose samples are these. */
	if (sig->it[CPUCLOCK_PROF].expires || sig->it[CPUCLOCK_VIRT].expires) {
		struct task_cputime_atomic *ca = &sig->cputimer.cputime_atomic;
		u64 utime = atomic64_read(&ca->utime);
		u64 prof = utime + atomic64_read(&ca->stime);
		u64 e;

		e = sig->it[CPUCLOCK_VIRT].expires;
		if (e)
			o->it_virt_value_ns = e > utime ? e - utime : TICK_NSEC;
		e = sig->it[CPUCLOCK_PROF].expires;
		if (e)
			o->it_prof_value_ns = e > prof ? e - prof : TICK_NSEC;
	}
	o->it_virt_interval_ns = sig->it[CPUCLOCK_VIRT].incr;
	o->it_prof_interval_ns = sig->it[CPUCLOCK_PROF].incr;
	o->posix_timers = !hlist_empty(&sig->posix_timers);
#endif
	o->blocked = t->blocked.sig[0];
	spin_unlock_irq(&t->sighand->siglock);
	o->exit_signal = t->exit_signal;
	o->pdeath_signal = t->pdeath_signal;
	o->sas_ss_sp = t->sas_ss_sp;
	o->sas_ss_size = t->sas_ss_size;
	o->sas_ss_flags = t->sas_ss_flags;
	o->clear_child_tid = (u64)(unsigned long)t->clear_child_tid;
#ifdef CONFIG_FUTEX
	o->robust_list = (u64)(unsigned long)t->robust_list;
	o->robust_list_len = o->robust_list ? sizeof(struct robust_list_head) : 0;
#endif
#ifdef CONFIG_RSEQ
	o->rseq = (u64)(unsigned long)t->rseq;
	o->rseq_len = t->rseq_len;
	o->rseq_sig = t->rseq_sig;
#endif
}

int ssi_mm_layout(struct ssi_mm_layout *o)
{
	struct mm_struct *mm = current->mm;
	int i;

	memset(o, 0, sizeof(*o));
	if (!mm)
		return -EINVAL;
	mmap_read_lock(mm);
	o->start_code = mm->start_code;
	o->end_code = mm->end_code;
	o->start_data = mm->start_data;
	o->end_data = mm->end_data;
	o->start_brk = mm->start_brk;
	o->brk = mm->brk;
	o->start_stack = mm->start_stack;
	spin_lock(&mm->arg_lock);
	o->arg_start = mm->arg_start;
	o->arg_end = mm->arg_end;
	o->env_start = mm->env_start;
	o->env_end = mm->env_end;
	spin_unlock(&mm->arg_lock);
	o->map_count = mm->map_count;
	for (i = 0; i + 1 < ARRAY_SIZE(mm->saved_auxv) && i + 1 < SSI_AUXV_WORDS; i += 2) {
		o->auxv[i] = mm->saved_auxv[i];
		o->auxv[i + 1] = mm->saved_auxv[i + 1];
		o->auxv_words = i + 2;
		if (mm->saved_auxv[i] == AT_NULL)
			break;
	}
	mmap_read_unlock(mm);
	return 0;
}

void ssi_current_set_age(u64 age_ns)
{
	struct task_struct *leader = current->group_leader;
	u64 mono = ktime_get_ns(), boot = ktime_get_boottime_ns();

	leader->start_time = age_ns < mono ? mono - age_ns : 0;
	leader->start_boottime = age_ns < boot ? boot - age_ns : 0;
}

int ssi_mm_set_exe_file(struct file *exe)
{
	struct mm_struct *mm = current->mm;
	struct file *old;

	if (!mm)
		return -EINVAL;
	if (exe_file_deny_write_access(exe))
		return -EACCES;
	get_file(exe);
	mmap_write_lock(mm);
	old = rcu_dereference_raw(mm->exe_file);
	rcu_assign_pointer(mm->exe_file, exe);
	mmap_write_unlock(mm);
	if (old) {
		exe_file_allow_write_access(old);
		fput(old);
	}
	return 0;
}

int ssi_mm_set_layout(const struct ssi_mm_layout *in)
{
	struct mm_struct *mm = current->mm;
	unsigned int i;

	if (!mm || in->auxv_words > ARRAY_SIZE(mm->saved_auxv))
		return -EINVAL;
	mmap_write_lock(mm);
	mm->start_code = in->start_code;
	mm->end_code = in->end_code;
	mm->start_data = in->start_data;
	mm->end_data = in->end_data;
	mm->start_brk = in->start_brk;
	mm->brk = in->brk;
	mm->start_stack = in->start_stack;
	spin_lock(&mm->arg_lock);
	mm->arg_start = in->arg_start;
	mm->arg_end = in->arg_end;
	mm->env_start = in->env_start;
	mm->env_end = in->env_end;
	spin_unlock(&mm->arg_lock);
	memset(mm->saved_auxv, 0, sizeof(mm->saved_auxv));
	for (i = 0; i < in->auxv_words; i++)
		mm->saved_auxv[i] = in->auxv[i];
	mmap_write_unlock(mm);
	return 0;
}

int ssi_vma_find(u64 addr, struct ssi_vma *o)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	const char *name = NULL;

	memset(o, 0, sizeof(*o));
	if (!mm)
		return -ENOENT;
	mmap_read_lock(mm);
	vma = find_vma(mm, addr);
	if (!vma) {
		mmap_read_unlock(mm);
		return -ENOENT;
	}
	o->start = vma->vm_start;
	o->end = vma->vm_end;
	o->vm_flags = vma->vm_flags;
	o->pgoff = vma->vm_pgoff;
	if (vma->vm_file) {
		o->file = get_file(vma->vm_file);
		o->file_magic = file_inode(vma->vm_file)->i_sb->s_magic;
	}
	if (vma->vm_ops && vma->vm_ops->name)
		name = vma->vm_ops->name(vma);
	if (name) {
		o->has_name = 1;
		strscpy((char *)o->name, name, sizeof(o->name));
	}
	o->start_stack = mm->start_stack;
	o->start_brk = mm->start_brk;
	o->brk = mm->brk;
	mmap_read_unlock(mm);
	return 0;
}

int ssi_page_is_anon(u64 addr)
{
	struct page *page;
	int r, anon;

	r = get_user_pages_fast(addr, 1, 0, &page);
	if (r != 1)
		return r < 0 ? r : -EFAULT;
	anon = PageAnon(page);
	put_page(page);
	return anon;
}

int ssi_hold_user_pages(u64 addr, unsigned int n, void **pages, void **data)
{
	struct page **p = (struct page **)pages;
	int got, i;

	got = get_user_pages_fast(addr, n, 0, p);
	for (i = 0; i < got; i++)
		data[i] = page_address(p[i]);
	return got;
}

void ssi_release_pages(void **pages, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		put_page((struct page *)pages[i]);
}

static const struct user_regset *find_regset_of(struct task_struct *t, unsigned int note)
{
	const struct user_regset_view *view = task_user_regset_view(t);
	unsigned int i;

	for (i = 0; i < view->n; i++)
		if (view->regsets[i].core_note_type == note)
			return &view->regsets[i];
	return NULL;
}

static const struct user_regset *find_regset(unsigned int note)
{
	return find_regset_of(current, note);
}

void ssi_get_user_regs(u64 regs[SSI_NGREG])
{
	const struct user_regset *rs = find_regset(NT_PRSTATUS);

	BUILD_BUG_ON(sizeof(struct user_regs_struct) != SSI_NGREG * sizeof(u64));
	memset(regs, 0, SSI_NGREG * sizeof(u64));
	if (rs)
		regset_get(current, rs, SSI_NGREG * sizeof(u64), regs);
}

/* The flags a user may change (as ptrace's putreg allows, without TF). */
#define SSI_USER_FLAGS (X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_ZF | \
			X86_EFLAGS_SF | X86_EFLAGS_DF | X86_EFLAGS_OF | X86_EFLAGS_RF | X86_EFLAGS_AC)

int ssi_set_user_regs(const u64 g[SSI_NGREG])
{
	struct pt_regs *r = current_pt_regs();
	const struct user_regs_struct *u = (const void *)g;

	if (u->fs_base >= TASK_SIZE_MAX || u->gs_base >= TASK_SIZE_MAX)
		return -EINVAL;
	if (u->ds || u->es || u->fs || u->gs)
		return -EINVAL; /* only the 64-bit flat user model */
	r->r15 = u->r15;
	r->r14 = u->r14;
	r->r13 = u->r13;
	r->r12 = u->r12;
	r->bp = u->bp;
	r->bx = u->bx;
	r->r11 = u->r11;
	r->r10 = u->r10;
	r->r9 = u->r9;
	r->r8 = u->r8;
	r->ax = u->ax;
	r->cx = u->cx;
	r->dx = u->dx;
	r->si = u->si;
	r->di = u->di;
	r->orig_ax = -1;
	r->ip = u->ip;
	r->cs = __USER_CS;
	r->flags = (r->flags & ~SSI_USER_FLAGS) | (u->flags & SSI_USER_FLAGS);
	r->sp = u->sp;
	r->ss = __USER_DS;
	preempt_disable();
	loadsegment(fs, 0);
	x86_fsbase_write_cpu(u->fs_base);
	current->thread.fsindex = 0;
	current->thread.fsbase = u->fs_base;
	/* The user's GS base is the inactive one while in the kernel. */
	wrmsrl(MSR_KERNEL_GS_BASE, u->gs_base);
	current->thread.gsindex = 0;
	current->thread.gsbase = u->gs_base;
	preempt_enable();
	return 0;
}

struct ssi_ax_work {
	struct callback_head cb;
	u64 ax;
};

static void ssi_ax_work_fn(struct callback_head *cb)
{
	struct ssi_ax_work *w = container_of(cb, struct ssi_ax_work, cb);

	current_pt_regs()->ax = w->ax;
	kfree(w);
}

int ssi_set_ax_on_return(u64 ax)
{
	struct ssi_ax_work *w = kmalloc(sizeof(*w), GFP_KERNEL);
	int r;

	if (!w)
		return -ENOMEM;
	w->ax = ax;
	init_task_work(&w->cb, ssi_ax_work_fn);
	r = task_work_add(current, &w->cb, TWA_SIGNAL);
	if (r)
		kfree(w);
	return r;
}

int ssi_xstate_size(void)
{
	const struct user_regset *rs = find_regset(NT_X86_XSTATE);

	return rs ? rs->n * rs->size : -ENODEV;
}

int ssi_get_xstate(void *buf, unsigned int len)
{
	const struct user_regset *rs = find_regset(NT_X86_XSTATE);
	int size = ssi_xstate_size();

	if (!rs || size < 0)
		return -ENODEV;
	if (len < size)
		return -E2BIG;
	return regset_get(current, rs, size, buf) < 0 ? -EIO : size;
}

struct ssi_xstate_write {
	struct work_struct work;
	struct task_struct *target;
	const void *buf;
	unsigned int len;
	int ret;
	struct completion done;
};

static void ssi_xstate_write_fn(struct work_struct *w)
{
	struct ssi_xstate_write *x = container_of(w, struct ssi_xstate_write, work);
	const struct user_regset *rs = find_regset_of(x->target, NT_X86_XSTATE);

	x->ret = rs && rs->set ? rs->set(x->target, rs, 0, x->len, x->buf, NULL) : -ENODEV;
	complete(&x->done);
}

int ssi_set_xstate(const void *buf, unsigned int len)
{
	const struct user_regset *rs = find_regset(NT_X86_XSTATE);
	struct ssi_xstate_write x = { .target = current, .buf = buf, .len = len };

	if (!rs || !rs->set)
		return -ENODEV;
	if (len != rs->n * rs->size)
		return -EINVAL;
	/*
	 * The regset writes the FPU state of a task that does not run, as
	 * for ptrace (it warns when the target is current). kernel_fpu_begin
	 * saves the live user registers to memory and has them loaded from
	 * there on the way back to user mode; from then on this task does not
	 * touch them. A worker writes the saved state while this task sleeps,
	 * and marks it to be loaded again.
	 */
	kernel_fpu_begin_mask(0);
	kernel_fpu_end();
	INIT_WORK_ONSTACK(&x.work, ssi_xstate_write_fn);
	init_completion(&x.done);
	queue_work(system_unbound_wq, &x.work);
	wait_for_completion(&x.done);
	destroy_work_on_stack(&x.work);
	return x.ret;
}

void ssi_get_sigaction(int sig, u64 *handler, u64 *flags, u64 *restorer, u64 *mask)
{
	struct k_sigaction *k;

	*handler = *flags = *restorer = *mask = 0;
	if (sig < 1 || sig > _NSIG)
		return;
	spin_lock_irq(&current->sighand->siglock);
	k = &current->sighand->action[sig - 1];
	*handler = (u64)(unsigned long)k->sa.sa_handler;
	*flags = k->sa.sa_flags;
#ifdef __ARCH_HAS_SA_RESTORER
	*restorer = (u64)(unsigned long)k->sa.sa_restorer;
#endif
	*mask = k->sa.sa_mask.sig[0];
	spin_unlock_irq(&current->sighand->siglock);
}

int ssi_set_sigaction(int sig, u64 handler, u64 flags, u64 restorer, u64 mask)
{
	struct k_sigaction *k;

	if (sig < 1 || sig > _NSIG)
		return -EINVAL;
	if ((sig == SIGKILL || sig == SIGSTOP) && handler != (u64)(unsigned long)SIG_DFL)
		return -EINVAL;
	spin_lock_irq(&current->sighand->siglock);
	k = &current->sighand->action[sig - 1];
	k->sa.sa_handler = (__sighandler_t)(unsigned long)handler;
	k->sa.sa_flags = flags;
#ifdef __ARCH_HAS_SA_RESTORER
	k->sa.sa_restorer = (__sigrestore_t)(unsigned long)restorer;
#endif
	k->sa.sa_mask.sig[0] = mask & ~(sigmask(SIGKILL) | sigmask(SIGSTOP));
	spin_unlock_irq(&current->sighand->siglock);
	return 0;
}

int ssi_get_pending(int shared, u8 *out, int max)
{
	struct sigpending *p = shared ? &current->signal->shared_pending : &current->pending;
	struct sigqueue *q;
	sigset_t queued;
	int n = 0, sig, over = 0;

	sigemptyset(&queued);
	spin_lock_irq(&current->sighand->siglock);
	list_for_each_entry(q, &p->list, list) {
		if (n >= max) {
			over = 1;
			break;
		}
		copy_siginfo_to_external((siginfo_t *)(out + n * SSI_SIGINFO_LEN), &q->info);
		sigaddset(&queued, q->info.si_signo);
		n++;
	}
	/* Signals pending without a queue entry get a kernel-sent siginfo. */
	for (sig = 1; !over && sig <= _NSIG; sig++) {
		siginfo_t *info;

		if (!sigismember(&p->signal, sig) || sigismember(&queued, sig))
			continue;
		if (n >= max) {
			over = 1;
			break;
		}
		info = (siginfo_t *)(out + n * SSI_SIGINFO_LEN);
		memset(info, 0, SSI_SIGINFO_LEN);
		info->si_signo = sig;
		info->si_code = SI_KERNEL;
		n++;
	}
	spin_unlock_irq(&current->sighand->siglock);
	return over ? -E2BIG : n;
}

int ssi_queue_signal(const u8 *raw)
{
	kernel_siginfo_t info;

	BUILD_BUG_ON(sizeof(siginfo_t) != SSI_SIGINFO_LEN);
	memcpy(&info, raw, sizeof(info));
	if (info.si_signo < 1 || info.si_signo > _NSIG)
		return -EINVAL;
	return send_sig_info(info.si_signo, &info, current);
}

void ssi_set_blocked(u64 mask)
{
	sigset_t set;

	sigemptyset(&set);
	set.sig[0] = mask & ~(sigmask(SIGKILL) | sigmask(SIGSTOP));
	sigprocmask(SIG_SETMASK, &set, NULL);
}

void ssi_set_altstack(u64 sp, u64 size, u32 flags)
{
	current->sas_ss_sp = sp;
	current->sas_ss_size = size;
	current->sas_ss_flags = flags;
}

void ssi_set_clear_child_tid(u64 addr)
{
	current->clear_child_tid = (int __user *)(unsigned long)addr;
}

void ssi_set_robust_list(u64 head, u64 len)
{
#ifdef CONFIG_FUTEX
	current->robust_list = (struct robust_list_head __user *)(unsigned long)head;
#endif
}

void ssi_set_rseq(u64 addr, u32 len, u32 sig)
{
#ifdef CONFIG_RSEQ
	current->rseq = (struct rseq __user *)(unsigned long)addr;
	current->rseq_len = addr ? len : 0;
	current->rseq_sig = sig;
	if (addr)
		rseq_set_notify_resume(current);
#endif
}

void ssi_set_itimer_real(u64 value_ns, u64 interval_ns)
{
	struct signal_struct *sig = current->signal;

	spin_lock_irq(&current->sighand->siglock);
	hrtimer_try_to_cancel(&sig->real_timer);
	sig->it_real_incr = ns_to_ktime(interval_ns);
	if (value_ns)
		hrtimer_start(&sig->real_timer, ns_to_ktime(value_ns), HRTIMER_MODE_REL);
	spin_unlock_irq(&current->sighand->siglock);
}

int ssi_unmap(u64 start, u64 end)
{
	if (end <= start)
		return -EINVAL;
	return vm_munmap(start, end - start);
}

int ssi_map(struct file *file, u64 start, u64 len, u32 prot, u32 flags, u64 offset)
{
	unsigned long r = vm_mmap(file, start, len, prot, flags | MAP_FIXED, offset);

	if (IS_ERR_VALUE(r))
		return (int)r;
	return r == start ? 0 : -EFAULT;
}

int ssi_poke_user(u64 addr, const void *buf, unsigned int len)
{
	int n = access_process_vm(current, addr, (void *)buf, len, FOLL_WRITE | FOLL_FORCE);

	return n == len ? 0 : -EFAULT;
}

struct task_struct *ssi_get_task(u32 nr)
{
	struct pid *pid = find_get_pid(nr);
	struct task_struct *t;

	if (!pid)
		return NULL;
	t = get_pid_task(pid, PIDTYPE_PID);
	put_pid(pid);
	return t;
}

void ssi_task_brief(struct task_struct *t, struct ssi_task_brief *o)
{
	struct task_struct *parent;

	o->exiting = (t->flags & PF_EXITING) || t->exit_state;
	o->stopped = task_is_stopped_or_traced(t);
	o->kthread = !!(t->flags & (PF_KTHREAD | PF_USER_WORKER));
	o->ptraced = t->ptrace != 0;
	o->nr_threads = get_nr_threads(t);
	rcu_read_lock();
	o->uid = from_kuid_munged(current_user_ns(), __task_cred(t)->uid);
	o->suid = from_kuid_munged(current_user_ns(), __task_cred(t)->suid);
	parent = rcu_dereference(t->real_parent);
	o->ppid = (parent->flags & PF_KTHREAD) ? 0 : task_tgid_nr(parent);
	o->pgrp = task_pgrp_nr_ns(t, &init_pid_ns);
	o->session = task_session_nr_ns(t, &init_pid_ns);
	rcu_read_unlock();
	o->age_ns = ktime_get_boottime_ns() - t->group_leader->start_boottime;
}

void ssi_init_task_work(struct callback_head *cb, void (*fn)(struct callback_head *))
{
	init_task_work(cb, fn);
}

int ssi_task_work_add(struct task_struct *t, struct callback_head *cb)
{
	return task_work_add(t, cb, TWA_SIGNAL);
}

int ssi_caller_identity(u32 *uid)
{
	*uid = from_kuid_munged(current_user_ns(), current_uid());
	return capable(CAP_SYS_ADMIN);
}

void ssi_caller_uids(u32 *uid, u32 *euid)
{
	*uid = from_kuid_munged(current_user_ns(), current_uid());
	*euid = from_kuid_munged(current_user_ns(), current_euid());
}

u32 ssi_current_pid(void)
{
	return task_tgid_vnr(current);
}

int ssi_current_exiting(void)
{
	return !!(current->flags & PF_EXITING);
}

void ssi_kill_current(void)
{
	send_sig(SIGKILL, current, 1);
}

int ssi_cpu_has_crc32c(void)
{
#ifdef CONFIG_X86
	return boot_cpu_has(X86_FEATURE_XMM4_2);
#else
	return 0;
#endif
}

u64 ssi_current_age_ns(void)
{
	return ktime_get_ns() - current->group_leader->start_time;
}

/* Runs in the new process before its exec: notes its pid for the caller. */
static int ssi_umh_init(struct subprocess_info *info, struct cred *new)
{
	u32 *pid = info->data;

	*pid = task_pid_nr(current);
	return 0;
}

int ssi_spawn_usermode(char **argv, u32 *pid)
{
	static char *envp[] = {
		"HOME=/",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		NULL,
	};
	struct subprocess_info *info;

	*pid = 0;
	info = call_usermodehelper_setup(argv[0], argv, envp, GFP_KERNEL, ssi_umh_init, NULL, pid);
	if (!info)
		return -ENOMEM;
	return call_usermodehelper_exec(info, UMH_WAIT_EXEC);
}

int ssi_task_threads(struct task_struct *t, struct task_struct **out, u32 max)
{
	struct task_struct *leader, *th;
	u32 n = 0;
	int ret = 0;

	rcu_read_lock();
	leader = t->group_leader;
	if (max == 0) {
		ret = -E2BIG;
	} else {
		get_task_struct(leader);
		out[n++] = leader;
		for_each_thread(leader, th) {
			if (th == leader)
				continue;
			if (n == max) {
				ret = -E2BIG;
				break;
			}
			get_task_struct(th);
			out[n++] = th;
		}
	}
	rcu_read_unlock();
	if (ret) {
		while (n)
			put_task_struct(out[--n]);
		return ret;
	}
	return n;
}

void ssi_gate_init(struct wait_queue_head *wq)
{
	init_waitqueue_head(wq);
}

/* Killable: only a fatal signal ends the wait early (-ERESTARTSYS); such a
 * sleep is not reported by the hung-task detector. */
int ssi_gate_wait(struct wait_queue_head *wq, const u32 *open)
{
	return wait_event_killable(*wq, smp_load_acquire(open) != 0);
}

void ssi_gate_wake(struct wait_queue_head *wq)
{
	wake_up_all(wq);
}
