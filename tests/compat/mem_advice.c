/* madvise's fork advice (WIPEONFORK, KEEPONFORK, DONTFORK, DOFORK),
 * populating (MADV_POPULATE_READ/WRITE, MAP_POPULATE, seen by mincore),
 * MADV_FREE's rule, MAP_HUGETLB with no huge pages, and mprotect over a
 * range with a hole (the part before it changes), and MADV_DONTNEED on
 * a private file mapping (the file's bytes come back, as they are now,
 * in a forked child only for its own pages, and after the file closed),
 * and mremap growing a private file copy (the file's next bytes). */
#include "common.h"
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define PG 4096

static int child_value(char *p)
{
	pid_t c = fork();
	if (c == 0)
		_exit(p[0]);
	int st;
	waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static sigjmp_buf jb;
static void on_segv(int s)
{
	siglongjmp(jb, s);
}

static int readable(char *p)
{
	struct sigaction sa = {0}, old;
	sa.sa_handler = on_segv;
	sigaction(SIGSEGV, &sa, &old);
	volatile int ok = 1;
	if (sigsetjmp(jb, 1) == 0)
		(void)*(volatile char *)p;
	else
		ok = 0;
	sigaction(SIGSEGV, &old, NULL);
	return ok;
}

static int writable(char *p)
{
	struct sigaction sa = {0}, old;
	sa.sa_handler = on_segv;
	sigaction(SIGSEGV, &sa, &old);
	volatile int ok = 1;
	if (sigsetjmp(jb, 1) == 0)
		*(volatile char *)p = *(volatile char *)p;
	else
		ok = 0;
	sigaction(SIGSEGV, &old, NULL);
	return ok;
}

static void fork_advice(void)
{
	char *w = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w[0] = 5;
	w[PG] = 6;
	CHECK("WIPEONFORK", madvise(w, PG, MADV_WIPEONFORK) == 0);
	SHOW("child sees a wiped page", "%d", child_value(w));
	SHOW("and the next one kept", "%d", child_value(w + PG));
	SHOW("the parent keeps its data", "%d", w[0]);
	CHECK("KEEPONFORK", madvise(w, PG, MADV_KEEPONFORK) == 0);
	SHOW("kept again", "%d", child_value(w));

	char *d = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	d[0] = 9;
	CHECK("DONTFORK", madvise(d, PG, MADV_DONTFORK) == 0);
	pid_t c = fork();
	if (c == 0)
		_exit(readable(d));
	int st;
	waitpid(c, &st, 0);
	SHOW("the child has no such mapping", "%d", WEXITSTATUS(st) == 0);
	CHECK("DOFORK", madvise(d, PG, MADV_DOFORK) == 0);
	SHOW("forked again", "%d", child_value(d));

	int fd = open("/etc/passwd", O_RDONLY);
	char *f = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0);
	EXPECT_ERR("WIPEONFORK on a file mapping", madvise(f, PG, MADV_WIPEONFORK), EINVAL);
	char *s = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	EXPECT_ERR("WIPEONFORK on shared memory", madvise(s, PG, MADV_WIPEONFORK), EINVAL);
	CHECK("DONTFORK on a file mapping", madvise(f, PG, MADV_DONTFORK) == 0);
	EXPECT_ERR("MADV_FREE on a file mapping", madvise(f, PG, MADV_FREE), EINVAL);
	EXPECT_ERR("MADV_FREE on shared memory", madvise(s, PG, MADV_FREE), EINVAL);
	CHECK("MADV_FREE on private memory", madvise(w, PG, MADV_FREE) == 0);
	EXPECT_ERR("fork advice on a hole", madvise((void *)0x100000000000, PG, MADV_DONTFORK), ENOMEM);
	munmap(f, PG);
	close(fd);
}

