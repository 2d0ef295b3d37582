/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C glue for checkpoint/restart: reads and writes the parts of the current
 * task that are static inlines, macros or fields behind locks. Each helper
 * acts on `current` (capture runs in the target's own context, restore in
 * the restoring process) and only copies plain values in or out; the logic
 * is in Rust (the .rs files of checkpoint/).
 */
#ifndef SSI_TASK_HELPERS_H
#define SSI_TASK_HELPERS_H

#include <linux/types.h>

struct file;
struct task_struct;
struct callback_head;
struct wait_queue_head;

#define SSI_MAX_GROUPS 64
#define SSI_NLIMITS 16
#define SSI_AUXV_WORDS 128
#define SSI_NGREG 27
#define SSI_SIGINFO_LEN 128

/* Identity, credentials and limits of current. */
struct ssi_task_state {
	u32 pid, tgid, nr_threads, ptraced;
	u8 comm[16];
	u32 uid, euid, suid, fsuid, gid, egid, sgid, fsgid;
	u32 ngroups, groups_truncated;
	u32 groups[SSI_MAX_GROUPS];
	u64 cap_inheritable, cap_permitted, cap_effective, cap_bset, cap_ambient;
	u32 securebits, no_new_privs, personality, umask;
	u64 rlim_cur[SSI_NLIMITS], rlim_max[SSI_NLIMITS];
	/* Interval timers: remaining time and interval (0: disarmed); ITIMER_VIRTUAL
	 * and ITIMER_PROF count process CPU time; whether POSIX timers exist. */
	u64 it_real_value_ns, it_real_interval_ns;
	u64 it_virt_value_ns, it_virt_interval_ns, it_prof_value_ns, it_prof_interval_ns;
	u32 posix_timers, pad0;
	u32 exit_signal, pdeath_signal;
	u64 blocked;
	u64 sas_ss_sp, sas_ss_size;
	u32 sas_ss_flags, pad;
	u64 clear_child_tid, robust_list, robust_list_len;
	u64 rseq, rseq_len, rseq_sig;
};
void ssi_task_state(struct ssi_task_state *out);

/* Address space layout of current (zero when it has no mm). */
struct ssi_mm_layout {
	u64 start_code, end_code, start_data, end_data, start_brk, brk, start_stack;
	u64 arg_start, arg_end, env_start, env_end;
	u32 auxv_words, map_count;
	u64 auxv[SSI_AUXV_WORDS];
};
int ssi_mm_layout(struct ssi_mm_layout *out);
/* Sets the layout fields (not the auxv) of current's mm. */
int ssi_mm_set_layout(const struct ssi_mm_layout *in);
/*
 * Makes `exe` current's executable file (/proc/PID/exe), as
 * replace_mm_exe_file (not exported) does once the old one is unmapped.
 */
int ssi_mm_set_exe_file(struct file *exe);
/* Makes current's thread group look `age_ns` old (its start times). */
void ssi_current_set_age(u64 age_ns);

/* One VMA of current: the first one ending above `addr`, with the facts
 * its classification (proto/src/classify.rs) needs. */
#define SSI_VMA_NAME_LEN 32
struct ssi_vma {
	u64 start, end, vm_flags, pgoff;
	/* The mapped file with a reference (caller fputs), or NULL. */
	struct file *file;
	/* The magic of the mapped file's superblock (0 without a file). */
	u64 file_magic;
	/* current's mm->start_stack, start_brk and brk. */
	u64 start_stack, start_brk, brk;
	/* Whether vm_ops->name names the mapping; the name (NUL-terminated,
	 * cut to fit). */
	u32 has_name, pad;
	u8 name[SSI_VMA_NAME_LEN];
};
/* 0 and *out filled, or -ENOENT past the last VMA. */
int ssi_vma_find(u64 addr, struct ssi_vma *out);

/* Whether the page at `addr` of current is a private anonymous copy (written
 * since it was mapped from its file): 1, 0, or a negative errno. */
int ssi_page_is_anon(u64 addr);
/*
 * Holds (takes a reference on) the n pages of current's memory from addr,
 * faulting them in for reading; their kernel addresses go to data. Returns
 * how many were held, from the first (fewer at an address GUP cannot
 * take), or a negative errno. Release them with ssi_release_pages.
 */
