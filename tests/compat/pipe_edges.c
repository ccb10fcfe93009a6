/* Pipes, FIFOs and the calls that wait on them, at their edges: a FIFO
 * reader is not hung up before any writer came, a FIFO nobody holds open
 * forgets its data and size, select's nfds is cut to the fd table,
 * epoll_wait with room for one event lets ready files take turns, and
 * anonymous-inode files (eventfd, timerfd) have no positions. */
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>

int main(void)
{
	char f[64], b[8];
	snprintf(f, sizeof f, "/tmp/pipe_edges.%d", (int)getpid());
	unlink(f);
	CHECK("mkfifo", mkfifo(f, 0600) == 0);

	/* A reader before any writer: nothing to report. */
	int r = open(f, O_RDONLY | O_NONBLOCK);
	struct pollfd p = {r, POLLIN, 0};
	CHECK("poll: a new reader", poll(&p, 1, 0) == 0 && p.revents == 0);
	int ep = epoll_create1(0);
	struct epoll_event e = {EPOLLIN, {.u64 = 7}};
	epoll_ctl(ep, EPOLL_CTL_ADD, r, &e);
	CHECK("epoll: a new reader", epoll_wait(ep, &e, 1, 0) == 0);
	CHECK("read: end of file", read(r, b, sizeof b) == 0);
	int w = open(f, O_WRONLY);
	CHECK("a writer comes", w >= 0 && write(w, "abc", 3) == 3);
	CHECK("F_SETPIPE_SZ", fcntl(w, F_SETPIPE_SZ, 8192) == 8192);
	close(w);
	p.revents = 0;
	CHECK("and leaves: data and a hang-up", poll(&p, 1, 0) == 1 && p.revents == (POLLIN | POLLHUP));
	close(r);
	close(ep);

	/* Nobody holds it open: it starts afresh. */
	r = open(f, O_RDONLY | O_NONBLOCK);
	CHECK("reopened: the data is gone", read(r, b, sizeof b) == 0);
	CHECK("and the size", fcntl(r, F_GETPIPE_SZ) == 65536);
	p.fd = r;
	p.revents = 0;
	CHECK("and no hang-up yet", poll(&p, 1, 0) == 0);
	close(r);
	unlink(f);

	/* select looks no further than the fd table. */
	int q[2];
	CHECK("pipe", pipe(q) == 0 && write(q[1], "x", 1) == 1);
	fd_set *big = calloc(1, 4096 / 8);
	struct timeval tv = {0, 0};
	FD_SET(900, big);
	CHECK("a set bit past the table is ignored", syscall(SYS_select, 901, big, NULL, NULL, &tv) == 0);
	memset(big, 0, 4096 / 8);
	CHECK("dup2 to 1500", dup2(q[0], 1500) == 1500);
	FD_SET(1500, big);
	tv.tv_usec = 0;
	CHECK("select(1501) sees fd 1500", syscall(SYS_select, 1501, big, NULL, NULL, &tv) == 1 && FD_ISSET(1500, big));
	CHECK("select(4096) with no sets", syscall(SYS_select, 4096, NULL, NULL, NULL, &tv) == 0);
	EXPECT_ERR("select(-1)", syscall(SYS_select, -1, NULL, NULL, NULL, &tv), EINVAL);
	close(1500);
	free(big);

	/* Ready files take turns in a one-event epoll_wait. */
	int a[2], c[2];
	CHECK("two pipes", pipe(a) == 0 && pipe(c) == 0 && write(a[1], "1", 1) == 1 && write(c[1], "1", 1) == 1);
	ep = epoll_create1(0);
	e.events = EPOLLIN;
	e.data.u64 = 1;
	epoll_ctl(ep, EPOLL_CTL_ADD, a[0], &e);
	e.data.u64 = 2;
	epoll_ctl(ep, EPOLL_CTL_ADD, c[0], &e);
	char order[8] = "";
	for (int i = 0; i < 4; i++) {
		if (epoll_wait(ep, &e, 1, 0) == 1)
			order[i] = '0' + (char)e.data.u64;
	}
	printf("epoll turns: %s\n", order);
	close(ep);

	/* eventfd and timerfd: no positions, one counter per write. */
	int ev = eventfd(3, EFD_NONBLOCK);
	char sixteen[16] = {0};
	uint64_t v = 1;
	EXPECT_ERR("eventfd write of 16 bytes", write(ev, sixteen, 16), EINVAL);
	EXPECT_ERR("eventfd write of 4 bytes", write(ev, sixteen, 4), EINVAL);
	CHECK("eventfd lseek", lseek(ev, 0, SEEK_SET) == 0);
	EXPECT_ERR("eventfd pread", pread(ev, &v, 8, 0), ESPIPE);
	EXPECT_ERR("eventfd pwrite", pwrite(ev, &v, 8, 0), ESPIPE);
	CHECK("the counter is untouched", read(ev, &v, 8) == 8 && v == 3);
	int tf = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	CHECK("timerfd lseek", lseek(tf, 5, SEEK_SET) == 0);
	EXPECT_ERR("timerfd pread", pread(tf, &v, 8, 0), ESPIPE);
	return compat_done();
}
