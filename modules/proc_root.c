// SPDX-License-Identifier: GPL-2.0
/*
 * The /proc root hook: glue between the VFS and the module's callbacks
 * (proc_root.h). See docs/design.md, "Kernel internals relied on", for why
 * this replaces two operations of one inode and how it is undone.
 *
 * - The root inode of the initial pid namespace's /proc mount gets copies
 *   of its operations with `lookup` and `iterate_shared` wrapped; the
 *   originals run first, so local pids, self and the proc entries always
 *   win. The file operations copy is never freed: every open file of the
 *   directory keeps a pointer to it (its readdir is pointed back to the
 *   original on removal).
 * - Readdir lists remote pids after the original's last position
 *   (PID_MAX_LIMIT + TGID_OFFSET), at that position + 1 + pid.
 * - A lookup the original misses may instantiate a remote directory: a
 *   new inode of the proc superblock owned by the process's euid/egid,
 *   whose files are rendered by the module when opened. Its dentry holds
 *   a module reference and the module's handle of the process, both given
 *   back when the dentry dies; it dies at its last use (d_delete), so
 *   nothing stale stays cached and rmmod waits for no one.
 */
#include <linux/atomic.h>
#include <linux/dcache.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/kmemleak.h>
#include <linux/magic.h>
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/proc_fs.h>
#include <linux/slab.h>
#include <linux/threads.h>
#include <linux/uidgid.h>
#include "proc_root.h"

/* fs/proc/internal.h (private): where readdir puts the first pid. */
#define SSI_TGID_OFFSET (256 + 2)
/* The position the original readdir ends at, and where remote pids start. */
#define SSI_REMOTE_BASE ((loff_t)PID_MAX_LIMIT + SSI_TGID_OFFSET)
#define SSI_REMOTE_END (SSI_REMOTE_BASE + 1 + PID_MAX_LIMIT)
/* Remote pids asked for at a time while listing. */
#define SSI_LIST_BATCH 64

static const struct ssi_proc_root_ops *ssi_ops;
static void *ssi_priv;
static struct path ssi_proc_path;
static struct inode *ssi_root;
static const struct inode_operations *ssi_orig_iop;
static const struct file_operations *ssi_orig_fop;
static struct inode_operations ssi_root_iop;
static struct file_operations *ssi_root_fop;
static bool ssi_closing;
static atomic_t ssi_inflight = ATOMIC_INIT(0);

/* Whether remote entries are offered in this mount (not with hidepid). */
static bool ssi_offered(struct super_block *sb)
{
	return !READ_ONCE(ssi_closing) && proc_sb_info(sb)->hide_pid == HIDEPID_OFF;
}

static int ssi_root_readdir(struct file *file, struct dir_context *ctx)
{
	u32 pids[SSI_LIST_BATCH];
	char name[16];
	int ret = 0, n, i;

	if (ctx->pos < SSI_REMOTE_BASE) {
		ret = ssi_orig_fop->iterate_shared(file, ctx);
		if (ret < 0 || ctx->pos < SSI_REMOTE_BASE)
			return ret;
	}
	if (ctx->pos >= SSI_REMOTE_END || !ssi_offered(file_inode(file)->i_sb))
		return 0;
	atomic_inc(&ssi_inflight);
	for (;;) {
		u32 from = ctx->pos > SSI_REMOTE_BASE ? ctx->pos - SSI_REMOTE_BASE - 1 : 0;

		n = ssi_ops->list(ssi_priv, from, pids, SSI_LIST_BATCH);
		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			int len = snprintf(name, sizeof(name), "%u", pids[i]);

			ctx->pos = SSI_REMOTE_BASE + 1 + pids[i];
			if (!dir_emit(ctx, name, len, 1, DT_DIR))
				goto out;
		}
		ctx->pos = SSI_REMOTE_BASE + 1 + pids[n - 1] + 1;
	}
	ctx->pos = SSI_REMOTE_END;
out:
	atomic_dec(&ssi_inflight);
	return 0;
}

/* A pid's name as proc_pid_lookup accepts it (name_to_int): 0 if not one. */
static u32 ssi_name_to_pid(const struct qstr *q)
{
	u32 pid = 0;
	unsigned int i;

	if (q->len == 0 || q->len > 10 || (q->len > 1 && q->name[0] == '0'))
		return 0;
	for (i = 0; i < q->len; i++) {
		if (q->name[i] < '0' || q->name[i] > '9')
			return 0;
		pid = pid * 10 + (q->name[i] - '0');
		if (pid >= PID_MAX_LIMIT)
			return 0;
	}
	return pid;
}

static const struct inode_operations ssi_remote_dir_iop;
static const struct file_operations ssi_remote_dir_fop;
static const struct file_operations ssi_remote_file_fop;

static void ssi_remote_release(struct dentry *dentry)
{
	if (dentry->d_fsdata)
		ssi_ops->put(ssi_priv, dentry->d_fsdata);
	module_put(THIS_MODULE);
}

static const struct dentry_operations ssi_remote_dops = {
	.d_delete = always_delete_dentry,
	.d_release = ssi_remote_release,
};

