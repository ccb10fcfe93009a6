/* Parent and child write the same pages at once right after fork: each
 * write fault finds the page shared, and by the time it copies it the
 * other side may have let it go. Every write must stick on its own side,
 * and neither may get SIGSEGV (a fault that found nothing left to copy
 * used to be retried without making the page writable). */
#include "common.h"
#include <sys/mman.h>
#include <sys/wait.h>

#define PAGES 64
#define ROUNDS 200

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, PAGES * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int bad = 0;
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < PAGES; i++)
			m[i * pg] = 'p';
		pid_t c = fork();
		char me = c == 0 ? 'c' : 'P';
		for (int i = 0; i < PAGES; i++)
			m[i * pg + 1] = me;
		int ok = 1;
		for (int i = 0; i < PAGES; i++)
			ok &= m[i * pg] == 'p' && m[i * pg + 1] == me;
		if (c == 0)
			_exit(ok ? 0 : 1);
		int st = -1;
		waitpid(c, &st, 0);
		if (!ok || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad++;
	}
	CHECK("both_sides_keep_their_writes", bad == 0);
	return compat_done();
}
