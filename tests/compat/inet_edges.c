/* TCP and UDP over loopback, where programs notice the details: shutdown
 * of a listener wakes a blocked accept; SHUT_RD stays local; TCP_INFO's
 * state through a close; IPV6_V6ONLY (two listeners on one port); a
 * connected UDP socket hears only its peer; an AF_INET6 UDP socket takes
 * sockaddr_in (getaddrinfo's sorting relies on it); non-blocking
 * connects to a full backlog and to a closed port go on in the
 * background; accepted sockets inherit the listener's options; and a
 * few option and poll values. */
#include "common.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

static void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static struct sockaddr_in lo4(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int port_of(int s)
{
	struct sockaddr_storage a;
	socklen_t l = sizeof a;
	getsockname(s, (struct sockaddr *)&a, &l);
	return ntohs(((struct sockaddr_in *)&a)->sin_port);
}

static int listener(int backlog)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = lo4(0);
	bind(l, (struct sockaddr *)&a, sizeof a);
	listen(l, backlog);
	return l;
}

static void pair(int *c, int *s)
{
	int l = listener(5);
	struct sockaddr_in a = lo4(port_of(l));
	*c = socket(AF_INET, SOCK_STREAM, 0);
	connect(*c, (struct sockaddr *)&a, sizeof a);
	*s = accept(l, NULL, NULL);
	close(l);
}

static const char *pollbits(int fd)
{
	static char b[128];
	struct pollfd p = {fd, POLLIN | POLLOUT | POLLRDHUP | POLLPRI | POLLWRBAND, 0};
	poll(&p, 1, 0);
	snprintf(b, sizeof b, "%s%s%s%s%s%s", p.revents & POLLIN ? "IN|" : "", p.revents & POLLOUT ? "OUT|" : "",
		 p.revents & POLLERR ? "ERR|" : "", p.revents & POLLHUP ? "HUP|" : "",
		 p.revents & POLLRDHUP ? "RDHUP|" : "", p.revents & POLLWRBAND ? "WRBAND|" : "");
	return b;
}

static int state(int fd)
{
	struct tcp_info t;
	socklen_t l = sizeof t;
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &t, &l) == 0 ? t.tcpi_state : -1;
}

static int stopper_fd;
static void *stopper(void *x)
{
	(void)x;
	msleep(200);
	shutdown(stopper_fd, SHUT_RDWR);
	return NULL;
}

static void listener_shutdown(void)
{
	int l = listener(5), port = port_of(l);
	stopper_fd = l;
	pthread_t t;
	pthread_create(&t, NULL, stopper, NULL);
	EXPECT_ERR("a blocked accept wakes at shutdown", accept(l, NULL, NULL), EINVAL);
	pthread_join(t, NULL);
	printf("shut listener poll %s\n", pollbits(l));
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = lo4(port);
	EXPECT_ERR("it listens no more", connect(c, (struct sockaddr *)&a, sizeof a), ECONNREFUSED);
	CHECK("it may listen again", listen(l, 5) == 0);
	close(c);
	close(l);
}

static void shut_rd_and_states(void)
{
	int c, s;
	char b[16];
	pair(&c, &s);
	printf("fresh poll %s state %d\n", pollbits(c), state(c));
	shutdown(c, SHUT_RD);
	SHOW("the peer may still write", "%ld", (long)write(s, "abc", 3));
	msleep(20);
	SHOW("and it is read", "%ld", (long)read(c, b, sizeof b));
	printf("peer poll %s\n", pollbits(s));
	close(c);
	close(s);

	pair(&c, &s);
	shutdown(c, SHUT_WR);
	msleep(20);
	printf("after our FIN: ours %d, theirs %d\n", state(c), state(s));
	shutdown(s, SHUT_WR);
	msleep(20);
	printf("after both: ours %d, theirs %d\n", state(c), state(s));
	EXPECT_ERR("shutdown once closed", shutdown(c, SHUT_WR), ENOTCONN);
	close(c);
	close(s);

	/* A reset leaves no peer; a peer's FIN does. */
	pair(&c, &s);
	struct sockaddr_in6 pa;
	socklen_t pl = sizeof pa;
	close(s);
	msleep(20);
	CHECK("after the peer's FIN there is a peer", getpeername(c, (struct sockaddr *)&pa, &pl) == 0);
	close(c);
	pair(&c, &s);
	struct linger lg = {1, 0};
	setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(c);
	msleep(20);
	pl = sizeof pa;
	EXPECT_ERR("after a reset there is none", getpeername(s, (struct sockaddr *)&pa, &pl), ENOTCONN);
	close(s);
}

