/* Heuristic overcommit (vm.overcommit_memory 0): one mapping that would
 * commit more memory than there is is ENOMEM (private writable and
 * shared anonymous memory, a private mapping made writable, mremap
 * growth, brk); MAP_NORESERVE and read-only mappings commit nothing,
 * and a size that fits is fine. 1 TiB is past any machine this runs on,
 * 64 MiB within all of them. */
#include "common.h"
#include <stdint.h>
#include <sys/mman.h>

#define TIB (1ULL << 40)
#define MIB (1ULL << 20)

static void *map(const char *what, size_t len, int prot, int flags)
{
	void *p = mmap(NULL, len, prot, flags, -1, 0);
	printf("%s: %s\n", what, p == MAP_FAILED ? ename(errno) : "ok");
	return p;
}

int main(void)
{
	int priv = MAP_PRIVATE | MAP_ANONYMOUS, rw = PROT_READ | PROT_WRITE;
	void *p = map("64 MiB private writable", 64 * MIB, rw, priv);
	munmap(p, 64 * MIB);
	map("1 TiB private writable", TIB, rw, priv);
	p = map("1 TiB private writable, MAP_NORESERVE", TIB, rw, priv | MAP_NORESERVE);
	munmap(p, TIB);
	map("1 TiB shared anonymous", TIB, rw, MAP_SHARED | MAP_ANONYMOUS);
	p = map("1 TiB shared anonymous, MAP_NORESERVE", TIB, rw,
		MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE);
	munmap(p, TIB);

	char *r = map("1 TiB read-only", TIB, PROT_READ, priv);
	printf("mprotect all writable: %s\n",
	       mprotect(r, TIB, rw) ? ename(errno) : "ok");
	printf("mprotect 64 MiB of it writable: %s\n",
	       mprotect(r, 64 * MIB, rw) ? ename(errno) : "ok");
	r[0] = 1;
	printf("mprotect the written part again: %s\n",
	       mprotect(r, 64 * MIB, rw) ? ename(errno) : "ok");
	munmap(r, TIB);
	char *n = map("1 TiB PROT_NONE", TIB, PROT_NONE, priv);
	printf("mprotect it writable: %s\n", mprotect(n, TIB, rw) ? ename(errno) : "ok");
	munmap(n, TIB);
	n = map("1 TiB PROT_NONE, MAP_NORESERVE", TIB, PROT_NONE, priv | MAP_NORESERVE);
	printf("mprotect it writable: %s\n", mprotect(n, TIB, rw) ? ename(errno) : "ok");
	munmap(n, TIB);

	char *g = map("64 MiB to grow", 64 * MIB, rw, priv);
	void *q = mremap(g, 64 * MIB, TIB, MREMAP_MAYMOVE);
	printf("mremap to 1 TiB: %s\n", q == MAP_FAILED ? ename(errno) : "ok");
	q = mremap(g, 64 * MIB, 128 * MIB, MREMAP_MAYMOVE);
	printf("mremap to 128 MiB: %s\n", q == MAP_FAILED ? ename(errno) : "ok");

	void *m = malloc(TIB);
	printf("malloc 1 TiB: %s\n", m ? "memory" : "NULL");
	void *c = calloc(1, TIB);
	printf("calloc 1 TiB: %s\n", c ? "memory" : "NULL");
	void *b = sbrk(0);
	printf("brk +1 TiB: %s\n", brk((char *)b + TIB) ? ename(errno) : "ok");
	return 0;
}
