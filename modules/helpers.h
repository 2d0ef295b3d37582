/* SPDX-License-Identifier: GPL-2.0 */
/* C helpers for ssi.ko: static inlines and macros Rust cannot call. */
#ifndef SSI_HELPERS_H
#define SSI_HELPERS_H

#include <linux/types.h>

struct configfs_subsystem;
struct config_group;
struct seq_file;
struct socket;
struct crypto_shash;
struct file;

/* mutex_init() on the subsystem's su_mutex (a macro with a lock class). */
void ssi_configfs_subsystem_init(struct configfs_subsystem *subsys);

/* configfs_add_default_group(): `child` becomes a default group of `parent`
 * (a static inline); both initialised, neither registered yet. */
void ssi_configfs_add_default_group(struct config_group *child, struct config_group *parent);

/* seq_file's private data (set by single_open). */
void *ssi_seq_private(struct seq_file *m);

/* A kernel TCP/IPv4 socket in the initial network namespace. */
int ssi_tcp_socket_create(struct socket **res);
/* Receive and send timeouts in milliseconds (0: block forever). */
void ssi_sock_set_timeouts(struct socket *sock, unsigned int rcv_ms, unsigned int snd_ms);
/* SO_REUSEADDR and TCP_NODELAY. */
void ssi_sock_tune(struct socket *sock);
/* bind() to INADDR_ANY:port, connect() to addr:port (addr in network order as a host u32 a.b.c.d -> 0xaabbccdd). */
int ssi_sock_bind_any(struct socket *sock, u16 port);
int ssi_sock_connect(struct socket *sock, u32 addr, u16 port);
/* The peer's IPv4 address (0xaabbccdd), 0 when unknown. */
u32 ssi_sock_peer_addr(struct socket *sock);

/* HMAC-SHA256 with the kernel crypto API. */
struct crypto_shash *ssi_hmac_sha256_new(const u8 *key, unsigned int keylen);
void ssi_hmac_sha256_free(struct crypto_shash *tfm);
int ssi_hmac_sha256(struct crypto_shash *tfm, const u8 *a, size_t alen,
		    const u8 *b, size_t blen, u8 *out);

/* This node's resources: online CPUs, memory in KiB, load averages (FSHIFT fixed point). */
void ssi_node_resources(u32 *cpus, u64 *mem_total_kib, u64 *mem_free_kib, u32 *load);

/* /dev/ssi, a misc device whose ioctls go to `handler(data, cmd, arg)`. */
int ssi_ctl_register(long (*handler)(void *data, unsigned int cmd, unsigned long arg), void *data);
void ssi_ctl_unregister(void);

/* Wall-clock time in nanoseconds (ktime_get_real_ns, a static inline). */
u64 ssi_real_time_ns(void);

/* Whether the current task was killed (SIGKILL pending). */
int ssi_fatal_signal_pending(void);

/*
 * A stream file (no position) whose operations call back into the module:
 * read and write with the file's `priv` (they may block: poll reports both
 * possible), release once, when its last reference goes.
 */
struct ssi_stream_ops {
	long (*read)(void *priv, char __user *buf, size_t len);
	long (*write)(void *priv, const char __user *buf, size_t len);
	void (*release)(void *priv);
};
/* A new stream file `anon_inode:NAME` with `ops` (which must outlive it) and
 * `priv`; an ERR_PTR on failure (release is then not called). */
struct file *ssi_stream_file(const char *name, const struct ssi_stream_ops *ops, void *priv,
			     int readable, int writable);
/* Whether `f` is a stream file of the module. */
int ssi_is_stream_file(struct file *f);

/*
 * Node pid ranges (modules/pid_hook.rs): a kprobe on idr_alloc_cyclic whose
 * pre-handler, for the initial pid namespace's idr only, replaces the
 * call's start and end with [lo, hi), then sets that idr's cursor to lo.
 * 0 or a negative errno. One hook at a time; disarm unregisters it (which
 * waits for running handlers).
 */
int ssi_pid_hook_arm(u32 lo, u32 hi);
void ssi_pid_hook_disarm(void);

/*
 * Signals anywhere (modules/kill_hook.rs): an ftrace callback on
 * __x64_sys_kill. A kill(pid, sig) of the initial pid namespace whose
 * |pid| is at least `skip_below`, outside [own_lo, own_hi), not 0, -1 or
 * INT_MIN, and not found by find_vpid returns route(data, pid, sig)
 * instead (0 or a negative errno; route may sleep). 0 or a negative
 * errno. One hook at a time; disarm unregisters it and waits until no
 * task runs in the routed path any more.
 */
int ssi_kill_hook_arm(long (*route)(void *data, int pid, int sig), void *data,
		      u32 skip_below, u32 own_lo, u32 own_hi);
void ssi_kill_hook_disarm(void);
/* The current task's tgid, real and effective uid (initial namespaces) and
 * whether it has CAP_KILL in the initial user namespace. */
void ssi_kill_sender(u32 *tgid, u32 *uid, u32 *euid, int *cap_kill);

/* The first `len` bytes of the file at `path` (opened read-only as the
 * kernel): the count read or a negative errno. */
long ssi_read_file_head(const char *path, char *buf, size_t len);

#endif