static void v6only(void)
{
	int one = 1, v6only_ok = 1, bound = 0, port = 0, l6 = -1, l4 = -1;
	/* The port the kernel picks for the v6-only listener may be held on
	 * v4 by another program of the host (the suite runs in parallel):
	 * another pick then. */
	for (int tries = 0; tries < 20 && !bound; tries++) {
		if (l6 >= 0) {
			close(l6);
			close(l4);
		}
		l6 = socket(AF_INET6, SOCK_STREAM, 0);
		v6only_ok &= setsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) == 0;
		struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = in6addr_any};
		bind(l6, (struct sockaddr *)&a6, sizeof a6);
		listen(l6, 5);
		port = port_of(l6);
		l4 = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port)};
		bound = bind(l4, (struct sockaddr *)&a4, sizeof a4) == 0;
	}
	CHECK("IPV6_V6ONLY", v6only_ok);
	CHECK("0.0.0.0 on the same port", bound);
	listen(l4, 5);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in to = lo4(port);
	connect(c, (struct sockaddr *)&to, sizeof to);
	fcntl(l4, F_SETFL, O_NONBLOCK);
	fcntl(l6, F_SETFL, O_NONBLOCK);
	int s4 = accept(l4, NULL, NULL), s6 = accept(l6, NULL, NULL);
	printf("v4 connection went to the v4 listener: %d, not the v6-only one: %d\n", s4 >= 0, s6 < 0);
	EXPECT_ERR("V6ONLY once bound", setsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one), EINVAL);
	int u = socket(AF_INET6, SOCK_DGRAM, 0);
	setsockopt(u, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	struct sockaddr_in6 m = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &m.sin6_addr);
	EXPECT_ERR("a v6-only socket to a mapped address", sendto(u, "x", 1, 0, (struct sockaddr *)&m, sizeof m),
		   ENETUNREACH);
	EXPECT_ERR("a v6-only socket bound to a mapped address", bind(u, (struct sockaddr *)&m, sizeof m), EINVAL);
	close(u);
	close(c);
	if (s4 >= 0)
		close(s4);
	close(l4);
	close(l6);
}

static void udp(void)
{
	char b[16];
	int r = socket(AF_INET, SOCK_DGRAM, 0), peer = socket(AF_INET, SOCK_DGRAM, 0),
	    other = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = lo4(0);
	bind(r, (struct sockaddr *)&a, sizeof a);
	bind(peer, (struct sockaddr *)&a, sizeof a);
	struct sockaddr_in ra = lo4(port_of(r)), pa = lo4(port_of(peer));
	connect(r, (struct sockaddr *)&pa, sizeof pa);
	sendto(other, "spoof", 5, 0, (struct sockaddr *)&ra, sizeof ra);
	sendto(peer, "good", 4, 0, (struct sockaddr *)&ra, sizeof ra);
	msleep(20);
	ssize_t n = recv(r, b, sizeof b, MSG_DONTWAIT);
	b[n > 0 ? n : 0] = 0;
	printf("connected UDP hears: %s\n", b);
	EXPECT_ERR("and nothing else", recv(r, b, sizeof b, MSG_DONTWAIT), EAGAIN);
	EXPECT_ERR("accept on UDP", accept(r, NULL, NULL), EOPNOTSUPP);

	int v = socket(AF_INET6, SOCK_DGRAM, 0);
	CHECK("a v6 socket connects to a sockaddr_in", connect(v, (struct sockaddr *)&ra, sizeof ra) == 0);
	struct sockaddr_in6 me;
	socklen_t l = sizeof me;
	getsockname(v, (struct sockaddr *)&me, &l);
	SHOW("its address is v4-mapped", "%d", IN6_IS_ADDR_V4MAPPED(&me.sin6_addr));
	CHECK("sendto a sockaddr_in", sendto(v, "x", 1, 0, (struct sockaddr *)&pa, sizeof pa) == 1);
	struct sockaddr un = {.sa_family = AF_UNSPEC};
	connect(v, &un, sizeof un);
	l = sizeof me;
	getsockname(v, (struct sockaddr *)&me, &l);
	SHOW("disconnected: port", "%d", ntohs(me.sin6_port));
	struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM}, *res;
	if (getaddrinfo(NULL, "8080", &hints, &res) == 0) {
		printf("AI_PASSIVE first family: %s\n", res->ai_family == AF_INET ? "AF_INET" : "AF_INET6");
		freeaddrinfo(res);
	}
	int z = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in port0 = lo4(0);
	connect(z, (struct sockaddr *)&port0, sizeof port0);
	EXPECT_ERR("peer port 0 is no peer", getpeername(z, (struct sockaddr *)&me, &l), ENOTCONN);
	close(z);

	/* A datagram socket shut for reading: a receive that would wait
	 * returns 0, one that would not is EAGAIN. */
	int d = socket(AF_INET, SOCK_DGRAM, 0);
	bind(d, (struct sockaddr *)&a, sizeof a);
	EXPECT_ERR("SHUT_RD of an unconnected UDP socket", shutdown(d, SHUT_RD), ENOTCONN);
	EXPECT_ERR("then MSG_DONTWAIT", recv(d, b, sizeof b, MSG_DONTWAIT), EAGAIN);
	SHOW("a blocking recv", "%zd", recv(d, b, sizeof b, 0));
	fcntl(d, F_SETFL, O_NONBLOCK);
	EXPECT_ERR("read when non-blocking", read(d, b, sizeof b), EAGAIN);
	close(d);
	close(v);
	close(r);
	close(peer);
	close(other);
}

