/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C glue for live migration (the Rust files of migration/): kernel interfaces that are
 * static inlines, macros or need a `struct file_operations` (the stand-in
 * files of forward.rs are modules/helpers.c's stream files). Plain values
 * in and out; the logic is in Rust.
 */
#ifndef SSI_MIGRATION_HELPERS_H
#define SSI_MIGRATION_HELPERS_H

#include <linux/types.h>

struct file;
struct task_struct;
struct wait_queue_head;

/* A file in kernel memory (shmem, on no file system, small pages) of
 * `size` bytes. An ERR_PTR on failure. */
struct file *ssi_shmem_file(u64 size);
/* Whether a and b are open files of the same inode. */
int ssi_file_same_inode(struct file *a, struct file *b);
/* Installs a new reference to `f` at the lowest free descriptor of current
 * (close-on-exec); the descriptor or a negative errno. */
int ssi_install_new_fd(struct file *f);
/* Takes one pending unblocked signal of current off its queues; 0 if none. */
int ssi_dequeue_signal(void);
/* Whether current was killed (SIGKILL pending). */
/* Sends `sig` to process `pid` of the initial pid namespace, as the kernel. */
/* How many processes (thread-group leaders, zombies too) have a thread of
 * process `tgid` as their parent. */
u32 ssi_children_of(u32 tgid);
int ssi_kill_pid(u32 pid, int sig);
/* Current ends by `sig`: default action, unblocked, sent to itself. */
void ssi_die_by_signal(int sig);
/* 1 and the wait status once every thread of `t`'s process has ended, else 0. */
int ssi_task_exit_status(struct task_struct *t, u32 *status);
/* Sleeps until *counter != seen (interruptible: -ERESTARTSYS on a signal). */
int ssi_doorbell_wait(struct wait_queue_head *wq, const u32 *counter, u32 seen);
/* Like ssi_doorbell_wait with a timeout: >0 rung, 0 timed out, <0 signal. */
long ssi_doorbell_wait_timeout(struct wait_queue_head *wq, const u32 *counter, u32 seen, u32 ms);
/* Killable variant: only a fatal signal ends it early. */
long ssi_doorbell_wait_killable_timeout(struct wait_queue_head *wq, const u32 *counter, u32 seen, u32 ms);
/* Maps `len` bytes of anonymous memory in current's address space: a
 * scratch buffer for interfaces that copy only to or from user memory
 * (/proc/PID/pagemap, clear_refs). The address or a negative errno. */
long ssi_user_scratch(u64 len);
void ssi_user_scratch_free(u64 addr, u64 len);
/* Reads `len` bytes at `addr` of `t`'s memory; the bytes read or -errno. */
int ssi_task_read_mem(struct task_struct *t, u64 addr, void *buf, u32 len);

/* Drops current's pages in [start, end) of its private mappings, as
 * MADV_DONTNEED does (anonymous memory reads zero again, a private file
 * mapping its file); locked, shared and special mappings are left as they
 * are. 0 or -EINVAL. */
int ssi_zap_user_range(u64 start, u64 end);

/* Module references held by deputies and hosted processes. */
void ssi_module_get(void);
void ssi_module_put(void);

/* The pages file of a post-copy or lazy migration: pread at an address
 * goes to ssi_pages_read(priv, ...); ssi_pages_release(priv) when it is
 * closed. ERR_PTR on failure. */
struct file *ssi_pages_file(void *priv);
/* `f`'s priv if it is a pages file, else NULL. */
void *ssi_pages_priv(struct file *f);
/* Whether `f` is a userfaultfd. */
int ssi_is_userfaultfd(struct file *f);
/* Registers [start, start+len) of current's memory with userfaultfd
 * `uffd` (missing pages), through `scratch`, 32 bytes of current's user
 * memory. 0 or a negative errno. */
long ssi_uffd_register(struct file *uffd, u64 scratch, u64 start, u64 len);

/* Implemented in Rust (migration/pages.rs). */
long ssi_pages_read(void *priv, char __user *buf, size_t len, s64 pos);
void ssi_pages_release(void *priv);

#endif