static struct inode *ssi_new_inode(struct super_block *sb, umode_t mode, kuid_t uid, kgid_t gid)
{
	struct inode *inode = new_inode(sb);

	if (!inode)
		return NULL;
	inode->i_ino = get_next_ino();
	inode->i_mode = mode;
	inode->i_uid = uid;
	inode->i_gid = gid;
	simple_inode_init_ts(inode);
	return inode;
}

static struct dentry *ssi_remote_dir(struct inode *dir, struct dentry *dentry, u32 pid)
{
	struct inode *inode;
	void *handle;
	u32 uid, gid;

	handle = ssi_ops->get(ssi_priv, pid, &uid, &gid);
	if (!handle)
		return ERR_PTR(-ENOENT);
	if (!try_module_get(THIS_MODULE)) {
		ssi_ops->put(ssi_priv, handle);
		return ERR_PTR(-ENOENT);
	}
	/* From here on the dentry's release gives both back. */
	dentry->d_fsdata = handle;
	d_set_d_op(dentry, &ssi_remote_dops);
	inode = ssi_new_inode(dir->i_sb, S_IFDIR | 0555, make_kuid(&init_user_ns, uid), make_kgid(&init_user_ns, gid));
	if (!inode)
		return ERR_PTR(-ENOMEM);
	inode->i_op = &ssi_remote_dir_iop;
	inode->i_fop = &ssi_remote_dir_fop;
	set_nlink(inode, 2);
	return d_splice_alias(inode, dentry);
}

static const struct file_operations ssi_root_file_fop;

/*
 * A file of the root served by the module (root_file index `index`); the
 * caller took a module reference, which the dentry's release gives back.
 */
static struct dentry *ssi_root_file(struct inode *dir, struct dentry *dentry, int index)
{
	struct inode *inode;

	dentry->d_fsdata = NULL;
	d_set_d_op(dentry, &ssi_remote_dops);
	inode = ssi_new_inode(dir->i_sb, S_IFREG | 0444, GLOBAL_ROOT_UID, GLOBAL_ROOT_GID);
	if (!inode)
		return ERR_PTR(-ENOMEM);
	inode->i_fop = &ssi_root_file_fop;
	inode->i_private = (void *)(long)index;
	return d_splice_alias(inode, dentry);
}

static struct dentry *ssi_root_lookup(struct inode *dir, struct dentry *dentry, unsigned int flags)
{
	struct dentry *res;
	u32 pid;

	if (ssi_offered(dir->i_sb) && dentry->d_name.len < 32 && !ssi_name_to_pid(&dentry->d_name)) {
		char name[32];
		int index;

		memcpy(name, dentry->d_name.name, dentry->d_name.len);
		name[dentry->d_name.len] = 0;
		atomic_inc(&ssi_inflight);
		index = ssi_ops->root_file(ssi_priv, name);
		if (index >= 0 && try_module_get(THIS_MODULE)) {
			res = ssi_root_file(dir, dentry, index);
			atomic_dec(&ssi_inflight);
			return res;
		}
		atomic_dec(&ssi_inflight);
	}
	res = ssi_orig_iop->lookup(dir, dentry, flags);

	if (res != ERR_PTR(-ENOENT) || !ssi_offered(dir->i_sb))
		return res;
	pid = ssi_name_to_pid(&dentry->d_name);
	if (!pid)
		return res;
	atomic_inc(&ssi_inflight);
	res = ssi_remote_dir(dir, dentry, pid);
	atomic_dec(&ssi_inflight);
	return res;
}

static struct dentry *ssi_remote_lookup(struct inode *dir, struct dentry *dentry, unsigned int flags)
{
	struct inode *inode;
	const char *name;
	int i;

	for (i = 0; (name = ssi_ops->file_name(ssi_priv, i)); i++)
		if (strlen(name) == dentry->d_name.len && !memcmp(name, dentry->d_name.name, dentry->d_name.len))
			break;
	if (!name)
		return ERR_PTR(-ENOENT);
	d_set_d_op(dentry, &simple_dentry_operations);
	inode = ssi_new_inode(dir->i_sb, S_IFREG | 0444, dir->i_uid, dir->i_gid);
	if (!inode)
		return ERR_PTR(-ENOMEM);
	inode->i_fop = &ssi_remote_file_fop;
	inode->i_private = (void *)(long)i;
	return d_splice_alias(inode, dentry);
}

static int ssi_remote_readdir(struct file *file, struct dir_context *ctx)
{
	const char *name;

	if (!dir_emit_dots(file, ctx))
		return 0;
	while ((name = ssi_ops->file_name(ssi_priv, ctx->pos - 2))) {
		if (!dir_emit(ctx, name, strlen(name), 1, DT_REG))
			return 0;
		ctx->pos++;
	}
	return 0;
}

/* A file's text, rendered when it is opened. */
struct ssi_rendered {
	size_t len;
	char data[];
};

/*
 * Renders file `index` (of remote directory `handle`, or of the root when
 * `handle` is NULL) into a buffer the open file keeps, asking again with
 * the size the module said when it did not fit.
 */
