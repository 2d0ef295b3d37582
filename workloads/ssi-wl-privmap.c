/*
 * ssi-wl-privmap FILE ROUNDS [DELAY_MS=100]
 *
 * Private file mapping workload for checkpoint/restart: reads FILE (which
 * must exist and be at least 16 KiB) with read(2) and remembers its CRC-32,
 * then mmap()s it MAP_PRIVATE with PROT_READ|PROT_WRITE. In round R
 * (1..ROUNDS) it increments the byte at offset k*4096 + (R-1) % 4096 of
 * every page k, prints "round R crc C" (CRC-32 of the whole mapping) and
 * sleeps DELAY_MS. At the end it checks that the mapping holds exactly the
 * original bytes plus the increments, and (with pread) that FILE on disk is
 * unchanged, and prints "privmap ok file_unchanged=1". A restored process
 * must get back its private (copy-on-write) pages, and they must never
 * reach the file. Any mismatch is reported and exits 1.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "wl_common.h"

#define PAGE_BYTES 4096u
#define MIN_BYTES (16u * 1024u)

static void bump(unsigned char *p, size_t size, unsigned long long round)
{
	size_t in_page = (size_t)((round - 1) % PAGE_BYTES);

	for (size_t off = in_page; off < size; off += PAGE_BYTES)
		p[off]++;
}

int main(int argc, char **argv)
{
	unsigned long long rounds, delay = 100;
	unsigned char *orig, *map, *disk;
	uint32_t crc_orig, crc_disk;
	struct stat st;
	size_t size;
	ssize_t got;
	int fd, bad = 0;

	wl_init("ssi-wl-privmap", "FILE ROUNDS [DELAY_MS=100]");
	if (argc < 3 || argc > 4)
		wl_usage();
	rounds = wl_arg_u(argv[2], 0, 1000000000ULL, "ROUNDS");
	if (argc > 3)
		delay = wl_arg_u(argv[3], 0, 86400000ULL, "DELAY_MS");

	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		wl_die_errno("open %s", argv[1]);
	if (fstat(fd, &st) != 0)
		wl_die_errno("fstat %s", argv[1]);
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)MIN_BYTES)
		wl_die("%s: need a regular file of at least %u bytes", argv[1],
		       MIN_BYTES);
	size = (size_t)st.st_size;

	/* The original contents, via read(2), before mapping. */
	orig = malloc(size);
	disk = malloc(size);
	if (orig == NULL || disk == NULL)
		wl_die("out of memory");
	got = wl_read_full(fd, orig, size);
	if (got < 0)
		wl_die_errno("read %s", argv[1]);
	if ((size_t)got != size)
		wl_die("%s: short read (%zd of %zu bytes)", argv[1], got, size);
	crc_orig = wl_crc32(0, orig, size);

	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		wl_die_errno("mmap %s", argv[1]);

	for (unsigned long long r = 1; r <= rounds; r++) {
		bump(map, size, r);
		wl_printf("round %llu crc %08x\n", r,
			  (unsigned)wl_crc32(0, map, size));
		if (r < rounds)
			wl_sleep_ms(delay);
	}

	/* The mapping: original + every round's increments. */
	for (unsigned long long r = 1; r <= rounds && r <= PAGE_BYTES; r++) {
		/* Rounds r, r+4096, r+8192, ... hit the same bytes. */
		unsigned long long times = (rounds - r) / PAGE_BYTES + 1;

		for (size_t off = (size_t)(r - 1); off < size; off += PAGE_BYTES)
			orig[off] = (unsigned char)(orig[off] + times);
	}
	if (memcmp(map, orig, size) != 0) {
		size_t i = 0;

		while (map[i] == orig[i])
			i++;
		wl_printf("mismatch: private mapping differs from the expected contents at offset %zu\n",
			  i);
		bad = 1;
	}

	/* The file: unchanged. */
	if (fstat(fd, &st) != 0)
		wl_die_errno("fstat %s", argv[1]);
	memset(disk, 0, size);
	for (size_t done = 0; done < size;) {
		ssize_t n = pread(fd, disk + done, size - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			wl_die_errno("pread %s", argv[1]);
		if (n == 0)
			break;
		done += (size_t)n;
	}
	crc_disk = wl_crc32(0, disk, size);
	if ((size_t)st.st_size != size || crc_disk != crc_orig) {
		wl_printf("mismatch: %s changed on disk (size %lld, crc %08x; was size %zu, crc %08x)\n",
			  argv[1], (long long)st.st_size, (unsigned)crc_disk,
			  size, (unsigned)crc_orig);
		wl_printf("privmap FAIL file_unchanged=0\n");
		return 1;
	}
	munmap(map, size);
	free(orig);
	free(disk);
	close(fd);
	if (bad)
		return 1;
	wl_printf("privmap ok file_unchanged=1\n");
	return 0;
}
