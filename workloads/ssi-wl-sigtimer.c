/*
 * ssi-wl-sigtimer TICKS
 *
 * Signal and interval-timer state workload for checkpoint/restart:
 *  - a SIGALRM handler (SA_ONSTACK|SA_RESTART) on a sigaltstack; the
 *    handler checks that it runs on the alternate stack (address of a local
 *    against the altstack range) and counts failures;
 *  - ITIMER_REAL armed with a 50 ms value and interval; ITIMER_VIRTUAL and
 *    ITIMER_PROF armed with long values (never firing here) and 7 s and
 *    9 s intervals, which must still be there, armed, at the end;
 *  - SIGUSR1 blocked and raised at start, so it stays pending for the whole
 *    run; then a SIGUSR1 handler is installed;
 *  - the main loop waits in sigsuspend() (SIGUSR1 still blocked) and prints
 *    "tick N" for every handler run it sees, until TICKS;
 *  - at the end: SIGUSR1 must still be pending, the timer interval must
 *    still be 50 ms, the altstack must still be configured; unblocking
 *    SIGUSR1 must run its handler exactly once.
 * Prints "done ticks=TICKS usr1=1 altstack_fail=0 interval_us=50000" (the
 * measured values) on success; any mismatch is reported and exits 1.
 */
#include <signal.h>
#include <sys/time.h>

#include "wl_common.h"

#define INTERVAL_US 50000L
#define VIRT_INTERVAL_S 7
#define PROF_INTERVAL_S 9

/* Arms `which` with a long value and `interval_s`. */
static void arm_cpu_timer(int which, long interval_s)
{
	struct itimerval itv = { .it_interval = { interval_s, 0 }, .it_value = { 100000, 0 } };

	if (setitimer(which, &itv, NULL) != 0)
		wl_die_errno("setitimer (CPU time)");
}

/* 1 if `which` is armed with interval `interval_s`, else reports and 0. */
static int cpu_timer_ok(int which, const char *name, long interval_s)
{
	struct itimerval cur;

	if (getitimer(which, &cur) != 0)
		wl_die_errno("getitimer (CPU time)");
	if (cur.it_interval.tv_sec != interval_s || cur.it_interval.tv_usec != 0 ||
	    (cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0)) {
		wl_printf("mismatch: %s interval %lds, armed %d\n", name,
			  (long)cur.it_interval.tv_sec,
			  cur.it_value.tv_sec != 0 || cur.it_value.tv_usec != 0);
		return 0;
	}
	return 1;
}

static volatile sig_atomic_t alrm_count;
static volatile sig_atomic_t altstack_fail;
static volatile sig_atomic_t usr1_count;
static uintptr_t alt_lo, alt_hi;

static void on_alrm(int sig)
{
	volatile char here = 0;
	uintptr_t a = (uintptr_t)&here;

	(void)sig;
	(void)here;
	if (a < alt_lo || a >= alt_hi)
		altstack_fail++;
	alrm_count++;
}

static void on_usr1(int sig)
{
	(void)sig;
	usr1_count++;
}

