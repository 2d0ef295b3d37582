/*
 * ssi-wl-reader FILE [DELAY_MS=50]
 *
 * Sequential reader for checkpoint/restart of an open file and its offset:
 * opens FILE read-only and reads it in 4096-byte chunks with read(2),
 * sleeping DELAY_MS between chunks. Per chunk it prints
 *	chunk N off O crc C
 * where O is lseek(fd, 0, SEEK_CUR) just before the read and C the CRC-32
 * of the chunk (8 hex digits); at the end "eof total=BYTES". A restored
 * process must continue at the same offset of the same file. An offset that
 * differs from the bytes read so far is also reported and exits 1.
 */
#include <fcntl.h>

#include "wl_common.h"

#define CHUNK 4096

int main(int argc, char **argv)
{
	unsigned long long delay = 50, n = 0, total = 0;
	static unsigned char buf[CHUNK];
	int fd;

	wl_init("ssi-wl-reader", "FILE [DELAY_MS=50]");
	if (argc < 2 || argc > 3)
		wl_usage();
	if (argc > 2)
		delay = wl_arg_u(argv[2], 0, 86400000ULL, "DELAY_MS");

	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		wl_die_errno("open %s", argv[1]);

	for (;;) {
		off_t off = lseek(fd, 0, SEEK_CUR);
		ssize_t got;

		if (off < 0)
			wl_die_errno("lseek %s", argv[1]);
		/* One read(2) normally; more only after a short read, so that
		 * chunk boundaries never depend on timing. */
		got = wl_read_full(fd, buf, CHUNK);
		if (got < 0)
			wl_die_errno("read %s", argv[1]);
		if (got == 0)
			break;
		n++;
		wl_printf("chunk %llu off %lld crc %08x\n", n, (long long)off,
			  (unsigned)wl_crc32(0, buf, (size_t)got));
		if ((unsigned long long)off != total)
			wl_die("chunk %llu: file offset %lld, but %llu bytes were read before it",
			       n, (long long)off, total);
		total += (unsigned long long)got;
		if (got < CHUNK)
			break;	/* short chunk: that was the end of the file */
		wl_sleep_ms(delay);
	}
	wl_printf("eof total=%llu\n", total);
	return 0;
}
