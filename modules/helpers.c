// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers for ssi.ko: wrappers around static inlines, macros and structure
 * fields that Rust cannot reach. Keep this file tiny: logic belongs in Rust.
 */
#include <linux/anon_inodes.h>
#include <linux/configfs.h>
#include <linux/cpumask.h>
#include <linux/err.h>
#include <linux/in.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/sched/loadavg.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <crypto/hash.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/kprobes.h>
#include <linux/ftrace.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/cred.h>
#include <linux/capability.h>
#include <linux/rcupdate.h>
#include <linux/wait.h>
#include <linux/sched.h>
#include <linux/pid_namespace.h>
#include "helpers.h"

void ssi_configfs_subsystem_init(struct configfs_subsystem *subsys)
{
	mutex_init(&subsys->su_mutex);
}

void ssi_configfs_add_default_group(struct config_group *child, struct config_group *parent)
{
	configfs_add_default_group(child, parent);
}

void *ssi_seq_private(struct seq_file *m)
{
	return m->private;
}

int ssi_tcp_socket_create(struct socket **res)
{
	return sock_create_kern(&init_net, AF_INET, SOCK_STREAM, IPPROTO_TCP, res);
}

static long ssi_ms_to_timeo(unsigned int ms)
{
	return ms ? msecs_to_jiffies(ms) : MAX_SCHEDULE_TIMEOUT;
}

void ssi_sock_set_timeouts(struct socket *sock, unsigned int rcv_ms, unsigned int snd_ms)
{
	struct sock *sk = sock->sk;

	lock_sock(sk);
	WRITE_ONCE(sk->sk_rcvtimeo, ssi_ms_to_timeo(rcv_ms));
	WRITE_ONCE(sk->sk_sndtimeo, ssi_ms_to_timeo(snd_ms));
	release_sock(sk);
}

void ssi_sock_tune(struct socket *sock)
{
	sock_set_reuseaddr(sock->sk);
	tcp_sock_set_nodelay(sock->sk);
}

int ssi_sock_bind_any(struct socket *sock, u16 port)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_ANY),
		.sin_port = htons(port),
	};

	return kernel_bind(sock, (struct sockaddr *)&sin, sizeof(sin));
}

int ssi_sock_connect(struct socket *sock, u32 addr, u16 port)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(addr),
		.sin_port = htons(port),
	};

	return kernel_connect(sock, (struct sockaddr *)&sin, sizeof(sin), 0);
}

u32 ssi_sock_peer_addr(struct socket *sock)
{
	struct sockaddr_in sin = {};

	if (kernel_getpeername(sock, (struct sockaddr *)&sin) < 0)
		return 0;
	return ntohl(sin.sin_addr.s_addr);
}

struct crypto_shash *ssi_hmac_sha256_new(const u8 *key, unsigned int keylen)
{
	struct crypto_shash *tfm = crypto_alloc_shash("hmac(sha256)", 0, 0);
	int err;

	if (IS_ERR(tfm))
		return tfm;
	err = crypto_shash_setkey(tfm, key, keylen);
	if (err) {
		crypto_free_shash(tfm);
		return ERR_PTR(err);
	}
	return tfm;
}

void ssi_hmac_sha256_free(struct crypto_shash *tfm)
{
	crypto_free_shash(tfm);
}

int ssi_hmac_sha256(struct crypto_shash *tfm, const u8 *a, size_t alen,
		    const u8 *b, size_t blen, u8 *out)
{
	SHASH_DESC_ON_STACK(desc, tfm);
	int err;

	desc->tfm = tfm;
	err = crypto_shash_init(desc);
	if (!err)
		err = crypto_shash_update(desc, a, alen);
	if (!err && blen)
		err = crypto_shash_update(desc, b, blen);
	if (!err)
		err = crypto_shash_final(desc, out);
	shash_desc_zero(desc);
	return err;
}

u64 ssi_real_time_ns(void)
{
	return ktime_get_real_ns();
}

void ssi_node_resources(u32 *cpus, u64 *mem_total_kib, u64 *mem_free_kib, u32 *load)
{
	struct sysinfo si;

	si_meminfo(&si);
	*cpus = num_online_cpus();
	*mem_total_kib = (u64)si.totalram * (si.mem_unit >> 10);
	*mem_free_kib = (u64)si.freeram * (si.mem_unit >> 10);
	load[0] = avenrun[0];
	load[1] = avenrun[1];
	load[2] = avenrun[2];
}

static long (*ssi_ctl_handler)(void *data, unsigned int cmd, unsigned long arg);
static void *ssi_ctl_data;

static long ssi_ctl_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	return ssi_ctl_handler(ssi_ctl_data, cmd, arg);
}

