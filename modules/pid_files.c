// SPDX-License-Identifier: GPL-2.0
/*
 * The pid files hook: glue between four functions of fs/proc and the
 * module's callbacks (pid_files.h). See docs/design.md, "Kernel internals
 * relied on".
 *
 * - One ftrace ops per function (proc_tgid_stat, proc_pid_statm,
 *   proc_pid_status, proc_pid_cmdline_read), with IPMODIFY: the callback
 *   sends every call that does not come from the module to the module's
 *   wrapper of that function, which asks `serves` and either renders the
 *   file or calls the original (whose own ftrace callback then sees a call
 *   from the module and lets it through).
 * - The original's address is where its ftrace call site is, less the
 *   ENDBR64 before it (indirect-branch tracking: an indirect call must land
 *   on an ENDBR; the four are called through pointers, so theirs are kept).
 *   The callback records it before redirecting, so a wrapper always has it.
 * - Every task sent to a wrapper is counted until it leaves the module's
 *   code, so disarming waits for all of them (as the kill hook does).
 */
#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/ftrace.h>
#include <linux/kernel.h>
#include <linux/magic.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <asm/ibt.h>
#include "pid_files.h"

/* Room for one rendered file: status is the longest, about 1.5 KiB. */
#define SSI_PF_BUF 4096

static const char *const ssi_pf_syms[SSI_PID_FILES] = {
	"proc_tgid_stat", "proc_pid_statm", "proc_pid_status", "proc_pid_cmdline_read",
};
static struct ftrace_ops ssi_pf_ops_of[SSI_PID_FILES];
static unsigned long ssi_pf_orig[SSI_PID_FILES];
static const struct ssi_pid_files_ops *ssi_pf_ops;
static void *ssi_pf_priv;
static bool ssi_pf_armed;
static atomic_t ssi_pf_inflight = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(ssi_pf_idle);

typedef int (*ssi_show_fn)(struct seq_file *, struct pid_namespace *, struct pid *,
			   struct task_struct *);
typedef ssize_t (*ssi_read_fn)(struct file *, char __user *, size_t, loff_t *);

static void ssi_pf_leave(void)
{
	if (atomic_dec_and_test(&ssi_pf_inflight))
		wake_up_all(&ssi_pf_idle);
}

/* The rendered file `file` of `tgid` in a new buffer (kfree it), its length
 * in *len; NULL with *len a negative errno (-ENOENT: the kernel's). */
static char *ssi_pf_render(u32 tgid, int file, long *len)
{
	char *buf;

	if (!ssi_pf_ops->serves(ssi_pf_priv, tgid, file)) {
		*len = -ENOENT;
		return NULL;
	}
	buf = kmalloc(SSI_PF_BUF, GFP_KERNEL);
	if (!buf) {
		*len = -ENOMEM;
		return NULL;
	}
	*len = ssi_pf_ops->render(ssi_pf_priv, tgid, file, buf, SSI_PF_BUF);
	if (*len < 0) {
		kfree(buf);
		return NULL;
	}
	*len = min_t(long, *len, SSI_PF_BUF);
	return buf;
}

/* Whether `m` reads a file of a /proc/PID directory (whose parent is the
 * proc root), not of /proc/PID/task/TID: statm and status serve both,
 * and a thread's own files stay the kernel's. */
static bool ssi_pf_tgid_file(struct seq_file *m)
{
	struct dentry *d;

	if (!m->file)
		return false;
	d = m->file->f_path.dentry;
	return d->d_parent->d_parent == d->d_sb->s_root;
}

static int ssi_pf_show(int file, struct seq_file *m, struct pid_namespace *ns,
		       struct pid *pid, struct task_struct *task)
{
	ssi_show_fn orig = (ssi_show_fn)READ_ONCE(ssi_pf_orig[file]);
	char *buf = NULL;
	long len = -ENOENT;
	int r;

	if (ns == &init_pid_ns && task && thread_group_leader(task) && ssi_pf_tgid_file(m))
		buf = ssi_pf_render(task_tgid_nr(task), file, &len);
	if (buf) {
		seq_write(m, buf, len);
		kfree(buf);
		r = 0;
	} else if (len == -ENOENT) {
		r = orig(m, ns, pid, task);
	} else {
		r = len;
	}
	ssi_pf_leave();
	return r;
}

static noinline notrace int ssi_pf_stat(struct seq_file *m, struct pid_namespace *ns,
					struct pid *pid, struct task_struct *task)
{
	return ssi_pf_show(SSI_PID_FILE_STAT, m, ns, pid, task);
}

static noinline notrace int ssi_pf_statm(struct seq_file *m, struct pid_namespace *ns,
					 struct pid *pid, struct task_struct *task)
{
	return ssi_pf_show(SSI_PID_FILE_STATM, m, ns, pid, task);
}

static noinline notrace int ssi_pf_status(struct seq_file *m, struct pid_namespace *ns,
					  struct pid *pid, struct task_struct *task)
{
	return ssi_pf_show(SSI_PID_FILE_STATUS, m, ns, pid, task);
}

/* The tgid a /proc/PID/cmdline file is of: its directory's name in the
 * initial pid namespace's proc mount; 0 for anything else. */
