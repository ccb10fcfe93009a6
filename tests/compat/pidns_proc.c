/* /proc in a PID namespace: after unshare(CLONE_NEWPID | CLONE_NEWNS)
 * the first child makes the mounts private and mounts a proc of its own
 * on /proc. That proc numbers processes as the namespace does:
 * /proc/self is "1", /proc/thread-self "1/task/1", the listing holds 1
 * and then 2 after a fork, /proc/N/stat and /proc/N/status give ppid
 * (0 for init, whose parent is outside), pgrp and session 0 while the
 * leaders are outside, NSpid with one value (the mount's level down),
 * no entry for processes outside the namespace, ns_last_pid the last
 * local pid (and writing it picks the next one). A process outside the
 * namespace reading that proc has no /proc/self (ENOENT) but sees init
 * as /proc/1; once init is gone the proc lists no process. Run as root. */
#include "common.h"
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

static void begin(void)
{
	compat_failures = 0;
}



static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The numeric entries of /proc, sorted, as "1 2 ..." ("" for none). */
static const char *proc_pids(void)
{
	static char out[256];
	int v[64], n = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	out[0] = 0;
	if (!d)
		return "opendir failed";
	while ((e = readdir(d)) && n < 64) {
		char *end;
		long x = strtol(e->d_name, &end, 10);
		if (*e->d_name && !*end)
			v[n++] = x;
	}
	closedir(d);
	qsort(v, n, sizeof v[0], cmp_int);
	if (n == 0)
		return "(none)";
	for (int i = 0; i < n; i++)
		snprintf(out + strlen(out), sizeof out - strlen(out), "%s%d", i ? " " : "", v[i]);
	return out;
}

/* Fields 4, 5, 6 (ppid, pgrp, session) of /proc/<pid>/stat, as
 * "ppid pgrp session". */
static const char *stat_ids(int pid)
{
	static char out[64];
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if (read_text(path, buf, sizeof buf) <= 0)
		return ename(errno);
	char *p = strrchr(buf, ')');
	int ppid, pgrp, sid;
	if (!p || sscanf(p + 1, " %*c %d %d %d", &ppid, &pgrp, &sid) != 3)
		return "unparsed";
	snprintf(out, sizeof out, "%d %d %d", ppid, pgrp, sid);
	return out;
}

/* The value of a "Key:\t..." line of /proc/<pid>/status, tabs as spaces. */
static const char *status_line(const char *who, const char *key)
{
	static char out[128];
	char path[64], buf[8192], k[32];
	snprintf(path, sizeof path, "/proc/%s/status", who);
	if (read_whole(path, buf, sizeof buf) < 0)
		return ename(errno);
	snprintf(k, sizeof k, "\n%s:\t", key);
	char *p = strstr(buf, k);
	if (!p)
		return "missing";
	p += strlen(k);
	size_t n = strcspn(p, "\n");
	snprintf(out, sizeof out, "%.*s", (int)n, p);
	for (char *c = out; *c; c++)
		if (*c == '\t')
			*c = ' ';
	return out;
}

static const char *link_of(const char *path)
{
	static char out[128];
	ssize_t r = readlink(path, out, sizeof out - 1);
	if (r < 0)
		return ename(errno);
	out[r] = 0;
	return out;
}

/* /proc/sys/kernel/ns_last_pid without its newline. */
static const char *last_pid(void)
{
	static char buf[32];
	if (read_text("/proc/sys/kernel/ns_last_pid", buf, sizeof buf) < 0)
		return ename(errno);
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

static int exists(pid_t p)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof path, "/proc/%d", p);
	return stat(path, &st) == 0;
}

static int put(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	int r = fd < 0 ? -1 : write(fd, s, strlen(s));
	int e = errno;
	if (fd >= 0)
		close(fd);
	errno = e;
	return r < 0 ? -1 : 0;
}

