/* Futex waits interrupted by signals and woken by other threads, many
 * times over: a condition-variable hand-off between two threads while
 * realtime signals (with SA_RESTART and without) hit the waiter, plus
 * raw FUTEX_WAIT/FUTEX_WAKE(_BITSET) errors and timeouts. No hand-off or signal may
 * be lost (a lost one hangs the test), none may arrive twice. */
#include "common.h"
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

#define N 2000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int flag, consumed;
static atomic_int handled;

static void on_sig(int sig)
{
	(void)sig;
	handled++;
}

static void *consumer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (consumed < N) {
		while (!flag)
			pthread_cond_wait(&cv, &mu);
		flag = 0;
		consumed++;
		pthread_cond_broadcast(&cv);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *setter(void *arg)
{
	(void)arg;
	usleep(20000);
	pthread_mutex_lock(&mu);
	flag = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static long fx(uint32_t *a, int op, uint32_t v, void *t, uint32_t *a2, uint32_t v3)
{
	return syscall(SYS_futex, a, op, v, t, a2, v3);
}

int main(void)
{
	struct sigaction sa = {.sa_handler = on_sig, .sa_flags = SA_RESTART};
	sigaction(SIGRTMIN, &sa, NULL);
	sa.sa_flags = 0;
	sigaction(SIGRTMIN + 1, &sa, NULL);
	pthread_t t;
	pthread_create(&t, NULL, consumer, NULL);
	int sent = 0;
	for (int i = 0; i < N; i++) {
		pthread_mutex_lock(&mu);
		flag = 1;
		pthread_cond_broadcast(&cv);
		while (flag)
			pthread_cond_wait(&cv, &mu);
		pthread_mutex_unlock(&mu);
		if (i % 3 == 0 && pthread_kill(t, i % 2 ? SIGRTMIN : SIGRTMIN + 1) == 0)
			sent++;
	}
	pthread_join(t, NULL);
	CHECK("all_handed_off", consumed == N);
	CHECK("every_signal_once", handled == sent);

	uint32_t w = 5;
	EXPECT_ERR("wait_value_differs", fx(&w, FUTEX_WAIT_PRIVATE, 4, NULL, NULL, 0), EAGAIN);
	EXPECT_ERR("wait_bitset_zero", fx(&w, FUTEX_WAIT_BITSET_PRIVATE, 5, NULL, NULL, 0), EINVAL);
	EXPECT_ERR("wake_bitset_zero", fx(&w, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 0), EINVAL);
	EXPECT_ERR("wait_unaligned", fx((uint32_t *)((char *)&w + 1), FUTEX_WAIT_PRIVATE, 5, NULL, NULL, 0), EINVAL);
	EXPECT_ERR("wait_bad_addr", fx(BADPTR, FUTEX_WAIT, 5, NULL, NULL, 0), EINVAL);
	EXPECT_ERR("wait_unmapped", fx((uint32_t *)8, FUTEX_WAIT, 5, NULL, NULL, 0), EFAULT);
	EXPECT_ERR("wait_realtime_plain", fx(&w, FUTEX_WAIT | FUTEX_CLOCK_REALTIME, 5, NULL, NULL, 0), ENOSYS);
	struct timespec rel = {0, 10 * 1000 * 1000}, bad = {0, 1000000000}, past = {1, 0};
	EXPECT_ERR("wait_relative_times_out", fx(&w, FUTEX_WAIT_PRIVATE, 5, &rel, NULL, 0), ETIMEDOUT);
	EXPECT_ERR("wait_bad_timespec", fx(&w, FUTEX_WAIT_PRIVATE, 5, &bad, NULL, 0), EINVAL);
	EXPECT_ERR("wait_timespec_unmapped", fx(&w, FUTEX_WAIT_PRIVATE, 5, BADPTR, NULL, 0), EFAULT);
	EXPECT_ERR("wait_bitset_past_monotonic",
		   fx(&w, FUTEX_WAIT_BITSET_PRIVATE, 5, &past, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
	EXPECT_ERR("wait_bitset_past_realtime",
		   fx(&w, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 5, &past, NULL,
		      FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
	/* A timed condition wait that is signalled in time. */
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	flag = 0;
	pthread_mutex_lock(&mu);
	pthread_t t2;
	pthread_create(&t2, NULL, setter, NULL);
	int rc = 0;
	while (!flag && rc == 0)
		rc = pthread_cond_timedwait(&cv, &mu, &until);
	pthread_mutex_unlock(&mu);
	pthread_join(t2, NULL);
	CHECK("timedwait_woken_in_time", rc == 0 && flag == 1);
	CHECK("wake_none", fx(&w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 0);
	CHECK("wake_unmapped_private", fx((uint32_t *)8, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 0);
	return compat_done();
}