static u32 ssi_pf_cmdline_tgid(struct file *file)
{
	struct dentry *dir = file->f_path.dentry->d_parent;
	struct super_block *sb = file_inode(file)->i_sb;
	char name[16];
	u32 nr;

	if (sb->s_magic != PROC_SUPER_MAGIC || proc_sb_info(sb)->pid_ns != &init_pid_ns)
		return 0;
	/* The parent of /proc/PID is the proc root (task/TID dirs are not). */
	if (dir->d_parent != sb->s_root)
		return 0;
	spin_lock(&dir->d_lock);
	strscpy(name, dir->d_name.name, sizeof(name));
	spin_unlock(&dir->d_lock);
	if (kstrtou32(name, 10, &nr))
		return 0;
	return nr;
}

static noinline notrace ssize_t ssi_pf_cmdline(struct file *file, char __user *ubuf,
					       size_t count, loff_t *pos)
{
	ssi_read_fn orig = (ssi_read_fn)READ_ONCE(ssi_pf_orig[SSI_PID_FILE_CMDLINE]);
	u32 tgid = ssi_pf_cmdline_tgid(file);
	long len = -ENOENT;
	char *buf = NULL;
	ssize_t r;

	if (tgid)
		buf = ssi_pf_render(tgid, SSI_PID_FILE_CMDLINE, &len);
	if (buf) {
		r = simple_read_from_buffer(ubuf, count, pos, buf, len);
		kfree(buf);
	} else if (len == -ENOENT) {
		r = orig(file, ubuf, count, pos);
	} else {
		r = len;
	}
	ssi_pf_leave();
	return r;
}

static const unsigned long ssi_pf_wrappers[SSI_PID_FILES] = {
	(unsigned long)ssi_pf_stat, (unsigned long)ssi_pf_statm,
	(unsigned long)ssi_pf_status, (unsigned long)ssi_pf_cmdline,
};

/* Where the traced function at call site `ip` starts, or 0 if its entry
 * is not one an indirect call may land on. */
static unsigned long ssi_pf_entry(unsigned long ip)
{
#ifdef CONFIG_X86_KERNEL_IBT
	u32 insn;

	if (copy_from_kernel_nofault(&insn, (void *)(ip - ENDBR_INSN_SIZE), sizeof(insn)))
		return 0;
	if (!is_endbr(insn) || insn == gen_endbr_poison())
		return 0;
	return ip - ENDBR_INSN_SIZE;
#else
	return ip;
#endif
}

static void notrace ssi_pf_ftrace(unsigned long ip, unsigned long parent_ip,
				  struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	int file = op - ssi_pf_ops_of;
	unsigned long entry;

	if (file < 0 || file >= SSI_PID_FILES || within_module(parent_ip, THIS_MODULE))
		return;
	if (task_active_pid_ns(current) != &init_pid_ns)
		return;
	entry = READ_ONCE(ssi_pf_orig[file]);
	if (!entry) {
		entry = ssi_pf_entry(ip);
		if (!entry)
			return;
		WRITE_ONCE(ssi_pf_orig[file], entry);
	}
	atomic_inc(&ssi_pf_inflight);
	ftrace_regs_set_instruction_pointer(fregs, ssi_pf_wrappers[file]);
}

static void ssi_pf_unregister(int n)
{
	while (n-- > 0) {
		unregister_ftrace_function(&ssi_pf_ops_of[n]);
		ftrace_free_filter(&ssi_pf_ops_of[n]);
	}
}

int ssi_pid_files_arm(const struct ssi_pid_files_ops *ops, void *priv)
{
	int i, r = 0;

	if (!IS_ENABLED(CONFIG_X86_64) || !IS_ENABLED(CONFIG_DYNAMIC_FTRACE_WITH_REGS))
		return -EOPNOTSUPP;
	if (ssi_pf_armed)
		return -EBUSY;
	ssi_pf_ops = ops;
	ssi_pf_priv = priv;
	for (i = 0; i < SSI_PID_FILES; i++) {
		struct ftrace_ops *o = &ssi_pf_ops_of[i];
		const char *sym = ssi_pf_syms[i];

		/* An ops is registered again only from a clean struct. */
		memset(o, 0, sizeof(*o));
		o->func = ssi_pf_ftrace;
		o->flags = FTRACE_OPS_FL_SAVE_REGS | FTRACE_OPS_FL_IPMODIFY;
		r = ftrace_set_filter(o, (unsigned char *)sym, strlen(sym), 1);
		if (!r) {
			r = register_ftrace_function(o);
			if (r)
				ftrace_free_filter(o);
		}
		if (r) {
			ssi_pf_unregister(i);
			return r;
		}
	}
	ssi_pf_armed = true;
	return 0;
}

void ssi_pid_files_disarm(void)
{
	if (!ssi_pf_armed)
		return;
	ssi_pf_unregister(SSI_PID_FILES);
	/* No callback runs any more; wait for the tasks it redirected. */
	wait_event(ssi_pf_idle, atomic_read(&ssi_pf_inflight) == 0);
	/* The last of them may still be between its decrement and its return:
	 * a tasks-RCU grace period waits until every task left such code. */
	synchronize_rcu_tasks();
	ssi_pf_armed = false;
}
