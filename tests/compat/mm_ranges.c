/* Address-range system calls with hostile ranges: zero, one-byte, huge,
 * wrapping and beyond-the-top lengths at addresses from 0 to the top of the
 * 64-bit space, as Linux x86-64 answers them. Raw syscall(2) throughout so
 * that glibc cannot filter the arguments.
 *
 * The grid prints one line per (call, address) with one result per length:
 * "0" (success), "addr" (returned the requested address), "other" (another
 * address), "-" (not run natively, see hazard()) or the errno name.
 * mmap at address 0 succeeds only with CAP_SYS_RAWIO (vm.mmap_min_addr):
 * the suite runs as root. */
#include "common.h"
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PG 4096UL
#define TOP 0xfffffffffffff000UL   /* the last page of the 64-bit space */
#define TASKSIZE 0x7ffffffff000UL  /* the end of user space (4-level paging) */
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

/* Layout: R is a 4-page read-write mapping, followed by a 4-page hole and a
 * 4-page PROT_NONE blocker (so that growing R in place can be refused). */
static unsigned char *R;

static void reset(void)
{
	syscall(SYS_mmap, R, 4 * PG, PROT_READ | PROT_WRITE, ANON | MAP_FIXED, -1, 0);
	syscall(SYS_munmap, R + 4 * PG, 4 * PG);
	syscall(SYS_mmap, R + 8 * PG, 4 * PG, PROT_NONE, ANON | MAP_FIXED, -1, 0);
}

enum { MLOCK, MUNLOCK, MLOCK2_0, MLOCK2_ONFAULT, MLOCK2_BAD, MADV_DN, MADV_WN,
       MADV_NRM, MADV_BAD, MPROT, MSYNC_S, MSYNC_A, MSYNC_SA, MSYNC_BAD,
       MINCORE, MREMAP_SHRINK, MREMAP_GROW, MMAP_FIXED, MMAP_NOREPLACE,
       MUNMAP, NOPS };
static const char *const op_name[NOPS] = {
	"mlock", "munlock", "mlock2_0", "mlock2_onfault", "mlock2_badflag",
	"madvise_dontneed", "madvise_willneed", "madvise_normal", "madvise_bad",
	"mprotect_read", "msync_sync", "msync_async", "msync_sync_async",
	"msync_badflag", "mincore", "mremap_shrink", "mremap_grow_maymove",
	"mmap_fixed", "mmap_fixed_noreplace", "munmap",
};

static unsigned char vec[1 << 18]; /* mincore vector: 1 GiB of pages */

static long call(int op, unsigned long a, unsigned long n)
{
	switch (op) {
	case MLOCK: return syscall(SYS_mlock, a, n);
	case MUNLOCK: return syscall(SYS_munlock, a, n);
	case MLOCK2_0: return syscall(SYS_mlock2, a, n, 0);
	case MLOCK2_ONFAULT: return syscall(SYS_mlock2, a, n, MLOCK_ONFAULT);
	case MLOCK2_BAD: return syscall(SYS_mlock2, a, n, 2);
	case MADV_DN: return syscall(SYS_madvise, a, n, MADV_DONTNEED);
	case MADV_WN: return syscall(SYS_madvise, a, n, MADV_WILLNEED);
	case MADV_NRM: return syscall(SYS_madvise, a, n, MADV_NORMAL);
	case MADV_BAD: return syscall(SYS_madvise, a, n, 12345);
	case MPROT: return syscall(SYS_mprotect, a, n, PROT_READ);
	case MSYNC_S: return syscall(SYS_msync, a, n, MS_SYNC);
	case MSYNC_A: return syscall(SYS_msync, a, n, MS_ASYNC);
	case MSYNC_SA: return syscall(SYS_msync, a, n, MS_SYNC | MS_ASYNC);
	case MSYNC_BAD: return syscall(SYS_msync, a, n, 8);
	case MINCORE: return syscall(SYS_mincore, a, n, vec);
	case MREMAP_SHRINK: return syscall(SYS_mremap, a, n, PG, 0);
	case MREMAP_GROW: return syscall(SYS_mremap, a, PG, n, MREMAP_MAYMOVE);
	case MMAP_FIXED:
		return syscall(SYS_mmap, a, n, PROT_READ, ANON | MAP_FIXED, -1, 0);
	case MMAP_NOREPLACE:
		return syscall(SYS_mmap, a, n, PROT_READ, ANON | MAP_FIXED_NOREPLACE, -1, 0);
	case MUNMAP: return syscall(SYS_munmap, a, n);
	}
	return -2;
}

/* Linux applies MADV_DONTNEED to every mapping in a range that starts in a
 * hole, so a huge range from low memory would zero this program's own stack
 * and heap: those cells are not run (the errno would not be reached).
 * Fixed mappings at page 0 are not run either. */
static int hazard(int op, unsigned long a, unsigned long n)
{
	/* Page 0 can be mapped only with CAP_SYS_RAWIO (the suite runs as
	 * root natively; husk's application never has that capability). */
	if ((op == MMAP_FIXED || op == MMAP_NOREPLACE) && a == 0)
		return 1;
	return op == MADV_DN && a < TASKSIZE && a % PG == 0 && n >= (1UL << 32) && a + n > a;
}

