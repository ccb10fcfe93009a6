/* The new mount API: fsopen/fsconfig/fsmount building a tmpfs that
 * move_mount attaches, open_tree with and without OPEN_TREE_CLONE,
 * mount_setattr changing a mount's flags, and each call's errors. Runs
 * in a private mount namespace on a scratch directory. */
#include "common.h"
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 1
#define FSMOUNT_CLOEXEC 1
#define FSCONFIG_SET_FLAG 0
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_SET_BINARY 2
#define FSCONFIG_SET_FD 5
#define FSCONFIG_CMD_CREATE 6
#define FSCONFIG_CMD_RECONFIGURE 7
#define MOVE_MOUNT_F_EMPTY_PATH 4
#define MOUNT_ATTR_RDONLY 1
#define MOUNT_ATTR_NOSUID 2
#define MOUNT_ATTR_NOEXEC 8
#define MOUNT_ATTR__ATIME 0x70
#define MOUNT_ATTR_NOATIME 0x10
#define OPEN_TREE_CLONE 1
#define AT_RECURSIVE 0x8000
#endif

struct attr {
	uint64_t set, clr, propagation, userns_fd;
};

static long fsopen_(const char *n, unsigned f) { return syscall(SYS_fsopen, n, f); }
static long fsconfig_(int fd, unsigned cmd, const char *k, const void *v, int aux)
{
	return syscall(SYS_fsconfig, fd, cmd, k, v, aux);
}
static long fsmount_(int fd, unsigned f, unsigned a) { return syscall(SYS_fsmount, fd, f, a); }
static long move_mount_(int fd, const char *fp, int tfd, const char *tp, unsigned f)
{
	return syscall(SYS_move_mount, fd, fp, tfd, tp, f);
}
static long open_tree_(int fd, const char *p, unsigned f) { return syscall(SYS_open_tree, fd, p, f); }
static long setattr_(int fd, const char *p, unsigned f, struct attr *a, size_t n)
{
	return syscall(SYS_mount_setattr, fd, p, f, a, n);
}

static char T[64];
static const char *P(const char *s)
{
	static char b[4][256];
	static int i;
	i = (i + 1) % 4;
	snprintf(b[i], sizeof b[i], "%s/%s", T, s);
	return b[i];
}

static unsigned long mflags(const char *p)
{
	struct statfs s;
	return statfs(p, &s) == 0 ? (unsigned long)s.f_flags & 0x40f : ~0UL;
}

