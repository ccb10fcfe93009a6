/* Pipes count their capacity in pages and can carry packets: small
 * writes share a page, a page-sized write takes one of its own, writers
 * hear of room only when a page comes free (edge-triggered EPOLLOUT),
 * and pipe2(O_DIRECT) makes each write a packet a read takes whole.
 * Also epoll's EPOLLEXCLUSIVE rules, epoll_wait's lazy buffer check,
 * eventfd reads into a bad buffer and pipe2's flag errors. */
#include "common.h"
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>

static char big[1 << 20];

static void pages(void)
{
	int p[2];
	char b[8192];
	pipe2(p, O_NONBLOCK);
	/* 16 pages of 4096 bytes fill the pipe. */
	long total = 0, n;
	while ((n = write(p[1], big, 4096)) > 0)
		total += n;
	SHOW("page writes fill", "%ld", total);
	EXPECT_ERR("full: one byte more", write(p[1], "x", 1), EAGAIN);
	CHECK("read one byte", read(p[0], b, 1) == 1);
	EXPECT_ERR("a page not yet free", write(p[1], "x", 1), EAGAIN);
	CHECK("read the rest of the page", read(p[0], b, 4095) == 4095);
	SHOW("a page came free", "%ld", (long)write(p[1], big, 4096));
	EXPECT_ERR("and is taken", write(p[1], big, 4096), EAGAIN);
	close(p[0]);
	close(p[1]);

	/* Small writes top up the last page. */
	pipe2(p, O_NONBLOCK);
	long small = 0;
	while (write(p[1], big, 100) == 100)
		small += 100;
	SHOW("100-byte writes fill", "%ld", small);
	close(p[0]);
	close(p[1]);

	/* A write bigger than a page puts its odd bytes on the last page. */
	pipe2(p, O_NONBLOCK);
	for (int i = 0; i < 15; i++)
		write(p[1], big, 4096);
	write(p[1], big, 10);
	SHOW("4097 with one page left", "%ld", (long)write(p[1], big, 4097));
	int q;
	ioctl(p[0], FIONREAD, &q);
	SHOW("FIONREAD", "%d", q);
	close(p[0]);
	close(p[1]);

	/* Shrinking below the pages in use is EBUSY; by pages, not bytes. */
	pipe2(p, O_NONBLOCK);
	write(p[1], big, 1);
	write(p[1], big, 4096);
	EXPECT_ERR("shrink to one page with two used", fcntl(p[1], F_SETPIPE_SZ, 4096), EBUSY);
	read(p[0], b, 1);
	read(p[0], b, 4096);
	SHOW("shrink when empty", "%d", fcntl(p[1], F_SETPIPE_SZ, 4096));
	write(p[1], big, 10);
	read(p[0], b, 10);
	SHOW("a drained page is free again", "%ld", (long)write(p[1], big, 10));
	close(p[0]);
	close(p[1]);
}

static void edge_out(void)
{
	int p[2], ep = epoll_create1(0);
	char b[4096];
	struct epoll_event e = {.events = EPOLLOUT | EPOLLET, .data.u64 = 1};
	pipe2(p, O_NONBLOCK);
	epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &e);
	SHOW("first edge", "%d", epoll_wait(ep, &e, 1, 0));
	write(p[1], "abc", 3);
	read(p[0], b, 1);
	SHOW("a read from a pipe not full", "%d", epoll_wait(ep, &e, 1, 0));
	while (write(p[1], big, 4096) > 0)
		;
	SHOW("full", "%d", epoll_wait(ep, &e, 1, 0));
	read(p[0], b, 2);
	SHOW("the first page freed", "%d", epoll_wait(ep, &e, 1, 0));
	close(p[0]);
	close(p[1]);
	close(ep);
}

