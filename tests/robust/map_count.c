/* More mappings than the host allows a process (vm.max_map_count): the
 * sandbox must refuse the one too many with ENOMEM, as Linux does, and
 * not let the host's limit end the process. Alternating protections on
 * private pages, then on never-accessible (reserved) ones made
 * accessible afterwards. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static int alternate(int prot_first, int prot_then)
{
	long n = 40000;
	char *m = mmap(NULL, n * 8192, prot_first, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return 1;
	long i;
	for (i = 0; i < n; i++)
		if (mprotect(m + i * 8192, 4096, prot_then) != 0)
			break;
	int refused = i < n && errno == ENOMEM;
	/* All of it accessible at once: no new mapping is needed. */
	int whole = mprotect(m, n * 8192, PROT_READ | PROT_WRITE);
	if (whole == 0)
		m[n * 8192 - 1] = 1;
	munmap(m, n * 8192);
	printf("refused %d, whole %d\n", refused, whole);
	return !refused;
}

int main(void)
{
	int bad = alternate(PROT_READ | PROT_WRITE, PROT_READ);
	bad |= alternate(PROT_NONE, PROT_READ | PROT_WRITE);
	printf(bad ? "failed\n" : "survived\n");
	return 0;
}
