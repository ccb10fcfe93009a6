/* PID namespaces (CLONE_NEWPID): unshare leaves the caller's own pid and
 * /proc/self/ns/pid alone and changes pid_for_children, which reads
 * ENOENT until the namespace has its init (Linux shows a namespace there
 * only once it has a child reaper); a second unshare before or after the
 * fork is EINVAL and so is a thread (pthread_create, clone(CLONE_THREAD));
 * the first child is pid 1 with getppid() 0, the next is 2, while fork,
 * waitpid and the parent's SIGCHLD si_pid give the outer pid; the same
 * through clone with a stack, raw clone and clone3. Inside: pids as the
 * namespace numbers them in waitpid, waitid and SIGCHLD, kill(1, 0)
 * works, kill of a number no process has there and kill(-1) are ESRCH;
 * init ignores SIGTERM and SIGKILL from inside (kill returns 0) and
 * default-action signals from outside, where SIGKILL kills it; a handled
 * signal from outside has si_pid 0; orphans go to init (or a subreaper
 * inside); init's exit SIGKILLs the rest, even a member whose parent is
 * outside (init's own children it reaps itself while exiting, so only
 * such members reach a subreaper outside), and later forks into the dead
 * namespace are ENOMEM, zombie init or reaped, until setns to our own
 * namespace resets pid_for_children; getpgrp/getsid are 0 until setsid;
 * NSpid/NStgid/NSsid in /proc/self/status; setns into a child's
 * namespace (and back, but not to an ancestor from inside);
 * NS_GET_PARENT; threads' tids; nesting. Run as root. */
#include "common.h"
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define NS_GET_PARENT 0xb702

/* A child starts counting its own failures; it exits with their count. */
static void begin(void)
{
	compat_failures = 0;
}



/* Runs fn in a child of its own (so its namespaces do not leak). */
static void scenario(const char *name, void (*fn)(void))
{
	printf("== %s\n", name);
	pid_t p = fork();
	if (p == 0) {
		begin();
		fn();
		compat_child_end();
	}
	compat_collect(p, name);
}

static void rl(const char *path, char *buf, size_t n)
{
	ssize_t r = readlink(path, buf, n - 1);
	buf[r > 0 ? r : 0] = 0;
}

/* The numbers of a "Key:\tA\tB..." line of /proc/<who>/status. */
static int status_ids(const char *path, const char *key, long *v, int max)
{
	char buf[8192];
	if (read_whole(path, buf, sizeof buf) < 0)
		return -1;
	char *l = strstr(buf, key);
	if (!l)
		return -1;
	l += strlen(key);
	int n = 0;
	while (*l && *l != '\n' && n < max) {
		char *e;
		long x = strtol(l, &e, 10);
		if (e == l)
			break;
		v[n++] = x;
		l = e;
	}
	return n;
}

/* fork(), the child leaving at once: fork's result, errno kept. */
static pid_t fork_probe(void)
{
	pid_t f = fork();
	if (f == 0)
		_exit(0);
	int e = errno;
	if (f > 0)
		waitpid(f, NULL, 0);
	errno = e;
	return f;
}

/* Polls cond every millisecond for up to 5 s. */
#define POLL_UNTIL(cond)                                                    \
	({                                                                  \
		int i_;                                                     \
		for (i_ = 0; i_ < 5000 && !(cond); i_++)                    \
			usleep(1000);                                       \
		(cond);                                                     \
	})

static void *nothing(void *a)
{
	return a;
}

/* For clone(CLONE_THREAD) calls that must fail: had one succeeded, the
 * thread would only exit. */
static char tstack[1 << 16];
static int thread_fn(void *a)
{
	(void)a;
	return 0;
}

/* ---------------------------------------------------------------- */

static char pfc_new[64];
static int outer_nspid_n;

