/* mremap with MREMAP_DONTUNMAP: the pages go to the new place and the
 * old range stays mapped, empty (zeros) and usable; it needs
 * MREMAP_MAYMOVE, one length and a page-aligned new address even as a
 * hint (EINVAL otherwise). */
#include "common.h"
#include <sys/mman.h>
#include <sys/syscall.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

int main(void)
{
	size_t len = 3 * 4096;
	char *old = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(old, 'a', len);
	/* Through syscall(2): glibc's wrapper passes whatever is in the
	 * register as the new address, which DONTUNMAP checks as a hint. */
	EXPECT_ERR("without MREMAP_MAYMOVE", syscall(SYS_mremap, old, len, len, MREMAP_DONTUNMAP, 0), EINVAL);
	EXPECT_ERR("another length",
		   syscall(SYS_mremap, old, len, 2 * len, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0), EINVAL);
	EXPECT_ERR("an unaligned hint",
		   syscall(SYS_mremap, old, len, len, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 5), EINVAL);
	char *new = (char *)syscall(SYS_mremap, old, len, len, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
	CHECK("moved", new != MAP_FAILED && new != old);
	SHOW("the new place has the data", "%d", new[0] == 'a' && new[len - 1] == 'a');
	SHOW("the old range reads zeros", "%d", old[0] == 0 && old[len - 1] == 0);
	old[5] = 'b';
	SHOW("and takes writes", "%d", old[5] == 'b' && new[5] == 'a');
	char line[256];
	FILE *m = fopen("/proc/self/maps", "r");
	int both = 0;
	while (fgets(line, sizeof line, m)) {
		unsigned long s, e;
		sscanf(line, "%lx-%lx", &s, &e);
		both += (s <= (unsigned long)old && (unsigned long)old < e) ||
			(s <= (unsigned long)new && (unsigned long)new < e);
	}
	fclose(m);
	SHOW("both are mapped", "%d", both >= 1);
	/* To a fixed place. */
	char *fixed = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *to = mremap(new, len, len, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, fixed);
	SHOW("fixed", "%d", to == fixed && to[0] == 'a' && new[0] == 0);
	return compat_done();
}
