/* Raw futex WAIT/WAKE, timeouts, errors, robust mutexes. */
#include "common.h"
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static long futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts,
		  uint32_t *uaddr2, uint32_t val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

static uint32_t word;
static volatile int waiter_result = -100;

static void *waiter(void *a)
{
	(void)a;
	long r;
	do {
		r = futex(&word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	} while (__atomic_load_n(&word, __ATOMIC_SEQ_CST) == 0);
	waiter_result = r == 0 || errno == EAGAIN ? 0 : errno;
	return NULL;
}

static pthread_mutex_t robust;
static void *die_holding(void *a)
{
	(void)a;
	pthread_mutex_lock(&robust);
	return NULL; /* exits while holding the lock */
}

int main(void)
{
	struct timespec ts = {0, 20 * 1000 * 1000};
	struct timespec t0, t1;

	/* Value mismatch: EAGAIN immediately. */
	word = 1;
	EXPECT_ERR("futex_wait_value_differs", futex(&word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EAGAIN);

	/* Timeout: ETIMEDOUT after roughly the timeout. */
	word = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_ERR("futex_wait_timeout", futex(&word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0), ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK("futex_wait_timeout_duration", ms >= 19 && ms < 2000);

	/* Absolute timeout with FUTEX_WAIT_BITSET on CLOCK_MONOTONIC. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	t0.tv_nsec += 10 * 1000 * 1000;
	if (t0.tv_nsec >= 1000000000) {
		t0.tv_sec++;
		t0.tv_nsec -= 1000000000;
	}
	EXPECT_ERR("futex_wait_bitset_abs_timeout",
		   futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 0, &t0, NULL, FUTEX_BITSET_MATCH_ANY),
		   ETIMEDOUT);

	/* Wake with nobody waiting returns 0. */
	SHOW("futex_wake_nobody", "%ld", futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));

	/* Wake a waiting thread. */
	pthread_t t;
	word = 0;
	pthread_create(&t, NULL, waiter, NULL);
	usleep(20000);
	__atomic_store_n(&word, 1, __ATOMIC_SEQ_CST);
	long woken = futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	pthread_join(t, NULL);
	CHECK("futex_wake_thread", waiter_result == 0 && woken >= 0 && woken <= 1);

	/* Shared futex between processes on a MAP_SHARED page. */
	uint32_t *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	sh[0] = 0;
	pid_t p = fork();
	if (p == 0) {
		while (__atomic_load_n(&sh[0], __ATOMIC_SEQ_CST) == 0)
			futex(&sh[0], FUTEX_WAIT, 0, NULL, NULL, 0);
		_exit(sh[0] == 5 ? 0 : 1);
	}
	usleep(20000);
	__atomic_store_n(&sh[0], 5, __ATOMIC_SEQ_CST);
	futex(&sh[0], FUTEX_WAKE, 1, NULL, NULL, 0);
	int st;
	waitpid(p, &st, 0);
	CHECK("futex_shared_cross_process", WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* Errors. */
	EXPECT_ERR("futex_efault", futex((uint32_t *)((char *)BADPTR + 15), FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EFAULT);
	EXPECT_ERR("futex_unaligned", futex((uint32_t *)((char *)&word + 1), FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EINVAL);
	EXPECT_ERR("futex_bad_op", futex(&word, 99, 0, NULL, NULL, 0), ENOSYS);
	struct timespec bad = {0, 2000000000L};
	word = 0;
	EXPECT_ERR("futex_bad_timeout", futex(&word, FUTEX_WAIT_PRIVATE, 0, &bad, NULL, 0), EINVAL);
	EXPECT_ERR("futex_bitset_zero", futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, 0), EINVAL);

	/* FUTEX_CMP_REQUEUE with wrong value: EAGAIN. */
	uint32_t other = 0;
	word = 3;
	EXPECT_ERR("futex_cmp_requeue_mismatch",
		   futex(&word, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)1, &other, 4), EAGAIN);

	/* Robust mutex: owner thread exits holding it. */
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&robust, &ma);
	pthread_create(&t, NULL, die_holding, NULL);
	pthread_join(t, NULL);
	EXPECT_RC("robust_thread_owner_died", pthread_mutex_lock(&robust), EOWNERDEAD);
	EXPECT_RC("robust_consistent", pthread_mutex_consistent(&robust), 0);
	EXPECT_RC("robust_unlock", pthread_mutex_unlock(&robust), 0);
	EXPECT_RC("robust_relock_ok", pthread_mutex_lock(&robust), 0);
	pthread_mutex_unlock(&robust);

	/* Robust process-shared mutex: owner process dies. */
	pthread_mutex_t *pm = (pthread_mutex_t *)(sh + 64);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(pm, &ma);
	p = fork();
	if (p == 0) {
		pthread_mutex_lock(pm);
		_exit(0);
	}
	waitpid(p, &st, 0);
	EXPECT_RC("robust_process_owner_died", pthread_mutex_lock(pm), EOWNERDEAD);
	pthread_mutex_consistent(pm);
	pthread_mutex_unlock(pm);

	/* Not made consistent: becomes unrecoverable. */
	p = fork();
	if (p == 0) {
		pthread_mutex_lock(pm);
		_exit(0);
	}
	waitpid(p, &st, 0);
	EXPECT_RC("robust_owner_died_again", pthread_mutex_lock(pm), EOWNERDEAD);
	pthread_mutex_unlock(pm);
	EXPECT_RC("robust_notrecoverable", pthread_mutex_lock(pm), ENOTRECOVERABLE);

	/* Priority-inheritance futex via PTHREAD_PRIO_INHERIT. */
	pthread_mutexattr_t pa;
	pthread_mutex_t pim;
	pthread_mutexattr_init(&pa);
	pthread_mutexattr_setprotocol(&pa, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(&pim, &pa);
	EXPECT_RC("pi_mutex_lock", pthread_mutex_lock(&pim), 0);
	EXPECT_RC("pi_mutex_trylock_busy", pthread_mutex_trylock(&pim), EBUSY);
	EXPECT_RC("pi_mutex_unlock", pthread_mutex_unlock(&pim), 0);
	return compat_done();
}
