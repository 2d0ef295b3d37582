/*
 * ssi-wl-memfpu MIB ITERATIONS [PAUSE_MS=0]
 *
 * Memory + FPU/SIMD state workload for checkpoint/restart and migration.
 *
 *  - mmap()s MIB MiB (anonymous, private) and fills it with a fixed-seed
 *    xorshift64* stream;
 *  - each iteration makes ONE pass over the buffer, page by page, updating
 *     (a) a double-precision running checksum (mul/add/div per cache line,
 *         IEEE-exact operations only: no fast-math, no FMA contraction), and
 *     (b) an integer SIMD checksum, with AVX2 intrinsics when the CPU has
 *         AVX2 and SSE2 intrinsics otherwise (or when SSI_WL_NOAVX2=1 is set
 *         in the environment); both paths compute the same value bit for bit;
 *    then rewrites one word in a pseudo-random 1/16 of the pages;
 *  - between iterations it sleeps PAUSE_MS with the checksum state held in
 *    xmm8-xmm15 (ymm8-ymm15 on the AVX2 path), a double on the x87 stack, a
 *    non-default MXCSR and a non-default x87 control word, across a raw
 *    nanosleep syscall; after the sleep the state is taken back from the
 *    registers (so a lost register would change the output) and compared
 *    with what was loaded (a mismatch is reported and exits 1).
 *
 * Output: "iter N sum <hex bits of the double> simd <hex>" per iteration and
 * "final <sum hex> <simd hex>" at the end. Identical on both SIMD paths.
 */
#include <immintrin.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "wl_common.h"

#define PAGE_BYTES 4096u
#define PAGE_WORDS (PAGE_BYTES / 8u)

/* The checksum state: everything that is carried from one iteration to the
 * next. 112 bytes, so it fits in xmm8-xmm14. */
struct state {
	double acc, acc2;		/* FP checksum */
	uint64_t a[4], b[4], c[4];	/* SIMD checksum, 4 x 64-bit lanes */
};

_Static_assert(sizeof(struct state) == 112, "state must fit in 7 xmm regs");

/*
 * SIMD checksum over n words (n a multiple of 4). Lane j (0..3) sees words
 * 4g+j and does, with w the word:
 *	a += w;  b ^= (w << 3) + a;  c += lo32(w) * hi32(w)   (mod 2^64)
 */
__attribute__((target("avx2")))
static void simd_avx2(const uint64_t *p, size_t n, struct state *st)
{
	__m256i a = _mm256_loadu_si256((const __m256i *)st->a);
	__m256i b = _mm256_loadu_si256((const __m256i *)st->b);
	__m256i c = _mm256_loadu_si256((const __m256i *)st->c);

	for (size_t i = 0; i < n; i += 4) {
		__m256i w = _mm256_loadu_si256((const __m256i *)(p + i));

		a = _mm256_add_epi64(a, w);
		b = _mm256_xor_si256(b, _mm256_add_epi64(_mm256_slli_epi64(w, 3), a));
		c = _mm256_add_epi64(c, _mm256_mul_epu32(w, _mm256_srli_epi64(w, 32)));
	}
	_mm256_storeu_si256((__m256i *)st->a, a);
	_mm256_storeu_si256((__m256i *)st->b, b);
	_mm256_storeu_si256((__m256i *)st->c, c);
}

static void simd_sse2(const uint64_t *p, size_t n, struct state *st)
{
	__m128i a0 = _mm_loadu_si128((const __m128i *)&st->a[0]);
	__m128i a1 = _mm_loadu_si128((const __m128i *)&st->a[2]);
	__m128i b0 = _mm_loadu_si128((const __m128i *)&st->b[0]);
	__m128i b1 = _mm_loadu_si128((const __m128i *)&st->b[2]);
	__m128i c0 = _mm_loadu_si128((const __m128i *)&st->c[0]);
	__m128i c1 = _mm_loadu_si128((const __m128i *)&st->c[2]);

	for (size_t i = 0; i < n; i += 4) {
		__m128i w0 = _mm_loadu_si128((const __m128i *)(p + i));
		__m128i w1 = _mm_loadu_si128((const __m128i *)(p + i + 2));

		a0 = _mm_add_epi64(a0, w0);
		a1 = _mm_add_epi64(a1, w1);
		b0 = _mm_xor_si128(b0, _mm_add_epi64(_mm_slli_epi64(w0, 3), a0));
		b1 = _mm_xor_si128(b1, _mm_add_epi64(_mm_slli_epi64(w1, 3), a1));
		c0 = _mm_add_epi64(c0, _mm_mul_epu32(w0, _mm_srli_epi64(w0, 32)));
		c1 = _mm_add_epi64(c1, _mm_mul_epu32(w1, _mm_srli_epi64(w1, 32)));
	}
	_mm_storeu_si128((__m128i *)&st->a[0], a0);
	_mm_storeu_si128((__m128i *)&st->a[2], a1);
	_mm_storeu_si128((__m128i *)&st->b[0], b0);
	_mm_storeu_si128((__m128i *)&st->b[2], b1);
	_mm_storeu_si128((__m128i *)&st->c[0], c0);
	_mm_storeu_si128((__m128i *)&st->c[2], c1);
}