static void unshare_init(int rd)
{
	pid_t g = 0;
	char buf[64];
	long v[8];
	begin();
	CHECK("init reads its outer pid", read(rd, &g, sizeof g) == sizeof g);
	CHECK("init reads the parent's pid_for_children", read(rd, pfc_new, sizeof pfc_new) == sizeof pfc_new);
	CHECK("init getpid() == 1", getpid() == 1);
	CHECK("init syscall(SYS_getpid) == 1", syscall(SYS_getpid) == 1);
	CHECK("init gettid() == 1", gettid() == 1);
	CHECK("init getppid() == 0", getppid() == 0);
	rl("/proc/self/ns/pid", buf, sizeof buf);
	CHECK("init ns/pid is the parent's pid_for_children", !strcmp(buf, pfc_new));
	rl("/proc/self/ns/pid_for_children", buf, sizeof buf);
	CHECK("init pid_for_children is its own ns/pid", !strcmp(buf, pfc_new));
	int n = status_ids("/proc/self/status", "\nNSpid:", v, 8);
	CHECK("init NSpid has one more level", n == outer_nspid_n + 1);
	CHECK("init NSpid ends in 1", n >= 2 && v[n - 1] == 1);
	CHECK("init NSpid outer value is fork's result", n >= 2 && v[n - 2] == g);
	n = status_ids("/proc/self/status", "\nNStgid:", v, 8);
	CHECK("init NStgid", n == outer_nspid_n + 1 && v[n - 1] == 1 && v[n - 2] == g);
	/* The process group and session leaders are outside. */
	CHECK("init getpgrp() == 0", getpgrp() == 0);
	CHECK("init getpgid(0) == 0", getpgid(0) == 0);
	CHECK("init getsid(0) == 0", getsid(0) == 0);
	n = status_ids("/proc/self/status", "\nNSsid:", v, 8);
	CHECK("init NSsid ends in 0", n == outer_nspid_n + 1 && v[n - 1] == 0);
	CHECK("init setsid() == 1", setsid() == 1);
	CHECK("init getsid(0) == 1", getsid(0) == 1);
	CHECK("init getpgrp() == 1", getpgrp() == 1);
	n = status_ids("/proc/self/status", "\nNSsid:", v, 8);
	CHECK("init NSsid after setsid", n == outer_nspid_n + 1 && v[n - 1] == 1 && v[n - 2] == g);

	pid_t d = fork();
	if (d == 0) {
		begin();
		CHECK("second process getpid() == 2", getpid() == 2);
		CHECK("second process getppid() == 1", getppid() == 1);
		CHECK("second process getsid(0) == 1", getsid(0) == 1);
		n = status_ids("/proc/self/status", "\nNSpid:", v, 8);
		CHECK("second process NSpid ends in 2", n == outer_nspid_n + 1 && v[n - 1] == 2);
		compat_child_end();
	}
	int st;
	pid_t w = waitpid(-1, &st, 0);
	CHECK("init's fork returns 2", d == 2);
	CHECK("init's waitpid returns 2", w == 2);
	compat_failures += WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	compat_child_end();
}

