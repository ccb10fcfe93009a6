/* /proc/PID files programs read and write: exe of a removed program
 * (its " (deleted)" name, and opening it), fdinfo's position of a file of
 * the root, a thread's directory (children, no nested task), attr files with
 * no security module, oom_adj, smaps_rollup, coredump_filter,
 * timerslack_ns, loginuid, status keys, limits and cmdline after
 * setproctitle. */
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

static long put(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	long r = write(fd, s, strlen(s));
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

static int copy(const char *from, const char *to)
{
	int a = open(from, O_RDONLY), b = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	char buf[65536];
	ssize_t n;
	if (a < 0 || b < 0)
		return -1;
	while ((n = read(a, buf, sizeof buf)) > 0)
		if (write(b, buf, n) != n)
			return -1;
	close(a);
	close(b);
	return 0;
}

static int has_key(const char *text, const char *key)
{
	return strstr(text, key) != NULL;
}

static void deleted_exe(void)
{
	char dir[] = "/tmp/procfilesXXXXXX", prog[64], path[64], link[256];
	if (!mkdtemp(dir))
		return;
	snprintf(prog, sizeof prog, "%s/sl", dir);
	CHECK("copy sleep", copy("/bin/sleep", prog) == 0);
	int ready[2];
	pipe(ready);
	pid_t c = fork();
	if (c == 0) {
		close(ready[0]);
		fcntl(ready[1], F_SETFD, FD_CLOEXEC);
		execl(prog, "sl", "30", (char *)NULL);
		_exit(127);
	}
	close(ready[1]);
	char x;
	read(ready[0], &x, 1); /* EOF once the exec closed the pipe */
	close(ready[0]);
	snprintf(path, sizeof path, "/proc/%d/exe", c);
	ssize_t n = readlink(path, link, sizeof link - 1);
	link[n > 0 ? n : 0] = 0;
	CHECK("exe names the program", n > 0 && strcmp(link, prog) == 0);
	CHECK("unlink the running program", unlink(prog) == 0);
	n = readlink(path, link, sizeof link - 1);
	link[n > 0 ? n : 0] = 0;
	printf("exe after unlink: %s\n", n > (ssize_t)strlen(dir) ? link + strlen(dir) : "?");
	int fd = open(path, O_RDONLY);
	char elf[4] = {0};
	CHECK("open exe of a removed program", fd >= 0 && read(fd, elf, 4) == 4);
	CHECK("it is the program", memcmp(elf, "\177ELF", 4) == 0);
	struct stat a, b;
	CHECK("fstat and stat agree", fd >= 0 && fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
					      a.st_ino == b.st_ino && a.st_size == b.st_size);
	SHOW("its links", "%ld", (long)a.st_nlink);
	close(fd);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	rmdir(dir);
}

static void thread_dir(void)
{
	char path[128], buf[4096];
	pid_t c = fork();
	if (c == 0) {
		pause();
		_exit(0);
	}
	snprintf(path, sizeof path, "/proc/self/task/%d/children", getpid());
	read_text(path, buf, sizeof buf);
	char want[32];
	snprintf(want, sizeof want, "%d ", c);
	CHECK("children lists the child", strcmp(buf, want) == 0);
	snprintf(path, sizeof path, "/proc/self/task/%d/task", getpid());
	EXPECT_ERR("no task in a thread's directory", access(path, F_OK), ENOENT);
	snprintf(path, sizeof path, "/proc/self/task/%d/coredump_filter", getpid());
	EXPECT_ERR("no coredump_filter in a thread's directory", access(path, F_OK), ENOENT);
	EXPECT_ERR("no children in a process's directory", access("/proc/self/children", F_OK), ENOENT);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	snprintf(path, sizeof path, "/proc/self/task/%d/children", getpid());
	read_text(path, buf, sizeof buf);
	CHECK("a reaped child is gone", buf[0] == 0);
}

static void attr(void)
{
	char buf[64];
	struct stat st;
	CHECK("attr is a directory", stat("/proc/self/attr", &st) == 0 && S_ISDIR(st.st_mode));
	CHECK("attr/current is 0666", stat("/proc/self/attr/current", &st) == 0 &&
					      (st.st_mode & 0777) == 0666);
	int fd = open("/proc/self/attr/current", O_RDONLY);
	CHECK("attr/current opens", fd >= 0);
	EXPECT_ERR("attr/current read", read(fd, buf, sizeof buf), EINVAL);
	close(fd);
	EXPECT_ERR("attr/exec write", put("/proc/self/attr/exec", "x"), EINVAL);
	EXPECT_ERR("attr/none", access("/proc/self/attr/none", F_OK), ENOENT);
}

static void oom_adj(void)
{
	char buf[64];
	CHECK("set oom_score_adj 500", put("/proc/self/oom_score_adj", "500") == 3);
	read_text("/proc/self/oom_adj", buf, sizeof buf);
	printf("oom_adj: %s", buf);
	CHECK("oom_adj 10", put("/proc/self/oom_adj", "10") == 2);
	read_text("/proc/self/oom_score_adj", buf, sizeof buf);
	printf("oom_score_adj: %s", buf);
	CHECK("oom_adj 15", put("/proc/self/oom_adj", "15\n") == 3);
	read_text("/proc/self/oom_score_adj", buf, sizeof buf);
	printf("oom_score_adj: %s", buf);
	/* Lowering it takes CAP_SYS_RESOURCE, which this machine's root may lack. */
	long r = put("/proc/self/oom_adj", "-5");
	printf("lowering oom_adj: %s\n", r == 2 ? "ok" : ename(errno));
	EXPECT_ERR("oom_adj 16", put("/proc/self/oom_adj", "16"), EINVAL);
	EXPECT_ERR("oom_adj x", put("/proc/self/oom_adj", "x"), EINVAL);
}

static void rollup(void)
{
	static char buf[8192];
	read_text("/proc/self/smaps_rollup", buf, sizeof buf);
	char *nl = strchr(buf, '\n');
	CHECK("rollup's first line", nl && nl - buf >= 9 && memcmp(nl - 8, "[rollup]", 8) == 0);
	/* The keys, in order. */
	for (char *l = nl ? nl + 1 : buf; *l;) {
		char *e = strchr(l, '\n');
		char *colon = strchr(l, ':');
		if (!e || !colon)
			break;
		printf("rollup key %.*s\n", (int)(colon - l), l);
		l = e + 1;
	}
	long rss = -1;
	char *r = strstr(buf, "\nRss:");
	if (r)
		rss = strtol(r + 5, NULL, 10);
	CHECK("rollup Rss is positive", rss > 0);
}

static void knobs(void)
{
	char buf[64];
	struct stat st;
	read_text("/proc/self/coredump_filter", buf, sizeof buf);
	printf("coredump_filter: %s", buf);
	CHECK("set coredump_filter", put("/proc/self/coredump_filter", "0x23") == 4);
	read_text("/proc/self/coredump_filter", buf, sizeof buf);
	printf("coredump_filter now: %s", buf);
	pid_t c = fork();
	if (c == 0) {
		read_text("/proc/self/coredump_filter", buf, sizeof buf);
		_exit(strcmp(buf, "00000023\n") == 0 ? 0 : 1);
	}
	int status;
	waitpid(c, &status, 0);
	CHECK("a child inherits it", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_ERR("coredump_filter junk", put("/proc/self/coredump_filter", "zz"), EINVAL);

	CHECK("timerslack_ns is 0666", stat("/proc/self/timerslack_ns", &st) == 0 &&
					       (st.st_mode & 0777) == 0666);
	CHECK("set timerslack_ns", put("/proc/self/timerslack_ns", "12345") == 5);
	SHOW("PR_GET_TIMERSLACK", "%d", prctl(PR_GET_TIMERSLACK));
	read_text("/proc/self/timerslack_ns", buf, sizeof buf);
	printf("timerslack_ns: %s", buf);
	CHECK("timerslack_ns 0", put("/proc/self/timerslack_ns", "0") == 1);
	SHOW("PR_GET_TIMERSLACK after 0", "%d", prctl(PR_GET_TIMERSLACK));
	EXPECT_ERR("timerslack_ns -1", put("/proc/self/timerslack_ns", "-1"), EINVAL);

	CHECK("set loginuid", put("/proc/self/loginuid", "1000") == 4);
	read_text("/proc/self/loginuid", buf, sizeof buf);
	printf("loginuid: %s\n", buf);
	c = fork();
	if (c == 0) {
		read_text("/proc/self/loginuid", buf, sizeof buf);
		_exit(strcmp(buf, "1000") == 0 ? 0 : 1);
	}
	waitpid(c, &status, 0);
	CHECK("a child inherits loginuid", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	c = fork();
	if (c == 0) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/loginuid", getppid());
		_exit(put(path, "5") < 0 ? errno : 0);
	}
	waitpid(c, &status, 0);
	printf("another's loginuid: %s\n", ename(WEXITSTATUS(status)));
	EXPECT_ERR("loginuid junk", put("/proc/self/loginuid", "abc"), EINVAL);
}

static void status_and_limits(void)
{
	static char buf[8192];
	read_text("/proc/self/status", buf, sizeof buf);
	const char *keys[] = {"\nKthread:\t0\n", "\nHugetlbPages:", "\nCoreDumping:\t0\n",
			      "\nTHP_enabled:", "\nuntag_mask:", "\nSpeculation_Store_Bypass:",
			      "\nMems_allowed:", "\nMems_allowed_list:\t0\n", NULL};
	for (int i = 0; keys[i]; i++) {
		char name[64];
		snprintf(name, sizeof name, "status has%.*s", (int)strcspn(keys[i] + 1, ":") + 1,
			 keys[i]);
		CHECK(name, has_key(buf, keys[i]));
	}
	read_text("/proc/self/limits", buf, sizeof buf);
	CHECK("no padding after a limit without a unit",
	      strstr(buf, "Max nice priority         0                    0                    \n") != NULL);
}

static void title(int argc, char **argv)
{
	char *end = argv[argc - 1] + strlen(argv[argc - 1]);
	size_t room = end - argv[0];
	char buf[256];
	/* Overwrite the arguments with one longer string, as setproctitle does. */
	memset(argv[0], 'x', room);
	long n = read_text("/proc/self/cmdline", buf, sizeof buf);
	CHECK("title runs into the environment", n > (long)room);
	CHECK("title ends at its NUL", n > 0 && buf[n - 1] == 0 && strlen(buf) == (size_t)n - 1);
}

/* cpuset is the cgroup v2 path; no time namespace offsets; project ids
 * mapped whole in the first user namespace and not in a new one. */
static void small_files(void)
{
	char cg[1024], cs[256], buf[256];
	read_text("/proc/self/cgroup", cg, sizeof cg);
	read_text("/proc/self/cpuset", cs, sizeof cs);
	/* A host with cgroup v1 has a cpuset hierarchy of its own. */
	char *v1 = strstr(cg, ":cpuset:"), *path = v1 ? v1 + 8 : strstr(cg, "0::");
	if (path && !v1)
		path += 3;
	CHECK("cpuset is the cgroup's path", path && strncmp(path, cs, strlen(cs)) == 0);
	read_text("/proc/self/timens_offsets", buf, sizeof buf);
	printf("timens_offsets:\n%s", buf);
	read_text("/proc/self/projid_map", buf, sizeof buf);
	printf("projid_map: %s", buf);
	pid_t c = fork();
	if (c == 0) {
		if (unshare(CLONE_NEWUSER) != 0)
			_exit(2);
		_exit(read_text("/proc/self/projid_map", buf, sizeof buf) == 0 ? 0 : 1);
	}
	int status;
	waitpid(c, &status, 0);
	CHECK("a new user namespace maps no project ids", WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static long long cpu_jiffies(void)
{
	char buf[512];
	long long v[10] = {0}, sum = 0;
	read_text("/proc/stat", buf, sizeof buf);
	sscanf(buf, "cpu %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3], &v[4],
	       &v[5], &v[6], &v[7], &v[8], &v[9]);
	for (int i = 0; i < 8; i++)
		sum += v[i];
	return sum;
}

static char state_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	read_text(path, buf, sizeof buf);
	char *p = strrchr(buf, ')');
	return p ? p[2] : '?';
}

/* A busy process runs (R), a sleeping one sleeps (S); /proc/stat's CPU
 * time goes on at the CPUs' count per tick; loadavg has its fields. */
static void states_and_load(void)
{
	pid_t busy = fork();
	if (busy == 0)
		for (;;)
			;
	pid_t idle = fork();
	if (idle == 0) {
		pause();
		_exit(0);
	}
	long long before = cpu_jiffies();
	usleep(500000);
	long long after = cpu_jiffies();
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	long long want = 50 * ncpu;
	CHECK("/proc/stat's jiffies advance with the CPUs", after - before > want / 2 && after - before < want * 2);
	SHOW("a busy process", "%c", state_of(busy));
	SHOW("a paused one", "%c", state_of(idle));
	kill(busy, SIGKILL);
	kill(idle, SIGKILL);
	waitpid(busy, NULL, 0);
	waitpid(idle, NULL, 0);
	char buf[128];
	double a, b, c;
	int run, all;
	read_text("/proc/loadavg", buf, sizeof buf);
	CHECK("loadavg's fields", sscanf(buf, "%lf %lf %lf %d/%d", &a, &b, &c, &run, &all) == 5 && run >= 1 && all >= run);
}

/* The Rss of one mapping in smaps, in kB (-1 when it is not there). */
static long smaps_rss(void *at)
{
	static char buf[1 << 18];
	int fd = open("/proc/self/smaps", O_RDONLY);
	ssize_t n = 0, r;
	while ((r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
		n += r;
	close(fd);
	buf[n] = 0;
	char head[32];
	snprintf(head, sizeof head, "%lx-", (unsigned long)at);
	char *p = strstr(buf, head);
	if (!p || !(p = strstr(p, "\nRss:")))
		return -1;
	return strtol(p + 5, NULL, 10);
}

/* Resident memory by mapping: a touched private mapping's pages in its
 * smaps entry, a shared one's in statm's shared count. */
static void resident(void)
{
	char *priv = mmap(NULL, 32 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *shr = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	for (int i = 0; i < 32; i++)
		priv[i * 4096] = 1;
	for (int i = 0; i < 16; i++)
		shr[i * 4096] = 1;
	SHOW("a touched 32-page private mapping's Rss", "%ld", smaps_rss(priv));
	SHOW("a touched 16-page shared mapping's Rss", "%ld", smaps_rss(shr));
	char buf[128];
	long size, res, shared;
	read_text("/proc/self/statm", buf, sizeof buf);
	CHECK("statm counts the shared pages", sscanf(buf, "%ld %ld %ld", &size, &res, &shared) == 3 && shared >= 16 && res >= 48);
	munmap(priv, 32 * 4096);
	munmap(shr, 16 * 4096);
}

int main(int argc, char **argv)
{
	resident();
	states_and_load();
	small_files();
	deleted_exe();
	int fd = open("/etc/passwd", O_RDONLY);
	char path[64], buf[256];
	lseek(fd, 7, SEEK_SET);
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	read_text(path, buf, sizeof buf);
	CHECK("fdinfo pos of a root file", strncmp(buf, "pos:\t7\n", 7) == 0);
	close(fd);
	thread_dir();
	attr();
	oom_adj();
	rollup();
	knobs();
	status_and_limits();
	title(argc, argv);
	return compat_done();
}
