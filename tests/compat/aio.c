/* Linux AIO through the raw calls (as libaio makes them): io_setup's
 * errors, reads and writes (plain and vectored) with their completions'
 * data, object and result, fsync, an eventfd told of each completion,
 * io_getevents' minimum, maximum and timeout, EINTR, io_submit's partial
 * success and errors, io_cancel, io_destroy, and contexts not inherited
 * by fork. */
#include "common.h"
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

static long setup(unsigned n, aio_context_t *c) { return syscall(SYS_io_setup, n, c); }
static long destroy(aio_context_t c) { return syscall(SYS_io_destroy, c); }
static long submit(aio_context_t c, long n, struct iocb **v) { return syscall(SYS_io_submit, c, n, v); }
static long getev(aio_context_t c, long min, long n, struct io_event *e, struct timespec *t)
{
	return syscall(SYS_io_getevents, c, min, n, e, t);
}

static struct iocb cb(int op, int fd, void *buf, size_t n, long off, uint64_t data)
{
	struct iocb b;
	memset(&b, 0, sizeof b);
	b.aio_lio_opcode = op;
	b.aio_fildes = fd;
	b.aio_buf = (uintptr_t)buf;
	b.aio_nbytes = n;
	b.aio_offset = off;
	b.aio_data = data;
	return b;
}

static void on_alarm(int s) { (void)s; }

