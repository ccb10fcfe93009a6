/* Smaller file-call rules, on tmpfs (/dev/shm is tmpfs natively and
 * under husk): utimensat by fd (AT_EMPTY_PATH, NULL path), lseek past
 * the largest offset, RWF_NOWAIT writes, O_ASYNC and FIOASYNC on a file
 * that cannot signal, seals of a plain tmpfs file, fadvise and sync
 * calls on O_PATH fds, flock's LOCK_MAND, FIONREAD past the end, and
 * statx's birth time, mount id, sync flags and block counts. */
#include "common.h"
#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

int main(void)
{
	char dir[] = "/dev/shm/filecallsXXXXXX";
	if (!mkdtemp(dir) || chdir(dir) != 0)
		return 1;
	int fd = open("f", O_CREAT | O_RDWR, 0644);
	write(fd, "0123456789", 10);

	struct timespec ts[2] = {{1000, 0}, {2000, 0}};
	struct stat st;
	CHECK("utimensat(fd, \"\", AT_EMPTY_PATH)", utimensat(fd, "", ts, AT_EMPTY_PATH) == 0);
	fstat(fd, &st);
	SHOW("mtime", "%ld", (long)st.st_mtime);
	int op = open("f", O_PATH);
	ts[1].tv_sec = 3000;
	CHECK("utimensat of an O_PATH fd", utimensat(op, "", ts, AT_EMPTY_PATH) == 0);
	stat("f", &st);
	SHOW("mtime by O_PATH", "%ld", (long)st.st_mtime);
	EXPECT_ERR("NULL path with a flag", syscall(SYS_utimensat, fd, NULL, ts, AT_SYMLINK_NOFOLLOW), EINVAL);
	EXPECT_ERR("NULL path from AT_FDCWD", syscall(SYS_utimensat, AT_FDCWD, NULL, ts, 0), EFAULT);

	CHECK("lseek to the largest offset", lseek(fd, LLONG_MAX, SEEK_SET) == LLONG_MAX);
	EXPECT_ERR("lseek past it", lseek(fd, 1, SEEK_CUR), EINVAL);
	lseek(fd, 0, SEEK_SET);
	struct iovec iv = {"ab", 2};
	EXPECT_ERR("RWF_NOWAIT write to a file", pwritev2(fd, &iv, 1, 0, RWF_NOWAIT), EOPNOTSUPP);

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC);
	SHOW("O_ASYNC kept on a file", "%d", !!(fcntl(fd, F_GETFL) & O_ASYNC));
	int on = 1;
	EXPECT_ERR("FIOASYNC on a file", ioctl(fd, FIOASYNC, &on), ENOTTY);
	SHOW("F_GET_SEALS of a tmpfs file", "%d", fcntl(fd, F_GET_SEALS));
	EXPECT_ERR("F_ADD_SEALS of a tmpfs file", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EPERM);

	SHOW("fadvise with a negative length", "%d", posix_fadvise(fd, 0, -1, POSIX_FADV_NORMAL));
	SHOW("fadvise of an O_PATH fd", "%d", posix_fadvise(op, 0, 0, POSIX_FADV_NORMAL));
	EXPECT_ERR("sync_file_range of an O_PATH fd", sync_file_range(op, 0, 0, 0), EBADF);
	EXPECT_ERR("syncfs of an O_PATH fd", syncfs(op), EBADF);
	CHECK("flock LOCK_MAND is ignored", flock(fd, 32 | LOCK_SH) == 0);
	CHECK("flock LOCK_MAND even on a bad fd", flock(-1, 32 | LOCK_SH) == 0);

	int n = 99;
	lseek(fd, 20, SEEK_SET);
	CHECK("FIONREAD past the end", ioctl(fd, FIONREAD, &n) == 0);
	SHOW("FIONREAD", "%d", n);

	struct statx sx;
	CHECK("statx", statx(AT_FDCWD, "f", 0, STATX_BASIC_STATS | STATX_BTIME | STATX_MNT_ID, &sx) == 0);
	SHOW("btime", "%d", !!(sx.stx_mask & STATX_BTIME) && sx.stx_btime.tv_sec > 0);
	SHOW("mount id", "%d", !!(sx.stx_mask & STATX_MNT_ID) && sx.stx_mnt_id > 0);
	SHOW("generic attributes known", "%d",
	     (sx.stx_attributes_mask & (STATX_ATTR_MOUNT_ROOT | STATX_ATTR_AUTOMOUNT)) ==
		     (STATX_ATTR_MOUNT_ROOT | STATX_ATTR_AUTOMOUNT));
	struct statx root;
	statx(AT_FDCWD, "/dev/shm", 0, STATX_MNT_ID, &root);
	SHOW("/dev/shm is a mount root", "%d", !!(root.stx_attributes & STATX_ATTR_MOUNT_ROOT));
	SHOW("the file is on that mount", "%d", root.stx_mnt_id == sx.stx_mnt_id);
	SHOW("the file is no mount root", "%d", !(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT));
	EXPECT_ERR("FORCE_SYNC with DONT_SYNC",
		   statx(AT_FDCWD, "f", AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &sx),
		   EINVAL);
	mkdir("d", 0755);
	symlink("f", "l");
	lstat("d", &st);
	SHOW("an empty directory's blocks", "%ld", (long)st.st_blocks);
	lstat("l", &st);
	SHOW("a symlink's blocks", "%ld", (long)st.st_blocks);

	close(fd);
	close(op);
	unlink("f");
	unlink("l");
	rmdir("d");
	chdir("/");
	rmdir(dir);
	return compat_done();
}
