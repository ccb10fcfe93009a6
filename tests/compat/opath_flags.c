/* Open flags as Linux keeps them: O_LARGEFILE on every open file (64-bit),
 * O_PATH keeping only its own flags and refusing I/O, locks, ioctls,
 * fcntl beyond the fd-level commands, lseek, fsync, ftruncate,
 * getdents, mmap and xattrs with EBADF; O_CREAT on a directory (EISDIR)
 * or with O_DIRECTORY (EINVAL); F_GETOWN_EX of a fresh file; poll's
 * POLLRDNORM/POLLWRNORM, a reader-less pipe's POLLOUT|POLLERR, the nfds
 * limit; F_SETPIPE_SZ's limits. */
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

int main(void)
{
	char dir[] = "/tmp/husk-opath-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	char f[256], buf[256];
	snprintf(f, sizeof f, "%s/f", dir);
	int fd = open(f, O_RDWR | O_CREAT, 0644);
	CHECK("O_LARGEFILE on a file", (fcntl(fd, F_GETFL) & 0x8000) != 0);
	int d = open(dir, O_RDONLY);
	CHECK("O_LARGEFILE on a directory", (fcntl(d, F_GETFL) & 0x8000) != 0);
	int p[2];
	pipe(p);
	CHECK("no O_LARGEFILE on a pipe", (fcntl(p[0], F_GETFL) & 0x8000) == 0);

	int o = open(f, O_PATH | O_WRONLY | O_APPEND | O_NONBLOCK);
	CHECK("O_PATH keeps its flags only", fcntl(o, F_GETFL) == O_PATH);
	EXPECT_ERR("O_PATH F_SETFL", fcntl(o, F_SETFL, 0), EBADF);
	EXPECT_ERR("O_PATH F_GETOWN", syscall(SYS_fcntl, o, F_GETOWN), EBADF);
	struct flock fl = {.l_type = F_UNLCK};
	EXPECT_ERR("O_PATH F_SETLK", fcntl(o, F_SETLK, &fl), EBADF);
	CHECK("O_PATH F_GETFD", fcntl(o, F_GETFD) == 0);
	int one = 1;
	EXPECT_ERR("O_PATH FIONBIO", ioctl(o, FIONBIO, &one), EBADF);
	EXPECT_ERR("O_PATH flock", flock(o, LOCK_SH), EBADF);
	EXPECT_ERR("O_PATH lseek", lseek(o, 0, SEEK_SET), EBADF);
	EXPECT_ERR("O_PATH fsync", fsync(o), EBADF);
	EXPECT_ERR("O_PATH ftruncate", ftruncate(o, 0), EBADF);
	EXPECT_ERR("O_PATH read", read(o, buf, 1), EBADF);
	EXPECT_ERR("O_PATH mmap", mmap(0, 4096, PROT_READ, MAP_PRIVATE, o, 0), EBADF);
	EXPECT_ERR("O_PATH fgetxattr", fgetxattr(o, "user.x", buf, sizeof buf), EBADF);
	int od = open(dir, O_PATH | O_DIRECTORY);
	EXPECT_ERR("O_PATH getdents", syscall(SYS_getdents64, od, buf, sizeof buf), EBADF);

	EXPECT_ERR("O_CREAT on a directory", open(dir, O_RDONLY | O_CREAT, 0644), EISDIR);
	snprintf(buf, sizeof buf, "%s/nx", dir);
	EXPECT_ERR("O_CREAT|O_DIRECTORY", open(buf, O_RDONLY | O_CREAT | O_DIRECTORY, 0644), EINVAL);

	struct f_owner_ex ow = {99, 99};
	CHECK("fresh F_GETOWN_EX", fcntl(fd, F_GETOWN_EX, &ow) == 0 && ow.type == F_OWNER_TID && ow.pid == 0);
	ow.type = F_OWNER_PGRP;
	ow.pid = 0;
	CHECK("owner type kept with pid 0", fcntl(fd, F_SETOWN_EX, &ow) == 0 && fcntl(fd, F_GETOWN_EX, &ow) == 0 && ow.type == F_OWNER_PGRP);

	write(p[1], "x", 1);
	struct pollfd pf = {p[0], POLLRDNORM, 0};
	CHECK("POLLRDNORM alone", poll(&pf, 1, 0) == 1 && pf.revents == POLLRDNORM);
	pf.events = POLLIN | POLLRDNORM;
	CHECK("POLLIN|POLLRDNORM", poll(&pf, 1, 0) == 1 && pf.revents == (POLLIN | POLLRDNORM));
	pf = (struct pollfd){p[1], POLLOUT | POLLWRNORM, 0};
	CHECK("POLLOUT|POLLWRNORM", poll(&pf, 1, 0) == 1 && pf.revents == (POLLOUT | POLLWRNORM));
	int q[2];
	pipe(q);
	close(q[0]);
	pf = (struct pollfd){q[1], POLLOUT, 0};
	CHECK("reader-less pipe", poll(&pf, 1, 0) == 1 && pf.revents == (POLLOUT | POLLERR));

	EXPECT_ERR("pipe size -1", fcntl(p[0], F_SETPIPE_SZ, -1), EINVAL);
	EXPECT_ERR("pipe size past max", fcntl(p[0], F_SETPIPE_SZ, (1 << 20) + 1), EPERM);
	CHECK("pipe size rounds", fcntl(p[0], F_SETPIPE_SZ, 5000) == 8192);

	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = 100;
	setrlimit(RLIMIT_NOFILE, &rl);
	static struct pollfd many[200];
	for (int i = 0; i < 200; i++)
		many[i].fd = -1;
	CHECK("nfds at the limit", poll(many, 100, 0) == 0);
	EXPECT_ERR("nfds past the limit", poll(many, 101, 0), EINVAL);

	unlink(f);
	rmdir(dir);
	return compat_failures > 100 ? 100 : compat_failures;
}
