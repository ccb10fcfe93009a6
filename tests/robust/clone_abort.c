/* Clones the sentry prepares (a copy-on-write address space, a stub and a
 * sentry thread) and then refuses (clone3 with an exit signal past 64):
 * each must be undone whole. Prints "ready" and sleeps, so the test can
 * count husk's host processes and threads from outside. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 300;
	char *heap = malloc(1 << 20);
	memset(heap, 1, 1 << 20);
	int bad = 0;
	for (int i = 0; i < n; i++) {
		struct clone_args a;
		memset(&a, 0, sizeof a);
		a.exit_signal = 65;
		if (i % 2)
			a.flags = CLONE_VM | CLONE_VFORK;
		long r = syscall(SYS_clone3, &a, sizeof a);
		if (r == 0)
			_exit(3);
		if (r != -1 || errno != EINVAL)
			bad++;
	}
	/* The process still forks and its memory is its own. */
	pid_t p = fork();
	if (p == 0) {
		heap[0] = 2;
		_exit(heap[1] == 1 ? 0 : 1);
	}
	int st = 0;
	waitpid(p, &st, 0);
	printf("refused %d of %d, child %d, heap %d\n", n - bad, n,
	       WIFEXITED(st) ? WEXITSTATUS(st) : -1, heap[0]);
	printf("ready\n");
	fflush(stdout);
	sleep(3);
	return 0;
}
