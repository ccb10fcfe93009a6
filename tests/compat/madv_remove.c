/* madvise(MADV_REMOVE): shared writable mappings of memory files,
 * shared anonymous memory, System V segments and regular files become
 * holes (reads give zeros, the file keeps its size, a forked child sees
 * it); private, read-only-opened and locked mappings, and unaligned
 * addresses, are refused with Linux's errnos; a hole in the range is
 * ENOMEM after the mapped parts are punched. */
#include "common.h"
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define PG 4096

static void res(const char *what, int r)
{
	printf("%s: %s\n", what, r == 0 ? "ok" : ename(errno));
}

static void file_case(const char *label, int fd)
{
	char buf[2 * PG];
	memset(buf, 'x', sizeof buf);
	pwrite(fd, buf, sizeof buf, 0);
	char *m = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		printf("%s: mmap %s\n", label, ename(errno));
		return;
	}
	struct stat a, b;
	fstat(fd, &a);
	char l[128];
	snprintf(l, sizeof l, "%s remove", label);
	res(l, madvise(m, PG, MADV_REMOVE));
	fstat(fd, &b);
	char r[2 * PG];
	pread(fd, r, sizeof r, 0);
	printf("%s: mapped %d %d file %d %d size %ld blocks fell %d\n", label, m[0], m[PG],
	       r[0], r[PG], (long)b.st_size, b.st_blocks < a.st_blocks);
	/* A private mapping of the same file, and one only readable. */
	char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	snprintf(l, sizeof l, "%s private", label);
	res(l, madvise(p, PG, MADV_REMOVE));
	munmap(p, PG);
	munmap(m, 2 * PG);
}

int main(void)
{
	/* Shared anonymous memory, seen by a child. */
	char *a = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(a, 7, 3 * PG);
	pid_t c = fork();
	if (c == 0) {
		usleep(100000);
		printf("child sees %d %d\n", a[0], a[PG]);
		fflush(stdout);
		_exit(0);
	}
	res("shared anonymous", madvise(a, PG, MADV_REMOVE));
	printf("parent sees %d %d\n", a[0], a[PG]);
	fflush(stdout);
	waitpid(c, NULL, 0);
	res("unaligned", madvise(a + 1, PG, MADV_REMOVE));
	res("length 0", madvise(a, 0, MADV_REMOVE));
	/* A hole in the middle: both ends punched, then ENOMEM. */
	memset(a, 7, 3 * PG);
	munmap(a + PG, PG);
	res("over a hole", madvise(a, 3 * PG, MADV_REMOVE));
	printf("ends %d %d\n", a[0], a[2 * PG]);
	/* Locked. */
	char *k = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mlock(k, PG) == 0)
		res("locked", madvise(k, PG, MADV_REMOVE));
	else
		printf("locked: mlock %s\n", ename(errno));
	/* Private anonymous memory has no file. */
	char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	res("private anonymous", madvise(p, PG, MADV_REMOVE));

	int m = memfd_create("r", 0);
	file_case("memfd", m);
	char path[] = "/tmp/husk-madv-XXXXXX";
	int f = mkstemp(path);
	file_case("file", f);
	/* A shared mapping of a file opened read-only. */
	int ro = open(path, O_RDONLY);
	char *r = mmap(NULL, PG, PROT_READ, MAP_SHARED, ro, 0);
	res("read-only file", madvise(r, PG, MADV_REMOVE));
	/* Shared but only readable, of a file open for writing: allowed. */
	char *w = mmap(NULL, PG, PROT_READ, MAP_SHARED, f, 0);
	res("PROT_READ of a writable fd", madvise(w, PG, MADV_REMOVE));
	unlink(path);

	/* A System V segment. */
	int id = shmget(IPC_PRIVATE, 2 * PG, IPC_CREAT | 0600);
	char *s = shmat(id, NULL, 0);
	memset(s, 9, 2 * PG);
	res("shm", madvise(s, PG, MADV_REMOVE));
	char *s2 = shmat(id, NULL, 0);
	printf("shm other attach %d %d\n", s2[0], s2[PG]);
	shmctl(id, IPC_RMID, NULL);
	return 0;
}
