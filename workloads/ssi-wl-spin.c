/*
 * ssi-wl-spin UNITS
 *
 * CPU-bound work of a known size: UNITS rounds of 2^20 steps of a 64-bit
 * xorshift generator folded into a checksum, no system call between them.
 * The same UNITS gives the same checksum wherever and however often the
 * process ran or moved, so a job's output proves its work was done once
 * and right. Prints "spin units=UNITS sum=HEX" on stdout at the end. A
 * unit takes a few ms of CPU on a host and tens under qemu TCG.
 */
#include "wl_common.h"

int main(int argc, char **argv)
{
	unsigned long long units, x = 0x9e3779b97f4a7c15ULL, sum = 0;

	wl_init("ssi-wl-spin", "UNITS");
	if (argc != 2)
		wl_usage();
	units = wl_arg_u(argv[1], 1, 1ULL << 32, "UNITS");
	for (unsigned long long u = 0; u < units; u++) {
		for (int i = 0; i < (1 << 20); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			sum += x ^ (sum >> 3);
		}
	}
	printf("spin units=%llu sum=%016llx\n", units, sum);
	return 0;
}
