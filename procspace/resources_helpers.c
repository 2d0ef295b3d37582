// SPDX-License-Identifier: GPL-2.0
/*
 * C glue for the merged resources; see resources_helpers.h.
 *
 * The private mount is a new procfs superblock (get_tree_nodev): its root
 * inode is not the hooked one of the /proc mount, so its meminfo, stat,
 * loadavg and cpuinfo are the kernel's own show functions, whatever the
 * hook serves in /proc.
 */
#include <linux/err.h>
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include "resources_helpers.h"

void *ssi_kproc_mount(int *err)
{
	struct file_system_type *type = get_fs_type("proc");
	struct vfsmount *mnt;

	/* procfs is built in: get_fs_type took no module reference. */
	if (!type) {
		*err = -ENODEV;
		return NULL;
	}
	mnt = kern_mount(type);
	if (IS_ERR(mnt)) {
		*err = PTR_ERR(mnt);
		return NULL;
	}
	*err = 0;
	return mnt;
}

void ssi_kproc_unmount(void *mnt)
{
	if (mnt)
		kern_unmount(mnt);
}

long ssi_kproc_read(void *mnt, const char *name, u8 *buf, size_t len)
{
	struct file *f = file_open_root_mnt(mnt, name, O_RDONLY, 0);
	loff_t pos = 0;
	size_t got = 0;
	ssize_t n;

	if (IS_ERR(f))
		return PTR_ERR(f);
	while (got < len) {
		n = kernel_read(f, buf + got, len - got, &pos);
		if (n < 0) {
			filp_close(f, NULL);
			return n;
		}
		if (n == 0)
			break;
		got += n;
	}
	filp_close(f, NULL);
	return got;
}
