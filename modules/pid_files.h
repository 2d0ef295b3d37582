/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pid files hook (issue 20): some files of a local /proc/PID directory
 * are served by the module for processes that take part in a migration,
 * so that every node shows the process as it is where it runs: the deputy
 * at home (asleep in the module, its memory unmapped) shows the running
 * copy's stat, statm, status and command line; the copy shows its home
 * family (parent, group, session) instead of the restart program's.
 * Glue only: which processes and what their files say come from the
 * callbacks (modules/pid_files.rs, procspace/).
 */
#ifndef SSI_PID_FILES_H
#define SSI_PID_FILES_H

#include <linux/types.h>

/* The files hooked, in the order of the remote directories' files
 * (procspace/proc_view.rs): stat, statm, status, cmdline. */
#define SSI_PID_FILE_STAT 0
#define SSI_PID_FILE_STATM 1
#define SSI_PID_FILE_STATUS 2
#define SSI_PID_FILE_CMDLINE 3
#define SSI_PID_FILES 4

struct ssi_pid_files_ops {
	/* Whether the module serves file `file` of process `tgid` (the
	 * initial pid namespace's number). May sleep. */
	int (*serves)(void *priv, u32 tgid, int file);
	/*
	 * Writes file `file` of `tgid` into `buf` (at most `cap` bytes) and
	 * returns its whole length, -ENOENT to leave it to the kernel after
	 * all, or another negative errno. May sleep.
	 */
	long (*render)(void *priv, u32 tgid, int file, char *buf, size_t cap);
};

/*
 * Hooks the kernel's functions behind the four files (ftrace, IPMODIFY).
 * -EOPNOTSUPP without ftrace with registers; -EBUSY if hooked already.
 */
int ssi_pid_files_arm(const struct ssi_pid_files_ops *ops, void *priv);
/* Removes the hook and waits until no task runs the module's code for it. */
void ssi_pid_files_disarm(void);

#endif
