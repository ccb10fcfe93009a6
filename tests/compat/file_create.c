/* Creating and naming files, on the directory given (tmpfs or the
 * overlay): O_CREAT|O_EXCL on a dangling symlink, O_TMPFILE and linkat
 * of an open file (AT_EMPTY_PATH, /proc/self/fd), RENAME_EXCHANGE of
 * directories (link counts, non-empty ones), RENAME_WHITEOUT,
 * RENAME_NOREPLACE onto itself, fsync of a directory, getdents64's
 * count, device nodes made by mknod, and RLIMIT_FSIZE. */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

static volatile int xfsz;
static void on_xfsz(int s)
{
	(void)s;
	xfsz++;
}

static long nlink_of(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? (long)st.st_nlink : -1;
}

static void excl(void)
{
	symlink("target", "dangle");
	EXPECT_ERR("O_EXCL on a dangling symlink", open("dangle", O_CREAT | O_EXCL | O_WRONLY, 0644),
		   EEXIST);
	EXPECT_ERR("its target was not made", access("target", F_OK), ENOENT);
	int fd = open("dangle", O_CREAT | O_WRONLY, 0644);
	CHECK("O_CREAT alone follows it", fd >= 0 && access("target", F_OK) == 0);
	close(fd);
}

static void unnamed(void)
{
	char buf[16] = {0}, link[256], want[64];
	int fd = open(".", O_TMPFILE | O_RDWR, 0600);
	CHECK("O_TMPFILE", fd >= 0);
	CHECK("write it", write(fd, "hello", 5) == 5);
	struct stat st;
	CHECK("it has no links", fstat(fd, &st) == 0 && st.st_nlink == 0 && S_ISREG(st.st_mode));
	SHOW("its mode", "%o", st.st_mode & 0777);
	snprintf(want, sizeof want, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(want, link, sizeof link - 1);
	link[n > 0 ? n : 0] = 0;
	CHECK("its fd link is deleted", n > 10 && strstr(link, "/#") && strstr(link, " (deleted)"));
	CHECK("linkat AT_EMPTY_PATH", linkat(fd, "", AT_FDCWD, "named", AT_EMPTY_PATH) == 0);
	CHECK("one link now", fstat(fd, &st) == 0 && st.st_nlink == 1);
	int r = open("named", O_RDONLY);
	CHECK("the name has the data", r >= 0 && read(r, buf, sizeof buf) == 5 && !strcmp(buf, "hello"));
	close(r);
	EXPECT_ERR("linkat onto a name", linkat(fd, "", AT_FDCWD, "named", AT_EMPTY_PATH), EEXIST);
	CHECK("linkat of /proc/self/fd", linkat(AT_FDCWD, want, AT_FDCWD, "again", AT_SYMLINK_FOLLOW) == 0);
	SHOW("links", "%ld", nlink_of("named"));
	close(fd);

	int x = open(".", O_TMPFILE | O_WRONLY | O_EXCL, 0600);
	CHECK("O_TMPFILE|O_EXCL", x >= 0);
	EXPECT_ERR("it may not be linked", linkat(x, "", AT_FDCWD, "never", AT_EMPTY_PATH), ENOENT);
	close(x);
	EXPECT_ERR("O_TMPFILE read-only", open(".", O_TMPFILE | O_RDONLY, 0600), EINVAL);
	EXPECT_ERR("O_TMPFILE on a file", open("named", O_TMPFILE | O_RDWR, 0600), ENOTDIR);
	EXPECT_ERR("O_TMPFILE with O_CREAT", open(".", O_TMPFILE | O_CREAT | O_RDWR, 0600), EINVAL);

	/* A removed file stays removed; a directory is never linked. */
	int g = open("gone", O_CREAT | O_RDWR, 0644);
	unlink("gone");
	EXPECT_ERR("linkat of a removed file", linkat(g, "", AT_FDCWD, "back", AT_EMPTY_PATH), ENOENT);
	close(g);
	int d = open(".", O_RDONLY | O_DIRECTORY);
	EXPECT_ERR("linkat of a directory", linkat(d, "", AT_FDCWD, "dirlink", AT_EMPTY_PATH), EPERM);
	close(d);
	int p = open("named", O_PATH);
	CHECK("linkat of an O_PATH fd", linkat(p, "", AT_FDCWD, "bypath", AT_EMPTY_PATH) == 0);
	close(p);
	SHOW("links at the end", "%ld", nlink_of("named"));
}

static void exchange(void)
{
	mkdir("p1", 0755);
	mkdir("p2", 0755);
	for (int i = 0; i < 3; i++) {
		mkdir("p1/dd", 0755);
		close(open("p2/ff", O_CREAT | O_WRONLY, 0644));
		CHECK("exchange a directory and a file",
		      syscall(SYS_renameat2, AT_FDCWD, "p1/dd", AT_FDCWD, "p2/ff", RENAME_EXCHANGE) == 0);
		printf("p1 %ld p2 %ld\n", nlink_of("p1"), nlink_of("p2"));
		CHECK("the directory moved", rmdir("p2/ff") == 0 && unlink("p1/dd") == 0);
	}
	printf("after: p1 %ld p2 %ld\n", nlink_of("p1"), nlink_of("p2"));
	mkdir("d1", 0755);
	mkdir("d2", 0755);
	close(open("d2/x", O_CREAT | O_WRONLY, 0644));
	close(open("f", O_CREAT | O_WRONLY, 0644));
	CHECK("exchange with a non-empty directory",
	      syscall(SYS_renameat2, AT_FDCWD, "d1", AT_FDCWD, "d2", RENAME_EXCHANGE) == 0);
	CHECK("its entry moved", access("d1/x", F_OK) == 0);
	CHECK("exchange a file and a directory",
	      syscall(SYS_renameat2, AT_FDCWD, "f", AT_FDCWD, "d1", RENAME_EXCHANGE) == 0);
	struct stat st;
	CHECK("f is the directory now", stat("f/x", &st) == 0);
	EXPECT_ERR("exchange into its own subdirectory",
		   syscall(SYS_renameat2, AT_FDCWD, "f/x", AT_FDCWD, "f", RENAME_EXCHANGE), EINVAL);
	EXPECT_ERR("noreplace onto itself",
		   syscall(SYS_renameat2, AT_FDCWD, "d2", AT_FDCWD, "d2", RENAME_NOREPLACE), EEXIST);
	EXPECT_ERR("whiteout with exchange",
		   syscall(SYS_renameat2, AT_FDCWD, "d2", AT_FDCWD, "none", RENAME_WHITEOUT | RENAME_EXCHANGE),
		   EINVAL);
	close(open("w", O_CREAT | O_WRONLY, 0644));
	CHECK("rename with a whiteout",
	      syscall(SYS_renameat2, AT_FDCWD, "w", AT_FDCWD, "w2", RENAME_WHITEOUT) == 0);
	CHECK("the whiteout is a 0:0 device",
	      lstat("w", &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == 0);
	CHECK("the file moved", access("w2", F_OK) == 0);
}

static void dirs(void)
{
	int d = open(".", O_RDONLY | O_DIRECTORY);
	CHECK("fsync of a directory", fsync(d) == 0);
	CHECK("fdatasync of a directory", fdatasync(d) == 0);
	char buf[4096];
	EXPECT_ERR("getdents64 count past INT_MAX", syscall(SYS_getdents64, d, buf, 0x80000000UL), EINVAL);
	EXPECT_ERR("getdents64 count -1", syscall(SYS_getdents64, d, buf, 0xffffffffUL), EINVAL);
	CHECK("getdents64 a count in the low 32 bits", syscall(SYS_getdents64, d, buf, 0x100000000UL | sizeof buf) > 0);
	close(d);
	int r = open("/usr", O_RDONLY | O_DIRECTORY);
	CHECK("fsync of a directory of the root", fsync(r) == 0);
	close(r);
}

static void devices(void)
{
	/* The directory may be mounted nodev (a container's /dev/shm). */
	CHECK("mknod null", mknod("null", S_IFCHR | 0666, makedev(1, 3)) == 0);
	CHECK("mknod zero", mknod("zero", S_IFCHR | 0666, makedev(1, 5)) == 0);
	CHECK("mknod nothing", mknod("nothing", S_IFCHR | 0666, makedev(250, 9)) == 0);
	int fd = open("null", O_RDWR);
	if (fd < 0 && errno == EACCES) {
		printf("nodev\n");
		return;
	}
	char b[4] = {1, 1, 1, 1};
	CHECK("null opens", fd >= 0 && write(fd, "x", 1) == 1 && read(fd, b, 4) == 0);
	close(fd);
	fd = open("zero", O_RDONLY);
	CHECK("zero reads zeros", fd >= 0 && read(fd, b, 4) == 4 && b[0] == 0 && b[3] == 0);
	close(fd);
	EXPECT_ERR("a device without a driver", open("nothing", O_RDONLY), ENXIO);
}

static void fsize(void)
{
	signal(SIGXFSZ, on_xfsz);
	struct rlimit rl = {10000, RLIM_INFINITY};
	setrlimit(RLIMIT_FSIZE, &rl);
	int fd = open("big", O_CREAT | O_RDWR | O_TRUNC, 0644);
	char buf[100] = {0};
	EXPECT_ERR("ftruncate past the limit", ftruncate(fd, 20000), EFBIG);
	SHOW("SIGXFSZ", "%d", xfsz);
	SHOW("a write across the limit", "%ld", (long)pwrite(fd, buf, 100, 9950));
	EXPECT_ERR("a write at the limit", pwrite(fd, buf, 100, 10000), EFBIG);
	SHOW("SIGXFSZ", "%d", xfsz);
	CHECK("shrinking is fine", ftruncate(fd, 100) == 0);
	EXPECT_ERR("truncate past the limit", truncate("big", 10001), EFBIG);
	EXPECT_ERR("fallocate past the limit", fallocate(fd, 0, 9000, 2000), EFBIG);
	SHOW("SIGXFSZ", "%d", xfsz);
	lseek(fd, 9990, SEEK_SET);
	SHOW("write(2) at the position", "%ld", (long)write(fd, buf, 100));
	close(fd);
	rl.rlim_cur = RLIM_INFINITY;
	setrlimit(RLIMIT_FSIZE, &rl);
}

int main(int argc, char **argv)
{
	char dir[256];
	snprintf(dir, sizeof dir, "%s/filecreateXXXXXX", argc > 1 ? argv[1] : "/tmp");
	if (!mkdtemp(dir) || chdir(dir) != 0) {
		perror("mkdtemp");
		return 1;
	}
	umask(022);
	excl();
	unnamed();
	exchange();
	dirs();
	devices();
	fsize();
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("cleanup failed\n");
	return compat_done();
}
