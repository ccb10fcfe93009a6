/* File leases: F_SETLEASE/F_GETLEASE's rules (regular files, the
 * owner's, a read lease with no writer, a write lease with no other
 * open), and a break: a conflicting open signals the holder (its
 * F_SETSIG signal, POLL_MSG, the fd) and waits, or is refused when
 * non-blocking, until the holder gives way. */
#include "common.h"
#include <signal.h>
#include <sys/stat.h>

#ifndef F_SETLEASE
#define F_SETLEASE 1024
#define F_GETLEASE 1025
#endif

int main(void)
{
	char dir[] = "/tmp/leaseXXXXXX";
	if (!mkdtemp(dir) || chdir(dir) || chmod(".", 0755))
		return 1;
	int w = open("f", O_CREAT | O_RDWR, 0644);
	write(w, "data", 4);

	/* The rules. */
	int p[2];
	pipe(p);
	CHECK("getlease_pipe", fcntl(p[0], F_GETLEASE) == F_UNLCK);
	EXPECT_ERR("setlease_pipe", fcntl(p[0], F_SETLEASE, F_RDLCK), EINVAL);
	int d = open(".", O_RDONLY);
	EXPECT_ERR("setlease_dir", fcntl(d, F_SETLEASE, F_RDLCK), EINVAL);
	int r = open("f", O_RDONLY);
	EXPECT_ERR("setlease_bad_type", fcntl(r, F_SETLEASE, 7), EINVAL);
	EXPECT_ERR("unlock_none", fcntl(r, F_SETLEASE, F_UNLCK), EAGAIN);
	EXPECT_ERR("read_lease_with_writer", fcntl(r, F_SETLEASE, F_RDLCK), EAGAIN);
	EXPECT_ERR("read_lease_on_rdwr", fcntl(w, F_SETLEASE, F_RDLCK), EAGAIN);
	close(w);
	CHECK("read_lease", fcntl(r, F_SETLEASE, F_RDLCK) == 0 && fcntl(r, F_GETLEASE) == F_RDLCK);
	int r2 = open("f", O_RDONLY);
	CHECK("reader_no_break", r2 >= 0 && fcntl(r, F_GETLEASE) == F_RDLCK);
	EXPECT_ERR("write_lease_with_other_open", fcntl(r, F_SETLEASE, F_WRLCK), EAGAIN);
	close(r2);
	CHECK("write_lease", fcntl(r, F_SETLEASE, F_WRLCK) == 0 && fcntl(r, F_GETLEASE) == F_WRLCK);
	CHECK("unlock", fcntl(r, F_SETLEASE, F_UNLCK) == 0 && fcntl(r, F_GETLEASE) == F_UNLCK);
	pid_t c = fork();
	if (c == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(99);
		int o = open("f", O_RDONLY);
		EXPECT_ERR("not_owner", fcntl(o, F_SETLEASE, F_RDLCK), EACCES);
		compat_child_end();
	}
	compat_collect(c, "not owner");

	/* A break: a non-blocking writer is refused and the holder told. */
	sigset_t rt;
	sigemptyset(&rt);
	sigaddset(&rt, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &rt, NULL);
	CHECK("setsig", fcntl(r, F_SETSIG, SIGRTMIN) == 0);
	CHECK("read_lease_again", fcntl(r, F_SETLEASE, F_RDLCK) == 0);
	c = fork();
	if (c == 0) {
		EXPECT_ERR("nonblocking_writer", open("f", O_WRONLY | O_NONBLOCK), EWOULDBLOCK);
		compat_child_end();
	}
	compat_collect(c, "nonblocking");
	siginfo_t si;
	struct timespec ts = {5, 0};
	CHECK("break_signal", sigtimedwait(&rt, &si, &ts) == SIGRTMIN && si.si_fd == r && si.si_code == POLL_MSG);
	CHECK("breaking_to_none", fcntl(r, F_GETLEASE) == F_UNLCK);
	CHECK("give_way", fcntl(r, F_SETLEASE, F_UNLCK) == 0);
	c = fork();
	if (c == 0) {
		int o = open("f", O_WRONLY | O_NONBLOCK);
		CHECK("writer_after", o >= 0);
		compat_child_end();
	}
	compat_collect(c, "writer after");

	/* Giving a lease up took the F_SETSIG signal with it: the next
	 * break is a plain SIGIO. A blocking reader waits for a write lease
	 * to come down to a read lease. */
	CHECK("setsig_reset", fcntl(r, F_GETSIG) == 0);
	sigaddset(&rt, SIGIO);
	sigprocmask(SIG_BLOCK, &rt, NULL);
	CHECK("write_lease_again", fcntl(r, F_SETLEASE, F_WRLCK) == 0);
	/* The children below say how they did by their exit status only:
	 * their lines would race the parent's. */
	c = fork();
	if (c == 0)
		_exit(open("f", O_RDONLY) >= 0 ? 0 : 1);
	CHECK("reader_breaks", sigtimedwait(&rt, &si, &ts) == SIGIO && si.si_code == SI_KERNEL);
	CHECK("breaking_to_read", fcntl(r, F_GETLEASE) == F_RDLCK);
	usleep(50000);
	int st;
	CHECK("reader_waits", waitpid(c, &st, WNOHANG) == 0);
	CHECK("downgrade", fcntl(r, F_SETLEASE, F_RDLCK) == 0);
	CHECK("reader_through", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK("kept_read_lease", fcntl(r, F_GETLEASE) == F_RDLCK);
	/* truncate(2) breaks a read lease as a writer does. */
	c = fork();
	if (c == 0)
		_exit(truncate("f", 0) == 0 ? 0 : 1);
	CHECK("truncate_breaks", sigtimedwait(&rt, &si, &ts) == SIGIO);
	struct stat fs;
	CHECK("truncate_waits", waitpid(c, &st, WNOHANG) == 0 && stat("f", &fs) == 0 && fs.st_size == 4);
	CHECK("give_way_again", fcntl(r, F_SETLEASE, F_UNLCK) == 0);
	CHECK("truncate_through", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK("truncated", stat("f", &fs) == 0 && fs.st_size == 0);
	CHECK("read_lease_last", fcntl(r, F_SETLEASE, F_RDLCK) == 0);
	/* Closing the file ends its lease. */
	close(r);
	int o = open("f", O_WRONLY | O_NONBLOCK);
	CHECK("closed_lease_gone", o >= 0);
	close(o);
	unlink("f");
	chdir("/");
	rmdir(dir);
	return compat_done();
}