/* FP checksum: one step per 64-byte line, fed by an integer fold of it.
 * Plain SSE2 scalar doubles (x86_64 default), built with -ffp-contract=off:
 * every operation is a correctly rounded IEEE operation, so the result is
 * the same on every x86_64 CPU. */
static void fp_page(const uint64_t *p, size_t n, struct state *st)
{
	double acc = st->acc, acc2 = st->acc2;

	for (size_t i = 0; i < n; i += 8) {
		uint64_t x = ((p[i] ^ p[i + 1]) + (p[i + 2] ^ p[i + 3])) ^
			     ((p[i + 4] + p[i + 5]) ^ (p[i + 6] + p[i + 7]));

		acc = acc * 0.999 + (double)(x & 0xffff) * 1e-3;
		acc2 = acc2 + acc / (1.0 + (double)((x >> 16) & 0xff));
	}
	st->acc = acc;
	st->acc2 = acc2;
}

static uint64_t double_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static uint64_t simd_fold(const struct state *st)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (int j = 0; j < 4; j++) {
		h = (h ^ st->a[j]) * 0x100000001b3ULL;
		h = (h ^ st->b[j]) * 0x100000001b3ULL;
		h = (h ^ st->c[j]) * 0x100000001b3ULL;
	}
	return h;
}

/* ------------------------------------------------------------------ */
/* Sleeping with live register state. */

#define MXCSR_SPECIAL	0x7fa0u	/* all exceptions masked, round toward zero, PE flag set */
#define X87CW_SPECIAL	0x0f7fu	/* all exceptions masked, 64-bit precision, truncate */

struct regs {
	unsigned char v[256];	/* ymm8..ymm15 (only 128 bytes for xmm8..xmm15) */
	double x87;		/* kept in st(0) */
	uint32_t mxcsr;		/* MXCSR value while sleeping */
	uint16_t x87cw;		/* x87 control word while sleeping */
};

