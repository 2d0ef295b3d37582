/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The /proc root hook (issue 20): the initial pid namespace's /proc also
 * lists processes that run on other nodes, as directories the module
 * serves. Glue only: which pids exist and what their files say come from
 * the callbacks (modules/proc_root.rs, procspace/).
 */
#ifndef SSI_PROC_ROOT_H
#define SSI_PROC_ROOT_H

#include <linux/types.h>

struct ssi_proc_root_ops {
	/*
	 * Up to `max` remote pids at or above `from`, ascending, into `pids`;
	 * returns how many (0: none left). Never a pid this node has.
	 */
	int (*list)(void *priv, u32 from, u32 *pids, int max);
	/*
	 * The remote process `pid` (a reference the caller gives back with
	 * `put`) and its owner (euid, egid); NULL if there is none.
	 */
	void *(*get)(void *priv, u32 pid, u32 *uid, u32 *gid);
	void (*put)(void *priv, void *dir);
	/* The name of file `index` of a remote directory; NULL past the last. */
	const char *(*file_name)(void *priv, int index);
	/*
	 * Writes file `index` of `dir` into `buf` (at most `cap` bytes) and
	 * returns its whole length (more than `cap`: call again with more),
	 * or a negative errno.
	 */
	long (*render)(void *priv, void *dir, int index, char *buf, size_t cap);
	/*
	 * Files of the /proc root the module serves instead of the kernel's
	 * (merged resources): the index of `name` (NUL-terminated), or -1 to
	 * leave it to the kernel. Asked before the original lookup.
	 */
	int (*root_file)(void *priv, const char *name);
	/* Writes root file `index`, as `render` does. */
	long (*render_root)(void *priv, int index, char *buf, size_t cap);
};

/*
 * Replaces the lookup and readdir of the root of /proc (the initial pid
 * namespace's mount at "/proc"). -ENOENT if /proc is not that, -EBUSY if
 * installed already.
 */
int ssi_proc_root_install(const struct ssi_proc_root_ops *ops, void *priv);
/*
 * Puts the original operations back and waits until no call of the
 * module's runs; remote directories still in use keep the module (each
 * holds a reference), so this is called only when none is.
 */
void ssi_proc_root_remove(void);
/*
 * Forgets the cached dentry of `name` in the hooked /proc root, if any, so
 * that its next lookup asks `root_file` again (after a change of what the
 * module serves). Nothing if the hook is not installed.
 */
void ssi_proc_root_forget(const char *name);

#endif
