/* Record-lock details: a range whose last byte passes OFF_MAX is
 * EOVERFLOW, F_OFD_GETLK asking about F_UNLCK finds nothing (F_GETLK
 * refuses it), and
 * F_SETLKW that would wait on a process waiting on the caller is
 * EDEADLK at once. */
#include "common.h"
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>

static int lk(int fd, int cmd, short t, off_t s, off_t l)
{
	struct flock f = {.l_type = t, .l_whence = SEEK_SET, .l_start = s, .l_len = l};
	return fcntl(fd, cmd, &f) < 0 ? -errno : f.l_type;
}

int main(void)
{
	char d[] = "/tmp/husk-lockd-XXXXXX";
	mkdtemp(d);
	char p[256];
	snprintf(p, sizeof p, "%s/f", d);
	int fd = open(p, O_RDWR | O_CREAT, 0644), sp[2];
	pipe(sp);
	CHECK("past OFF_MAX", lk(fd, F_SETLK, F_RDLCK, LLONG_MAX, 2) == -EOVERFLOW);
	CHECK("up to OFF_MAX", lk(fd, F_SETLK, F_RDLCK, LLONG_MAX, 1) == F_RDLCK);
	CHECK("OFD_GETLK F_UNLCK", lk(fd, F_OFD_GETLK, F_UNLCK, 0, 0) == F_UNLCK);
	CHECK("GETLK F_UNLCK", lk(fd, F_GETLK, F_UNLCK, 0, 0) == -EINVAL);
	lk(fd, F_SETLK, F_UNLCK, 0, 0);
	lk(fd, F_SETLK, F_WRLCK, 0, 10);
	pid_t c = fork();
	if (c == 0) {
		int f2 = open(p, O_RDWR);
		lk(f2, F_SETLK, F_WRLCK, 20, 10);
		write(sp[1], "x", 1);
		alarm(5);
		_exit(lk(f2, F_SETLKW, F_WRLCK, 0, 10) == F_WRLCK ? 0 : 1);
	}
	char x;
	read(sp[0], &x, 1);
	usleep(300000);
	CHECK("deadlock", lk(fd, F_SETLKW, F_WRLCK, 20, 10) == -EDEADLK);
	lk(fd, F_SETLK, F_UNLCK, 0, 10);
	int st;
	CHECK("other side gets it", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	unlink(p);
	rmdir(d);
	return compat_failures > 100 ? 100 : compat_failures;
}
