/* Signals between processes: default actions, stop/continue, SIGCHLD, SIGPIPE. */
#include "common.h"
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

static volatile sig_atomic_t chld_hits, chld_code, chld_status, chld_pid_ok;
static volatile pid_t expect_pid;
static void on_chld(int s, siginfo_t *si, void *uc)
{
	(void)s;
	(void)uc;
	chld_hits++;
	chld_code = si->si_code;
	chld_status = si->si_status;
	chld_pid_ok = si->si_pid == expect_pid;
}

static const char *cld(int c)
{
	switch (c) {
	case CLD_EXITED: return "CLD_EXITED";
	case CLD_KILLED: return "CLD_KILLED";
	case CLD_DUMPED: return "CLD_DUMPED";
	case CLD_STOPPED: return "CLD_STOPPED";
	case CLD_CONTINUED: return "CLD_CONTINUED";
	default: return "other";
	}
}

static pid_t sleeper(void)
{
	pid_t p = fork();
	if (p == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		for (;;)
			pause();
	}
	return p;
}

int main(void)
{
	int st;
	struct rlimit nocore = {0, 0};
	setrlimit(RLIMIT_CORE, &nocore);

	/* Default action: terminate. */
	pid_t p = sleeper();
	kill(p, SIGTERM);
	waitpid(p, &st, 0);
	printf("sigterm signaled=%d termsig=%s\n", WIFSIGNALED(st), sigabbrev_np(WTERMSIG(st)));

	/* Core-dumping signals terminate too (no core with RLIMIT_CORE 0). */
	int core_sigs[] = {SIGABRT, SIGQUIT, SIGSEGV, SIGFPE, SIGILL, SIGBUS};
	for (unsigned i = 0; i < 6; i++) {
		p = fork();
		if (p == 0) {
			signal(core_sigs[i], SIG_DFL);
			raise(core_sigs[i]);
			_exit(0);
		}
		waitpid(p, &st, 0);
		printf("default_%s signaled=%d termsig_match=%d\n", sigabbrev_np(core_sigs[i]),
		       WIFSIGNALED(st), WTERMSIG(st) == core_sigs[i]);
	}

	/* Real faults in the child. */
	p = fork();
	if (p == 0) {
		volatile int z = 0;
		_exit(10 / z);
	}
	waitpid(p, &st, 0);
	printf("divide_by_zero termsig=%s\n", WIFSIGNALED(st) ? sigabbrev_np(WTERMSIG(st)) : "none");
	p = fork();
	if (p == 0) {
		__builtin_trap();
	}
	waitpid(p, &st, 0);
	printf("ud2 termsig=%s\n", WIFSIGNALED(st) ? sigabbrev_np(WTERMSIG(st)) : "none");

	/* SIGSTOP / SIGCONT with WUNTRACED / WCONTINUED. */
	p = sleeper();
	kill(p, SIGSTOP);
	pid_t w = waitpid(p, &st, WUNTRACED);
	printf("stopped waited=%d stopped=%d stopsig=%s\n", w == p, WIFSTOPPED(st),
	       sigabbrev_np(WSTOPSIG(st)));
	CHECK("stopped_not_reported_twice", waitpid(p, &st, WUNTRACED | WNOHANG) == 0);
	kill(p, SIGCONT);
	w = waitpid(p, &st, WCONTINUED);
	printf("continued waited=%d continued=%d\n", w == p, WIFCONTINUED(st));
	/* SIGTSTP is not used: it is discarded for orphaned process groups,
	 * which depends on how the test was started. */
	kill(p, SIGSTOP);
	w = waitpid(p, &st, WUNTRACED);
	printf("stop_again stopped=%d stopsig=%s\n", WIFSTOPPED(st), sigabbrev_np(WSTOPSIG(st)));
	kill(p, SIGTERM); /* pending while stopped */
	CHECK("stopped_sigterm_pending", waitpid(p, &st, WNOHANG) == 0);
	kill(p, SIGCONT);
	waitpid(p, &st, 0);
	printf("term_after_cont signaled=%d termsig=%s\n", WIFSIGNALED(st), sigabbrev_np(WTERMSIG(st)));

	/* SIGKILL kills a stopped process. */
	p = sleeper();
	kill(p, SIGSTOP);
	waitpid(p, &st, WUNTRACED);
	kill(p, SIGKILL);
	waitpid(p, &st, 0);
	printf("kill_stopped termsig=%s\n", sigabbrev_np(WTERMSIG(st)));

	/* SIGCHLD delivered to parent with siginfo. */
	struct sigaction sa = {0};
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigset_t blk, old;
	sigemptyset(&blk);
	sigaddset(&blk, SIGCHLD);
	sigprocmask(SIG_BLOCK, &blk, &old);
	p = fork();
	if (p == 0)
		_exit(23);
	expect_pid = p;
	while (!chld_hits)
		sigsuspend(&old);
	printf("sigchld hits=%d code=%s status=%d pid_ok=%d\n", chld_hits, cld(chld_code), chld_status,
	       chld_pid_ok);
	waitpid(p, &st, 0);
	chld_hits = 0;
	p = sleeper();
	expect_pid = p;
	kill(p, SIGKILL);
	while (!chld_hits)
		sigsuspend(&old);
	printf("sigchld_killed code=%s status_sigkill=%d pid_ok=%d\n", cld(chld_code),
	       chld_status == SIGKILL, chld_pid_ok);
	waitpid(p, &st, 0);

	/* SA_NOCLDSTOP: no SIGCHLD on stop. */
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	chld_hits = 0;
	p = sleeper();
	expect_pid = p;
	kill(p, SIGSTOP);
	waitpid(p, &st, WUNTRACED);
	sigprocmask(SIG_SETMASK, &old, NULL);
	sigprocmask(SIG_BLOCK, &blk, NULL);
	SHOW("nocldstop_hits", "%d", chld_hits);
	kill(p, SIGKILL);
	waitpid(p, &st, 0);
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* SA_NOCLDWAIT / SIG_IGN: children are auto-reaped, wait gives ECHILD. */
	signal(SIGCHLD, SIG_IGN);
	p = fork();
	if (p == 0)
		_exit(1);
	EXPECT_ERR("sigchld_ign_autoreap", waitpid(p, &st, 0), ECHILD);
	signal(SIGCHLD, SIG_DFL);

	/* SIGPIPE: default kills the writer; ignored gives EPIPE. */
	int pfd[2];
	pipe(pfd);
	close(pfd[0]);
	p = fork();
	if (p == 0) {
		signal(SIGPIPE, SIG_DFL);
		write(pfd[1], "x", 1);
		_exit(0);
	}
	waitpid(p, &st, 0);
	printf("sigpipe_default termsig=%s\n", WIFSIGNALED(st) ? sigabbrev_np(WTERMSIG(st)) : "none");
	signal(SIGPIPE, SIG_IGN);
	EXPECT_ERR("write_closed_pipe_epipe", write(pfd[1], "x", 1), EPIPE);
	close(pfd[1]);

	/* kill(0, sig) reaches our whole process group: done in a child that
	 * first makes its own group, so nothing outside the test is hit. */
	p = fork();
	if (p == 0) {
		setpgid(0, 0);
		pid_t g = fork();
		if (g == 0) {
			for (;;)
				pause();
		}
		signal(SIGUSR1, SIG_IGN);
		setpgid(g, getpid());
		kill(0, SIGUSR1);
		int gs;
		waitpid(g, &gs, 0);
		_exit(WIFSIGNALED(gs) && WTERMSIG(gs) == SIGUSR1 ? 0 : 1);
	}
	waitpid(p, &st, 0);
	CHECK("kill_own_group_zero", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return compat_done();
}