int ssi_hold_user_pages(u64 addr, unsigned int n, void **pages, void **data);
void ssi_release_pages(void **pages, unsigned int n);

/* The user registers of current as NT_PRSTATUS (struct user_regs_struct). */
void ssi_get_user_regs(u64 regs[SSI_NGREG]);
/* Puts them back (restore), with the user segment selectors and the
 * user-changeable flags only; fs and gs bases through the thread state. */
int ssi_set_user_regs(const u64 regs[SSI_NGREG]);
/* Sets current's user rax once the running system call has stored its own
 * (int-sized, for ioctl) return value: a task work that runs on the way
 * back to user mode before any signal frame is built. 0 or -errno. */
int ssi_set_ax_on_return(u64 ax);
/* The NT_X86_XSTATE regset of current: returns its length or -errno. */
int ssi_get_xstate(void *buf, unsigned int len);
int ssi_xstate_size(void);
/* Loads it into current (restore): 0 or -errno. */
int ssi_set_xstate(const void *buf, unsigned int len);

/* Signal handlers: sig 1..64. */
void ssi_get_sigaction(int sig, u64 *handler, u64 *flags, u64 *restorer, u64 *mask);
int ssi_set_sigaction(int sig, u64 handler, u64 flags, u64 restorer, u64 mask);
/* Pending signals, private (shared=0) or process-wide (shared=1): fills up to
 * max entries of SSI_SIGINFO_LEN bytes (a user siginfo_t); returns the count,
 * or -E2BIG when there are more. */
int ssi_get_pending(int shared, u8 *out, int max);
/* Queues a signal for current from a saved user siginfo_t. */
int ssi_queue_signal(const u8 *info);
void ssi_set_blocked(u64 mask);
void ssi_set_altstack(u64 sp, u64 size, u32 flags);
void ssi_set_clear_child_tid(u64 addr);
void ssi_set_robust_list(u64 head, u64 len);
/* The restartable-sequences area: glibc registers one per thread; it lives
 * in the restored memory, and the kernel writes to it on every return to
 * user mode, so it must point there before the restored process runs. */
void ssi_set_rseq(u64 addr, u32 len, u32 sig);
/* ITIMER_REAL: remaining value and interval in ns. */
void ssi_set_itimer_real(u64 value_ns, u64 interval_ns);

/* Open files of current: the first fd >= `fd` with a reference (caller fputs),
 * or NULL. *fd_out gets its number, *cloexec its close-on-exec flag. */
struct file *ssi_next_file(unsigned int fd, unsigned int *fd_out, u32 *cloexec);
/* What a file is: its inode's mode and device numbers (i_rdev), whether
 * it is one of the module's stream files (modules/helpers.h), and its
 * open flags, position, size, inode number, mtime and access mode. */
struct ssi_file_info {
	u32 mode, flags, major, minor;
	u64 pos, size, ino;
	s64 mtime_sec;
	u32 mtime_nsec, readable, writable, module_stream;
};
void ssi_file_info(struct file *f, struct ssi_file_info *out);
/* The file's path into buf (NUL-terminated); its length or -errno. */
int ssi_file_path(struct file *f, char *buf, int len);
/* Identity of the file at `path` (size, mtime, inode): 0 or -errno. */
int ssi_path_identity(const char *path, u64 *size, s64 *mtime_sec, u32 *mtime_nsec, u64 *ino);
void ssi_fput(struct file *f);
/* If `f` is the controlling terminal of current: its settings as an x86_64
 * `struct termios2` (44 bytes) and `struct winsize` (8 bytes), and 1;
 * otherwise 0 (another tty's settings are not read). */
int ssi_ctty_settings(struct file *f, u8 termios2[44], u8 winsize[8]);
/* If `f` is the controlling terminal of current: sets its termios from a
 * `struct termios2`, and returns 0; -ENOTTY otherwise. */
int ssi_ctty_set_termios(struct file *f, const u8 termios2[44]);
/* Installs `f` (reference taken over) at exactly descriptor `fd` of current,
 * which must be free: 0 or -errno. */
