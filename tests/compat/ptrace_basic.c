/* ptrace: TRACEME and signal-delivery-stops (siginfo, suppressing,
 * replacing and injecting signals), PEEK/POKE of data and text (a
 * breakpoint), registers (GETREGS/SETREGS, PEEKUSER, regsets, the FPU
 * image), syscall-stops (TRACESYSGOOD, changing and skipping a call,
 * GET_SYSCALL_INFO), exec (SIGTRAP, the event), fork and exit events,
 * SEIZE/INTERRUPT/LISTEN, ATTACH, single-stepping, group-stops, KILL,
 * DETACH with a signal, EXITKILL, and the errors. */
#include "common.h"
#include <elf.h>
#include <linux/audit.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <linux/ptrace.h>

static volatile long shared_word = 0x1122334455667788L;
static volatile int got_usr1, got_usr2;

static void on_usr(int s)
{
	if (s == SIGUSR1)
		got_usr1++;
	else
		got_usr2++;
}

/* A function whose first byte gets a breakpoint. */
__attribute__((noinline)) static int target_fn(int x)
{
	__asm__ volatile("" ::: "memory");
	return x * 3 + 1;
}

static int wait_stop(pid_t pid, int *status)
{
	pid_t r = waitpid(pid, status, __WALL);
	return r == pid && WIFSTOPPED(*status);
}

/* Continues a tracee through its remaining stops (passing signals on)
 * until it ends; its wait status. */
static int finish(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, __WALL) == pid && WIFSTOPPED(st)) {
		int sig = st >> 16 ? 0 : WSTOPSIG(st);
		ptrace(PTRACE_CONT, pid, 0, (void *)(long)(sig == SIGTRAP ? 0 : sig));
	}
	return st;
}

static pid_t traced_child(void (*body)(void))
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
			_exit(99);
		raise(SIGSTOP);
		body();
		_exit(0);
	}
	return c;
}

static void body_peek(void)
{
	_exit(shared_word == 0x55 ? 7 : 8);
}

static void body_signals(void)
{
	signal(SIGUSR1, on_usr);
	signal(SIGUSR2, on_usr);
	raise(SIGUSR1); /* suppressed by the tracer */
	raise(SIGUSR1); /* replaced by SIGUSR2 */
	_exit(got_usr1 * 10 + got_usr2);
}

static void body_syscalls(void)
{
	long a = syscall(SYS_getppid);
	long b = syscall(SYS_getppid); /* skipped, 77 set at exit */
	long c = syscall(SYS_getppid); /* turned into getpid */
	_exit((a == getppid() ? 1 : 0) + (b == 77 ? 2 : 0) + (c == getpid() ? 4 : 0));
}

static void body_exec(void)
{
	execl("/bin/true", "true", (char *)0);
	_exit(50);
}

static void body_fork(void)
{
	pid_t g = fork();
	if (g == 0)
		_exit(5);
	int st;
	waitpid(g, &st, 0);
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 60);
}

static void body_breakpoint(void)
{
	_exit(target_fn(4));
}

static void body_step(void)
{
	for (volatile int i = 0; i < 1000; i++)
		;
	_exit(0);
}

static void body_fp(void)
{
	volatile double d = 1.5;
	d = d * 2;
	_exit(d == 3.0 ? 0 : 1);
}

static void body_exit3(void)
{
	_exit(3);
}

static void test_traceme_peek_poke(void)
{
	int st;
	pid_t c = traced_child(body_peek);
	CHECK("traceme_stop", wait_stop(c, &st) && WSTOPSIG(st) == SIGSTOP);
	siginfo_t si;
	CHECK("getsiginfo_stop", ptrace(PTRACE_GETSIGINFO, c, 0, &si) == 0 && si.si_signo == SIGSTOP);
	errno = 0;
	long w = ptrace(PTRACE_PEEKDATA, c, (void *)&shared_word, 0);
	CHECK("peekdata", errno == 0 && w == 0x1122334455667788L);
	CHECK("pokedata", ptrace(PTRACE_POKEDATA, c, (void *)&shared_word, (void *)0x55L) == 0);
	errno = 0;
	ptrace(PTRACE_PEEKDATA, c, (void *)8, 0);
	int e = errno;
	CHECK("peek_unmapped_eio", e == EIO);
	EXPECT_ERR("poke_unmapped", ptrace(PTRACE_POKEDATA, c, (void *)8, (void *)1), EIO);
	EXPECT_ERR("cont_bad_signal", ptrace(PTRACE_CONT, c, 0, (void *)100), EIO);
	EXPECT_ERR("unknown_request", ptrace((enum __ptrace_request)0x7777, c, 0, 0), EIO);
	CHECK("cont", ptrace(PTRACE_CONT, c, 0, 0) == 0);
	EXPECT_ERR("cont_running", ptrace(PTRACE_CONT, c, 0, 0), ESRCH);
	CHECK("poked_value_seen", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 7);
	EXPECT_ERR("not_traced", ptrace(PTRACE_CONT, getpid(), 0, 0), ESRCH);
}

