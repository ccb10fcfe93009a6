/* pthreads: mutex, condvar, TLS, gettid, cancel, detach, join errors. */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>

#define NT 8
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static __thread int tls_var = 5;
static pid_t tids[NT];
static int tls_ok[NT];

static void *worker(void *arg)
{
	long idx = (long)arg;
	tids[idx] = gettid();
	tls_var += (int)idx;
	for (int i = 0; i < 100000; i++) {
		pthread_mutex_lock(&mu);
		counter++;
		pthread_mutex_unlock(&mu);
	}
	sched_yield();
	tls_ok[idx] = tls_var == 5 + idx;
	return (void *)(idx * 10);
}

static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int queue[64], qlen, produced_done;
static long consumed_sum;

static void *producer(void *a)
{
	(void)a;
	for (int i = 1; i <= 1000; i++) {
		pthread_mutex_lock(&mu);
		while (qlen == 64)
			pthread_cond_wait(&cv, &mu);
		queue[qlen++] = i;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
	pthread_mutex_lock(&mu);
	produced_done++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *consumer(void *a)
{
	(void)a;
	long sum = 0;
	for (;;) {
		pthread_mutex_lock(&mu);
		while (qlen == 0 && produced_done < 2)
			pthread_cond_wait(&cv, &mu);
		if (qlen == 0 && produced_done == 2) {
			pthread_mutex_unlock(&mu);
			break;
		}
		sum += queue[--qlen];
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
	pthread_mutex_lock(&mu);
	consumed_sum += sum;
	pthread_mutex_unlock(&mu);
	return NULL;
}

static volatile int cleanup_ran;
static void cleanup(void *a) { (void)a; cleanup_ran = 1; }
static void *cancellable(void *a)
{
	(void)a;
	pthread_cleanup_push(cleanup, NULL);
	for (;;)
		pause(); /* cancellation point */
	pthread_cleanup_pop(0);
	return NULL;
}

static void *exiter(void *a)
{
	(void)a;
	pthread_exit((void *)77);
}

static volatile int detached_ran;
static void *detached(void *a) { (void)a; detached_ran = 1; return NULL; }

static void *stack_user(void *a)
{
	(void)a;
	volatile char big[512 * 1024];
	for (unsigned i = 0; i < sizeof(big); i += 4096)
		big[i] = 1;
	return (void *)(long)big[4096];
}

static volatile sig_atomic_t usr1_tid;
static void on_usr1(int s) { (void)s; usr1_tid = gettid(); }
static void *wait_for_signal(void *a)
{
	(void)a;
	while (!usr1_tid)
		usleep(1000);
	return (void *)(long)(usr1_tid == gettid());
}

int main(void)
{
	pthread_t t[NT];
	for (long i = 0; i < NT; i++)
		CHECK("pthread_create", pthread_create(&t[i], NULL, worker, (void *)i) == 0);
	int rets_ok = 1;
	for (long i = 0; i < NT; i++) {
		void *rv;
		pthread_join(t[i], &rv);
		if ((long)rv != i * 10)
			rets_ok = 0;
	}
	CHECK("pthread_join_retvals", rets_ok);
	SHOW("mutex_counter", "%ld", counter);
	int distinct = 1, tlsall = 1;
	for (int i = 0; i < NT; i++) {
		if (tids[i] == getpid() || tids[i] <= 0)
			distinct = 0;
		for (int j = 0; j < i; j++)
			if (tids[i] == tids[j])
				distinct = 0;
		if (!tls_ok[i])
			tlsall = 0;
	}
	CHECK("gettid_distinct", distinct);
	CHECK("main_tid_is_pid", gettid() == getpid());
	CHECK("tls_per_thread", tlsall && tls_var == 5);

	/* Condition variables: 2 producers, 3 consumers. */
	pthread_t pr[2], co[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&co[i], NULL, consumer, NULL);
	pthread_create(&pr[0], NULL, producer, NULL);
	pthread_create(&pr[1], NULL, producer, NULL);
	pthread_join(pr[0], NULL);
	pthread_join(pr[1], NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(co[i], NULL);
	SHOW("condvar_consumed_sum", "%ld", consumed_sum);

	/* Timed wait times out. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 20 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&mu);
	EXPECT_RC("cond_timedwait_timeout", pthread_cond_timedwait(&cv, &mu, &ts), ETIMEDOUT);
	pthread_mutex_unlock(&mu);

	/* Cancel. */
	pthread_t c;
	void *rv;
	pthread_create(&c, NULL, cancellable, NULL);
	usleep(10000);
	EXPECT_RC("pthread_cancel", pthread_cancel(c), 0);
	pthread_join(c, &rv);
	CHECK("pthread_cancel_retval", rv == PTHREAD_CANCELED);
	CHECK("pthread_cleanup_ran", cleanup_ran == 1);

	pthread_create(&c, NULL, exiter, NULL);
	pthread_join(c, &rv);
	CHECK("pthread_exit_value", rv == (void *)77);
	EXPECT_RC("pthread_join_self", pthread_join(pthread_self(), NULL), EDEADLK);

	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_create(&c, &at, detached, NULL);
	for (int i = 0; i < 1000 && !detached_ran; i++)
		usleep(1000);
	CHECK("detached_thread_ran", detached_ran);
	pthread_attr_destroy(&at);

	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 2 << 20);
	pthread_create(&c, &at, stack_user, NULL);
	pthread_join(c, &rv);
	CHECK("thread_custom_stack", rv == (void *)1);
	pthread_attr_destroy(&at);

	/* Error-checking and recursive mutexes. */
	pthread_mutexattr_t ma;
	pthread_mutex_t em;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&em, &ma);
	EXPECT_RC("errorcheck_lock", pthread_mutex_lock(&em), 0);
	EXPECT_RC("errorcheck_relock", pthread_mutex_lock(&em), EDEADLK);
	EXPECT_RC("errorcheck_trylock", pthread_mutex_trylock(&em), EBUSY);
	EXPECT_RC("errorcheck_unlock", pthread_mutex_unlock(&em), 0);
	EXPECT_RC("errorcheck_unlock_unowned", pthread_mutex_unlock(&em), EPERM);

	/* Signal directed at a thread with tgkill. */
	signal(SIGUSR1, on_usr1);
	pthread_create(&c, NULL, wait_for_signal, NULL);
	usleep(5000);
	CHECK("pthread_kill", pthread_kill(c, SIGUSR1) == 0);
	pthread_join(c, &rv);
	CHECK("signal_ran_on_target_thread", rv == (void *)1);
	EXPECT_ERR("tgkill_bad_tid", syscall(SYS_tgkill, getpid(), 0x3fffffff, 0), ESRCH);
	EXPECT_ERR("tgkill_einval", syscall(SYS_tgkill, getpid(), -1, 0), EINVAL);

	/* 100 short-lived threads. */
	int created = 0;
	for (int i = 0; i < 100; i++) {
		if (pthread_create(&c, NULL, detached, NULL) == 0) {
			pthread_join(c, NULL);
			created++;
		}
	}
	SHOW("hundred_threads", "%d", created);
	return compat_done();
}
