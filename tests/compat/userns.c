/* User namespaces made by the program: unshare(CLONE_NEWUSER) as root
 * and as an unprivileged user, the uid_map/gid_map/setgroups rules, ids
 * seen through the maps (get*id, stat, /proc/self/status), ids given
 * through them (chown, setuid, setgroups), capabilities that count only
 * inside (mount and sethostname in namespaces the new one owns, files of
 * unmapped owners), locked mounts, nesting and its limit, and clone's
 * and unshare's errors. Each scenario runs in a child process. */
#include "common.h"
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <grp.h>
#include <sys/prctl.h>

static int put(const char *path, const char *s)
{
	return compat_write_file(path, s);
}

static int get(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	int r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -1;
	buf[r] = 0;
	return r;
}

static unsigned long long cap_eff(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) != 0)
		return 0;
	return d[0].effective | (unsigned long long)d[1].effective << 32;
}

static void status_line(const char *key, char *out, size_t n)
{
	char buf[8192];
	out[0] = 0;
	if (get("/proc/self/status", buf, sizeof buf) <= 0)
		return;
	char *l = strstr(buf, key);
	if (!l)
		return;
	char *e = strchr(l, '\n');
	if (e)
		*e = 0;
	snprintf(out, n, "%s", l);
}

static int run(const char *name, void (*f)(void))
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		compat_failures = 0;
		f();
		fflush(stdout);
		_exit(compat_failures);
	}
	int st;
	waitpid(c, &st, 0);
	int bad = WIFEXITED(st) ? WEXITSTATUS(st) : 100;
	printf("%s done %d\n", name, bad);
	return bad;
}

