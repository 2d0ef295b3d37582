/*
 * ssi-wl-discard MIB ROUNDS [INTERVAL_MS=100]
 *
 * A process that keeps giving memory back without changing its layout: one
 * anonymous mapping of MIB MiB, mapped at the start; in round r (1..ROUNDS)
 * every page i with (i + r) % 3 == 0 is dropped (madvise MADV_DONTNEED:
 * it reads zero again) and every other page gets the number r * 1000003 + i
 * in its first and last word. After each round it sleeps INTERVAL_MS, then
 * reads every page back: a dropped page must be all zero there, another
 * must hold its number. It prints "round r ok" (every 10 rounds), exits 1
 * with "round r: page i holds X, expected Y" on the first wrong page and
 * ends with "discard done rounds=ROUNDS". For the live migration of a
 * process whose pages go absent between the rounds of a pre-copy and its
 * freeze (the destination must drop what it had of them).
 */
#include <sys/mman.h>

#include "wl_common.h"

#define PAGE 4096ULL

int main(int argc, char **argv)
{
	unsigned long long mib, rounds, interval = 100, npages, words = PAGE / sizeof(unsigned long long);
	unsigned long long *mem;

	wl_init("ssi-wl-discard", "MIB ROUNDS [INTERVAL_MS=100]");
	if (argc < 3 || argc > 4)
		wl_usage();
	mib = wl_arg_u(argv[1], 1, 4096, "MIB");
	rounds = wl_arg_u(argv[2], 1, 1000000, "ROUNDS");
	if (argc > 3)
		interval = wl_arg_u(argv[3], 0, 86400000ULL, "INTERVAL_MS");
	npages = mib * 1024 * 1024 / PAGE;
	mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		wl_die_errno("mmap %llu MiB", mib);

	for (unsigned long long r = 1; r <= rounds; r++) {
		for (unsigned long long i = 0; i < npages; i++) {
			unsigned long long *page = mem + i * words;

			if ((i + r) % 3 == 0) {
				if (madvise(page, PAGE, MADV_DONTNEED) != 0)
					wl_die_errno("madvise page %llu", i);
			} else {
				page[0] = r * 1000003ULL + i;
				page[words - 1] = r * 1000003ULL + i;
			}
		}
		wl_sleep_ms(interval);
		for (unsigned long long i = 0; i < npages; i++) {
			unsigned long long *page = mem + i * words;
			unsigned long long want = (i + r) % 3 == 0 ? 0 : r * 1000003ULL + i;

			for (unsigned long long w = 0; w < words; w++) {
				unsigned long long expect = (w == 0 || w == words - 1) ? want : 0;

				if (page[w] != expect) {
					wl_printf("round %llu: page %llu word %llu holds %llu, expected %llu\n", r, i, w, page[w], expect);
					return 1;
				}
			}
		}
		if (r % 10 == 0)
			wl_printf("round %llu ok\n", r);
	}
	wl_printf("discard done rounds=%llu\n", rounds);
	return 0;
}
