/* cgroup v2: a cgroup2 mount in a private mount namespace, and a cgroup
 * made below its root: its files, mkdir/rmdir and rename rules, moving
 * processes through cgroup.procs (and /proc/PID/cgroup following),
 * cgroup.events, cgroup.kill, the depth and descendant limits, and the
 * errors of bad writes. Only what does not depend on which controllers
 * the hierarchy has is compared. */
#include "common.h"
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#define MNT "/tmp/husk-cgroup2-compat"
static char base[256];

static int put(const char *file, const char *s)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", base, file);
	return compat_write_file(p, s);
}

static int get(const char *file, char *buf, size_t n)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", base, file);
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return -1;
	int r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -1;
	buf[r] = 0;
	return r;
}

static int exists(const char *file)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", base, file);
	return stat(p, &st) == 0;
}

static void own_cgroup(pid_t pid, char *out, size_t n)
{
	char p[64], buf[4096];
	snprintf(p, sizeof p, "/proc/%d/cgroup", pid);
	int fd = open(p, O_RDONLY);
	int r = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (fd >= 0)
		close(fd);
	out[0] = 0;
	if (r <= 0)
		return;
	buf[r] = 0;
	/* The v2 line; a host with v1 hierarchies has others too. */
	char *l = strstr(buf, "0::");
	if (l == buf || (l && l[-1] == '\n')) {
		char *e = strchr(l, '\n');
		if (e)
			*e = 0;
		snprintf(out, n, "%s", l + 3);
	}
}