static int returns_addr(int op)
{
	return op == MMAP_FIXED || op == MMAP_NOREPLACE || op == MREMAP_SHRINK ||
	       op == MREMAP_GROW;
}

static void result(char *out, size_t sz, int op, long r, int e, unsigned long a)
{
	if (r == -1)
		snprintf(out, sz, " %s", ename(e));
	else if (returns_addr(op))
		snprintf(out, sz, " %s", (unsigned long)r == a ? "addr" : "other");
	else
		snprintf(out, sz, " %ld", r);
}

static void grid(void)
{
	unsigned long E = (unsigned long)R + 4 * PG;
	const unsigned long addrs[] = { 0, TOP, TASKSIZE, 1UL << 47, E - PG, E,
					(unsigned long)R + 1 };
	const char *const aname[] = { "0", "top", "tasksize", "2^47", "lastpage",
				      "end", "unaligned" };
	printf("grid lengths: 0 1 top ~0 2^47 wrap\n");
	for (int op = 0; op < NOPS; op++) {
		for (int i = 0; i < 7; i++) {
			unsigned long a = addrs[i];
			/* "wrap": a + len ends one page past zero. */
			const unsigned long lens[] = { 0, 1, TOP, ~0UL, 1UL << 47, -a + PG };
			char line[256] = "", cell[32];
			for (int l = 0; l < 6; l++) {
				unsigned long n = lens[l];
				if (hazard(op, a, n)) {
					strcat(line, " -");
					continue;
				}
				reset();
				errno = 0;
				long r = call(op, a, n);
				result(cell, sizeof cell, op, r, errno, a);
				strcat(line, cell);
				/* Undo a new mapping (page 0 as root, or where a grow
				 * moved to); reset() restores R's area. */
				if (returns_addr(op) && r != -1)
					syscall(SYS_munmap, r, n);
			}
			printf("%s %s:%s\n", op_name[op], aname[i], line);
		}
	}
	reset();
}

static const char *residency(unsigned char *p, int pages)
{
	static char s[64];
	if (syscall(SYS_mincore, p, pages * PG, vec) != 0)
		return ename(errno);
	for (int i = 0; i < pages; i++)
		s[i] = '0' + (vec[i] & 1);
	s[pages] = 0;
	return s;
}

#define RES(name, expr)                                                     \
	do {                                                                \
		errno = 0;                                                  \
		long r_ = (expr);                                           \
		printf("%s %s\n", name, r_ == -1 ? ename(errno) : r_ == 0 ? "0" : "other"); \
	} while (0)

static void valid_ranges(void)
{
	unsigned char *p = R;
	memset(p, 0x5a, 4 * PG);
	SHOW("resident_after_touch", "%s", residency(p, 4));
	RES("mlock_4", syscall(SYS_mlock, p, 4 * PG));
	SHOW("resident_locked", "%s", residency(p, 4));
	RES("madvise_dontneed_locked", syscall(SYS_madvise, p, 4 * PG, MADV_DONTNEED));
	RES("msync_invalidate_locked", syscall(SYS_msync, p, 4 * PG, MS_INVALIDATE));
	RES("munlock_4", syscall(SYS_munlock, p, 4 * PG));
	RES("mlock2_onfault_4", syscall(SYS_mlock2, p, 4 * PG, MLOCK_ONFAULT));
	RES("munlock_again", syscall(SYS_munlock, p, 4 * PG));
	RES("munlock_unlocked", syscall(SYS_munlock, p, 4 * PG));
	RES("madvise_dontneed_middle", syscall(SYS_madvise, p + PG, 2 * PG, MADV_DONTNEED));
	/* Before reading: a read would map the zero page, which counts. */
	SHOW("resident_after_dontneed", "%s", residency(p, 4));
	CHECK("dontneed_zeroed", p[PG] == 0 && p[3 * PG - 1] == 0);
	CHECK("dontneed_outside_kept", p[0] == 0x5a && p[3 * PG] == 0x5a);
	RES("madvise_willneed_4", syscall(SYS_madvise, p, 4 * PG, MADV_WILLNEED));
	RES("madvise_normal_4", syscall(SYS_madvise, p, 4 * PG, MADV_NORMAL));
	RES("mlock_unaligned_inside", syscall(SYS_mlock, p + 1, 4 * PG - 1));
	SHOW("resident_relocked", "%s", residency(p, 4));
	RES("munlock_4_again", syscall(SYS_munlock, p, 4 * PG));
	RES("mincore_one_byte", syscall(SYS_mincore, p, 1, vec));
	RES("mincore_bad_vec", syscall(SYS_mincore, p, PG, BADPTR));
	RES("mincore_unaligned", syscall(SYS_mincore, p + 1, PG, vec));
	RES("mincore_straddle_end", syscall(SYS_mincore, p + 3 * PG, 2 * PG, vec));
	RES("mlock_straddle_end", syscall(SYS_mlock, p + 3 * PG, 2 * PG));
	RES("mprotect_straddle_end", syscall(SYS_mprotect, p + 3 * PG, 2 * PG, PROT_READ));
	RES("msync_sync_4", syscall(SYS_msync, p, 4 * PG, MS_SYNC));
	RES("msync_async_4", syscall(SYS_msync, p, 4 * PG, MS_ASYNC));
	RES("mprotect_read_4", syscall(SYS_mprotect, p, 4 * PG, PROT_READ));
	RES("mprotect_rw_4", syscall(SYS_mprotect, p, 4 * PG, PROT_READ | PROT_WRITE));
	reset();

	/* A large untouched PROT_NONE reservation has nothing resident. */
	long big = syscall(SYS_mmap, 0, 1UL << 30, PROT_NONE, ANON, -1, 0);
	CHECK("mmap_1g_none", big != -1);
	RES("mincore_1g_none", syscall(SYS_mincore, big, 1UL << 30, vec));
	long sum = 0;
	for (size_t i = 0; i < sizeof vec; i++)
		sum += vec[i] & 1;
	SHOW("mincore_1g_none_sum", "%ld", sum);
	syscall(SYS_munmap, big, 1UL << 30);
}

