/* A connected UDP socket over loopback with the plain file calls: write,
 * writev and read go to and come from its peer address; an unconnected
 * one has no destination (EDESTADDRREQ); a peer nobody listens on is
 * refused on a later call (ECONNREFUSED); connect with AF_UNSPEC forgets
 * the peer.
 * compat-variant: network-host (also run with --network host). */
#include "common.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

int main(void)
{
	int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof sa;
	char buf[16] = {0};
	CHECK("bind", bind(a, (void *)&sa, sizeof sa) == 0 && getsockname(a, (void *)&sa, &l) == 0);
	EXPECT_ERR("write_unconnected", write(b, "x", 1), EDESTADDRREQ);
	CHECK("connect", connect(b, (void *)&sa, sizeof sa) == 0);
	CHECK("write", write(b, "hello", 5) == 5);
	CHECK("read", read(a, buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0);
	struct iovec iov[2] = {{"ab", 2}, {"cd", 2}};
	CHECK("writev", writev(b, iov, 2) == 4);
	memset(buf, 0, sizeof buf);
	CHECK("recv_writev", recv(a, buf, sizeof buf, 0) == 4 && strcmp(buf, "abcd") == 0);
	/* The reply comes back to the connected socket, read with read(). */
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	CHECK("getsockname_b", getsockname(b, (void *)&from, &fl) == 0);
	CHECK("reply", sendto(a, "back", 4, 0, (void *)&from, fl) == 4);
	memset(buf, 0, sizeof buf);
	CHECK("read_reply", read(b, buf, sizeof buf) == 4 && strcmp(buf, "back") == 0);
	/* A port nobody listens on: the next call hears of it. */
	int c = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in dead = sa;
	close(a);
	CHECK("connect_dead", connect(c, (void *)&dead, sizeof dead) == 0);
	CHECK("write_dead", write(c, "x", 1) == 1);
	EXPECT_ERR("read_refused", read(c, buf, sizeof buf), ECONNREFUSED);
	struct sockaddr un = {.sa_family = AF_UNSPEC};
	CHECK("disconnect", connect(c, &un, sizeof un) == 0);
	EXPECT_ERR("write_disconnected", write(c, "x", 1), EDESTADDRREQ);
	return compat_failures > 100 ? 100 : compat_failures;
}