static void t_unshare(void)
{
	char pid_before[64], pfc_before[64], buf[64];
	long v[8];
	rl("/proc/self/ns/pid", pid_before, sizeof pid_before);
	rl("/proc/self/ns/pid_for_children", pfc_before, sizeof pfc_before);
	CHECK("pid_for_children is ns/pid at first", !strcmp(pid_before, pfc_before));
	outer_nspid_n = status_ids("/proc/self/status", "\nNSpid:", v, 8);
	CHECK("NSpid has a value", outer_nspid_n >= 1 && v[outer_nspid_n - 1] == getpid());
	pid_t me = getpid();
	CHECK("unshare(CLONE_NEWPID)", unshare(CLONE_NEWPID) == 0);
	CHECK("getpid() unchanged", getpid() == me);
	CHECK("syscall(SYS_getpid) unchanged", syscall(SYS_getpid) == me);
	CHECK("getppid() still visible", getppid() > 0);
	rl("/proc/self/ns/pid", buf, sizeof buf);
	CHECK("ns/pid unchanged", !strcmp(buf, pid_before));
	/* Until the namespace has its init, pid_for_children shows nothing. */
	EXPECT_ERR("readlink pid_for_children before the first fork",
		   readlink("/proc/self/ns/pid_for_children", buf, sizeof buf), ENOENT);
	EXPECT_ERR("open pid_for_children before the first fork", open("/proc/self/ns/pid_for_children", O_RDONLY),
		   ENOENT);
	CHECK("NSpid unchanged", status_ids("/proc/self/status", "\nNSpid:", v, 8) == outer_nspid_n);
	EXPECT_ERR("second unshare(CLONE_NEWPID)", unshare(CLONE_NEWPID), EINVAL);
	pthread_t t;
	EXPECT_RC("pthread_create after unshare", pthread_create(&t, NULL, nothing, NULL), EINVAL);
	EXPECT_ERR("clone(CLONE_THREAD) after unshare",
		   clone(thread_fn, tstack + sizeof tstack, CLONE_VM | CLONE_THREAD | CLONE_SIGHAND, NULL), EINVAL);

	int pp[2];
	CHECK("pipe", pipe(pp) == 0);
	pid_t c = fork();
	if (c == 0)
		unshare_init(pp[0]);
	CHECK("fork gives the outer pid, not 1", c > 1 && c != me);
	rl("/proc/self/ns/pid_for_children", pfc_new, sizeof pfc_new);
	CHECK("pid_for_children changed", strcmp(pfc_new, pfc_before) != 0 && !strncmp(pfc_new, "pid:[", 5));
	struct stat a, b;
	CHECK("pid and pid_for_children inodes differ",
	      stat("/proc/self/ns/pid", &a) == 0 && stat("/proc/self/ns/pid_for_children", &b) == 0 &&
		      a.st_ino != b.st_ino && a.st_dev == b.st_dev);
	/* Nothing printed from here until init is done. */
	int sent = write(pp[1], &c, sizeof c) == sizeof c && write(pp[1], pfc_new, sizeof pfc_new) == sizeof pfc_new;
	siginfo_t si = {0};
	int w = waitid(P_PID, c, &si, WEXITED | WNOWAIT);
	CHECK("send the outer pid and pid_for_children", sent);
	CHECK("waitid WNOWAIT sees init exit", w == 0 && si.si_pid == c);
	/* init is a zombie: the namespace takes no more processes. */
	EXPECT_ERR("fork into the namespace after init died (zombie)", fork_probe(), ENOMEM);
	compat_collect(c, "init");
	EXPECT_ERR("fork into the namespace after init was reaped", fork_probe(), ENOMEM);
	rl("/proc/self/ns/pid_for_children", buf, sizeof buf);
	CHECK("pid_for_children still the dead namespace", !strcmp(buf, pfc_new));
	EXPECT_ERR("unshare again while pid_for_children differs", unshare(CLONE_NEWPID), EINVAL);
	/* setns to our own namespace puts pid_for_children back. */
	int self = open("/proc/self/ns/pid", O_RDONLY);
	CHECK("setns(own ns/pid, CLONE_NEWPID)", setns(self, CLONE_NEWPID) == 0);
	rl("/proc/self/ns/pid_for_children", buf, sizeof buf);
	CHECK("pid_for_children back to ns/pid", !strcmp(buf, pid_before));
	pid_t f = fork_probe();
	CHECK("fork works again, outer pid", f > 1);
	CHECK("pthread_create works again", pthread_create(&t, NULL, nothing, NULL) == 0 && pthread_join(t, NULL) == 0);
	CHECK("unshare(CLONE_NEWPID) again", unshare(CLONE_NEWPID) == 0);
	c = fork();
	if (c == 0) {
		begin();
		CHECK("init of the second namespace is pid 1", getpid() == 1 && getppid() == 0);
		compat_child_end();
	}
	compat_collect(c, "second init");
}

/* ---------------------------------------------------------------- */