int ssi_install_fd(struct file *f, unsigned int fd, u32 cloexec);

/* Restore: the address space of current. */
/* Unmaps [start, end): 0 or -errno. */
int ssi_unmap(u64 start, u64 end);
/* vm_mmap with MAP_FIXED at `start` (file may be NULL): 0 or -errno. */
int ssi_map(struct file *file, u64 start, u64 len, u32 prot, u32 flags, u64 offset);
/* Writes `len` bytes at `addr` of current even where the mapping is
 * read-only (as ptrace does, copy-on-write): 0 or -errno. */
int ssi_poke_user(u64 addr, const void *buf, unsigned int len);
/* Opens `path` (NUL-terminated) with `flags`: the file, or NULL with *err. */
struct file *ssi_open_path(const char *path, u32 flags, int *err);
/* Sets a file's position. */
void ssi_file_set_pos(struct file *f, u64 pos);
/* f's own read (or read_iter, as vfs_read) or write, with a buffer in
 * current's user memory; bytes moved (short on a fault) or -errno. */
long ssi_file_read_user(struct file *f, u64 ubuf, u64 len, s64 *pos);
long ssi_file_write_user(struct file *f, u64 ubuf, u64 len, s64 *pos);
/* Closes descriptor `fd` of current (0 or -EBADF). */
int ssi_close_fd(unsigned int fd);

/* cwd and root of current as paths (NUL-terminated): length or -errno. */
int ssi_cwd_path(char *buf, int len);
int ssi_root_path(char *buf, int len);

/* The task of `pid` in the caller's pid namespace, with a reference
 * (put_task_struct), or NULL. */
struct task_struct *ssi_get_task(u32 pid);
/* The threads of t's process, with references, the leader first: how many
 * were stored in out (at most max), or -E2BIG if there are more. */
int ssi_task_threads(struct task_struct *t, struct task_struct **out, u32 max);
/* Whether the caller may checkpoint `t`: root, or the same user and the
 * target dumpable. 0 or -EPERM. */
/* State of `t`: exiting, stopped or traced, kernel thread, thread count,
 * real and saved uid. */
struct ssi_task_brief {
	u32 exiting, stopped, kthread, ptraced, nr_threads, uid, suid;
	/* In the initial pid namespace: the parent's tgid (0 for a kernel thread), process group, session. */
	u32 ppid, pgrp, session;
	/* How long ago its thread group started (boot clock), ns. */
	u64 age_ns;
};
void ssi_task_brief(struct task_struct *t, struct ssi_task_brief *out);
/* task_work_add(t, cb, TWA_SIGNAL). */
int ssi_task_work_add(struct task_struct *t, struct callback_head *cb);
/* Whether the caller is root (CAP_SYS_ADMIN); *uid gets its real uid. */
int ssi_caller_identity(u32 *uid);
/* The caller's real and effective uid. */
void ssi_caller_uids(u32 *uid, u32 *euid);
/* current's process id in its pid namespace. */
u32 ssi_current_pid(void);
/* Whether current is exiting (a task work may run at exit). */
int ssi_current_exiting(void);
/* SIGKILL to current. */
void ssi_kill_current(void);
/* init_task_work(): sets cb's function. */
void ssi_init_task_work(struct callback_head *cb, void (*fn)(struct callback_head *));

/* Whether the CPU has the crc32 instruction (SSE4.2) for CRC-32C. */
int ssi_cpu_has_crc32c(void);

/* Nanoseconds since the current process was created. */
u64 ssi_current_age_ns(void);

/* Starts argv[0] with argv as a usermode helper (root, no open files) and
 * waits until it has exec'd; *pid gets its pid. 0 or -errno. */
int ssi_spawn_usermode(char **argv, u32 *pid);

/* A one-shot gate: sleepers wait (killable) until *open is non-zero. */
void ssi_gate_init(struct wait_queue_head *wq);
int ssi_gate_wait(struct wait_queue_head *wq, const u32 *open);
void ssi_gate_wake(struct wait_queue_head *wq);

#endif
