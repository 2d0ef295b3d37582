/*
 * Shared helpers for the ssi-wl-* workload programs (header-only, every
 * function is static so each program is a single translation unit).
 *
 * Rules every workload follows (see README.md): deterministic stdout (no
 * times, pids or addresses), one fflush per line, errors on stderr prefixed
 * with the program name, exit 2 on bad arguments, and no timing assertions
 * (a process may be frozen for seconds at any point and resumed elsewhere).
 */
#ifndef SSI_WL_COMMON_H
#define SSI_WL_COMMON_H

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *wl_prog = "ssi-wl";
static const char *wl_usage_text = "";

/* Call first thing in main(). */
static inline void wl_init(const char *prog, const char *usage)
{
	wl_prog = prog;
	wl_usage_text = usage;
	/* Line buffered even when stdout is a pipe or a file; wl_printf()
	 * flushes explicitly as well. */
	setvbuf(stdout, NULL, _IOLBF, 0);
}

__attribute__((noreturn))
static inline void wl_usage(void)
{
	fprintf(stderr, "usage: %s %s\n", wl_prog, wl_usage_text);
	exit(2);
}

__attribute__((format(printf, 1, 2), noreturn))
static inline void wl_die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", wl_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Like wl_die() with ": strerror(errno)" appended. */
__attribute__((format(printf, 1, 2), noreturn))
static inline void wl_die_errno(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", wl_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(err));
	exit(1);
}

/* printf + fflush; a failed write to stdout is fatal. */
__attribute__((format(printf, 1, 2)))
static inline void wl_printf(const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vprintf(fmt, ap);
	va_end(ap);
	if (r < 0 || fflush(stdout) != 0) {
		int err = errno;
		fprintf(stderr, "%s: writing stdout: %s\n", wl_prog, strerror(err));
		exit(1);
	}
}

/* Parse an unsigned decimal argument in [min, max]; bad input -> usage. */
static inline unsigned long long wl_arg_u(const char *s, unsigned long long min,
				   unsigned long long max, const char *what)
{
	unsigned long long v;
	char *end;

	if (s == NULL || *s == '\0' || *s == '-' || *s == '+')
		goto bad;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		goto bad;
	return v;
bad:
	fprintf(stderr, "%s: bad %s '%s' (want an integer in %llu..%llu)\n",
		wl_prog, what, s ? s : "", min, max);
	wl_usage();
	return 0; /* not reached */
}

/*
 * Sleep ms milliseconds with nanosleep(2), resuming with the remaining time
 * after EINTR. If stop_flag is non-NULL and becomes non-zero, return early
 * (used by programs that react to a signal).
 */
static inline void wl_sleep_ms_until(unsigned long long ms, volatile int *stop_flag)
{
	struct timespec req, rem;

	req.tv_sec = (time_t)(ms / 1000);
	req.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (req.tv_sec != 0 || req.tv_nsec != 0) {
		if (stop_flag != NULL && *stop_flag)
			return;
		if (nanosleep(&req, &rem) == 0)
			return;
		if (errno != EINTR)
			wl_die_errno("nanosleep");
		req = rem;
	}
}

static inline void wl_sleep_ms(unsigned long long ms)
{
	wl_sleep_ms_until(ms, NULL);
}

/* write(2) the whole buffer, retrying on EINTR and short writes. */
static inline int wl_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Fill buf from fd until len bytes or EOF; returns bytes read or -1. */
static inline ssize_t wl_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* splitmix64: turns any seed (including 0) into a good xorshift state. */
static inline uint64_t wl_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t wl_seed(uint64_t seed)
{
	uint64_t s = wl_splitmix64(&seed);

	return s ? s : 0x2545f4914f6cdd1dULL; /* xorshift state must be != 0 */
}

/* xorshift64* (Vigna); state must be non-zero. */
static inline uint64_t wl_xs64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform-enough value in [0, n) for n > 0 (the bias is irrelevant here). */
static inline uint64_t wl_below(uint64_t *s, uint64_t n)
{
	return wl_xs64(s) % n;
}

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()). */
static uint32_t wl_crc_table[256];

static inline void wl_crc32_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320U ^ (c >> 1) : c >> 1;
		wl_crc_table[i] = c;
	}
}

/* crc = wl_crc32(0, ...) to start; chain by passing the previous value. */
static inline uint32_t wl_crc32(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	if (wl_crc_table[1] == 0)
		wl_crc32_init();
	crc = ~crc;
	while (len--)
		crc = wl_crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#endif
