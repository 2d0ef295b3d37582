/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C glue for the process space (the Rust files of procspace/): the raw
 * facts of a process, read from its task, its thread group and its memory
 * where /proc reads them. What is listed is decided in Rust.
 */
#ifndef SSI_PROCS_HELPERS_H
#define SSI_PROCS_HELPERS_H

#include <linux/types.h>

/* Bytes of a task's name (TASK_COMM_LEN). */
#define SSI_PROC_COMM 16

/* One thread-group leader, as its task shows it. Pids, uids and gids are
 * those of the initial namespaces. */
struct ssi_proc_facts {
	u32 tgid;
	/* The real parent's tgid (0: none). */
	u32 ppid;
	u32 uid;
	u32 gid;
	/* Threads of the group. */
	u32 threads;
	/* Bytes of the command line copied. */
	u32 cmdline_len;
	/* CPU time of the whole thread group (dead threads too), in ns. */
	u64 cpu_ns;
	/* Resident memory, in bytes (0: no memory, a zombie or kernel thread). */
	u64 rss_bytes;
	/* When it started, in ns of the boot clock (start_boottime). */
	u64 start_boottime_ns;
	/* The state letter of /proc/PID/stat. */
	u8 state;
	/* PF_KTHREAD: a kernel thread. */
	u8 kthread;
	/* Its real parent is a kernel thread. */
	u8 parent_kthread;
	u8 pad;
	/* Its name, NUL-padded. */
	u8 comm[SSI_PROC_COMM];
};

/* The thread-group leader of the initial pid namespace with the lowest tgid
 * above `after`: fills `f`, and its command line (the raw NUL-separated
 * bytes from arg_start, at most `len`) into `cmdline`; returns 1, or 0 if
 * there is none. May sleep (reads the process's memory). */
int ssi_procs_next(u32 after, struct ssi_proc_facts *f, u8 *cmdline, u32 len);
/* Nanoseconds of the boot clock (CLOCK_BOOTTIME) now. */
u64 ssi_boottime_ns(void);

/* A process a signal may be for: its tgid and the uids the permission rule
 * reads (initial user namespace). */
struct ssi_signal_target {
	u32 tgid;
	u32 uid;
	u32 suid;
	u32 pad;
};

/* The task with pid `pid` in the initial pid namespace (a thread id too):
 * fills `t`; 0, or -ESRCH if there is none. */
int ssi_signal_target(u32 pid, struct ssi_signal_target *t);
/* The processes of process group `pgid`: fills the first `max` of `t`;
 * returns how many there are (0: no such group). */
u32 ssi_signal_group(u32 pgid, struct ssi_signal_target *t, u32 max);
/* send_sig_info(sig) to the task with pid `pid` with a siginfo SI_USER
 * carrying `sender_pid` and `sender_uid`: 0, -ESRCH or another negative
 * errno. No permission check. */
int ssi_signal_send(u32 pid, int sig, u32 sender_pid, u32 sender_uid);

#endif
