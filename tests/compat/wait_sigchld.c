/* A SIGCHLD handler installed without SA_RESTART: a blocking wait for
 * the child whose exit sends the signal returns the child (Linux looks
 * again before it returns for the signal), then the handler runs; and
 * SA_NOCLDWAIT with a handler reaps the child but still signals. */
#include "common.h"
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>

static volatile int handled;
static void on_chld(int s)
{
	(void)s;
	handled++;
}

static pid_t late_child(int status)
{
	pid_t c = fork();
	if (c == 0) {
		usleep(20000);
		_exit(status);
	}
	return c;
}

int main(void)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_chld;
	sigaction(SIGCHLD, &sa, NULL);
	int bad[5] = {0};
	for (int i = 0; i < 10; i++) {
		int st;
		pid_t c = late_child(1);
		if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 1)
			bad[0]++;
		c = late_child(2);
		struct rusage ru;
		if (wait4(-1, &st, 0, &ru) != c || WEXITSTATUS(st) != 2)
			bad[1]++;
		c = late_child(3);
		siginfo_t si = {0};
		if (waitid(P_PID, c, &si, WEXITED) != 0 || si.si_pid != c || si.si_status != 3)
			bad[2]++;
		c = late_child(4);
		int fd = syscall(SYS_pidfd_open, c, 0);
		if (waitid(P_PIDFD, fd, &si, WEXITED) != 0 || si.si_status != 4)
			bad[3]++;
		close(fd);
		c = late_child(5);
		fd = syscall(SYS_pidfd_open, c, 0);
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 5000) != 1 || waitpid(c, &st, 0) != c)
			bad[4]++;
		close(fd);
	}
	CHECK("waitpid", bad[0] == 0);
	CHECK("wait4", bad[1] == 0);
	CHECK("waitid", bad[2] == 0);
	CHECK("waitid_pidfd", bad[3] == 0);
	CHECK("poll_pidfd", bad[4] == 0);
	CHECK("handler_ran", handled > 0);
	/* With nothing to wait for, the signal still interrupts. */
	pid_t c = late_child(0);
	pid_t other = fork();
	if (other == 0) {
		pause();
		_exit(0);
	}
	EXPECT_ERR("other_child_eintr", waitpid(other, NULL, 0), EINTR);
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
	waitpid(c, NULL, 0);

	/* SA_NOCLDWAIT: reaped at once, the handler told all the same. */
	handled = 0;
	sa.sa_flags = SA_NOCLDWAIT | SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	siginfo_t got = {0};
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	c = fork();
	if (c == 0)
		_exit(5);
	struct timespec ts = {5, 0};
	CHECK("nocldwait_signal", sigtimedwait(&chld, &got, &ts) == SIGCHLD && got.si_pid == c && got.si_code == CLD_EXITED && got.si_status == 5);
	EXPECT_ERR("nocldwait_reaped", waitpid(c, NULL, 0), ECHILD);
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
	c = fork();
	if (c == 0)
		_exit(6);
	EXPECT_ERR("nocldwait_wait", waitpid(-1, NULL, 0), ECHILD);
	usleep(100000);
	CHECK("nocldwait_handler", handled == 1);
	/* SIG_IGN: reaped, and no signal. */
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigaction(SIGCHLD, &sa, NULL);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	c = fork();
	if (c == 0)
		_exit(7);
	EXPECT_ERR("ign_wait", waitpid(c, NULL, 0), ECHILD);
	sigset_t pend;
	sigpending(&pend);
	CHECK("ign_no_signal", !sigismember(&pend, SIGCHLD));
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);

	/* tgkill and tkill reach a zombie: taken, to no effect. */
	c = fork();
	if (c == 0)
		_exit(0);
	{
		siginfo_t z;
		waitid(P_PID, c, &z, WEXITED | WNOWAIT);
		CHECK("tgkill_zombie", syscall(SYS_tgkill, c, c, 0) == 0 && syscall(SYS_tgkill, c, c, SIGUSR1) == 0);
		CHECK("tkill_zombie", syscall(SYS_tkill, c, 0) == 0);
		EXPECT_ERR("tgkill_zombie_wrong_group", syscall(SYS_tgkill, getpid(), c, 0), ESRCH);
		waitpid(c, NULL, 0);
		EXPECT_ERR("tgkill_reaped", syscall(SYS_tgkill, c, c, 0), ESRCH);
	}

	/* wait4 of a stopped child reports its usage so far. */
	c = fork();
	if (c == 0) {
		char *big = malloc(32 << 20);
		memset(big, 1, 32 << 20);
		raise(SIGSTOP);
		_exit(big[5]);
	}
	{
		struct rusage ru = {0};
		int st;
		CHECK("stopped_usage", wait4(c, &st, WUNTRACED, &ru) == c && WIFSTOPPED(st) && ru.ru_maxrss >= 32768);
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
	}

	/* A non-blocking pidfd: WNOHANG as asked gives 0, EAGAIN only
	 * without it. */
	c = fork();
	if (c == 0) {
		pause();
		_exit(0);
	}
	int nb = syscall(SYS_pidfd_open, c, O_NONBLOCK);
	siginfo_t si = {0};
	si.si_pid = 1;
	CHECK("nonblock_wnohang", waitid(P_PIDFD, nb, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0);
	EXPECT_ERR("nonblock_eagain", waitid(P_PIDFD, nb, &si, WEXITED), EAGAIN);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	close(nb);
	/* PIDFD_THREAD of a child's leader names the child, a zombie's too. */
	c = fork();
	if (c == 0)
		_exit(3);
	waitid(P_PID, c, &si, WEXITED | WNOWAIT);
	int th = syscall(SYS_pidfd_open, c, O_EXCL);
	CHECK("thread_pidfd_flags", (fcntl(th, F_GETFL) & O_EXCL) != 0);
	CHECK("thread_pidfd_waitid", waitid(P_PIDFD, th, &si, WEXITED) == 0 && si.si_pid == c && si.si_status == 3);
	close(th);
	return compat_done();
}
