/* rt_sigprocmask while signals arrive: a block takes effect without the
 * kernel lock in husk, an unblock goes through the locked path. Checks
 * that unblocking delivers a pending signal before sigprocmask returns,
 * and that process-directed signals sent while one thread keeps blocking
 * and unblocking them are never lost (each is waited for before the
 * next: a lost one stops the test at its alarm). */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>

static atomic_int usr1, usr2;
static atomic_int stop;

static void on_usr1(int s) { (void)s; atomic_fetch_add(&usr1, 1); }
static void on_usr2(int s) { (void)s; atomic_fetch_add(&usr2, 1); }

static void *sender(void *arg)
{
	(void)arg;
	/* This thread never takes SIGUSR2 itself. */
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	for (int i = 0; i < 3000; i++) {
		int before = atomic_load(&usr2);
		kill(getpid(), SIGUSR2);
		while (atomic_load(&usr2) == before)
			;
	}
	atomic_store(&stop, 1);
	return NULL;
}

int main(void)
{
	alarm(60);
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, on_usr2);
	sigset_t one, two, old;
	sigemptyset(&one);
	sigaddset(&one, SIGUSR1);
	sigemptyset(&two);
	sigaddset(&two, SIGUSR2);

	int late = 0;
	for (int i = 0; i < 5000; i++) {
		int before = atomic_load(&usr1);
		sigprocmask(SIG_BLOCK, &one, &old);
		syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1);
		if (atomic_load(&usr1) != before)
			late++; /* delivered while blocked */
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (atomic_load(&usr1) != before + 1)
			late++; /* not delivered by the unblock */
	}
	CHECK("unblock_delivers_pending", late == 0);

	pthread_t t;
	pthread_create(&t, NULL, sender, NULL);
	long toggles = 0;
	while (!atomic_load(&stop)) {
		sigprocmask(SIG_BLOCK, &two, NULL);
		sigprocmask(SIG_UNBLOCK, &two, NULL);
		toggles++;
	}
	pthread_join(t, NULL);
	CHECK("process_signals_all_handled", atomic_load(&usr2) == 3000);
	CHECK("toggled", toggles > 0);
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	CHECK("mask_restored", !sigismember(&cur, SIGUSR1) && !sigismember(&cur, SIGUSR2));
	EXPECT_ERR("sigprocmask_bad_how", syscall(SYS_rt_sigprocmask, 7, &one, NULL, 8), EINVAL);
	EXPECT_ERR("sigprocmask_bad_size", syscall(SYS_rt_sigprocmask, SIG_BLOCK, &one, NULL, 4), EINVAL);
	EXPECT_ERR("sigprocmask_efault_set", syscall(SYS_rt_sigprocmask, SIG_BLOCK, BADPTR, NULL, 8), EFAULT);
	EXPECT_ERR("sigprocmask_efault_old", syscall(SYS_rt_sigprocmask, SIG_BLOCK, &one, BADPTR, 8), EFAULT);
	/* The mask did change before the old one failed to be written. */
	sigprocmask(SIG_BLOCK, NULL, &cur);
	CHECK("changed_despite_efault", sigismember(&cur, SIGUSR1));
	return compat_done();
}
