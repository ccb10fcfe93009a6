/* Mount namespaces: unshare(CLONE_NEWNS), tmpfs mounts with options,
 * bind mounts (recursive too), read-only/noexec/nodev remounts, MS_MOVE,
 * umount2 (busy, lazy), chroot, pivot_root, /proc/self/mounts and
 * mountinfo, and their errors. Everything happens in a private mount
 * namespace made first, so the host's table is never touched. */
#include "common.h"
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static char base[64];

static void path(char *out, const char *rel)
{
	snprintf(out, 256, "%s/%s", base, rel);
}

/* The mount line for `point` in /proc/self/mounts: "fstype opts" (or
 * only the options when the type is the host's and may vary). */
static int hide_type;
static void show_mount(const char *name, const char *point)
{
	FILE *f = fopen("/proc/self/mounts", "r");
	char line[1024], found[512] = "absent";
	while (f && fgets(line, sizeof line, f)) {
		char src[256], pt[256], type[64], opts[256];
		if (sscanf(line, "%255s %255s %63s %255s", src, pt, type, opts) == 4 &&
		    strcmp(pt, point) == 0) {
			/* Keep the flags that mount(2) controls. */
			char keep[256] = "";
			for (char *o = strtok(opts, ","); o; o = strtok(NULL, ",")) {
				if (!strcmp(o, "ro") || !strcmp(o, "rw") || !strcmp(o, "nosuid") ||
				    !strcmp(o, "nodev") || !strcmp(o, "noexec")) {
					if (keep[0])
						strcat(keep, ",");
					strcat(keep, o);
				}
			}
			snprintf(found, sizeof found, "%s %s", hide_type ? "-" : type, keep);
		}
	}
	if (f)
		fclose(f);
	printf("%s %s\n", name, found);
}

/* mountinfo: the line for `point` names its parent, which exists. */
static int mountinfo_consistent(const char *point)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[1024];
	int ids[512], n = 0, parent = -1, ok = 0;
	while (f && fgets(line, sizeof line, f) && n < 512) {
		int id, par;
		char root[256], pt[256];
		if (sscanf(line, "%d %d %*s %255s %255s", &id, &par, root, pt) == 4) {
			ids[n++] = id;
			if (strcmp(pt, point) == 0)
				parent = par;
		}
	}
	for (int i = 0; i < n; i++)
		ok |= ids[i] == parent;
	if (f)
		fclose(f);
	return ok;
}

static int exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

