/* Threads of one process calling execve at the same moment, or one
 * exec'ing while another calls exit_group: one of them wins (the exec
 * runs, or the process exits), the others go, and the parent reaps the
 * process every time. A stress loop: 60 rounds of each. */
#include "common.h"
#include <pthread.h>
#include <sys/wait.h>

static void *run_true(void *a)
{
	(void)a;
	char *av[] = {"/bin/true", NULL};
	execv("/bin/true", av);
	return NULL;
}

static void *leave(void *a)
{
	(void)a;
	_exit(0);
}

static int round_of(int mixed)
{
	pid_t p = fork();
	if (p == 0) {
		pthread_t t;
		pthread_create(&t, NULL, run_true, NULL);
		pthread_create(&t, NULL, mixed ? leave : run_true, NULL);
		pthread_create(&t, NULL, run_true, NULL);
		pause();
	}
	int st;
	return waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(void)
{
	alarm(60);
	int ok = 0;
	for (int i = 0; i < 60; i++)
		ok += round_of(0);
	CHECK("three threads exec at once, reaped every round", ok == 60);
	ok = 0;
	for (int i = 0; i < 60; i++)
		ok += round_of(1);
	CHECK("exec against exit_group, reaped every round", ok == 60);
	return compat_failures;
}
