/* /proc/PID/io counts the read and write families: bytes moved (rchar,
 * wchar) and calls that reached the file (syscr, syscw, failed ones
 * too); a reaped child's counts join its parent's; a thread's own are in
 * task/TID/io; another user may not read them. Deltas only: what exec
 * and the loader read differs between kernels. */
#include "common.h"
#include <fcntl.h>
#include <pthread.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

struct io {
	long long rchar, wchar, syscr, syscw, rb, wb, cwb;
	ssize_t len;
};

static struct io snap(const char *path)
{
	struct io v = {0};
	char b[512];
	int f = open(path, O_RDONLY);
	v.len = read(f, b, sizeof b - 1);
	close(f);
	if (v.len < 0)
		return v;
	b[v.len] = 0;
	sscanf(b, "rchar: %lld\nwchar: %lld\nsyscr: %lld\nsyscw: %lld\nread_bytes: %lld\nwrite_bytes: %lld\ncancelled_write_bytes: %lld",
	       &v.rchar, &v.wchar, &v.syscr, &v.syscw, &v.rb, &v.wb, &v.cwb);
	return v;
}

/* The counts between two snapshots, less the first snapshot's own read. */
static void show(const char *what, struct io a, struct io b)
{
	printf("%s: rchar +%lld wchar +%lld syscr +%lld syscw +%lld\n", what,
	       b.rchar - a.rchar - a.len, b.wchar - a.wchar, b.syscr - a.syscr - 1, b.syscw - a.syscw);
}

static void *thread_io(void *x)
{
	int *p = x;
	char b[100] = {0};
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%ld/io", (long)syscall(SYS_gettid));
	struct io a = snap(path);
	if (write(p[1], b, 100) != 100 || read(p[0], b, 100) != 100)
		return NULL;
	struct io z = snap(path);
	show("a thread's own", a, z);
	return NULL;
}

int main(void)
{
	int p[2];
	char b[4096] = {0};
	pipe(p);
	struct io a = snap("/proc/self/io");
	write(p[1], b, 1000);
	read(p[0], b, 600);
	read(p[0], b, 400);
	struct io z = snap("/proc/self/io");
	show("pipe write 1000, reads 600 and 400", a, z);

	a = snap("/proc/self/io");
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	read(p[0], b, 10);
	read(99, b, 10);
	z = snap("/proc/self/io");
	show("an EAGAIN read and an EBADF one", a, z);

	a = snap("/proc/self/io");
	int d = open("/dev/null", O_WRONLY), zero = open("/dev/zero", O_RDONLY);
	struct iovec iov[2] = {{b, 100}, {b, 200}};
	writev(d, iov, 2);
	pwrite(d, b, 50, 0);
	pread(zero, b, 70, 0);
	z = snap("/proc/self/io");
	show("writev 300, pwrite 50, pread 70", a, z);

	a = snap("/proc/self/io");
	if (fork() == 0) {
		for (int i = 0; i < 5; i++)
			write(d, b, 1000);
		_exit(0);
	}
	wait(NULL);
	z = snap("/proc/self/io");
	show("a reaped child wrote 5 x 1000", a, z);

	char tmpl[] = "/tmp/proc_io_XXXXXX";
	int t = mkstemp(tmpl);
	write(t, b, 2000);
	unlink(tmpl);
	a = snap("/proc/self/io");
	off_t off = 0;
	sendfile(d, t, &off, 2000);
	z = snap("/proc/self/io");
	show("sendfile 2000", a, z);

	pthread_t th;
	pthread_create(&th, NULL, thread_io, p);
	pthread_join(th, NULL);

	if (fork() == 0) {
		setuid(65534);
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/io", getppid());
		EXPECT_ERR("another user's io", open(path, O_RDONLY), EACCES);
		_exit(compat_done());
	}
	int status;
	wait(&status);
	CHECK("the child's checks", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return compat_done();
}
