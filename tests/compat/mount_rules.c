/* mount(2), umount2(2) and chroot(2) rules: what keeps a mount busy (an
 * open file, a file open for writing against a read-only remount),
 * MNT_EXPIRE's two steps, the errnos of bad bind/move/propagation/type
 * requests, what a read-only or noexec mount still allows, the flags
 * statfs and mountinfo report, and chroot's permission order. Runs in a
 * private mount namespace on a scratch directory. */
#include "common.h"
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>

static char T[64];

static const char *P(const char *s)
{
	static char b[4][256];
	static int i;
	i = (i + 1) % 4;
	snprintf(b[i], sizeof b[i], "%s/%s", T, s);
	return b[i];
}

/* The mount options of the line for `dir` in mountinfo, or "none". */
static void show_opts(const char *name, const char *dir)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char l[1024], want[300], out[256] = "none";
	snprintf(want, sizeof want, " %s ", dir);
	while (f && fgets(l, sizeof l, f)) {
		char *p = strstr(l, want);
		if (!p)
			continue;
		p += strlen(want);
		char *end = strchr(p, ' ');
		if (end)
			*end = 0;
		snprintf(out, sizeof out, "%s", p);
	}
	if (f)
		fclose(f);
	printf("%s %s\n", name, out);
}

int main(void)
{
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		printf("no private mount namespace\n");
		return 1;
	}
	strcpy(T, "/tmp/mrules.XXXXXX");
	if (!mkdtemp(T)) {
		printf("mkdtemp failed\n");
		return 1;
	}
	mkdir(P("d"), 0777);
	mkdir(P("e"), 0777);
	CHECK("mount tmpfs", mount("", P("d"), "tmpfs", 0, "") == 0);

	/* Busy: an open file; MNT_FORCE does not change that. */
	int fd = open(P("d/f"), O_CREAT | O_RDWR, 0644);
	EXPECT_ERR("umount with an open file", umount(P("d")), EBUSY);
	EXPECT_ERR("umount2 MNT_FORCE with an open file", umount2(P("d"), MNT_FORCE), EBUSY);
	EXPECT_ERR("remount ro with a writer", mount("", P("d"), NULL, MS_REMOUNT | MS_RDONLY, NULL), EBUSY);
	close(fd);
	fd = open(P("d/f"), O_RDONLY);
	CHECK("remount ro with a reader", mount("", P("d"), NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0);
	close(fd);
	CHECK("remount rw", mount("", P("d"), NULL, MS_REMOUNT, NULL) == 0);
	EXPECT_ERR("umount2 MNT_EXPIRE|MNT_DETACH", umount2(P("d"), MNT_EXPIRE | MNT_DETACH), EINVAL);
	EXPECT_ERR("MNT_EXPIRE marks first", umount2(P("d"), MNT_EXPIRE), EAGAIN);
	CHECK("MNT_EXPIRE unmounts second", umount2(P("d"), MNT_EXPIRE) == 0);
	EXPECT_ERR("umount a plain directory", umount(P("d")), EINVAL);

	/* Errnos of malformed requests. */
	CHECK("mount tmpfs again", mount("", P("d"), "tmpfs", 0, "") == 0);
	mkdir(P("d/sub"), 0777);
	CHECK("mount sub", mount("", P("d/sub"), "tmpfs", 0, "") == 0);
	mkdir(P("d/sub/in"), 0777);
	close(open(P("file"), O_CREAT | O_RDWR, 0644));
	EXPECT_ERR("unlink a mounted directory", unlink(P("d/sub")), EISDIR);
	EXPECT_ERR("rmdir a mount point", rmdir(P("d/sub")), EBUSY);
	EXPECT_ERR("bind a file onto a directory", mount(P("file"), P("e"), NULL, MS_BIND, NULL), ENOTDIR);
	EXPECT_ERR("bind with no source", mount(NULL, P("e"), NULL, MS_BIND, NULL), EINVAL);
	EXPECT_ERR("move a directory onto a file", mount(P("d/sub"), P("file"), NULL, MS_MOVE, NULL), EINVAL);
	EXPECT_ERR("move into its own subtree", mount(P("d/sub"), P("d/sub/in"), NULL, MS_MOVE, NULL), ELOOP);
	EXPECT_ERR("move a non-mount", mount(P("e"), P("d/sub/in"), NULL, MS_MOVE, NULL), EINVAL);
	EXPECT_ERR("no filesystem type", mount("", P("e"), NULL, 0, NULL), EINVAL);
	EXPECT_ERR("unknown filesystem type", mount("", P("e"), "nosuchfs", 0, NULL), ENODEV);
	EXPECT_ERR("propagation with MS_RDONLY", mount(NULL, P("d"), NULL, MS_PRIVATE | MS_RDONLY, NULL), EINVAL);
	EXPECT_ERR("two propagation types", mount(NULL, P("d"), NULL, MS_SHARED | MS_SLAVE, NULL), EINVAL);
	CHECK("propagation with MS_REC", mount(NULL, P("d"), NULL, MS_PRIVATE | MS_REC, NULL) == 0);
	EXPECT_ERR("propagation of a non-mount", mount(NULL, P("e"), NULL, MS_PRIVATE, NULL), EINVAL);
	EXPECT_ERR("tmpfs nr_inodes not a number", mount("", P("e"), "tmpfs", 0, "nr_inodes=x"), EINVAL);
	EXPECT_ERR("tmpfs unknown option", mount("", P("e"), "tmpfs", 0, "bogus=1"), EINVAL);
	EXPECT_ERR("umount with a mount below", umount(P("d")), EBUSY);
	CHECK("umount sub", umount(P("d/sub")) == 0);
	CHECK("umount d", umount(P("d")) == 0);

	/* What a read-only, noexec mount still allows, and its flags. */
	CHECK("mount ro noexec",
	      mount("", P("d"), "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0777") == 0);
	fd = open(P("d/prog"), O_CREAT | O_RDWR, 0777);
	close(fd);
	CHECK("mkfifo", mkfifo(P("d/fifo"), 0666) == 0);
	CHECK("remount ro", mount("", P("d"), NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) == 0);
	EXPECT_ERR("create on ro", open(P("d/new"), O_CREAT | O_RDWR, 0644), EROFS);
	EXPECT_ERR("write-open a file on ro", open(P("d/prog"), O_WRONLY), EROFS);
	EXPECT_ERR("access W_OK on ro", access(P("d/prog"), W_OK), EROFS);
	fd = open(P("d/fifo"), O_RDWR);
	CHECK("fifo opens read-write on ro", fd >= 0);
	CHECK("fifo works on ro", write(fd, "x", 1) == 1);
	close(fd);
	EXPECT_ERR("access X_OK on noexec", access(P("d/prog"), X_OK), EACCES);
	EXPECT_ERR("exec on noexec", execl(P("d/prog"), "prog", (char *)NULL), EACCES);
	struct statfs sf;
	CHECK("statfs", statfs(P("d"), &sf) == 0);
	SHOW("statfs f_flags", "%#lx", (unsigned long)sf.f_flags & 0x1c3f);
	show_opts("mountinfo ro", P("d"));
	CHECK("umount ro", umount(P("d")) == 0);
	CHECK("mount noatime", mount("", P("d"), "tmpfs", MS_NODEV | MS_NOATIME, "") == 0);
	CHECK("statfs noatime", statfs(P("d"), &sf) == 0);
	SHOW("statfs noatime f_flags", "%#lx", (unsigned long)sf.f_flags & 0x1c3f);
	show_opts("mountinfo noatime", P("d"));
	CHECK("umount noatime", umount(P("d")) == 0);

	/* chroot: search permission is checked before the capability. */
	chmod(T, 0755);
	mkdir(P("r"), 0700);
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		if (setresuid(1, 1, 1) != 0)
			_exit(9);
		EXPECT_ERR("chroot without search permission", chroot(P("r")), EACCES);
		EXPECT_ERR("chroot without the capability", chroot(T), EPERM);
		EXPECT_ERR("chroot to a file", chroot(P("file")), ENOTDIR);
		_exit(compat_failures);
	}
	int st;
	CHECK("chroot child", waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0);

	unlink(P("file"));
	rmdir(P("r"));
	rmdir(P("d"));
	rmdir(P("e"));
	rmdir(T);
	return compat_done();
}