static void residency(void)
{
	unsigned char v[4];
	char *q = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mincore(q, 4 * PG, v);
	printf("fresh: %d%d%d%d\n", v[0] & 1, v[1] & 1, v[2] & 1, v[3] & 1);
	CHECK("POPULATE_READ", madvise(q, PG, MADV_POPULATE_READ) == 0);
	CHECK("POPULATE_WRITE", madvise(q + 2 * PG, PG, MADV_POPULATE_WRITE) == 0);
	mincore(q, 4 * PG, v);
	printf("populated: %d%d%d%d\n", v[0] & 1, v[1] & 1, v[2] & 1, v[3] & 1);
	SHOW("still zero", "%d", q[0] + q[2 * PG]);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	mincore(p, 4 * PG, v);
	printf("MAP_POPULATE: %d%d%d%d\n", v[0] & 1, v[1] & 1, v[2] & 1, v[3] & 1);
	char *n = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT_ERR("POPULATE_READ of PROT_NONE", madvise(n, PG, MADV_POPULATE_READ), EINVAL);
	char *r = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT_ERR("POPULATE_WRITE of read-only", madvise(r, PG, MADV_POPULATE_WRITE), EINVAL);
	EXPECT_ERR("POPULATE of a hole", madvise((void *)0x100000000000, PG, MADV_POPULATE_READ), ENOMEM);
	/* Written data survives populating. */
	q[PG] = 42;
	CHECK("POPULATE_WRITE keeps data", madvise(q, 4 * PG, MADV_POPULATE_WRITE) == 0 && q[PG] == 42);
	EXPECT_ERR("MAP_HUGETLB with no huge pages",
		   (long)mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0),
		   ENOMEM);
}

static void protect_hole(void)
{
	char *a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(a + 2 * PG, PG);
	EXPECT_ERR("mprotect over a hole", mprotect(a, 4 * PG, PROT_READ), ENOMEM);
	SHOW("before the hole: writable", "%d", writable(a) + writable(a + PG));
	SHOW("after the hole: writable", "%d", writable(a + 3 * PG));
	EXPECT_ERR("mprotect from a hole", mprotect(a + 2 * PG, 2 * PG, PROT_NONE), ENOMEM);
	SHOW("after it: readable", "%d", readable(a + 3 * PG));
}

static void dontneed_file(void)
{
	char path[] = "/tmp/mem_advice_XXXXXX";
	int f = mkstemp(path);
	char b[10000];
	memset(b, 'A', sizeof b);
	CHECK("file written", write(f, b, sizeof b) == (ssize_t)sizeof b);
	char *w = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, f, 0);
	memset(w, 'Z', 2 * PG);
	pwrite(f, "B", 1, 1);
	madvise(w + PG, PG, MADV_DONTNEED);
	SHOW("untouched page keeps its own", "%c", w[0]);
	SHOW("discarded page has the file's", "%c", w[PG]);
	madvise(w, PG, MADV_DONTNEED);
	printf("and now the file as it is: %c%c\n", w[0], w[1]);
	char *m = mmap(NULL, 3 * PG, PROT_READ, MAP_PRIVATE, f, PG);
	mprotect(m, 3 * PG, PROT_READ | PROT_WRITE);
	memset(m, 'Z', 2 * PG);
	pwrite(f, "C", 1, 2 * PG);
	pid_t c = fork();
	if (c == 0) {
		madvise(m + PG, PG, MADV_DONTNEED);
		_exit(m[0] == 'Z' && m[PG] == 'C' && m[PG + 1] == 'A' ? 0 : 1);
	}
	int status;
	waitpid(c, &status, 0);
	CHECK("a child's DONTNEED reads the file for its own pages", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	SHOW("the parent's stay", "%c", m[PG]);
	char *g = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, f, 0);
	g[0] = 'Q';
	char *g2 = mremap(g, PG, 2 * PG, MREMAP_MAYMOVE);
	printf("mremap grows a private copy with the file: %c %c\n", g2[0], g2[PG + 1]);
	char *g3 = mremap(g2, 2 * PG, 4 * PG, MREMAP_MAYMOVE);
	printf("and again, to past the end: %c %c %d\n", g3[0], g3[2 * PG], g3[3 * PG - 1]);
	close(f);
	unlink(path);
	madvise(m, 2 * PG, MADV_DONTNEED);
	printf("after close and unlink: %c %c, past the end %d\n", m[0], m[PG], m[10000 - PG + 5]);
}

int main(void)
{
	dontneed_file();
	fork_advice();
	residency();
	protect_hole();
	return compat_done();
}
