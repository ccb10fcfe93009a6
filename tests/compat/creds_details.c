/* Credential details: capset drops bits past the last capability,
 * setfsuid(-1) changes nothing, exec makes the saved ids the effective
 * ones and leaves an image whose permitted set grew undumpable, a zombie
 * still answers kill(0)/getpgid/getsid until reaped, setpriority on
 * another user's process is EPERM, securebits (get, set, locks,
 * SECBIT_NOROOT at exec), the timer slack, and prctl's argument checks. */
#include "common.h"
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <signal.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static unsigned long long eff(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	syscall(SYS_capget, &h, d);
	return d[0].effective | (unsigned long long)d[1].effective << 32;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "ids")) {
		uid_t r, e, s;
		gid_t gr, ge, gs;
		getresuid(&r, &e, &s);
		getresgid(&gr, &ge, &gs);
		printf("after exec: uid %d/%d/%d gid %d/%d/%d dumpable %d\n", r, e, s, gr, ge, gs,
		       prctl(PR_GET_DUMPABLE));
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "caps")) {
		printf("after exec: effective %s\n", eff() ? "some" : "none");
		return 0;
	}
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	syscall(SYS_capget, &h, d);
	d[1].effective |= 1u << 31;
	d[1].permitted |= 1u << 31;
	CHECK("capset high bits", syscall(SYS_capset, &h, d) == 0);
	syscall(SYS_capget, &h, d);
	CHECK("high bits dropped", (d[1].permitted & (1u << 31)) == 0);
	CHECK("setfsuid(-1)", setfsuid(-1) == 0 && setfsuid(-1) == 0);
	CHECK("setfsgid(-1)", setfsgid(-1) == 0 && setfsgid(-1) == 0);

	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		setresgid(1000, 0, 1000);
		setresuid(1000, 0, 1000);
		execl("/proc/self/exe", argv[0], "ids", (char *)NULL);
		_exit(1);
	}
	waitpid(c, NULL, 0);
	fflush(stdout);
	c = fork();
	if (c == 0) {
		/* Drop CAP_KILL from permitted: exec as root gives it back. */
		syscall(SYS_capget, &h, d);
		d[0].effective &= ~(1u << CAP_KILL);
		d[0].permitted &= ~(1u << CAP_KILL);
		syscall(SYS_capset, &h, d);
		execl("/proc/self/exe", argv[0], "ids", (char *)NULL);
		_exit(1);
	}
	waitpid(c, NULL, 0);

	pid_t z = fork();
	if (z == 0)
		_exit(0);
	siginfo_t si;
	waitid(P_PID, z, &si, WEXITED | WNOWAIT);
	CHECK("kill zombie 0", kill(z, 0) == 0);
	CHECK("kill zombie TERM", kill(z, SIGTERM) == 0);
	CHECK("getpgid zombie", getpgid(z) == getpgrp());
	CHECK("getsid zombie", getsid(z) == getsid(0));
	waitpid(z, NULL, 0);
	EXPECT_ERR("kill reaped", kill(z, 0), ESRCH);

	int go[2];
	pipe(go);
	pid_t t = fork();
	if (t == 0) {
		setresuid(1001, 1001, 1001);
		char x;
		read(go[0], &x, 1);
		_exit(0);
	}
	c = fork();
	if (c == 0) {
		setgroups(0, NULL);
		setresuid(1000, 1000, 1000);
		_exit(setpriority(PRIO_PROCESS, t, 5) == -1 && errno == EPERM ? 0 : 1);
	}
	int st;
	CHECK("setpriority other user", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	write(go[1], "x", 1);
	waitpid(t, NULL, 0);

	CHECK("securebits 0", prctl(PR_GET_SECUREBITS) == 0);
	CHECK("keepcaps shows", prctl(PR_SET_KEEPCAPS, 1) == 0 && prctl(PR_GET_SECUREBITS) == SECBIT_KEEP_CAPS);
	prctl(PR_SET_KEEPCAPS, 0);
	EXPECT_ERR("unknown securebit", prctl(PR_SET_SECUREBITS, 1 << 20), EPERM);
	fflush(stdout);
	c = fork();
	if (c == 0) {
		prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED);
		printf("locked: %d\n", prctl(PR_SET_SECUREBITS, 0) == -1 && errno == EPERM);
		fflush(stdout);
		execl("/proc/self/exe", argv[0], "caps", (char *)NULL);
		_exit(1);
	}
	waitpid(c, NULL, 0);

	CHECK("timerslack set", prctl(PR_SET_TIMERSLACK, 12345) == 0 && prctl(PR_GET_TIMERSLACK) == 12345);
	CHECK("timerslack default", prctl(PR_SET_TIMERSLACK, 0) == 0 && prctl(PR_GET_TIMERSLACK) == 50000);
	EXPECT_ERR("GET_NO_NEW_PRIVS args", prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0), EINVAL);
	unsigned sz = 0;
	CHECK("PR_SET_MM_MAP_SIZE", prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &sz, 0, 0) == 0 && sz == 104);
	return compat_failures > 100 ? 100 : compat_failures;
}