static int ssi_open_rendered(struct file *file, void *handle, int index)
{
	size_t cap = PAGE_SIZE - sizeof(struct ssi_rendered);
	struct ssi_rendered *r;
	long n;
	int tries;

	for (tries = 0; tries < 4; tries++) {
		r = kvmalloc(sizeof(*r) + cap, GFP_KERNEL);
		if (!r)
			return -ENOMEM;
		n = handle ? ssi_ops->render(ssi_priv, handle, index, r->data, cap)
			   : ssi_ops->render_root(ssi_priv, index, r->data, cap);
		if (n >= 0 && n <= cap) {
			r->len = n;
			file->private_data = r;
			return 0;
		}
		kvfree(r);
		if (n < 0)
			return n;
		cap = n;
	}
	return -EAGAIN;
}

static int ssi_remote_open(struct inode *inode, struct file *file)
{
	return ssi_open_rendered(file, file->f_path.dentry->d_parent->d_fsdata, (long)inode->i_private);
}

static int ssi_root_file_open(struct inode *inode, struct file *file)
{
	return ssi_open_rendered(file, NULL, (long)inode->i_private);
}

static ssize_t ssi_remote_read(struct file *file, char __user *buf, size_t len, loff_t *pos)
{
	struct ssi_rendered *r = file->private_data;

	return simple_read_from_buffer(buf, len, pos, r->data, r->len);
}

static int ssi_remote_file_release(struct inode *inode, struct file *file)
{
	kvfree(file->private_data);
	return 0;
}

static const struct inode_operations ssi_remote_dir_iop = {
	.lookup = ssi_remote_lookup,
};

static const struct file_operations ssi_remote_dir_fop = {
	.read = generic_read_dir,
	.iterate_shared = ssi_remote_readdir,
	.llseek = generic_file_llseek,
};

static const struct file_operations ssi_root_file_fop = {
	.open = ssi_root_file_open,
	.read = ssi_remote_read,
	.llseek = default_llseek,
	.release = ssi_remote_file_release,
};

static const struct file_operations ssi_remote_file_fop = {
	.open = ssi_remote_open,
	.read = ssi_remote_read,
	.llseek = default_llseek,
	.release = ssi_remote_file_release,
};

int ssi_proc_root_install(const struct ssi_proc_root_ops *ops, void *priv)
{
	struct super_block *sb;
	struct inode *inode;
	int r;

	if (ssi_root)
		return -EBUSY;
	r = kern_path("/proc", LOOKUP_FOLLOW, &ssi_proc_path);
	if (r)
		return r;
	sb = ssi_proc_path.dentry->d_sb;
	if (ssi_proc_path.dentry != ssi_proc_path.mnt->mnt_root || sb->s_magic != PROC_SUPER_MAGIC ||
	    proc_sb_info(sb)->pid_ns != &init_pid_ns) {
		path_put(&ssi_proc_path);
		return -ENOENT;
	}
	ssi_root_fop = kmalloc(sizeof(*ssi_root_fop), GFP_KERNEL);
	if (!ssi_root_fop) {
		path_put(&ssi_proc_path);
		return -ENOMEM;
	}
	/* Open files of /proc point at it after rmmod: never freed. */
	kmemleak_not_leak(ssi_root_fop);
	ssi_ops = ops;
	ssi_priv = priv;
	WRITE_ONCE(ssi_closing, false);
	inode = d_inode(ssi_proc_path.dentry);
	inode_lock(inode);
	ssi_orig_iop = inode->i_op;
	ssi_orig_fop = inode->i_fop;
	ssi_root_iop = *ssi_orig_iop;
	ssi_root_iop.lookup = ssi_root_lookup;
	*ssi_root_fop = *ssi_orig_fop;
	ssi_root_fop->iterate_shared = ssi_root_readdir;
	WRITE_ONCE(inode->i_op, &ssi_root_iop);
	WRITE_ONCE(inode->i_fop, ssi_root_fop);
	inode_unlock(inode);
	ssi_root = inode;
	return 0;
}

void ssi_proc_root_forget(const char *name)
{
	struct dentry *d;

	if (!ssi_root)
		return;
	d = d_hash_and_lookup(ssi_proc_path.dentry, &(struct qstr)QSTR_INIT(name, strlen(name)));
	if (IS_ERR_OR_NULL(d))
		return;
	d_invalidate(d);
	dput(d);
}

void ssi_proc_root_remove(void)
{
	struct inode *inode = ssi_root;

	if (!inode)
		return;
	WRITE_ONCE(ssi_closing, true);
	/* Readdir and lookup run under the inode's lock, shared. */
	inode_lock(inode);
	WRITE_ONCE(inode->i_op, ssi_orig_iop);
	WRITE_ONCE(inode->i_fop, ssi_orig_fop);
	WRITE_ONCE(ssi_root_fop->iterate_shared, ssi_orig_fop->iterate_shared);
	inode_unlock(inode);
	/* Path walks in RCU mode may still hold the old operations. */
	synchronize_rcu();
	while (atomic_read(&ssi_inflight))
		msleep(1);
	ssi_root = NULL;
	path_put(&ssi_proc_path);
}
