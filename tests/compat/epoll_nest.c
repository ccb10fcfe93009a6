/* epoll inside epoll: readiness through nesting, and the limits Linux puts
 * on nesting (ELOOP for cycles and for chains deeper than EP_MAX_NESTS),
 * whichever end of a chain grows. A long chain built by a hostile program
 * must be refused, never followed. */
#include "common.h"
#include <sys/epoll.h>

static int add(int ep, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int ready(int ep)
{
	struct epoll_event ev[4];
	return epoll_wait(ep, ev, 4, 0);
}

int main(void)
{
	int p[2];
	CHECK("pipe", pipe(p) == 0);

	/* Readiness travels up a chain of three. */
	int a = epoll_create1(0), b = epoll_create1(0), c = epoll_create1(0);
	CHECK("nest_a_pipe", add(a, p[0]) == 0);
	CHECK("nest_b_a", add(b, a) == 0);
	CHECK("nest_c_b", add(c, b) == 0);
	CHECK("nest_idle", ready(c) == 0);
	CHECK("write", write(p[1], "x", 1) == 1);
	CHECK("nest_ready_c", ready(c) == 1);
	CHECK("nest_ready_b", ready(b) == 1);
	char ch;
	CHECK("drain", read(p[0], &ch, 1) == 1);
	CHECK("nest_idle_again", ready(c) == 0);

	/* Cycles. */
	EXPECT_ERR("cycle_a_c", add(a, c), ELOOP);
	EXPECT_ERR("cycle_b_c", add(b, c), ELOOP);
	EXPECT_ERR("cycle_self", add(a, a), EINVAL);

	/* A chain grown downwards: each new epoll goes inside the last. */
	int top = epoll_create1(0), cur = top, i, down = -1;
	for (i = 1; i <= 10; i++) {
		int n = epoll_create1(0);
		if (add(cur, n) != 0) {
			down = i;
			printf("down_refused_at %d errno=%s\n", i, ename(errno));
			close(n);
			break;
		}
		cur = n;
	}
	CHECK("down_refused", down > 0);

	/* A chain grown upwards: each new epoll takes the last inside it. */
	int bottom = epoll_create1(0), up = -1;
	cur = bottom;
	for (i = 1; i <= 10; i++) {
		int n = epoll_create1(0);
		if (add(n, cur) != 0) {
			up = i;
			printf("up_refused_at %d errno=%s\n", i, ename(errno));
			close(n);
			break;
		}
		cur = n;
	}
	CHECK("up_refused", up > 0);

	/* Joining two chains of three in the middle. */
	int x[3], y[3];
	for (i = 0; i < 3; i++) {
		x[i] = epoll_create1(0);
		y[i] = epoll_create1(0);
		if (i) {
			add(x[i], x[i - 1]);
			add(y[i], y[i - 1]);
		}
	}
	int r = add(y[0], x[2]);
	printf("join_3_3 %s\n", r == 0 ? "0" : ename(errno));
	for (i = 0; i < 3; i++) {
		x[i] = epoll_create1(0);
		y[i] = epoll_create1(0);
		if (i) {
			add(x[i], x[i - 1]);
			add(y[i], y[i - 1]);
		}
	}
	r = add(y[1], x[2]);
	printf("join_3_2 %s\n", r == 0 ? "0" : ename(errno));

	/* Many epolls inside one (breadth is not depth). */
	int wide = epoll_create1(0), ok = 1;
	for (i = 0; i < 200; i++) {
		int n = epoll_create1(0);
		if (add(wide, n) != 0)
			ok = 0;
	}
	CHECK("wide_200", ok);
	int over = epoll_create1(0);
	CHECK("wide_nested", add(over, wide) == 0);
	CHECK("wide_idle", ready(over) == 0);
	return compat_failures > 100 ? 100 : compat_failures;
}