static void test_signals(void)
{
	int st;
	pid_t c = traced_child(body_signals);
	wait_stop(c, &st);
	ptrace(PTRACE_CONT, c, 0, 0);
	CHECK("usr1_stop", wait_stop(c, &st) && WSTOPSIG(st) == SIGUSR1);
	siginfo_t si;
	CHECK("usr1_siginfo", ptrace(PTRACE_GETSIGINFO, c, 0, &si) == 0 && si.si_code == SI_TKILL && si.si_pid == c);
	ptrace(PTRACE_CONT, c, 0, 0); /* suppressed */
	CHECK("usr1_again", wait_stop(c, &st) && WSTOPSIG(st) == SIGUSR1);
	ptrace(PTRACE_CONT, c, 0, (void *)SIGUSR2); /* replaced */
	/* The replacement is delivered without another stop: the child exits. */
	CHECK("suppress_and_replace", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 1);
}

static void test_syscalls(void)
{
	int st;
	struct user_regs_struct r;
	pid_t c = traced_child(body_syscalls);
	wait_stop(c, &st);
	CHECK("setoptions", ptrace(PTRACE_SETOPTIONS, c, 0, (void *)PTRACE_O_TRACESYSGOOD) == 0);
	EXPECT_ERR("setoptions_bad", ptrace(PTRACE_SETOPTIONS, c, 0, (void *)0x40000000L), EINVAL);
	int entries = 0, nr_ok = 0, enosys = 0, info_ok = 0, changed = 0;
	for (int call = 0; call < 3; call++) {
		/* Entry (skipping non-getppid calls such as the raise's leftovers). */
		for (;;) {
			ptrace(PTRACE_SYSCALL, c, 0, 0);
			if (!wait_stop(c, &st) || WSTOPSIG(st) != (SIGTRAP | 0x80))
				break;
			ptrace(PTRACE_GETREGS, c, 0, &r);
			if (r.orig_rax == SYS_getppid)
				break;
			ptrace(PTRACE_SYSCALL, c, 0, 0); /* its exit */
			wait_stop(c, &st);
		}
		entries++;
		nr_ok += r.orig_rax == SYS_getppid;
		enosys += (long)r.rax == -ENOSYS;
		struct ptrace_syscall_info info;
		long n = ptrace(PTRACE_GET_SYSCALL_INFO, c, (void *)sizeof info, &info);
		info_ok += n > 0 && info.op == PTRACE_SYSCALL_INFO_ENTRY && info.entry.nr == SYS_getppid &&
			   info.arch == AUDIT_ARCH_X86_64;
		if (call == 1) {
			r.orig_rax = -1;
			ptrace(PTRACE_SETREGS, c, 0, &r);
		} else if (call == 2) {
			r.orig_rax = SYS_getpid;
			ptrace(PTRACE_SETREGS, c, 0, &r);
		}
		ptrace(PTRACE_SYSCALL, c, 0, 0);
		wait_stop(c, &st);
		n = ptrace(PTRACE_GET_SYSCALL_INFO, c, (void *)sizeof info, &info);
		/* The skipped call's exit is -ENOSYS. */
		info_ok += n > 0 && info.op == PTRACE_SYSCALL_INFO_EXIT && info.exit.is_error == (call == 1);
		if (call == 1) {
			ptrace(PTRACE_GETREGS, c, 0, &r);
			r.rax = 77;
			changed += ptrace(PTRACE_SETREGS, c, 0, &r) == 0;
		}
	}
	CHECK("syscall_entries", entries == 3 && nr_ok == 3);
	CHECK("entry_rax_enosys", enosys == 3);
	CHECK("get_syscall_info", info_ok == 6 && changed == 1);
	ptrace(PTRACE_CONT, c, 0, 0);
	CHECK("changed_calls", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 7);
}