static const struct file_operations ssi_ctl_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = ssi_ctl_ioctl,
};

/* Any user may open it: each request checks its own permissions. */
static struct miscdevice ssi_ctl_device = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "ssi",
	.fops = &ssi_ctl_fops,
	.mode = 0666,
};

int ssi_ctl_register(long (*handler)(void *data, unsigned int cmd, unsigned long arg), void *data)
{
	ssi_ctl_handler = handler;
	ssi_ctl_data = data;
	return misc_register(&ssi_ctl_device);
}

void ssi_ctl_unregister(void)
{
	misc_deregister(&ssi_ctl_device);
}

int ssi_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

/* What a stream file's private data points to. */
struct ssi_stream {
	const struct ssi_stream_ops *ops;
	void *priv;
};

static ssize_t ssi_stream_fop_read(struct file *f, char __user *buf, size_t len, loff_t *pos)
{
	struct ssi_stream *s = f->private_data;

	return s->ops->read ? s->ops->read(s->priv, buf, len) : -EINVAL;
}

static ssize_t ssi_stream_fop_write(struct file *f, const char __user *buf, size_t len, loff_t *pos)
{
	struct ssi_stream *s = f->private_data;

	return s->ops->write ? s->ops->write(s->priv, buf, len) : -EINVAL;
}

static __poll_t ssi_stream_fop_poll(struct file *f, struct poll_table_struct *wait)
{
	/* Reads and writes wait in the callbacks: report them possible. */
	return EPOLLIN | EPOLLRDNORM | EPOLLOUT | EPOLLWRNORM;
}

static int ssi_stream_fop_release(struct inode *inode, struct file *f)
{
	struct ssi_stream *s = f->private_data;

	if (s->ops->release)
		s->ops->release(s->priv);
	kfree(s);
	return 0;
}

static const struct file_operations ssi_stream_fops = {
	.owner = THIS_MODULE,
	.read = ssi_stream_fop_read,
	.write = ssi_stream_fop_write,
	.poll = ssi_stream_fop_poll,
	.release = ssi_stream_fop_release,
};

struct file *ssi_stream_file(const char *name, const struct ssi_stream_ops *ops, void *priv,
			     int readable, int writable)
{
	int flags = readable && writable ? O_RDWR : writable ? O_WRONLY : O_RDONLY;
	struct ssi_stream *s = kmalloc(sizeof(*s), GFP_KERNEL);
	struct file *f;

	if (!s)
		return ERR_PTR(-ENOMEM);
	s->ops = ops;
	s->priv = priv;
	f = anon_inode_getfile(name, &ssi_stream_fops, s, flags);
	if (IS_ERR(f))
		kfree(s);
	return f;
}

int ssi_is_stream_file(struct file *f)
{
	return f->f_op == &ssi_stream_fops;
}

/*
 * The pid range hook. The two numbers are written before register_kprobe
 * and never while it is registered; the handler runs in alloc_pid under
 * pidmap_lock and only applies them to the initial namespace's calls.
 */
static unsigned long ssi_pid_lo, ssi_pid_hi;
static struct kprobe ssi_pid_kp;

static int ssi_pid_pre(struct kprobe *p, struct pt_regs *regs)
{
#ifdef CONFIG_X86_64
	if (regs->di == (unsigned long)&init_pid_ns.idr) {
		regs->dx = ssi_pid_lo;
		regs->cx = ssi_pid_hi;
	}
#endif
	return 0;
}

int ssi_pid_hook_arm(u32 lo, u32 hi)
{
	int r;

	if (!IS_ENABLED(CONFIG_X86_64))
		return -EOPNOTSUPP;
	ssi_pid_lo = lo;
	ssi_pid_hi = hi;
	/* A kprobe is registered again only from a clean struct. */
	memset(&ssi_pid_kp, 0, sizeof(ssi_pid_kp));
	ssi_pid_kp.symbol_name = "idr_alloc_cyclic";
	ssi_pid_kp.pre_handler = ssi_pid_pre;
	r = register_kprobe(&ssi_pid_kp);
	if (r)
		return r;
	idr_set_cursor(&init_pid_ns.idr, lo);
	return 0;
}

void ssi_pid_hook_disarm(void)
{
	unregister_kprobe(&ssi_pid_kp);
}

long ssi_read_file_head(const char *path, char *buf, size_t len)
{
	struct file *f = filp_open(path, O_RDONLY, 0);
	loff_t pos = 0;
	long r;

	if (IS_ERR(f))
		return PTR_ERR(f);
	r = kernel_read(f, buf, len, &pos);
	filp_close(f, NULL);
	return r;
}

