/*
 * ssi-wl-rename COUNT [INTERVAL_MS=1]
 *
 * A process whose identity keeps changing: for i = 1..COUNT it sets its
 * name (prctl PR_SET_NAME) to "rename-i" and sleeps INTERVAL_MS. Every 100
 * steps it prints "rename i"; at the end "rename done count=COUNT". For the
 * live migration of a process whose name changes while its description is
 * on its way (post-copy, lazy: the restart program set the first image's
 * name, so the destination gives the migration up and the process goes on
 * where it was).
 */
#include <sys/prctl.h>

#include "wl_common.h"

int main(int argc, char **argv)
{
	unsigned long long count, interval = 1;
	char name[16];

	wl_init("ssi-wl-rename", "COUNT [INTERVAL_MS=1]");
	if (argc < 2 || argc > 3)
		wl_usage();
	count = wl_arg_u(argv[1], 1, 1000000000ULL, "COUNT");
	if (argc > 2)
		interval = wl_arg_u(argv[2], 0, 86400000ULL, "INTERVAL_MS");
	for (unsigned long long i = 1; i <= count; i++) {
		snprintf(name, sizeof(name), "rename-%llu", i);
		if (prctl(PR_SET_NAME, name, 0, 0, 0) != 0)
			wl_die_errno("prctl PR_SET_NAME");
		if (i % 100 == 0)
			wl_printf("rename %llu\n", i);
		if (i < count)
			wl_sleep_ms(interval);
	}
	wl_printf("rename done count=%llu\n", count);
	return 0;
}