static void remaps(void)
{
	unsigned char *p = R;
	const unsigned long top = TASKSIZE - PG; /* the last user page */
	memset(p, 0x33, 4 * PG);
	long r;
	RES("mremap_shrink_2", (r = syscall(SYS_mremap, p, 4 * PG, 2 * PG, 0)) == (long)p ? 0 : r);
	RES("mremap_shrunk_tail_gone", syscall(SYS_mincore, p + 2 * PG, PG, vec));
	RES("mremap_grow_in_place", (r = syscall(SYS_mremap, p, 2 * PG, 8 * PG, 0)) == (long)p ? 0 : r);
	CHECK("mremap_grown_tail_zero", p[2 * PG] == 0 && p[8 * PG - 1] == 0 && p[0] == 0x33);
	RES("mremap_grow_blocked", syscall(SYS_mremap, p, 8 * PG, 12 * PG, 0));
	RES("mremap_grow_huge", syscall(SYS_mremap, p, 8 * PG, 1UL << 47, MREMAP_MAYMOVE));
	long q = syscall(SYS_mremap, p, 8 * PG, 12 * PG, MREMAP_MAYMOVE);
	CHECK("mremap_maymove_moved", q != -1 && q != (long)p);
	CHECK("mremap_maymove_kept", q != -1 && ((unsigned char *)q)[0] == 0x33);
	RES("mremap_maymove_old_gone", syscall(SYS_mincore, p, PG, vec));
	syscall(SYS_munmap, q, 12 * PG);
	reset();

	/* MREMAP_FIXED destinations near the top are refused; a successful
	 * move goes to a page claimed first, so it can only replace our own.
	 * (That page is not the last user page: husk keeps the top 64 GiB of
	 * user space for its platform, see ARCHITECTURE.md.) */
	memset(p, 0x44, 4 * PG);
	long t = syscall(SYS_mmap, 0, PG, PROT_NONE, ANON, -1, 0);
	CHECK("reserve_dest_page", t != -1);
	int fx = MREMAP_MAYMOVE | MREMAP_FIXED;
	RES("mremap_fixed_cross_top", syscall(SYS_mremap, p, PG, 2 * PG, fx, top));
	RES("mremap_fixed_at_tasksize", syscall(SYS_mremap, p, PG, PG, fx, TASKSIZE));
	RES("mremap_fixed_at_2^47", syscall(SYS_mremap, p, PG, PG, fx, 1UL << 47));
	RES("mremap_fixed_at_top", syscall(SYS_mremap, p, PG, PG, fx, TOP));
	RES("mremap_fixed_unaligned", syscall(SYS_mremap, p, PG, PG, fx, top + 1));
	RES("mremap_fixed_overlap", syscall(SYS_mremap, p, 2 * PG, 2 * PG, fx, p + PG));
	RES("mremap_fixed_huge", syscall(SYS_mremap, p, PG, 1UL << 47, fx, top));
	RES("mremap_fixed_no_maymove", syscall(SYS_mremap, p, PG, PG, MREMAP_FIXED, top));
	if (t != -1) {
		long m;
		RES("mremap_fixed_dest_page",
		    (m = syscall(SYS_mremap, p + 3 * PG, PG, PG, fx, t)) == t ? 0 : m);
		CHECK("mremap_fixed_moved_data", m == t && *(unsigned char *)t == 0x44);
		RES("mremap_fixed_source_gone", syscall(SYS_mincore, p + 3 * PG, PG, vec));
		syscall(SYS_munmap, t, PG);
	}
	reset();
}

int main(void)
{
	/* Print once before mapping anything, so stdio's buffer exists. */
	printf("mm_ranges\n");
	R = (unsigned char *)syscall(SYS_mmap, 0, 12 * PG, PROT_NONE, ANON, -1, 0);
	CHECK("setup", (long)R != -1);
	reset();
	valid_ranges();
	remaps();
	grid();
	return compat_done();
}
