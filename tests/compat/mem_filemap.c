/* File-backed mappings: contents, the kernel reading mapped pages (write
 * from a mapping), copy-on-write after mprotect, fork, MAP_SHARED
 * read-only, SIGBUS past the end of the file, EFAULT into read-only
 * mappings. */
#include "common.h"
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

static sigjmp_buf jb;
static volatile int got_sig, got_code;

static void on_bus(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got_sig = sig;
	got_code = si->si_code;
	siglongjmp(jb, 1);
}

static long readall(const char *path, char *buf, long cap)
{
	int fd = open(path, O_RDONLY);
	long n = 0, r;
	while ((r = read(fd, buf + n, cap - n)) > 0)
		n += r;
	close(fd);
	return n;
}

int main(void)
{
	static char want[1 << 16];
	const char *path = "/etc/passwd";
	long size = readall(path, want, sizeof want);
	int fd = open(path, O_RDONLY);
	CHECK("open", fd >= 0);

	char *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK("map_private_ro", p != MAP_FAILED);
	CHECK("contents_match_read", memcmp(p, want, size) == 0);

	/* The kernel (here: the sentry) reads the mapped pages itself. */
	int pfd[2];
	CHECK("pipe", pipe(pfd) == 0);
	long chunk = size < 4096 ? size : 4096;
	CHECK("write_from_mapping", write(pfd[1], p, chunk) == chunk);
	char back[4096];
	CHECK("read_back", read(pfd[0], back, chunk) == chunk);
	CHECK("write_from_mapping_same", memcmp(back, want, chunk) == 0);

	/* Reading into a read-only mapping is EFAULT. */
	EXPECT_ERR("read_into_ro_mapping", read(fd, p, 16), EFAULT);

	/* fork: the child sees the same contents. */
	pid_t c = fork();
	if (c == 0)
		_exit(memcmp(p, want, size) == 0 ? 0 : 1);
	int st;
	waitpid(c, &st, 0);
	CHECK("fork_child_sees_mapping", WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* Made writable, the mapping becomes the process's own copy. */
	CHECK("mprotect_rw", mprotect(p, size, PROT_READ | PROT_WRITE) == 0);
	p[0] = p[0] == 'X' ? 'Y' : 'X';
	CHECK("cow_write_visible", p[0] != want[0]);
	CHECK("cow_rest_intact", memcmp(p + 1, want + 1, size - 1) == 0);
	static char again[1 << 16];
	CHECK("file_unchanged", readall(path, again, sizeof again) == size && memcmp(again, want, size) == 0);
	CHECK("munmap", munmap(p, size) == 0);

	/* MAP_SHARED read-only. */
	char *s = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	CHECK("map_shared_ro", s != MAP_FAILED && memcmp(s, want, size) == 0);
	EXPECT_ERR("map_shared_rw_on_rdonly_fd", mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), EACCES);
	munmap(s, size);

	/* An offset mapping. */
	struct stat sb;
	fstat(fd, &sb);
	int big = open("/bin/sh", O_RDONLY);
	struct stat bst;
	fstat(big, &bst);
	if (bst.st_size > 8192) {
		char *q = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, big, 4096);
		char ref[4096];
		CHECK("pread_ref", pread(big, ref, 4096, 4096) == 4096);
		CHECK("offset_mapping", q != MAP_FAILED && memcmp(q, ref, 4096) == 0);
		munmap(q, 4096);
	}
	EXPECT_ERR("unaligned_offset", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 1), EINVAL);
	EXPECT_ERR("dir_mapping", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, open("/etc", O_RDONLY), 0), ENODEV);

	/* Whole pages past the end of the file raise SIGBUS (BUS_ADRERR). */
	long pages = (size + 4095) / 4096 + 1;
	char *r = mmap(NULL, pages * 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK("map_past_eof", r != MAP_FAILED);
	struct sigaction sa = {0};
	sa.sa_sigaction = on_bus;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
	if (sigsetjmp(jb, 1) == 0) {
		volatile char x = r[(pages - 1) * 4096];
		(void)x;
		printf("sigbus_past_eof FAIL no signal\n");
		compat_failures++;
	} else {
		SHOW("sigbus_past_eof", "sig=%d", got_sig);
		SHOW("sigbus_code", "%d", got_code);
	}
	CHECK("last_partial_page_readable", r[size - 1] == want[size - 1]);
	close(fd);
	return compat_done();
}
