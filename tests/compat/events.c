/* eventfd, epoll (level, edge, one-shot) and AF_UNIX socketpair. */
#include "common.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

static int wait1(int ep, int timeout, uint64_t *data)
{
	struct epoll_event ev[4];
	int n = epoll_wait(ep, ev, 4, timeout);
	if (n > 0 && data)
		*data = ev[0].data.u64;
	return n;
}

int main(void)
{
	/* eventfd */
	int efd = eventfd(0, EFD_NONBLOCK);
	uint64_t v = 0;
	CHECK("eventfd", efd >= 0);
	EXPECT_ERR("eventfd_empty", read(efd, &v, 8), EAGAIN);
	v = 3;
	CHECK("eventfd_write", write(efd, &v, 8) == 8);
	v = 4;
	write(efd, &v, 8);
	CHECK("eventfd_read_sum", read(efd, &v, 8) == 8 && v == 7);
	EXPECT_ERR("eventfd_short_read", read(efd, &v, 4), EINVAL);
	v = UINT64_MAX;
	EXPECT_ERR("eventfd_write_max", write(efd, &v, 8), EINVAL);
	v = UINT64_MAX - 1;
	CHECK("eventfd_fill", write(efd, &v, 8) == 8);
	v = 1;
	EXPECT_ERR("eventfd_overflow", write(efd, &v, 8), EAGAIN);
	read(efd, &v, 8);
	EXPECT_ERR("eventfd_bad_flags", eventfd(0, 0x1000), EINVAL);
	int sem = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
	CHECK("semaphore_reads_one", read(sem, &v, 8) == 8 && v == 1 && read(sem, &v, 8) == 8 && v == 1);
	EXPECT_ERR("semaphore_empty", read(sem, &v, 8), EAGAIN);

	/* epoll, level-triggered */
	EXPECT_ERR("epoll_create1_bad", epoll_create1(42), EINVAL);
	EXPECT_ERR("epoll_create_zero", epoll_create(0), EINVAL);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK("epoll_create1", ep >= 0);
	int p[2];
	pipe(p);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 77};
	CHECK("ctl_add", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
	EXPECT_ERR("ctl_add_twice", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), EEXIST);
	EXPECT_ERR("ctl_self", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL);
	int reg = open("/etc/passwd", O_RDONLY);
	EXPECT_ERR("ctl_regular_file", epoll_ctl(ep, EPOLL_CTL_ADD, reg, &ev), EPERM);
	EXPECT_ERR("ctl_bad_fd", epoll_ctl(ep, EPOLL_CTL_ADD, 999, &ev), EBADF);
	EXPECT_ERR("ctl_mod_missing", epoll_ctl(ep, EPOLL_CTL_MOD, efd, &ev), ENOENT);
	EXPECT_ERR("wait_not_epoll", epoll_wait(p[0], &ev, 1, 0), EINVAL);
	EXPECT_ERR("wait_zero_max", epoll_wait(ep, &ev, 0, 0), EINVAL);
	SHOW("nothing_ready", "%d", wait1(ep, 0, NULL));
	write(p[1], "x", 1);
	uint64_t d = 0;
	SHOW("ready_after_write", "%d", wait1(ep, 1000, &d));
	SHOW("data", "%lu", (unsigned long)d);
	SHOW("level_still_ready", "%d", wait1(ep, 0, NULL));
	char c;
	read(p[0], &c, 1);
	SHOW("drained", "%d", wait1(ep, 0, NULL));
	close(p[1]);
	struct epoll_event got;
	CHECK("hup_on_close", epoll_wait(ep, &got, 1, 0) == 1 && (got.events & EPOLLHUP));
	CHECK("ctl_del", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == 0);
	EXPECT_ERR("ctl_del_again", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL), ENOENT);

	/* edge-triggered and one-shot on an eventfd */
	struct epoll_event et = {.events = EPOLLIN | EPOLLET, .data.u64 = 5};
	epoll_ctl(ep, EPOLL_CTL_ADD, efd, &et);
	v = 1;
	write(efd, &v, 8);
	SHOW("et_first", "%d", wait1(ep, 0, NULL));
	SHOW("et_no_new_edge", "%d", wait1(ep, 0, NULL));
	write(efd, &v, 8);
	SHOW("et_new_edge", "%d", wait1(ep, 0, NULL));
	read(efd, &v, 8);
	struct epoll_event os = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = 6};
	CHECK("ctl_mod_oneshot", epoll_ctl(ep, EPOLL_CTL_MOD, efd, &os) == 0);
	write(efd, &v, 8);
	SHOW("oneshot_first", "%d", wait1(ep, 0, NULL));
	SHOW("oneshot_disarmed", "%d", wait1(ep, 0, NULL));
	CHECK("oneshot_rearm", epoll_ctl(ep, EPOLL_CTL_MOD, efd, &os) == 0);
	SHOW("oneshot_again", "%d", wait1(ep, 0, NULL));

	/* blocking wait woken by another process */
	int q[2];
	pipe(q);
	struct epoll_event qe = {.events = EPOLLIN, .data.u64 = 9};
	epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL);
	epoll_ctl(ep, EPOLL_CTL_ADD, q[0], &qe);
	if (fork() == 0) {
		usleep(30000);
		write(q[1], "y", 1);
		_exit(0);
	}
	SHOW("blocking_wait", "%d", wait1(ep, 5000, &d));
	SHOW("blocking_data", "%lu", (unsigned long)d);

	/* socketpair */
	int sv[2];
	CHECK("socketpair", socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	char buf[16] = {0};
	CHECK("sp_write_read", write(sv[0], "abc", 3) == 3 && read(sv[1], buf, 16) == 3 && memcmp(buf, "abc", 3) == 0);
	CHECK("sp_send_recv", send(sv[1], "xy", 2, 0) == 2 && recv(sv[0], buf, 16, 0) == 2);
	EXPECT_ERR("sp_recv_dontwait", recv(sv[0], buf, 16, MSG_DONTWAIT), EAGAIN);
	int type = 0;
	socklen_t len = sizeof type;
	CHECK("sp_so_type", getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM);
	CHECK("sp_shutdown_wr", shutdown(sv[0], SHUT_WR) == 0);
	CHECK("sp_peer_eof", read(sv[1], buf, 16) == 0);
	EXPECT_ERR("sp_bad_proto", socketpair(AF_UNIX, SOCK_STREAM, 7, sv), EPROTONOSUPPORT);
	EXPECT_ERR("sp_send_notsock", send(p[0], "a", 1, 0), ENOTSOCK);

	/* timerfd */
	EXPECT_ERR("timerfd_bad_clock", timerfd_create(42, 0), EINVAL);
	EXPECT_ERR("timerfd_bad_flags", timerfd_create(CLOCK_MONOTONIC, 0x10), EINVAL);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	CHECK("timerfd_create", tfd >= 0);
	EXPECT_ERR("timerfd_read_unarmed", read(tfd, &v, 8), EAGAIN);
	struct itimerspec its = {.it_value = {0, 20000000}};
	CHECK("timerfd_settime", timerfd_settime(tfd, 0, &its, NULL) == 0);
	struct itimerspec cur;
	CHECK("timerfd_gettime_armed", timerfd_gettime(tfd, &cur) == 0 && (cur.it_value.tv_sec > 0 || cur.it_value.tv_nsec > 0));
	struct pollfd pf = {.fd = tfd, .events = POLLIN};
	CHECK("timerfd_poll_fires", poll(&pf, 1, 2000) == 1 && (pf.revents & POLLIN));
	CHECK("timerfd_read_one", read(tfd, &v, 8) == 8 && v == 1);
	CHECK("timerfd_disarmed_after", timerfd_gettime(tfd, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
	struct itimerspec per = {.it_value = {0, 5000000}, .it_interval = {0, 5000000}};
	timerfd_settime(tfd, 0, &per, NULL);
	usleep(40000);
	CHECK("timerfd_periodic_counts", read(tfd, &v, 8) == 8 && v >= 2);
	struct epoll_event te = {.events = EPOLLIN, .data.u64 = 11};
	CHECK("timerfd_in_epoll", epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &te) == 0 && wait1(ep, 2000, &d) >= 1);
	EXPECT_ERR("timerfd_settime_not_timerfd", timerfd_settime(efd, 0, &its, NULL), EINVAL);
	EXPECT_ERR("timerfd_short_read", read(tfd, &v, 4), EINVAL);
	return compat_done();
}
