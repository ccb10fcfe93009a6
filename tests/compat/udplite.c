/* UDP-Lite (IPPROTO_UDPLITE) datagrams over loopback: a port space of
 * its own beside UDP's, SO_PROTOCOL, and the checksum coverage options
 * with Linux's clamping. */
#include "common.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define SOL_UDPLITE_ 136
#define CSCOV_SEND 10
#define CSCOV_RECV 11

int main(void)
{
	int a = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE);
	int b = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK("sockets", a >= 0 && b >= 0 && u >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	CHECK("bind", bind(a, (struct sockaddr *)&sa, sizeof sa) == 0 &&
			      getsockname(a, (struct sockaddr *)&sa, &len) == 0);
	/* The same port is free for UDP. */
	CHECK("udp_same_port", bind(u, (struct sockaddr *)&sa, sizeof sa) == 0);
	CHECK("send", sendto(b, "lite", 4, 0, (struct sockaddr *)&sa, sizeof sa) == 4);
	char buf[8] = {0};
	CHECK("recv", recv(a, buf, sizeof buf, MSG_DONTWAIT) == 4 && !memcmp(buf, "lite", 4));
	EXPECT_ERR("udp_got_nothing", recv(u, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	int v;
	len = sizeof v;
	CHECK("protocol", getsockopt(a, SOL_SOCKET, SO_PROTOCOL, &v, &len) == 0 && v == IPPROTO_UDPLITE);
	CHECK("protocol_udp", getsockopt(u, SOL_SOCKET, SO_PROTOCOL, &v, &len) == 0 && v == IPPROTO_UDP);
	int vals[] = {0, 5, 20, 70000};
	for (int i = 0; i < 4; i++) {
		CHECK("cscov_set", setsockopt(a, SOL_UDPLITE_, CSCOV_SEND, &vals[i], sizeof vals[i]) == 0);
		len = sizeof v;
		CHECK("cscov_get", getsockopt(a, SOL_UDPLITE_, CSCOV_SEND, &v, &len) == 0);
		printf("cscov %d -> %d\n", vals[i], v);
	}
	CHECK("recv_cscov", setsockopt(a, SOL_UDPLITE_, CSCOV_RECV, &vals[2], sizeof vals[2]) == 0);
	EXPECT_ERR("udp_cscov", setsockopt(u, SOL_UDPLITE_, CSCOV_SEND, &vals[2], sizeof vals[2]), ENOPROTOOPT);
	EXPECT_ERR("stream_udplite", socket(AF_INET, SOCK_STREAM, IPPROTO_UDPLITE), EPROTONOSUPPORT);
	return compat_done();
}