int main(int argc, char **argv)
{
	unsigned long long ticks, seen = 0;
	struct sigaction sa;
	struct itimerval itv, cur;
	sigset_t set, waitmask, pend;
	stack_t ss, ss_now;
	size_t alt_size = 4 * (size_t)SIGSTKSZ;
	int bad = 0;

	wl_init("ssi-wl-sigtimer", "TICKS");
	if (argc != 2)
		wl_usage();
	ticks = wl_arg_u(argv[1], 1, 100000000ULL, "TICKS");

	/* Alternate signal stack. */
	if (alt_size < 65536)
		alt_size = 65536;
	ss.ss_sp = malloc(alt_size);
	if (ss.ss_sp == NULL)
		wl_die("out of memory");
	ss.ss_size = alt_size;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) != 0)
		wl_die_errno("sigaltstack");
	alt_lo = (uintptr_t)ss.ss_sp;
	alt_hi = alt_lo + alt_size;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alrm;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) != 0)
		wl_die_errno("sigaction SIGALRM");

	/* SIGUSR1: blocked and pending for the whole run. SIGALRM is blocked
	 * too outside sigsuspend(), so that the tick check is race free. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGALRM);
	if (sigprocmask(SIG_BLOCK, &set, &waitmask) != 0)
		wl_die_errno("sigprocmask");
	sigaddset(&waitmask, SIGUSR1);	/* waiting: SIGUSR1 stays blocked */
	sigdelset(&waitmask, SIGALRM);
	if (raise(SIGUSR1) != 0)
		wl_die_errno("raise SIGUSR1");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		wl_die_errno("sigaction SIGUSR1");

	itv.it_interval.tv_sec = 0;
	itv.it_interval.tv_usec = INTERVAL_US;
	itv.it_value = itv.it_interval;
	if (setitimer(ITIMER_REAL, &itv, NULL) != 0)
		wl_die_errno("setitimer");
	arm_cpu_timer(ITIMER_VIRTUAL, VIRT_INTERVAL_S);
	arm_cpu_timer(ITIMER_PROF, PROF_INTERVAL_S);

	while (seen < ticks) {
		unsigned long long now = (unsigned long long)alrm_count;

		if (now == seen) {
			sigsuspend(&waitmask);	/* always returns -1/EINTR */
			continue;
		}
		while (seen < now && seen < ticks)
			wl_printf("tick %llu\n", ++seen);
	}
	/* SIGALRM is blocked again here: no more handler runs. */

	if (sigpending(&pend) != 0)
		wl_die_errno("sigpending");
	if (!sigismember(&pend, SIGUSR1)) {
		wl_printf("mismatch: SIGUSR1 no longer pending before unblock\n");
		bad = 1;
	}
	if (usr1_count != 0) {
		wl_printf("mismatch: SIGUSR1 handler ran %d times while blocked\n",
			  (int)usr1_count);
		bad = 1;
	}
	if (getitimer(ITIMER_REAL, &cur) != 0)
		wl_die_errno("getitimer");
	if (!cpu_timer_ok(ITIMER_VIRTUAL, "ITIMER_VIRTUAL", VIRT_INTERVAL_S) ||
	    !cpu_timer_ok(ITIMER_PROF, "ITIMER_PROF", PROF_INTERVAL_S))
		bad = 1;
	if (sigaltstack(NULL, &ss_now) != 0)
		wl_die_errno("sigaltstack");
	if (ss_now.ss_sp != ss.ss_sp || ss_now.ss_size != ss.ss_size ||
	    (ss_now.ss_flags & SS_DISABLE)) {
		wl_printf("mismatch: sigaltstack configuration changed\n");
		bad = 1;
	}

	/* Unblock SIGUSR1: its handler must run now, exactly once. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_UNBLOCK, &set, NULL) != 0)
		wl_die_errno("sigprocmask");

	/* Disarm the timer before printing the result. */
	memset(&itv, 0, sizeof(itv));
	if (setitimer(ITIMER_REAL, &itv, NULL) != 0)
		wl_die_errno("setitimer");

	long interval_us = (long)cur.it_interval.tv_sec * 1000000L +
			   (long)cur.it_interval.tv_usec;
	int usr1 = (int)usr1_count;
	int fails = (int)altstack_fail;

	if (usr1 != 1) {
		wl_printf("mismatch: usr1=%d, want 1\n", usr1);
		bad = 1;
	}
	if (fails != 0) {
		wl_printf("mismatch: altstack_fail=%d, want 0\n", fails);
		bad = 1;
	}
	if (interval_us != INTERVAL_US) {
		wl_printf("mismatch: interval_us=%ld, want %ld\n", interval_us,
			  INTERVAL_US);
		bad = 1;
	}
	if (cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0) {
		wl_printf("mismatch: ITIMER_REAL is no longer armed\n");
		bad = 1;
	}
	wl_printf("done ticks=%llu usr1=%d altstack_fail=%d interval_us=%ld\n",
		  seen, usr1, fails, interval_us);
	return bad;
}
