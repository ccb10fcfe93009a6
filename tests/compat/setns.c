/* Namespace files and setns(2): /proc/PID/ns/* opened as files (their
 * inode is the number the link shows), the NS_GET_* ioctls, and joining
 * a child's user, mount and UTS namespaces by namespace fd and by pidfd,
 * with the errors: wrong type, own user namespace, not a namespace,
 * threads, no capability. */
#include "common.h"
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define NS_GET_USERNS 0xb701
#define NS_GET_PARENT 0xb702
#define NS_GET_NSTYPE 0xb703
#define NS_GET_OWNER_UID 0xb704

static int put(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	int r = fd < 0 ? -1 : write(fd, s, strlen(s));
	if (fd >= 0)
		close(fd);
	return r < 0 ? -1 : 0;
}

static unsigned long link_ino(const char *path)
{
	char buf[64] = "";
	if (readlink(path, buf, sizeof buf - 1) < 0)
		return 0;
	char *b = strchr(buf, '[');
	return b ? strtoul(b + 1, NULL, 10) : 0;
}

static unsigned long fd_ino(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

static void *idle(void *a)
{
	pause();
	return a;
}

int main(void)
{
	const char *names[] = {"mnt", "uts", "user", "net", "ipc", "pid", "cgroup"};
	const int types[] = {CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWCGROUP};
	char path[64];
	for (int i = 0; i < 7; i++) {
		snprintf(path, sizeof path, "/proc/self/ns/%s", names[i]);
		int fd = open(path, O_RDONLY);
		struct stat st;
		char n[64];
		snprintf(n, sizeof n, "%s file", names[i]);
		CHECK(n, fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_ino == link_ino(path));
		snprintf(n, sizeof n, "%s type", names[i]);
		CHECK(n, ioctl(fd, NS_GET_NSTYPE) == types[i]);
		close(fd);
	}
	int self_user = open("/proc/self/ns/user", O_RDONLY);
	EXPECT_ERR("own user ns", setns(self_user, CLONE_NEWUSER), EINVAL);
	EXPECT_ERR("parent of the first", ioctl(self_user, NS_GET_PARENT), EPERM);
	EXPECT_ERR("owner uid of mnt", ioctl(open("/proc/self/ns/mnt", O_RDONLY), NS_GET_OWNER_UID, &(uid_t){0}), EINVAL);
	EXPECT_ERR("not a namespace", setns(open("/proc/self/stat", O_RDONLY), 0), EINVAL);
	EXPECT_ERR("bad fd", setns(-1, 0), EBADF);

	/* A child in namespaces of its own. */
	int go[2], back[2];
	pipe(go);
	pipe(back);
	pid_t c = fork();
	if (c == 0) {
		char x = unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWUTS) == 0 &&
			 put("/proc/self/uid_map", "0 0 1") == 0 && put("/proc/self/setgroups", "deny") == 0 &&
			 put("/proc/self/gid_map", "0 0 1") == 0 && sethostname("inner", 5) == 0 &&
			 mount("none", "/mnt", "tmpfs", 0, NULL) == 0 && put("/mnt/marker", "x") == 0;
		write(back[1], &x, 1);
		read(go[0], &x, 1);
		_exit(0);
	}
	char x = 0;
	CHECK("child ready", read(back[0], &x, 1) == 1 && x == 1);
	char cp[64];
	snprintf(cp, sizeof cp, "/proc/%d/ns/user", c);
	int cuser = open(cp, O_RDONLY);
	snprintf(cp, sizeof cp, "/proc/%d/ns/mnt", c);
	int cmnt = open(cp, O_RDONLY);
	snprintf(cp, sizeof cp, "/proc/%d/ns/uts", c);
	int cuts = open(cp, O_RDONLY);
	CHECK("child's ns differ", fd_ino(cuser) != fd_ino(self_user));
	uid_t owner = 99;
	CHECK("owner uid", ioctl(cuser, NS_GET_OWNER_UID, &owner) == 0 && owner == 0);
	int par = ioctl(cuser, NS_GET_PARENT);
	CHECK("parent is ours", par >= 0 && fd_ino(par) == fd_ino(self_user));
	int own = ioctl(cmnt, NS_GET_USERNS);
	CHECK("mnt owner is child's user ns", own >= 0 && fd_ino(own) == fd_ino(cuser));
	EXPECT_ERR("wrong type", setns(cuser, CLONE_NEWNS), EINVAL);

	/* Threads may not change user namespace. */
	pid_t t = fork();
	if (t == 0) {
		pthread_t th;
		pthread_create(&th, NULL, idle, NULL);
		_exit(setns(cuser, CLONE_NEWUSER) == -1 && errno == EINVAL ? 0 : 1);
	}
	int st;
	CHECK("threads refused", waitpid(t, &st, 0) == t && WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* An unprivileged process may not join the mount namespace. */
	t = fork();
	if (t == 0) {
		setgroups(0, NULL);
		setresgid(1000, 1000, 1000);
		setresuid(1000, 1000, 1000);
		_exit(setns(cmnt, CLONE_NEWNS) == -1 && errno == EPERM ? 0 : 1);
	}
	CHECK("unprivileged refused", waitpid(t, &st, 0) == t && WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* Joining by namespace fds. */
	t = fork();
	if (t == 0) {
		char h[16] = "";
		int ok = setns(cuser, CLONE_NEWUSER) == 0 && getuid() == 0 && setns(cmnt, 0) == 0 &&
			 setns(cuts, CLONE_NEWUTS) == 0 && access("/mnt/marker", F_OK) == 0 &&
			 gethostname(h, sizeof h) == 0 && !strcmp(h, "inner");
		_exit(ok ? 0 : 1);
	}
	CHECK("joined by ns fds", waitpid(t, &st, 0) == t && WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* Joining by pidfd. */
	int pfd = syscall(SYS_pidfd_open, c, 0);
	CHECK("pidfd", pfd >= 0);
	EXPECT_ERR("pidfd without types", setns(pfd, 0), EINVAL);
	t = fork();
	if (t == 0) {
		int ok = setns(pfd, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWUTS) == 0 && access("/mnt/marker", F_OK) == 0;
		_exit(ok ? 0 : 1);
	}
	CHECK("joined by pidfd", waitpid(t, &st, 0) == t && WIFEXITED(st) && WEXITSTATUS(st) == 0);

	write(go[1], &x, 1);
	waitpid(c, &st, 0);
	/* The first namespaces have no parent or owner to hand out (lsns
	 * stops at EPERM), and only user and PID namespaces nest. */
	int uf = open("/proc/self/ns/user", O_RDONLY);
	int pf = open("/proc/self/ns/pid", O_RDONLY);
	int nf = open("/proc/self/ns/net", O_RDONLY);
	EXPECT_ERR("NS_GET_USERNS of the first user namespace", ioctl(uf, 0xb701), EPERM);
	EXPECT_ERR("NS_GET_PARENT of the first user namespace", ioctl(uf, 0xb702), EPERM);
	EXPECT_ERR("NS_GET_PARENT of the PID namespace", ioctl(pf, 0xb702), EPERM);
	EXPECT_ERR("NS_GET_PARENT of a network namespace", ioctl(nf, 0xb702), EINVAL);
	return compat_failures > 100 ? 100 : compat_failures;
}
