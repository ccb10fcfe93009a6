/* process_madvise and process_mrelease: their argument checks, the
 * advice a remote process takes, permission, and what a dead target
 * gives. */
#include "common.h"
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

static long pmadv(int pidfd, const struct iovec *v, size_t n, int advice, unsigned flags)
{
	return syscall(SYS_process_madvise, pidfd, v, n, advice, flags);
}

static long mrelease(int pidfd, unsigned flags)
{
	return syscall(SYS_process_mrelease, pidfd, flags);
}

static int pidfd_open(pid_t p)
{
	return syscall(SYS_pidfd_open, p, 0);
}

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(m, 7, 4 * pg);
	int self = pidfd_open(getpid());
	struct iovec v[2] = {{m, pg}, {m + 2 * pg, 2 * pg}};

	/* Arguments. */
	EXPECT_ERR("flags", pmadv(self, v, 1, MADV_COLD, 1), EINVAL);
	EXPECT_ERR("bad_fd", pmadv(-1, v, 1, MADV_COLD, 0), EBADF);
	EXPECT_ERR("closed_fd", pmadv(999, v, 1, MADV_COLD, 0), EBADF);
	EXPECT_ERR("not_pidfd", pmadv(0, v, 1, MADV_COLD, 0), EBADF);
	EXPECT_ERR("too_many", pmadv(self, v, 1025, MADV_COLD, 0), EINVAL);
	EXPECT_ERR("bad_vec", pmadv(self, BADPTR, 1, MADV_COLD, 0), EFAULT);
	EXPECT_ERR("bad_advice", pmadv(self, v, 1, 9999, 0), EINVAL);
	CHECK("none", pmadv(self, v, 0, MADV_COLD, 0) == 0);

	/* Its own memory: any advice madvise takes; the bytes advised. */
	CHECK("self_cold", pmadv(self, v, 2, MADV_COLD, 0) == 3 * pg);
	CHECK("self_willneed", pmadv(self, v, 2, MADV_WILLNEED, 0) == 3 * pg);
	CHECK("self_pageout", pmadv(self, v, 2, MADV_PAGEOUT, 0) == 3 * pg && m[0] == 7 && m[3 * pg] == 7);
	CHECK("self_dontneed", pmadv(self, v, 1, MADV_DONTNEED, 0) == pg && m[0] == 0 && m[pg] == 7);
	struct iovec unal = {m + 1, pg};
	EXPECT_ERR("unaligned", pmadv(self, &unal, 1, MADV_COLD, 0), EINVAL);
	/* A hole: what went before is counted, else ENOMEM. */
	munmap(m + 3 * pg, pg);
	struct iovec hole[2] = {{m, pg}, {m + 3 * pg, pg}};
	CHECK("partial", pmadv(self, hole, 2, MADV_COLD, 0) == pg);
	EXPECT_ERR("hole", pmadv(self, hole + 1, 1, MADV_COLD, 0), ENOMEM);

	/* Another process: only the non-destructive hints. */
	int ready[2];
	pipe(ready);
	pid_t c = fork();
	if (c == 0) {
		char b;
		close(ready[1]);
		read(ready[0], &b, 1);
		_exit(m[pg] == 7 ? 0 : 1);
	}
	int cfd = pidfd_open(c);
	struct iovec one = {m + pg, pg};
	CHECK("remote_cold", pmadv(cfd, &one, 1, MADV_COLD, 0) == pg);
	CHECK("remote_pageout", pmadv(cfd, &one, 1, MADV_PAGEOUT, 0) == pg);
	CHECK("remote_willneed", pmadv(cfd, &one, 1, MADV_WILLNEED, 0) == pg);
	EXPECT_ERR("remote_dontneed", pmadv(cfd, &one, 1, MADV_DONTNEED, 0), EINVAL);
	EXPECT_ERR("remote_free", pmadv(cfd, &one, 1, MADV_FREE, 0), EINVAL);
	EXPECT_ERR("remote_bad", pmadv(cfd, &one, 1, 9999, 0), EINVAL);
	/* process_mrelease: only a process that is dying. */
	EXPECT_ERR("mrelease_flags", mrelease(cfd, 1), EINVAL);
	EXPECT_ERR("mrelease_bad_fd", mrelease(-1, 0), EBADF);
	EXPECT_ERR("mrelease_not_pidfd", mrelease(0, 0), EBADF);
	EXPECT_ERR("mrelease_alive", mrelease(cfd, 0), EINVAL);
	EXPECT_ERR("mrelease_self", mrelease(self, 0), EINVAL);
	close(ready[1]);
	int st;
	siginfo_t si;
	/* A zombie has no memory left to advise or release. */
	CHECK("zombie", waitid(P_PID, c, &si, WEXITED | WNOWAIT) == 0);
	EXPECT_ERR("remote_zombie", pmadv(cfd, &one, 1, MADV_COLD, 0), ESRCH);
	EXPECT_ERR("mrelease_zombie", mrelease(cfd, 0), ESRCH);
	CHECK("child_kept_its_page", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	EXPECT_ERR("remote_reaped", pmadv(cfd, &one, 1, MADV_COLD, 0), ESRCH);
	EXPECT_ERR("mrelease_reaped", mrelease(cfd, 0), ESRCH);

	/* Without CAP_SYS_NICE, another process is EPERM; without the
	 * capabilities ptrace's rule wants, EACCES. */
	c = fork();
	if (c == 0) {
		pause();
		_exit(0);
	}
	cfd = pidfd_open(c);
	struct hdr { unsigned v; int pid; } h = {0x20080522, 0};
	struct data { unsigned e, p, i; };
	for (int all = 0; all < 2; all++) {
		pid_t d = fork();
		if (d == 0) {
			struct data cap[2];
			syscall(SYS_capget, &h, cap);
			cap[0].e &= ~(1u << 23);
			if (all)
				memset(cap, 0, sizeof cap);
			CHECK("capset", syscall(SYS_capset, &h, cap) == 0);
			if (all)
				EXPECT_ERR("remote_no_caps", pmadv(cfd, &one, 1, MADV_COLD, 0), EACCES);
			else
				EXPECT_ERR("remote_no_nice", pmadv(cfd, &one, 1, MADV_COLD, 0), EPERM);
			int mine = pidfd_open(getpid());
			CHECK("own_without_caps", pmadv(mine, &one, 1, MADV_COLD, 0) == pg);
			compat_child_end();
		}
		compat_collect(d, "capabilities");
	}
	kill(c, SIGKILL);
	waitpid(c, &st, 0);

	/* Once SIGKILL is sent the process is dying: its memory can be
	 * released (0), or it is already gone (ESRCH); never EINVAL. */
	int bad = 0;
	for (int i = 0; i < 50; i++) {
		int go[2];
		pipe(go);
		c = fork();
		if (c == 0) {
			char *big = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			memset(big, 1, 1 << 20);
			write(go[1], "r", 1);
			pause();
			_exit(0);
		}
		char b;
		read(go[0], &b, 1);
		close(go[0]);
		close(go[1]);
		cfd = pidfd_open(c);
		kill(c, SIGKILL);
		if (mrelease(cfd, 0) != 0 && errno != ESRCH)
			bad++;
		waitpid(c, &st, 0);
		close(cfd);
	}
	CHECK("mrelease_killed", bad == 0);
	return compat_done();
}
