/* signalfd/signalfd4: reading blocked signals as signalfd_siginfo records
 * (signo, code, sender, sigqueue value), consumption of the pending
 * signal, several records per read, real-time queueing, non-blocking and
 * blocking reads, poll/epoll readiness, changing the mask of an existing
 * descriptor, a forked child seeing only its own signals, and the errors
 * for flags, sizes, buffers and descriptors. */
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int readable(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};
	int r = poll(&p, 1, 0);
	return r == 1 && (p.revents & POLLIN);
}

static int pending(int sig)
{
	sigset_t s;
	sigpending(&s);
	return sigismember(&s, sig);
}

int main(void)
{
	struct signalfd_siginfo si[4];
	sigset_t mask, old;
	ssize_t n;

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGRTMIN + 1);
	CHECK("block", sigprocmask(SIG_BLOCK, &mask, &old) == 0);

	int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	CHECK("signalfd", fd >= 0);
	SHOW("cloexec", "%d", fcntl(fd, F_GETFD) & FD_CLOEXEC);
	SHOW("nonblock", "%d", !!(fcntl(fd, F_GETFL) & O_NONBLOCK));
	char lnk[64], target[64];
	snprintf(lnk, sizeof lnk, "/proc/self/fd/%d", fd);
	n = readlink(lnk, target, sizeof target - 1);
	target[n < 0 ? 0 : n] = 0;
	printf("proc_link \"%s\"\n", target);

	/* Nothing pending. */
	EXPECT_ERR("read_empty", read(fd, si, sizeof si[0]), EAGAIN);
	SHOW("poll_empty", "%d", readable(fd));

	/* raise() -> one record, consumed by the read. */
	raise(SIGUSR1);
	SHOW("pending_before_read", "%d", pending(SIGUSR1));
	SHOW("poll_pending", "%d", readable(fd));
	EXPECT_ERR("read_small_buffer", read(fd, si, sizeof si[0] - 1), EINVAL);
	EXPECT_ERR("read_zero", read(fd, si, 0), EINVAL);
	n = read(fd, si, sizeof si[0] + 50);
	SHOW("read_raise", "%zd", n);
	SHOW("raise_signo", "%u", si[0].ssi_signo);
	SHOW("raise_code", "%d", si[0].ssi_code);
	SHOW("raise_code_is_tkill", "%d", si[0].ssi_code == SI_TKILL);
	SHOW("raise_pid_is_self", "%d", si[0].ssi_pid == (uint32_t)getpid());
	SHOW("raise_uid_is_self", "%d", si[0].ssi_uid == (uint32_t)getuid());
	SHOW("pending_after_read", "%d", pending(SIGUSR1));
	SHOW("poll_after_read", "%d", readable(fd));
	EXPECT_ERR("read_empty_again", read(fd, si, sizeof si), EAGAIN);

	/* kill() -> SI_USER. */
	kill(getpid(), SIGUSR2);
	n = read(fd, si, sizeof si);
	SHOW("read_kill", "%zd", n);
	SHOW("kill_signo", "%u", si[0].ssi_signo);
	SHOW("kill_code", "%d", si[0].ssi_code);
	SHOW("kill_pid_is_self", "%d", si[0].ssi_pid == (uint32_t)getpid());

	/* sigqueue() -> SI_QUEUE and the value. */
	union sigval v = {.sival_int = 4242};
	CHECK("sigqueue", sigqueue(getpid(), SIGUSR1, v) == 0);
	n = read(fd, si, sizeof si);
	SHOW("read_sigqueue", "%zd", n);
	SHOW("sigqueue_signo", "%u", si[0].ssi_signo);
	SHOW("sigqueue_code", "%d", si[0].ssi_code);
	SHOW("sigqueue_int", "%d", si[0].ssi_int);

	/* Several pending signals: one read returns several records, lowest
	 * signal number first. */
	raise(SIGUSR2);
	raise(SIGUSR1);
	raise(SIGUSR1); /* standard signals do not queue */
	n = read(fd, si, sizeof si);
	SHOW("read_multi", "%zd", n);
	SHOW("multi_records", "%zd", n / (ssize_t)sizeof si[0]);
	SHOW("multi_first", "%u", si[0].ssi_signo);
	SHOW("multi_second", "%u", si[1].ssi_signo);
	/* A buffer for one record takes one of two. */
	raise(SIGUSR1);
	raise(SIGUSR2);
	n = read(fd, si, sizeof si[0]);
	SHOW("read_one_of_two", "%zd", n);
	SHOW("one_of_two_signo", "%u", si[0].ssi_signo);
	SHOW("one_of_two_left", "%d", pending(SIGUSR2));
	n = read(fd, si, sizeof si);
	SHOW("read_rest", "%zd", n);
	SHOW("rest_signo", "%u", si[0].ssi_signo);

	/* Real-time signals queue, in order. */
	v.sival_int = 1;
	sigqueue(getpid(), SIGRTMIN + 1, v);
	v.sival_int = 2;
	sigqueue(getpid(), SIGRTMIN + 1, v);
	n = read(fd, si, sizeof si);
	SHOW("read_rt", "%zd", n);
	SHOW("rt_signo_is_rtmin1", "%d", si[0].ssi_signo == (uint32_t)(SIGRTMIN + 1) &&
						 si[1].ssi_signo == (uint32_t)(SIGRTMIN + 1));
	SHOW("rt_values", "%d", si[0].ssi_int * 10 + si[1].ssi_int);

	/* Bad buffer with a signal pending. */
	raise(SIGUSR1);
	EXPECT_ERR("read_efault", read(fd, BADPTR, sizeof si[0]), EFAULT);
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, SIGUSR1);
	struct timespec zero = {0, 0};
	sigtimedwait(&one, NULL, &zero);

	/* Changing the mask of the existing descriptor. */
	sigset_t only2;
	sigemptyset(&only2);
	sigaddset(&only2, SIGUSR2);
	SHOW("update_mask_same_fd", "%d", signalfd(fd, &only2, 0) == fd);
	SHOW("update_keeps_nonblock", "%d", !!(fcntl(fd, F_GETFL) & O_NONBLOCK));
	raise(SIGUSR1);
	SHOW("poll_unwatched_signal", "%d", readable(fd));
	EXPECT_ERR("read_unwatched_signal", read(fd, si, sizeof si), EAGAIN);
	SHOW("unwatched_still_pending", "%d", pending(SIGUSR1));
	raise(SIGUSR2);
	n = read(fd, si, sizeof si);
	SHOW("read_watched_only", "%zd", n);
	SHOW("watched_only_signo", "%u", si[0].ssi_signo);
	SHOW("sigtimedwait_unwatched", "%d", sigtimedwait(&one, NULL, &zero));
	CHECK("restore_mask", signalfd(fd, &mask, 0) == fd);

	/* SIGKILL and SIGSTOP in the mask are ignored, not an error. */
	sigset_t withkill = mask;
	sigaddset(&withkill, SIGKILL);
	sigaddset(&withkill, SIGSTOP);
	int fk = signalfd(-1, &withkill, SFD_NONBLOCK);
	CHECK("mask_with_sigkill", fk >= 0);
	raise(SIGUSR2);
	n = read(fk, si, sizeof si);
	SHOW("sigkill_fd_read", "%zd", n);
	SHOW("sigkill_fd_signo", "%u", si[0].ssi_signo);
	close(fk);

	/* Two descriptors watching the same signal: whoever reads first. */
	int f2 = signalfd(-1, &mask, SFD_NONBLOCK);
	raise(SIGUSR1);
	SHOW("two_fds_both_readable", "%d", readable(fd) && readable(f2));
	SHOW("two_fds_read_second", "%zd", read(f2, si, sizeof si));
	EXPECT_ERR("two_fds_first_empty", read(fd, si, sizeof si), EAGAIN);
	close(f2);

	/* epoll. */
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out[2];
	CHECK("epoll_add", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
	SHOW("epoll_empty", "%d", epoll_wait(ep, out, 2, 0));
	raise(SIGUSR2);
	int k = epoll_wait(ep, out, 2, 0);
	SHOW("epoll_pending", "%d", k);
	SHOW("epoll_event", "%#x", k == 1 ? out[0].events : 0u);
	SHOW("epoll_data", "%u", k == 1 ? out[0].data.u32 : 0u);
	SHOW("epoll_read", "%zd", read(fd, si, sizeof si));
	SHOW("epoll_after_read", "%d", epoll_wait(ep, out, 2, 0));
	close(ep);

	/* A blocking descriptor waits for a signal sent by a child. */
	int fb = signalfd(-1, &mask, 0);
	pid_t c = fork();
	if (c == 0) {
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	n = read(fb, si, sizeof si);
	SHOW("blocking_read", "%zd", n);
	SHOW("blocking_signo", "%u", si[0].ssi_signo);
	SHOW("blocking_code", "%d", si[0].ssi_code);
	SHOW("blocking_pid_is_child", "%d", si[0].ssi_pid == (uint32_t)c);
	int status;
	waitpid(c, &status, 0);
	close(fb);

	/* A forked child reads its own signals, not the parent's. */
	raise(SIGUSR2);
	c = fork();
	if (c == 0) {
		int fails = 0;
		struct signalfd_siginfo cs[2];
		errno = 0;
		fails += !(read(fd, cs, sizeof cs) == -1 && errno == EAGAIN);
		raise(SIGUSR1);
		fails += read(fd, cs, sizeof cs) != (ssize_t)sizeof cs[0];
		fails += cs[0].ssi_signo != SIGUSR1;
		fails += cs[0].ssi_pid != (uint32_t)getpid();
		_exit(fails);
	}
	waitpid(c, &status, 0);
	CHECK("child_own_signals", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	n = read(fd, si, sizeof si);
	SHOW("parent_read_after_child", "%zd", n);
	SHOW("parent_signo_after_child", "%u", si[0].ssi_signo);

	/* Errors. */
	EXPECT_ERR("bad_flags", signalfd(-1, &mask, 0x1), EINVAL);
	EXPECT_ERR("bad_flags_update", signalfd(fd, &mask, SFD_NONBLOCK << 1), EINVAL);
	int pp[2];
	CHECK("pipe", pipe(pp) == 0);
	EXPECT_ERR("not_a_signalfd", signalfd(pp[0], &mask, 0), EINVAL);
	EXPECT_ERR("bad_fd", signalfd(999, &mask, 0), EBADF);
	EXPECT_ERR("sizemask_4", syscall(SYS_signalfd4, -1, &mask, 4, 0), EINVAL);
	EXPECT_ERR("sizemask_16", syscall(SYS_signalfd4, -1, &mask, 16, 0), EINVAL);
	EXPECT_ERR("sizemask_0", syscall(SYS_signalfd4, -1, &mask, 0, 0), EINVAL);
	EXPECT_ERR("old_signalfd_sizemask_4", syscall(SYS_signalfd, -1, &mask, 4), EINVAL);
	EXPECT_ERR("efault_mask", syscall(SYS_signalfd4, -1, BADPTR, 8, 0), EFAULT);
	int fo = syscall(SYS_signalfd, -1, &mask, 8);
	CHECK("old_signalfd", fo >= 0);
	SHOW("old_signalfd_flags", "%d", (fcntl(fo, F_GETFD) & FD_CLOEXEC) |
						 !!(fcntl(fo, F_GETFL) & O_NONBLOCK) << 1);
	close(fo);
	EXPECT_ERR("write_signalfd", write(fd, si, sizeof si[0]), EINVAL);
	close(pp[0]);
	close(pp[1]);

	close(fd);
	SHOW("nothing_left_pending", "%d",
	     pending(SIGUSR1) || pending(SIGUSR2) || pending(SIGRTMIN + 1));
	sigprocmask(SIG_SETMASK, &old, NULL);
	return compat_done();
}