static void init(pid_t outer, int rd, int wr)
{
	char x = 0;
	int hold[2];
	pid_t g = 0;
	begin();
	CHECK("init reads its outer pid", read(rd, &g, sizeof g) == sizeof g);
	CHECK("make mounts private", mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	CHECK("mount proc", mount("proc", "/proc", "proc", 0, NULL) == 0);
	SHOW("readlink /proc/self", "%s", link_of("/proc/self"));
	SHOW("readlink /proc/thread-self", "%s", link_of("/proc/thread-self"));
	SHOW("pids", "%s", proc_pids());
	SHOW("/proc/1/task", "%s", (chdir("/proc/1/task") == 0 && chdir("/") == 0) ? "dir" : ename(errno));
	SHOW("/proc/1/stat ppid pgrp session", "%s", stat_ids(1));
	SHOW("/proc/self/status Pid", "%s", status_line("self", "Pid"));
	SHOW("/proc/self/status Tgid", "%s", status_line("self", "Tgid"));
	SHOW("/proc/1/status PPid", "%s", status_line("1", "PPid"));
	SHOW("/proc/1/status NSpid", "%s", status_line("1", "NSpid"));
	SHOW("/proc/1/status NStgid", "%s", status_line("1", "NStgid"));
	SHOW("/proc/1/status NSsid", "%s", status_line("1", "NSsid"));
	CHECK("outer process absent", exists(outer) == (outer == 1));
	CHECK("own outer pid absent", exists(g) == (g == 1));
	SHOW("ns_last_pid", "%s", last_pid());

	CHECK("pipe", pipe(hold) == 0);
	pid_t s = fork();
	if (s == 0) {
		close(hold[1]);
		read(hold[0], &x, 1);
		_exit(0);
	}
	close(hold[0]);
	CHECK("fork returns 2", s == 2);
	SHOW("pids after fork", "%s", proc_pids());
	SHOW("/proc/2/stat ppid pgrp session", "%s", stat_ids(2));
	SHOW("/proc/2/status PPid", "%s", status_line("2", "PPid"));
	SHOW("/proc/2/status NSpid", "%s", status_line("2", "NSpid"));
	SHOW("ns_last_pid after fork", "%s", last_pid());
	CHECK("outer process still absent", exists(outer) == (outer == 1 || outer == 2));
	CHECK("setsid", setsid() == 1);
	SHOW("/proc/1/stat after setsid", "%s", stat_ids(1));
	SHOW("/proc/1/status NSsid after setsid", "%s", status_line("1", "NSsid"));
	/* The child is still in the outer session and process group. */
	SHOW("/proc/2/stat after init's setsid", "%s", stat_ids(2));

	close(hold[1]);
	int st;
	CHECK("reap 2", waitpid(s, &st, 0) == 2 && WIFEXITED(st));
	struct stat sb;
	EXPECT_ERR("/proc/2 after it was reaped", stat("/proc/2", &sb), ENOENT);
	SHOW("pids after reaping", "%s", proc_pids());

	CHECK("write 9 to ns_last_pid", put("/proc/sys/kernel/ns_last_pid", "9") == 0);
	SHOW("ns_last_pid after the write", "%s", last_pid());
	s = fork();
	if (s == 0)
		_exit(getpid() == 10 ? 0 : 1);
	CHECK("next fork is 10", s == 10 && waitpid(s, &st, 0) == 10 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	SHOW("ns_last_pid after that fork", "%s", last_pid());

	/* The outer process looks at this proc now. */
	int told = write(wr, &x, 1) == 1;
	int heard = read(rd, &x, 1) == 1;
	CHECK("init hands over", told && heard);
	compat_child_end();
}

static void scenario(void)
{
	int down[2], up[2];
	char x = 0;
	pid_t outer = getpid();
	CHECK("pipes", pipe(down) == 0 && pipe(up) == 0);
	CHECK("unshare(CLONE_NEWPID | CLONE_NEWNS)", unshare(CLONE_NEWPID | CLONE_NEWNS) == 0);
	pid_t c = fork();
	if (c == 0)
		init(outer, down[0], up[1]);
	int sent = write(down[1], &c, sizeof c) == sizeof c;
	int ready = read(up[0], &x, 1) == 1;
	CHECK("outer sends init's pid", sent);
	CHECK("init ready", ready);
	/* The outer process is not in the namespace of this proc. */
	SHOW("outside: readlink /proc/self", "%s", link_of("/proc/self"));
	SHOW("outside: pids", "%s", proc_pids());
	SHOW("outside: /proc/1/status Pid", "%s", status_line("1", "Pid"));
	SHOW("outside: /proc/1/stat ppid pgrp session", "%s", stat_ids(1));
	CHECK("outside: own pid absent", exists(outer) == (outer == 1));
	int done = write(down[1], &x, 1) == 1;
	compat_collect(c, "init");
	CHECK("release init", done);
	SHOW("outside after init exited: pids", "%s", proc_pids());
	SHOW("outside after init exited: /proc/self", "%s", link_of("/proc/self"));
}

int main(void)
{
	alarm(30);
	pid_t p = fork();
	if (p == 0) {
		begin();
		scenario();
		compat_child_end();
	}
	compat_collect(p, "scenario");
	return compat_done();
}
