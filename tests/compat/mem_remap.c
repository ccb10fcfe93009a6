/* mremap, madvise(MADV_DONTNEED), brk/sbrk, large malloc. */
#include "common.h"
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

static int pattern_ok(const unsigned char *p, long n, unsigned seed)
{
	for (long i = 0; i < n; i++)
		if (p[i] != (unsigned char)(i * 7 + seed))
			return 0;
	return 1;
}

static void fill(unsigned char *p, long n, unsigned seed)
{
	for (long i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 7 + seed);
}

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);

	/* Grow in place or move: contents preserved, new tail zero. */
	unsigned char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fill(p, 2 * pg, 3);
	unsigned char *q = mremap(p, 2 * pg, 8 * pg, MREMAP_MAYMOVE);
	CHECK("mremap_grow", q != MAP_FAILED);
	CHECK("mremap_grow_preserved", pattern_ok(q, 2 * pg, 3));
	int z = 1;
	for (long i = 2 * pg; i < 8 * pg; i++)
		if (q[i])
			z = 0;
	CHECK("mremap_grow_tail_zero", z);
	q[8 * pg - 1] = 9;
	CHECK("mremap_grow_tail_writable", q[8 * pg - 1] == 9);

	/* Shrink: the tail becomes unmapped. */
	unsigned char *r = mremap(q, 8 * pg, 1 * pg, 0);
	CHECK("mremap_shrink_same_addr", r == q);
	CHECK("mremap_shrink_preserved", pattern_ok(r, pg, 3));
	unsigned char vec;
	EXPECT_ERR("mremap_shrink_tail_unmapped", mincore(q + 4 * pg, pg, &vec), ENOMEM);

	/* Forced move with MREMAP_FIXED to a reserved destination. */
	unsigned char *dst = mmap(NULL, 4 * pg, PROT_NONE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *src = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fill(src, 2 * pg, 11);
	unsigned char *mv = mremap(src, 2 * pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_FIXED,
				   dst + pg);
	CHECK("mremap_fixed_moved", mv == dst + pg);
	CHECK("mremap_fixed_preserved", pattern_ok(mv, 2 * pg, 11));
	EXPECT_ERR("mremap_fixed_old_gone", mincore(src, pg, &vec), ENOMEM);

	/* Growing without MAYMOVE when blocked fails with ENOMEM. */
	unsigned char *a = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT_ERR("mremap_nomove_blocked", mremap(a, pg, 2 * pg, 0) == MAP_FAILED ? -1 : 0, ENOMEM);
	EXPECT_ERR("mremap_badflags", mremap(a, pg, pg, 0x80) == MAP_FAILED ? -1 : 0, EINVAL);
	EXPECT_ERR("mremap_unaligned", mremap(a + 1, pg, pg, 0) == MAP_FAILED ? -1 : 0, EINVAL);
	EXPECT_ERR("mremap_fixed_without_maymove",
		   mremap(a, pg, pg, MREMAP_FIXED, dst) == MAP_FAILED ? -1 : 0, EINVAL);
	munmap(a, 2 * pg);
	munmap(dst, 4 * pg);
	munmap(r, pg);

	/* MADV_DONTNEED zeroes private anonymous memory. */
	unsigned char *d = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(d, 0x5a, 4 * pg);
	CHECK("madvise_dontneed", madvise(d + pg, 2 * pg, MADV_DONTNEED) == 0);
	CHECK("madvise_dontneed_zeroed", d[pg] == 0 && d[3 * pg - 1] == 0);
	CHECK("madvise_dontneed_outside_kept", d[0] == 0x5a && d[3 * pg] == 0x5a);
	CHECK("madvise_willneed", madvise(d, 4 * pg, MADV_WILLNEED) == 0);
	CHECK("madvise_normal", madvise(d, 4 * pg, MADV_NORMAL) == 0);
	EXPECT_ERR("madvise_bad_advice", madvise(d, pg, 12345), EINVAL);
	EXPECT_ERR("madvise_unaligned", madvise(d + 1, pg, MADV_DONTNEED), EINVAL);
	munmap(d, 4 * pg);

	/* MADV_DONTNEED on shared anon keeps the data. */
	unsigned char *sh = mmap(NULL, pg, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	sh[1] = 4;
	madvise(sh, pg, MADV_DONTNEED);
	CHECK("madvise_dontneed_shared_kept", sh[1] == 4);
	munmap(sh, pg);

	/* brk / sbrk. */
	void *b0 = sbrk(0);
	CHECK("sbrk0", b0 != (void *)-1);
	void *b1 = sbrk(3 * pg);
	CHECK("sbrk_grow_returns_old", b1 == b0);
	CHECK("sbrk_new_break", sbrk(0) == (char *)b0 + 3 * pg);
	memset(b0, 0x33, 3 * pg);
	CHECK("sbrk_memory_usable", ((unsigned char *)b0)[3 * pg - 1] == 0x33);
	CHECK("sbrk_shrink", sbrk(-2 * pg) != (void *)-1);
	CHECK("sbrk_after_shrink", sbrk(0) == (char *)b0 + pg);
	long raw = syscall(SYS_brk, 0);
	CHECK("brk_syscall_query", raw == (long)sbrk(0));
	/* brk below the start of the heap is refused: returns current break. */
	long low = syscall(SYS_brk, 4096);
	CHECK("brk_too_low_unchanged", low == raw);
	/* Regrow: the re-exposed page is zero. */
	sbrk(pg);
	CHECK("brk_regrow_zeroed", ((unsigned char *)b0)[pg] == 0);
	sbrk(-2 * pg);

	/* Large malloc: 256 MiB, touch every page. */
	size_t big = 256UL << 20;
	unsigned char *m = malloc(big);
	CHECK("malloc_256M", m != NULL);
	if (m) {
		for (size_t i = 0; i < big; i += pg)
			m[i] = (unsigned char)(i >> 12);
		int good = 1;
		for (size_t i = 0; i < big; i += pg)
			if (m[i] != (unsigned char)(i >> 12))
				good = 0;
		CHECK("malloc_256M_touch", good);
		free(m);
	}
	/* Many small allocations. */
	void *ptrs[10000];
	for (int i = 0; i < 10000; i++) {
		ptrs[i] = malloc(16 + i % 300);
		memset(ptrs[i], i & 0xff, 16);
	}
	int sm = 1;
	for (int i = 0; i < 10000; i++) {
		if (((unsigned char *)ptrs[i])[15] != (i & 0xff))
			sm = 0;
		free(ptrs[i]);
	}
	CHECK("malloc_small_many", sm);

	/* Absurd sizes fail cleanly. */
	EXPECT_ERR("mmap_huge_enomem",
		   mmap(NULL, 1UL << 62, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
				   MAP_FAILED ? -1 : 0,
		   ENOMEM);
	return compat_done();
}
