/* SA_RESTART vs EINTR, sigaltstack/SA_ONSTACK, FPU state across handlers,
 * SIGSEGV + siglongjmp, sa_mask during handler, alarm. */
#include "common.h"
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>

static volatile sig_atomic_t alarms;
static void on_alarm(int s) { (void)s; alarms++; }

static char *alt_base;
static size_t alt_size;
static volatile int on_alt, onstack_flag;
static void on_usr1_alt(int s)
{
	(void)s;
	char local;
	on_alt = (uintptr_t)&local >= (uintptr_t)alt_base &&
		 (uintptr_t)&local < (uintptr_t)alt_base + alt_size;
	stack_t cur;
	sigaltstack(NULL, &cur);
	onstack_flag = (cur.ss_flags & SS_ONSTACK) != 0;
}

static volatile double fpu_sink;
static void on_usr2_clobber(int s)
{
	(void)s;
	/* Clobber x87 and SSE registers. */
	volatile double a = 1.0e300, b = 3.3;
	for (int i = 0; i < 50; i++)
		a = a / b + (double)i * 0.125;
	fpu_sink = a;
	__asm__ volatile("pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm7, %%xmm7\n\t"
			 "pcmpeqd %%xmm2, %%xmm2\n\tpcmpeqd %%xmm15, %%xmm15" ::: "xmm0", "xmm1",
			 "xmm2", "xmm7", "xmm15");
}

static sigjmp_buf jb;
static void on_segv(int s)
{
	(void)s;
	siglongjmp(jb, 7);
}

static volatile int nested_blocked;
static void on_mask_check(int s)
{
	(void)s;
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	nested_blocked = sigismember(&cur, SIGUSR1) * 1 + sigismember(&cur, SIGUSR2) * 2 +
			 sigismember(&cur, SIGHUP) * 4;
}

static double compute(int n)
{
	double x = 0.0;
	for (int i = 1; i <= n; i++)
		x += 1.0 / ((double)i * (double)i);
	return x;
}

