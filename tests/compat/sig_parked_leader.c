/* Signals keep arriving after the thread-group leader has left with
 * pthread_exit: process-directed signals and a fast interval timer go to
 * the remaining threads, and the process lives on (under husk the exited
 * leader's stub thread is parked; a signal that reached it used to kill
 * the whole stub). Five rounds, each in its own process. */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

static volatile int hits;
static pthread_barrier_t bar;

static void on_signal(int s)
{
	(void)s;
	hits++;
}

static void *sender(void *a)
{
	(void)a;
	pthread_barrier_wait(&bar);
	for (int i = 0; i < 3000; i++) {
		kill(getpid(), SIGUSR1);
		if (i % 100 == 0)
			usleep(100);
	}
	pthread_barrier_wait(&bar);
	return NULL;
}

static void *finisher(void *a)
{
	(void)a;
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	_exit(hits > 0 ? 0 : 1);
}

static void round_(void)
{
	signal(SIGUSR1, on_signal);
	signal(SIGALRM, on_signal);
	struct itimerval it = {{0, 1000}, {0, 1000}};
	setitimer(ITIMER_REAL, &it, NULL);
	pthread_barrier_init(&bar, NULL, 5);
	pthread_t t;
	for (int i = 0; i < 4; i++)
		pthread_create(&t, NULL, sender, NULL);
	pthread_create(&t, NULL, finisher, NULL);
	pthread_exit(NULL);
}

int main(void)
{
	int good = 0;
	for (int r = 0; r < 5; r++) {
		pid_t pid = fork();
		if (pid == 0)
			round_();
		int st = -1;
		waitpid(pid, &st, 0);
		good += WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	CHECK("rounds_survived", good == 5);
	return compat_done();
}
