/* Reads and writes of regular files race with munmap and mmap in other
 * threads (husk runs such calls without its kernel lock): every call
 * either moves the bytes or fails cleanly, and concurrent copies never mix
 * their data. (fork beside running threads is issue 9's: it can crash the
 * parent with or without these copies.) */
#include "common.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define SZ (256 * 1024)
#define ROUNDS 300

static char dir[] = "/tmp/husk-iorace-XXXXXX";
static volatile int stop;
static char *volatile shared_buf; /* remapped under the readers' feet */
static int bad_reads;

static void fill(char *p, int seed)
{
	uint32_t x = 2654435761u * (seed + 1);
	for (int i = 0; i < SZ; i += 4) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		memcpy(p + i, &x, 4);
	}
}

static int make_file(int seed)
{
	char path[64], *data = malloc(SZ);
	snprintf(path, sizeof(path), "%s/f%d", dir, seed);
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	fill(data, seed);
	if (fd < 0 || pwrite(fd, data, SZ, 0) != SZ)
		exit(90);
	free(data);
	return fd;
}

/* Reads its own file again and again; the bytes must be the file's. */
static void *own_reader(void *arg)
{
	int seed = (int)(intptr_t)arg, fd = make_file(seed);
	char *want = malloc(SZ), *got = malloc(SZ);
	fill(want, seed);
	for (int i = 0; i < ROUNDS; i++) {
		memset(got, 0, SZ);
		if (pread(fd, got, SZ, 0) != SZ || memcmp(got, want, SZ) != 0)
			__atomic_add_fetch(&bad_reads, 1, __ATOMIC_RELAXED);
		/* And writes: the file keeps what was written. */
		if (pwrite(fd, want, SZ, 0) != SZ)
			__atomic_add_fetch(&bad_reads, 1, __ATOMIC_RELAXED);
	}
	close(fd);
	free(want);
	free(got);
	return NULL;
}

/* Reads into a buffer another thread unmaps and maps again. */
static void *victim_reader(void *arg)
{
	int fd = make_file(100);
	(void)arg;
	while (!stop) {
		ssize_t n = pread(fd, shared_buf, SZ, 0);
		if (n < 0 && errno != EFAULT)
			__atomic_add_fetch(&bad_reads, 1, __ATOMIC_RELAXED);
		n = pwrite(fd, shared_buf, SZ, 0);
		if (n < 0 && errno != EFAULT)
			__atomic_add_fetch(&bad_reads, 1, __ATOMIC_RELAXED);
	}
	close(fd);
	return NULL;
}

static void *remapper(void *arg)
{
	(void)arg;
	while (!stop) {
		char *p = shared_buf;
		munmap(p, SZ);
		/* Someone else's memory may land here for a moment. */
		void *q = mmap(p, SZ, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (q == MAP_FAILED)
			exit(91);
	}
	return NULL;
}

int main(void)
{
	CHECK("mkdtemp", mkdtemp(dir) != NULL);
	shared_buf = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("mmap", shared_buf != MAP_FAILED);

	pthread_t own[2], victim, remap;
	for (int i = 0; i < 2; i++)
		pthread_create(&own[i], NULL, own_reader, (void *)(intptr_t)i);
	pthread_create(&victim, NULL, victim_reader, NULL);
	pthread_create(&remap, NULL, remapper, NULL);

	for (int i = 0; i < 2; i++)
		pthread_join(own[i], NULL);
	stop = 1;
	pthread_join(victim, NULL);
	pthread_join(remap, NULL);

	CHECK("own_reads_exact", bad_reads == 0);
	char path[64];
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/f100", dir);
	unlink(path);
	CHECK("cleanup", rmdir(dir) == 0);
	return compat_done();
}
