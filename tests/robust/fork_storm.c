/* 1,000 fork+exec+wait of /bin/true from 8 threads at once, while the
 * threads also write their own memory: every child must exit 0 and the
 * parent must survive. The test around it also requires that husk logged
 * no platform failure (a lost or killed stub). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 8
#define PER_THREAD 125

static int failures[THREADS];

static void *spawner(void *arg)
{
	long id = (long)arg;
	volatile char scratch[8192];
	for (int i = 0; i < PER_THREAD; i++) {
		scratch[(i * 97) % sizeof scratch] = (char)i;
		pid_t pid = fork();
		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		int st;
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			failures[id]++;
		if (scratch[(i * 97) % sizeof scratch] != (char)i)
			failures[id]++;
	}
	return NULL;
}

int main(void)
{
	pthread_t th[THREADS];
	for (long i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, spawner, (void *)i);
	int total = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		total += failures[i];
	}
	printf("failures %d\n", total);
	return total != 0;
}
