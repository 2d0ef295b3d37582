// SPDX-License-Identifier: GPL-2.0
/*
 * C glue for live migration; see migration_helpers.h.
 */
#include <linux/anon_inodes.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/shmem_fs.h>
#include <linux/signal.h>
#include <linux/task_work.h>
#include <linux/uaccess.h>
#include <linux/userfaultfd_k.h>
#include <uapi/linux/magic.h>
#include <linux/wait.h>
#include "migration_helpers.h"

struct file *ssi_shmem_file(u64 size)
{
	struct file *f = shmem_file_setup("ssi-migration", size, VM_NORESERVE);

	/* Images past 2 GiB, pre-copy pages at their (high) user address. */
	if (!IS_ERR(f))
		f->f_flags |= O_LARGEFILE;
	return f;
}

int ssi_file_same_inode(struct file *a, struct file *b)
{
	return file_inode(a) == file_inode(b);
}

int ssi_install_new_fd(struct file *f)
{
	int fd = get_unused_fd_flags(O_CLOEXEC);

	if (fd < 0)
		return fd;
	fd_install(fd, get_file(f));
	return fd;
}

int ssi_dequeue_signal(void)
{
	kernel_siginfo_t info;
	enum pid_type type;
	int sig;

	spin_lock_irq(&current->sighand->siglock);
	sig = dequeue_signal(&current->blocked, &info, &type);
	spin_unlock_irq(&current->sighand->siglock);
	return sig;
}

u32 ssi_children_of(u32 tgid)
{
	struct task_struct *p;
	u32 n = 0;

	rcu_read_lock();
	for_each_process(p) {
		struct task_struct *parent = rcu_dereference(p->real_parent);

		if (parent && task_tgid_nr(parent) == tgid && task_tgid_nr(p) != tgid)
			n++;
	}
	rcu_read_unlock();
	return n;
}

int ssi_kill_pid(u32 pid, int sig)
{
	struct pid *p;
	int ret;

	rcu_read_lock();
	p = find_pid_ns(pid, &init_pid_ns);
	ret = p ? kill_pid(p, sig, 1) : -ESRCH;
	rcu_read_unlock();
	return ret;
}

void ssi_die_by_signal(int sig)
{
	struct k_sigaction *ka;
	sigset_t none;

	spin_lock_irq(&current->sighand->siglock);
	ka = &current->sighand->action[sig - 1];
	ka->sa.sa_handler = SIG_DFL;
	ka->sa.sa_flags = 0;
	spin_unlock_irq(&current->sighand->siglock);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	send_sig(sig, current, 1);
}

int ssi_task_exit_status(struct task_struct *t, u32 *status)
{
	struct signal_struct *sig = t->signal;

	if (!READ_ONCE(t->exit_state) || atomic_read(&sig->live) != 0)
		return 0;
	if (READ_ONCE(sig->flags) & SIGNAL_GROUP_EXIT)
		*status = READ_ONCE(sig->group_exit_code);
	else
		*status = READ_ONCE(t->exit_code);
	return 1;
}

int ssi_doorbell_wait(struct wait_queue_head *wq, const u32 *counter, u32 seen)
{
	return wait_event_interruptible(*wq, smp_load_acquire(counter) != seen);
}

long ssi_doorbell_wait_timeout(struct wait_queue_head *wq, const u32 *counter, u32 seen, u32 ms)
{
	return wait_event_interruptible_timeout(*wq, smp_load_acquire(counter) != seen,
						msecs_to_jiffies(ms));
}

long ssi_doorbell_wait_killable_timeout(struct wait_queue_head *wq, const u32 *counter, u32 seen, u32 ms)
{
	return wait_event_killable_timeout(*wq, smp_load_acquire(counter) != seen, msecs_to_jiffies(ms));
}

long ssi_user_scratch(u64 len)
{
	/* Shared anonymous memory (shmem): it never merges with the process's
	 * own private mappings, which would make them soft-dirty as a whole. */
	return (long)vm_mmap(NULL, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, 0);
}

void ssi_user_scratch_free(u64 addr, u64 len)
{
	vm_munmap(addr, len);
}

int ssi_task_read_mem(struct task_struct *t, u64 addr, void *buf, u32 len)
{
	return access_process_vm(t, addr, buf, len, FOLL_FORCE);
}

int ssi_zap_user_range(u64 start, u64 end)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	u64 addr = start;

	if (!mm || start > end || (start | end) & ~PAGE_MASK)
		return -EINVAL;
	mmap_read_lock(mm);
	while (addr < end) {
		u64 to;

		vma = find_vma(mm, addr);
		if (!vma || vma->vm_start >= end)
			break;
		if (vma->vm_start > addr)
			addr = vma->vm_start;
		to = min_t(u64, end, vma->vm_end);
		/* What MADV_DONTNEED takes (madvise_dontneed_single_vma). */
		if (!(vma->vm_flags & (VM_LOCKED | VM_SHARED | VM_PFNMAP | VM_IO | VM_HUGETLB | VM_MIXEDMAP)))
			zap_page_range_single(vma, addr, to - addr, NULL);
		addr = to;
	}
	mmap_read_unlock(mm);
	return 0;
}

void ssi_module_get(void)
{
	__module_get(THIS_MODULE);
}

void ssi_module_put(void)
{
	module_put(THIS_MODULE);
}

static ssize_t ssi_pages_fop_read(struct file *f, char __user *buf, size_t len, loff_t *pos)
{
	return ssi_pages_read(f->private_data, buf, len, *pos);
}

static int ssi_pages_fop_release(struct inode *inode, struct file *f)
{
	ssi_pages_release(f->private_data);
	return 0;
}

static const struct file_operations ssi_pages_fops = {
	.owner = THIS_MODULE,
	.read = ssi_pages_fop_read,
	.release = ssi_pages_fop_release,
};

struct file *ssi_pages_file(void *priv)
{
	struct file *f = anon_inode_getfile("[ssi-pages]", &ssi_pages_fops, priv, O_RDONLY);

	/* Read at an offset (the address) with pread. */
	if (!IS_ERR(f))
		f->f_mode |= FMODE_PREAD;
	return f;
}

void *ssi_pages_priv(struct file *f)
{
	return f->f_op == &ssi_pages_fops ? f->private_data : NULL;
}

int ssi_is_userfaultfd(struct file *f)
{
	return file_inode(f)->i_sb->s_magic == ANON_INODE_FS_MAGIC &&
	       strcmp(f->f_path.dentry->d_name.name, "[userfaultfd]") == 0;
}

long ssi_uffd_register(struct file *uffd, u64 scratch, u64 start, u64 len)
{
	struct uffdio_register r = {
		.range = { .start = start, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	if (!ssi_is_userfaultfd(uffd) || !uffd->f_op->unlocked_ioctl)
		return -EINVAL;
	if (copy_to_user((void __user *)scratch, &r, sizeof(r)))
		return -EFAULT;
	return uffd->f_op->unlocked_ioctl(uffd, UFFDIO_REGISTER, scratch);
}