static long raw_nanosleep_sse(const struct timespec *req, struct timespec *rem,
			      const struct regs *in, struct regs *out)
{
	long ret = SYS_nanosleep;
	uint32_t saved_mxcsr;
	uint16_t saved_cw;

	__asm__ volatile(
		"stmxcsr %[smx]\n\t"
		"fnstcw %[scw]\n\t"
		"movdqu   0(%[in]), %%xmm8\n\t"
		"movdqu  16(%[in]), %%xmm9\n\t"
		"movdqu  32(%[in]), %%xmm10\n\t"
		"movdqu  48(%[in]), %%xmm11\n\t"
		"movdqu  64(%[in]), %%xmm12\n\t"
		"movdqu  80(%[in]), %%xmm13\n\t"
		"movdqu  96(%[in]), %%xmm14\n\t"
		"movdqu 112(%[in]), %%xmm15\n\t"
		"fldl %c[ox](%[in])\n\t"
		"ldmxcsr %c[om](%[in])\n\t"
		"fldcw %c[oc](%[in])\n\t"
		"syscall\n\t"
		"stmxcsr %c[om](%[out])\n\t"
		"fnstcw %c[oc](%[out])\n\t"
		"ldmxcsr %[smx]\n\t"
		"fldcw %[scw]\n\t"
		"fstpl %c[ox](%[out])\n\t"
		"movdqu %%xmm8,    0(%[out])\n\t"
		"movdqu %%xmm9,   16(%[out])\n\t"
		"movdqu %%xmm10,  32(%[out])\n\t"
		"movdqu %%xmm11,  48(%[out])\n\t"
		"movdqu %%xmm12,  64(%[out])\n\t"
		"movdqu %%xmm13,  80(%[out])\n\t"
		"movdqu %%xmm14,  96(%[out])\n\t"
		"movdqu %%xmm15, 112(%[out])\n\t"
		: "+a"(ret), [smx] "=m"(saved_mxcsr), [scw] "=m"(saved_cw)
		: "D"(req), "S"(rem), [in] "r"(in), [out] "r"(out),
		  [ox] "i"(offsetof(struct regs, x87)),
		  [om] "i"(offsetof(struct regs, mxcsr)),
		  [oc] "i"(offsetof(struct regs, x87cw))
		: "rcx", "r11", "memory", "cc", "xmm8", "xmm9", "xmm10",
		  "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
	return ret;
}

__attribute__((target("avx2")))
static long raw_nanosleep_avx(const struct timespec *req, struct timespec *rem,
			      const struct regs *in, struct regs *out)
{
	long ret = SYS_nanosleep;
	uint32_t saved_mxcsr;
	uint16_t saved_cw;

	__asm__ volatile(
		"stmxcsr %[smx]\n\t"
		"fnstcw %[scw]\n\t"
		"vmovdqu   0(%[in]), %%ymm8\n\t"
		"vmovdqu  32(%[in]), %%ymm9\n\t"
		"vmovdqu  64(%[in]), %%ymm10\n\t"
		"vmovdqu  96(%[in]), %%ymm11\n\t"
		"vmovdqu 128(%[in]), %%ymm12\n\t"
		"vmovdqu 160(%[in]), %%ymm13\n\t"
		"vmovdqu 192(%[in]), %%ymm14\n\t"
		"vmovdqu 224(%[in]), %%ymm15\n\t"
		"fldl %c[ox](%[in])\n\t"
		"ldmxcsr %c[om](%[in])\n\t"
		"fldcw %c[oc](%[in])\n\t"
		"syscall\n\t"
		"stmxcsr %c[om](%[out])\n\t"
		"fnstcw %c[oc](%[out])\n\t"
		"ldmxcsr %[smx]\n\t"
		"fldcw %[scw]\n\t"
		"fstpl %c[ox](%[out])\n\t"
		"vmovdqu %%ymm8,    0(%[out])\n\t"
		"vmovdqu %%ymm9,   32(%[out])\n\t"
		"vmovdqu %%ymm10,  64(%[out])\n\t"
		"vmovdqu %%ymm11,  96(%[out])\n\t"
		"vmovdqu %%ymm12, 128(%[out])\n\t"
		"vmovdqu %%ymm13, 160(%[out])\n\t"
		"vmovdqu %%ymm14, 192(%[out])\n\t"
		"vmovdqu %%ymm15, 224(%[out])\n\t"
		"vzeroupper\n\t"
		: "+a"(ret), [smx] "=m"(saved_mxcsr), [scw] "=m"(saved_cw)
		: "D"(req), "S"(rem), [in] "r"(in), [out] "r"(out),
		  [ox] "i"(offsetof(struct regs, x87)),
		  [om] "i"(offsetof(struct regs, mxcsr)),
		  [oc] "i"(offsetof(struct regs, x87cw))
		: "rcx", "r11", "memory", "cc", "xmm8", "xmm9", "xmm10",
		  "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
	return ret;
}

static int use_avx2;

/* Sleep ms with *st living in vector/x87 registers; returns the state as
 * read back from the registers. */
static void sleep_with_live_state(unsigned long long ms, struct state *st,
				  unsigned long long iter)
{
	struct timespec req, rem;
	struct regs in, out, expect;
	size_t vbytes = use_avx2 ? 256 : 128;
	uint64_t pat = wl_seed(iter);
	long r;

	memset(&in, 0, sizeof(in));
	memcpy(in.v, st, sizeof(*st));
	for (size_t i = sizeof(*st); i < vbytes; i += 8) {
		uint64_t w = wl_xs64(&pat);

		memcpy(in.v + i, &w, 8);
	}
	in.x87 = st->acc2;
	in.mxcsr = MXCSR_SPECIAL;
	in.x87cw = X87CW_SPECIAL;
	expect = in;

	req.tv_sec = (time_t)(ms / 1000);
	req.tv_nsec = (long)(ms % 1000) * 1000000L;
	for (;;) {
		memset(&out, 0, sizeof(out));
		r = use_avx2 ? raw_nanosleep_avx(&req, &rem, &in, &out)
			     : raw_nanosleep_sse(&req, &rem, &in, &out);
		if (r != -EINTR)
			break;
		/* Interrupted (e.g. by a checkpoint): go on with the rest,
		 * carrying the state as it came back from the registers. */
		req = rem;
		memcpy(in.v, out.v, vbytes);
		in.x87 = out.x87;
	}
	if (r != 0) {
		errno = (int)-r;
		wl_die_errno("nanosleep");
	}

	/* The state is taken back from the registers... */
	memcpy(st, out.v, sizeof(*st));
	/* ...and checked against what was loaded. */
	if (memcmp(out.v, expect.v, vbytes) != 0)
		wl_die("iteration %llu: %s register contents changed across the sleep",
		       iter, use_avx2 ? "ymm8-ymm15" : "xmm8-xmm15");
	if (double_bits(out.x87) != double_bits(expect.x87))
		wl_die("iteration %llu: x87 st(0) changed across the sleep", iter);
	if (out.mxcsr != expect.mxcsr)
		wl_die("iteration %llu: MXCSR changed across the sleep: %#x, want %#x",
		       iter, out.mxcsr, expect.mxcsr);
	if (out.x87cw != expect.x87cw)
		wl_die("iteration %llu: x87 control word changed across the sleep: %#x, want %#x",
		       iter, out.x87cw, expect.x87cw);
}

int main(int argc, char **argv)
{
	unsigned long long mib, iters, pause_ms = 0;
	const char *env;
	struct state st;
	uint64_t *buf, rng, mrng;
	size_t bytes, nwords, npages, nmod;

	wl_init("ssi-wl-memfpu", "MIB ITERATIONS [PAUSE_MS=0]");
	if (argc < 3 || argc > 4)
		wl_usage();
	mib = wl_arg_u(argv[1], 1, 16384, "MIB");
	iters = wl_arg_u(argv[2], 0, 1000000000ULL, "ITERATIONS");
	if (argc > 3)
		pause_ms = wl_arg_u(argv[3], 0, 86400000ULL, "PAUSE_MS");

	__builtin_cpu_init();
	use_avx2 = __builtin_cpu_supports("avx2");
	env = getenv("SSI_WL_NOAVX2");
	if (env != NULL && *env != '\0' && strcmp(env, "0") != 0)
		use_avx2 = 0;

	bytes = (size_t)mib << 20;
	nwords = bytes / 8;
	npages = bytes / PAGE_BYTES;
	nmod = npages / 16 ? npages / 16 : 1;
	buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		wl_die_errno("mmap %llu MiB", mib);

	rng = wl_seed(0x55492d6d656d6670ULL);
	for (size_t i = 0; i < nwords; i++)
		buf[i] = wl_xs64(&rng);

	memset(&st, 0, sizeof(st));
	mrng = wl_seed(0x6d6f6469667921ULL);
	for (unsigned long long it = 1; it <= iters; it++) {
		for (size_t pg = 0; pg < npages; pg++) {
			const uint64_t *p = buf + pg * PAGE_WORDS;

			if (use_avx2)
				simd_avx2(p, PAGE_WORDS, &st);
			else
				simd_sse2(p, PAGE_WORDS, &st);
			fp_page(p, PAGE_WORDS, &st);
		}
		for (size_t k = 0; k < nmod; k++) {
			size_t pg = (size_t)wl_below(&mrng, npages);
			size_t w = pg * PAGE_WORDS + (size_t)wl_below(&mrng, PAGE_WORDS);

			buf[w] = buf[w] * 0x9e3779b97f4a7c15ULL + it;
		}
		wl_printf("iter %llu sum %016llx simd %016llx\n", it,
			  (unsigned long long)double_bits(st.acc + st.acc2),
			  (unsigned long long)simd_fold(&st));
		if (it < iters)
			sleep_with_live_state(pause_ms, &st, it);
	}
	wl_printf("final %016llx %016llx\n",
		  (unsigned long long)double_bits(st.acc + st.acc2),
		  (unsigned long long)simd_fold(&st));
	return 0;
}
