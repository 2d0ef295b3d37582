// SPDX-License-Identifier: GPL-2.0
/*
 * High availability's C glue (ha_helpers.h): namei calls behind locks and
 * macros, and the bit flip of the replicas' tests; no policy.
 */
#include <linux/dcache.h>
#include <linux/err.h>
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/path.h>
#include <linux/pid.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/string.h>
#include "ha_helpers.h"

int ssi_ha_mkdir(const char *path, u16 mode)
{
	struct path parent;
	struct dentry *d;
	int err;

	d = kern_path_create(AT_FDCWD, path, &parent, LOOKUP_DIRECTORY);
	if (IS_ERR(d))
		return PTR_ERR(d) == -EEXIST ? 0 : PTR_ERR(d);
	err = vfs_mkdir(mnt_idmap(parent.mnt), d_inode(parent.dentry), d, mode);
	done_path_create(&parent, d);
	return err;
}

struct file *ssi_ha_create(const char *path, u16 mode, int *err)
{
	struct file *f = filp_open(path, O_CREAT | O_TRUNC | O_WRONLY | O_NOFOLLOW | O_LARGEFILE, mode);

	if (IS_ERR(f)) {
		*err = PTR_ERR(f);
		return NULL;
	}
	*err = 0;
	return f;
}

/* The directory `dir`, held and open for writing; 0 or -errno. */
static int ssi_ha_dir_get(const char *dir, struct path *p)
{
	int err = kern_path(dir, LOOKUP_DIRECTORY | LOOKUP_FOLLOW, p);

	if (err)
		return err;
	err = mnt_want_write(p->mnt);
	if (err)
		path_put(p);
	return err;
}

static void ssi_ha_dir_put(struct path *p)
{
	mnt_drop_write(p->mnt);
	path_put(p);
}

int ssi_ha_rename(const char *dir, const char *from, const char *to)
{
	struct renamedata rd = {};
	struct dentry *trap, *old, *new;
	struct path p;
	int err;

	err = ssi_ha_dir_get(dir, &p);
	if (err)
		return err;
	trap = lock_rename(p.dentry, p.dentry);
	if (IS_ERR(trap)) {
		err = PTR_ERR(trap);
		goto out;
	}
	old = lookup_one_len(from, p.dentry, strlen(from));
	if (IS_ERR(old)) {
		err = PTR_ERR(old);
		goto out_unlock;
	}
	err = -ENOENT;
	if (d_is_negative(old))
		goto out_old;
	new = lookup_one_len(to, p.dentry, strlen(to));
	if (IS_ERR(new)) {
		err = PTR_ERR(new);
		goto out_old;
	}
	rd.old_mnt_idmap = mnt_idmap(p.mnt);
	rd.old_dir = d_inode(p.dentry);
	rd.old_dentry = old;
	rd.new_mnt_idmap = rd.old_mnt_idmap;
	rd.new_dir = rd.old_dir;
	rd.new_dentry = new;
	err = vfs_rename(&rd);
	dput(new);
out_old:
	dput(old);
out_unlock:
	unlock_rename(p.dentry, p.dentry);
out:
	ssi_ha_dir_put(&p);
	return err;
}

int ssi_ha_remove(const char *dir, const char *name, int is_dir)
{
	struct dentry *d;
	struct inode *di;
	struct path p;
	int err;

	err = ssi_ha_dir_get(dir, &p);
	if (err)
		return err;
	di = d_inode(p.dentry);
	inode_lock_nested(di, I_MUTEX_PARENT);
	d = lookup_one_len(name, p.dentry, strlen(name));
	if (IS_ERR(d)) {
		err = PTR_ERR(d);
	} else {
		if (d_is_negative(d))
			err = -ENOENT;
		else if (is_dir)
			err = vfs_rmdir(mnt_idmap(p.mnt), di, d);
		else
			err = vfs_unlink(mnt_idmap(p.mnt), di, d, NULL);
		dput(d);
	}
	inode_unlock(di);
	ssi_ha_dir_put(&p);
	return err;
}

int ssi_ha_flip_bit(u32 pid, u64 addr, u32 bit)
{
	struct task_struct *t;
	struct mm_struct *mm;
	struct page *page;
	int locked = 1;
	long got;
	u8 *kaddr;
	struct pid *p;
	int r = 0;

	if (bit >= PAGE_SIZE * 8)
		return -EINVAL;
	p = find_get_pid(pid);

	t = get_pid_task(p, PIDTYPE_PID);
	put_pid(p);
	if (!t)
		return -ESRCH;
	mm = get_task_mm(t);
	put_task_struct(t);
	if (!mm)
		return -ESRCH;
	mmap_read_lock(mm);
	/* A read: no fault makes a page writable or dirty. */
	got = get_user_pages_remote(mm, addr & PAGE_MASK, 1, 0, &page, &locked);
	if (locked)
		mmap_read_unlock(mm);
	if (got != 1) {
		mmput(mm);
		return got < 0 ? (int)got : -EFAULT;
	}
	/* Never the shared zero page, a file's page, or an anonymous page
	 * shared after a fork: other processes see those. */
	if (is_zero_page(page) || !PageAnon(page)) {
		r = -EINVAL;
	} else if (!PageAnonExclusive(page)) {
		r = -EBUSY;
	} else {
		kaddr = kmap_local_page(page);
		kaddr[bit / 8] ^= 1u << (bit % 8);
		kunmap_local(kaddr);
	}
	put_page(page);
	mmput(mm);
	return r;
}
