/* Wake-ups under load: many threads hand data to each other through
 * pipes (waiting in read, poll, and epoll, level- and edge-triggered),
 * eventfds, futexes and condition variables, all at once, while other
 * threads sleep on idle pipes. A lost wake-up hangs the program (the
 * suite's timeout catches it); a spurious one must not change results. */
#include "common.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <stdint.h>

#define ROUNDS 3000
#define PAIRS 4

enum how { READ, POLL, EPOLL_LT, EPOLL_ET };

struct pair {
	int ping[2], pong[2];
	enum how how;
	long sum;
};

/* Waits for fd to be readable the way `how` says, then reads one byte. */
static int get(int fd, enum how how, int ep)
{
	char c;
	if (how == POLL) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, -1) != 1)
			return -1;
	} else if (how == EPOLL_LT || how == EPOLL_ET) {
		struct epoll_event ev;
		if (epoll_wait(ep, &ev, 1, -1) != 1)
			return -1;
	}
	return read(fd, &c, 1) == 1 ? c : -1;
}

static int epoll_for(int fd, enum how how)
{
	if (how != EPOLL_LT && how != EPOLL_ET)
		return -1;
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | (how == EPOLL_ET ? EPOLLET : 0)};
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	return ep;
}

static void *echo(void *arg)
{
	struct pair *p = arg;
	int ep = epoll_for(p->ping[0], p->how);
	for (int i = 0; i < ROUNDS; i++) {
		int c = get(p->ping[0], p->how, ep);
		if (c < 0)
			return (void *)1;
		char b = (char)(c + 1);
		if (write(p->pong[1], &b, 1) != 1)
			return (void *)1;
	}
	return NULL;
}

static void *driver(void *arg)
{
	struct pair *p = arg;
	int ep = epoll_for(p->pong[0], p->how);
	for (int i = 0; i < ROUNDS; i++) {
		char b = (char)(i & 0x3f);
		if (write(p->ping[1], &b, 1) != 1)
			return (void *)1;
		int c = get(p->pong[0], p->how, ep);
		if (c < 0)
			return (void *)1;
		p->sum += c;
	}
	return NULL;
}

/* eventfd: a producer adds, a consumer waits in epoll (edge) and reads. */
static int efd;
static void *producer(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		uint64_t one = 1;
		if (write(efd, &one, 8) != 8)
			return (void *)1;
		if (i % 64 == 0)
			usleep(100);
	}
	return NULL;
}

/* Condition variable ping-pong (futex wait/wake under the hood). */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int token;
static void *cv_side(void *arg)
{
	int me = (int)(long)arg;
	for (int i = 0; i < ROUNDS; i++) {
		pthread_mutex_lock(&mu);
		while (token != me)
			pthread_cond_wait(&cv, &mu);
		token = !me;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

static void *idle(void *arg)
{
	char c;
	(void)!read((int)(long)arg, &c, 1);
	return NULL;
}

static volatile sig_atomic_t hits;
static void on_usr1(int s)
{
	(void)s;
	hits++;
}

int main(void)
{
	/* Sleepers that never wake. */
	for (int i = 0; i < 50; i++) {
		int p[2];
		pthread_t t;
		if (pipe(p))
			return 1;
		pthread_create(&t, NULL, idle, (void *)(long)p[0]);
		pthread_detach(t);
	}

	struct pair pairs[PAIRS];
	pthread_t th[2 * PAIRS + 4];
	int n = 0;
	for (int i = 0; i < PAIRS; i++) {
		memset(&pairs[i], 0, sizeof pairs[i]);
		if (pipe(pairs[i].ping) || pipe(pairs[i].pong))
			return 1;
		pairs[i].how = (enum how)i;
		pthread_create(&th[n++], NULL, echo, &pairs[i]);
		pthread_create(&th[n++], NULL, driver, &pairs[i]);
	}
	efd = eventfd(0, EFD_NONBLOCK);
	pthread_create(&th[n++], NULL, producer, NULL);
	pthread_create(&th[n++], NULL, cv_side, (void *)0L);
	pthread_create(&th[n++], NULL, cv_side, (void *)1L);

	/* Consume the eventfd here, edge-triggered. */
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
	epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
	uint64_t got = 0;
	while (got < ROUNDS) {
		struct epoll_event out;
		if (epoll_wait(ep, &out, 1, -1) != 1)
			break;
		uint64_t v;
		while (read(efd, &v, 8) == 8)
			got += v;
	}
	CHECK("eventfd_edge_total", got == ROUNDS);

	long bad = 0;
	for (int i = 0; i < n; i++) {
		void *r;
		pthread_join(th[i], &r);
		bad += r != NULL;
	}
	CHECK("threads_clean", bad == 0);
	long want = 0;
	for (int i = 0; i < ROUNDS; i++)
		want += (i & 0x3f) + 1;
	for (int i = 0; i < PAIRS; i++) {
		char name[32];
		snprintf(name, sizeof name, "pair_%d_sum", i);
		CHECK(name, pairs[i].sum == want);
	}

	/* A signal interrupts a blocked read, again and again. */
	struct sigaction sa = {.sa_handler = on_usr1};
	sigaction(SIGUSR1, &sa, NULL);
	int p[2];
	if (pipe(p))
		return 1;
	int eintr = 0;
	for (int i = 0; i < 50; i++) {
		pid_t me = getpid();
		pid_t kid = fork();
		if (kid == 0) {
			usleep(2000);
			kill(me, SIGUSR1);
			_exit(0);
		}
		char c;
		if (read(p[0], &c, 1) < 0 && errno == EINTR)
			eintr++;
		waitpid(kid, NULL, 0);
	}
	CHECK("read_eintr_50", eintr == 50 && hits == 50);
	return compat_failures > 100 ? 100 : compat_failures;
}
