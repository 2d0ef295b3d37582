/*
 * ssi-wl-grow COUNT [INTERVAL_MS=1]
 *
 * A process whose memory layout keeps changing: for i = 1..COUNT it maps a
 * new anonymous page (mmap, PROT_READ|PROT_WRITE, MAP_PRIVATE), stores i in
 * it and sleeps INTERVAL_MS; neighbouring mappings merge, so the mapping it
 * grows changes its bounds at every step. Every 100 pages it prints
 * "grow i sum S", S the sum of the numbers read back from every page mapped
 * so far; at the end "grow done count=COUNT sum=S" with S = COUNT*(COUNT+1)/2
 * (a page that lost its number, or a mapping that lost a page, changes the
 * sum; a wrong sum exits 1). For the live migration of a process whose
 * structure changes while its description is on its way (post-copy, lazy:
 * the destination must rebuild it again from the final image).
 */
#include <sys/mman.h>

#include "wl_common.h"

static unsigned long long sum_pages(unsigned long long **pages, unsigned long long n)
{
	unsigned long long s = 0;

	for (unsigned long long k = 0; k < n; k++)
		s += *pages[k];
	return s;
}

int main(int argc, char **argv)
{
	unsigned long long count, interval = 1, **pages;

	wl_init("ssi-wl-grow", "COUNT [INTERVAL_MS=1]");
	if (argc < 2 || argc > 3)
		wl_usage();
	count = wl_arg_u(argv[1], 1, 1000000, "COUNT");
	if (argc > 2)
		interval = wl_arg_u(argv[2], 0, 86400000ULL, "INTERVAL_MS");
	pages = calloc(count, sizeof(*pages));
	if (!pages)
		wl_die("out of memory");

	for (unsigned long long i = 1; i <= count; i++) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			wl_die_errno("mmap page %llu", i);
		pages[i - 1] = p;
		*pages[i - 1] = i;
		if (i % 100 == 0)
			wl_printf("grow %llu sum %llu\n", i, sum_pages(pages, i));
		if (i < count)
			wl_sleep_ms(interval);
	}
	unsigned long long sum = sum_pages(pages, count), want = count * (count + 1) / 2;

	if (sum != want)
		wl_die("sum %llu, expected %llu", sum, want);
	wl_printf("grow done count=%llu sum=%llu\n", count, sum);
	return 0;
}
