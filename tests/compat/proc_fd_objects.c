/* /proc/self/fd/N of objects with no path (a socket, an eventfd, an epoll,
 * a timerfd, an inotify fd): stat follows the link to the object itself
 * (lsof and fuser match sockets by it), open is ENXIO; a pipe reopens.
 * The links' modes say how each fd is open (r-x, -wx, rwx; none for
 * O_PATH). */
#include "common.h"
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

static void probe(const char *what, int fd)
{
	char path[64];
	struct stat a, b, l;
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	fstat(fd, &a);
	int r = stat(path, &b);
	int e = errno;
	lstat(path, &l);
	errno = 0;
	int o = open(path, O_RDONLY);
	int oe = o < 0 ? errno : 0;
	printf("%-8s stat %s, same object %d, type %o, link mode %o, open %s\n", what, ename(r ? e : 0),
	       r == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev, b.st_mode & S_IFMT, l.st_mode & 0777,
	       ename(oe));
	if (o >= 0)
		close(o);
}

int main(void)
{
	int p[2];
	probe("socket", socket(AF_UNIX, SOCK_STREAM, 0));
	probe("eventfd", eventfd(0, 0));
	probe("epoll", epoll_create1(0));
	probe("timerfd", timerfd_create(CLOCK_MONOTONIC, 0));
	probe("inotify", inotify_init1(0));
	CHECK("pipe", pipe(p) == 0);
	probe("pipe-w", p[1]);
	probe("rdonly", open("/etc/passwd", O_RDONLY));
	probe("wronly", open("/dev/null", O_WRONLY));
	probe("o_path", open("/etc/passwd", O_PATH));
	return compat_done();
}
