/* open/openat/read/pread/readv/lseek, stat family, readlink, access on the
 * read-only host root. */
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

static unsigned long hash(const unsigned char *p, size_t n)
{
	unsigned long h = 5381;
	for (size_t i = 0; i < n; i++)
		h = h * 33 + p[i];
	return h;
}

static int same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_mode == b->st_mode &&
	       a->st_nlink == b->st_nlink && a->st_uid == b->st_uid && a->st_gid == b->st_gid &&
	       a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_blocks == b->st_blocks;
}

int main(void)
{
	const char *path = "/etc/passwd";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK("open_passwd", fd >= 0);
	struct stat st, st2, lst;
	CHECK("fstat", fstat(fd, &st) == 0);
	CHECK("stat", stat(path, &st2) == 0);
	CHECK("fstat_eq_stat", same_stat(&st, &st2));
	CHECK("is_regular", S_ISREG(st.st_mode));
	SHOW("passwd_mode", "%o", st.st_mode & 07777);
	CHECK("blksize_positive", st.st_blksize > 0);

	unsigned char *whole = malloc(st.st_size);
	CHECK("read_whole", read(fd, whole, st.st_size) == st.st_size);
	unsigned long h = hash(whole, st.st_size);
	char c;
	SHOW("read_at_eof", "%zd", read(fd, &c, 1));
	SHOW("lseek_cur_at_end_eq_size", "%d", lseek(fd, 0, SEEK_CUR) == st.st_size);
	SHOW("lseek_set_10", "%ld", (long)lseek(fd, 10, SEEK_SET));
	unsigned char b10[10];
	CHECK("read_after_seek", read(fd, b10, 10) == 10 && memcmp(b10, whole + 10, 10) == 0);
	SHOW("lseek_cur", "%ld", (long)lseek(fd, 0, SEEK_CUR));
	SHOW("lseek_end_minus5_ok", "%d", lseek(fd, -5, SEEK_END) == st.st_size - 5);
	SHOW("lseek_past_end_ok", "%d", lseek(fd, 1000000, SEEK_SET) == 1000000);
	SHOW("read_past_end", "%zd", read(fd, &c, 1));
	EXPECT_ERR("lseek_negative", lseek(fd, -1, SEEK_SET), EINVAL);
	EXPECT_ERR("lseek_bad_whence", lseek(fd, 0, 17), EINVAL);

	unsigned char pb[16];
	CHECK("pread", pread(fd, pb, 16, 5) == 16 && memcmp(pb, whole + 5, 16) == 0);
	SHOW("pread_keeps_offset", "%d", lseek(fd, 0, SEEK_CUR) == 1000000);
	EXPECT_ERR("pread_negative_off", pread(fd, pb, 16, -1), EINVAL);
	SHOW("pread_at_eof", "%zd", pread(fd, pb, 16, st.st_size));

	lseek(fd, 0, SEEK_SET);
	unsigned char v1[7], v2[13], v3[3];
	struct iovec iov[3] = {{v1, 7}, {v2, 13}, {v3, 3}};
	CHECK("readv", readv(fd, iov, 3) == 23);
	CHECK("readv_contents", memcmp(v1, whole, 7) == 0 && memcmp(v2, whole + 7, 13) == 0 &&
					memcmp(v3, whole + 20, 3) == 0);
	CHECK("preadv", preadv(fd, iov, 2, 100) == 20 && memcmp(v1, whole + 100, 7) == 0);
	EXPECT_ERR("readv_bad_iovcnt", syscall(SYS_readv, fd, iov, -1), EINVAL);
	EXPECT_ERR("readv_efault", readv(fd, BADPTR, 1), EFAULT);
	EXPECT_ERR("read_efault", read(fd, BADPTR, 10), EFAULT);
	SHOW("read_zero_len", "%zd", read(fd, NULL, 0));
	free(whole);

	/* Byte-by-byte read hashes the same. */
	lseek(fd, 0, SEEK_SET);
	unsigned char *again = malloc(st.st_size);
	off_t n = 0;
	while (n < st.st_size && read(fd, again + n, 1) == 1)
		n++;
	CHECK("bytewise_read_same", n == st.st_size && hash(again, n) == h);
	free(again);
	close(fd);

	/* openat relative to a directory fd. */
	int dfd = open("/etc", O_RDONLY | O_DIRECTORY);
	CHECK("open_dir", dfd >= 0);
	int fd2 = openat(dfd, "passwd", O_RDONLY);
	CHECK("openat_relative", fd2 >= 0);
	struct stat st3;
	fstat(fd2, &st3);
	CHECK("openat_same_file", same_stat(&st, &st3));
	close(fd2);
	CHECK("openat_absolute_ignores_dirfd", (fd2 = openat(999, "/etc/passwd", O_RDONLY)) >= 0);
	close(fd2);
	EXPECT_ERR("openat_badfd", openat(999, "passwd", O_RDONLY), EBADF);
	fd2 = open(path, O_RDONLY);
	EXPECT_ERR("openat_dirfd_not_dir", openat(fd2, "x", O_RDONLY), ENOTDIR);
	close(fd2);
	CHECK("fstatat", fstatat(dfd, "passwd", &st3, 0) == 0 && same_stat(&st, &st3));
	CHECK("newfstatat_empty_path", fstatat(dfd, "", &st3, AT_EMPTY_PATH) == 0 && S_ISDIR(st3.st_mode));
	EXPECT_ERR("fstatat_empty_no_flag", fstatat(dfd, "", &st3, 0), ENOENT);
	EXPECT_ERR("fstatat_bad_flags", fstatat(dfd, "passwd", &st3, 0x12345), EINVAL);

	/* statx. */
	struct statx sx;
	CHECK("statx", statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &sx) == 0);
	CHECK("statx_matches_stat", sx.stx_size == (unsigned long long)st.st_size && sx.stx_ino == st.st_ino &&
					    sx.stx_mode == st.st_mode && sx.stx_nlink == st.st_nlink);
	CHECK("statx_mask_basic", (sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS);
	EXPECT_ERR("statx_bad_flags", statx(AT_FDCWD, path, 0x40000000, STATX_BASIC_STATS, &sx), EINVAL);
	EXPECT_ERR("statx_enoent", statx(AT_FDCWD, "/nonexistent", 0, STATX_BASIC_STATS, &sx), ENOENT);

	/* Symlinks: /bin -> usr/bin on merged-/usr Debian; /etc/os-release -> ../usr/lib/os-release. */
	CHECK("lstat_bin", lstat("/bin", &lst) == 0);
	SHOW("bin_is_symlink", "%d", S_ISLNK(lst.st_mode));
	CHECK("stat_bin_is_dir", stat("/bin", &st2) == 0 && S_ISDIR(st2.st_mode));
	char lnk[256];
	ssize_t ln = readlink("/etc/os-release", lnk, sizeof(lnk) - 1);
	CHECK("readlink", ln > 0);
	if (ln > 0) {
		lnk[ln] = 0;
		printf("readlink_os_release %s\n", lnk);
	}
	CHECK("lstat_symlink_size", lstat("/etc/os-release", &lst) == 0 && S_ISLNK(lst.st_mode) &&
					    lst.st_size == ln);
	SHOW("readlink_truncates", "%zd", readlink("/etc/os-release", lnk, 3));
	EXPECT_ERR("readlink_not_link", readlink("/etc/passwd", lnk, sizeof(lnk)), EINVAL);
	EXPECT_ERR("readlink_enoent", readlink("/nonexistent", lnk, sizeof(lnk)), ENOENT);
	EXPECT_ERR("readlink_bad_size", syscall(SYS_readlink, "/etc/os-release", lnk, 0), EINVAL);
	CHECK("readlinkat", readlinkat(dfd, "os-release", lnk, sizeof(lnk)) == ln);
	int nofollow = open("/etc/os-release", O_RDONLY | O_NOFOLLOW);
	printf("open_nofollow_symlink errno=%s\n", nofollow < 0 ? ename(errno) : "none");
	int pathfd = open("/etc/os-release", O_PATH | O_NOFOLLOW);
	CHECK("open_opath_nofollow", pathfd >= 0);
	CHECK("fstat_opath_is_link", fstat(pathfd, &lst) == 0 && S_ISLNK(lst.st_mode));
	EXPECT_ERR("read_opath_ebadf", read(pathfd, lnk, 1), EBADF);
	close(pathfd);
	int osr = open("/etc/os-release", O_RDONLY);
	char line[128] = {0};
	read(osr, line, 20);
	close(osr);
	CHECK("open_follows_symlink", strncmp(line, "PRETTY_NAME=", 12) == 0 || strncmp(line, "NAME=", 5) == 0);

	/* access / faccessat. */
	CHECK("access_passwd_r", access(path, R_OK) == 0);
	CHECK("access_exists", access("/bin/sh", F_OK | X_OK) == 0);
	EXPECT_ERR("access_enoent", access("/nonexistent/file", F_OK), ENOENT);
	EXPECT_ERR("access_enotdir", access("/etc/passwd/x", F_OK), ENOTDIR);
	EXPECT_ERR("access_bad_mode", access(path, 0x100), EINVAL);
	CHECK("faccessat", faccessat(dfd, "passwd", R_OK, 0) == 0);
	CHECK("faccessat_eaccess", faccessat(dfd, "passwd", R_OK, AT_EACCESS) == 0);
	EXPECT_ERR("access_efault", access(BADPTR, F_OK), EFAULT);

	/* Open errors. */
	EXPECT_ERR("open_enoent", open("/nonexistent", O_RDONLY), ENOENT);
	EXPECT_ERR("open_enoent_deep", open("/etc/nonexistent/x", O_RDONLY), ENOENT);
	EXPECT_ERR("open_enotdir", open("/etc/passwd/x", O_RDONLY), ENOTDIR);
	EXPECT_ERR("open_o_directory_on_file", open(path, O_RDONLY | O_DIRECTORY), ENOTDIR);
	EXPECT_ERR("open_dir_for_write", open("/etc", O_WRONLY), EISDIR);
	EXPECT_ERR("open_efault", open(BADPTR, O_RDONLY), EFAULT);
	EXPECT_ERR("open_empty", open("", O_RDONLY), ENOENT);
	char longname[5000];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	EXPECT_ERR("open_enametoolong", open(longname, O_RDONLY), ENAMETOOLONG);
	EXPECT_ERR("stat_enoent", stat("/nonexistent", &st2), ENOENT);
	EXPECT_ERR("stat_efault_buf", stat(path, BADPTR), EFAULT);
	EXPECT_ERR("fstat_ebadf", fstat(999, &st2), EBADF);
	EXPECT_ERR("read_ebadf", read(999, &c, 1), EBADF);
	EXPECT_ERR("read_negative_fd", read(-1, &c, 1), EBADF);
	EXPECT_ERR("lseek_ebadf", lseek(999, 0, SEEK_SET), EBADF);
	EXPECT_ERR("read_directory", read(dfd, &c, 1), EISDIR);
	/* "..", "." and repeated slashes in paths. */
	CHECK("path_dotdot", stat("/etc/../etc/./passwd", &st2) == 0 && same_stat(&st, &st2));
	CHECK("path_slashes", stat("//etc///passwd", &st2) == 0 && same_stat(&st, &st2));
	CHECK("path_root_dotdot", stat("/../../etc/passwd", &st2) == 0 && same_stat(&st, &st2));
	EXPECT_ERR("path_trailing_slash_file", stat("/etc/passwd/", &st2), ENOTDIR);
	close(dfd);
	return compat_done();
}
