/* Timers and timeouts at their edges: timeouts too long for any clock
 * (they saturate, and a signal still ends them), a signal ending a
 * timed futex wait or socket receive even under SA_RESTART, POSIX timers
 * on CPU clocks and with TIMER_ABSTIME on CLOCK_MONOTONIC, the clocks
 * that have no timers, timer_getoverrun after delivery, a timerfd set in
 * the past, and the itimer details Linux shows. */
#include "common.h"
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>

static volatile int hits;
static siginfo_t last;

static void on_sig(int s, siginfo_t *si, void *u)
{
	(void)s;
	(void)u;
	hits++;
	last = *si;
}

static void handle(int sig, int flags)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO | flags;
	sigaction(sig, &sa, NULL);
}

/* SIGALRM in 50 ms. */
static void alarm_soon(void)
{
	struct itimerval v = {{0, 0}, {0, 50000}};
	setitimer(ITIMER_REAL, &v, NULL);
}

static double mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void)
{
	handle(SIGALRM, SA_RESTART);

	/* Timeouts past every clock's end. */
	struct itimerval iv = {{0, 0}, {LONG_MAX, 0}}, ov;
	CHECK("setitimer LONG_MAX", setitimer(ITIMER_REAL, &iv, NULL) == 0);
	CHECK("getitimer shows it", getitimer(ITIMER_REAL, &ov) == 0 && ov.it_value.tv_sec > 1000000000L);
	CHECK("alarm(0) reports it", alarm(0) > 0);
	struct itimerval small = {{LONG_MAX, 0}, {0, 1000}};
	hits = 0;
	setitimer(ITIMER_REAL, &small, NULL);
	while (!hits)
		pause();
	CHECK("a LONG_MAX interval fires once", getitimer(ITIMER_REAL, &ov) == 0 && ov.it_value.tv_sec > 1000000000L);
	alarm(0);
	struct timespec huge = {1L << 40, 0};
	alarm_soon();
	EXPECT_ERR("nanosleep 2^40 s ends with a signal", nanosleep(&huge, NULL), EINTR);
	struct timespec lmax = {LONG_MAX, 999999999};
	alarm_soon();
	EXPECT_ERR("clock_nanosleep LONG_MAX ends with a signal",
		   syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &lmax, NULL), EINTR);
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	struct timespec lm = {LONG_MAX, 0};
	alarm_soon();
	EXPECT_ERR("sigtimedwait LONG_MAX ends with a signal", sigtimedwait(&usr1, NULL, &lm), EINTR);
	int fw = 0;
	alarm_soon();
	EXPECT_ERR("timed futex wait is EINTR under SA_RESTART",
		   syscall(SYS_futex, &fw, FUTEX_WAIT, 0, &lm, NULL, 0), EINTR);
	struct timespec five = {5, 0};
	alarm_soon();
	double t0 = mono();
	EXPECT_ERR("short timed futex wait is EINTR too", syscall(SYS_futex, &fw, FUTEX_WAIT, 0, &five, NULL, 0),
		   EINTR);
	CHECK("and did not wait the timeout", mono() - t0 < 2.5);
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	struct timeval rt = {5, 0};
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof rt);
	char b;
	alarm_soon();
	EXPECT_ERR("recv with SO_RCVTIMEO is EINTR under SA_RESTART", recv(sv[0], &b, 1, 0), EINTR);
	int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec hv = {{0, 0}, {LONG_MAX, 0}}, ho;
	CHECK("timerfd LONG_MAX", timerfd_settime(tfd, 0, &hv, NULL) == 0);
	CHECK("timerfd shows it", timerfd_gettime(tfd, &ho) == 0 && ho.it_value.tv_sec > 1000000000L);

	/* A timerfd set in the past has fired once per period since. */
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	struct itimerspec past = {{1, 0}, now};
	past.it_value.tv_sec -= 10;
	CHECK("timerfd absolute in the past", timerfd_settime(tfd, TFD_TIMER_ABSTIME, &past, NULL) == 0);
	uint64_t n = 0;
	CHECK("it counts every period", read(tfd, &n, 8) == 8 && n == 11);
	CHECK("timerfd_gettime: the next period", timerfd_gettime(tfd, &ho) == 0 && ho.it_value.tv_sec == 0 &&
							  ho.it_interval.tv_sec == 1);
	CHECK("lseek on a timerfd", lseek(tfd, 0, SEEK_SET) == 0);
	close(tfd);

	/* Clocks for timer_create and clock_nanosleep. */
	timer_t t;
	CHECK("timer on the process CPU clock", timer_create(CLOCK_PROCESS_CPUTIME_ID, NULL, &t) == 0 &&
							timer_delete(t) == 0);
	CHECK("timer on the thread CPU clock", timer_create(CLOCK_THREAD_CPUTIME_ID, NULL, &t) == 0 &&
						       timer_delete(t) == 0);
	clockid_t cc;
	CHECK("timer on the parent's CPU clock",
	      clock_getcpuclockid(getppid(), &cc) == 0 && timer_create(cc, NULL, &t) == 0 && timer_delete(t) == 0);
	EXPECT_ERR("timer on MONOTONIC_RAW", timer_create(CLOCK_MONOTONIC_RAW, NULL, &t), EOPNOTSUPP);
	EXPECT_ERR("timer on REALTIME_COARSE", timer_create(CLOCK_REALTIME_COARSE, NULL, &t), EOPNOTSUPP);
	EXPECT_ERR("timer on clock 100", timer_create(100, NULL, &t), EINVAL);
	struct timespec z = {0, 0};
	EXPECT_RC("clock_nanosleep MONOTONIC_RAW", clock_nanosleep(CLOCK_MONOTONIC_RAW, 0, &z, NULL), EOPNOTSUPP);
	EXPECT_RC("clock_nanosleep REALTIME_COARSE", clock_nanosleep(CLOCK_REALTIME_COARSE, 0, &z, NULL),
		  EOPNOTSUPP);

	/* TIMER_ABSTIME on CLOCK_MONOTONIC, and flags Linux ignores. */
	struct sigevent ev = {0};
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGUSR2;
	handle(SIGUSR2, 0);
	CHECK("monotonic timer", timer_create(CLOCK_MONOTONIC, &ev, &t) == 0);
	struct itimerspec its = {0}, got;
	clock_gettime(CLOCK_MONOTONIC, &now);
	its.it_value = now;
	its.it_value.tv_sec += 3;
	hits = 0;
	CHECK("absolute 3 s ahead", timer_settime(t, TIMER_ABSTIME, &its, NULL) == 0);
	CHECK("has not fired", hits == 0);
	CHECK("gettime: about 3 s left", timer_gettime(t, &got) == 0 && got.it_value.tv_sec == 2);
	struct itimerspec one = {{0, 0}, {1, 0}};
	CHECK("unknown settime flags are ignored", timer_settime(t, 0x10, &one, &got) == 0 && got.it_value.tv_sec == 2);

	/* Overruns: what the delivered signal said, timer_getoverrun says. */
	sigset_t s2;
	sigemptyset(&s2);
	sigaddset(&s2, SIGUSR2);
	sigprocmask(SIG_BLOCK, &s2, NULL);
	struct itimerspec fast = {{0, 1000000}, {0, 1000000}};
	timer_settime(t, 0, &fast, NULL);
	usleep(200000);
	siginfo_t si;
	CHECK("sigwaitinfo takes it", sigwaitinfo(&s2, &si) == SIGUSR2 && si.si_code == SI_TIMER);
	int over = timer_getoverrun(t);
	struct itimerspec off = {0};
	timer_settime(t, 0, &off, NULL);
	sigprocmask(SIG_UNBLOCK, &s2, NULL);
	CHECK("taken with overruns", si.si_overrun > 100);
	CHECK("getoverrun is the taken count", over == si.si_overrun);
	CHECK("settime resets it", timer_getoverrun(t) == 0);
	timer_delete(t);

	/* A CPU-time timer fires once the process has spun that long. */
	CHECK("CPU timer", timer_create(CLOCK_PROCESS_CPUTIME_ID, &ev, &t) == 0);
	struct itimerspec cpu = {{0, 0}, {0, 20000000}};
	hits = 0;
	timer_settime(t, 0, &cpu, NULL);
	t0 = mono();
	while (!hits && mono() - t0 < 5)
		;
	CHECK("CPU timer fired", hits == 1 && last.si_code == SI_TIMER);
	timer_delete(t);

	/* itimer details. */
	struct itimerval vz = {{1, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &vz, NULL);
	CHECK("disarmed ITIMER_REAL keeps no interval", getitimer(ITIMER_REAL, &ov) == 0 && ov.it_interval.tv_sec == 0);
	sigset_t vt;
	sigemptyset(&vt);
	sigaddset(&vt, SIGVTALRM);
	sigprocmask(SIG_BLOCK, &vt, NULL);
	struct itimerval tiny = {{0, 0}, {0, 1}};
	setitimer(ITIMER_VIRTUAL, &tiny, NULL);
	CHECK("an armed CPU itimer reads non-zero", getitimer(ITIMER_VIRTUAL, &ov) == 0 && ov.it_value.tv_usec > 0);
	struct itimerval hundred = {{0, 0}, {0, 100000}};
	setitimer(ITIMER_VIRTUAL, &hundred, NULL);
	CHECK("a CPU itimer gets a tick more",
	      getitimer(ITIMER_VIRTUAL, &ov) == 0 && ov.it_value.tv_usec > 100000 && ov.it_value.tv_usec <= 104000);
	struct itimerval none = {0};
	setitimer(ITIMER_VIRTUAL, &none, NULL);
	return compat_done();
}
