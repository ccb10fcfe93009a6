/* Signal details at their edges: what sigaction stores (SA_RESETHAND
 * keeps the flags, unknown flags are dropped), rt_sigpending's size,
 * SS_AUTODISARM, the trap number and error code a fault handler sees,
 * rt_sigqueueinfo's order of errors, and RLIMIT_SIGPENDING. */
#include "common.h"
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>

#define SA_RESTORER 0x04000000
#define SS_AUTODISARM (1U << 31)

static void nothing(int s)
{
	(void)s;
}

static char stk[65536];
static volatile int in_flags, in_set, replace = 1;

static void on_alt(int s)
{
	(void)s;
	stack_t o, n = {.ss_sp = stk, .ss_size = sizeof stk};
	sigaltstack(NULL, &o);
	in_flags = o.ss_flags;
	in_set = replace ? sigaltstack(&n, NULL) : 0;
}

static volatile long trapno, err;

static void on_fault(int s, siginfo_t *si, void *u)
{
	(void)si;
	ucontext_t *uc = u;
	trapno = uc->uc_mcontext.gregs[REG_TRAPNO];
	err = uc->uc_mcontext.gregs[REG_ERR];
	/* Skip the faulting instruction: 3 bytes for the moves, 2 for ud2. */
	uc->uc_mcontext.gregs[REG_RIP] += s == SIGSEGV ? 3 : (s == SIGILL ? 2 : 0);
}

static volatile int got;

static void count(int s)
{
	(void)s;
	got++;
}

int main(void)
{
	struct sigaction sa = {0}, o;
	sa.sa_handler = nothing;
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	sigaction(SIGUSR1, NULL, &o);
	CHECK("SA_RESETHAND resets the handler", o.sa_handler == SIG_DFL);
	SHOW("and keeps the flags", "%#x", o.sa_flags & ~SA_RESTORER);
	sa.sa_flags = 0x400 | SA_RESTART; /* SA_UNSUPPORTED */
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGUSR2, NULL, &o);
	SHOW("unknown flags are dropped", "%#x", o.sa_flags & ~SA_RESTORER);

	sigset_t b;
	sigemptyset(&b);
	sigaddset(&b, SIGUSR1);
	sigprocmask(SIG_BLOCK, &b, NULL);
	raise(SIGUSR1);
	unsigned long m = 0;
	CHECK("rt_sigpending size 4", syscall(SYS_rt_sigpending, &m, 4) == 0 && m == 1UL << (SIGUSR1 - 1));
	CHECK("rt_sigpending size 0", syscall(SYS_rt_sigpending, NULL, 0) == 0);
	EXPECT_ERR("rt_sigpending size 9", syscall(SYS_rt_sigpending, &m, 9), EINVAL);
	EXPECT_ERR("rt_sigpending bad pointer", syscall(SYS_rt_sigpending, BADPTR, 8), EFAULT);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigaction(SIGUSR1, &sa, NULL);
	sigprocmask(SIG_UNBLOCK, &b, NULL);

	/* SS_AUTODISARM: the stack is given up while its handler runs. */
	stack_t ss = {.ss_sp = stk, .ss_size = sizeof stk, .ss_flags = SS_AUTODISARM}, os;
	CHECK("sigaltstack SS_AUTODISARM", sigaltstack(&ss, NULL) == 0);
	CHECK("it reads back", sigaltstack(NULL, &os) == 0 && (unsigned)os.ss_flags == SS_AUTODISARM);
	sa.sa_handler = on_alt;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR2, &sa, NULL);
	raise(SIGUSR2);
	CHECK("in the handler it is disabled", in_flags == SS_DISABLE);
	CHECK("and may be replaced", in_set == 0);
	CHECK("a stack set there while on it stays", sigaltstack(NULL, &os) == 0 && os.ss_flags == 0);
	ss.ss_flags = SS_AUTODISARM;
	sigaltstack(&ss, NULL);
	replace = 0;
	raise(SIGUSR2);
	CHECK("else sigreturn restores it", sigaltstack(NULL, &os) == 0 && (unsigned)os.ss_flags == SS_AUTODISARM &&
						    os.ss_size == sizeof stk);
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);

	/* What a fault handler sees in its context. */
	struct sigaction fa = {0};
	fa.sa_sigaction = on_fault;
	fa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &fa, NULL);
	sigaction(SIGILL, &fa, NULL);
	sigaction(SIGTRAP, &fa, NULL);
	long v;
	__asm__ volatile(".byte 0x48,0x8b,0x00" : "=a"(v) : "a"(0x1000L)); /* mov (%rax),%rax */
	printf("read of unmapped memory: trapno %ld err %ld\n", trapno, err);
	char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	__asm__ volatile(".byte 0xc6,0x00,0x01" ::"a"(ro + 8) : "memory"); /* movb $1,(%rax) */
	printf("write to read-only memory: trapno %ld err %ld\n", trapno, err);
	__asm__ volatile("ud2");
	printf("ud2: trapno %ld\n", trapno);
	__asm__ volatile("int3");
	printf("int3: trapno %ld\n", trapno);

	/* rt_sigqueueinfo: posing as kill(2) to another process is EPERM
	 * before the target is even looked up. */
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_code = SI_USER;
	EXPECT_ERR("queueinfo SI_USER to no such pid", syscall(SYS_rt_sigqueueinfo, 999999, SIGUSR1, &si), EPERM);
	EXPECT_ERR("queueinfo SI_USER to pid 0", syscall(SYS_rt_sigqueueinfo, 0, SIGUSR1, &si), EPERM);
	si.si_code = SI_QUEUE;
	EXPECT_ERR("queueinfo to no such pid", syscall(SYS_rt_sigqueueinfo, 999999, SIGUSR1, &si), ESRCH);
	EXPECT_ERR("queueinfo bad signal", syscall(SYS_rt_sigqueueinfo, getpid(), 99, &si), EINVAL);
	EXPECT_ERR("queueinfo bad siginfo", syscall(SYS_rt_sigqueueinfo, 999999, SIGUSR1, BADPTR), EFAULT);

	/* RLIMIT_SIGPENDING, in a child so the limit stays there. */
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		struct rlimit rl = {5, 5};
		setrlimit(RLIMIT_SIGPENDING, &rl);
		sigset_t all;
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, NULL);
		signal(SIGRTMIN, count);
		signal(SIGRTMIN + 1, count);
		union sigval sv = {0};
		int i, e = 0;
		for (i = 0; i < 100; i++)
			if (sigqueue(getpid(), SIGRTMIN, sv) != 0) {
				e = errno;
				break;
			}
		printf("sigqueue stops at the limit: %d %s\n", i <= 5, ename(e));
		printf("kill is not limited: %d\n", kill(getpid(), SIGRTMIN + 1) == 0);
		int killed = 0;
		for (int k = 0; k < 50; k++)
			killed += kill(getpid(), SIGRTMIN) == 0;
		printf("kill past the limit succeeds: %d\n", killed == 50);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		/* The kills found SIGRTMIN pending: none was queued. */
		printf("queued ones delivered, the kills not queued: %d\n", got == i + 1);
		fflush(stdout);
		_exit(0);
	}
	int st;
	CHECK("limit child", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return compat_done();
}
