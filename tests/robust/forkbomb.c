/* A bounded fork bomb, run under a host pids limit: forks children that
 * pause until fork fails, then creates threads until pthread_create fails,
 * then kills and reaps its children and forks once more to show that the
 * sandbox still works. Prints one line per step; exits 0 only if the last
 * child was reaped with status 7. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Far above any limit the test sets: a run that reaches it means the limit
 * did not apply, and the loop must still end. */
#define MAX_CHILDREN 2000
#define MAX_THREADS 2000

static pid_t kids[MAX_CHILDREN];

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);

	int n = 0;
	const char *why = "the cap";
	while (n < MAX_CHILDREN) {
		pid_t p = fork();
		if (p < 0) {
			why = strerror(errno);
			break;
		}
		if (p == 0) {
			for (;;)
				pause();
		}
		kids[n++] = p;
	}
	printf("forked %d then %s\n", n, why);

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	int t = 0;
	why = "the cap";
	while (t < MAX_THREADS) {
		pthread_t th;
		int rc = pthread_create(&th, &attr, sleeper, NULL);
		if (rc != 0) {
			why = strerror(rc);
			break;
		}
		t++;
	}
	printf("threads %d then %s\n", t, why);

	int reaped = 0;
	for (int i = 0; i < n; i++) {
		if (kill(kids[i], SIGKILL) != 0)
			printf("kill %d: %s\n", (int)kids[i], strerror(errno));
		int st;
		if (waitpid(kids[i], &st, 0) == kids[i] && WIFSIGNALED(st) &&
		    WTERMSIG(st) == SIGKILL)
			reaped++;
	}
	printf("reaped %d\n", reaped);

	pid_t p = fork();
	if (p < 0) {
		printf("last fork: %s\n", strerror(errno));
		return 1;
	}
	if (p == 0)
		_exit(7);
	int st;
	if (waitpid(p, &st, 0) != p) {
		printf("last wait: %s\n", strerror(errno));
		return 1;
	}
	if (WIFEXITED(st))
		printf("child status %d\n", WEXITSTATUS(st));
	else
		printf("child raw status %#x\n", st);
	/* exit_group ends the paused threads too. */
	return WIFEXITED(st) && WEXITSTATUS(st) == 7 ? 0 : 1;
}
