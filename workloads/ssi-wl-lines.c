/*
 * ssi-wl-lines COUNT [INTERVAL_MS=20]
 *
 * Prints "line i" for i = 1..COUNT, one every INTERVAL_MS, and exits 0.
 * On SIGTERM it prints "got SIGTERM at line i in pid P" (i = the last line
 * printed, 0 if none; P = getpid() then: a migrated process keeps its pid)
 * and exits with status 143. For the live-migration tests of
 * stdout forwarding through a pipe (e.g. `ssi-wl-lines 500 | sort -n`) and
 * of signal delivery to a migrated process.
 */
#include <signal.h>

#include "wl_common.h"

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static void check_term(unsigned long long last)
{
	if (got_term) {
		wl_printf("got SIGTERM at line %llu in pid %ld\n", last, (long)getpid());
		exit(143);
	}
}

int main(int argc, char **argv)
{
	unsigned long long count, interval = 20;
	struct sigaction sa;

	wl_init("ssi-wl-lines", "COUNT [INTERVAL_MS=20]");
	if (argc < 2 || argc > 3)
		wl_usage();
	count = wl_arg_u(argv[1], 0, ULLONG_MAX - 1, "COUNT");
	if (argc > 2)
		interval = wl_arg_u(argv[2], 0, 86400000ULL, "INTERVAL_MS");

	/* SA_RESTART keeps a write to a full pipe going; nanosleep() returns
	 * EINTR after a handler regardless, and the sleep loop checks the flag. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0)
		wl_die_errno("sigaction SIGTERM");

	for (unsigned long long i = 1; i <= count; i++) {
		check_term(i - 1);
		wl_printf("line %llu\n", i);
		check_term(i);
		if (i < count)
			wl_sleep_ms_until(interval, (volatile int *)&got_term);
	}
	check_term(count);
	return 0;
}
