// SPDX-License-Identifier: GPL-2.0
/*
 * C glue for checkpoint/restart (see task_helpers.h), the files part: a
 * process's open files, their paths and identity, descriptors installed
 * at restore, reads and writes into user memory, the controlling
 * terminal's settings. No policy here: what a file is and whether it can
 * be captured is decided in Rust (proto/src/classify.rs, capture.rs).
 */
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/namei.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/tty.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include "task_helpers.h"
#include "../modules/helpers.h"

struct file *ssi_next_file(unsigned int fd, unsigned int *fd_out, u32 *cloexec)
{
	struct files_struct *files = current->files;
	struct file *f = NULL;
	unsigned int max;

	if (!files)
		return NULL;
	spin_lock(&files->file_lock);
	max = files_fdtable(files)->max_fds;
	for (; fd < max; fd++) {
		f = files_lookup_fd_locked(files, fd);
		if (f) {
			get_file(f);
			*fd_out = fd;
			*cloexec = close_on_exec(fd, files);
			break;
		}
	}
	spin_unlock(&files->file_lock);
	return f;
}

void ssi_file_info(struct file *f, struct ssi_file_info *o)
{
	struct inode *inode = file_inode(f);
	umode_t m = inode->i_mode;
	struct timespec64 mt = inode_get_mtime(inode);

	memset(o, 0, sizeof(*o));
	o->mode = m;
	o->module_stream = ssi_is_stream_file(f);
	o->flags = f->f_flags;
	o->major = MAJOR(inode->i_rdev);
	o->minor = MINOR(inode->i_rdev);
	o->pos = f->f_pos;
	o->size = i_size_read(inode);
	o->ino = inode->i_ino;
	o->mtime_sec = mt.tv_sec;
	o->mtime_nsec = mt.tv_nsec;
	o->readable = !!(f->f_mode & FMODE_READ);
	o->writable = !!(f->f_mode & FMODE_WRITE);
}

static int path_to_buf(const struct path *p, char *buf, int len)
{
	char *s = d_path(p, buf, len);
	int n;

	if (IS_ERR(s))
		return PTR_ERR(s);
	n = strlen(s);
	memmove(buf, s, n + 1);
	return n;
}

int ssi_file_path(struct file *f, char *buf, int len)
{
	return path_to_buf(&f->f_path, buf, len);
}

int ssi_path_identity(const char *name, u64 *size, s64 *mtime_sec, u32 *mtime_nsec, u64 *ino)
{
	struct path p;
	struct kstat st;
	int r = kern_path(name, LOOKUP_FOLLOW, &p);

	if (r)
		return r;
	r = vfs_getattr(&p, &st, STATX_BASIC_STATS, AT_STATX_SYNC_AS_STAT);
	path_put(&p);
	if (r)
		return r;
	*size = st.size;
	*mtime_sec = st.mtime.tv_sec;
	*mtime_nsec = st.mtime.tv_nsec;
	*ino = st.ino;
	return 0;
}

void ssi_fput(struct file *f)
{
	fput(f);
}

int ssi_install_fd(struct file *f, unsigned int fd, u32 cloexec)
{
	unsigned int flags = cloexec ? O_CLOEXEC : 0;
	int *held, nheld = 0, got, r = -EBUSY, i;

	held = kmalloc_array(fd + 1, sizeof(*held), GFP_KERNEL);
	if (!held)
		return -ENOMEM;
	/* Reserve the free descriptors below `fd` until `fd` comes up. */
	for (;;) {
		got = get_unused_fd_flags(flags);
		if (got < 0) {
			r = got;
			break;
		}
		if (got == fd) {
			fd_install(fd, f);
			r = 0;
			break;
		}
		if (got > fd || nheld > fd) {
			put_unused_fd(got);
			break;
		}
		held[nheld++] = got;
	}
	for (i = 0; i < nheld; i++)
		put_unused_fd(held[i]);
	kfree(held);
	return r;
}

struct file *ssi_open_path(const char *path, u32 flags, int *err)
{
	struct file *f = filp_open(path, flags, 0);

	if (IS_ERR(f)) {
		*err = PTR_ERR(f);
		return NULL;
	}
	*err = 0;
	return f;
}

void ssi_file_set_pos(struct file *f, u64 pos)
{
	f->f_pos = pos;
}

