/* fcntl, dup family, pipes, poll/ppoll, ioctl on non-ttys, close. */
#include "common.h"
#include <sys/stat.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>

static void noop(int s) { (void)s; }

int main(void)
{
	int fd = open("/etc/passwd", O_RDONLY);
	CHECK("open", fd >= 3);

	/* fcntl. */
	SHOW("getfd_initial", "%d", fcntl(fd, F_GETFD));
	CHECK("setfd_cloexec", fcntl(fd, F_SETFD, FD_CLOEXEC) == 0);
	SHOW("getfd_after", "%d", fcntl(fd, F_GETFD));
	SHOW("getfl_accmode_rdonly", "%d", (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY);
	CHECK("setfl_nonblock", fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
	SHOW("getfl_nonblock", "%d", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
	int d = fcntl(fd, F_DUPFD, 50);
	SHOW("f_dupfd_min50", "%d", d);
	SHOW("f_dupfd_no_cloexec", "%d", fcntl(d, F_GETFD));
	int d2 = fcntl(fd, F_DUPFD_CLOEXEC, 50);
	SHOW("f_dupfd_cloexec_next", "%d", d2);
	SHOW("f_dupfd_cloexec_flag", "%d", fcntl(d2, F_GETFD));
	/* Duplicates share the offset. */
	char c;
	lseek(fd, 0, SEEK_SET);
	read(d, &c, 1);
	SHOW("dup_shares_offset", "%ld", (long)lseek(fd, 0, SEEK_CUR));
	close(d);
	close(d2);
	EXPECT_ERR("fcntl_ebadf", fcntl(999, F_GETFD), EBADF);
	EXPECT_ERR("fcntl_bad_cmd", fcntl(fd, 12345), EINVAL);
	EXPECT_ERR("f_dupfd_negative", fcntl(fd, F_DUPFD, -1), EINVAL);

	/* dup / dup2 / dup3. */
	int lowest = dup(fd);
	SHOW("dup_lowest_is_fd_plus_1", "%d", lowest == fd + 1);
	close(lowest);
	SHOW("dup2_to_20", "%d", dup2(fd, 20));
	SHOW("dup2_same_fd", "%d", dup2(fd, fd) == fd);
	EXPECT_ERR("dup3_same_fd", dup3(fd, fd, 0), EINVAL);
	EXPECT_ERR("dup3_bad_flags", dup3(fd, 21, O_NONBLOCK), EINVAL);
	SHOW("dup3_cloexec", "%d", dup3(fd, 21, O_CLOEXEC));
	SHOW("dup3_cloexec_flag", "%d", fcntl(21, F_GETFD));
	EXPECT_ERR("dup_ebadf", dup(999), EBADF);
	EXPECT_ERR("dup2_ebadf", dup2(999, 22), EBADF);
	EXPECT_ERR("dup2_same_bad", dup2(999, 999), EBADF);
	EXPECT_ERR("dup2_newfd_negative", dup2(fd, -1), EBADF);
	close(20);
	close(21);

	/* close. */
	EXPECT_ERR("close_ebadf", close(999), EBADF);
	EXPECT_ERR("close_negative", close(-1), EBADF);
	int tmp = dup(fd);
	CHECK("close_ok", close(tmp) == 0);
	EXPECT_ERR("close_twice", close(tmp), EBADF);

	/* ioctl on non-terminals. */
	struct termios tio;
	int p[2];
	CHECK("pipe", pipe(p) == 0);
	EXPECT_ERR("ioctl_tcgets_pipe", ioctl(p[0], TCGETS, &tio), ENOTTY);
	EXPECT_ERR("ioctl_tcgets_file", ioctl(fd, TCGETS, &tio), ENOTTY);
	EXPECT_ERR("ioctl_ebadf", ioctl(999, TCGETS, &tio), EBADF);
	int avail = -1;
	write(p[1], "abc", 3);
	CHECK("ioctl_fionread_pipe", ioctl(p[0], FIONREAD, &avail) == 0);
	SHOW("fionread", "%d", avail);
	int ff = open("/etc/passwd", O_RDONLY);
	struct stat pst;
	int left = -1;
	CHECK("fionread_file", ff >= 0 && fstat(ff, &pst) == 0 && lseek(ff, 10, SEEK_SET) == 10 &&
				       ioctl(ff, FIONREAD, &left) == 0 && left == pst.st_size - 10);
	close(ff);
	CHECK("isatty_false", !isatty(p[0]));

	/* Pipe semantics. */
	char buf[65536 * 2];
	SHOW("pipe_read", "%zd", read(p[0], buf, sizeof(buf)));
	SHOW("pipe_getfl_wronly", "%d", (fcntl(p[1], F_GETFL) & O_ACCMODE) == O_WRONLY);
	EXPECT_ERR("pipe_read_on_write_end", read(p[1], buf, 1), EBADF);
	EXPECT_ERR("pipe_write_on_read_end", write(p[0], buf, 1), EBADF);
	EXPECT_ERR("lseek_pipe", lseek(p[0], 0, SEEK_SET), ESPIPE);
	EXPECT_ERR("pread_pipe", pread(p[0], buf, 1, 0), ESPIPE);
	SHOW("pipe_default_size", "%d", fcntl(p[0], F_GETPIPE_SZ));
	close(p[1]);
	SHOW("pipe_eof_after_writer_closed", "%zd", read(p[0], buf, 1));
	close(p[0]);

	int q[2];
	CHECK("pipe2_flags", pipe2(q, O_CLOEXEC | O_NONBLOCK) == 0);
	SHOW("pipe2_cloexec", "%d", fcntl(q[0], F_GETFD) & FD_CLOEXEC);
	SHOW("pipe2_nonblock", "%d", (fcntl(q[1], F_GETFL) & O_NONBLOCK) != 0);
	EXPECT_ERR("pipe2_read_empty_eagain", read(q[0], buf, 1), EAGAIN);
	/* Fill the pipe until EAGAIN. */
	memset(buf, 'x', sizeof(buf));
	long total = 0;
	for (;;) {
		ssize_t w = write(q[1], buf, 4096);
		if (w < 0)
			break;
		total += w;
	}
	printf("pipe_fill errno=%s total=%ld\n", ename(errno), total);
	EXPECT_ERR("pipe2_bad_flags", pipe2(p, O_RDWR | 0x400000), EINVAL);
	EXPECT_ERR("pipe_efault", pipe(BADPTR), EFAULT);

	/* poll/ppoll. */
	struct pollfd pf[2] = {{q[0], POLLIN, 0}, {q[1], POLLOUT, 0}};
	int r = poll(pf, 2, 0);
	printf("poll_full r=%d rd_in=%d wr_out=%d\n", r, !!(pf[0].revents & POLLIN), !!(pf[1].revents & POLLOUT));
	while (read(q[0], buf, sizeof(buf)) > 0)
		;
	pf[0].revents = pf[1].revents = 0;
	r = poll(pf, 2, 0);
	printf("poll_empty r=%d rd_in=%d wr_out=%d\n", r, !!(pf[0].revents & POLLIN), !!(pf[1].revents & POLLOUT));
	struct pollfd one = {q[0], POLLIN, 0};
	SHOW("poll_timeout0_nothing", "%d", poll(&one, 1, 0));
	SHOW("poll_timeout20ms_nothing", "%d", poll(&one, 1, 20));
	write(q[1], "k", 1);
	r = poll(&one, 1, 1000);
	printf("poll_after_write r=%d in=%d\n", r, !!(one.revents & POLLIN));
	close(q[1]);
	one.revents = 0;
	r = poll(&one, 1, 1000);
	printf("poll_after_close r=%d in=%d hup=%d\n", r, !!(one.revents & POLLIN), !!(one.revents & POLLHUP));
	read(q[0], buf, 10);
	one.revents = 0;
	r = poll(&one, 1, 1000);
	printf("poll_drained_closed r=%d in=%d hup=%d\n", r, !!(one.revents & POLLIN), !!(one.revents & POLLHUP));
	close(q[0]);

	/* Write end sees POLLERR when the reader goes away. */
	pipe(p);
	close(p[0]);
	struct pollfd w1 = {p[1], POLLOUT, 0};
	poll(&w1, 1, 0);
	printf("poll_reader_closed err=%d\n", !!(w1.revents & POLLERR));
	close(p[1]);

	/* poll on a bad fd gives POLLNVAL; negative fd is ignored. */
	struct pollfd bad[2] = {{999, POLLIN, 0}, {-1, POLLIN, 0}};
	r = poll(bad, 2, 0);
	printf("poll_nval r=%d nval=%d ignored=%d\n", r, !!(bad[0].revents & POLLNVAL), bad[1].revents == 0);
	EXPECT_ERR("poll_efault", poll(BADPTR, 1, 0), EFAULT);

	/* ppoll: timeout, and a signal unblocked only during the wait. */
	pipe(p);
	struct timespec ts = {0, 10 * 1000 * 1000};
	struct pollfd pp = {p[0], POLLIN, 0};
	SHOW("ppoll_timeout", "%d", ppoll(&pp, 1, &ts, NULL));
	signal(SIGUSR1, noop);
	sigset_t blk, empty;
	sigemptyset(&blk);
	sigaddset(&blk, SIGUSR1);
	sigprocmask(SIG_BLOCK, &blk, NULL);
	raise(SIGUSR1);
	sigemptyset(&empty);
	struct timespec longts = {5, 0};
	EXPECT_ERR("ppoll_sigmask_eintr", ppoll(&pp, 1, &longts, &empty), EINTR);
	sigprocmask(SIG_UNBLOCK, &blk, NULL);

	/* A writer child wakes a blocked poll. */
	pid_t k = fork();
	if (k == 0) {
		usleep(20000);
		write(p[1], "w", 1);
		_exit(0);
	}
	r = poll(&pp, 1, 5000);
	printf("poll_woken_by_child r=%d in=%d\n", r, !!(pp.revents & POLLIN));
	waitpid(k, NULL, 0);

	/* Blocking read wakes up with data from a child; large transfer. */
	k = fork();
	if (k == 0) {
		char big[100000];
		for (int i = 0; i < (int)sizeof(big); i++)
			big[i] = (char)(i % 251);
		ssize_t off = 0;
		while (off < (ssize_t)sizeof(big)) {
			ssize_t w = write(p[1], big + off, sizeof(big) - off);
			if (w <= 0)
				_exit(1);
			off += w;
		}
		_exit(0);
	}
	close(p[1]);
	read(p[0], buf, 1); /* the 'w' */
	long got = 0;
	int good = 1;
	ssize_t n;
	while ((n = read(p[0], buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != (char)((got + i) % 251))
				good = 0;
		got += n;
	}
	printf("pipe_large_transfer bytes=%ld intact=%d\n", got, good);
	waitpid(k, NULL, 0);
	close(p[0]);

	/* Writing to stdout directly. */
	const char msg[] = "direct write to stdout\n";
	SHOW("write_stdout_ret", "%zd", write(1, msg, sizeof(msg) - 1));
	EXPECT_ERR("write_efault", write(1, BADPTR, 5), EFAULT);
	EXPECT_ERR("write_ebadf", write(999, msg, 1), EBADF);
	EXPECT_ERR("write_rdonly_file", write(fd, msg, 1), EBADF);
	close(fd);
	return compat_done();
}
