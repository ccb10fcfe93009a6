/* Memory benchmarks, each printing one number:
 *   fork-heap     ms for fork + the child writing one page + exit + wait,
 *                 with a 256 MiB written heap (median of 5)
 *   sparse        ms to write one byte at 6 GiB of a /tmp file and stat it
 *   sparse-blocks st_blocks of that file
 *   fork-exit     us per fork+_exit+wait of this small process (2,000)
 *   fork-exec N   us per fork+exec(/bin/true)+wait, 1,000 of them from N
 *                 threads at once
 *   many-maps     ms to split one mapping into 64,000 with an mprotect
 *                 of every other page (and write each), then undo it */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int fork_heap(void)
{
	size_t len = 256u << 20;
	char *heap = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (heap == MAP_FAILED)
		return 1;
	memset(heap, 1, len);
	double t[5];
	for (int i = 0; i < 5; i++) {
		double a = now_ms();
		pid_t pid = fork();
		if (pid == 0) {
			heap[len / 2] = 2;
			_exit(0);
		}
		waitpid(pid, NULL, 0);
		t[i] = now_ms() - a;
		/* The parent takes its memory back before the next round. */
		heap[len / 2 + 4096] = 3;
	}
	qsort(t, 5, sizeof t[0], cmp);
	printf("%.3f\n", t[2]);
	return 0;
}

static int fork_exit(void)
{
	const int n = 2000;
	double a = now_ms();
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
	}
	printf("%.1f\n", (now_ms() - a) * 1000 / n);
	return 0;
}

static int sparse(int blocks)
{
	const char *p = "/tmp/husk-bench-sparse";
	double a = now_ms();
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || pwrite(fd, "x", 1, 6LL << 30) != 1)
		return 1;
	struct stat st;
	fstat(fd, &st);
	double ms = now_ms() - a;
	close(fd);
	unlink(p);
	if (blocks)
		printf("%ld\n", (long)st.st_blocks);
	else
		printf("%.3f\n", ms);
	return 0;
}

static int per_thread;

static void *spawner(void *arg)
{
	(void)arg;
	for (int i = 0; i < per_thread; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			exit(1);
	}
	return NULL;
}

static int fork_exec(int threads)
{
	pthread_t th[64];
	if (threads < 1 || threads > 64)
		return 2;
	per_thread = 1000 / threads;
	double a = now_ms();
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, spawner, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	printf("%.1f\n", (now_ms() - a) * 1000 / (per_thread * threads));
	return 0;
}

static int many_maps(void)
{
	const long n = 32000, pg = 4096;
	double a = now_ms();
	char *m = mmap(NULL, n * 2 * pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 1;
	for (long i = 0; i < n; i++) {
		if (mprotect(m + i * 2 * pg, pg, PROT_READ | PROT_WRITE))
			return 1;
		m[i * 2 * pg] = 1;
	}
	if (mprotect(m, n * 2 * pg, PROT_READ | PROT_WRITE) || munmap(m, n * 2 * pg))
		return 1;
	printf("%.1f\n", now_ms() - a);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "fork-heap"))
		return fork_heap();
	if (argc >= 2 && !strcmp(argv[1], "sparse"))
		return sparse(0);
	if (argc >= 2 && !strcmp(argv[1], "sparse-blocks"))
		return sparse(1);
	if (argc >= 2 && !strcmp(argv[1], "many-maps"))
		return many_maps();
	if (argc >= 2 && !strcmp(argv[1], "fork-exit"))
		return fork_exit();
	if (argc >= 3 && !strcmp(argv[1], "fork-exec"))
		return fork_exec(atoi(argv[2]));
	fprintf(stderr, "usage: memory fork-heap|fork-exit|sparse|sparse-blocks|many-maps|fork-exec N\n");
	return 2;
}
