/* memfd semantics that need one memory object behind every view: a
 * writable MAP_SHARED mapping blocks F_SEAL_WRITE (EBUSY), mprotect cannot
 * make a shared mapping of a write-sealed memfd writable, writes through a
 * shared mapping are what read() returns, and /proc/self/fd/N reopens the
 * same memfd (sharing its seals). */
#include "common.h"
#include <fcntl.h>
#include <sys/mman.h>

int main(void)
{
	char buf[64];
	int m = memfd_create("shared", MFD_ALLOW_SEALING);
	CHECK("memfd", m >= 0);
	CHECK("size", ftruncate(m, 4096) == 0);
	char *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	CHECK("map_shared_rw", w != MAP_FAILED);
	memcpy(w, "via map", 7);
	CHECK("read_sees_map", pread(m, buf, 7, 0) == 7 && memcmp(buf, "via map", 7) == 0);
	CHECK("write", pwrite(m, "via fd!", 7, 0) == 7);
	CHECK("map_sees_write", memcmp(w, "via fd!", 7) == 0);
	EXPECT_ERR("seal_write_while_mapped", fcntl(m, F_ADD_SEALS, F_SEAL_WRITE), EBUSY);
	SHOW("seals_after_ebusy", "%#x", fcntl(m, F_GET_SEALS));
	munmap(w, 4096);
	SHOW("add_write", "%d", fcntl(m, F_ADD_SEALS, F_SEAL_WRITE));
	char *r = mmap(NULL, 4096, PROT_READ, MAP_SHARED, m, 0);
	CHECK("map_shared_ro", r != MAP_FAILED);
	EXPECT_ERR("mprotect_rw", mprotect(r, 4096, PROT_READ | PROT_WRITE), EACCES);
	munmap(r, 4096);
	close(m);

	m = memfd_create("future", MFD_ALLOW_SEALING);
	CHECK("future_size", ftruncate(m, 4096) == 0);
	w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	SHOW("add_future_write", "%d", fcntl(m, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
	if (w != MAP_FAILED) {
		memcpy(w, "old map", 7);
		munmap(w, 4096);
	}
	ssize_t n = pread(m, buf, 7, 0);
	printf("future_old_map_data %zd \"%.*s\"\n", n, n > 0 ? (int)n : 0, buf);
	close(m);

	m = memfd_create("reopen", MFD_ALLOW_SEALING);
	snprintf(buf, sizeof buf, "/proc/self/fd/%d", m);
	int ro = open(buf, O_RDONLY);
	CHECK("reopen_rdonly", ro >= 0);
	SHOW("rdonly_get_seals", "%#x", fcntl(ro, F_GET_SEALS));
	EXPECT_ERR("rdonly_add_seals", fcntl(ro, F_ADD_SEALS, F_SEAL_GROW), EPERM);
	SHOW("add_grow", "%d", fcntl(m, F_ADD_SEALS, F_SEAL_GROW));
	SHOW("seals_shared_by_reopen", "%#x", fcntl(ro, F_GET_SEALS));
	close(ro);
	close(m);
	return compat_done();
}
