/*
 * ssi-wl-dirty MIB PERCENT RATE_MS [SECONDS=0]
 *
 * Working set for the migration benchmarks: mmap()s MIB MiB and fills every
 * page with pseudo-random data (no zero or duplicate pages), prints "ready",
 * then every RATE_MS writes one word into each of PERCENT % of the pages
 * (distinct pages, a pseudo-random walk; PERCENT=0: just sleeps). Runs
 * until SECONDS have elapsed (0: forever) or it is killed, then prints
 * "done" and exits 0.
 *
 * Elapsed time is the sum of per-period CLOCK_MONOTONIC deltas, each clamped
 * to [0, RATE_MS + 1 s]: a clock that differs between nodes after a
 * migration neither ends the run early nor stretches it.
 */
#include <sys/mman.h>

#include "wl_common.h"

#define PAGE_BYTES 4096u
#define PAGE_WORDS (PAGE_BYTES / 8u)

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b != 0) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		wl_die_errno("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	unsigned long long mib, percent, rate, seconds = 0;
	uint64_t *buf, rng, step, per_period, elapsed = 0, limit, max_delta, t0;
	size_t bytes, npages, nwords;

	wl_init("ssi-wl-dirty", "MIB PERCENT RATE_MS [SECONDS=0]");
	if (argc < 4 || argc > 5)
		wl_usage();
	mib = wl_arg_u(argv[1], 1, 1048576ULL, "MIB");
	percent = wl_arg_u(argv[2], 0, 100, "PERCENT");
	rate = wl_arg_u(argv[3], 0, 86400000ULL, "RATE_MS");
	if (argc > 4)
		seconds = wl_arg_u(argv[4], 0, 100000000ULL, "SECONDS");

	bytes = (size_t)mib << 20;
	nwords = bytes / 8;
	npages = bytes / PAGE_BYTES;
	buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		wl_die_errno("mmap %llu MiB", mib);
	rng = wl_seed(0x6469727479ULL);
	for (size_t i = 0; i < nwords; i++)
		buf[i] = wl_xs64(&rng);
	wl_printf("ready\n");

	per_period = (npages * percent + 99) / 100;
	/* A step coprime with npages visits distinct pages. */
	step = (wl_xs64(&rng) % npages) | 1;
	while (gcd(step, npages) != 1)
		step += 2;
	step %= npages;
	limit = (uint64_t)seconds * 1000000000ULL;
	max_delta = ((uint64_t)rate + 1000) * 1000000ULL;

	t0 = now_ns();
	for (uint64_t period = 1; seconds == 0 || elapsed < limit; period++) {
		uint64_t pg = wl_xs64(&rng) % npages, t1;

		for (uint64_t k = 0; k < per_period; k++) {
			size_t w = (size_t)pg * PAGE_WORDS +
				   (size_t)(wl_xs64(&rng) % PAGE_WORDS);

			buf[w] += period;
			pg += step;
			if (pg >= npages)
				pg -= npages;
		}
		if (rate != 0)
			wl_sleep_ms(rate);
		else if (per_period == 0)
			wl_sleep_ms(100);	/* idle and no rate: don't spin */
		t1 = now_ns();
		if (t1 > t0)
			elapsed += t1 - t0 < max_delta ? t1 - t0 : max_delta;
		t0 = t1;
	}
	wl_printf("done\n");
	return 0;
}
