/* pidfds: pidfd_open (flags, pids, threads, close-on-exec), readiness
 * when the process exits (poll and epoll), pidfd_send_signal (with and
 * without a siginfo, a zombie, a reaped process, permissions),
 * pidfd_getfd, waitid(P_PIDFD) (and a non-blocking pidfd), and
 * CLONE_PIDFD through clone and clone3. */
#include "common.h"
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int popen_(pid_t pid, unsigned flags) { return (int)syscall(SYS_pidfd_open, pid, flags); }
static int psig(int fd, int sig, siginfo_t *i, unsigned f) { return (int)syscall(SYS_pidfd_send_signal, fd, sig, i, f); }

static int readable(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static pid_t sleeper(void)
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	return c;
}

static volatile int got_value;
static void on_usr1(int s, siginfo_t *si, void *u)
{
	(void)s;
	(void)u;
	got_value = si->si_value.sival_int;
}

static pid_t tid_of_thread;
static volatile int stop_thread;
static void *thread_fn(void *a)
{
	(void)a;
	tid_of_thread = (pid_t)syscall(SYS_gettid);
	while (!stop_thread)
		usleep(1000);
	return NULL;
}

int main(void)
{
	int self = popen_(getpid(), 0);
	CHECK("pidfd_open self", self >= 0);
	CHECK("close-on-exec", (fcntl(self, F_GETFD) & FD_CLOEXEC) != 0);
	char link[64] = {0}, path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", self);
	readlink(path, link, sizeof link - 1);
	CHECK("anon inode", strcmp(link, "anon_inode:[pidfd]") == 0);
	CHECK("self not readable", !readable(self));
	EXPECT_ERR("bad flags", popen_(getpid(), 1), EINVAL);
	EXPECT_ERR("pid 0", popen_(0, 0), EINVAL);
	EXPECT_ERR("negative pid", popen_(-1, 0), EINVAL);
	EXPECT_ERR("no such pid", popen_(4000000, 0), ESRCH);
	pthread_t th;
	pthread_create(&th, NULL, thread_fn, NULL);
	while (!tid_of_thread)
		usleep(1000);
	EXPECT_ERR("a thread", popen_(tid_of_thread, 0), ENOENT);
	stop_thread = 1;
	pthread_join(th, NULL);
	char buf[8];
	EXPECT_ERR("read", read(self, buf, 8), EINVAL);

	/* A child: signalled through its pidfd, readable once dead. */
	pid_t c = sleeper();
	int fd = popen_(c, 0);
	CHECK("pidfd_open child", fd >= 0 && !readable(fd));
	CHECK("signal 0", psig(fd, 0, NULL, 0) == 0);
	EXPECT_ERR("unknown flag", psig(fd, SIGTERM, NULL, 8), EINVAL);
	EXPECT_ERR("two scopes", psig(fd, SIGTERM, NULL, 3), EINVAL);
	EXPECT_ERR("bad signal", psig(fd, 65, NULL, 0), EINVAL);
	EXPECT_ERR("not a pidfd", psig(0, SIGTERM, NULL, 0), EBADF);
	EXPECT_ERR("bad fd", psig(999, SIGTERM, NULL, 0), EBADF);
	int nb = popen_(c, O_NONBLOCK);
	siginfo_t si;
	EXPECT_ERR("non-blocking waitid", waitid(P_PIDFD, nb, &si, WEXITED), EAGAIN);
	int ep = epoll_create1(0);
	struct epoll_event ev = {EPOLLIN, {.fd = fd}};
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	CHECK("SIGTERM to the thread", psig(fd, SIGTERM, NULL, 1) == 0);
	struct epoll_event out;
	CHECK("epoll wakes", epoll_wait(ep, &out, 1, 5000) == 1 && out.data.fd == fd);
	CHECK("readable when dead", readable(fd) && readable(nb));
	CHECK("zombie takes signals", psig(fd, SIGTERM, NULL, 0) == 0);
	EXPECT_ERR("zombie has no fds", syscall(SYS_pidfd_getfd, fd, 0, 0), ESRCH);
	memset(&si, 0, sizeof si);
	CHECK("waitid P_PIDFD", waitid(P_PIDFD, fd, &si, WEXITED) == 0 && si.si_pid == c && si.si_code == CLD_KILLED && si.si_status == SIGTERM);
	EXPECT_ERR("reaped", psig(fd, SIGTERM, NULL, 0), ESRCH);
	CHECK("still readable", readable(fd));
	EXPECT_ERR("waitid not a pidfd", waitid(P_PIDFD, 0, &si, WEXITED), EBADF);
	close(fd);
	close(nb);

	/* A siginfo. */
	struct sigaction sa = {0};
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	memset(&si, 0, sizeof si);
	si.si_signo = SIGUSR1;
	si.si_code = SI_QUEUE;
	si.si_value.sival_int = 1234;
	CHECK("siginfo to self", psig(self, SIGUSR1, &si, 0) == 0 && got_value == 1234);
	si.si_signo = SIGUSR2;
	EXPECT_ERR("siginfo of another signal", psig(self, SIGUSR1, &si, 0), EINVAL);
	c = sleeper();
	fd = popen_(c, 0);
	si.si_signo = SIGUSR1;
	si.si_code = SI_USER;
	EXPECT_ERR("kernel si_code to another", psig(fd, SIGUSR1, &si, 0), EPERM);
	EXPECT_ERR("bad siginfo", psig(fd, SIGUSR1, BADPTR, 0), EFAULT);

	/* pidfd_getfd: a copy of the child's fd. */
	int p[2];
	pipe(p);
	pid_t g = fork();
	if (g == 0) {
		close(p[0]);
		for (;;)
			pause();
	}
	close(p[1]);
	int gfd = popen_(g, 0);
	int w = (int)syscall(SYS_pidfd_getfd, gfd, p[1], 0);
	CHECK("pidfd_getfd", w >= 0 && (fcntl(w, F_GETFD) & FD_CLOEXEC) && write(w, "x", 1) == 1);
	char x = 0;
	CHECK("the child's pipe", read(p[0], &x, 1) == 1 && x == 'x');
	EXPECT_ERR("getfd bad target", syscall(SYS_pidfd_getfd, gfd, 999, 0), EBADF);
	EXPECT_ERR("getfd flags", syscall(SYS_pidfd_getfd, gfd, p[1], 1), EINVAL);

	/* Another user may not signal or take fds from root's processes. */
	fflush(stdout);
	pid_t n = fork();
	if (n == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(90);
		int r = !(psig(fd, SIGTERM, NULL, 0) == -1 && errno == EPERM);
		r |= !(syscall(SYS_pidfd_getfd, gfd, p[1], 0) == -1 && errno == EPERM) << 1;
		_exit(r);
	}
	int st;
	waitpid(n, &st, 0);
	CHECK("other user refused", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	psig(fd, SIGKILL, NULL, 0);
	psig(gfd, SIGKILL, NULL, 0);
	waitpid(c, &st, 0);
	waitpid(g, &st, 0);

	/* CLONE_PIDFD. */
	int cfd = -1;
	fflush(stdout);
	long r = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, NULL, &cfd, NULL, NULL);
	if (r == 0)
		_exit(7);
	CHECK("clone CLONE_PIDFD", r > 0 && cfd >= 0 && (fcntl(cfd, F_GETFD) & FD_CLOEXEC));
	memset(&si, 0, sizeof si);
	CHECK("its waitid", waitid(P_PIDFD, cfd, &si, WEXITED) == 0 && si.si_pid == r && si.si_status == 7);
	EXPECT_ERR("with CLONE_PARENT_SETTID", syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, NULL, &cfd, NULL, NULL), EINVAL);
	struct clone_args ca;
	memset(&ca, 0, sizeof ca);
	int c3 = -1;
	ca.flags = CLONE_PIDFD;
	ca.pidfd = (uintptr_t)&c3;
	ca.exit_signal = SIGCHLD;
	fflush(stdout);
	r = syscall(SYS_clone3, &ca, sizeof ca);
	if (r == 0)
		_exit(8);
	CHECK("clone3 CLONE_PIDFD", r > 0 && c3 >= 0);
	struct pollfd pp = {c3, POLLIN, 0};
	CHECK("clone3 pidfd readable", poll(&pp, 1, 5000) == 1);
	memset(&si, 0, sizeof si);
	CHECK("clone3 waitid", waitid(P_PIDFD, c3, &si, WEXITED) == 0 && si.si_status == 8);
	ca.pidfd = (uintptr_t)BADPTR;
	EXPECT_ERR("clone3 bad pidfd pointer", syscall(SYS_clone3, &ca, sizeof ca), EFAULT);
	return compat_done();
}
