/* The stack grows on demand up to RLIMIT_STACK, read when it grows: a
 * recursion within the limit works, one past it (or without end) dies of
 * SIGSEGV at once. */
#include "common.h"
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

static int depth(int n, int max)
{
	volatile char buf[1024];
	buf[0] = (char)n;
	return n < max ? depth(n + 1, max) + buf[0] : 0;
}

/* How a child recursing `kib` KiB deep (0: without end) under a stack
 * limit of `limit` bytes ends. */
static const char *run(rlim_t limit, int kib)
{
	pid_t p = fork();
	if (p == 0) {
		struct rlimit r = {limit, RLIM_INFINITY};
		if (setrlimit(RLIMIT_STACK, &r))
			_exit(2);
		int v = depth(1, kib ? kib : 1 << 30);
		_exit(v == 12345 ? 3 : 0);
	}
	int st;
	waitpid(p, &st, 0);
	if (WIFEXITED(st))
		return WEXITSTATUS(st) == 0 ? "returned" : "exit?";
	return WTERMSIG(st) == SIGSEGV ? "SIGSEGV" : "other signal";
}

int main(void)
{
	printf("6 MiB deep, limit 8 MiB: %s\n", run(8 << 20, 6 << 10));
	printf("12 MiB deep, limit 16 MiB: %s\n", run(16 << 20, 12 << 10));
	printf("20 MiB deep, limit 16 MiB: %s\n", run(16 << 20, 20 << 10));
	printf("40 MiB deep, limit 64 MiB: %s\n", run(64 << 20, 40 << 10));
	printf("without end, limit 8 MiB: %s\n", run(8 << 20, 0));
	return compat_done();
}