int main(void)
{
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		printf("no private mount namespace\n");
		return 1;
	}
	strcpy(T, "/tmp/mapi.XXXXXX");
	if (!mkdtemp(T))
		return 1;
	mkdir(P("a"), 0755);
	mkdir(P("b"), 0755);
	mkdir(P("c"), 0755);

	/* fsopen's errors. */
	EXPECT_ERR("fsopen unknown type", fsopen_("nosuchfs", 0), ENODEV);
	EXPECT_ERR("fsopen bad flags", fsopen_("tmpfs", 2), EINVAL);
	EXPECT_ERR("fsopen bad name", fsopen_(BADPTR, 0), EFAULT);

	int fc = fsopen_("tmpfs", FSOPEN_CLOEXEC);
	CHECK("fsopen tmpfs", fc >= 0);
	CHECK("close-on-exec", fcntl(fc, F_GETFD) == FD_CLOEXEC);
	EXPECT_ERR("fsconfig on a non-context fd", fsconfig_(0, FSCONFIG_SET_FLAG, "ro", NULL, 0), EINVAL);
	EXPECT_ERR("fsconfig bad fd", fsconfig_(999, FSCONFIG_SET_FLAG, "ro", NULL, 0), EBADF);
	EXPECT_ERR("fsconfig unknown command", fsconfig_(fc, 99, NULL, NULL, 0), EOPNOTSUPP);
	EXPECT_ERR("SET_FLAG with a value", fsconfig_(fc, FSCONFIG_SET_FLAG, "ro", "x", 0), EINVAL);
	EXPECT_ERR("SET_STRING without one", fsconfig_(fc, FSCONFIG_SET_STRING, "mode", NULL, 0), EINVAL);
	EXPECT_ERR("CREATE with a key", fsconfig_(fc, FSCONFIG_CMD_CREATE, "x", NULL, 0), EINVAL);
	EXPECT_ERR("unknown tmpfs option", fsconfig_(fc, FSCONFIG_SET_STRING, "bogus", "1", 0), EINVAL);
	EXPECT_ERR("bad tmpfs mode", fsconfig_(fc, FSCONFIG_SET_STRING, "mode", "xyz", 0), EINVAL);
	EXPECT_ERR("SET_FD on tmpfs", fsconfig_(fc, FSCONFIG_SET_FD, "mode", NULL, 0), EINVAL);
	CHECK("set mode", fsconfig_(fc, FSCONFIG_SET_STRING, "mode", "0710", 0) == 0);
	CHECK("set source", fsconfig_(fc, FSCONFIG_SET_STRING, "source", "mytmp", 0) == 0);
	EXPECT_ERR("second source", fsconfig_(fc, FSCONFIG_SET_STRING, "source", "again", 0), EINVAL);
	EXPECT_ERR("fsmount before create", fsmount_(fc, 0, 0), EINVAL);
	EXPECT_ERR("RECONFIGURE a new context", fsconfig_(fc, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0), EBUSY);
	CHECK("create", fsconfig_(fc, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0);
	EXPECT_ERR("set after create", fsconfig_(fc, FSCONFIG_SET_STRING, "mode", "0700", 0), EBUSY);
	EXPECT_ERR("create twice", fsconfig_(fc, FSCONFIG_CMD_CREATE, NULL, NULL, 0), EBUSY);
	EXPECT_ERR("fsmount bad flags", fsmount_(fc, 2, 0), EINVAL);
	EXPECT_ERR("fsmount bad attr", fsmount_(fc, 0, 0x4000), EINVAL);
	int mfd = fsmount_(fc, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID);
	CHECK("fsmount", mfd >= 0);
	EXPECT_ERR("fsmount twice", fsmount_(fc, 0, 0), EBUSY);
	struct stat st;
	CHECK("the detached root", fstat(mfd, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0710);
	EXPECT_ERR("move_mount without EMPTY_PATH", move_mount_(mfd, "", AT_FDCWD, P("a"), 0), ENOENT);
	CHECK("move_mount attaches it", move_mount_(mfd, "", AT_FDCWD, P("a"), MOVE_MOUNT_F_EMPTY_PATH) == 0);
	CHECK("it is a tmpfs there", stat(P("a"), &st) == 0 && (st.st_mode & 07777) == 0710);
	SHOW("its flags", "%#lx", mflags(P("a")));
	CHECK("a file in it", close(open(P("a/f"), O_CREAT | O_RDWR, 0644)) == 0);
	CHECK("its fd moves it once attached", move_mount_(mfd, "", AT_FDCWD, P("b"), MOVE_MOUNT_F_EMPTY_PATH) == 0);
	CHECK("to b", access(P("b/f"), F_OK) == 0 && access(P("a/f"), F_OK) != 0);
	CHECK("move b -> a by path", move_mount_(AT_FDCWD, P("b"), AT_FDCWD, P("a"), 0) == 0);
	close(mfd);
	close(fc);

	/* move_mount of an attached mount moves it. */
	CHECK("move a -> b", move_mount_(AT_FDCWD, P("a"), AT_FDCWD, P("b"), 0) == 0);
	CHECK("the file moved", access(P("b/f"), F_OK) == 0 && access(P("a/f"), F_OK) != 0);
	EXPECT_ERR("move a non-mount", move_mount_(AT_FDCWD, P("a"), AT_FDCWD, P("c"), 0), EINVAL);
	EXPECT_ERR("move_mount bad flags", move_mount_(AT_FDCWD, P("b"), AT_FDCWD, P("a"), 0x8000), EINVAL);

	/* open_tree: a plain O_PATH fd, or a detached copy. */
	int pfd = open_tree_(AT_FDCWD, P("b"), 0);
	CHECK("open_tree", pfd >= 0 && (fcntl(pfd, F_GETFL) & O_PATH));
	char buf[8];
	EXPECT_ERR("it reads nothing", read(pfd, buf, 1), EBADF);
	close(pfd);
	EXPECT_ERR("open_tree AT_RECURSIVE without CLONE", open_tree_(AT_FDCWD, P("b"), AT_RECURSIVE), EINVAL);
	EXPECT_ERR("open_tree bad flags", open_tree_(AT_FDCWD, P("b"), 0x2), EINVAL);
	EXPECT_ERR("open_tree missing path", open_tree_(AT_FDCWD, P("nope"), OPEN_TREE_CLONE), ENOENT);
	int cfd = open_tree_(AT_FDCWD, P("b"), OPEN_TREE_CLONE | O_CLOEXEC);
	CHECK("open_tree clone", cfd >= 0);
	CHECK("attach the clone", move_mount_(cfd, "", AT_FDCWD, P("c"), MOVE_MOUNT_F_EMPTY_PATH) == 0);
	CHECK("the clone shows the file", access(P("c/f"), F_OK) == 0);
	CHECK("and shares the filesystem", close(open(P("c/g"), O_CREAT | O_RDWR, 0644)) == 0 &&
						   access(P("b/g"), F_OK) == 0);
	close(cfd);

	/* mount_setattr. */
	struct attr at = {.set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC};
	EXPECT_ERR("setattr small size", setattr_(AT_FDCWD, P("c"), 0, &at, 16), EINVAL);
	EXPECT_ERR("setattr bad flags", setattr_(AT_FDCWD, P("c"), 0x1, &at, sizeof at), EINVAL);
	struct attr bad = {.set = 0x4000};
	EXPECT_ERR("setattr unknown attr", setattr_(AT_FDCWD, P("c"), 0, &bad, sizeof bad), EINVAL);
	struct attr atime = {.set = MOUNT_ATTR_NOATIME};
	EXPECT_ERR("setattr atime without clearing", setattr_(AT_FDCWD, P("c"), 0, &atime, sizeof atime), EINVAL);
	struct attr prop = {.propagation = MS_SHARED | MS_SLAVE};
	EXPECT_ERR("setattr two propagations", setattr_(AT_FDCWD, P("c"), 0, &prop, sizeof prop), EINVAL);
	EXPECT_ERR("setattr on a non-mount", setattr_(AT_FDCWD, T, 0, &at, sizeof at), EINVAL);
	int w = open(P("c/g"), O_WRONLY);
	EXPECT_ERR("setattr ro with a writer", setattr_(AT_FDCWD, P("c"), 0, &at, sizeof at), EBUSY);
	close(w);
	CHECK("setattr ro,noexec", setattr_(AT_FDCWD, P("c"), 0, &at, sizeof at) == 0);
	SHOW("flags after", "%#lx", mflags(P("c")));
	EXPECT_ERR("now read-only", open(P("c/h"), O_CREAT | O_RDWR, 0644), EROFS);
	CHECK("the other mount is not", close(open(P("b/h"), O_CREAT | O_RDWR, 0644)) == 0);
	struct attr back = {.clr = MOUNT_ATTR_RDONLY, .set = MOUNT_ATTR_NOATIME};
	back.clr |= MOUNT_ATTR__ATIME;
	CHECK("setattr rw,noatime", setattr_(AT_FDCWD, P("c"), 0, &back, sizeof back) == 0);
	SHOW("flags then", "%#lx", mflags(P("c")));

	CHECK("umount c", umount(P("c")) == 0);
	CHECK("umount b", umount(P("b")) == 0);
	rmdir(P("a"));
	rmdir(P("b"));
	rmdir(P("c"));
	rmdir(T);
	return compat_done();
}
