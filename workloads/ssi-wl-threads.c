/*
 * ssi-wl-threads NTHREADS ROUNDS [SLEEP_MS=10]
 *
 * Multithreaded workload: NTHREADS pthreads; thread i (0-based) blocks
 * SIGRTMIN+i (and nothing else) and increments its own __thread counter
 * ROUNDS times, sleeping SLEEP_MS after each increment and checking its
 * signal mask every round. The main thread joins them in order and prints
 * "thread i count C mask_ok=M" for each (C = final TLS counter, M = 1 if
 * the mask was right every round), then "threads done". Exit 1 if any
 * thread's count or mask was wrong. For checkpoint/restart of (or the
 * refusal to checkpoint) multithreaded processes.
 */
#include <pthread.h>
#include <signal.h>

#include "wl_common.h"

struct worker {
	pthread_t tid;
	int index;
	unsigned long long count;	/* copied from the TLS counter at the end */
	int mask_ok;
};

static __thread unsigned long long tls_count;
static unsigned long long rounds, sleep_ms = 10;

static int mask_is(int want)
{
	sigset_t cur;

	if (pthread_sigmask(SIG_SETMASK, NULL, &cur) != 0)
		return 0;
	for (int sig = 1; sig <= SIGRTMAX; sig++) {
		/* glibc keeps its internal signals (32, 33) out of user masks;
		 * only check the ones a program may use. */
		if (sig > SIGSYS && sig < SIGRTMIN)
			continue;
		if (sigismember(&cur, sig) != (sig == want))
			return 0;
	}
	return 1;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int sig = SIGRTMIN + w->index;
	sigset_t set;
	int ok;

	sigemptyset(&set);
	sigaddset(&set, sig);
	ok = pthread_sigmask(SIG_SETMASK, &set, NULL) == 0 && mask_is(sig);

	for (unsigned long long r = 0; r < rounds; r++) {
		tls_count++;
		wl_sleep_ms(sleep_ms);
		if (!mask_is(sig))
			ok = 0;
	}
	w->count = tls_count;
	w->mask_ok = ok;
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned long long n;
	struct worker *w;
	int err, bad = 0;

	wl_init("ssi-wl-threads", "NTHREADS ROUNDS [SLEEP_MS=10]");
	if (argc < 3 || argc > 4)
		wl_usage();
	n = wl_arg_u(argv[1], 1, (unsigned long long)(SIGRTMAX - SIGRTMIN + 1),
		     "NTHREADS");
	rounds = wl_arg_u(argv[2], 0, 1000000000ULL, "ROUNDS");
	if (argc > 3)
		sleep_ms = wl_arg_u(argv[3], 0, 86400000ULL, "SLEEP_MS");

	w = calloc(n, sizeof(*w));
	if (w == NULL)
		wl_die("out of memory");
	for (unsigned long long i = 0; i < n; i++) {
		w[i].index = (int)i;
		err = pthread_create(&w[i].tid, NULL, worker_main, &w[i]);
		if (err != 0) {
			errno = err;
			wl_die_errno("pthread_create");
		}
	}
	for (unsigned long long i = 0; i < n; i++) {
		err = pthread_join(w[i].tid, NULL);
		if (err != 0) {
			errno = err;
			wl_die_errno("pthread_join");
		}
		wl_printf("thread %llu count %llu mask_ok=%d\n", i, w[i].count,
			  w[i].mask_ok);
		if (w[i].count != rounds || !w[i].mask_ok)
			bad = 1;
	}
	wl_printf("threads done\n");
	return bad;
}
