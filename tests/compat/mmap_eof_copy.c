/* The kernel's copies into and out of a shared file mapping stop where
 * the file's last page does, as the application's own access does
 * (SIGBUS): a read(2) into the page past the end is EFAULT and changes
 * nothing (the page still faults, and growing the file shows zeros
 * there); pipe copies across it fault whole; and the tail of the last
 * page past the end is the page's (what was written there through the
 * mapping), not the file's, for copies either way. */
#include "common.h"
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

static sigjmp_buf jb;
static void on_bus(int s)
{
	siglongjmp(jb, s);
}

/* Which signal touching `p` raises (0: none). */
static int touch(volatile char *p)
{
	int s = sigsetjmp(jb, 1);
	if (s == 0) {
		(void)*p;
		return 0;
	}
	return s;
}

int main(void)
{
	char path[] = "/tmp/husk-eofcopy-XXXXXX";
	int f = mkstemp(path);
	unlink(path);
	char page[4096];
	memset(page, 'a', sizeof page);
	CHECK("write a page", write(f, page, 4096) == 4096);
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	CHECK("map two pages", m != MAP_FAILED);
	signal(SIGBUS, on_bus);
	SHOW("touch past the end", "%s", touch(m + 4096 + 100) == SIGBUS ? "SIGBUS" : "no signal");

	int src = open("/proc/self/exe", O_RDONLY);
	EXPECT_ERR("read into the page past the end", read(src, m + 4096 + 100, 100), EFAULT);
	SHOW("touch past the end after", "%s", touch(m + 4096 + 100) == SIGBUS ? "SIGBUS" : "no signal");
	struct stat st;
	fstat(f, &st);
	SHOW("size", "%ld", (long)st.st_size);

	int p[2];
	pipe(p);
	write(p[1], page, 300);
	EXPECT_ERR("pipe read across the end", read(p[0], m + 4000, 300), EFAULT);

	/* A write out of the mapping stops at the end of its last page. */
	int t[2];
	pipe(t);
	SHOW("write from across the end", "%ld", (long)write(t[1], m + 4000, 200));

	/* The file grows: the second page is zeros, nothing the copies left. */
	CHECK("ftruncate to two pages", ftruncate(f, 8192) == 0);
	SHOW("byte past the old end", "%d", m[4096 + 100]);
	char b[4];
	pread(f, b, 1, 4096 + 100);
	SHOW("pread there", "%d", b[0]);
	/* A write to a file from the mapping's first page is whole. */
	int w = open("/dev/null", O_WRONLY);
	SHOW("write to /dev/null from the first page", "%ld", (long)write(w, m + 4000, 96));
	close(w);

	/* The tail of a last page that is not full reads as zeros. */
	CHECK("ftruncate to 5000", ftruncate(f, 5000) == 0);
	pwrite(f, "bbbbbbbbbb", 10, 4990);
	m[5001] = 'c'; /* past the end, in the last page: not the file's */
	int z[2];
	pipe(z);
	SHOW("write from the tail of the last page", "%ld", (long)write(z[1], m + 4990, 50));
	char back[50];
	read(z[0], back, sizeof back);
	printf("its bytes %d %d %d\n", back[9], back[10], back[11]);
	/* A read into that tail lands in the page, not in the file. */
	lseek(src, 0, SEEK_SET);
	SHOW("read into the tail of the last page", "%ld", (long)read(src, m + 5010, 10));
	SHOW("the mapping has it", "%c", m[5011]);
	fstat(f, &st);
	SHOW("size still", "%ld", (long)st.st_size);
	return compat_done();
}
