/* getdents64, getcwd/chdir/fchdir, O_DIRECTORY, directory errors. */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

struct linux_dirent64 {
	unsigned long long d_ino;
	long long d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Lists a directory with raw getdents64 and a small buffer; returns count. */
static int list_dir(const char *path, char **names, int max, int *types_ok)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	char buf[512];
	int n = 0;
	*types_ok = 1;
	for (;;) {
		long r = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		if (r <= 0)
			break;
		for (long off = 0; off < r;) {
			struct linux_dirent64 *d = (void *)(buf + off);
			if (n < max)
				names[n++] = strdup(d->d_name);
			struct stat st;
			if (d->d_type != DT_UNKNOWN && fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				int t = IFTODT(st.st_mode);
				if (t != d->d_type)
					*types_ok = 0;
			}
			off += d->d_reclen;
		}
	}
	close(fd);
	qsort(names, n, sizeof(char *), cmp);
	return n;
}

int main(void)
{
	char *names[4096];
	int types_ok;
	int n = list_dir("/etc", names, 4096, &types_ok);
	CHECK("getdents64_etc", n > 2);
	CHECK("getdents64_dtype_matches_lstat", types_ok);
	int dot = 0, dotdot = 0, passwd = 0;
	unsigned long h = 5381;
	for (int i = 0; i < n; i++) {
		dot += strcmp(names[i], ".") == 0;
		dotdot += strcmp(names[i], "..") == 0;
		passwd += strcmp(names[i], "passwd") == 0;
		for (const char *p = names[i]; *p; p++)
			h = h * 33 + (unsigned char)*p;
		h = h * 33 + '\n';
	}
	printf("etc_entries has_dot=%d has_dotdot=%d has_passwd=%d\n", dot, dotdot, passwd);
	SHOW("etc_entry_count", "%d", n);
	SHOW("etc_names_hash", "%lx", h);
	for (int i = 0; i < n && i < 15; i++)
		printf("etc_entry %s\n", names[i]);

	/* readdir via libc agrees. */
	DIR *d = opendir("/usr/lib");
	int m = 0;
	while (readdir(d))
		m++;
	closedir(d);
	char *unames[4096];
	CHECK("readdir_count_matches_getdents", list_dir("/usr/lib", unames, 4096, &types_ok) == m);

	/* getdents errors. */
	char buf[64];
	int fd = open("/etc/passwd", O_RDONLY);
	EXPECT_ERR("getdents_on_file", syscall(SYS_getdents64, fd, buf, sizeof(buf)), ENOTDIR);
	close(fd);
	EXPECT_ERR("getdents_ebadf", syscall(SYS_getdents64, 999, buf, sizeof(buf)), EBADF);
	int dfd = open("/etc", O_RDONLY | O_DIRECTORY);
	EXPECT_ERR("getdents_buf_too_small", syscall(SYS_getdents64, dfd, buf, 8), EINVAL);
	EXPECT_ERR("getdents_efault", syscall(SYS_getdents64, dfd, BADPTR, 4096), EFAULT);
	/* Rewind with lseek and read again. */
	char big[32768];
	long a = syscall(SYS_getdents64, dfd, big, sizeof(big));
	lseek(dfd, 0, SEEK_SET);
	long b = syscall(SYS_getdents64, dfd, big, sizeof(big));
	CHECK("getdents_rewind_same_size", a > 0 && a == b);

	/* getcwd / chdir / fchdir. */
	char cwd[4096];
	CHECK("chdir_etc", chdir("/etc") == 0);
	CHECK("getcwd_etc", getcwd(cwd, sizeof(cwd)) && strcmp(cwd, "/etc") == 0);
	CHECK("relative_open_after_chdir", access("passwd", R_OK) == 0);
	CHECK("chdir_dotdot", chdir("..") == 0 && getcwd(cwd, sizeof(cwd)) && strcmp(cwd, "/") == 0);
	CHECK("chdir_symlink", chdir("/bin") == 0 && getcwd(cwd, sizeof(cwd)));
	printf("getcwd_after_symlink %s\n", cwd);
	CHECK("fchdir", fchdir(dfd) == 0 && getcwd(cwd, sizeof(cwd)) && strcmp(cwd, "/etc") == 0);
	EXPECT_ERR("getcwd_erange", syscall(SYS_getcwd, cwd, 2), ERANGE);
	EXPECT_ERR("getcwd_efault", syscall(SYS_getcwd, BADPTR, 100), EFAULT);
	EXPECT_ERR("chdir_enoent", chdir("/nonexistent"), ENOENT);
	EXPECT_ERR("chdir_enotdir", chdir("/etc/passwd"), ENOTDIR);
	fd = open("/etc/passwd", O_RDONLY);
	EXPECT_ERR("fchdir_file", fchdir(fd), ENOTDIR);
	close(fd);
	EXPECT_ERR("fchdir_ebadf", fchdir(999), EBADF);
	chdir("/");

	/* O_DIRECTORY / directory semantics. */
	CHECK("open_o_directory", (fd = open("/usr", O_RDONLY | O_DIRECTORY)) >= 0);
	struct stat st;
	CHECK("fstat_dir", fstat(fd, &st) == 0 && S_ISDIR(st.st_mode));
	close(fd);
	EXPECT_ERR("o_directory_enotdir", open("/etc/passwd", O_RDONLY | O_DIRECTORY), ENOTDIR);
	CHECK("open_dir_trailing_slash", (fd = open("/etc/", O_RDONLY)) >= 0);
	close(fd);
	CHECK("opendir_root_nlink", stat("/", &st) == 0 && st.st_nlink >= 2);
	CHECK("root_dotdot_is_root", stat("/..", &st) == 0);
	struct stat r2;
	stat("/", &r2);
	CHECK("root_dotdot_same_inode", st.st_ino == r2.st_ino);
	close(dfd);
	return compat_done();
}
