/* ptrace and the lives of tracer and tracee: SIGKILL still gives the
 * exit event stop (and cannot end it); a tracer that is not the parent
 * sees the exit first, the parent only after it waited; a traced thread
 * blocked in a call joins the group stop; the registers of the exec
 * stops; requests only from the attaching thread, whose exit lets the
 * tracee go. */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <linux/ptrace.h>

static void on_usr1(int s)
{
	(void)s;
}

static pid_t pauser(void)
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		alarm(30);
		for (;;)
			pause();
	}
	return c;
}

static void test_sigkill_exit_event(void)
{
	int st;
	pid_t c = pauser();
	ptrace(PTRACE_SEIZE, c, 0, (void *)PTRACE_O_TRACEEXIT);
	kill(c, SIGKILL);
	int ev = waitpid(c, &st, 0) == c && WIFSTOPPED(st) && st >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8));
	unsigned long msg = 0;
	ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
	CHECK("sigkill_exit_event", ev && msg == SIGKILL);
	ptrace(PTRACE_CONT, c, 0, 0);
	CHECK("sigkill_then_killed", waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

	/* An exiting task takes no signal: SIGKILL leaves the exit stop. */
	fflush(stdout);
	c = fork();
	if (c == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		_exit(3);
	}
	waitpid(c, &st, 0);
	ptrace(PTRACE_SETOPTIONS, c, 0, (void *)PTRACE_O_TRACEEXIT);
	ptrace(PTRACE_CONT, c, 0, 0);
	waitpid(c, &st, 0);
	kill(c, SIGKILL);
	usleep(50000);
	CHECK("exit_stop_outlasts_sigkill", waitpid(c, &st, WNOHANG) == 0);
	ptrace(PTRACE_CONT, c, 0, 0);
	CHECK("exit_stop_then_exit", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 3);
}

static void test_tracer_not_parent(void)
{
	int st, pfd[2];
	if (pipe(pfd))
		return;
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		char b;
		close(pfd[1]);
		read(pfd[0], &b, 1); /* until the tracer is attached */
		_exit(7);
	}
	close(pfd[0]);
	fflush(stdout);
	int tp[2];
	if (pipe(tp))
		return;
	pid_t t = fork();
	if (t == 0) {
		close(tp[0]);
		ptrace(PTRACE_SEIZE, c, 0, 0);
		write(tp[1], "a", 1);
		siginfo_t si;
		/* Look without reaping, then tell the parent, then reap. */
		int seen = waitid(P_PID, c, &si, WEXITED | WNOWAIT) == 0 && si.si_code == CLD_EXITED;
		write(tp[1], seen ? "y" : "n", 1);
		usleep(100000); /* the parent looks meanwhile */
		int r = waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 7;
		_exit(r ? 0 : 1);
	}
	close(tp[1]);
	char b;
	read(tp[0], &b, 1);
	write(pfd[1], "x", 1); /* the child exits */
	read(tp[0], &b, 1);
	CHECK("tracer_sees_exit", b == 'y');
	CHECK("parent_not_yet", waitpid(c, &st, WNOHANG) == 0);
	int tst;
	waitpid(t, &tst, 0);
	CHECK("tracer_reaped", WIFEXITED(tst) && WEXITSTATUS(tst) == 0);
	CHECK("parent_after_tracer", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 7);
	close(pfd[1]);
	close(tp[0]);
}

