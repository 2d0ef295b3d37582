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

/* One thread-group leader, as /proc/PID/{stat,statm,status} show it
 * (fs/proc/array.c, task_mmu.c). Pids, uids and gids are those of the
 * initial namespaces; memory sizes in bytes. */
struct ssi_proc_facts {
	u32 tgid;
	/* The real parent's tgid (0: none). */
	u32 ppid;
	/* Real, effective, saved and file-system ids. */
	u32 uid, euid, suid, fsuid;
	u32 gid, egid, sgid, fsgid;
	/* Process group and session (0: the signal lock was gone). */
	u32 pgrp;
	u32 session;
	/* Controlling terminal (new_encode_dev; 0: none) and its foreground
	 * process group (-1: no terminal). */
	u32 tty_nr;
	s32 tpgid;
	/* PF_* flags. */
	u32 task_flags;
	/* The CPU it last ran on. */
	u32 processor;
	/* prio - MAX_RT_PRIO (as task_prio), task_nice. */
	s32 priority;
	s32 nice;
	u32 rt_priority;
	u32 policy;
	s32 exit_signal;
	/* Its umask, -1 if it has no fs_struct. */
	s32 umask;
	/* Threads of the group. */
	u32 threads;
	/* Bytes of the command line copied. */
	u32 cmdline_len;
	/* CPU time of the whole thread group (dead threads too), in ns (the
	 * scheduler's runtime), and the tick-sampled user and system times
	 * whose ratio splits it (as cputime_adjust). */
	u64 cpu_ns;
	u64 raw_utime_ns;
	u64 raw_stime_ns;
	/* Time its live threads waited for a CPU while runnable (sched_info's
	 * run_delay; 0 without CONFIG_SCHED_INFO). */
	u64 run_delay_ns;
	/* Page faults of the whole group (dead threads too). */
	u64 minflt;
	u64 majflt;
	/* When it started, in ns of the boot clock (start_boottime). */
	u64 start_boottime_ns;
	/* RLIMIT_RSS's soft limit. */
	u64 rsslim;
	/* Memory (all 0 without an mm: a zombie or kernel thread): VmSize,
	 * VmPeak, RssAnon, RssFile, RssShmem, VmHWM, VmExe, VmLib, VmData,
	 * VmStk, VmLck, VmPin, VmSwap, VmPTE. */
	u64 vsize;
	u64 hiwater_vm;
	u64 rss_anon;
	u64 rss_file;
	u64 rss_shmem;
	u64 hiwater_rss;
	u64 text;
	u64 lib;
	u64 data;
	u64 stack;
	u64 locked;
	u64 pinned;
	u64 swap;
	u64 pte;
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
