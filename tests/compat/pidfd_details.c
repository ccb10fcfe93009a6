/* pidfd details: fdinfo's Pid line (-1 once reaped), poll reporting
 * POLLIN for a zombie and POLLIN|POLLHUP once reaped, and
 * PIDFD_SIGNAL_PROCESS_GROUP through a non-leader thread's pidfd being
 * ESRCH; an eventfd's fdinfo count. */
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static volatile pid_t tid;
static void *idle(void *a)
{
	tid = gettid();
	for (;;)
		pause();
	return a;
}

static int fdinfo_int(int fd, const char *key)
{
	char p[64], b[1024] = {0};
	snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fd);
	int f = open(p, O_RDONLY);
	read(f, b, sizeof b - 1);
	close(f);
	char *q = strstr(b, key);
	return q ? atoi(q + strlen(key)) : -99;
}

int main(void)
{
	int self = syscall(SYS_pidfd_open, getpid(), 0);
	CHECK("fdinfo Pid", fdinfo_int(self, "Pid:\t") == getpid());
	pid_t c = fork();
	if (c == 0)
		_exit(0);
	int fd = syscall(SYS_pidfd_open, c, 0);
	struct pollfd p = {fd, POLLIN, 0};
	CHECK("zombie readable", poll(&p, 1, 5000) == 1 && p.revents == POLLIN);
	waitpid(c, NULL, 0);
	p.revents = 0;
	CHECK("reaped hung up", poll(&p, 1, 0) == 1 && p.revents == (POLLIN | POLLHUP));
	CHECK("reaped Pid -1", fdinfo_int(fd, "Pid:\t") == -1);

	signal(SIGUSR1, SIG_IGN);
	pthread_t t;
	pthread_create(&t, NULL, idle, NULL);
	while (!tid)
		usleep(1000);
	int tfd = syscall(SYS_pidfd_open, tid, O_EXCL);
	EXPECT_ERR("thread pidfd process group", syscall(SYS_pidfd_send_signal, tfd, SIGUSR1, NULL, 4), ESRCH);

	int e = eventfd(5, EFD_SEMAPHORE);
	CHECK("eventfd count", fdinfo_int(e, "eventfd-count:") == 5);
	CHECK("eventfd semaphore", fdinfo_int(e, "eventfd-semaphore: ") == 1);

	/* A /proc/PID directory fd stands for a pidfd in pidfd_send_signal;
	 * other procfs directories and files do not. */
	int dir = open("/proc/self", O_DIRECTORY | O_RDONLY);
	CHECK("signal through /proc/self", syscall(SYS_pidfd_send_signal, dir, 0, NULL, 0) == 0);
	int task = open("/proc/self/task", O_DIRECTORY | O_RDONLY);
	EXPECT_ERR("through /proc/self/task", syscall(SYS_pidfd_send_signal, task, 0, NULL, 0), EBADF);
	int st = open("/proc/self/status", O_RDONLY);
	EXPECT_ERR("through /proc/self/status", syscall(SYS_pidfd_send_signal, st, 0, NULL, 0), EBADF);
	c = fork();
	if (c == 0)
		_exit(0);
	char path[32];
	snprintf(path, sizeof path, "/proc/%d", c);
	int cd = open(path, O_DIRECTORY | O_RDONLY);
	waitpid(c, NULL, 0);
	EXPECT_ERR("through a reaped child's directory", syscall(SYS_pidfd_send_signal, cd, 0, NULL, 0), ESRCH);

	/* PIDFD_SIGNAL_PROCESS_GROUP signals the group the pid names: a
	 * process that leads none is ESRCH (its own group is not it). */
	setpgid(0, 0);
	signal(SIGUSR1, SIG_IGN);
	int go[2];
	pipe(go);
	c = fork();
	if (c == 0) {
		char b;
		read(go[0], &b, 1);
		_exit(0);
	}
	int cp = syscall(SYS_pidfd_open, c, 0);
	EXPECT_ERR("group of a non-leader", syscall(SYS_pidfd_send_signal, cp, SIGUSR1, NULL, 4), ESRCH);
	CHECK("group of a leader", syscall(SYS_pidfd_send_signal, self, SIGUSR1, NULL, 4) == 0);
	write(go[1], "g", 1);
	waitpid(c, NULL, 0);
	return compat_failures > 100 ? 100 : compat_failures;
}