static void unprivileged(void)
{
	char buf[512], line[256];
	char ns_before[64] = "", ns_after[64] = "";
	readlink("/proc/self/ns/user", ns_before, sizeof ns_before - 1);
	/* A read-only, nosuid mount made while privileged. */
	CHECK("private mounts", unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	CHECK("ro mount", mount("none", "/mnt", "tmpfs", MS_RDONLY | MS_NOSUID, NULL) == 0);
	CHECK("drop groups", setgroups(0, NULL) == 0);
	CHECK("drop to 1000", setresgid(1000, 1000, 1000) == 0 && setresuid(1000, 1000, 1000) == 0);
	CHECK("no caps", cap_eff() == 0);
	/* A changed uid leaves it undumpable: its /proc files are root's. */
	CHECK("dumpable again", prctl(PR_SET_DUMPABLE, 1) == 0);
	EXPECT_ERR("mount ns needs caps", unshare(CLONE_NEWNS), EPERM);
	CHECK("unshare user", unshare(CLONE_NEWUSER) == 0);
	readlink("/proc/self/ns/user", ns_after, sizeof ns_after - 1);
	CHECK("new ns link", strncmp(ns_after, "user:[", 6) == 0 && strcmp(ns_before, ns_after) != 0);
	CHECK("overflow uid", getuid() == 65534 && geteuid() == 65534 && getgid() == 65534);
	CHECK("full caps inside", cap_eff() == (1ULL << (CAP_LAST_CAP + 1)) - 1);
	CHECK("empty uid_map", get("/proc/self/uid_map", buf, sizeof buf) == 0);
	CHECK("setgroups allow", get("/proc/self/setgroups", buf, sizeof buf) > 0 && !strcmp(buf, "allow\n"));
	struct stat st;
	CHECK("uid_map owned by us", stat("/proc/self/uid_map", &st) == 0 && st.st_uid == 65534);
	EXPECT_ERR("map another uid", put("/proc/self/uid_map", "0 0 1\n"), EPERM);
	EXPECT_ERR("map two ids", put("/proc/self/uid_map", "0 1000 2\n"), EPERM);
	EXPECT_ERR("bad map syntax", put("/proc/self/uid_map", "0 1000\n"), EINVAL);
	EXPECT_ERR("empty count", put("/proc/self/uid_map", "0 1000 0\n"), EINVAL);
	EXPECT_ERR("gid before deny", put("/proc/self/gid_map", "0 1000 1\n"), EPERM);
	CHECK("map own uid", put("/proc/self/uid_map", "0 1000 1\n") == 0);
	EXPECT_ERR("map twice", put("/proc/self/uid_map", "0 1000 1\n"), EPERM);
	EXPECT_ERR("setgroups garbage", put("/proc/self/setgroups", "maybe"), EINVAL);
	CHECK("deny setgroups", put("/proc/self/setgroups", "deny") == 0);
	CHECK("map own gid", put("/proc/self/gid_map", "0 1000 1") == 0);
	EXPECT_ERR("allow again", put("/proc/self/setgroups", "allow"), EPERM);
	CHECK("uid_map text", get("/proc/self/uid_map", buf, sizeof buf) > 0 &&
				      !strcmp(buf, "         0       1000          1\n"));
	CHECK("root inside", getuid() == 0 && geteuid() == 0 && getgid() == 0 && getegid() == 0);
	uid_t r, e, s;
	CHECK("getresuid", getresuid(&r, &e, &s) == 0 && r == 0 && e == 0 && s == 0);
	status_line("Uid:", line, sizeof line);
	CHECK("status Uid", !strcmp(line, "Uid:\t0\t0\t0\t0"));
	CHECK("stat / overflow owner", stat("/", &st) == 0 && st.st_uid == 65534 && st.st_gid == 65534);
	EXPECT_ERR("setuid unmapped", setuid(1), EINVAL);
	CHECK("setuid mapped", setuid(0) == 0);
	EXPECT_ERR("setgroups denied", setgroups(0, NULL), EPERM);
	gid_t g[4];
	CHECK("getgroups overflow", getgroups(0, g) == 0);
	char tmp[] = "/tmp/husk-userns-XXXXXX";
	int fd = mkstemp(tmp);
	CHECK("own file", fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == 0 && st.st_gid == 0);
	EXPECT_ERR("chown to unmapped", fchown(fd, 5, -1), EINVAL);
	CHECK("chown to mapped", fchown(fd, 0, 0) == 0);
	close(fd);
	unlink(tmp);
	/* Capabilities inside do not reach files of unmapped owners. */
	EXPECT_ERR("root-only dir", open("/root/.husk-nonexistent", O_CREAT | O_WRONLY, 0600), EACCES);
	EXPECT_ERR("chown of unmapped file", chown("/tmp", 0, 0), EPERM);
	/* Namespaces it owns: mounts and host names. */
	EXPECT_ERR("hostname of the parent's uts", sethostname("x", 1), EPERM);
	CHECK("unshare mount+uts", unshare(CLONE_NEWNS | CLONE_NEWUTS) == 0);
	CHECK("hostname", sethostname("inner", 5) == 0);
	/* What it inherited keeps its restrictions and stays mounted. */
	EXPECT_ERR("remount inherited rw", mount(NULL, "/mnt", NULL, MS_REMOUNT | MS_BIND, NULL), EPERM);
	EXPECT_ERR("remount inherited suid", mount(NULL, "/mnt", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), EPERM);
	CHECK("remount keeping them", mount(NULL, "/mnt", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) == 0);
	EXPECT_ERR("umount inherited", umount("/mnt"), EINVAL);
	CHECK("mount tmpfs", mount("none", "/mnt", "tmpfs", 0, NULL) == 0);
	CHECK("write in it", put("/mnt/f", "x") == -1 && errno == ENOENT);
	fd = open("/mnt/f", O_CREAT | O_WRONLY, 0644);
	CHECK("create in it", fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == 0);
	close(fd);
	CHECK("umount own", umount("/mnt") == 0);
	EXPECT_ERR("umount inherited again", umount("/mnt"), EINVAL);
	EXPECT_ERR("mount a disk type", mount("/dev/null", "/mnt", "ext4", 0, NULL), EPERM);
	/* Nothing of the sandbox's: kill of a process of another user. */
	EXPECT_ERR("kill init", kill(1, 0), EPERM);
}

/* Maps of a child's namespace written by its root parent, which has
 * CAP_SETUID over the parent namespace: any ids it has. */
static void as_root(void)
{
	char buf[512], path[64];
	int go[2], back[2];
	pipe(go);
	pipe(back);
	pid_t c = fork();
	if (c == 0) {
		char x = unshare(CLONE_NEWUSER) == 0;
		EXPECT_ERR("privileged map from inside", put("/proc/self/uid_map", "0 0 10\n"), EPERM);
		write(back[1], &x, 1);
		read(go[0], &x, 1);
		CHECK("setgroups still allowed", get("/proc/self/setgroups", buf, sizeof buf) > 0 && !strcmp(buf, "allow\n"));
		CHECK("setgroups works", setgroups(0, NULL) == 0);
		struct stat st;
		CHECK("stat / root", stat("/", &st) == 0 && st.st_uid == 0);
		CHECK("setresuid into range", setresuid(102, 102, 102) == 0 && getuid() == 102);
		status_line("Uid:", buf, sizeof buf);
		CHECK("status shows 102", !strcmp(buf, "Uid:\t102\t102\t102\t102"));
		CHECK("caps gone", cap_eff() == 0);
		_exit(compat_failures);
	}
	char x = 0;
	CHECK("child unshared", read(back[0], &x, 1) == 1 && x == 1);
	snprintf(path, sizeof path, "/proc/%d/uid_map", c);
	CHECK("map range", put(path, "0 0 10\n100 1000 5\n") == 0);
	CHECK("read back from outside", get(path, buf, sizeof buf) > 0 &&
		!strcmp(buf, "         0          0         10\n       100       1000          5\n"));
	snprintf(path, sizeof path, "/proc/%d/gid_map", c);
	EXPECT_ERR("gid overlap", put(path, "0 0 10\n5 100 5\n"), EINVAL);
	EXPECT_ERR("gid beyond u32", put(path, "5 0 4294967295"), EINVAL);
	CHECK("map gids", put(path, "0 0 4294967295") == 0);
	write(go[1], &x, 1);
	int st;
	CHECK("child checks", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void nested(void)
{
	char buf[256];
	int depth = 0;
	int err = 0;
	for (int i = 0; i < 40; i++) {
		if (unshare(CLONE_NEWUSER) != 0) {
			err = errno;
			break;
		}
		depth++;
		if (put("/proc/self/uid_map", "0 0 1") != 0 || put("/proc/self/setgroups", "deny") != 0 ||
		    put("/proc/self/gid_map", "0 0 1") != 0) {
			err = -errno;
			break;
		}
	}
	printf("nested depth %d errno %s\n", depth, err > 0 ? ename(err) : "map failed");
	CHECK("still root", getuid() == 0 && cap_eff() != 0);
	CHECK("map seen from inside", get("/proc/self/uid_map", buf, sizeof buf) > 0 &&
					 !strcmp(buf, "         0          0          1\n"));
}

static void *idle(void *a)
{
	pause();
	return a;
}

static void errors(void)
{
	EXPECT_ERR("clone NEWUSER|FS", syscall(SYS_clone, CLONE_NEWUSER | CLONE_FS | SIGCHLD, 0, 0, 0, 0), EINVAL);
	pthread_t t;
	pthread_create(&t, NULL, idle, NULL);
	EXPECT_ERR("unshare with threads", unshare(CLONE_NEWUSER), EINVAL);
	/* clone(CLONE_NEWUSER): the child is inside, the parent not. */
	char p_ns[64] = "", c_ns[64] = "";
	readlink("/proc/self/ns/user", p_ns, sizeof p_ns - 1);
	int pfd[2];
	pipe(pfd);
	pid_t c = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
	if (c == 0) {
		char ns[64] = "";
		readlink("/proc/self/ns/user", ns, sizeof ns - 1);
		int ok = getuid() == 65534 && cap_eff() != 0;
		write(pfd[1], ns, sizeof ns);
		_exit(ok ? 0 : 1);
	}
	read(pfd[0], c_ns, sizeof c_ns);
	int st;
	CHECK("clone child inside", c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK("child ns differs", strcmp(p_ns, c_ns) != 0 && !strncmp(c_ns, "user:[", 6));
	char again[64] = "";
	readlink("/proc/self/ns/user", again, sizeof again - 1);
	CHECK("parent ns unchanged", !strcmp(p_ns, again));
}

int main(void)
{
	int bad = 0;
	bad += run("unprivileged", unprivileged);
	bad += run("as_root", as_root);
	bad += run("nested", nested);
	bad += run("errors", errors);
	return bad > 100 ? 100 : bad;
}
