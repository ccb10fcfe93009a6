/* fork from a process with running threads: the parent's threads keep
 * writing their own stacks and heap while and after another thread forks,
 * and nothing they write is lost or faults; the child sees the state at
 * fork and its own writes stay its own. 500 forks per run (1,000 for the
 * static and dynamic builds together), since the races this guards against
 * (a write between fork's bookkeeping and the write-protection, a copy
 * racing another thread's write, a fault fixed by another thread) are
 * narrow. */
#include "common.h"
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define THREADS 4
#define ITERS 500

static pthread_barrier_t start, stop;
static volatile int running;
static long counters[THREADS][64];
static char *region;

static void *worker(void *arg)
{
	long id = (long)arg;
	volatile long local[256];
	for (int it = 0; it < ITERS; it++) {
		pthread_barrier_wait(&start);
		long n = 0;
		while (running) {
			/* Stack, .bss and a shared heap page of our own. */
			local[n & 255] = n;
			counters[id][0] = n;
			region[id * 4096 + (n & 4095)] = (char)n;
			if (local[n & 255] != n || counters[id][0] != n) {
				fprintf(stderr, "lost write in thread %ld\n", id);
				_exit(9);
			}
			n++;
		}
		pthread_barrier_wait(&stop);
	}
	return NULL;
}

static int count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, c;
	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

int main(void)
{
	pthread_t th[THREADS];
	region = mmap(NULL, (THREADS + 1) * 4096, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_barrier_init(&start, NULL, THREADS + 1);
	pthread_barrier_init(&stop, NULL, THREADS + 1);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	int bad_child = 0, bad_wait = 0;
	for (int it = 0; it < ITERS; it++) {
		running = 1;
		region[THREADS * 4096 + 7] = 'p';
		pthread_barrier_wait(&start);
		pid_t pid = fork();
		if (pid == 0) {
			/* The child's copy of the parent's memory is its own. */
			char seen = region[THREADS * 4096 + 7];
			region[THREADS * 4096 + 7] = 'c';
			memset(region, 'c', 4096);
			_exit(seen == 'p' ? 0 : 1);
		}
		running = 0;
		int st;
		if (pid < 0 || waitpid(pid, &st, 0) != pid)
			bad_wait++;
		else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad_child++;
		if (region[THREADS * 4096 + 7] != 'p')
			bad_child++;
		pthread_barrier_wait(&stop);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	CHECK("children_saw_fork_state", bad_child == 0);
	/* A write in the middle of a mapping shared since fork copies that
	 * page: the mapping stays one mapping, and the other pages stay the
	 * parent's values in the child. */
	char *big = mmap(NULL, 64 * 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(big, 1, 64 * 4096);
	pid_t pid = fork();
	if (pid == 0) {
		int before = count_maps();
		big[32 * 4096] = 2;
		big[33 * 4096 + 5] = 3;
		int after = count_maps();
		_exit(before == after && big[31 * 4096] == 1 && big[34 * 4096] == 1 ? 0 : 1);
	}
	big[10 * 4096] = 9;
	int st = -1;
	waitpid(pid, &st, 0);
	CHECK("cow_write_keeps_one_mapping", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK("parent_pages_unchanged", big[32 * 4096] == 1 && big[33 * 4096 + 5] == 1 && big[10 * 4096] == 9);
	CHECK("fork_and_wait", bad_wait == 0);
	
	return compat_done();
}
