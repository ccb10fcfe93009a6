/* sigaction/SA_SIGINFO, masks, pending, sigsuspend, sigtimedwait, kill/tgkill/sigqueue. */
#include "common.h"
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

static volatile sig_atomic_t hits, last_sig, last_code, last_pid_ok, last_val;

static void on_info(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	hits++;
	last_sig = sig;
	last_code = si->si_code;
	last_pid_ok = si->si_pid == getpid();
	last_val = si->si_value.sival_int;
}

static const char *code_name(int c)
{
	switch (c) {
	case SI_USER: return "SI_USER";
	case SI_TKILL: return "SI_TKILL";
	case SI_QUEUE: return "SI_QUEUE";
	case SI_KERNEL: return "SI_KERNEL";
	case SI_TIMER: return "SI_TIMER";
	default: return "other";
	}
}

static volatile sig_atomic_t order[8], norder;
static void on_order(int sig) { if (norder < 8) order[norder++] = sig; }

int main(void)
{
	struct sigaction sa = {0}, old;
	sa.sa_sigaction = on_info;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	CHECK("sigaction_install", sigaction(SIGUSR1, &sa, NULL) == 0);
	CHECK("sigaction_query", sigaction(SIGUSR1, NULL, &old) == 0 &&
					 old.sa_sigaction == on_info && (old.sa_flags & SA_SIGINFO));

	kill(getpid(), SIGUSR1);
	printf("kill hits=%d sig_ok=%d code=%s pid_ok=%d\n", hits, last_sig == SIGUSR1,
	       code_name(last_code), last_pid_ok);
	raise(SIGUSR1);
	printf("raise hits=%d code=%s pid_ok=%d\n", hits, code_name(last_code), last_pid_ok);
	syscall(SYS_tgkill, getpid(), gettid(), SIGUSR1);
	printf("tgkill hits=%d code=%s pid_ok=%d\n", hits, code_name(last_code), last_pid_ok);
	syscall(SYS_tkill, gettid(), SIGUSR1);
	printf("tkill hits=%d code=%s\n", hits, code_name(last_code));
	union sigval v = {.sival_int = 4242};
	sigqueue(getpid(), SIGUSR1, v);
	printf("sigqueue hits=%d code=%s value=%d\n", hits, code_name(last_code), last_val);

	/* Blocking and pending. */
	sigset_t set, oset, pend;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	CHECK("sigprocmask_block", sigprocmask(SIG_BLOCK, &set, &oset) == 0);
	CHECK("old_mask_empty_of_usr1", !sigismember(&oset, SIGUSR1));
	hits = 0;
	kill(getpid(), SIGUSR1);
	kill(getpid(), SIGUSR1); /* standard signals coalesce */
	SHOW("blocked_hits", "%d", hits);
	sigpending(&pend);
	CHECK("sigpending_has_usr1", sigismember(&pend, SIGUSR1));
	CHECK("sigpending_no_usr2", !sigismember(&pend, SIGUSR2));
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	SHOW("unblocked_hits_coalesced", "%d", hits);
	sigpending(&pend);
	CHECK("sigpending_cleared", !sigismember(&pend, SIGUSR1));

	/* Real-time signals queue and are delivered lowest first. */
	struct sigaction so = {0};
	so.sa_handler = on_order;
	sigemptyset(&so.sa_mask);
	sigaction(SIGRTMIN + 2, &so, NULL);
	sigaction(SIGRTMIN + 1, &so, NULL);
	sigaction(SIGUSR2, &so, NULL);
	sigset_t rt;
	sigemptyset(&rt);
	sigaddset(&rt, SIGRTMIN + 1);
	sigaddset(&rt, SIGRTMIN + 2);
	sigaddset(&rt, SIGUSR2);
	sigprocmask(SIG_BLOCK, &rt, NULL);
	kill(getpid(), SIGRTMIN + 2);
	kill(getpid(), SIGRTMIN + 1);
	kill(getpid(), SIGRTMIN + 2);
	kill(getpid(), SIGUSR2);
	sigprocmask(SIG_UNBLOCK, &rt, NULL);
	printf("delivery_order n=%d", norder);
	for (int i = 0; i < norder; i++)
		printf(" %s", order[i] == SIGUSR2 ? "USR2" : order[i] == SIGRTMIN + 1 ? "RT1" : "RT2");
	printf("\n");

	/* SIGKILL/SIGSTOP cannot be caught or blocked. */
	EXPECT_ERR("sigaction_sigkill", sigaction(SIGKILL, &sa, NULL), EINVAL);
	EXPECT_ERR("sigaction_sigstop", sigaction(SIGSTOP, &sa, NULL), EINVAL);
	EXPECT_ERR("sigaction_bad_signo", sigaction(0, &sa, NULL), EINVAL);
	EXPECT_ERR("sigaction_signo_65", sigaction(65, &sa, NULL), EINVAL);
	EXPECT_ERR("sigaction_efault", syscall(SYS_rt_sigaction, SIGUSR1, BADPTR, NULL, 8), EFAULT);
	EXPECT_ERR("rt_sigaction_bad_size", syscall(SYS_rt_sigaction, SIGUSR1, NULL, &old, 4), EINVAL);
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &oset);
	sigprocmask(SIG_SETMASK, NULL, &set);
	CHECK("sigkill_unblockable", !sigismember(&set, SIGKILL) && !sigismember(&set, SIGSTOP));
	sigprocmask(SIG_SETMASK, &oset, NULL);
	EXPECT_ERR("sigprocmask_bad_how", sigprocmask(99, &set, NULL), EINVAL);
	EXPECT_ERR("kill_bad_signo", kill(getpid(), 100), EINVAL);

	/* sigsuspend: wait with USR1 unblocked. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &oset);
	hits = 0;
	kill(getpid(), SIGUSR1);
	sigset_t waitmask = oset;
	sigdelset(&waitmask, SIGUSR1);
	int r = sigsuspend(&waitmask);
	printf("sigsuspend ret=%d errno=%s hits=%d\n", r, ename(errno), hits);
	sigprocmask(SIG_SETMASK, NULL, &set);
	CHECK("sigsuspend_restores_mask", sigismember(&set, SIGUSR1));

	/* sigtimedwait: pending signal consumed without running handler. */
	hits = 0;
	kill(getpid(), SIGUSR1);
	siginfo_t si;
	struct timespec ts = {0, 10 * 1000 * 1000};
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	r = sigtimedwait(&set, &si, &ts);
	printf("sigtimedwait_pending ret_usr1=%d code=%s pid_ok=%d hits=%d\n", r == SIGUSR1,
	       code_name(si.si_code), si.si_pid == getpid(), hits);
	EXPECT_ERR("sigtimedwait_timeout", sigtimedwait(&set, &si, &ts), EAGAIN);
	struct timespec badts = {0, -1};
	EXPECT_ERR("sigtimedwait_bad_ts", sigtimedwait(&set, &si, &badts), EINVAL);
	sigqueue(getpid(), SIGUSR1, v);
	r = sigwaitinfo(&set, &si);
	printf("sigwaitinfo ret_usr1=%d value=%d code=%s\n", r == SIGUSR1, si.si_value.sival_int,
	       code_name(si.si_code));
	int got = 0;
	kill(getpid(), SIGUSR1);
	CHECK("sigwait", sigwait(&set, &got) == 0 && got == SIGUSR1);
	sigprocmask(SIG_SETMASK, &oset, NULL);

	/* SIG_IGN discards; SIG_DFL for SIGCHLD/SIGURG/SIGWINCH ignores. */
	signal(SIGUSR2, SIG_IGN);
	raise(SIGUSR2);
	CHECK("sig_ign_survived", 1);
	signal(SIGURG, SIG_DFL);
	raise(SIGURG);
	raise(SIGWINCH);
	raise(SIGCHLD);
	CHECK("default_ignore_signals_survived", 1);

	/* SA_RESETHAND: handler runs once then resets to default. */
	struct sigaction once = {0};
	once.sa_sigaction = on_info;
	once.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigaction(SIGUSR1, &once, NULL);
	hits = 0;
	raise(SIGUSR1);
	sigaction(SIGUSR1, NULL, &old);
	CHECK("sa_resethand", hits == 1 && old.sa_handler == SIG_DFL);

	/* sa_mask is applied while the handler runs: checked via nested send. */
	return compat_done();
}
