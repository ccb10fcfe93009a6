/* clone and clone3 arguments and what they change for the parent: the
 * exit signal (none, SIGUSR1, SIGCHLD) and which wait(2) flags select
 * such children (__WCLONE, __WALL, __WNOTHREAD), CLONE_CLEAR_SIGHAND,
 * clone3's argument checks, set_tid, CLONE_INTO_CGROUP, PR_SET_PDEATHSIG
 * when only the forking thread exits, and setpgid after an exec. */
#include "common.h"
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static volatile int got_usr1, got_chld;
static void on_sig(int s)
{
	if (s == SIGUSR1)
		got_usr1++;
	else
		got_chld++;
}

static char stk[65536];
static int quick(void *a)
{
	(void)a;
	return 7;
}

static void settle(void)
{
	struct timespec ts = {0, 200 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

/* A raw clone3 whose child exits at once: the parent's result. */
static long c3(struct clone_args *a, size_t size)
{
	long r = syscall(SYS_clone3, a, size);
	if (r == 0)
		syscall(SYS_exit, 0);
	return r;
}

static const char *c3_result(struct clone_args *a, size_t size)
{
	long r = c3(a, size);
	if (r < 0)
		return ename(errno);
	waitpid(r, NULL, __WALL);
	return "created";
}

static void exit_signals(void)
{
	signal(SIGUSR1, on_sig);
	signal(SIGCHLD, on_sig);
	int st;
	pid_t p = clone(quick, stk + sizeof stk, SIGUSR1, NULL);
	settle();
	printf("exit signal SIGUSR1: usr1 %d chld %d\n", got_usr1, got_chld);
	EXPECT_ERR("a plain wait skips it", waitpid(p, &st, WNOHANG), ECHILD);
	CHECK("__WCLONE takes it", waitpid(p, &st, __WCLONE) == p && WEXITSTATUS(st) == 7);

	got_usr1 = got_chld = 0;
	p = clone(quick, stk + sizeof stk, 0, NULL);
	settle();
	printf("no exit signal: usr1 %d chld %d\n", got_usr1, got_chld);
	CHECK("__WALL takes it", waitpid(p, &st, __WALL) == p);

	p = fork();
	if (p == 0)
		_exit(3);
	settle();
	EXPECT_ERR("__WCLONE skips a forked child", waitpid(p, &st, __WCLONE | WNOHANG), ECHILD);
	CHECK("a plain wait takes it", waitpid(p, &st, 0) == p && WEXITSTATUS(st) == 3);

	struct clone_args a = {.exit_signal = SIGUSR1};
	got_usr1 = 0;
	long c = syscall(SYS_clone3, &a, sizeof a);
	if (c == 0)
		syscall(SYS_exit, 0);
	settle();
	printf("clone3 exit signal SIGUSR1: usr1 %d\n", got_usr1);
	CHECK("__WCLONE takes the clone3 child", waitpid(c, &st, __WCLONE) == c);
	signal(SIGCHLD, SIG_DFL);
}

static volatile pid_t forked_in_thread;
static void *forker(void *x)
{
	(void)x;
	pid_t c = fork();
	if (c == 0) {
		pause();
		_exit(0);
	}
	forked_in_thread = c;
	/* Stays while the main thread looks. */
	struct timespec ts = {0, 600 * 1000 * 1000};
	nanosleep(&ts, NULL);
	return NULL;
}

static void wnothread(void)
{
	pthread_t t;
	pthread_create(&t, NULL, forker, NULL);
	while (!forked_in_thread)
		sched_yield();
	kill(forked_in_thread, SIGKILL);
	settle();
	int st;
	EXPECT_ERR("__WNOTHREAD skips another thread's child",
		   waitpid(forked_in_thread, &st, __WNOTHREAD), ECHILD);
	pthread_join(t, NULL);
	/* The forking thread is gone: its child is the main thread's now
	 * (once the thread's exit is complete, a moment after the join). */
	pid_t got = -1;
	for (int i = 0; i < 200 && got != forked_in_thread; i++) {
		got = waitpid(forked_in_thread, &st, __WNOTHREAD);
		if (got != forked_in_thread)
			usleep(10000);
	}
	CHECK("__WNOTHREAD after the thread left", got == forked_in_thread);
}

static void clear_sighand(void)
{
	signal(SIGUSR1, on_sig);
	signal(SIGINT, SIG_IGN);
	struct clone_args a = {.flags = CLONE_CLEAR_SIGHAND, .exit_signal = SIGCHLD};
	long c = syscall(SYS_clone3, &a, sizeof a);
	if (c == 0) {
		struct sigaction u, i;
		sigaction(SIGUSR1, NULL, &u);
		sigaction(SIGINT, NULL, &i);
		_exit((u.sa_handler == SIG_DFL) * 10 + (i.sa_handler == SIG_IGN));
	}
	int st;
	waitpid(c, &st, 0);
	SHOW("CLONE_CLEAR_SIGHAND: default, ignored", "%d", WEXITSTATUS(st));
	signal(SIGINT, SIG_DFL);
}

static void clone3_checks(void)
{
	char big[200] = {0};
	struct clone_args *a = (struct clone_args *)big;
	a->exit_signal = SIGCHLD;
	big[150] = 1;
	printf("a non-zero tail: %s\n", c3_result(a, sizeof big));
	big[150] = 0;
	printf("a zero tail: %s\n", c3_result(a, sizeof big));
	printf("size 5000: %s\n", c3_result(a, 5000));
	printf("size 32: %s\n", c3_result(a, 32));
	struct clone_args b = {.exit_signal = SIGCHLD, .stack_size = 4096};
	printf("stack size without a stack: %s\n", c3_result(&b, sizeof b));
	b.stack_size = 0;
	b.stack = (uintptr_t)stk;
	printf("a stack without a size: %s\n", c3_result(&b, sizeof b));
	struct clone_args d = {.flags = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, .exit_signal = SIGCHLD};
	printf("a thread with an exit signal: %s\n", c3_result(&d, sizeof d));
	struct clone_args e = {.flags = CLONE_DETACHED, .exit_signal = SIGCHLD};
	printf("CLONE_DETACHED: %s\n", c3_result(&e, sizeof e));
	e.flags = CLONE_CLEAR_SIGHAND | CLONE_SIGHAND | CLONE_VM;
	printf("CLEAR_SIGHAND with SIGHAND: %s\n", c3_result(&e, sizeof e));
	e.flags = 0;
	e.exit_signal = 65;
	printf("exit signal 65: %s\n", c3_result(&e, sizeof e));
	int fd = -1;
	struct clone_args g = {.flags = CLONE_PIDFD | CLONE_PARENT_SETTID,
			       .pidfd = (uintptr_t)&fd,
			       .parent_tid = (uintptr_t)&fd,
			       .exit_signal = SIGCHLD};
	printf("pidfd and parent tid at one place: %s\n", c3_result(&g, sizeof g));
	pid_t want = getpid();
	struct clone_args h = {.exit_signal = SIGCHLD, .set_tid = (uintptr_t)&want, .set_tid_size = 1};
	printf("set_tid of a pid in use: %s\n", c3_result(&h, sizeof h));
	h.set_tid_size = 2;
	printf("set_tid of two levels: %s\n", c3_result(&h, sizeof h));
	h.set_tid_size = 0;
	printf("set_tid without a size: %s\n", c3_result(&h, sizeof h));
	struct clone_args k = {.flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = 999};
	printf("CLONE_INTO_CGROUP of a bad fd: %s\n", c3_result(&k, sizeof k));
	k.cgroup = open("/", O_RDONLY | O_DIRECTORY);
	printf("CLONE_INTO_CGROUP of a directory elsewhere: %s\n", c3_result(&k, sizeof k));
	close(k.cgroup);
}

static pid_t pd_child;
static void *pd_thread(void *x)
{
	(void)x;
	pd_child = fork();
	if (pd_child == 0) {
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, SIGUSR2);
		sigprocmask(SIG_BLOCK, &s, NULL);
		prctl(PR_SET_PDEATHSIG, SIGUSR2);
		struct timespec ts = {3, 0};
		siginfo_t si;
		int r = sigtimedwait(&s, &si, &ts);
		_exit(r == SIGUSR2 ? 0 : 1);
	}
	settle();
	return NULL;
}

static void pdeathsig(void)
{
	pthread_t t;
	pthread_create(&t, NULL, pd_thread, NULL);
	pthread_join(t, NULL);
	int st;
	waitpid(pd_child, &st, 0);
	CHECK("PR_SET_PDEATHSIG fires when the forking thread exits", WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void setpgid_exec(void)
{
	int p[2];
	pipe(p);
	pid_t c = fork();
	if (c == 0) {
		close(p[1]);
		dup2(p[0], 0);
		execl("/bin/sh", "sh", "-c", "read x", (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	settle();
	EXPECT_ERR("setpgid of a child after its exec", setpgid(c, c), EACCES);
	close(p[1]);
	waitpid(c, NULL, 0);
	c = fork();
	if (c == 0) {
		pause();
		_exit(0);
	}
	CHECK("setpgid of a child before an exec", setpgid(c, c) == 0);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
}

int main(void)
{
	exit_signals();
	wnothread();
	clear_sighand();
	clone3_checks();
	pdeathsig();
	setpgid_exec();
	return compat_done();
}