/*
 * The kill hook (modules/kill_hook.rs): an ftrace callback on
 * __x64_sys_kill that, for a pid (or -pgid) outside [0, skip_below) and
 * outside [own_lo, own_hi) which the caller's pid namespace does not know,
 * makes the syscall return through ssi_kill_routed instead, which asks the
 * module (route). The numbers and the callback are written before
 * register_ftrace_function and never while it is registered. Every task
 * sent to ssi_kill_routed is counted from the callback until it leaves the
 * module's code, so disarming can wait for all of them.
 */
static struct ftrace_ops ssi_kill_ops;
static long (*ssi_kill_route)(void *data, int pid, int sig);
static void *ssi_kill_data;
static u32 ssi_kill_skip_below, ssi_kill_own_lo, ssi_kill_own_hi;
static atomic_t ssi_kill_inflight = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(ssi_kill_idle);

/* Same signature as __x64_sys_kill, whose caller it returns to. */
static noinline notrace long ssi_kill_routed(const struct pt_regs *uregs)
{
	long r = ssi_kill_route(ssi_kill_data, (int)uregs->di, (int)uregs->si);

	if (atomic_dec_and_test(&ssi_kill_inflight))
		wake_up_all(&ssi_kill_idle);
	return r;
}

static void notrace ssi_kill_ftrace(unsigned long ip, unsigned long parent_ip,
				    struct ftrace_ops *op, struct ftrace_regs *fregs)
{
#ifdef CONFIG_X86_64
	struct pt_regs *regs = ftrace_get_regs(fregs);
	const struct pt_regs *uregs;
	int pid;
	u32 nr;
	bool here;

	if (!regs || within_module(parent_ip, THIS_MODULE))
		return;
	uregs = (const struct pt_regs *)regs->di;
	pid = (int)uregs->di;
	/* 0, -1 and INT_MIN name no single pid: the kernel answers them. */
	if (pid == 0 || pid == -1 || pid == INT_MIN)
		return;
	nr = pid < 0 ? -pid : pid;
	if (nr < ssi_kill_skip_below || (nr >= ssi_kill_own_lo && nr < ssi_kill_own_hi))
		return;
	if (task_active_pid_ns(current) != &init_pid_ns)
		return;
	rcu_read_lock();
	here = find_vpid(nr) != NULL;
	rcu_read_unlock();
	if (here)
		return;
	atomic_inc(&ssi_kill_inflight);
	ftrace_regs_set_instruction_pointer(fregs, (unsigned long)ssi_kill_routed);
#endif
}

int ssi_kill_hook_arm(long (*route)(void *data, int pid, int sig), void *data,
		      u32 skip_below, u32 own_lo, u32 own_hi)
{
	static const char sym[] = "__x64_sys_kill";
	int r;

	if (!IS_ENABLED(CONFIG_X86_64) || !IS_ENABLED(CONFIG_DYNAMIC_FTRACE_WITH_REGS))
		return -EOPNOTSUPP;
	ssi_kill_route = route;
	ssi_kill_data = data;
	ssi_kill_skip_below = skip_below;
	ssi_kill_own_lo = own_lo;
	ssi_kill_own_hi = own_hi;
	/* An ops is registered again only from a clean struct. */
	memset(&ssi_kill_ops, 0, sizeof(ssi_kill_ops));
	ssi_kill_ops.func = ssi_kill_ftrace;
	ssi_kill_ops.flags = FTRACE_OPS_FL_SAVE_REGS | FTRACE_OPS_FL_IPMODIFY;
	r = ftrace_set_filter(&ssi_kill_ops, (unsigned char *)sym, sizeof(sym) - 1, 1);
	if (r)
		return r;
	r = register_ftrace_function(&ssi_kill_ops);
	if (r)
		ftrace_free_filter(&ssi_kill_ops);
	return r;
}

void ssi_kill_hook_disarm(void)
{
	unregister_ftrace_function(&ssi_kill_ops);
	ftrace_free_filter(&ssi_kill_ops);
	/* No callback runs any more; wait for the tasks it redirected. */
	wait_event(ssi_kill_idle, atomic_read(&ssi_kill_inflight) == 0);
	/* The last of them may still be between its decrement and its return:
	 * a tasks-RCU grace period waits until every task left such code. */
	synchronize_rcu_tasks();
}

void ssi_kill_sender(u32 *tgid, u32 *uid, u32 *euid, int *cap_kill)
{
	const struct cred *c = current_cred();

	*tgid = task_tgid_nr(current);
	*uid = from_kuid_munged(&init_user_ns, c->uid);
	*euid = from_kuid_munged(&init_user_ns, c->euid);
	*cap_kill = ns_capable_noaudit(&init_user_ns, CAP_KILL);
}
