/* After the thread-group leader calls pthread_exit, /proc/self/status
 * and /proc/self/stat show it as a zombie that still counts in the
 * group's thread count (Linux keeps it until the group is gone). */
#include "common.h"
#include <pthread.h>

static pthread_t main_thread;

static void *worker(void *a)
{
	(void)a;
	pthread_join(main_thread, NULL);
	static char s[8192], st[4096];
	read_text("/proc/self/status", s, sizeof s);
	for (char *l = strtok(s, "\n"); l; l = strtok(NULL, "\n"))
		if (!strncmp(l, "Threads", 7) || !strncmp(l, "State", 5))
			printf("%s\n", l);
	read_text("/proc/self/stat", st, sizeof st);
	char *p = strrchr(st, ')');
	char state = p[2];
	/* num_threads is field 20: 17 fields past the state (field 3). */
	char *f = p + 2;
	for (int i = 0; i < 17; i++)
		f = strchr(f, ' ') + 1;
	printf("stat state %c num_threads %d\n", state, atoi(f));
	exit(0);
}

int main(void)
{
	main_thread = pthread_self();
	pthread_t t;
	pthread_create(&t, NULL, worker, NULL);
	pthread_exit(NULL);
}