int main(void)
{
	int pfd[2];
	char c;
	struct sigaction sa = {0};

	/* Without SA_RESTART a blocked pipe read fails with EINTR. */
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGALRM, &sa, NULL);
	pipe(pfd);
	struct itimerval it = {{0, 0}, {0, 50000}};
	setitimer(ITIMER_REAL, &it, NULL);
	errno = 0;
	ssize_t r = read(pfd[0], &c, 1);
	printf("read_no_restart ret=%zd errno=%s alarms=%d\n", r, ename(errno), alarms);

	/* With SA_RESTART the read resumes and gets the data written later by
	 * a child after the alarm fired. */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	alarms = 0;
	pid_t p = fork();
	if (p == 0) {
		usleep(300000);
		write(pfd[1], "z", 1);
		_exit(0);
	}
	setitimer(ITIMER_REAL, &it, NULL);
	errno = 0;
	r = read(pfd[0], &c, 1);
	printf("read_restart ret=%zd errno=%s alarms=%d byte=%c\n", r, ename(errno), alarms,
	       r == 1 ? c : '-');
	waitpid(p, NULL, 0);

	/* alarm(): returns previous remaining seconds. */
	alarms = 0;
	SHOW("alarm_first", "%u", alarm(5));
	SHOW("alarm_cancel_remaining_le5", "%d", alarm(0) <= 5);
	alarm(1);
	while (!alarms)
		pause();
	SHOW("alarm_fired", "%d", alarms);

	/* nanosleep interrupted without SA_RESTART: EINTR (never restarted). */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	struct timespec ts = {5, 0}, rem = {0, 0};
	EXPECT_ERR("nanosleep_eintr_even_with_restart", nanosleep(&ts, &rem), EINTR);
	CHECK("nanosleep_remaining", rem.tv_sec >= 3 && rem.tv_sec <= 5);

	/* sigaltstack. */
	alt_size = 64 * 1024;
	alt_base = malloc(alt_size);
	stack_t ss = {.ss_sp = alt_base, .ss_size = alt_size, .ss_flags = 0}, oss;
	CHECK("sigaltstack_set", sigaltstack(&ss, &oss) == 0);
	CHECK("sigaltstack_old_disabled", oss.ss_flags == SS_DISABLE);
	struct sigaction as = {0};
	as.sa_handler = on_usr1_alt;
	as.sa_flags = SA_ONSTACK;
	sigemptyset(&as.sa_mask);
	sigaction(SIGUSR1, &as, NULL);
	raise(SIGUSR1);
	CHECK("handler_on_altstack", on_alt);
	CHECK("ss_onstack_in_handler", onstack_flag);
	as.sa_flags = 0;
	sigaction(SIGUSR1, &as, NULL);
	raise(SIGUSR1);
	CHECK("handler_without_onstack_not_on_alt", !on_alt);
	stack_t q;
	sigaltstack(NULL, &q);
	CHECK("sigaltstack_query", q.ss_sp == alt_base && q.ss_size == alt_size && q.ss_flags == 0);
	stack_t small = {.ss_sp = alt_base, .ss_size = 512, .ss_flags = 0};
	EXPECT_ERR("sigaltstack_too_small", sigaltstack(&small, NULL), ENOMEM);
	stack_t badf = {.ss_sp = alt_base, .ss_size = alt_size, .ss_flags = 0x1234};
	EXPECT_ERR("sigaltstack_bad_flags", sigaltstack(&badf, NULL), EINVAL);
	EXPECT_ERR("sigaltstack_efault", sigaltstack(BADPTR, NULL), EFAULT);

	/* SIGSEGV handler on the alternate stack after stack overflow-like use,
	 * then siglongjmp out. */
	struct sigaction sg = {0};
	sg.sa_handler = on_segv;
	sg.sa_flags = SA_ONSTACK;
	sigemptyset(&sg.sa_mask);
	sigaction(SIGSEGV, &sg, NULL);
	int jr = sigsetjmp(jb, 1);
	if (jr == 0) {
		*(volatile int *)16 = 1;
		printf("segv_not_raised FAIL\n");
	}
	SHOW("segv_longjmp_value", "%d", jr);
	jr = sigsetjmp(jb, 1);
	if (jr == 0)
		*(volatile int *)16 = 1;
	SHOW("segv_longjmp_twice", "%d", jr);

	/* FPU/SSE state preserved across a handler that clobbers it. */
	struct sigaction fa = {0};
	fa.sa_handler = on_usr2_clobber;
	sigemptyset(&fa.sa_mask);
	sigaction(SIGUSR2, &fa, NULL);
	double expect = compute(100000);
	double x = 0.0;
	int n = 100000;
	for (int i = 1; i <= n; i++) {
		x += 1.0 / ((double)i * (double)i);
		if (i % 10000 == 0)
			raise(SIGUSR2);
	}
	CHECK("fpu_preserved_across_signal", x == expect);
	register double keep __asm__("xmm9") = 2.5;
	__asm__ volatile("" : "+x"(keep));
	raise(SIGUSR2);
	__asm__ volatile("" : "+x"(keep));
	CHECK("xmm9_preserved", keep == 2.5);
	printf("fpu_value %.12f\n", x);

	/* sa_mask and the delivered signal are blocked inside the handler. */
	struct sigaction ma = {0};
	ma.sa_handler = on_mask_check;
	sigemptyset(&ma.sa_mask);
	sigaddset(&ma.sa_mask, SIGHUP);
	sigaction(SIGUSR1, &ma, NULL);
	raise(SIGUSR1);
	SHOW("handler_mask_bits", "%d", nested_blocked);
	ma.sa_flags = SA_NODEFER;
	sigaction(SIGUSR1, &ma, NULL);
	raise(SIGUSR1);
	SHOW("handler_mask_bits_nodefer", "%d", nested_blocked);
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	CHECK("mask_restored_after_handler", !sigismember(&cur, SIGHUP) && !sigismember(&cur, SIGUSR1));
	return compat_done();
}
