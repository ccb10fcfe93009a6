/* fork / wait4 / waitpid / waitid / vfork / getppid / many children. */
#include "common.h"
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

int main(void)
{
	int st;
	pid_t me = getpid();

	/* Exit codes. */
	int codes[] = {0, 1, 42, 127, 255};
	for (unsigned i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		pid_t p = fork();
		if (p == 0)
			_exit(codes[i]);
		pid_t w = waitpid(p, &st, 0);
		printf("exit_%d waited=%d exited=%d status=%d\n", codes[i], w == p,
		       WIFEXITED(st), WEXITSTATUS(st));
	}

	/* exit() from child runs atexit and flushes; 256 wraps to 0. */
	pid_t p = fork();
	if (p == 0)
		exit(256 + 3);
	waitpid(p, &st, 0);
	SHOW("exit_259_status", "%d", WEXITSTATUS(st));

	/* Killed by signals. */
	int sigs[] = {SIGKILL, SIGTERM, SIGUSR1, SIGINT, SIGHUP};
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		p = fork();
		if (p == 0) {
			signal(sigs[i], SIG_DFL);
			raise(sigs[i]);
			_exit(99);
		}
		waitpid(p, &st, 0);
		printf("killed_by_%s signaled=%d termsig_match=%d\n", sigabbrev_np(sigs[i]),
		       WIFSIGNALED(st), WTERMSIG(st) == sigs[i]);
	}

	/* wait4 with rusage. */
	p = fork();
	if (p == 0)
		_exit(9);
	struct rusage ru;
	memset(&ru, 0xff, sizeof(ru));
	pid_t w = wait4(p, &st, 0, &ru);
	CHECK("wait4_pid", w == p);
	CHECK("wait4_status", WIFEXITED(st) && WEXITSTATUS(st) == 9);
	CHECK("wait4_rusage_filled", ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_usec >= 0 &&
					     ru.ru_utime.tv_usec < 1000000);

	/* getppid in child == parent's getpid. */
	int pfd[2];
	pipe(pfd);
	p = fork();
	if (p == 0) {
		char r = getppid() == me ? 'y' : 'n';
		write(pfd[1], &r, 1);
		_exit(0);
	}
	char r = '?';
	read(pfd[0], &r, 1);
	waitpid(p, NULL, 0);
	printf("child_getppid_eq_parent %c\n", r);
	CHECK("fork_returns_child_pid_distinct", p != me && p > 0);

	/* waitid WNOHANG with a running child, then WEXITED. */
	int gate[2];
	pipe(gate);
	p = fork();
	if (p == 0) {
		char c;
		close(gate[1]);
		read(gate[0], &c, 1);
		_exit(17);
	}
	close(gate[0]);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	int rc = waitid(P_PID, p, &si, WEXITED | WNOHANG);
	CHECK("waitid_wnohang_running", rc == 0 && si.si_pid == 0);
	rc = waitpid(p, &st, WNOHANG);
	CHECK("waitpid_wnohang_running", rc == 0);
	close(gate[1]);
	memset(&si, 0, sizeof(si));
	rc = waitid(P_PID, p, &si, WEXITED);
	CHECK("waitid_exited", rc == 0 && si.si_pid == p);
	printf("waitid_code_exited %d status %d signo_sigchld %d\n", si.si_code == CLD_EXITED,
	       si.si_status, si.si_signo == SIGCHLD);

	/* waitid WNOWAIT leaves the child waitable. */
	p = fork();
	if (p == 0)
		_exit(5);
	memset(&si, 0, sizeof(si));
	rc = waitid(P_PID, p, &si, WEXITED | WNOWAIT);
	CHECK("waitid_wnowait", rc == 0 && si.si_pid == p && si.si_status == 5);
	CHECK("waitpid_after_wnowait", waitpid(p, &st, 0) == p && WEXITSTATUS(st) == 5);

	/* waitid for a killed child. */
	p = fork();
	if (p == 0) {
		pause();
		_exit(0);
	}
	kill(p, SIGKILL);
	memset(&si, 0, sizeof(si));
	rc = waitid(P_ALL, 0, &si, WEXITED);
	printf("waitid_killed code_killed=%d status_sigkill=%d\n", si.si_code == CLD_KILLED,
	       si.si_status == SIGKILL);

	/* No children left. */
	EXPECT_ERR("wait_nochild", wait(&st), ECHILD);
	EXPECT_ERR("waitpid_nochild", waitpid(-1, &st, WNOHANG), ECHILD);
	EXPECT_ERR("waitpid_notmychild", waitpid(1, &st, 0), ECHILD);
	EXPECT_ERR("waitid_badtype", waitid(12345, 0, &si, WEXITED), EINVAL);
	EXPECT_ERR("waitid_noopts", waitid(P_ALL, 0, &si, 0), EINVAL);
	EXPECT_ERR("waitpid_badopts", waitpid(-1, &st, 0x40000), EINVAL);

	/* vfork: child runs first, shares memory until _exit. */
	volatile int shared_by_vfork = 0;
	p = vfork();
	if (p == 0) {
		shared_by_vfork = 1;
		_exit(3);
	}
	CHECK("vfork_parent_sees_child_write", shared_by_vfork == 1);
	CHECK("vfork_status", waitpid(p, &st, 0) == p && WEXITSTATUS(st) == 3);

	/* 50 children forked, reaped in any order, each with its own code. */
	pid_t kids[50];
	for (int i = 0; i < 50; i++) {
		kids[i] = fork();
		if (kids[i] == 0)
			_exit(i + 1);
		if (kids[i] < 0)
			printf("fork_%d FAIL\n", i);
	}
	int seen[51] = {0};
	int reaped = 0, match = 1;
	for (;;) {
		pid_t q = wait(&st);
		if (q < 0)
			break;
		int code = WEXITSTATUS(st);
		if (code < 1 || code > 50 || kids[code - 1] != q)
			match = 0;
		else
			seen[code]++;
		reaped++;
	}
	SHOW("fifty_reaped", "%d", reaped);
	int all = 1;
	for (int i = 1; i <= 50; i++)
		if (seen[i] != 1)
			all = 0;
	CHECK("fifty_pid_code_match", match && all);

	/* waitpid on a specific one among several, in reverse order. */
	for (int i = 0; i < 5; i++) {
		kids[i] = fork();
		if (kids[i] == 0)
			_exit(100 + i);
	}
	int rev = 1;
	for (int i = 4; i >= 0; i--)
		if (waitpid(kids[i], &st, 0) != kids[i] || WEXITSTATUS(st) != 100 + i)
			rev = 0;
	CHECK("waitpid_specific_reverse", rev);

	/* Zombie is reaped only once. */
	p = fork();
	if (p == 0)
		_exit(0);
	waitpid(p, &st, 0);
	EXPECT_ERR("waitpid_twice", waitpid(p, &st, 0), ECHILD);
	return compat_done();
}
