/* Thread pidfds (Linux 6.9): pidfd_open(PIDFD_THREAD) of a thread (and of
 * the leader), readable once that thread is gone; pidfd_send_signal on
 * one signals that thread; waitid(P_PIDFD) of one is ECHILD; ESRCH once
 * it is gone; clone(CLONE_PIDFD | CLONE_THREAD) returns one. */
#include "common.h"
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define PIDFD_THREAD 0200

static volatile int go_exit, tid2, usr1_in;

static void on_usr1(int s)
{
	(void)s;
	usr1_in = (int)syscall(SYS_gettid);
}

static void *worker(void *a)
{
	(void)a;
	tid2 = (int)syscall(SYS_gettid);
	while (!go_exit)
		usleep(1000);
	return NULL;
}

static int readable(int fd, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static volatile int raw_exit;

static int raw_thread(void *a)
{
	(void)a;
	while (!raw_exit)
		;
	return 0;
}

int main(void)
{
	signal(SIGUSR1, on_usr1);
	pthread_t t;
	pthread_create(&t, NULL, worker, NULL);
	while (!tid2)
		usleep(1000);
	EXPECT_ERR("open_thread_without_flag", syscall(SYS_pidfd_open, tid2, 0), ENOENT);
	int fd = (int)syscall(SYS_pidfd_open, tid2, PIDFD_THREAD);
	CHECK("open_thread", fd >= 0);
	CHECK("not_readable_while_running", !readable(fd, 0));
	CHECK("send_to_thread", syscall(SYS_pidfd_send_signal, fd, SIGUSR1, 0, 0) == 0);
	usleep(20000);
	CHECK("handled_in_that_thread", usr1_in == tid2);
	siginfo_t si;
	EXPECT_ERR("waitid_thread", waitid(3 /* P_PIDFD */, fd, &si, WEXITED | WNOHANG), ECHILD);
	go_exit = 1;
	pthread_join(t, NULL);
	CHECK("readable_after_exit", readable(fd, 1000));
	/* Linux lets a thread go a moment after its joiner wakes. */
	for (int i = 0; i < 100 && syscall(SYS_pidfd_send_signal, fd, 0, 0, 0) == 0; i++)
		usleep(10000);
	EXPECT_ERR("send_after_exit", syscall(SYS_pidfd_send_signal, fd, 0, 0, 0), ESRCH);
	int lfd = (int)syscall(SYS_pidfd_open, getpid(), PIDFD_THREAD);
	CHECK("leader_thread_pidfd", lfd >= 0 && !readable(lfd, 0));

	/* clone(CLONE_PIDFD | CLONE_THREAD). */
	static char stack[64 * 1024];
	int pfd = -1;
	int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_PIDFD;
	int tid = clone(raw_thread, stack + sizeof stack, flags, NULL, &pfd);
	CHECK("clone_thread_pidfd", tid > 0 && pfd >= 0);
	CHECK("clone_thread_not_readable", !readable(pfd, 0));
	raw_exit = 1;
	CHECK("clone_thread_readable", readable(pfd, 1000));
	return compat_failures > 100 ? 100 : compat_failures;
}
