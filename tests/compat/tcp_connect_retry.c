/* A non-blocking TCP connect that was refused: the next connect reports
 * the refusal (or ECONNABORTED once SO_ERROR took it) and leaves the
 * socket free to connect again, and that connection carries data. */
#include "common.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

static int soerr(int c)
{
	int e = -1;
	socklen_t el = sizeof e;
	getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &el);
	return e;
}

static void round_trip(int took_error)
{
	const char *tag = took_error ? "soerror" : "direct";
	char n[64];
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	bind(l, (struct sockaddr *)&a, al);
	getsockname(l, (struct sockaddr *)&a, &al);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct pollfd p = {c, POLLOUT, 0};
	snprintf(n, sizeof n, "%s_first", tag);
	EXPECT_ERR(n, connect(c, (struct sockaddr *)&a, al), EINPROGRESS);
	poll(&p, 1, 1000);
	snprintf(n, sizeof n, "%s_refused_poll", tag);
	CHECK(n, (p.revents & (POLLERR | POLLHUP)) == (POLLERR | POLLHUP));
	if (took_error) {
		snprintf(n, sizeof n, "%s_so_error", tag);
		CHECK(n, soerr(c) == ECONNREFUSED);
		snprintf(n, sizeof n, "%s_second", tag);
		EXPECT_ERR(n, connect(c, (struct sockaddr *)&a, al), ECONNABORTED);
	} else {
		snprintf(n, sizeof n, "%s_second", tag);
		EXPECT_ERR(n, connect(c, (struct sockaddr *)&a, al), ECONNREFUSED);
		snprintf(n, sizeof n, "%s_error_taken", tag);
		CHECK(n, soerr(c) == 0);
	}
	listen(l, 1);
	snprintf(n, sizeof n, "%s_again", tag);
	EXPECT_ERR(n, connect(c, (struct sockaddr *)&a, al), EINPROGRESS);
	p.revents = 0;
	poll(&p, 1, 1000);
	snprintf(n, sizeof n, "%s_connected", tag);
	CHECK(n, p.revents == POLLOUT && connect(c, (struct sockaddr *)&a, al) == 0);
	int x = accept(l, NULL, NULL);
	char b[4];
	snprintf(n, sizeof n, "%s_carries_data", tag);
	CHECK(n, send(c, "x", 1, 0) == 1 && recv(x, b, sizeof b, 0) == 1);
	close(x);
	close(c);
	close(l);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	round_trip(0);
	round_trip(1);
	return compat_done();
}