static void *blocked(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void test_blocked_thread_group_stop(void)
{
	int st;
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		alarm(30);
		signal(SIGUSR1, on_usr1);
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		pthread_t t;
		pthread_create(&t, NULL, blocked, NULL);
		for (;;)
			pause();
	}
	waitpid(c, &st, 0);
	ptrace(PTRACE_SETOPTIONS, c, 0, (void *)PTRACE_O_TRACECLONE);
	ptrace(PTRACE_CONT, c, 0, 0);
	pid_t thr = 0;
	/* The clone event, then the new thread's SIGSTOP. */
	for (int i = 0; i < 2; i++) {
		pid_t p = waitpid(-1, &st, __WALL);
		if (p == c && st >> 16 == PTRACE_EVENT_CLONE) {
			unsigned long m;
			ptrace(PTRACE_GETEVENTMSG, c, 0, &m);
			thr = (pid_t)m;
		}
		ptrace(PTRACE_CONT, p, 0, 0);
	}
	usleep(50000); /* both threads blocked in pause() */
	kill(c, SIGSTOP);
	pid_t p = waitpid(-1, &st, __WALL);
	int first = WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP;
	ptrace(PTRACE_CONT, p, 0, (void *)SIGSTOP); /* into the group stop */
	int reports = 0;
	for (int i = 0; i < 2; i++) {
		pid_t q = waitpid(-1, &st, __WALL);
		siginfo_t si;
		if ((q == c || q == thr) && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP &&
		    ptrace(PTRACE_GETSIGINFO, q, 0, &si) == -1 && errno == EINVAL)
			reports++;
	}
	CHECK("sigstop_stop", first && thr > 0);
	CHECK("both_threads_group_stop", reports == 2);
	kill(c, SIGKILL);
	while (waitpid(-1, &st, __WALL) > 0)
		;
}

static void test_exec_registers(void)
{
	int st;
	struct user_regs_struct r;
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		execl("/bin/true", "true", (char *)0);
		_exit(9);
	}
	waitpid(c, &st, 0);
	ptrace(PTRACE_SETOPTIONS, c, 0, (void *)PTRACE_O_TRACEEXEC);
	ptrace(PTRACE_CONT, c, 0, 0);
	waitpid(c, &st, 0);
	ptrace(PTRACE_GETREGS, c, 0, &r);
	CHECK("exec_event_regs", r.orig_rax == SYS_execve && (long)r.rax == -ENOSYS);
	ptrace(PTRACE_CONT, c, 0, 0);
	CHECK("exec_event_exit", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);

	fflush(stdout);
	c = fork();
	if (c == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		execl("/bin/true", "true", (char *)0);
		_exit(9);
	}
	waitpid(c, &st, 0);
	ptrace(PTRACE_GETREGS, c, 0, &r);
	CHECK("exec_sigtrap_regs", WSTOPSIG(st) == SIGTRAP && r.orig_rax == SYS_execve && r.rax == 0);
	ptrace(PTRACE_CONT, c, 0, 0);
	waitpid(c, &st, 0);
}

static pid_t tracee;
static int attached;

static void *attach_and_leave(void *arg)
{
	(void)arg;
	attached = ptrace(PTRACE_SEIZE, tracee, 0, 0) == 0;
	return NULL;
}

static long sibling_result;

static void *sibling_request(void *arg)
{
	(void)arg;
	struct user_regs_struct r;
	errno = 0;
	sibling_result = ptrace(PTRACE_GETREGS, tracee, 0, &r) == -1 ? errno : 0;
	return NULL;
}

static void test_tracer_thread(void)
{
	int st;
	pthread_t t;
	tracee = pauser();
	pthread_create(&t, NULL, attach_and_leave, NULL);
	pthread_join(t, NULL);
	EXPECT_ERR("tracer_thread_gone_detached", ptrace(PTRACE_INTERRUPT, tracee, 0, 0), ESRCH);
	kill(tracee, SIGKILL);
	waitpid(tracee, &st, 0);

	fflush(stdout);
	tracee = fork();
	if (tracee == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		_exit(0);
	}
	waitpid(tracee, &st, 0);
	pthread_create(&t, NULL, sibling_request, NULL);
	pthread_join(t, NULL);
	CHECK("sibling_thread_esrch", attached && sibling_result == ESRCH);
	struct user_regs_struct r;
	CHECK("tracer_thread_ok", ptrace(PTRACE_GETREGS, tracee, 0, &r) == 0);
	ptrace(PTRACE_CONT, tracee, 0, 0);
	waitpid(tracee, &st, 0);
}

int main(void)
{
	test_sigkill_exit_event();
	test_tracer_not_parent();
	test_blocked_thread_group_stop();
	test_exec_registers();
	test_tracer_thread();
	return compat_failures > 100 ? 100 : compat_failures;
}
