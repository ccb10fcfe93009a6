/* openat2(2) and struct open_how: RESOLVE_BENEATH, RESOLVE_IN_ROOT,
 * RESOLVE_NO_SYMLINKS, RESOLVE_NO_MAGICLINKS and RESOLVE_NO_XDEV against a
 * small tree of files and symlinks, O_CREAT with a mode, and the stricter
 * argument checking (unknown flags and resolve bits, mode without O_CREAT,
 * struct sizes, bad pointers). Results are shown as file types and
 * contents, never descriptor numbers. */
#include "common.h"
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static char dir[] = "/tmp/husk-openat2-XXXXXX";
static int dfd;

static long openat2(int at, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve)
{
	struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
	return syscall(SYS_openat2, at, path, &how, sizeof how);
}

static const char *ftype(mode_t m)
{
	return S_ISREG(m) ? "file" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "symlink" : "other";
}

/* Opens and prints what was reached: its type and, for a regular file
 * opened for reading, its content. Closes the descriptor. */
static void show_open(const char *name, int at, const char *path, uint64_t flags,
		      uint64_t resolve)
{
	errno = 0;
	long fd = openat2(at, path, flags, 0, resolve);
	if (fd < 0) {
		printf("%s FAIL errno=%s\n", name, ename(errno));
		compat_failures++;
		return;
	}
	struct stat st;
	fstat(fd, &st);
	printf("%s %s", name, ftype(st.st_mode));
	if (S_ISREG(st.st_mode) && !(flags & O_PATH)) {
		char b[32];
		ssize_t n = read(fd, b, sizeof b - 1);
		b[n < 0 ? 0 : n] = 0;
		printf(" \"%s\"", b);
	}
	printf("\n");
	close(fd);
}

#define EXPECT_OPEN_ERR(name, at, path, flags, resolve, err)                    \
	EXPECT_ERR(name, openat2(at, path, flags, 0, resolve), err)

