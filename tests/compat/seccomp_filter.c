/* seccomp(2) for the program itself: SECCOMP_GET_ACTION_AVAIL, the
 * checks of a filter (no_new_privs or CAP_SYS_ADMIN, the BPF verifier),
 * every return action (errno, trap with its siginfo and the call rolled
 * back, kill thread, kill process, trace without a tracer, log, allow),
 * argument and arch checks, several filters (the strictest wins, the
 * newest among equals), inheritance across fork and exec, TSYNC, and
 * strict mode. Each case runs in a child. */
#include "common.h"
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static long sc(unsigned op, unsigned flags, void *arg)
{
	return syscall(SYS_seccomp, op, flags, arg);
}

/* A filter: `action` for `nr` (with arg0 == `arg0` when arg0 >= 0),
 * allow the rest; kill on another arch. */
static long deny(int nr, long arg0, unsigned action, unsigned flags)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 2),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)arg0, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, action),
	};
	if (arg0 < 0) {
		/* No argument check: the match returns `action`. */
		f[5] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, action);
	}
	struct sock_fprog p = {sizeof f / sizeof f[0], f};
	return sc(SECCOMP_SET_MODE_FILTER, flags, &p);
}

static int nnp(void)
{
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

/* Runs `fn` in a child: its wait status. */
static int in_child(int (*fn)(void))
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0)
		_exit(fn());
	int st;
	waitpid(c, &st, 0);
	return st;
}

static int exited(int st, int code)
{
	return WIFEXITED(st) && WEXITSTATUS(st) == code;
}

static int c_errno(void)
{
	if (nnp() || deny(SYS_getppid, -1, SECCOMP_RET_ERRNO | EXDEV, 0))
		return 90;
	int r = 0;
	r |= !(syscall(SYS_getppid) == -1 && errno == EXDEV);
	r |= !(syscall(SYS_getpid) == getpid()) << 1;
	r |= !(prctl(PR_GET_SECCOMP) == 2) << 2;
	char st[4096] = {0};
	FILE *f = fopen("/proc/self/status", "r");
	if (f) {
		fread(st, 1, sizeof st - 1, f);
		fclose(f);
	}
	r |= !(strstr(st, "\nSeccomp:\t2\n") && strstr(st, "\nSeccomp_filters:\t1\n")) << 4;
	deny(SYS_getppid, -1, SECCOMP_RET_ERRNO | 5000, 0);
	r |= !(syscall(SYS_getppid) == -1 && errno == 4095) << 3;
	return r;
}

static volatile int trap_ok;
static void on_sys(int s, siginfo_t *si, void *u)
{
	(void)s;
	(void)u;
	trap_ok = si->si_code == 1 && si->si_syscall == SYS_getppid && si->si_arch == AUDIT_ARCH_X86_64 &&
		  si->si_errno == 77 && si->si_call_addr != NULL;
}

static int c_trap(void)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = on_sys;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSYS, &sa, NULL);
	if (nnp() || deny(SYS_getppid, -1, SECCOMP_RET_TRAP | 77, 0))
		return 90;
	long r = syscall(SYS_getppid);
	/* The call was rolled back: rax is its number again. */
	return (r == SYS_getppid ? 0 : 1) | (trap_ok ? 0 : 2);
}

static int c_kill_process(void)
{
	if (nnp() || deny(SYS_getppid, -1, SECCOMP_RET_KILL_PROCESS, 0))
		return 90;
	syscall(SYS_getppid);
	return 91;
}

static int c_kill_thread_alone(void)
{
	if (nnp() || deny(SYS_getppid, -1, SECCOMP_RET_KILL_THREAD, 0))
		return 90;
	syscall(SYS_getppid);
	return 91;
}

static void *killed_thread(void *a)
{
	(void)a;
	if (deny(SYS_getppid, -1, SECCOMP_RET_KILL_THREAD, 0))
		return (void *)1;
	syscall(SYS_getppid);
	return (void *)2;
}

static int c_kill_thread(void)
{
	if (nnp())
		return 90;
	pthread_t t;
	pthread_create(&t, NULL, killed_thread, NULL);
	void *ret = (void *)3;
	pthread_join(t, &ret);
	/* The thread died mid-call; this one goes on without the filter. */
	return ret != (void *)1 && ret != (void *)2 && syscall(SYS_getppid) == getppid() ? 0 : 1;
}