long ssi_file_read_user(struct file *f, u64 ubuf, u64 len, s64 *pos)
{
	loff_t p = *pos;
	long r;

	if (f->f_op->read) {
		r = f->f_op->read(f, (char __user *)ubuf, len, &p);
	} else if (f->f_op->read_iter) {
		/* What vfs_read does for a file with only read_iter (tmpfs). */
		struct kiocb kiocb;
		struct iov_iter iter;

		init_sync_kiocb(&kiocb, f);
		kiocb.ki_pos = p;
		iov_iter_ubuf(&iter, ITER_DEST, (void __user *)ubuf, len);
		r = f->f_op->read_iter(&kiocb, &iter);
		p = kiocb.ki_pos;
	} else {
		return -EINVAL;
	}
	*pos = p;
	return r;
}

long ssi_file_write_user(struct file *f, u64 ubuf, u64 len, s64 *pos)
{
	loff_t p = *pos;
	long r;

	if (!f->f_op->write)
		return -EINVAL;
	r = f->f_op->write(f, (const char __user *)ubuf, len, &p);
	*pos = p;
	return r;
}

int ssi_close_fd(unsigned int fd)
{
	return close_fd(fd);
}

int ssi_cwd_path(char *buf, int len)
{
	struct path p;
	int r;

	get_fs_pwd(current->fs, &p);
	r = path_to_buf(&p, buf, len);
	path_put(&p);
	return r;
}

int ssi_root_path(char *buf, int len)
{
	struct path p;
	int r;

	get_fs_root(current->fs, &p);
	r = path_to_buf(&p, buf, len);
	path_put(&p);
	return r;
}

/* The controlling tty of current if `f` is that terminal (device numbers
 * compared, so /dev/tty and the pts itself both count), with a reference. */
static struct tty_struct *ssi_ctty_of(struct file *f)
{
	struct tty_struct *tty = get_current_tty();
	struct inode *inode = file_inode(f);

	if (!tty)
		return NULL;
	if (!S_ISCHR(inode->i_mode) ||
	    (inode->i_rdev != tty_devnum(tty) && inode->i_rdev != MKDEV(TTYAUX_MAJOR, 0))) {
		tty_kref_put(tty);
		return NULL;
	}
	return tty;
}

int ssi_ctty_settings(struct file *f, u8 termios2[44], u8 winsize[8])
{
	struct tty_struct *tty = ssi_ctty_of(f);
	struct ktermios kt;
	struct winsize ws;
	u32 w[4];

	if (!tty)
		return 0;
	down_read(&tty->termios_rwsem);
	kt = tty->termios;
	up_read(&tty->termios_rwsem);
	mutex_lock(&tty->winsize_mutex);
	ws = tty->winsize;
	mutex_unlock(&tty->winsize_mutex);
	tty_kref_put(tty);

	w[0] = kt.c_iflag;
	w[1] = kt.c_oflag;
	w[2] = kt.c_cflag;
	w[3] = kt.c_lflag;
	memcpy(termios2, w, 16);
	termios2[16] = kt.c_line;
	BUILD_BUG_ON(NCCS != 19);
	memcpy(termios2 + 17, kt.c_cc, NCCS);
	memcpy(termios2 + 36, &kt.c_ispeed, 4);
	memcpy(termios2 + 40, &kt.c_ospeed, 4);
	BUILD_BUG_ON(sizeof(ws) != 8);
	memcpy(winsize, &ws, 8);
	return 1;
}

int ssi_ctty_set_termios(struct file *f, const u8 termios2[44])
{
	struct tty_struct *tty = ssi_ctty_of(f);
	struct ktermios kt;
	u32 w[4];
	int ret;

	if (!tty)
		return -ENOTTY;
	down_read(&tty->termios_rwsem);
	kt = tty->termios;
	up_read(&tty->termios_rwsem);
	memcpy(w, termios2, 16);
	kt.c_iflag = w[0];
	kt.c_oflag = w[1];
	kt.c_cflag = w[2];
	kt.c_lflag = w[3];
	memcpy(kt.c_cc, termios2 + 17, NCCS);
	memcpy(&kt.c_ispeed, termios2 + 36, 4);
	memcpy(&kt.c_ospeed, termios2 + 40, 4);
	/* termios2[16], the line discipline, stays the restarting side's. */
	ret = tty_set_termios(tty, &kt);
	tty_kref_put(tty);
	return ret;
}