static void background_connects(void)
{
	int l = listener(0);
	struct sockaddr_in a = lo4(port_of(l));
	int k[4], inprogress = 0;
	for (int i = 0; i < 4; i++) {
		k[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(k[i], (struct sockaddr *)&a, sizeof a) < 0 && errno == EINPROGRESS)
			inprogress++;
	}
	SHOW("connects to a full backlog in progress", "%d", inprogress);
	EXPECT_ERR("connecting again", connect(k[3], (struct sockaddr *)&a, sizeof a), EALREADY);
	int done = 0;
	for (int round = 0; round < 50 && done < 4; round++) {
		int s = accept(l, NULL, NULL);
		if (s >= 0)
			close(s);
		for (int i = 0; i < 4; i++) {
			struct pollfd p = {k[i], POLLOUT, 0};
			if (k[i] >= 0 && poll(&p, 1, 20) == 1 && (p.revents & POLLOUT)) {
				int e = -1;
				socklen_t el = sizeof e;
				getsockopt(k[i], SOL_SOCKET, SO_ERROR, &e, &el);
				if (e == 0) {
					done++;
					close(k[i]);
					k[i] = -1;
				}
			}
		}
	}
	SHOW("all connected once accepted", "%d", done);
	close(l);

	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	l = listener(5);
	a = lo4(port_of(l));
	EXPECT_ERR("a non-blocking connect", connect(c, (struct sockaddr *)&a, sizeof a), EINPROGRESS);
	CHECK("reports its success once", connect(c, (struct sockaddr *)&a, sizeof a) == 0);
	EXPECT_ERR("then", connect(c, (struct sockaddr *)&a, sizeof a), EISCONN);
	close(c);
	int port = port_of(l);
	close(l);
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	a = lo4(port);
	EXPECT_ERR("a non-blocking connect to a closed port", connect(c, (struct sockaddr *)&a, sizeof a),
		   EINPROGRESS);
	struct pollfd p = {c, POLLOUT, 0};
	poll(&p, 1, 1000);
	SHOW("poll says error", "%d", !!(p.revents & POLLERR));
	int e = 0;
	socklen_t el = sizeof e;
	getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &el);
	printf("SO_ERROR %s\n", ename(e));
	close(c);
}

static void options(void)
{
	int one = 1, idle = 77, five = 5, got = -1;
	socklen_t gl = sizeof got;
	int o = socket(AF_INET, SOCK_STREAM, 0);
	CHECK("IP_BIND_ADDRESS_NO_PORT", setsockopt(o, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &five, sizeof five) == 0);
	getsockopt(o, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &got, &gl);
	SHOW("reads back", "%d", got);
	EXPECT_ERR("TCP_FASTOPEN_CONNECT of 5", setsockopt(o, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &five, sizeof five), EINVAL);
	close(o);
	int l = listener(5);
	setsockopt(l, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(l, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	setsockopt(l, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	struct sockaddr_in a = lo4(port_of(l));
	int c = socket(AF_INET, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&a, sizeof a);
	int s = accept(l, NULL, NULL);
	int v[3];
	socklen_t vl = sizeof v[0];
	getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v[0], &vl);
	getsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v[1], &vl);
	getsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &v[2], &vl);
	printf("accepted inherits: nodelay %d keepalive %d keepidle %d\n", v[0], v[1], v[2]);
	struct linger lg = {5, 7};
	socklen_t ll = sizeof lg;
	setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	getsockopt(s, SOL_SOCKET, SO_LINGER, &lg, &ll);
	printf("SO_LINGER {5,7} reads {%d,%d}\n", lg.l_onoff, lg.l_linger);
	EXPECT_ERR("listen on an accepted socket", listen(s, 5), EINVAL);
	close(s);
	close(c);
	close(l);

	/* connect(AF_UNSPEC) resets a connection; the socket may connect again. */
	pair(&c, &s);
	struct sockaddr un = {.sa_family = AF_UNSPEC};
	CHECK("AF_UNSPEC on TCP", connect(c, &un, sizeof un) == 0);
	struct sockaddr_in pa;
	socklen_t pl = sizeof pa;
	EXPECT_ERR("no peer after it", getpeername(c, (struct sockaddr *)&pa, &pl), ENOTCONN);
	char b[4];
	EXPECT_ERR("the peer is reset", read(s, b, sizeof b), ECONNRESET);
	l = listener(5);
	a = lo4(port_of(l));
	CHECK("connect again", connect(c, (struct sockaddr *)&a, sizeof a) == 0);
	close(s);
	close(c);
	close(l);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	listener_shutdown();
	shut_rd_and_states();
	v6only();
	udp();
	background_connects();
	options();
	return compat_done();
}