static int clone_fn(void *arg)
{
	(void)arg;
	begin();
	CHECK("clone child getpid() == 1", getpid() == 1);
	CHECK("clone child getppid() == 0", getppid() == 0);
	pid_t d = fork();
	if (d == 0) {
		begin();
		CHECK("clone grandchild getpid() == 2 getppid() == 1", getpid() == 2 && getppid() == 1);
		compat_child_end();
	}
	compat_collect(d, "clone grandchild");
	CHECK("clone child's fork returned 2", d == 2);
	return compat_failures;
}

static void t_clone(void)
{
	char pid_before[64], pfc[64];
	rl("/proc/self/ns/pid", pid_before, sizeof pid_before);
	static char stack[1 << 16];
	pid_t c = clone(clone_fn, stack + sizeof stack, CLONE_NEWPID | SIGCHLD, NULL);
	rl("/proc/self/ns/pid_for_children", pfc, sizeof pfc);
	int st;
	pid_t w = waitpid(c, &st, 0);
	CHECK("clone(CLONE_NEWPID) with a stack", c > 1);
	CHECK("clone leaves the caller's pid_for_children", !strcmp(pfc, pid_before));
	CHECK("waitpid returns clone's value", w == c);
	compat_failures += WIFEXITED(st) ? WEXITSTATUS(st) : 1;

	c = syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0);
	if (c == 0) {
		begin();
		CHECK("raw clone child getpid() == 1", getpid() == 1 && syscall(SYS_getpid) == 1);
		CHECK("raw clone child getppid() == 0", getppid() == 0);
		compat_child_end();
	}
	w = waitpid(c, &st, 0);
	CHECK("raw clone(CLONE_NEWPID)", c > 1);
	CHECK("waitpid returns raw clone's value", w == c);
	compat_failures += WIFEXITED(st) ? WEXITSTATUS(st) : 1;

	struct clone_args ca = {.flags = CLONE_NEWPID, .exit_signal = SIGCHLD};
	c = syscall(SYS_clone3, &ca, sizeof ca);
	if (c == 0) {
		begin();
		CHECK("clone3 child getpid() == 1 getppid() == 0", getpid() == 1 && getppid() == 0);
		compat_child_end();
	}
	w = waitpid(c, &st, 0);
	CHECK("clone3(CLONE_NEWPID)", c > 1);
	CHECK("waitpid returns clone3's value", w == c);
	compat_failures += WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	/* Threads may not start a namespace. */
	EXPECT_ERR("clone(CLONE_THREAD | CLONE_NEWPID)",
		   clone(thread_fn, tstack + sizeof tstack, CLONE_VM | CLONE_THREAD | CLONE_SIGHAND | CLONE_NEWPID, NULL),
		   EINVAL);
}

/* ---------------------------------------------------------------- */

static volatile sig_atomic_t chld_pid = -1, chld_code, usr1_pid = -1;
static void on_chld(int s, siginfo_t *si, void *u)
{
	(void)s, (void)u;
	chld_code = si->si_code;
	chld_pid = si->si_pid;
}
static void on_usr1(int s, siginfo_t *si, void *u)
{
	(void)s, (void)u;
	usr1_pid = si->si_pid;
}
static void handle(int sig, void (*fn)(int, siginfo_t *, void *))
{
	struct sigaction sa = {.sa_sigaction = fn, .sa_flags = SA_SIGINFO | SA_RESTART};
	sigaction(sig, &sa, NULL);
}

