/*
 * ssi-wl-counter FILE COUNT [INTERVAL_MS=100]
 *
 * Opens FILE once (O_WRONLY|O_APPEND|O_CREAT, 0644) and write(2)s "i\n" for
 * i = 1..COUNT, sleeping INTERVAL_MS between writes. The counter only lives
 * in this process's memory, so a restored process continues from where its
 * memory image says it was: after a checkpoint/kill/restart FILE must still
 * contain exactly 1..COUNT, each once, in order. Prints "counter done
 * count=COUNT" on stdout at the end.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "wl_common.h"

int main(int argc, char **argv)
{
	unsigned long long count, interval = 100;
	char line[32];
	int fd;

	wl_init("ssi-wl-counter", "FILE COUNT [INTERVAL_MS=100]");
	if (argc < 3 || argc > 4)
		wl_usage();
	count = wl_arg_u(argv[2], 0, ULLONG_MAX - 1, "COUNT");
	if (argc > 3)
		interval = wl_arg_u(argv[3], 0, 86400000ULL, "INTERVAL_MS");

	fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		wl_die_errno("open %s", argv[1]);

	for (unsigned long long i = 1; i <= count; i++) {
		int len = snprintf(line, sizeof(line), "%llu\n", i);

		if (wl_write_all(fd, line, (size_t)len) != 0)
			wl_die_errno("write %s", argv[1]);
		if (i < count)
			wl_sleep_ms(interval);
	}
	if (close(fd) != 0)
		wl_die_errno("close %s", argv[1]);
	wl_printf("counter done count=%llu\n", count);
	return 0;
}
