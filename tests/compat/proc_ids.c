/* Sessions, process groups, prctl, umask, rlimits, credentials. */
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define NOPID 0x3fffffff

static volatile sig_atomic_t got_usr1;
static void on_usr1(int s) { (void)s; got_usr1 = 1; }

static int child_status(pid_t p)
{
	int st;
	if (waitpid(p, &st, 0) != p)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(void)
{
	pid_t me = getpid();

	/* Session and group leadership in a child (never a leader at fork). */
	pid_t p = fork();
	if (p == 0) {
		int bad = 0;
		pid_t self = getpid();
		if (getpgid(0) == self) bad |= 1;   /* not a group leader yet */
		if (setsid() != self) bad |= 2;
		if (getsid(0) != self) bad |= 4;
		if (getpgid(0) != self) bad |= 8;
		if (getpgrp() != self) bad |= 16;
		if (setsid() != -1 || errno != EPERM) bad |= 32;
		if (setpgid(0, 0) != -1 || errno != EPERM) bad |= 64; /* session leader */
		_exit(bad);
	}
	SHOW("setsid_child_bits", "%d", child_status(p));

	p = fork();
	if (p == 0) {
		int bad = 0;
		pid_t self = getpid();
		pid_t sid = getsid(0);
		if (setpgid(0, 0) != 0) bad |= 1;
		if (getpgid(0) != self) bad |= 2;
		if (getsid(0) != sid) bad |= 4; /* same session */
		if (setpgid(0, NOPID) != -1 || errno != EPERM) bad |= 8;
		if (setpgid(0, -1) != -1 || errno != EINVAL) bad |= 16;
		if (setpgid(NOPID, 0) != -1 || errno != ESRCH) bad |= 32;
		_exit(bad);
	}
	SHOW("setpgid_child_bits", "%d", child_status(p));

	/* Parent moves a child into its own group; kill(-pgid) reaches it. */
	int gate[2];
	pipe(gate);
	p = fork();
	if (p == 0) {
		char c;
		close(gate[1]);
		read(gate[0], &c, 1);
		pause();
		_exit(0);
	}
	close(gate[0]);
	CHECK("setpgid_parent_sets_child", setpgid(p, p) == 0);
	CHECK("getpgid_child", getpgid(p) == p);
	CHECK("getsid_child_same_session", getsid(p) == getsid(0));
	write(gate[1], "x", 1);
	CHECK("kill_process_group", kill(-p, SIGTERM) == 0);
	SHOW("kill_process_group_status", "%d", child_status(p));
	close(gate[1]);

	EXPECT_ERR("getpgid_esrch", getpgid(NOPID), ESRCH);
	EXPECT_ERR("getsid_esrch", getsid(NOPID), ESRCH);
	EXPECT_ERR("kill_esrch", kill(NOPID, 0), ESRCH);
	CHECK("kill_self_sig0", kill(me, 0) == 0);

	/* prctl names. */
	char name[32] = {0};
	CHECK("pr_set_name", prctl(PR_SET_NAME, "husk-compat-name-long", 0, 0, 0) == 0);
	CHECK("pr_get_name", prctl(PR_GET_NAME, name, 0, 0, 0) == 0);
	printf("pr_get_name_value %s\n", name);
	int cfd = open("/proc/self/comm", O_RDONLY);
	char comm[32] = {0};
	if (cfd >= 0) {
		read(cfd, comm, sizeof(comm) - 1);
		close(cfd);
	}
	printf("proc_comm %s", comm);
	EXPECT_ERR("pr_get_name_efault", prctl(PR_GET_NAME, BADPTR, 0, 0, 0), EFAULT);
	EXPECT_ERR("prctl_bad_option", prctl(0x7fff1234, 0, 0, 0, 0), EINVAL);
	SHOW("pr_get_dumpable", "%d", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
	CHECK("pr_set_no_new_privs", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	SHOW("pr_get_no_new_privs", "%d", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));

	/* PR_SET_PDEATHSIG + child subreaper. */
	CHECK("pr_set_child_subreaper", prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0);
	int ready[2];
	pipe(ready);
	pid_t mid = fork();
	pid_t grand = 0;
	if (mid == 0) {
		pid_t g = fork();
		if (g == 0) {
			signal(SIGUSR1, on_usr1);
			sigset_t block, old;
			sigemptyset(&block);
			sigaddset(&block, SIGUSR1);
			sigprocmask(SIG_BLOCK, &block, &old);
			prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0);
			int sig = 0;
			prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0);
			write(ready[1], &sig, sizeof(sig));
			alarm(10);
			while (!got_usr1)
				sigsuspend(&old);
			_exit(getppid() == me ? 0 : 1);
		}
		int sig;
		read(ready[0], &sig, sizeof(sig));
		write(ready[1], &g, sizeof(g));
		write(ready[1], &sig, sizeof(sig));
		_exit(0);
	}
	int sig = 0;
	SHOW("pdeathsig_mid_status", "%d", child_status(mid));
	read(ready[0], &grand, sizeof(grand));
	read(ready[0], &sig, sizeof(sig));
	CHECK("pr_get_pdeathsig", sig == SIGUSR1);
	SHOW("pdeathsig_grandchild_reparented_status", "%d", child_status(grand));

	/* umask. */
	mode_t old = umask(022);
	(void)old;
	SHOW("umask_prev", "%03o", umask(077));
	umask(01777);
	SHOW("umask_masked", "%03o", umask(022));

	/* rlimits. */
	struct rlimit rl, rl2;
	CHECK("getrlimit_nofile", getrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHECK("rlimit_soft_le_hard", rl.rlim_cur <= rl.rlim_max);
	rl2 = rl;
	rl2.rlim_cur = 16;
	CHECK("setrlimit_nofile_16", setrlimit(RLIMIT_NOFILE, &rl2) == 0);
	getrlimit(RLIMIT_NOFILE, &rl2);
	SHOW("getrlimit_nofile_now", "%ld", (long)rl2.rlim_cur);
	int fds[20], nopen = 0, lasterr = 0;
	for (int i = 0; i < 20; i++) {
		fds[i] = open("/dev/null", O_RDONLY);
		if (fds[i] < 0) {
			lasterr = errno;
			break;
		}
		nopen++;
	}
	CHECK("open_beyond_nofile_fails", nopen < 20 && nopen >= 10);
	printf("open_beyond_nofile errno=%s\n", ename(lasterr));
	for (int i = 0; i < nopen; i++)
		close(fds[i]);
	EXPECT_ERR("dup2_beyond_nofile", dup2(0, 100), EBADF);
	rl2.rlim_cur = rl.rlim_max + (rl.rlim_max == RLIM_INFINITY ? 0 : 1);
	rl2.rlim_max = rl.rlim_max;
	if (rl.rlim_max != RLIM_INFINITY)
		EXPECT_ERR("setrlimit_soft_gt_hard", setrlimit(RLIMIT_NOFILE, &rl2), EINVAL);
	CHECK("setrlimit_restore", setrlimit(RLIMIT_NOFILE, &rl) == 0);
	EXPECT_ERR("getrlimit_bad_resource", getrlimit(1000, &rl), EINVAL);
	EXPECT_ERR("getrlimit_efault", getrlimit(RLIMIT_NOFILE, BADPTR), EFAULT);
	struct rlimit st;
	CHECK("prlimit_self_stack", prlimit(0, RLIMIT_STACK, NULL, &st) == 0);
	CHECK("rlimit_stack_sane", st.rlim_cur > 0 && st.rlim_cur <= st.rlim_max);
	struct rlimit as = {64UL << 20, RLIM_INFINITY};
	getrlimit(RLIMIT_AS, &rl);
	as.rlim_max = rl.rlim_max;
	p = fork();
	if (p == 0) {
		setrlimit(RLIMIT_AS, &as);
		void *m = malloc(256UL << 20);
		_exit(m == NULL ? 0 : 1);
	}
	SHOW("rlimit_as_enforced_status", "%d", child_status(p));

	/* Credentials. */
	uid_t r, e, s;
	gid_t gr, ge, gs;
	CHECK("getresuid", getresuid(&r, &e, &s) == 0);
	CHECK("getresgid", getresgid(&gr, &ge, &gs) == 0);
	CHECK("uid_eq_euid", getuid() == geteuid());
	CHECK("gid_eq_egid", getgid() == getegid());
	CHECK("getresuid_consistent", r == getuid() && e == geteuid());
	CHECK("getresgid_consistent", gr == getgid() && ge == getegid());
	int ng = getgroups(0, NULL);
	CHECK("getgroups_count", ng >= 0);
	CHECK("setuid_same", setuid(getuid()) == 0);
	CHECK("setgid_same", setgid(getgid()) == 0);
	EXPECT_ERR("getgroups_einval", syscall(SYS_getgroups, -1, NULL), EINVAL);
	EXPECT_ERR("getpgid of a negative pid", getpgid(-1), ESRCH);
	EXPECT_ERR("getsid of a negative pid", getsid(-5), ESRCH);
	EXPECT_ERR("prlimit of a negative pid", prlimit(-1, RLIMIT_AS, NULL, &rl), ESRCH);
	EXPECT_ERR("the pid is looked up before the resource", prlimit(-1, 99, NULL, &rl), ESRCH);
	EXPECT_ERR("a bad resource", prlimit(0, 99, NULL, &rl), EINVAL);
	return compat_done();
}
