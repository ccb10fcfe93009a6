/* Locks owned by an open file description (flock, OFD) go when its last
 * reference does, and a waiter blocked on them gets the lock then: a
 * close, the exit of a process holding the last copy, dup2 over it. */
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>

static const char *path = "/tmp/flock_close_test";

/* A child that blocks for an exclusive lock (flock, or an OFD write
 * lock) on its own open of the file; 0 if it got it within 5 s. */
static pid_t waiter(int ofd, int inherited)
{
	pid_t c = fork();
	if (c == 0) {
		close(inherited);
		int f = open(path, O_RDWR);
		alarm(5);
		int r;
		if (ofd) {
			struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
			r = fcntl(f, F_OFD_SETLKW, &fl);
		} else {
			r = flock(f, LOCK_EX);
		}
		_exit(r == 0 ? 0 : 1);
	}
	return c;
}

static int status(pid_t c)
{
	int st = -1;
	waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

int main(void)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK("flock", flock(fd, LOCK_EX) == 0);
	pid_t c = waiter(0, fd);
	usleep(200000);
	close(fd);
	CHECK("close_wakes_flock_waiter", status(c) == 0);

	/* The last copy is another process's, which exits. */
	fd = open(path, O_RDWR);
	pid_t holder = fork();
	if (holder == 0) {
		flock(fd, LOCK_EX);
		usleep(300000);
		_exit(0);
	}
	close(fd);
	usleep(100000);
	c = waiter(0, -1);
	CHECK("holder_exited", status(holder) == 0);
	CHECK("exit_wakes_flock_waiter", status(c) == 0);

	/* dup2 over the last fd. */
	fd = open(path, O_RDWR);
	flock(fd, LOCK_EX);
	c = waiter(0, fd);
	usleep(200000);
	int other = open("/dev/null", O_RDONLY);
	dup2(other, fd);
	CHECK("dup2_wakes_flock_waiter", status(c) == 0);
	close(fd);
	close(other);

	/* OFD locks. */
	fd = open(path, O_RDWR);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	CHECK("ofd_lock", fcntl(fd, F_OFD_SETLK, &fl) == 0);
	c = waiter(1, fd);
	usleep(200000);
	close(fd);
	CHECK("close_wakes_ofd_waiter", status(c) == 0);
	unlink(path);
	return compat_done();
}
