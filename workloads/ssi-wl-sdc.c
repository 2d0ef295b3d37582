/*
 * ssi-wl-sdc STEPS [INTERVAL_MS=100] [MIB=4]
 *
 * A deterministic computation for the replicas' tests (silent data
 * corruption): MIB MiB of 64-bit words in one anonymous mapping, filled
 * from a fixed seed. It first prints "buffer 0xADDR bytes N" (the
 * mapping, for a test to flip a bit in), then for each step i = 1..STEPS
 * rewrites 64 words at places drawn from a fixed sequence, sums the whole
 * buffer and prints "step i sum S" with one write(2), sleeping
 * INTERVAL_MS between steps; exits 0. Every copy of it prints the same
 * lines; a bit flipped in the buffer changes every sum after it.
 */
#include <sys/mman.h>

#include "wl_common.h"

int main(int argc, char **argv)
{
	unsigned long long steps, interval = 100, mib = 4;
	uint64_t *buf, s, sum;
	size_t words, i;
	char line[96];
	int n;

	wl_init("ssi-wl-sdc", "STEPS [INTERVAL_MS=100] [MIB=4]");
	if (argc < 2 || argc > 4)
		wl_usage();
	steps = wl_arg_u(argv[1], 1, 1000000000ULL, "STEPS");
	if (argc > 2)
		interval = wl_arg_u(argv[2], 0, 86400000ULL, "INTERVAL_MS");
	if (argc > 3)
		mib = wl_arg_u(argv[3], 1, 4096, "MIB");
	words = (size_t)(mib << 20) / sizeof(uint64_t);
	buf = mmap(NULL, words * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		wl_die_errno("mmap");
	s = wl_seed(22);
	for (i = 0; i < words; i++)
		buf[i] = wl_xs64(&s);
	n = snprintf(line, sizeof(line), "buffer %p bytes %zu\n", (void *)buf, words * sizeof(uint64_t));
	if (wl_write_all(1, line, (size_t)n) != 0)
		wl_die_errno("write");
	for (unsigned long long step = 1; step <= steps; step++) {
		for (int k = 0; k < 64; k++)
			buf[wl_below(&s, words)] ^= wl_xs64(&s);
		sum = 0;
		for (i = 0; i < words; i++)
			sum = (sum ^ buf[i]) * 0x100000001b3ULL;
		n = snprintf(line, sizeof(line), "step %llu sum %016llx\n", step, (unsigned long long)sum);
		if (wl_write_all(1, line, (size_t)n) != 0)
			wl_die_errno("write");
		if (step < steps)
			wl_sleep_ms(interval);
	}
	return 0;
}
