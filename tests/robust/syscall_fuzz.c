/* Hostile arguments for every system call: the sandbox must survive.
 *
 * Each (syscall, argument pattern) runs in a forked child with stdio on
 * /dev/null; the child may fail, crash or block (it is killed after a
 * timeout), but the kernel serving it must not. Runs only under husk:
 * these calls are not safe to make natively as root.
 *
 * `syscall_fuzz ranges` runs only the address-range section, which touches
 * nothing but each child's own address space and so is also safe natively. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Calls that would end, duplicate or signal the fuzzer itself rather than
 * test the kernel, or that only sleep. */
static int skipped(long nr)
{
	switch (nr) {
	case SYS_exit: case SYS_exit_group: case SYS_pause: case SYS_rt_sigsuspend:
	case SYS_fork: case SYS_vfork: case SYS_clone: case SYS_clone3:
	case SYS_execve: case SYS_execveat: case SYS_kill: case SYS_tkill:
	case SYS_tgkill: case SYS_rt_sigqueueinfo: case SYS_rt_tgsigqueueinfo:
	case SYS_pidfd_send_signal: case SYS_nanosleep: case SYS_clock_nanosleep:
	case SYS_rt_sigreturn: case SYS_reboot:
		return 1;
	}
	return 0;
}

static char buf[65536];

static void args_for(int pattern, unsigned *seed, long a[6])
{
	for (int i = 0; i < 6; i++) {
		switch (pattern) {
		case 0: a[i] = 0; break;
		case 1: a[i] = -1; break;
		case 2: a[i] = i % 2 ? (long)1 << 62 : 1; break; /* unmapped pointer, huge length */
		case 3: a[i] = i % 2 ? 16 : (long)buf; break;    /* valid buffer, small length */
		case 4: a[i] = (long)0xdead0000ul + i; break;
		default: {
			long r = ((long)rand_r(seed) << 32) ^ rand_r(seed);
			a[i] = (r & 3) == 0 ? (long)buf + (r & 0xffff) : (r & 3) == 1 ? (r & 0xff) : r;
		}
		}
	}
}

static int calls, timeouts;

/* Runs syscall(nr, a...) in a child with stdio on /dev/null, and makes sure
 * the child is gone within about half a second. */
static int fuzz_one(long nr, const long a[6])
{
	pid_t c = fork();
	if (c == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		alarm(2);
		syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		_exit(0);
	}
	if (c < 0) {
		printf("fork failed at %ld\n", nr);
		return -1;
	}
	/* Give the child a moment, then make sure it is gone. */
	int st;
	struct timespec ts = {0, 2000000};
	for (int i = 0; i < 250 && waitpid(c, &st, WNOHANG) == 0; i++)
		nanosleep(&ts, NULL);
	if (waitpid(c, &st, WNOHANG) == 0) {
		timeouts++;
		kill(c, SIGKILL);
		waitpid(c, &st, 0);
	}
	calls++;
	return 0;
}

/* Address-range calls at the edges of the address space. Range arithmetic
 * (addr + len, page rounding of len) is where an implementation overflows,
 * so the addresses sit near the top of the 64-bit space and of user space
 * and the lengths are zero, huge, random, or make addr + len wrap. */
#define PG 4096L
#define TOP ((long)0xfffffffffffff000ul)
#define USER_END 0x7ffffffff000L

static long rnd(unsigned *seed)
{
	return ((long)rand_r(seed) << 33) ^ ((long)rand_r(seed) << 11) ^ rand_r(seed);
}

static long range_addr(int i, unsigned *seed)
{
	switch (i) {
	case 0: return TOP;
	case 1: return TOP + 0xfff;                        /* last byte, unaligned */
	case 2: return TOP - PG * (rnd(seed) & 0xff);      /* a few pages below the top */
	case 3: return USER_END;
	case 4: return USER_END - PG;                      /* the last user page */
	case 5: return 1L << 47;
	case 6: return (long)buf & ~(PG - 1);              /* a real mapping */
	case 7: return 0;
	default: return rnd(seed) & ~(PG - 1);
	}
}