static void test_exec(int with_event)
{
	int st;
	pid_t c = traced_child(body_exec);
	wait_stop(c, &st);
	if (with_event)
		ptrace(PTRACE_SETOPTIONS, c, 0, (void *)PTRACE_O_TRACEEXEC);
	ptrace(PTRACE_CONT, c, 0, 0);
	int stopped = wait_stop(c, &st);
	if (with_event) {
		unsigned long msg = 0;
		ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
		CHECK("exec_event", stopped && st >> 8 == (SIGTRAP | (PTRACE_EVENT_EXEC << 8)) && msg == (unsigned long)c);
	} else {
		CHECK("exec_sigtrap", stopped && WSTOPSIG(st) == SIGTRAP && st >> 16 == 0);
	}
	ptrace(PTRACE_CONT, c, 0, 0);
	CHECK(with_event ? "exec_event_exit" : "exec_exit", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_fork_event(void)
{
	int st;
	pid_t c = traced_child(body_fork);
	wait_stop(c, &st);
	ptrace(PTRACE_SETOPTIONS, c, 0, (void *)PTRACE_O_TRACEFORK);
	ptrace(PTRACE_CONT, c, 0, 0);
	int ev = wait_stop(c, &st) && st >> 8 == (SIGTRAP | (PTRACE_EVENT_FORK << 8));
	unsigned long g = 0;
	ptrace(PTRACE_GETEVENTMSG, c, 0, &g);
	CHECK("fork_event", ev && g > 0);
	int gst;
	CHECK("fork_child_sigstop", wait_stop((pid_t)g, &gst) && WSTOPSIG(gst) == SIGSTOP);
	CHECK("fork_child_detach", ptrace(PTRACE_DETACH, (pid_t)g, 0, 0) == 0);
	ptrace(PTRACE_CONT, c, 0, 0);
	st = finish(c); /* its SIGCHLD stops first */
	CHECK("fork_parent_exit", WIFEXITED(st) && WEXITSTATUS(st) == 5);
}

static void test_breakpoint(void)
{
	int st;
	struct user_regs_struct r;
	pid_t c = traced_child(body_breakpoint);
	wait_stop(c, &st);
	void *at = (void *)target_fn;
	errno = 0;
	long orig = ptrace(PTRACE_PEEKTEXT, c, at, 0);
	CHECK("peektext", errno == 0);
	long bp = (orig & ~0xffL) | 0xcc;
	CHECK("poketext_readonly_text", ptrace(PTRACE_POKETEXT, c, at, (void *)bp) == 0);
	CHECK("poketext_not_in_tracer", *(volatile unsigned char *)at != 0xcc);
	ptrace(PTRACE_CONT, c, 0, 0);
	CHECK("breakpoint_sigtrap", wait_stop(c, &st) && WSTOPSIG(st) == SIGTRAP);
	siginfo_t si;
	ptrace(PTRACE_GETSIGINFO, c, 0, &si);
	CHECK("breakpoint_si_code", si.si_code == SI_KERNEL);
	ptrace(PTRACE_GETREGS, c, 0, &r);
	CHECK("breakpoint_rip", r.rip == (unsigned long)at + 1);
	ptrace(PTRACE_POKETEXT, c, at, (void *)orig);
	r.rip = (unsigned long)at;
	ptrace(PTRACE_SETREGS, c, 0, &r);
	ptrace(PTRACE_CONT, c, 0, 0);
	CHECK("breakpoint_resumed", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 13);
}

static void test_registers(void)
{
	int st;
	struct user_regs_struct r, r2;
	pid_t c = traced_child(body_fp);
	wait_stop(c, &st);
	CHECK("getregs", ptrace(PTRACE_GETREGS, c, 0, &r) == 0);
	errno = 0;
	long orig_rax = ptrace(PTRACE_PEEKUSER, c, (void *)offsetof(struct user_regs_struct, orig_rax), 0);
	CHECK("peekuser_orig_rax", errno == 0 && (unsigned long)orig_rax == r.orig_rax);
	errno = 0;
	ptrace(PTRACE_PEEKUSER, c, (void *)3, 0);
	int e1 = errno;
	errno = 0;
	ptrace(PTRACE_PEEKUSER, c, (void *)(sizeof(struct user) + 16), 0);
	int e2 = errno;
	CHECK("peekuser_unaligned", e1 == EIO);
	CHECK("peekuser_past_end", e2 == EIO);
	errno = 0;
	long dr7 = ptrace(PTRACE_PEEKUSER, c, (void *)offsetof(struct user, u_debugreg[7]), 0);
	CHECK("peekuser_dr7", errno == 0 && dr7 == 0);
	r2 = r;
	r2.cs = 0x10; /* the kernel's */
	EXPECT_ERR("setregs_bad_cs", ptrace(PTRACE_SETREGS, c, 0, &r2), EIO);
	r2 = r;
	r2.fs_base = 1UL << 62;
	EXPECT_ERR("setregs_bad_fs_base", ptrace(PTRACE_SETREGS, c, 0, &r2), EIO);
	struct iovec iov;
	unsigned char buf[8192];
	iov.iov_base = buf;
	iov.iov_len = sizeof buf;
	CHECK("regset_prstatus", ptrace(PTRACE_GETREGSET, c, (void *)NT_PRSTATUS, &iov) == 0 && iov.iov_len == sizeof(struct user_regs_struct));
	iov.iov_len = sizeof buf;
	CHECK("regset_fpregs", ptrace(PTRACE_GETREGSET, c, (void *)NT_PRFPREG, &iov) == 0 && iov.iov_len == 512);
	struct user_fpregs_struct fp;
	CHECK("getfpregs", ptrace(PTRACE_GETFPREGS, c, 0, &fp) == 0 && (fp.mxcsr & 0xffc0) == 0x1f80 && fp.cwd == 0x37f);
	iov.iov_len = sizeof buf;
	int xs = ptrace(PTRACE_GETREGSET, c, (void *)NT_X86_XSTATE, &iov) == 0;
	uint64_t bv, comp;
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	memcpy(&bv, buf + 512, 8);
	memcpy(&comp, buf + 520, 8);
	CHECK("regset_xstate", xs && iov.iov_len > 576 && (bv & ~(((uint64_t)hi << 32) | lo)) == 0 && comp == 0);
	iov.iov_len = 512;
	uint32_t bad = 0xffffffff;
	unsigned char fx[512];
	memcpy(fx, buf, 512);
	memcpy(fx + 24, &bad, 4);
	iov.iov_base = fx;
	EXPECT_ERR("setregset_bad_mxcsr", ptrace(PTRACE_SETREGSET, c, (void *)NT_PRFPREG, &iov), EINVAL);
	iov.iov_base = buf;
	iov.iov_len = sizeof buf;
	EXPECT_ERR("regset_unknown", ptrace(PTRACE_GETREGSET, c, (void *)0x999, &iov), EINVAL);
	uint64_t mask = 0;
	CHECK("getsigmask", ptrace(PTRACE_GETSIGMASK, c, (void *)8, &mask) == 0);
	EXPECT_ERR("getsigmask_size", ptrace(PTRACE_GETSIGMASK, c, (void *)4, &mask), EINVAL);
	ptrace(PTRACE_CONT, c, 0, 0);
	CHECK("fp_program_ran", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_step(void)
{
	int st;
	struct user_regs_struct a, b;
	pid_t c = traced_child(body_step);
	wait_stop(c, &st);
	ptrace(PTRACE_GETREGS, c, 0, &a);
	int steps = 0, traps = 0, tf_hidden = 0, moved = 0;
	for (int i = 0; i < 20; i++) {
		ptrace(PTRACE_SINGLESTEP, c, 0, 0);
		if (!wait_stop(c, &st))
			break;
		steps++;
		traps += WSTOPSIG(st) == SIGTRAP;
		ptrace(PTRACE_GETREGS, c, 0, &b);
		tf_hidden += !(b.eflags & 0x100);
		moved += b.rip != a.rip;
		a = b;
	}
	CHECK("singlestep", steps == 20 && traps == 20 && tf_hidden == 20 && moved >= 19);
	ptrace(PTRACE_CONT, c, 0, 0);
	CHECK("step_then_cont", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_exit_event(void)
{
	int st;
	pid_t c = traced_child(body_exit3);
	wait_stop(c, &st);
	ptrace(PTRACE_SETOPTIONS, c, 0, (void *)PTRACE_O_TRACEEXIT);
	ptrace(PTRACE_CONT, c, 0, 0);
	unsigned long msg = 0;
	int ev = wait_stop(c, &st) && st >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8));
	ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
	CHECK("exit_event", ev && msg == 3 << 8);
	ptrace(PTRACE_CONT, c, 0, 0);
	CHECK("exit_after_event", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 3);
}

static pid_t pauser(void)
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		signal(SIGUSR1, on_usr);
		/* Polls: a signal handled just before a pause() would leave it
		 * blocked for good. */
		for (;;) {
			usleep(1000);
			if (got_usr1)
				_exit(40 + got_usr1);
		}
	}
	usleep(20000);
	return c;
}

static void test_seize(void)
{
	int st;
	pid_t c = pauser();
	EXPECT_ERR("seize_bad_options", ptrace(PTRACE_SEIZE, c, 0, (void *)0x40000000L), EIO);
	EXPECT_ERR("seize_self", ptrace(PTRACE_SEIZE, getpid(), 0, 0), EPERM);
	CHECK("seize", ptrace(PTRACE_SEIZE, c, 0, (void *)PTRACE_O_TRACESYSGOOD) == 0);
	EXPECT_ERR("seize_twice", ptrace(PTRACE_SEIZE, c, 0, 0), EPERM);
	EXPECT_ERR("getregs_running", ptrace(PTRACE_GETREGS, c, 0, &st), ESRCH);
	CHECK("interrupt", ptrace(PTRACE_INTERRUPT, c, 0, 0) == 0);
	CHECK("interrupt_stop", wait_stop(c, &st) && st >> 16 == PTRACE_EVENT_STOP && WSTOPSIG(st) == SIGTRAP);
	siginfo_t si;
	CHECK("interrupt_siginfo", ptrace(PTRACE_GETSIGINFO, c, 0, &si) == 0 && si.si_signo == SIGTRAP &&
					   si.si_code == (SIGTRAP | PTRACE_EVENT_STOP << 8));
	ptrace(PTRACE_CONT, c, 0, 0);
	kill(c, SIGSTOP);
	CHECK("seized_sigstop", wait_stop(c, &st) && WSTOPSIG(st) == SIGSTOP && st >> 16 == 0);
	ptrace(PTRACE_CONT, c, 0, (void *)SIGSTOP);
	CHECK("seized_group_stop", wait_stop(c, &st) && WSTOPSIG(st) == SIGSTOP && st >> 16 == PTRACE_EVENT_STOP);
	CHECK("group_stop_trap_siginfo", ptrace(PTRACE_GETSIGINFO, c, 0, &si) == 0 && si.si_signo == SIGSTOP &&
						 si.si_code == (SIGSTOP | PTRACE_EVENT_STOP << 8));
	CHECK("listen", ptrace(PTRACE_LISTEN, c, 0, 0) == 0);
	kill(c, SIGCONT);
	CHECK("listen_woken", wait_stop(c, &st) && st >> 16 == PTRACE_EVENT_STOP && WSTOPSIG(st) == SIGTRAP);
	ptrace(PTRACE_CONT, c, 0, 0);
	CHECK("sigcont_stop", wait_stop(c, &st) && WSTOPSIG(st) == SIGCONT);
	ptrace(PTRACE_CONT, c, 0, 0);
	kill(c, SIGUSR1);
	CHECK("usr1_seized", wait_stop(c, &st) && WSTOPSIG(st) == SIGUSR1);
	CHECK("detach_with_signal", ptrace(PTRACE_DETACH, c, 0, (void *)SIGUSR1) == 0);
	EXPECT_ERR("detached", ptrace(PTRACE_CONT, c, 0, 0), ESRCH);
	CHECK("detach_delivered", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 41);
}

static void test_attach_kill(void)
{
	int st;
	pid_t c = pauser();
	CHECK("attach", ptrace(PTRACE_ATTACH, c, 0, 0) == 0);
	CHECK("attach_sigstop", wait_stop(c, &st) && WSTOPSIG(st) == SIGSTOP);
	siginfo_t si;
	CHECK("attach_siginfo", ptrace(PTRACE_GETSIGINFO, c, 0, &si) == 0 && si.si_signo == SIGSTOP && si.si_code == SI_KERNEL);
	ptrace(PTRACE_CONT, c, 0, (void *)SIGSTOP);
	CHECK("group_stop", wait_stop(c, &st) && WSTOPSIG(st) == SIGSTOP && st >> 16 == 0);
	EXPECT_ERR("group_stop_no_siginfo", ptrace(PTRACE_GETSIGINFO, c, 0, &si), EINVAL);
	CHECK("kill_request", ptrace(PTRACE_KILL, c, 0, 0) == 0);
	CHECK("killed", waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	EXPECT_ERR("attach_gone", ptrace(PTRACE_ATTACH, c, 0, 0), ESRCH);
}

static void test_exitkill(void)
{
	int st;
	pid_t t = pauser();
	fflush(stdout);
	pid_t m = fork();
	if (m == 0) {
		if (ptrace(PTRACE_SEIZE, t, 0, (void *)PTRACE_O_EXITKILL) != 0)
			_exit(1);
		_exit(0);
	}
	CHECK("exitkill_tracer", waitpid(m, &st, 0) == m && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK("exitkill_tracee", waitpid(t, &st, 0) == t && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static void body_watch(void)
{
	shared_word = 9; /* a write the watchpoint catches */
	_exit(shared_word == 9 ? 0 : 1);
}

#define DR_OFF(n) ((void *)(offsetof(struct user, u_debugreg) + (n) * sizeof(long)))

static void test_debugregs(void)
{
	int st;
	pid_t c = traced_child(body_watch);
	wait_stop(c, &st);
	EXPECT_ERR("dr4", ptrace(PTRACE_POKEUSER, c, DR_OFF(4), 0), EIO);
	EXPECT_ERR("dr0_kernel_address", ptrace(PTRACE_POKEUSER, c, DR_OFF(0), (void *)0xffffffff81000000UL), EINVAL);
	CHECK("dr0_set", ptrace(PTRACE_POKEUSER, c, DR_OFF(0), (void *)&shared_word) == 0);
	EXPECT_ERR("dr7_io_breakpoint", ptrace(PTRACE_POKEUSER, c, DR_OFF(7), (void *)0x20001L), EINVAL);
	EXPECT_ERR("dr7_exec_long", ptrace(PTRACE_POKEUSER, c, DR_OFF(7), (void *)0xc0001L), EINVAL);
	CHECK("dr1_odd", ptrace(PTRACE_POKEUSER, c, DR_OFF(1), (void *)((long)&shared_word + 1)) == 0);
	EXPECT_ERR("dr7_misaligned", ptrace(PTRACE_POKEUSER, c, DR_OFF(7), (void *)0xd00004L), EINVAL);
	/* DR0: write watch of 8 bytes. */
	CHECK("dr7_write_watch", ptrace(PTRACE_POKEUSER, c, DR_OFF(7), (void *)0xd0001L) == 0);
	errno = 0;
	long dr7 = ptrace(PTRACE_PEEKUSER, c, DR_OFF(7), 0);
	CHECK("dr7_read_back", errno == 0 && (dr7 & 0xffff00ff) == 0xd0001);
	ptrace(PTRACE_CONT, c, 0, 0);
	CHECK("watch_sigtrap", wait_stop(c, &st) && WSTOPSIG(st) == SIGTRAP);
	siginfo_t si;
	ptrace(PTRACE_GETSIGINFO, c, 0, &si);
	CHECK("watch_si_code", si.si_code == TRAP_HWBKPT);
	errno = 0;
	long dr6 = ptrace(PTRACE_PEEKUSER, c, DR_OFF(6), 0);
	CHECK("watch_dr6", errno == 0 && (dr6 & 0xf) == 1);
	ptrace(PTRACE_POKEUSER, c, DR_OFF(7), 0);
	ptrace(PTRACE_CONT, c, 0, 0);
	CHECK("watch_resumed", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_traceme_twice(void)
{
	int st;
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		_exit(ptrace(PTRACE_TRACEME, 0, 0, 0) == -1 && errno == EPERM ? 0 : 1);
	}
	CHECK("traceme_twice_eperm", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	test_traceme_peek_poke();
	test_signals();
	test_syscalls();
	test_exec(0);
	test_exec(1);
	test_fork_event();
	test_breakpoint();
	test_registers();
	test_step();
	test_exit_event();
	test_seize();
	test_attach_kill();
	test_exitkill();
	test_traceme_twice();
	test_debugregs();
	return compat_failures > 100 ? 100 : compat_failures;
}