static void packets(void)
{
	int p[2];
	char b[8192];
	CHECK("pipe2 O_DIRECT", pipe2(p, O_DIRECT | O_NONBLOCK) == 0);
	SHOW("O_DIRECT in F_GETFL", "%d", !!(fcntl(p[1], F_GETFL) & O_DIRECT));
	write(p[1], "abc", 3);
	write(p[1], "defgh", 5);
	SHOW("first packet", "%ld", (long)read(p[0], b, sizeof b));
	SHOW("second packet", "%ld", (long)read(p[0], b, sizeof b));
	write(p[1], "0123456789", 10);
	write(p[1], "xyz", 3);
	SHOW("a short read", "%ld", (long)read(p[0], b, 4));
	SHOW("drops the rest", "%ld", (long)read(p[0], b, sizeof b));
	b[3] = 0;
	printf("next packet: %s\n", b);
	/* A write over a page is cut into page-sized packets. */
	write(p[1], big, 5000);
	SHOW("page packet", "%ld", (long)read(p[0], b, sizeof b));
	SHOW("its tail", "%ld", (long)read(p[0], b, sizeof b));
	long count = 0;
	while (write(p[1], "z", 1) == 1)
		count++;
	SHOW("one-byte packets fill", "%ld", count);
	/* F_SETFL turns packets off for later writes. */
	while (read(p[0], b, sizeof b) > 0)
		;
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	write(p[1], "ab", 2);
	write(p[1], "cd", 2);
	SHOW("stream again", "%ld", (long)read(p[0], b, sizeof b));
	close(p[0]);
	close(p[1]);
}

static void epoll_rules(void)
{
	int p[2], ep = epoll_create1(0), ep2 = epoll_create1(0);
	pipe(p);
	struct epoll_event e = {.events = EPOLLIN | EPOLLEXCLUSIVE};
	CHECK("add exclusive", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e) == 0);
	e.events = EPOLLIN;
	EXPECT_ERR("mod of an exclusive one", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &e), EINVAL);
	e.events = EPOLLIN | EPOLLEXCLUSIVE;
	EXPECT_ERR("mod asking exclusive", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &e), EINVAL);
	e.events = EPOLLOUT | EPOLLEXCLUSIVE | EPOLLONESHOT;
	EXPECT_ERR("exclusive one-shot", epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &e), EINVAL);
	e.events = EPOLLIN | EPOLLEXCLUSIVE;
	EXPECT_ERR("exclusive on an epoll", epoll_ctl(ep, EPOLL_CTL_ADD, ep2, &e), EINVAL);
	e.events = 0xffffffff;
	EXPECT_ERR("every bit", epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &e), EINVAL);
	CHECK("exclusive with ET", (e.events = EPOLLOUT | EPOLLET | EPOLLEXCLUSIVE,
				    epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &e) == 0));
	int q = epoll_create1(0);
	SHOW("bad buffer, nothing ready", "%d", epoll_wait(q, BADPTR, 1, 0));
	EXPECT_ERR("buffer past the address space", epoll_wait(q, (void *)0x7ffffffff000, 2, 0),
		   EFAULT);
	close(q);
	close(ep);
	close(ep2);
	close(p[0]);
	close(p[1]);
}

static void eventfd_buffers(void)
{
	int e = eventfd(0, EFD_NONBLOCK);
	uint64_t v = 3;
	EXPECT_ERR("empty, bad buffer", read(e, BADPTR, 8), EAGAIN);
	write(e, &v, 8);
	EXPECT_ERR("a value, bad buffer", read(e, BADPTR, 8), EFAULT);
	EXPECT_ERR("the value is gone", read(e, &v, 8), EAGAIN);
	close(e);
}

int main(void)
{
	pages();
	edge_out();
	packets();
	epoll_rules();
	eventfd_buffers();
	int p[2];
	EXPECT_ERR("pipe2 O_NOTIFICATION_PIPE", pipe2(p, O_EXCL), ENOPKG);
	EXPECT_ERR("pipe2 junk", pipe2(p, O_APPEND), EINVAL);
	int d = open("/", O_RDONLY | O_DIRECTORY);
	pipe(p);
	EXPECT_ERR("splice a directory", splice(d, NULL, p[1], NULL, 10, 0), EINVAL);
	CHECK("pipe-user-pages-soft", access("/proc/sys/fs/pipe-user-pages-soft", R_OK) == 0);
	return compat_done();
}
