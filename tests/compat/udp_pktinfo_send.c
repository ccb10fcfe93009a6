/* IP_PKTINFO and IPV6_PKTINFO on a send (RFC 3542): the datagram leaves
 * from the source address asked for, and the receiver sees it; a source
 * the system does not have is EINVAL; an unspecified one changes
 * nothing; a short control message is EINVAL. A v4 source not the
 * system's is ENETUNREACH (no route from it), a v6 one EINVAL. */
#include "common.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static int send_from(int s, const void *to, socklen_t tolen, int level, int type,
		     const void *info, size_t infolen)
{
	char cbuf[CMSG_SPACE(sizeof(struct in6_pktinfo))] = {0};
	struct iovec iov = {"x", 1};
	struct msghdr m = {.msg_name = (void *)to, .msg_namelen = tolen, .msg_iov = &iov, .msg_iovlen = 1,
			   .msg_control = cbuf, .msg_controllen = CMSG_SPACE(infolen)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(infolen);
	memcpy(CMSG_DATA(c), info, infolen);
	return (int)sendmsg(s, &m, 0);
}

int main(void)
{
	int r = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof to;
	CHECK("bind", bind(r, (void *)&to, sizeof to) == 0 && getsockname(r, (void *)&to, &l) == 0);
	struct in_pktinfo pi = {0};
	inet_pton(AF_INET, "127.0.0.7", &pi.ipi_spec_dst);
	CHECK("send_v4_from", send_from(s, &to, sizeof to, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi) == 1);
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	char b;
	char ip[32] = "";
	CHECK("recv_v4", recvfrom(r, &b, 1, 0, (void *)&from, &fl) == 1);
	inet_ntop(AF_INET, &from.sin_addr, ip, sizeof ip);
	printf("v4 source %s\n", ip);
	struct in_pktinfo zero = {0};
	CHECK("send_v4_unspecified", send_from(s, &to, sizeof to, IPPROTO_IP, IP_PKTINFO, &zero, sizeof zero) == 1);
	CHECK("recv_v4_default", recvfrom(r, &b, 1, 0, (void *)&from, &fl) == 1);
	inet_ntop(AF_INET, &from.sin_addr, ip, sizeof ip);
	printf("v4 default source %s\n", ip);
	struct in_pktinfo far = {0};
	inet_pton(AF_INET, "192.0.2.1", &far.ipi_spec_dst);
	EXPECT_ERR("send_v4_foreign_source", send_from(s, &to, sizeof to, IPPROTO_IP, IP_PKTINFO, &far, sizeof far), ENETUNREACH);
	EXPECT_ERR("send_v4_short", send_from(s, &to, sizeof to, IPPROTO_IP, IP_PKTINFO, &pi, 4), EINVAL);

	int r6 = socket(AF_INET6, SOCK_DGRAM, 0), s6 = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 to6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	l = sizeof to6;
	CHECK("bind6", bind(r6, (void *)&to6, sizeof to6) == 0 && getsockname(r6, (void *)&to6, &l) == 0);
	struct in6_pktinfo pi6 = {.ipi6_addr = IN6ADDR_LOOPBACK_INIT};
	CHECK("send_v6_from", send_from(s6, &to6, sizeof to6, IPPROTO_IPV6, IPV6_PKTINFO, &pi6, sizeof pi6) == 1);
	struct sockaddr_in6 from6;
	socklen_t fl6 = sizeof from6;
	CHECK("recv_v6", recvfrom(r6, &b, 1, 0, (void *)&from6, &fl6) == 1);
	inet_ntop(AF_INET6, &from6.sin6_addr, ip, sizeof ip);
	printf("v6 source %s\n", ip);
	struct in6_pktinfo far6 = {0};
	inet_pton(AF_INET6, "2001:db8::1", &far6.ipi6_addr);
	EXPECT_ERR("send_v6_foreign_source", send_from(s6, &to6, sizeof to6, IPPROTO_IPV6, IPV6_PKTINFO, &far6, sizeof far6), EINVAL);
	return compat_failures > 100 ? 100 : compat_failures;
}
