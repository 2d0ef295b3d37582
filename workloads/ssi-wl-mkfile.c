/*
 * ssi-wl-mkfile FILE MIB SEED [EXTRA_BYTES=0]
 *
 * Writes a deterministic pseudo-random file of MIB MiB plus EXTRA_BYTES
 * bytes (xorshift64* stream seeded from SEED), replacing FILE, and fsyncs
 * it. Input generator for ssi-wl-reader and ssi-wl-privmap. Prints
 * "wrote BYTES bytes crc C" (C = CRC-32 of the whole file).
 */
#include <fcntl.h>

#include "wl_common.h"

#define BUF_BYTES (1u << 20)

int main(int argc, char **argv)
{
	unsigned long long mib, seed, extra = 0, total, left;
	static uint64_t buf[BUF_BYTES / 8];
	uint32_t crc = 0;
	uint64_t rng;
	int fd;

	wl_init("ssi-wl-mkfile", "FILE MIB SEED [EXTRA_BYTES=0]");
	if (argc < 4 || argc > 5)
		wl_usage();
	mib = wl_arg_u(argv[2], 0, 1048576ULL, "MIB");
	seed = wl_arg_u(argv[3], 0, ULLONG_MAX, "SEED");
	if (argc > 4)
		extra = wl_arg_u(argv[4], 0, 1ULL << 40, "EXTRA_BYTES");

	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		wl_die_errno("open %s", argv[1]);

	rng = wl_seed(seed);
	total = (mib << 20) + extra;
	for (left = total; left > 0;) {
		size_t len = left < BUF_BYTES ? (size_t)left : BUF_BYTES;

		for (size_t i = 0; i < (len + 7) / 8; i++)
			buf[i] = wl_xs64(&rng);
		crc = wl_crc32(crc, buf, len);
		if (wl_write_all(fd, buf, len) != 0)
			wl_die_errno("write %s", argv[1]);
		left -= len;
	}
	if (fsync(fd) != 0)
		wl_die_errno("fsync %s", argv[1]);
	if (close(fd) != 0)
		wl_die_errno("close %s", argv[1]);
	wl_printf("wrote %llu bytes crc %08x\n", total, (unsigned)crc);
	return 0;
}