static void signals_init(int rd, int wr, pid_t outer)
{
	begin();
	handle(SIGCHLD, on_chld);
	handle(SIGUSR1, on_usr1);
	pid_t a = fork();
	if (a == 0) {
		begin();
		CHECK("kill(1, 0) from pid 2", kill(1, 0) == 0);
		CHECK("kill(2, 0) self", kill(2, 0) == 0);
		EXPECT_ERR("kill(999, 0) from inside", kill(999, 0), ESRCH);
		/* The outer parent's number means whatever it means here. */
		CHECK("kill(outer pid, 0) from inside as a local pid",
		      (kill(outer, 0) == 0) == (outer == 1 || outer == 2));
		EXPECT_ERR("kill(-1, 0) from inside: no one but init and self", kill(-1, 0), ESRCH);
		CHECK("kill(1, SIGTERM) from inside returns 0", kill(1, SIGTERM) == 0);
		CHECK("kill(1, SIGKILL) from inside returns 0", kill(1, SIGKILL) == 0);
		CHECK("kill(1, SIGUSR1) from inside (handled)", kill(1, SIGUSR1) == 0);
		compat_child_end();
	}
	int st;
	CHECK("init waitpid returns local pid 2", waitpid(a, &st, 0) == 2 && a == 2);
	compat_failures += WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	CHECK("init survived SIGTERM and SIGKILL from inside", getpid() == 1);
	CHECK("SIGCHLD si_pid is the local pid 2", POLL_UNTIL(chld_pid != -1) && chld_pid == 2 && chld_code == CLD_EXITED);
	CHECK("SIGUSR1 from pid 2 has si_pid 2", POLL_UNTIL(usr1_pid != -1) && usr1_pid == 2);

	chld_pid = -1;
	pid_t b = fork();
	if (b == 0)
		_exit(5);
	siginfo_t si = {0};
	CHECK("waitid", waitid(P_ALL, 0, &si, WEXITED) == 0);
	CHECK("waitid si_pid is the local pid 3", si.si_pid == 3 && b == 3);
	CHECK("waitid si_code CLD_EXITED si_status 5", si.si_code == CLD_EXITED && si.si_status == 5);
	CHECK("SIGCHLD si_pid is the local pid 3", POLL_UNTIL(chld_pid != -1) && chld_pid == 3);

	/* Signals from the outside. */
	usr1_pid = -1;
	char x = 0;
	/* The outer process prints while we wait. */
	int told = write(wr, &x, 1) == 1;
	int heard = read(rd, &x, 1) == 1;
	CHECK("init tells outer it is ready", told);
	CHECK("init hears outer is done", heard);
	CHECK("SIGUSR1 from outside has si_pid 0", POLL_UNTIL(usr1_pid != -1) && usr1_pid == 0);
	CHECK("init survived SIGTERM from outside", getpid() == 1);
	x = compat_failures;
	write(wr, &x, 1);
	for (;;)
		pause();
}

