/* Forks while other threads keep changing the address space: one maps,
 * fills, checks and unmaps regions, another writes a page the children
 * read. A child must see exactly what the parent mapped when it forked
 * (a region another thread unmapped before the fork is gone, one it
 * mapped after is not there), each side keeps its own writes, and the
 * pages a fork copies for the child at once (those earlier children
 * wrote first) hold the parent's contents of that moment. */
#include "common.h"
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define ROUNDS 300
#define SLOTS 8

static long pg;
static _Atomic(char *) slot[SLOTS];
static atomic_int stop;
static volatile unsigned long counter;
static char *shared_page;

static void *mapper(void *arg)
{
	(void)arg;
	unsigned n = 0;
	while (!atomic_load(&stop)) {
		int i = n++ % SLOTS;
		char *old = atomic_exchange(&slot[i], NULL);
		if (old) {
			for (long k = 0; k < 4 * pg; k += pg)
				if (old[k] != (char)('a' + i))
					abort();
			munmap(old, 4 * pg);
		}
		char *m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			abort();
		for (long k = 0; k < 4 * pg; k += pg)
			m[k] = (char)('a' + i);
		atomic_store(&slot[i], m);
	}
	return NULL;
}

static void *writer(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		counter++;
	return NULL;
}

int main(void)
{
	pg = sysconf(_SC_PAGESIZE);
	char *mine = mmap(NULL, 16 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	shared_page = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_t a, b;
	pthread_create(&a, NULL, mapper, NULL);
	pthread_create(&b, NULL, writer, NULL);
	int bad = 0, parent_bad = 0;
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < 16; i++)
			mine[i * pg] = (char)r;
		/* What the child must find: the slots as they are at the fork
		 * (read just before; the mapper only swaps whole regions in). */
		pid_t c = fork();
		if (c == 0) {
			int ok = 1;
			for (int i = 0; i < 16; i++) {
				ok &= mine[i * pg] == (char)r;
				mine[i * pg] = 'c';
			}
			/* Every region the child's copy of the slots names is mapped
			 * and whole (an unmapped one would fault). */
			for (int i = 0; i < SLOTS; i++) {
				char *m = atomic_load(&slot[i]);
				if (m)
					for (long k = 0; k < 4 * pg; k += pg)
						ok &= m[k] == (char)('a' + i);
			}
			shared_page[r % pg] = 1;
			_exit(ok ? 0 : 1);
		}
		for (int i = 0; i < 16; i++)
			mine[i * pg + 1] = 'p';
		int st = -1;
		if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad++;
		for (int i = 0; i < 16; i++)
			parent_bad += mine[i * pg] != (char)r || mine[i * pg + 1] != 'p';
		if (shared_page[r % pg] != 1)
			bad++;
	}
	atomic_store(&stop, 1);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	CHECK("children_see_the_parent_at_fork", bad == 0);
	CHECK("parent_keeps_its_writes", parent_bad == 0);
	return compat_done();
}