static int mk(const char *rel, const char *text)
{
	int fd = openat(dfd, rel, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return -1;
	int ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok ? 0 : -1;
}

int main(void)
{
	CHECK("mkdtemp", mkdtemp(dir) != NULL);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK("open_dir", dfd >= 0);
	CHECK("tree", mkdirat(dfd, "sub", 0755) == 0 && mk("sub/file", "inside") == 0 &&
			      mk("top", "top file") == 0 &&
			      symlinkat("/etc", dfd, "link_abs") == 0 &&
			      symlinkat("sub", dfd, "link_rel") == 0 &&
			      symlinkat("../..", dfd, "link_up") == 0 &&
			      symlinkat("loop", dfd, "sub/loop") == 0 &&
			      symlinkat("/top", dfd, "link_slash_top") == 0);

	/* Plain openat2 behaves like openat. */
	show_open("plain", dfd, "sub/file", O_RDONLY, 0);
	show_open("plain_via_link", dfd, "link_rel/file", O_RDONLY, 0);
	show_open("plain_dir", dfd, "sub", O_RDONLY | O_DIRECTORY, 0);
	show_open("plain_abs", AT_FDCWD, "/etc", O_RDONLY | O_DIRECTORY, 0);
	show_open("plain_o_path_nofollow", dfd, "link_rel", O_PATH | O_NOFOLLOW, 0);
	EXPECT_OPEN_ERR("plain_loop", dfd, "sub/loop", O_RDONLY, 0, ELOOP);
	EXPECT_OPEN_ERR("plain_missing", dfd, "nope", O_RDONLY, 0, ENOENT);
	EXPECT_OPEN_ERR("plain_bad_dirfd", 999, "sub/file", O_RDONLY, 0, EBADF);
	int filefd = openat(dfd, "top", O_RDONLY);
	EXPECT_OPEN_ERR("plain_dirfd_not_dir", filefd, "x", O_RDONLY, 0, ENOTDIR);

	/* RESOLVE_BENEATH */
	show_open("beneath_file", dfd, "sub/file", O_RDONLY, RESOLVE_BENEATH);
	show_open("beneath_dot", dfd, ".", O_RDONLY | O_DIRECTORY, RESOLVE_BENEATH);
	show_open("beneath_dotdot_inside", dfd, "sub/../sub/file", O_RDONLY, RESOLVE_BENEATH);
	show_open("beneath_rel_link", dfd, "link_rel/file", O_RDONLY, RESOLVE_BENEATH);
	EXPECT_OPEN_ERR("beneath_dotdot", dfd, "../x", O_RDONLY, RESOLVE_BENEATH, EXDEV);
	EXPECT_OPEN_ERR("beneath_dotdot_dir", dfd, "..", O_RDONLY, RESOLVE_BENEATH, EXDEV);
	EXPECT_OPEN_ERR("beneath_absolute", dfd, "/etc", O_RDONLY, RESOLVE_BENEATH, EXDEV);
	EXPECT_OPEN_ERR("beneath_link_abs", dfd, "link_abs", O_RDONLY, RESOLVE_BENEATH, EXDEV);
	EXPECT_OPEN_ERR("beneath_link_up", dfd, "link_up", O_RDONLY, RESOLVE_BENEATH, EXDEV);
	EXPECT_OPEN_ERR("beneath_link_slash", dfd, "link_slash_top", O_RDONLY, RESOLVE_BENEATH,
			EXDEV);
	EXPECT_OPEN_ERR("beneath_missing", dfd, "sub/nope", O_RDONLY, RESOLVE_BENEATH, ENOENT);
	int subfd = openat(dfd, "sub", O_PATH | O_DIRECTORY);
	EXPECT_OPEN_ERR("beneath_from_sub_up", subfd, "../top", O_RDONLY, RESOLVE_BENEATH, EXDEV);

	/* RESOLVE_IN_ROOT: "/" and ".." stay inside the directory. */
	show_open("in_root_abs", dfd, "/sub/file", O_RDONLY, RESOLVE_IN_ROOT);
	show_open("in_root_dotdot", dfd, "../../sub/file", O_RDONLY, RESOLVE_IN_ROOT);
	show_open("in_root_root", dfd, "/", O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT);
	show_open("in_root_link_up", dfd, "link_up/top", O_RDONLY, RESOLVE_IN_ROOT);
	show_open("in_root_link_slash", dfd, "link_slash_top", O_RDONLY, RESOLVE_IN_ROOT);
	show_open("in_root_from_sub", subfd, "/file", O_RDONLY, RESOLVE_IN_ROOT);
	show_open("in_root_from_sub_dotdot", subfd, "../file", O_RDONLY, RESOLVE_IN_ROOT);
	EXPECT_OPEN_ERR("in_root_from_sub_top", subfd, "/top", O_RDONLY, RESOLVE_IN_ROOT, ENOENT);
	EXPECT_OPEN_ERR("in_root_link_abs", dfd, "link_abs", O_RDONLY, RESOLVE_IN_ROOT, ENOENT);
	EXPECT_OPEN_ERR("in_root_etc", dfd, "/etc/passwd", O_RDONLY, RESOLVE_IN_ROOT, ENOENT);
	EXPECT_OPEN_ERR("beneath_and_in_root", dfd, "sub/file", O_RDONLY,
			RESOLVE_BENEATH | RESOLVE_IN_ROOT, EINVAL);

	/* RESOLVE_NO_SYMLINKS */
	show_open("nosym_file", dfd, "sub/file", O_RDONLY, RESOLVE_NO_SYMLINKS);
	EXPECT_OPEN_ERR("nosym_through_link", dfd, "link_rel/file", O_RDONLY, RESOLVE_NO_SYMLINKS,
			ELOOP);
	EXPECT_OPEN_ERR("nosym_final_link", dfd, "link_rel", O_RDONLY, RESOLVE_NO_SYMLINKS, ELOOP);
	EXPECT_OPEN_ERR("nosym_final_link_nofollow", dfd, "link_rel", O_RDONLY | O_NOFOLLOW,
			RESOLVE_NO_SYMLINKS, ELOOP);
	show_open("nosym_o_path_nofollow", dfd, "link_rel", O_PATH | O_NOFOLLOW,
		  RESOLVE_NO_SYMLINKS);
	EXPECT_OPEN_ERR("nosym_o_path_follow", dfd, "link_rel", O_PATH, RESOLVE_NO_SYMLINKS, ELOOP);

	/* RESOLVE_NO_MAGICLINKS */
	char magic[64];
	snprintf(magic, sizeof magic, "/proc/self/fd/%d", filefd);
	show_open("magic_plain", AT_FDCWD, magic, O_RDONLY, 0);
	EXPECT_OPEN_ERR("magic_blocked", AT_FDCWD, magic, O_RDONLY, RESOLVE_NO_MAGICLINKS, ELOOP);
	EXPECT_OPEN_ERR("magic_blocked_by_nosym", AT_FDCWD, magic, O_RDONLY, RESOLVE_NO_SYMLINKS,
			ELOOP);
	show_open("magic_o_path_nofollow", AT_FDCWD, magic, O_PATH | O_NOFOLLOW,
		  RESOLVE_NO_MAGICLINKS);
	show_open("magic_ordinary_link_ok", dfd, "link_rel/file", O_RDONLY, RESOLVE_NO_MAGICLINKS);

	/* RESOLVE_NO_XDEV */
	int root = open("/", O_PATH | O_DIRECTORY);
	EXPECT_OPEN_ERR("noxdev_proc_self", root, "proc/self", O_PATH, RESOLVE_NO_XDEV, EXDEV);
	EXPECT_OPEN_ERR("noxdev_proc", root, "proc", O_PATH, RESOLVE_NO_XDEV, EXDEV);
	show_open("noxdev_etc", root, "etc", O_RDONLY | O_DIRECTORY, RESOLVE_NO_XDEV);
	int proc = open("/proc", O_PATH | O_DIRECTORY);
	EXPECT_OPEN_ERR("noxdev_dotdot_out_of_mount", proc, "..", O_PATH, RESOLVE_NO_XDEV, EXDEV);
	close(proc);
	close(root);
	show_open("noxdev_inside", dfd, "sub/file", O_RDONLY, RESOLVE_NO_XDEV);

	/* RESOLVE_CACHED never tries to create or truncate. */
	EXPECT_OPEN_ERR("cached_creat", dfd, "c", O_RDWR | O_CREAT, RESOLVE_CACHED, EAGAIN);
	EXPECT_OPEN_ERR("cached_trunc", dfd, "top", O_RDWR | O_TRUNC, RESOLVE_CACHED, EAGAIN);

	/* O_CREAT takes its mode from the struct. */
	umask(022);
	long cfd = openat2(dfd, "created", O_WRONLY | O_CREAT | O_EXCL, 0666, 0);
	CHECK("creat", cfd >= 0);
	struct stat st;
	CHECK("creat_fstat", fstat(cfd, &st) == 0 && S_ISREG(st.st_mode));
	SHOW("creat_mode", "%o", st.st_mode & 0777);
	close(cfd);
	EXPECT_ERR("creat_excl_exists", openat2(dfd, "created", O_WRONLY | O_CREAT | O_EXCL, 0600, 0),
		   EEXIST);
	cfd = openat2(dfd, "created2", O_WRONLY | O_CREAT, 0, RESOLVE_BENEATH);
	CHECK("creat_beneath_mode0", cfd >= 0 && fstat(cfd, &st) == 0);
	SHOW("creat_mode0", "%o", st.st_mode & 0777);
	close(cfd);
	EXPECT_ERR("creat_escape", openat2(dfd, "../husk-openat2-escape", O_WRONLY | O_CREAT, 0600,
					   RESOLVE_BENEATH),
		   EXDEV);

	/* Argument checking. */
	EXPECT_ERR("unknown_resolve_bit", openat2(dfd, "top", O_RDONLY, 0, 0x80), EINVAL);
	EXPECT_ERR("unknown_flag_bit", openat2(dfd, "top", O_RDONLY | (1ULL << 40), 0, 0), EINVAL);
	EXPECT_ERR("mode_without_creat", openat2(dfd, "top", O_RDONLY, 0644, 0), EINVAL);
	EXPECT_ERR("mode_bad_bits", openat2(dfd, "m", O_WRONLY | O_CREAT, 010000, 0), EINVAL);
	EXPECT_ERR("o_path_with_rdwr", openat2(dfd, "top", O_PATH | O_RDWR, 0, 0), EINVAL);
	struct {
		struct open_how how;
		uint64_t extra;
	} big = {{O_RDONLY, 0, 0}, 0};
	long fd = syscall(SYS_openat2, dfd, "top", &big, sizeof big);
	CHECK("size_bigger_zero_tail", fd >= 0);
	close(fd);
	big.extra = 1;
	EXPECT_ERR("size_bigger_nonzero_tail", syscall(SYS_openat2, dfd, "top", &big, sizeof big),
		   E2BIG);
	EXPECT_ERR("size_small", syscall(SYS_openat2, dfd, "top", &big.how, 16), EINVAL);
	EXPECT_ERR("size_zero", syscall(SYS_openat2, dfd, "top", &big.how, 0), EINVAL);
	EXPECT_ERR("size_over_page", syscall(SYS_openat2, dfd, "top", &big.how, 8192), E2BIG);
	EXPECT_ERR("efault_how", syscall(SYS_openat2, dfd, "top", BADPTR, 24), EFAULT);
	struct open_how h = {O_RDONLY, 0, 0};
	EXPECT_ERR("efault_path", syscall(SYS_openat2, dfd, BADPTR, &h, sizeof h), EFAULT);

	close(filefd);
	close(subfd);
	close(dfd);
	char p[96];
	static const char *files[] = {"sub/file", "sub/loop", "top", "link_abs", "link_rel",
				      "link_up", "link_slash_top", "created", "created2"};
	int bad = 0;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, files[i]);
		bad += unlink(p) != 0;
	}
	snprintf(p, sizeof p, "%s/sub", dir);
	CHECK("cleanup", bad == 0 && rmdir(p) == 0 && rmdir(dir) == 0);
	return compat_done();
}