int main(void)
{
	CHECK("unshare_ns", unshare(CLONE_NEWNS) == 0);
	CHECK("make_private", mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	snprintf(base, sizeof base, "/tmp/husk-mount-XXXXXX");
	CHECK("mkdtemp", mkdtemp(base) != NULL);
	char a[256], b[256], c[256], f[256];
	path(a, "a");
	path(b, "b");
	path(c, "c");
	mkdir(a, 0755);
	mkdir(b, 0755);
	mkdir(c, 0755);

	/* tmpfs with options. */
	CHECK("mount_tmpfs", mount("husktmp", a, "tmpfs", MS_NOSUID, "size=1m,mode=0700") == 0);
	show_mount("tmpfs_line", a);
	CHECK("mountinfo_parent", mountinfo_consistent(a));
	struct stat st;
	CHECK("tmpfs_root_mode", stat(a, &st) == 0 && (st.st_mode & 07777) == 0700);
	path(f, "a/file");
	int fd = open(f, O_CREAT | O_WRONLY, 0644);
	CHECK("tmpfs_create", fd >= 0 && write(fd, "data", 4) == 4);
	close(fd);
	char big[4096];
	memset(big, 'x', sizeof big);
	fd = open(f, O_WRONLY | O_APPEND);
	int full = 0;
	for (int i = 0; i < 400 && !full; i++)
		full = write(fd, big, sizeof big) < 0 && errno == ENOSPC;
	CHECK("tmpfs_size_limit_enospc", full);
	close(fd);
	unlink(f);

	/* Bind mounts. */
	path(f, "b/inb");
	close(open(f, O_CREAT | O_WRONLY, 0644));
	CHECK("bind", mount(b, c, NULL, MS_BIND, NULL) == 0);
	path(f, "c/inb");
	CHECK("bind_visible", exists(f));
	hide_type = 1;
	show_mount("bind_line", c);
	CHECK("remount_ro", mount(NULL, c, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) == 0);
	show_mount("ro_line", c);
	hide_type = 0;
	path(f, "c/new");
	EXPECT_ERR("ro_create", open(f, O_CREAT | O_WRONLY, 0644), EROFS);
	path(f, "b/new");
	CHECK("original_still_rw", (fd = open(f, O_CREAT | O_WRONLY, 0644)) >= 0);
	close(fd);
	path(f, "c/new");
	CHECK("ro_sees_new", exists(f));
	EXPECT_ERR("umount_not_mountpoint", umount2(b, 0), EINVAL);
	CHECK("umount_bind", umount2(c, 0) == 0);
	CHECK("bind_gone", !exists(f));

	/* Recursive bind: the tmpfs on a/ shows under c/a when b holds it. */
	path(f, "b/sub");
	mkdir(f, 0755);
	CHECK("mount_sub", mount("none", f, "tmpfs", 0, NULL) == 0);
	path(f, "b/sub/deep");
	close(open(f, O_CREAT | O_WRONLY, 0644));
	CHECK("rbind", mount(b, c, NULL, MS_BIND | MS_REC, NULL) == 0);
	path(f, "c/sub/deep");
	CHECK("rbind_sees_submount", exists(f));
	EXPECT_ERR("umount_busy_children", umount2(c, 0), EBUSY);
	CHECK("umount_lazy", umount2(c, MNT_DETACH) == 0);
	CHECK("lazy_gone", !exists(f));
	path(f, "b/sub");
	CHECK("umount_sub", umount2(f, 0) == 0);

	/* noexec and nodev. */
	CHECK("remount_noexec", mount(NULL, a, NULL, MS_REMOUNT | MS_NOEXEC | MS_NODEV, "size=1m") == 0);
	show_mount("noexec_line", a);
	path(f, "a/prog");
	fd = open(f, O_CREAT | O_WRONLY, 0755);
	write(fd, "#!/bin/sh\nexit 0\n", 17);
	close(fd);
	pid_t p = fork();
	if (p == 0) {
		execl(f, f, (char *)NULL);
		_exit(errno == EACCES ? 42 : 1);
	}
	int status;
	waitpid(p, &status, 0);
	SHOW("exec_noexec_status", "%d", WEXITSTATUS(status));

	/* Busy: a working directory inside keeps it mounted. */
	int here = open(".", O_RDONLY | O_DIRECTORY);
	CHECK("chdir_in", chdir(a) == 0);
	EXPECT_ERR("umount_busy_cwd", umount2(a, 0), EBUSY);
	fchdir(here);
	close(here);

	/* MS_MOVE. */
	CHECK("move", mount(a, c, NULL, MS_MOVE, NULL) == 0);
	show_mount("moved_from", a);
	show_mount("moved_to", c);
	CHECK("umount_moved", umount2(c, 0) == 0);

	/* Errors. */
	EXPECT_ERR("mount_bad_type", mount("x", a, "nosuchfs", 0, NULL), ENODEV);
	path(f, "missing");
	EXPECT_ERR("mount_missing_target", mount("x", f, "tmpfs", 0, NULL), ENOENT);
	EXPECT_ERR("umount_bad_flags", umount2(a, 0x100), EINVAL);
	EXPECT_ERR("umount_expire_detach", umount2(a, MNT_EXPIRE | MNT_DETACH), EINVAL);
	EXPECT_ERR("mount_badptr_target", mount("x", BADPTR, "tmpfs", 0, NULL), EFAULT);
	p = fork();
	if (p == 0) {
		if (setuid(65534) != 0)
			_exit(2);
		int r = mount("x", "/tmp", "tmpfs", 0, NULL);
		_exit(r == -1 && errno == EPERM ? 0 : 1);
	}
	waitpid(p, &status, 0);
	SHOW("mount_unprivileged_eperm", "%d", WEXITSTATUS(status));

	/* chroot and pivot_root in a child with a namespace of its own. */
	p = fork();
	if (p == 0) {
		int fails = 0;
		if (unshare(CLONE_NEWNS) != 0)
			_exit(100);
		if (mount("newroot", b, "tmpfs", 0, NULL) != 0)
			_exit(101);
		char q[300];
		snprintf(q, sizeof q, "%s/old", b);
		mkdir(q, 0755);
		snprintf(q, sizeof q, "%s/marker", b);
		close(open(q, O_CREAT | O_WRONLY, 0644));
		if (chdir(b) != 0)
			_exit(102);
		if (syscall(SYS_pivot_root, ".", "old") != 0)
			fails |= 1;
		if (!exists("/marker"))
			fails |= 2;
		if (!exists("/old/etc/passwd"))
			fails |= 4;
		if (umount2("/old", MNT_DETACH) != 0)
			fails |= 8;
		if (exists("/old/etc/passwd"))
			fails |= 16;
		_exit(fails);
	}
	waitpid(p, &status, 0);
	SHOW("pivot_root_child", "%d", WIFEXITED(status) ? WEXITSTATUS(status) : 1000);
	p = fork();
	if (p == 0) {
		int fails = 0;
		path(f, "b/chrooted");
		close(open(f, O_CREAT | O_WRONLY, 0644));
		if (chroot(b) != 0 || chdir("/") != 0)
			_exit(100);
		if (!exists("/chrooted"))
			fails |= 1;
		if (exists("/etc/passwd"))
			fails |= 2;
		if (!exists("/../chrooted"))
			fails |= 4;
		_exit(fails);
	}
	waitpid(p, &status, 0);
	SHOW("chroot_child", "%d", WIFEXITED(status) ? WEXITSTATUS(status) : 1000);
	EXPECT_ERR("chroot_file", chroot("/etc/passwd"), ENOTDIR);
	EXPECT_ERR("pivot_root_on_root_mount", syscall(SYS_pivot_root, "/", "/"), EBUSY);

	/* The namespace is this process's own: a child made before any change
	 * shares it, and the mounts went away with the umounts. */
	show_mount("tmpfs_after_umount", a);
	path(f, "b/inb");
	unlink(f);
	path(f, "b/new");
	unlink(f);
	path(f, "b/chrooted");
	unlink(f);
	path(f, "b/sub/deep");
	unlink(f);
	path(f, "b/sub");
	rmdir(f);
	path(f, "a/prog");
	unlink(f);
	rmdir(a);
	rmdir(b);
	rmdir(c);
	CHECK("cleanup", rmdir(base) == 0);
	return compat_done();
}