static long range_len(int i, long addr, unsigned *seed)
{
	switch (i) {
	case 0: return 0;
	case 1: return 1;
	case 2: return -1;                                 /* rounds up to 0 */
	case 3: return TOP;
	case 4: return 1L << 47;
	case 5: return 1L << 62;
	case 6: return -addr;                              /* ends exactly at 2^64 */
	case 7: return -addr + PG;                         /* wraps by one page */
	case 8: return -addr + 1 + (rnd(seed) & 0xffff);   /* wraps, unaligned */
	default: return rnd(seed);
	}
}

static void range_fuzz(unsigned *seed)
{
	static const long nrs[] = {
		SYS_mlock, SYS_munlock, SYS_mlock2, SYS_mlockall, SYS_munlockall,
		SYS_mremap, SYS_madvise, SYS_mprotect, SYS_msync, SYS_mincore,
		SYS_munmap,
	};
	static const long advice[] = { MADV_DONTNEED, MADV_WILLNEED, MADV_NORMAL,
				       MADV_FREE, MADV_REMOVE, 12345 };
	for (size_t k = 0; k < sizeof nrs / sizeof nrs[0]; k++) {
		/* mlockall and munlockall take no range: a few flag values. */
		int naddr = nrs[k] == SYS_mlockall || nrs[k] == SYS_munlockall ? 1 : 10;
		for (int ai = 0; ai < naddr; ai++) {
			for (int li = 0; li < 11; li++) {
				long a[6] = {0}, r = rnd(seed);
				a[0] = range_addr(ai, seed);
				a[1] = range_len(li, a[0], seed);
				a[2] = r;
				switch (nrs[k]) {
				case SYS_mlock2: a[2] = r & 3; break; /* 0, ONFAULT, bad */
				case SYS_mlockall: a[0] = r & 15; break;
				case SYS_madvise: a[2] = advice[(r & 0xff) % 6]; break;
				case SYS_mprotect: a[2] = r & 0xf; break;
				case SYS_msync: a[2] = r & 7; break;
				case SYS_mincore: a[2] = r & 1 ? (long)buf : r; break;
				case SYS_mremap:
					/* new_len, flags (MAYMOVE, FIXED, DONTUNMAP),
					 * new_addr near the top or random. */
					a[2] = range_len((int)((r >> 8) & 15), a[0], seed);
					a[3] = r & 7;
					a[4] = range_addr((int)((r >> 16) & 15), seed);
					break;
				}
				if (fuzz_one(nrs[k], a) < 0)
					return;
			}
		}
	}
}

/* The sandbox still works: a pipe, a file, a thread-free fork. */
static int alive(void)
{
	int p[2], st;
	char ch = 0;
	int ok = pipe(p) == 0 && write(p[1], "x", 1) == 1 && read(p[0], &ch, 1) == 1 && ch == 'x';
	ok = ok && access("/etc/passwd", R_OK) == 0;
	pid_t c = fork();
	if (c == 0)
		_exit(7);
	ok = ok && c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 7;
	return ok;
}

int main(int argc, char **argv)
{
	unsigned seed = 12345;
	int only_ranges = argc > 1 && strcmp(argv[1], "ranges") == 0;
	for (long nr = 0; nr <= 462 && !only_ranges; nr++) {
		if (skipped(nr))
			continue;
		for (int pattern = 0; pattern < 7; pattern++) {
			long a[6];
			args_for(pattern, &seed, a);
			if (fuzz_one(nr, a) < 0)
				return 1;
		}
	}
	range_fuzz(&seed);
	int ok = alive();
	printf("calls %d timeouts %d\n", calls, timeouts);
	printf(ok ? "survived\n" : "broken\n");
	return ok ? 0 : 1;
}