int main(void)
{
	aio_context_t ctx = 0;
	EXPECT_ERR("io_setup 0", setup(0, &ctx), EINVAL);
	EXPECT_ERR("io_setup bad pointer", setup(8, BADPTR), EFAULT);
	CHECK("io_setup", setup(8, &ctx) == 0 && ctx != 0);
	aio_context_t again = ctx;
	EXPECT_ERR("io_setup nonzero", setup(8, &again), EINVAL);

	char path[64];
	snprintf(path, sizeof path, "/tmp/husk-aio-%d", getpid());
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	unlink(path);
	char out[] = "hello, aio";
	struct iocb w = cb(IOCB_CMD_PWRITE, fd, out, 10, 4, 7);
	struct iocb *list[3] = {&w};
	CHECK("submit write", submit(ctx, 1, list) == 1);
	struct io_event ev[8];
	CHECK("getevents write", getev(ctx, 1, 8, ev, NULL) == 1);
	CHECK("write event", ev[0].data == 7 && ev[0].obj == (uintptr_t)&w && ev[0].res == 10 && ev[0].res2 == 0);

	char in[32] = {0};
	struct iocb r = cb(IOCB_CMD_PREAD, fd, in, 20, 4, 8);
	char a[4] = {0}, b[8] = {0};
	struct iovec iov[2] = {{a, 3}, {b, 7}};
	struct iocb rv = cb(IOCB_CMD_PREADV, fd, iov, 2, 4, 9);
	struct iocb eof = cb(IOCB_CMD_PREAD, fd, in, 20, 1000, 10);
	list[0] = &r;
	list[1] = &rv;
	list[2] = &eof;
	CHECK("submit three", submit(ctx, 3, list) == 3);
	long n = getev(ctx, 3, 8, ev, NULL);
	CHECK("three events", n == 3);
	int seen = 0;
	for (int i = 0; i < n; i++) {
		if (ev[i].data == 8)
			seen += ev[i].res == 10 && memcmp(in, "hello, aio", 10) == 0;
		if (ev[i].data == 9)
			seen += ev[i].res == 10 && memcmp(a, "hel", 3) == 0 && memcmp(b, "lo, aio", 7) == 0;
		if (ev[i].data == 10)
			seen += ev[i].res == 0;
	}
	CHECK("read results", seen == 3);

	struct iocb s = cb(IOCB_CMD_FSYNC, fd, NULL, 0, 0, 11);
	struct iocb ds = cb(IOCB_CMD_FDSYNC, fd, NULL, 0, 0, 12);
	list[0] = &s;
	list[1] = &ds;
	CHECK("fsync", submit(ctx, 2, list) == 2 && getev(ctx, 2, 2, ev, NULL) == 2 && ev[0].res == 0 && ev[1].res == 0);
	struct iocb bads = cb(IOCB_CMD_FSYNC, fd, in, 0, 0, 13);
	list[0] = &bads;
	EXPECT_ERR("fsync with a buffer", submit(ctx, 1, list), EINVAL);

	/* A bad buffer is the completion's result, not io_submit's. */
	struct iocb rb = cb(IOCB_CMD_PREAD, fd, BADPTR, 10, 4, 14);
	list[0] = &rb;
	CHECK("bad buffer submitted", submit(ctx, 1, list) == 1);
	CHECK("bad buffer result", getev(ctx, 1, 1, ev, NULL) == 1 && ev[0].res == -EFAULT);

	/* The eventfd hears of each completion. */
	int efd = eventfd(0, EFD_NONBLOCK);
	struct iocb e1 = cb(IOCB_CMD_PREAD, fd, in, 5, 4, 15), e2 = e1;
	e1.aio_flags = e2.aio_flags = IOCB_FLAG_RESFD;
	e1.aio_resfd = e2.aio_resfd = efd;
	list[0] = &e1;
	list[1] = &e2;
	CHECK("resfd submit", submit(ctx, 2, list) == 2);
	uint64_t cnt = 0;
	CHECK("resfd count", read(efd, &cnt, 8) == 8 && cnt == 2);
	getev(ctx, 2, 2, ev, NULL);
	e1.aio_resfd = fd;
	list[0] = &e1;
	EXPECT_ERR("resfd not an eventfd", submit(ctx, 1, list), EINVAL);
	e1.aio_resfd = 999;
	EXPECT_ERR("resfd bad", submit(ctx, 1, list), EBADF);

	/* io_submit's errors, and a later bad iocb ends the batch. */
	struct iocb bad = cb(99, fd, in, 1, 0, 16);
	list[0] = &bad;
	EXPECT_ERR("bad opcode", submit(ctx, 1, list), EINVAL);
	struct iocb res2 = cb(IOCB_CMD_PREAD, fd, in, 1, 0, 17);
	res2.aio_reserved2 = 1;
	list[0] = &res2;
	EXPECT_ERR("reserved field", submit(ctx, 1, list), EINVAL);
	struct iocb neg = cb(IOCB_CMD_PREAD, fd, in, 1, -1, 18);
	list[0] = &neg;
	EXPECT_ERR("negative offset", submit(ctx, 1, list), EINVAL);
	struct iocb badfd = cb(IOCB_CMD_PREAD, 999, in, 1, 0, 19);
	list[0] = &badfd;
	EXPECT_ERR("bad fd", submit(ctx, 1, list), EBADF);
	int ro = open("/etc/hostname", O_RDONLY);
	struct iocb wro = cb(IOCB_CMD_PWRITE, ro, in, 1, 0, 20);
	list[0] = &wro;
	EXPECT_ERR("write to read-only", submit(ctx, 1, list), EBADF);
	struct iocb ok = cb(IOCB_CMD_PREAD, fd, in, 1, 0, 21);
	list[0] = &ok;
	list[1] = &bad;
	CHECK("partial batch", submit(ctx, 2, list) == 1);
	EXPECT_ERR("negative nr", submit(ctx, -1, list), EINVAL);
	EXPECT_ERR("bad list", submit(ctx, 1, BADPTR), EFAULT);
	EXPECT_ERR("bad context", submit(ctx + 4096, 1, list), EINVAL);
	CHECK("zero submitted", submit(ctx, 0, list) == 0);

	/* io_getevents' limits and timeout. */
	EXPECT_ERR("min > nr", getev(ctx, 2, 1, ev, NULL), EINVAL);
	EXPECT_ERR("negative min", getev(ctx, -1, 1, ev, NULL), EINVAL);
	CHECK("takes what is there", getev(ctx, 0, 8, ev, NULL) == 1 && ev[0].data == 21);
	struct timespec t = {0, 30 * 1000 * 1000};
	CHECK("timeout", getev(ctx, 1, 1, ev, &t) == 0);
	EXPECT_ERR("bad context getevents", getev(0, 1, 1, ev, NULL), EINVAL);
	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	ualarm(50000, 0);
	EXPECT_ERR("EINTR", getev(ctx, 1, 1, ev, NULL), EINTR);
	struct io_event cev;
	EXPECT_ERR("cancel done", syscall(SYS_io_cancel, ctx, &ok, &cev), EINVAL);

	/* A child has no contexts. */
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		list[0] = &ok;
		_exit(submit(ctx, 1, list) == -1 && errno == EINVAL ? 0 : 1);
	}
	int st;
	waitpid(c, &st, 0);
	CHECK("not inherited", WIFEXITED(st) && WEXITSTATUS(st) == 0);

	CHECK("destroy", destroy(ctx) == 0);
	EXPECT_ERR("destroy again", destroy(ctx), EINVAL);
	EXPECT_ERR("getevents after destroy", getev(ctx, 0, 1, ev, NULL), EINVAL);
	return compat_done();
}