int main(void)
{
	char buf[4096], want[512], me_at[512];

	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		printf("no private mount namespace\n");
		return 1;
	}
	mkdir(MNT, 0755);
	CHECK("mount cgroup2", mount("none", MNT, "cgroup2", 0, NULL) == 0);
	struct statfs sf;
	CHECK("statfs magic", statfs(MNT, &sf) == 0 && sf.f_type == 0x63677270);
	/* Where this process is: the new cgroup goes beside it. */
	own_cgroup(getpid(), me_at, sizeof me_at);
	CHECK("own cgroup is a path", me_at[0] == '/');
	snprintf(base, sizeof base, MNT "%s", strcmp(me_at, "/") ? me_at : "");
	CHECK("own cgroup directory", exists("cgroup.procs"));
	char rel[256];
	snprintf(rel, sizeof rel, "%s/husk-compat-%d", strcmp(me_at, "/") ? me_at : "", getpid());
	char dir[512];
	snprintf(dir, sizeof dir, MNT "%s", rel);
	rmdir(dir);
	CHECK("mkdir", mkdir(dir, 0755) == 0);
	EXPECT_ERR("mkdir again", mkdir(dir, 0755), EEXIST);
	snprintf(base, sizeof base, "%s", dir);

	struct stat st;
	CHECK("stat dir", stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0755);
	const char *core[] = {"cgroup.controllers", "cgroup.events", "cgroup.kill", "cgroup.max.depth",
			      "cgroup.max.descendants", "cgroup.procs", "cgroup.stat",
			      "cgroup.subtree_control", "cgroup.threads", "cgroup.type", "cpu.stat"};
	for (unsigned i = 0; i < sizeof core / sizeof *core; i++) {
		char n[128];
		snprintf(n, sizeof n, "has %s", core[i]);
		CHECK(n, exists(core[i]));
	}
	char p[600];
	snprintf(p, sizeof p, "%s/cgroup.procs", dir);
	CHECK("procs mode", stat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0644 && st.st_size == 0);
	snprintf(p, sizeof p, "%s/cgroup.kill", dir);
	CHECK("kill mode", stat(p, &st) == 0 && (st.st_mode & 0777) == 0200);
	/* Opening for what a file cannot do works; the read or write fails. */
	int kfd = open(p, O_RDONLY);
	CHECK("open cgroup.kill to read", kfd >= 0);
	EXPECT_ERR("read cgroup.kill", read(kfd, buf, sizeof buf), EINVAL);
	close(kfd);
	EXPECT_ERR("write cgroup.controllers", put("cgroup.controllers", "+pids"), EINVAL);
	EXPECT_ERR("write cgroup.stat", put("cgroup.stat", "1"), EINVAL);

	CHECK("controllers empty", get("cgroup.controllers", buf, sizeof buf) == 0);
	CHECK("subtree_control empty", get("cgroup.subtree_control", buf, sizeof buf) == 0);
	CHECK("type domain", get("cgroup.type", buf, sizeof buf) > 0 && !strcmp(buf, "domain\n"));
	CHECK("events unpopulated", get("cgroup.events", buf, sizeof buf) > 0 && !strncmp(buf, "populated 0\nfrozen 0\n", 21));
	CHECK("procs empty", get("cgroup.procs", buf, sizeof buf) == 0);
	CHECK("max.depth max", get("cgroup.max.depth", buf, sizeof buf) > 0 && !strcmp(buf, "max\n"));
	CHECK("stat no descendants", get("cgroup.stat", buf, sizeof buf) > 0 && !strncmp(buf, "nr_descendants 0\n", 17));
	CHECK("cpu.stat usage", get("cpu.stat", buf, sizeof buf) > 0 && !strncmp(buf, "usage_usec ", 11));

	/* Files cannot be made, removed or unlinked. */
	snprintf(p, sizeof p, "%s/newfile", dir);
	EXPECT_ERR("create file", open(p, O_CREAT | O_WRONLY, 0644), EACCES);
	EXPECT_ERR("mknod fifo", mknod(p, S_IFIFO | 0644, 0), EPERM);
	snprintf(p, sizeof p, "%s/cgroup.procs", dir);
	EXPECT_ERR("unlink a file", unlink(p), EPERM);
	EXPECT_ERR("rmdir a file", rmdir(p), ENOTDIR);

	/* Bad writes. */
	EXPECT_ERR("procs garbage", put("cgroup.procs", "abc"), EINVAL);
	EXPECT_ERR("procs no such pid", put("cgroup.procs", "999999"), ESRCH);
	EXPECT_ERR("procs negative", put("cgroup.procs", "-5"), EINVAL);
	EXPECT_ERR("type domain write", put("cgroup.type", "domain"), EINVAL);
	EXPECT_ERR("subtree bogus", put("cgroup.subtree_control", "+bogus"), EINVAL);
	EXPECT_ERR("subtree no sign", put("cgroup.subtree_control", "pids"), EINVAL);
	EXPECT_ERR("kill 2", put("cgroup.kill", "2"), ERANGE);
	EXPECT_ERR("kill garbage", put("cgroup.kill", "x"), EINVAL);
	EXPECT_ERR("max.depth garbage", put("cgroup.max.depth", "lots"), EINVAL);
	EXPECT_ERR("max.depth negative", put("cgroup.max.depth", "-1"), ERANGE);
	EXPECT_ERR("max.descendants negative", put("cgroup.max.descendants", "-3"), ERANGE);
	CHECK("subtree empty write", put("cgroup.subtree_control", "") == 0);
	static char big[8200];
	memset(big, '1', sizeof big);
	big[8192] = 0;
	EXPECT_ERR("procs two pages", put("cgroup.procs", big), E2BIG);

	/* Children and limits. */
	char d1[600], d2[700], d3[600];
	snprintf(d1, sizeof d1, "%s/d1", dir);
	snprintf(d2, sizeof d2, "%s/d2", d1);
	snprintf(d3, sizeof d3, "%s/d3", dir);
	CHECK("mkdir d1", mkdir(d1, 0755) == 0);
	CHECK("stat one descendant", get("cgroup.stat", buf, sizeof buf) > 0 && !strncmp(buf, "nr_descendants 1\n", 17));
	CHECK("nlink counts children", stat(dir, &st) == 0 && st.st_nlink == 3);
	CHECK("max.depth 1", put("cgroup.max.depth", "1") == 0);
	CHECK("max.depth reads 1", get("cgroup.max.depth", buf, sizeof buf) > 0 && !strcmp(buf, "1\n"));
	EXPECT_ERR("mkdir past depth", mkdir(d2, 0755), EAGAIN);
	CHECK("max.depth max again", put("cgroup.max.depth", "max") == 0);
	CHECK("mkdir d2", mkdir(d2, 0755) == 0);
	EXPECT_ERR("rmdir d1 with child", rmdir(d1), EBUSY);
	CHECK("rmdir d2", rmdir(d2) == 0);
	CHECK("max.descendants 1", put("cgroup.max.descendants", "1") == 0);
	EXPECT_ERR("mkdir past descendants", mkdir(d3, 0755), EAGAIN);
	CHECK("max.descendants max", put("cgroup.max.descendants", "max\n") == 0);
	EXPECT_ERR("rename", rename(d1, d3), EPERM);

	/* Moving processes. */
	int go[2];
	if (pipe(go) != 0)
		return 1;
	pid_t c = fork();
	if (c == 0) {
		char x;
		close(go[1]);
		read(go[0], &x, 1);
		for (;;)
			pause();
	}
	close(go[0]);
	snprintf(base, sizeof base, "%s", d1);
	char num[32];
	snprintf(num, sizeof num, "%d\n", c);
	CHECK("move child", put("cgroup.procs", num) == 0);
	CHECK("procs lists child", get("cgroup.procs", buf, sizeof buf) > 0 && !strcmp(buf, num));
	CHECK("threads lists child", get("cgroup.threads", buf, sizeof buf) > 0 && !strcmp(buf, num));
	own_cgroup(c, buf, sizeof buf);
	snprintf(want, sizeof want, "%s/d1", rel);
	CHECK("child's /proc cgroup", !strcmp(buf, want));
	CHECK("d1 populated", get("cgroup.events", buf, sizeof buf) > 0 && !strncmp(buf, "populated 1\n", 12));
	snprintf(base, sizeof base, "%s", dir);
	CHECK("parent populated", get("cgroup.events", buf, sizeof buf) > 0 && !strncmp(buf, "populated 1\n", 12));
	CHECK("parent procs empty", get("cgroup.procs", buf, sizeof buf) == 0);
	EXPECT_ERR("rmdir populated", rmdir(d1), EBUSY);
	/* A thread of another cgroup cannot be moved by itself. */
	snprintf(base, sizeof base, "%s", dir);
	CHECK("kill d1's parent", put("cgroup.kill", "1") == 0);
	int status;
	CHECK("child killed", waitpid(c, &status, 0) == c && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	snprintf(base, sizeof base, "%s", d1);
	CHECK("d1 empty again", get("cgroup.events", buf, sizeof buf) > 0 && !strncmp(buf, "populated 0\n", 12));

	/* This process in and out. */
	CHECK("move self with 0", put("cgroup.procs", "0") == 0);
	own_cgroup(getpid(), buf, sizeof buf);
	CHECK("self moved", !strcmp(buf, want));
	pid_t g = fork();
	if (g == 0) {
		own_cgroup(getpid(), buf, sizeof buf);
		_exit(strcmp(buf, want) != 0);
	}
	CHECK("fork inherits", waitpid(g, &status, 0) == g && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	snprintf(base, sizeof base, MNT "%s", strcmp(me_at, "/") ? me_at : "");
	snprintf(num, sizeof num, "%d", getpid());
	CHECK("move self back", put("cgroup.procs", num) == 0);
	own_cgroup(getpid(), buf, sizeof buf);
	CHECK("self back", !strcmp(buf, me_at));

	CHECK("rmdir d1", rmdir(d1) == 0);
	CHECK("rmdir", rmdir(dir) == 0);
	EXPECT_ERR("gone", stat(dir, &st), ENOENT);
	umount2(MNT, MNT_DETACH);
	rmdir(MNT);
	return compat_failures > 100 ? 100 : compat_failures;
}
