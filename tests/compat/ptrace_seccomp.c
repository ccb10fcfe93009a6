/* ptrace with seccomp: SECCOMP_RET_TRACE stops a tracee that asked for
 * PTRACE_O_TRACESECCOMP (PTRACE_EVENT_SECCOMP, its data as the event
 * message, GET_SYSCALL_INFO's seccomp form), the tracer lets the call go
 * on or skips it with a result of its own, and without the option the
 * call fails with ENOSYS; PTRACE_O_SUSPEND_SECCOMP turns the filters
 * off (refused to a tracer under a filter itself). Also
 * PTRACE_PEEKSIGINFO on the private and shared queues. */
#include "common.h"
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/ptrace.h>
#include <linux/seccomp.h>

static int install_filter(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | 0x42),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | 0x43),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog p = {sizeof f / sizeof f[0], f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p);
}

/* mode 0: the tracer has no option (ENOSYS); 1: PTRACE_O_TRACESECCOMP
 * (getppid allowed, getpid skipped with 99); 2: PTRACE_O_SUSPEND_SECCOMP
 * (the filter is not run). */
static pid_t child(int mode)
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		long my_ppid = getppid(), my_pid = getpid();
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		if (install_filter())
			_exit(90);
		errno = 0;
		long ppid = syscall(SYS_getppid);
		int e = errno;
		long pid = syscall(SYS_getpid);
		if (mode == 0)
			_exit((ppid == -1 && e == ENOSYS ? 1 : 0) + (pid == -1 ? 2 : 0));
		if (mode == 2)
			_exit((ppid == my_ppid ? 1 : 0) + (pid == my_pid ? 2 : 0));
		_exit((ppid == my_ppid ? 1 : 0) + (pid == 99 ? 2 : 0));
	}
	return c;
}

static void test_trace_event(void)
{
	int st;
	pid_t c = child(1);
	waitpid(c, &st, 0);
	CHECK("setoptions", ptrace(PTRACE_SETOPTIONS, c, 0, (void *)PTRACE_O_TRACESECCOMP) == 0);
	ptrace(PTRACE_CONT, c, 0, 0);
	int ev = waitpid(c, &st, 0) == c && WIFSTOPPED(st) && st >> 8 == (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8));
	unsigned long msg = 0;
	ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
	CHECK("seccomp_event", ev && msg == 0x42);
	struct ptrace_syscall_info info;
	long n = ptrace(PTRACE_GET_SYSCALL_INFO, c, (void *)sizeof info, &info);
	CHECK("syscall_info_seccomp", n > 0 && info.op == PTRACE_SYSCALL_INFO_SECCOMP && info.seccomp.nr == SYS_getppid &&
					    info.seccomp.ret_data == 0x42);
	struct user_regs_struct r;
	ptrace(PTRACE_GETREGS, c, 0, &r);
	CHECK("seccomp_stop_regs", r.orig_rax == SYS_getppid && (long)r.rax == -ENOSYS);
	ptrace(PTRACE_CONT, c, 0, 0);
	ev = waitpid(c, &st, 0) == c && WIFSTOPPED(st) && st >> 8 == (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8));
	ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
	CHECK("second_event", ev && msg == 0x43);
	ptrace(PTRACE_GETREGS, c, 0, &r);
	r.orig_rax = -1;
	r.rax = 99;
	ptrace(PTRACE_SETREGS, c, 0, &r);
	ptrace(PTRACE_CONT, c, 0, 0);
	CHECK("allowed_and_skipped", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 3);
}

static void test_no_option(void)
{
	int st;
	pid_t c = child(0);
	waitpid(c, &st, 0);
	ptrace(PTRACE_CONT, c, 0, 0);
	CHECK("trace_without_option_enosys", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 3);
}

static void test_suspend(void)
{
	int st;
	pid_t c = child(2);
	waitpid(c, &st, 0);
	CHECK("suspend_seccomp", ptrace(PTRACE_SETOPTIONS, c, 0, (void *)(PTRACE_O_TRACESECCOMP | PTRACE_O_SUSPEND_SECCOMP)) == 0);
	ptrace(PTRACE_CONT, c, 0, 0);
	CHECK("suspended_filter_not_run", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 3);
	/* A tracer under a filter of its own may not suspend another's. */
	fflush(stdout);
	pid_t t = fork();
	if (t == 0) {
		pid_t c2 = child(0);
		int s2;
		waitpid(c2, &s2, 0);
		install_filter();
		errno = 0;
		long r = ptrace(PTRACE_SETOPTIONS, c2, 0, (void *)PTRACE_O_SUSPEND_SECCOMP);
		int e = errno;
		kill(c2, SIGKILL);
		waitpid(c2, &s2, 0);
		_exit(r == -1 && e == EPERM ? 0 : 1);
	}
	CHECK("suspend_by_filtered_tracer_eperm", waitpid(t, &st, 0) == t && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_peeksiginfo(void)
{
	int st;
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		sigset_t all;
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, NULL);
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGUSR2);
		raise(SIGUSR1);
		union sigval v = {.sival_int = 7};
		sigqueue(getpid(), SIGRTMIN, v); /* process-directed */
		v.sival_int = 8;
		sigqueue(getpid(), SIGRTMIN, v);
		syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGSTOP);
		_exit(0);
	}
	waitpid(c, &st, 0);
	struct ptrace_peeksiginfo_args a = {0, 0, 10};
	siginfo_t si[10];
	long n = ptrace(PTRACE_PEEKSIGINFO, c, &a, si);
	CHECK("peek_private", n == 2 && si[0].si_signo == SIGUSR2 && si[1].si_signo == SIGUSR1);
	a.flags = PTRACE_PEEKSIGINFO_SHARED;
	n = ptrace(PTRACE_PEEKSIGINFO, c, &a, si);
	CHECK("peek_shared", n == 2 && si[0].si_signo == SIGRTMIN && si[0].si_value.sival_int == 7 &&
				 si[1].si_value.sival_int == 8);
	a.off = 1;
	n = ptrace(PTRACE_PEEKSIGINFO, c, &a, si);
	CHECK("peek_offset", n == 1 && si[0].si_value.sival_int == 8);
	a.off = 5;
	CHECK("peek_past_end", ptrace(PTRACE_PEEKSIGINFO, c, &a, si) == 0);
	a.off = 0;
	a.nr = 0;
	CHECK("peek_none", ptrace(PTRACE_PEEKSIGINFO, c, &a, si) == 0);
	a.nr = -1;
	EXPECT_ERR("peek_negative", ptrace(PTRACE_PEEKSIGINFO, c, &a, si), EINVAL);
	a.nr = 1;
	a.flags = 2;
	EXPECT_ERR("peek_bad_flags", ptrace(PTRACE_PEEKSIGINFO, c, &a, si), EINVAL);
	a.flags = 0;
	EXPECT_ERR("peek_bad_buffer", ptrace(PTRACE_PEEKSIGINFO, c, &a, BADPTR), EFAULT);
	kill(c, SIGKILL);
	waitpid(c, &st, 0);
	CHECK("peek_killed", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

int main(void)
{
	test_trace_event();
	test_no_option();
	test_suspend();
	test_peeksiginfo();
	return compat_failures > 100 ? 100 : compat_failures;
}
