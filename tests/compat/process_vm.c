/* process_vm_readv and process_vm_writev: copies from and into another
 * process (and oneself) across several iovecs, partial copies that stop
 * at an unmapped page, the argument errors, and the permission rule:
 * same real ids and a dumpable target, or CAP_SYS_PTRACE. setuid makes a
 * process undumpable until PR_SET_DUMPABLE or exec. */
#include "common.h"
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>

static char shared_buf[64];

/* A child that waits for a byte on `in`, then reports whether its buffer
 * says `want` by its exit status. */
static pid_t child(int *in, const char *init, const char *want, int nobody, int dumpable)
{
	int p[2];
	pipe(p);
	pid_t c = fork();
	if (c == 0) {
		close(p[1]);
		if (nobody && (setgid(65534) || setuid(65534)))
			_exit(50);
		if (dumpable >= 0)
			prctl(PR_SET_DUMPABLE, dumpable);
		strcpy(shared_buf, init);
		char b;
		read(p[0], &b, 1);
		_exit(want && strcmp(shared_buf, want) != 0 ? 1 : 0);
	}
	close(p[0]);
	*in = p[1];
	usleep(50000);
	return c;
}

static int finish(pid_t c, int in)
{
	write(in, "x", 1);
	close(in);
	int st;
	waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

int main(void)
{
	int in;
	pid_t c = child(&in, "remote data!", "written back", 0, -1);
	char a[7] = {0}, b[8] = {0};
	struct iovec local[2] = {{a, 6}, {b, 6}};
	struct iovec remote[2] = {{shared_buf, 7}, {shared_buf + 7, 5}};
	CHECK("readv", process_vm_readv(c, local, 2, remote, 2, 0) == 12);
	CHECK("readv data", memcmp(a, "remote", 6) == 0 && memcmp(b, " data!", 6) == 0);
	char w[] = "written back";
	struct iovec wl = {w, sizeof w};
	struct iovec wr = {shared_buf, sizeof w};
	CHECK("writev", process_vm_writev(c, &wl, 1, &wr, 1, 0) == (ssize_t)sizeof w);
	CHECK("child saw it", finish(c, in) == 0);

	/* Oneself, and a copy cut at an unmapped page. */
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(m + 4096, 4096);
	memset(m, 'm', 4096);
	char big[8192];
	struct iovec bl = {big, sizeof big};
	struct iovec span = {m + 4000, 200};
	CHECK("partial at the unmapped page", process_vm_readv(getpid(), &bl, 1, &span, 1, 0) == 96);
	struct iovec two[2] = {{m, 10}, {m + 4096, 10}};
	CHECK("second iovec faults", process_vm_readv(getpid(), &bl, 1, two, 2, 0) == 10);
	struct iovec hole = {m + 4096, 10};
	EXPECT_ERR("all unmapped", process_vm_readv(getpid(), &bl, 1, &hole, 1, 0), EFAULT);
	EXPECT_ERR("writev into a hole", process_vm_writev(getpid(), &bl, 1, &hole, 1, 0), EFAULT);
	mprotect(m, 4096, PROT_READ);
	struct iovec ro = {m, 10};
	EXPECT_ERR("writev into read-only", process_vm_writev(getpid(), &bl, 1, &ro, 1, 0), EFAULT);
	struct iovec smalll = {big, 5};
	CHECK("local room bounds it", process_vm_readv(getpid(), &smalll, 1, &ro, 1, 0) == 5);

	/* Errors. */
	EXPECT_ERR("flags", process_vm_readv(getpid(), &bl, 1, &ro, 1, 1), EINVAL);
	EXPECT_ERR("too many remote", process_vm_readv(getpid(), &bl, 1, &ro, 1025, 0), EINVAL);
	EXPECT_ERR("too many local", process_vm_readv(getpid(), &bl, 1025, &ro, 1, 0), EINVAL);
	struct iovec neg = {m, (size_t)-1};
	EXPECT_ERR("negative remote length", process_vm_readv(getpid(), &bl, 1, &neg, 1, 0), EINVAL);
	EXPECT_ERR("bad local vector", process_vm_readv(getpid(), BADPTR, 1, &ro, 1, 0), EFAULT);
	EXPECT_ERR("bad remote vector", process_vm_readv(getpid(), &bl, 1, BADPTR, 1, 0), EFAULT);
	struct iovec badl = {BADPTR, 10};
	EXPECT_ERR("bad local buffer", process_vm_readv(getpid(), &badl, 1, &ro, 1, 0), EFAULT);
	EXPECT_ERR("no such process", process_vm_readv(999999, &bl, 1, &ro, 1, 0), ESRCH);
	struct iovec none = {big, 0};
	CHECK("nothing to copy", process_vm_readv(999999, &none, 1, &ro, 1, 0) == 0);
	struct iovec rnone = {m, 0};
	CHECK("nothing remote", process_vm_readv(999999, &bl, 1, &rnone, 1, 0) == 0);

	/* Permissions, from a process of nobody's. */
	fflush(stdout);
	int in2, in3, in4;
	pid_t dumpable = child(&in2, "mine", NULL, 1, 1);
	pid_t undumpable = child(&in3, "mine", NULL, 1, -1);
	pid_t rootp = child(&in4, "root's", NULL, 0, -1);
	pid_t r = fork();
	if (r == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(50);
		char x[8];
		struct iovec xl = {x, 4}, xr = {shared_buf, 4};
		int bad = 0;
		bad += process_vm_readv(dumpable, &xl, 1, &xr, 1, 0) != 4 || memcmp(x, "mine", 4) != 0;
		bad += (process_vm_readv(undumpable, &xl, 1, &xr, 1, 0) != -1 || errno != EPERM) << 1;
		bad += (process_vm_readv(rootp, &xl, 1, &xr, 1, 0) != -1 || errno != EPERM) << 2;
		bad += (process_vm_writev(rootp, &xl, 1, &xr, 1, 0) != -1 || errno != EPERM) << 3;
		bad += (prctl(PR_GET_DUMPABLE) != 0) << 4;
		_exit(bad);
	}
	int st;
	waitpid(r, &st, 0);
	CHECK("nobody's rights", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (WIFEXITED(st) && WEXITSTATUS(st))
		printf("nobody bits %d\n", WEXITSTATUS(st));
	finish(dumpable, in2);
	finish(undumpable, in3);
	finish(rootp, in4);
	return compat_done();
}
