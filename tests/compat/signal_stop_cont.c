/* Stop and continue under stress: single- and multi-threaded children
 * stay stopped between SIGSTOP and SIGCONT and run after each SIGCONT,
 * with every stop and continue seen by waitpid; and a SIGCONT sent right
 * after a SIGSTOP cancels it, so a SIGTERM sent next kills the child
 * (eight threads forking and signalling at once, to race). */
#include "common.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

static volatile unsigned long *counter;

static void *spin(void *a)
{
	(void)a;
	for (;;)
		__atomic_fetch_add(counter + 1, 1, __ATOMIC_RELAXED);
	return NULL;
}

static int run(int threads, int rounds)
{
	counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t c = fork();
	if (c == 0) {
		pthread_t t;
		for (int i = 0; i < threads; i++)
			pthread_create(&t, NULL, spin, NULL);
		for (;;)
			__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
	}
	int bad = 0, st;
	for (int i = 0; i < rounds; i++) {
		kill(c, SIGSTOP);
		if (waitpid(c, &st, WUNTRACED) != c || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGSTOP) {
			bad++;
			break;
		}
		unsigned long a = counter[0] + counter[1];
		usleep(2000);
		if (counter[0] + counter[1] != a)
			bad++;
		kill(c, SIGCONT);
		if (waitpid(c, &st, WCONTINUED) != c || !WIFCONTINUED(st)) {
			bad++;
			break;
		}
		unsigned long b = counter[0];
		for (int k = 0; k < 20000 && counter[0] == b; k++)
			usleep(100);
		if (counter[0] == b)
			bad++;
	}
	kill(c, SIGKILL);
	waitpid(c, &st, 0);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
		bad++;
	munmap((void *)counter, 4096);
	return bad;
}


static volatile int bad;


static void *worker(void *a)
{
	(void)a;
	for (int j = 0; j < 25 && !bad; j++) {
		pid_t pid = fork();
		if (pid == 0)
			for (;;)
				pause();
		kill(pid, SIGSTOP);
		kill(pid, SIGCONT);
		kill(pid, SIGTERM);
		int st;
		while (waitpid(pid, &st, WUNTRACED) < 0 && errno == EINTR)
			;
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGTERM) {
			bad = 1;
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
		}
	}
	return NULL;
}

int main(void)
{
	CHECK("stop and continue, one thread", run(0, 100) == 0);
	CHECK("stop and continue, three threads", run(2, 100) == 0);
	pthread_t t[8];
	for (int i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	CHECK("SIGCONT aborts SIGSTOP", !bad);
	return compat_done();
}