static void t_signals(void)
{
	int down[2], up[2];
	pid_t me = getpid();
	CHECK("pipes", pipe(down) == 0 && pipe(up) == 0);
	handle(SIGCHLD, on_chld);
	CHECK("unshare(CLONE_NEWPID)", unshare(CLONE_NEWPID) == 0);
	pid_t c = fork();
	if (c == 0)
		signals_init(down[0], up[1], me);
	char x;
	CHECK("init ready", read(up[0], &x, 1) == 1);
	CHECK("kill(init, SIGTERM) from outside returns 0", kill(c, SIGTERM) == 0);
	CHECK("kill(init, SIGUSR1) from outside returns 0", kill(c, SIGUSR1) == 0);
	/* init prints until it sends its result. */
	int told = write(down[1], &x, 1) == 1;
	x = 100;
	int got = read(up[0], &x, 1) == 1;
	CHECK("tell init", told);
	CHECK("init's result", got);
	compat_failures += x;
	CHECK("init still alive", kill(c, 0) == 0);
	chld_pid = -1;
	CHECK("kill(init, SIGKILL) from outside", kill(c, SIGKILL) == 0);
	int st;
	CHECK("waitpid(init)", waitpid(c, &st, 0) == c);
	CHECK("init killed by SIGKILL", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	CHECK("outer SIGCHLD si_pid is the outer pid", POLL_UNTIL(chld_pid != -1) && chld_pid == c);
	CHECK("outer SIGCHLD si_code CLD_KILLED", chld_code == CLD_KILLED);
}

/* ---------------------------------------------------------------- */

static void orphan_init(void)
{
	int p[2];
	begin();
	pipe(p);
	pid_t a = fork();
	if (a == 0) {
		pid_t b = fork();
		if (b == 0) {
			char x = 0;
			begin();
			close(p[0]);
			CHECK("B getpid() == 3 getppid() == 2", getpid() == 3 && getppid() == 2);
			write(p[1], &x, 1);
			CHECK("B reparented to init", POLL_UNTIL(getppid() == 1));
			compat_child_end();
		}
		char x;
		read(p[0], &x, 1);
		_exit(b == 3 ? 0 : 1);
	}
	close(p[1]);
	close(p[0]);
	int st, st2;
	pid_t r1 = waitpid(a, &st, 0);
	pid_t r2 = waitpid(-1, &st2, 0);
	CHECK("init reaps A (2)", r1 == 2 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK("init reaps orphan B (3)", r2 == 3 && WIFEXITED(st2));
	compat_failures += WIFEXITED(st2) ? WEXITSTATUS(st2) : 1;

	/* A subreaper inside the namespace takes orphans first. */
	pipe(p);
	pid_t s = fork();
	if (s == 0) {
		begin();
		CHECK("subreaper pid 4", getpid() == 4);
		CHECK("PR_SET_CHILD_SUBREAPER", prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
		a = fork();
		if (a == 0) {
			pid_t b = fork();
			if (b == 0) {
				char x = 0;
				begin();
				close(p[0]);
				write(p[1], &x, 1);
				CHECK("orphan goes to the subreaper (4)", POLL_UNTIL(getppid() != 5) && getppid() == 4);
				compat_child_end();
			}
			char x;
			read(p[0], &x, 1);
			_exit(0);
		}
		close(p[0]);
		close(p[1]);
		r1 = waitpid(a, &st, 0);
		r2 = waitpid(-1, &st2, 0);
		CHECK("subreaper reaps 5 then 6", r1 == 5 && r2 == 6);
		compat_failures += WIFEXITED(st2) ? WEXITSTATUS(st2) : 1;
		compat_child_end();
	}
	close(p[0]);
	close(p[1]);
	compat_collect(s, "subreaper");
	EXPECT_ERR("init has no children left", waitpid(-1, NULL, WNOHANG), ECHILD);
	compat_child_end();
}

static void t_orphans(void)
{
	CHECK("unshare(CLONE_NEWPID)", unshare(CLONE_NEWPID) == 0);
	pid_t c = fork();
	if (c == 0)
		orphan_init();
	compat_collect(c, "init");
}

/* ---------------------------------------------------------------- */

static void t_init_exit(void)
{
	int p[2], go[2], go2[2];
	char x = 0;
	CHECK("pipes", pipe(p) == 0 && pipe(go) == 0 && pipe(go2) == 0);
	/* A subreaper, yet init's own child never comes here. */
	CHECK("PR_SET_CHILD_SUBREAPER", prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	CHECK("unshare(CLONE_NEWPID)", unshare(CLONE_NEWPID) == 0);
	pid_t c = fork();
	if (c == 0) {
		pid_t k = fork();
		if (k == 0) {
			/* Holds p[1] open until killed. */
			for (;;)
				pause();
		}
		close(p[1]);
		write(go[1], &x, 1);
		read(go2[0], &x, 1);
		_exit(k == 2 ? 0 : 1);
	}
	close(p[1]);
	CHECK("init started its child", read(go[0], &x, 1) == 1);
	/* A member whose parent is outside: us. */
	pid_t m = fork();
	if (m == 0) {
		for (;;)
			pause();
	}
	CHECK("outer member forked into the namespace", m > 1);
	CHECK("let init exit", write(go2[1], &x, 1) == 1);
	int st;
	CHECK("outer member killed by SIGKILL when init exits",
	      waitpid(m, &st, 0) == m && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	CHECK("init exited normally", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK("init's child is gone (pipe EOF)", read(p[0], &x, 1) == 0);
	EXPECT_ERR("init's child was not handed to us", waitpid(-1, NULL, WNOHANG), ECHILD);
	EXPECT_ERR("fork after the namespace died", fork_probe(), ENOMEM);
}

/* The namespace's processes handed to a subreaper outside when the
 * process that made it exits; init's exit kills the other one. */
static void t_subreaper(void)
{
	int go[2], ready[2];
	char x = 0;
	CHECK("PR_SET_CHILD_SUBREAPER", prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	CHECK("pipes", pipe(go) == 0 && pipe(ready) == 0);
	pid_t q = fork();
	if (q == 0) {
		if (unshare(CLONE_NEWPID))
			_exit(1);
		pid_t i = fork();
		if (i == 0) {
			read(go[0], &x, 1);
			_exit(0);
		}
		pid_t m = fork();
		if (m == 0) {
			write(ready[1], &x, 1);
			for (;;)
				pause();
		}
		read(ready[0], &x, 1);
		_exit(0);
	}
	int st, normal = 0, killed = 0, other = 0;
	CHECK("maker exits", waitpid(q, &st, 0) == q && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK("tell init to exit", write(go[1], &x, 1) == 1);
	for (int k = 0; k < 2; k++) {
		pid_t r = waitpid(-1, &st, 0);
		if (r <= 0)
			other++;
		else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			normal++;
		else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			killed++;
		else
			other++;
	}
	CHECK("subreaper reaps init (exited) and member (SIGKILL)", normal == 1 && killed == 1 && other == 0);
	EXPECT_ERR("nothing more to reap", waitpid(-1, NULL, WNOHANG), ECHILD);
}

/* ---------------------------------------------------------------- */

static unsigned long fd_ino(int fd)
{
	struct stat st;
	return fd >= 0 && fstat(fd, &st) == 0 ? st.st_ino : 0;
}

static void t_setns(void)
{
	int go[2];
	char x = 0, cns[64], own[64], buf[64], path[64];
	CHECK("pipe", pipe(go) == 0);
	pid_t c = syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0);
	if (c == 0) {
		begin();
		close(go[1]);
		read(go[0], &x, 1);
		EXPECT_ERR("init: setns-made member is not its child", waitpid(-1, NULL, WNOHANG), ECHILD);
		int pf = open("/proc/self/ns/pid", O_RDONLY);
		EXPECT_ERR("NS_GET_PARENT of own namespace from inside", ioctl(pf, NS_GET_PARENT), EPERM);
		compat_child_end();
	}
	close(go[0]);
	rl("/proc/self/ns/pid", own, sizeof own);
	snprintf(path, sizeof path, "/proc/%d/ns/pid", c);
	rl(path, cns, sizeof cns);
	CHECK("child's ns differs", strcmp(own, cns) != 0);
	int cfd = open(path, O_RDONLY);
	int self = open("/proc/self/ns/pid", O_RDONLY);
	int par = ioctl(cfd, NS_GET_PARENT);
	CHECK("NS_GET_PARENT of the child's ns is ours", par >= 0 && fd_ino(par) == fd_ino(self));
	EXPECT_ERR("NS_GET_PARENT of the first namespace", ioctl(self, NS_GET_PARENT), EPERM);
	pid_t h = fork();
	if (h == 0) {
		begin();
		pid_t me = getpid();
		CHECK("setns(child's ns/pid, CLONE_NEWPID)", setns(cfd, CLONE_NEWPID) == 0);
		CHECK("getpid() unchanged after setns", getpid() == me);
		rl("/proc/self/ns/pid", buf, sizeof buf);
		CHECK("ns/pid unchanged after setns", !strcmp(buf, own));
		rl("/proc/self/ns/pid_for_children", buf, sizeof buf);
		CHECK("pid_for_children is the child's ns", !strcmp(buf, cns));
		EXPECT_ERR("unshare(CLONE_NEWPID) after setns", unshare(CLONE_NEWPID), EINVAL);
		pid_t k = fork();
		if (k == 0) {
			long v[8];
			begin();
			CHECK("member getpid() == 2", getpid() == 2);
			CHECK("member getppid() == 0", getppid() == 0);
			int n = status_ids("/proc/self/status", "\nNSpid:", v, 8);
			CHECK("member NSpid ends in 2", n >= 2 && v[n - 1] == 2);
			CHECK("member sees init", kill(1, 0) == 0);
			EXPECT_ERR("member setns to the ancestor namespace", setns(self, CLONE_NEWPID), EINVAL);
			CHECK("member setns to its own namespace", setns(cfd, CLONE_NEWPID) == 0);
			compat_child_end();
		}
		compat_collect(k, "member");
		CHECK("fork after setns gives an outer pid", k > 1);
		CHECK("setns back to our own namespace", setns(self, CLONE_NEWPID) == 0);
		rl("/proc/self/ns/pid_for_children", buf, sizeof buf);
		CHECK("pid_for_children is ours again", !strcmp(buf, own));
		compat_child_end();
	}
	compat_collect(h, "setns helper");
	int released = write(go[1], &x, 1) == 1;
	compat_collect(c, "init");
	CHECK("release init", released);
	EXPECT_ERR("setns with a pid ns fd and CLONE_NEWNET", setns(cfd, CLONE_NEWNET), EINVAL);
}

/* ---------------------------------------------------------------- */

static volatile pid_t thread_tid, thread_pid;
static void *tid_thread(void *a)
{
	thread_tid = gettid();
	thread_pid = getpid();
	return a;
}

static void t_threads(void)
{
	CHECK("unshare(CLONE_NEWPID)", unshare(CLONE_NEWPID) == 0);
	pid_t c = fork();
	if (c == 0) {
		pthread_t t;
		begin();
		CHECK("init gettid() == getpid() == 1", gettid() == 1 && getpid() == 1);
		CHECK("pthread_create in init", pthread_create(&t, NULL, tid_thread, NULL) == 0);
		pthread_join(t, NULL);
		CHECK("thread gettid() == 2", thread_tid == 2);
		CHECK("thread getpid() == 1", thread_pid == 1);
		pid_t d = fork();
		if (d == 0) {
			begin();
			CHECK("fork after a thread gets 3", getpid() == 3);
			compat_child_end();
		}
		compat_collect(d, "fork after thread");
		compat_child_end();
	}
	compat_collect(c, "init");
}

/* ---------------------------------------------------------------- */

static void t_nested(void)
{
	long v[8];
	int n0 = status_ids("/proc/self/status", "\nNSpid:", v, 8);
	CHECK("unshare(CLONE_NEWPID)", unshare(CLONE_NEWPID) == 0);
	pid_t c = fork();
	if (c == 0) {
		begin();
		CHECK("level 1 unshare(CLONE_NEWPID)", unshare(CLONE_NEWPID) == 0);
		pid_t d = fork();
		if (d == 0) {
			begin();
			CHECK("level 2 getpid() == 1 getppid() == 0", getpid() == 1 && getppid() == 0);
			int n = status_ids("/proc/self/status", "\nNSpid:", v, 8);
			CHECK("level 2 NSpid has two more levels", n == n0 + 2);
			CHECK("level 2 NSpid ends in 2 1", n >= 3 && v[n - 2] == 2 && v[n - 1] == 1);
			int pf = open("/proc/self/ns/pid", O_RDONLY);
			EXPECT_ERR("level 2 NS_GET_PARENT", ioctl(pf, NS_GET_PARENT), EPERM);
			compat_child_end();
		}
		int pf = open("/proc/self/ns/pid_for_children", O_RDONLY);
		int par = ioctl(pf, NS_GET_PARENT);
		int own = open("/proc/self/ns/pid", O_RDONLY);
		compat_collect(d, "level 2");
		CHECK("level 1 sees level 2 init as 2", d == 2);
		CHECK("level 1 NS_GET_PARENT of level 2 is level 1", par >= 0 && fd_ino(par) == fd_ino(own));
		compat_child_end();
	}
	compat_collect(c, "level 1");
}

int main(void)
{
	alarm(30);
	scenario("unshare", t_unshare);
	scenario("clone", t_clone);
	scenario("signals", t_signals);
	scenario("orphans", t_orphans);
	scenario("init exit", t_init_exit);
	scenario("subreaper", t_subreaper);
	scenario("setns", t_setns);
	scenario("threads", t_threads);
	scenario("nested", t_nested);
	return compat_done();
}
