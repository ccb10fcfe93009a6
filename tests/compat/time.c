/* Clocks, sleeps, interval timers, POSIX timers, times(), getrusage. */
#include "common.h"
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <time.h>

static long long ns_of(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }
static long long mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return ns_of(t);
}

static volatile sig_atomic_t alrm, tmr_hits, tmr_code, tmr_val;
static void on_alrm(int s) { (void)s; alrm++; }
static void on_tmr(int s, siginfo_t *si, void *uc)
{
	(void)s;
	(void)uc;
	tmr_hits++;
	tmr_code = si->si_code;
	tmr_val = si->si_value.sival_int;
}

int main(void)
{
	clockid_t ids[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_PROCESS_CPUTIME_ID,
			   CLOCK_THREAD_CPUTIME_ID, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
			   CLOCK_MONOTONIC_COARSE};
	const char *names[] = {"REALTIME", "MONOTONIC", "BOOTTIME", "PROCESS_CPUTIME", "THREAD_CPUTIME",
			       "MONOTONIC_RAW", "REALTIME_COARSE", "MONOTONIC_COARSE"};
	for (int i = 0; i < 8; i++) {
		struct timespec a, b, res;
		int r1 = clock_gettime(ids[i], &a);
		volatile double spin = 0;
		for (int k = 0; k < 100000; k++)
			spin += k;
		int r2 = clock_gettime(ids[i], &b);
		int r3 = clock_getres(ids[i], &res);
		printf("clock_%s gettime=%d nondecreasing=%d nsec_valid=%d getres=%d res_sane=%d\n", names[i],
		       r1 == 0 && r2 == 0, ns_of(b) >= ns_of(a), a.tv_nsec >= 0 && a.tv_nsec < 1000000000,
		       r3 == 0, res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 10000000);
	}
	/* Monotonic never goes backwards over many reads (vDSO or syscall). */
	long long prev = mono_ns();
	int mono_ok = 1;
	for (int i = 0; i < 100000; i++) {
		long long now = mono_ns();
		if (now < prev)
			mono_ok = 0;
		prev = now;
	}
	CHECK("monotonic_100k_nondecreasing", mono_ok);
	struct timespec raw;
	CHECK("clock_gettime_raw_syscall", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &raw) == 0);

	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	time_t t = time(NULL);
	CHECK("realtime_close_to_time", llabs((long long)t - rt.tv_sec) <= 1);
	CHECK("realtime_after_2020", rt.tv_sec > 1577836800);
	struct timeval tv;
	CHECK("gettimeofday", gettimeofday(&tv, NULL) == 0);
	CHECK("gettimeofday_close", llabs((long long)tv.tv_sec - rt.tv_sec) <= 1 && tv.tv_usec < 1000000);
	struct timespec boot, mono;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	CHECK("boottime_ge_monotonic", ns_of(boot) >= ns_of(mono) - 1000000);

	EXPECT_ERR("clock_gettime_invalid", clock_gettime((clockid_t)1234, &rt), EINVAL);
	EXPECT_ERR("clock_getres_invalid", clock_getres((clockid_t)-100, &rt), EINVAL);
	EXPECT_ERR("clock_gettime_efault", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, BADPTR), EFAULT);
	EXPECT_ERR("clock_settime_monotonic", clock_settime(CLOCK_MONOTONIC, &rt), EINVAL);

	/* nanosleep 10ms. */
	long long s0 = mono_ns();
	struct timespec d = {0, 10 * 1000 * 1000};
	CHECK("nanosleep_10ms", nanosleep(&d, NULL) == 0);
	long long el = mono_ns() - s0;
	CHECK("nanosleep_10ms_bounds", el >= 10000000 && el < 1000000000);
	struct timespec badd = {0, 1000000000};
	EXPECT_ERR("nanosleep_einval", nanosleep(&badd, NULL), EINVAL);
	struct timespec negd = {-1, 0};
	EXPECT_ERR("nanosleep_negative", nanosleep(&negd, NULL), EINVAL);
	EXPECT_ERR("nanosleep_efault", syscall(SYS_nanosleep, BADPTR, NULL), EFAULT);

	/* clock_nanosleep TIMER_ABSTIME. */
	struct timespec target;
	clock_gettime(CLOCK_MONOTONIC, &target);
	target.tv_nsec += 20 * 1000 * 1000;
	if (target.tv_nsec >= 1000000000) {
		target.tv_sec++;
		target.tv_nsec -= 1000000000;
	}
	int cr = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, NULL);
	CHECK("clock_nanosleep_abs", cr == 0 && mono_ns() >= ns_of(target));
	target.tv_sec -= 10;
	CHECK("clock_nanosleep_abs_past", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, NULL) == 0);
	s0 = mono_ns();
	CHECK("clock_nanosleep_rel", clock_nanosleep(CLOCK_REALTIME, 0, &d, NULL) == 0 && mono_ns() - s0 >= 10000000);
	EXPECT_RC("clock_nanosleep_bad_clock", clock_nanosleep(999, 0, &d, NULL), EINVAL);
	EXPECT_RC("clock_nanosleep_thread_cputime", clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &d, NULL), EINVAL);

	/* setitimer ITIMER_REAL. */
	signal(SIGALRM, on_alrm);
	struct itimerval it = {{0, 20000}, {0, 20000}}, cur;
	CHECK("setitimer_real", setitimer(ITIMER_REAL, &it, NULL) == 0);
	CHECK("getitimer_real", getitimer(ITIMER_REAL, &cur) == 0 && cur.it_interval.tv_usec == 20000 &&
					cur.it_value.tv_sec == 0 && cur.it_value.tv_usec <= 20000);
	while (alrm < 3)
		pause();
	struct itimerval zero = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &zero, &cur);
	SHOW("itimer_real_fired_at_least_3", "%d", alrm >= 3);
	getitimer(ITIMER_REAL, &cur);
	CHECK("itimer_disarmed", cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0);
	EXPECT_ERR("setitimer_bad_which", setitimer(99, &it, NULL), EINVAL);

	/* ITIMER_PROF/VIRTUAL: consume CPU until it fires. */
	signal(SIGPROF, on_alrm);
	alrm = 0;
	struct itimerval prof = {{0, 0}, {0, 10000}};
	setitimer(ITIMER_PROF, &prof, NULL);
	volatile double spin = 0;
	long long start = mono_ns();
	while (!alrm && mono_ns() - start < 5000000000LL)
		for (int k = 0; k < 100000; k++)
			spin += k;
	SHOW("itimer_prof_fired", "%d", alrm);

	/* POSIX timer with SIGEV_SIGNAL. */
	struct sigaction sa = {0};
	sa.sa_sigaction = on_tmr;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGRTMIN, &sa, NULL);
	timer_t tid;
	struct sigevent sev = {0};
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN;
	sev.sigev_value.sival_int = 99;
	CHECK("timer_create", timer_create(CLOCK_MONOTONIC, &sev, &tid) == 0);
	struct itimerspec its = {{0, 10000000}, {0, 10000000}}, gits;
	CHECK("timer_settime", timer_settime(tid, 0, &its, NULL) == 0);
	CHECK("timer_gettime", timer_gettime(tid, &gits) == 0 && gits.it_interval.tv_nsec == 10000000);
	while (tmr_hits < 3)
		pause();
	printf("posix_timer hits_ge3=%d code_timer=%d value=%d\n", tmr_hits >= 3, tmr_code == SI_TIMER,
	       tmr_val);
	CHECK("timer_getoverrun", timer_getoverrun(tid) >= 0);
	CHECK("timer_delete", timer_delete(tid) == 0);
	EXPECT_ERR("timer_settime_deleted", timer_settime(tid, 0, &its, NULL), EINVAL);
	EXPECT_ERR("timer_create_bad_clock", timer_create(12345, &sev, &tid), EINVAL);
	sev.sigev_notify = 12345;
	EXPECT_ERR("timer_create_bad_notify", timer_create(CLOCK_MONOTONIC, &sev, &tid), EINVAL);

	/* Absolute one-shot timer, SIGEV_NONE polled with timer_gettime. */
	sev.sigev_notify = SIGEV_NONE;
	CHECK("timer_create_none", timer_create(CLOCK_REALTIME, &sev, &tid) == 0);
	struct itimerspec one = {{0, 0}, {100, 0}};
	timer_settime(tid, 0, &one, NULL);
	timer_gettime(tid, &gits);
	CHECK("timer_none_remaining", gits.it_value.tv_sec >= 98 && gits.it_value.tv_sec <= 100);
	timer_delete(tid);

	/* times() and getrusage. */
	struct tms tm;
	clock_t c = times(&tm);
	CHECK("times", c != (clock_t)-1);
	CHECK("times_utime_sane", tm.tms_utime >= 0 && tm.tms_stime >= 0);
	SHOW("clk_tck", "%ld", sysconf(_SC_CLK_TCK));
	struct rusage ru;
	CHECK("getrusage_self", getrusage(RUSAGE_SELF, &ru) == 0);
	CHECK("getrusage_cpu_positive", ru.ru_utime.tv_sec + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec > 0);
	CHECK("getrusage_maxrss_positive", ru.ru_maxrss > 0);
	CHECK("getrusage_children", getrusage(RUSAGE_CHILDREN, &ru) == 0);
	CHECK("getrusage_thread", getrusage(RUSAGE_THREAD, &ru) == 0);
	EXPECT_ERR("getrusage_bad_who", getrusage(99, &ru), EINVAL);
	EXPECT_ERR("getrusage_efault", getrusage(RUSAGE_SELF, BADPTR), EFAULT);
	return compat_done();
}