static int c_trace_log(void)
{
	if (nnp() || deny(SYS_getppid, -1, SECCOMP_RET_TRACE, 0) || deny(SYS_getuid, -1, SECCOMP_RET_LOG, 0))
		return 90;
	int r = !(syscall(SYS_getppid) == -1 && errno == ENOSYS);
	r |= !(syscall(SYS_getuid) == getuid()) << 1;
	return r;
}

static int c_args_and_order(void)
{
	if (nnp() || deny(SYS_getppid, 42, SECCOMP_RET_ERRNO | EXDEV, 0))
		return 90;
	int r = !(syscall(SYS_getppid, 42) == -1 && errno == EXDEV);
	r |= !(syscall(SYS_getppid, 41) > 0) << 1;
	/* Two errno filters: the newest's; an errno and a trap: the trap. */
	deny(SYS_getppid, 42, SECCOMP_RET_ERRNO | ENOENT, 0);
	r |= !(syscall(SYS_getppid, 42) == -1 && errno == ENOENT) << 2;
	deny(SYS_getpid, -1, SECCOMP_RET_KILL_PROCESS, 0);
	deny(SYS_getpid, -1, SECCOMP_RET_ERRNO | EPERM, 0);
	return r;
}

static int c_order_kill(void)
{
	if (nnp() || deny(SYS_getpid, -1, SECCOMP_RET_KILL_PROCESS, 0) || deny(SYS_getpid, -1, SECCOMP_RET_ERRNO | EPERM, 0))
		return 90;
	syscall(SYS_getpid);
	return 91;
}

static int c_inherit(void)
{
	if (nnp() || deny(SYS_getppid, -1, SECCOMP_RET_ERRNO | EXDEV, 0))
		return 90;
	int st = 0;
	pid_t c = fork();
	if (c == 0)
		_exit(syscall(SYS_getppid) == -1 && errno == EXDEV ? 0 : 1);
	waitpid(c, &st, 0);
	int r = !exited(st, 0);
	c = fork();
	if (c == 0) {
		execl("/proc/self/exe", "seccomp_filter", "getppid", (char *)NULL);
		_exit(92);
	}
	waitpid(c, &st, 0);
	r |= !exited(st, EXDEV) << 1;
	return r;
}

static int c_no_privs(void)
{
	if (setgid(65534) || setuid(65534))
		return 90;
	int r = !(deny(SYS_getppid, -1, SECCOMP_RET_ERRNO, 0) == -1 && errno == EACCES);
	struct sock_filter bad[] = {BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), BPF_STMT(BPF_RET | BPF_K, 0)};
	struct sock_fprog p = {2, bad};
	/* The privilege check comes before the program's. */
	r |= !(sc(SECCOMP_SET_MODE_FILTER, 0, &p) == -1 && errno == EACCES) << 1;
	return r;
}

static void *tsync_thread(void *a)
{
	usleep(100000);
	long r = syscall(SYS_getppid);
	return (void *)(long)(r == -1 && errno == EXDEV);
}

static int c_tsync(void)
{
	if (nnp())
		return 90;
	pthread_t t;
	pthread_create(&t, NULL, tsync_thread, NULL);
	int r = !(deny(SYS_getppid, -1, SECCOMP_RET_ERRNO | EXDEV, SECCOMP_FILTER_FLAG_TSYNC) == 0);
	void *ok = NULL;
	pthread_join(t, &ok);
	r |= !(ok == (void *)1) << 1;
	return r;
}

static pid_t other_tid;
static volatile int go_on;
static void *own_filter_thread(void *a)
{
	(void)a;
	deny(SYS_getuid, -1, SECCOMP_RET_ERRNO | EPERM, 0);
	other_tid = (pid_t)syscall(SYS_gettid);
	while (!go_on)
		usleep(1000);
	return NULL;
}

static int c_tsync_fails(void)
{
	if (nnp())
		return 90;
	pthread_t t;
	pthread_create(&t, NULL, own_filter_thread, NULL);
	while (!other_tid)
		usleep(1000);
	int r = !(deny(SYS_getppid, -1, SECCOMP_RET_ERRNO | EXDEV, SECCOMP_FILTER_FLAG_TSYNC) == other_tid);
	r |= !(deny(SYS_getppid, -1, SECCOMP_RET_ERRNO | EXDEV, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH) == -1 && errno == ESRCH) << 1;
	/* Nothing was installed anywhere. */
	r |= !(syscall(SYS_getppid) > 0) << 2;
	go_on = 1;
	pthread_join(t, NULL);
	return r;
}

