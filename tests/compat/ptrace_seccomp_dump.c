/* PTRACE_SECCOMP_GET_FILTER and PTRACE_SECCOMP_GET_METADATA: a stopped
 * tracee's filters come back oldest first, instruction for instruction,
 * with their LOG flag; past the last is ENOENT, a tracee without filters
 * EINVAL, a tracer under seccomp itself EACCES.
 * Run as root. */
#include "common.h"
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif
#ifndef PTRACE_SECCOMP_GET_METADATA
#define PTRACE_SECCOMP_GET_METADATA 0x420d
#endif

/* Allows everything but getppid, which fails with `err`. */
static struct sock_filter prog_a[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 7),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};
static struct sock_filter prog_b[] = {
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

static void install(struct sock_filter *f, unsigned short n, unsigned flags)
{
	struct sock_fprog p = {n, f};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &p))
		_exit(90);
}

static pid_t stopped_child(int filters)
{
	pid_t c = fork();
	if (c == 0) {
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		if (filters) {
			install(prog_a, 4, 0);
			install(prog_b, 1, SECCOMP_FILTER_FLAG_LOG);
		}
		raise(SIGSTOP);
		_exit(0);
	}
	int st;
	waitpid(c, &st, WUNTRACED);
	return c;
}

static void end(pid_t c)
{
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
}

int main(void)
{
	if (getuid() != 0) {
		printf("needs root\n");
		return 0;
	}
	pid_t c = stopped_child(1);
	if (ptrace(PTRACE_SEIZE, c, 0, 0)) {
		printf("seize: %s\n", ename(errno));
		return 1;
	}
	ptrace(PTRACE_INTERRUPT, c, 0, 0);
	int st;
	waitpid(c, &st, 0);
	for (long off = 0; off < 3; off++) {
		errno = 0;
		long n = ptrace(PTRACE_SECCOMP_GET_FILTER, c, off, NULL);
		printf("filter %ld: %ld %s\n", off, n, ename(errno));
		if (n > 0) {
			struct sock_filter got[8] = {0};
			ptrace(PTRACE_SECCOMP_GET_FILTER, c, off, got);
			/* Counted from the first installed. */
			struct sock_filter *want = off == 0 ? prog_a : prog_b;
			printf("  same instructions: %d\n", !memcmp(got, want, n * sizeof got[0]));
		}
		struct {
			unsigned long long off, flags;
		} md = {off, 99};
		errno = 0;
		long r = ptrace(PTRACE_SECCOMP_GET_METADATA, c, sizeof md, &md);
		printf("  metadata: %ld %s off %llu flags %llu\n", r, ename(errno), md.off, md.flags);
	}
	errno = 0;
	long r = ptrace(PTRACE_SECCOMP_GET_METADATA, c, 4, &r);
	printf("metadata size 4: %ld %s\n", r, ename(errno));
	errno = 0;
	r = ptrace(PTRACE_SECCOMP_GET_FILTER, c, 0, (void *)8);
	printf("bad buffer: %ld %s\n", r, ename(errno));

	end(c);

	/* No filters. */
	c = stopped_child(0);
	ptrace(PTRACE_SEIZE, c, 0, 0);
	ptrace(PTRACE_INTERRUPT, c, 0, 0);
	waitpid(c, &st, 0);
	errno = 0;
	r = ptrace(PTRACE_SECCOMP_GET_FILTER, c, 0, NULL);
	printf("no filters: %ld %s\n", r, ename(errno));
	end(c);

	/* A tracer under seccomp itself. */
	fflush(stdout);
	pid_t t = fork();
	if (t == 0) {
		pid_t c2 = stopped_child(1);
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		install(prog_b, 1, 0);
		ptrace(PTRACE_SEIZE, c2, 0, 0);
		ptrace(PTRACE_INTERRUPT, c2, 0, 0);
		int s2;
		waitpid(c2, &s2, 0);
		errno = 0;
		long x = ptrace(PTRACE_SECCOMP_GET_FILTER, c2, 0, NULL);
		printf("tracer under seccomp: %ld %s\n", x, ename(errno));
		fflush(stdout);
		end(c2);
		_exit(0);
	}
	waitpid(t, NULL, 0);
	return 0;
}
