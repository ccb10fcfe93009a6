/* unshare(2) with CLONE_THREAD, CLONE_SIGHAND and CLONE_VM: nothing to
 * unshare in a process of one thread whose signal handlers and memory
 * nobody shares (0, also combined with a new PID or time namespace);
 * EINVAL once another thread exists, or for CLONE_SIGHAND when a
 * CLONE_SIGHAND child shares the handlers. Run as root. */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

static void *idle(void *p)
{
	pause();
	return p;
}

static int child(void *p)
{
	(void)p;
	pause();
	return 0;
}

int main(void)
{
	pid_t p = fork();
	if (p == 0) {
		compat_failures = 0;
		CHECK("CLONE_THREAD alone", unshare(CLONE_THREAD) == 0);
		CHECK("CLONE_SIGHAND|CLONE_VM", unshare(CLONE_SIGHAND | CLONE_VM) == 0);
		CHECK("with CLONE_NEWPID", unshare(CLONE_NEWPID | CLONE_THREAD | CLONE_VM) == 0);
		CHECK("with CLONE_NEWTIME", unshare(CLONE_NEWTIME | CLONE_SIGHAND) == 0);
		static char stack[65536];
		pid_t c = clone(child, stack + sizeof stack, CLONE_SIGHAND | CLONE_VM | SIGCHLD, NULL);
		CHECK("a CLONE_SIGHAND|CLONE_VM child", c > 0);
		EXPECT_ERR("CLONE_SIGHAND while shared", unshare(CLONE_SIGHAND), EINVAL);
		EXPECT_ERR("CLONE_VM while shared", unshare(CLONE_VM), EINVAL);
		CHECK("CLONE_THREAD is still fine", unshare(CLONE_THREAD) == 0);
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
		_exit(compat_failures);
	}
	int st = 0;
	waitpid(p, &st, 0);
	int fails = WIFEXITED(st) ? WEXITSTATUS(st) : 100;
	/* (After unshare(CLONE_NEWPID) no thread can be made: a fresh
	 * process for these.) */
	p = fork();
	if (p == 0) {
		compat_failures = 0;
		pthread_t t;
		CHECK("a second thread", pthread_create(&t, NULL, idle, NULL) == 0);
		EXPECT_ERR("CLONE_THREAD with two threads", unshare(CLONE_THREAD), EINVAL);
		EXPECT_ERR("CLONE_VM with two threads", unshare(CLONE_VM), EINVAL);
		EXPECT_ERR("CLONE_SIGHAND with two threads", unshare(CLONE_SIGHAND), EINVAL);
		_exit(compat_failures);
	}
	waitpid(p, &st, 0);
	return fails + (WIFEXITED(st) ? WEXITSTATUS(st) : 100);
}