static int c_strict(void)
{
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT))
		return 90;
	write(1, "", 0);
	syscall(SYS_getppid);
	return 91;
}

static int c_filter_then_strict(void)
{
	if (nnp() || deny(SYS_getppid, -1, SECCOMP_RET_ERRNO | EXDEV, 0))
		return 90;
	return sc(SECCOMP_SET_MODE_STRICT, 0, NULL) == -1 && errno == EINVAL ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "getppid") == 0)
		return syscall(SYS_getppid) == -1 ? errno : 0;

	unsigned acts[] = {SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP, SECCOMP_RET_ERRNO,
			   SECCOMP_RET_TRACE, SECCOMP_RET_LOG, SECCOMP_RET_ALLOW};
	int avail = 0;
	for (unsigned i = 0; i < sizeof acts / sizeof acts[0]; i++)
		avail += sc(SECCOMP_GET_ACTION_AVAIL, 0, &acts[i]) == 0;
	CHECK("actions available", avail == 7);
	unsigned bogus = 0x12340000;
	EXPECT_ERR("bogus action", sc(SECCOMP_GET_ACTION_AVAIL, 0, &bogus), EOPNOTSUPP);
	EXPECT_ERR("bad op", sc(99, 0, NULL), EINVAL);
	EXPECT_ERR("strict with flags", sc(SECCOMP_SET_MODE_STRICT, 1, NULL), EINVAL);
	CHECK("mode 0", prctl(PR_GET_SECCOMP) == 0);

	/* The program checks (as root: CAP_SYS_ADMIN stands for no_new_privs). */
	struct sock_filter ret_only[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_fprog p = {0, ret_only};
	EXPECT_ERR("empty program", sc(SECCOMP_SET_MODE_FILTER, 0, &p), EINVAL);
	p.len = 4097;
	EXPECT_ERR("too long", sc(SECCOMP_SET_MODE_FILTER, 0, &p), EINVAL);
	struct sock_filter byte[] = {BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), BPF_STMT(BPF_RET | BPF_K, 0)};
	struct sock_fprog pb = {2, byte};
	EXPECT_ERR("byte load", sc(SECCOMP_SET_MODE_FILTER, 0, &pb), EINVAL);
	struct sock_filter far[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), BPF_STMT(BPF_RET | BPF_K, 0)};
	struct sock_fprog pf = {2, far};
	EXPECT_ERR("load past seccomp_data", sc(SECCOMP_SET_MODE_FILTER, 0, &pf), EINVAL);
	struct sock_filter out[] = {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 0), BPF_STMT(BPF_RET | BPF_K, 0)};
	struct sock_fprog po = {2, out};
	EXPECT_ERR("jump out", sc(SECCOMP_SET_MODE_FILTER, 0, &po), EINVAL);
	struct sock_filter noret[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0)};
	struct sock_fprog pn = {1, noret};
	EXPECT_ERR("no return", sc(SECCOMP_SET_MODE_FILTER, 0, &pn), EINVAL);
	struct sock_fprog pbad = {1, BADPTR};
	EXPECT_ERR("bad program pointer", sc(SECCOMP_SET_MODE_FILTER, 0, &pbad), EFAULT);
	EXPECT_ERR("bad fprog", sc(SECCOMP_SET_MODE_FILTER, 0, BADPTR), EFAULT);
	p.len = 1;
	EXPECT_ERR("unknown flag", sc(SECCOMP_SET_MODE_FILTER, 1 << 10, &p), EINVAL);

	CHECK("errno action", exited(in_child(c_errno), 0));
	CHECK("trap action", exited(in_child(c_trap), 0));
	int st = in_child(c_kill_process);
	CHECK("kill process", WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	st = in_child(c_kill_thread_alone);
	CHECK("kill the only thread", WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	CHECK("kill one thread", exited(in_child(c_kill_thread), 0));
	CHECK("trace and log", exited(in_child(c_trace_log), 0));
	CHECK("arguments and order", exited(in_child(c_args_and_order), 0));
	st = in_child(c_order_kill);
	CHECK("kill outranks errno", WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	CHECK("fork and exec inherit", exited(in_child(c_inherit), 0));
	CHECK("privileges needed", exited(in_child(c_no_privs), 0));
	CHECK("TSYNC", exited(in_child(c_tsync), 0));
	CHECK("TSYNC refused", exited(in_child(c_tsync_fails), 0));
	st = in_child(c_strict);
	CHECK("strict mode", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	CHECK("filter then strict", exited(in_child(c_filter_then_strict), 0));
	return compat_done();
}
