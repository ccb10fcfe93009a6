/* Mount visibility and dirfds across namespace changes: a mount on top
 * of another hides what was mounted beneath it (a tmpfs over a dir hides
 * the dir's submounts until it goes); a directory fd opened before
 * unshare(CLONE_NEWNS) and pivot_root still walks its own mount (what
 * bubblewrap does with its /proc fd); a new tmpfs belongs to the
 * mounter's fsuid and fsgid, and uid=/gid= options are checked. Run as
 * root. */
#include "common.h"
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static char dir[] = "/tmp/husk-mcover-XXXXXX";

static int exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

static void path(char *out, size_t n, const char *rel)
{
	snprintf(out, n, "%s/%s", dir, rel);
}

static int child(void)
{
	char a[256], b[256], f[256], old[256];
	compat_failures = 0;
	CHECK("unshare mount ns", unshare(CLONE_NEWNS) == 0);
	CHECK("make private", mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	path(a, sizeof a, "a");
	path(b, sizeof b, "a/b");
	path(f, sizeof f, "a/b/f");
	CHECK("mkdir a", mkdir(a, 0755) == 0);
	CHECK("tmpfs on a", mount("t1", a, "tmpfs", 0, NULL) == 0);
	CHECK("mkdir a/b", mkdir(b, 0755) == 0);
	CHECK("tmpfs on a/b", mount("t2", b, "tmpfs", 0, NULL) == 0);
	int fd = open(f, O_CREAT | O_WRONLY, 0644);
	CHECK("file in a/b", fd >= 0);
	close(fd);
	CHECK("tmpfs over a", mount("t3", a, "tmpfs", 0, NULL) == 0);
	CHECK("a/b hidden under the new tmpfs", !exists(b) && errno == ENOENT);
	CHECK("a/b can be made again", mkdir(b, 0700) == 0 && !exists(f));
	CHECK("umount the top", umount2(a, 0) == 0);
	CHECK("a/b/f back", exists(f));

	/* A dirfd from before the unshare and pivot_root. */
	int procfd = open("/proc", O_DIRECTORY | O_RDONLY);
	CHECK("open /proc", procfd >= 0);
	CHECK("umount a/b", umount2(b, 0) == 0);
	CHECK("umount a", umount2(a, 0) == 0);
	CHECK("unshare again", unshare(CLONE_NEWNS) == 0);
	CHECK("tmpfs root", mount("root", a, "tmpfs", 0, NULL) == 0);
	path(old, sizeof old, "a/old");
	CHECK("mkdir old", mkdir(old, 0755) == 0);
	CHECK("pivot_root", syscall(SYS_pivot_root, a, old) == 0);
	CHECK("chdir /", chdir("/") == 0);
	CHECK("/proc gone from the new root", !exists("/proc/self"));
	int st = openat(procfd, "self/status", O_RDONLY);
	CHECK("dirfd walks its mount after pivot_root", st >= 0);
	close(st);
	struct stat s1;
	CHECK("fstatat through it", fstatat(procfd, "self/stat", &s1, 0) == 0);
	CHECK("old root reachable", exists("/old/proc/self/status"));
	/* (Walking a dirfd of a detached mount is not modelled: the VFS
	 * walks paths of the caller's namespace.) */
	CHECK("detach the old root", umount2("/old", MNT_DETACH) == 0);

	/* A new tmpfs's root belongs to the mounter's fs ids. */
	CHECK("mkdir m", mkdir("/m", 0755) == 0);
	setfsgid(4321);
	setfsuid(1234);
	int r = mount("m", "/m", "tmpfs", 0, "mode=700");
	setfsuid(0);
	setfsgid(0);
	CHECK("tmpfs as fsuid 1234", r == 0);
	CHECK("its root is 1234:4321", stat("/m", &s1) == 0 && s1.st_uid == 1234 && s1.st_gid == 4321 &&
					     (s1.st_mode & 07777) == 0700);
	CHECK("uid= and gid= options", mount("n", "/m", "tmpfs", 0, "uid=7,gid=8") == 0 &&
					       stat("/m", &s1) == 0 && s1.st_uid == 7 && s1.st_gid == 8);
	EXPECT_ERR("a bad uid=", mount("n", "/m", "tmpfs", 0, "uid=x"), EINVAL);
	return compat_failures;
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	pid_t p = fork();
	if (p == 0)
		_exit(child());
	int status = 0;
	waitpid(p, &status, 0);
	int fails = WIFEXITED(status) ? WEXITSTATUS(status) : 100;
	char a[256];
	path(a, sizeof a, "a/b");
	rmdir(a);
	path(a, sizeof a, "a");
	rmdir(a);
	rmdir(dir);
	return fails + compat_failures;
}
