/* Raw ICMP and ICMPv6 sockets (root, as ping opens them): an echo
 * request to loopback is answered; every raw socket sees the request and
 * the reply unless its filter drops them; IPv4 raw sockets read the IP
 * header, ICMPv6 ones do not. */
#include "common.h"
#include <arpa/inet.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

static unsigned short csum(const unsigned char *p, int n)
{
	unsigned long s = 0;
	for (int i = 0; i + 1 < n; i += 2)
		s += (p[i] << 8) | p[i + 1];
	if (n & 1)
		s += p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (unsigned short)~s;
}

/* How many messages wait on `fd` within 300 ms, and the type of each
 * (at `off` into the message), as a string. */
static void drain(int fd, int off, char *types, size_t cap)
{
	types[0] = 0;
	unsigned char b[256];
	while (1) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 300) <= 0)
			break;
		ssize_t n = recv(fd, b, sizeof b, 0);
		if (n <= off)
			break;
		char t[16];
		snprintf(t, sizeof t, "%s%d", types[0] ? "," : "", b[off]);
		strncat(types, t, cap - strlen(types) - 1);
	}
}

int main(void)
{
	int a = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	int f = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	CHECK("raw4", a >= 0 && f >= 0);
	int one = 0;
	socklen_t len = sizeof one;
	CHECK("type", getsockopt(a, SOL_SOCKET, SO_TYPE, &one, &len) == 0 && one == SOCK_RAW);
	CHECK("protocol", getsockopt(a, SOL_SOCKET, SO_PROTOCOL, &one, &len) == 0 && one == IPPROTO_ICMP);
	struct icmp_filter filt = {~(1u << ICMP_ECHOREPLY)};
	CHECK("filter_set", setsockopt(f, SOL_RAW, ICMP_FILTER, &filt, sizeof filt) == 0);
	struct icmp_filter back;
	len = sizeof back;
	CHECK("filter_get", getsockopt(f, SOL_RAW, ICMP_FILTER, &back, &len) == 0 && back.data == filt.data);

	unsigned char req[8 + 24];
	memset(req, 0, sizeof req);
	req[0] = ICMP_ECHO;
	req[4] = 0x12, req[5] = 0x34; /* id */
	req[6] = 0, req[7] = 9;       /* seq */
	for (int i = 8; i < (int)sizeof req; i++)
		req[i] = (unsigned char)i;
	unsigned short c = csum(req, sizeof req);
	req[2] = c >> 8, req[3] = c & 0xff;
	struct sockaddr_in lo = {.sin_family = AF_INET};
	lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK("send", sendto(a, req, sizeof req, 0, (struct sockaddr *)&lo, sizeof lo) == (ssize_t)sizeof req);

	/* The filtered socket reads the reply first: check it whole. */
	unsigned char b[256];
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	struct pollfd p = {f, POLLIN, 0};
	CHECK("reply_ready", poll(&p, 1, 1000) == 1);
	ssize_t n = recvfrom(f, b, sizeof b, 0, (struct sockaddr *)&from, &fl);
	SHOW("reply_len", "%zd", n);
	CHECK("ip_header", n >= 20 && b[0] == 0x45 && b[9] == IPPROTO_ICMP && b[8] == 64);
	CHECK("ip_addrs", n >= 20 && !memcmp(b + 12, &lo.sin_addr, 4) && !memcmp(b + 16, &lo.sin_addr, 4));
	CHECK("from", from.sin_family == AF_INET && from.sin_addr.s_addr == lo.sin_addr.s_addr);
	CHECK("reply_type", n >= 28 && b[20] == ICMP_ECHOREPLY && b[21] == 0);
	CHECK("reply_body", n == 20 + (ssize_t)sizeof req && !memcmp(b + 24, req + 4, sizeof req - 4));
	CHECK("reply_csum", n >= 28 && csum(b + 20, (int)n - 20) == 0);
	char types[64];
	drain(f, 20, types, sizeof types);
	SHOW("filtered_rest", "[%s]", types);
	drain(a, 20, types, sizeof types);
	SHOW("unfiltered", "[%s]", types);

	/* Nothing to send is EFAULT; a message shorter than a header goes
	 * out and comes back to nobody. */
	EXPECT_ERR("send_empty", sendto(a, req, 0, 0, (struct sockaddr *)&lo, sizeof lo), EFAULT);
	CHECK("send_short", sendto(a, req, 4, 0, (struct sockaddr *)&lo, sizeof lo) == 4);
	drain(a, 20, types, sizeof types);
	SHOW("after_short", "[%s]", types);
	EXPECT_ERR("no_address", send(a, req, sizeof req, 0), EDESTADDRREQ);

	/* ICMPv6 to ::1: no IP header; the kernel fills the checksum. */
	int v6 = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
	CHECK("raw6", v6 >= 0);
	struct icmp6_filter f6;
	memset(&f6, 0xff, sizeof f6);
	f6.data[ICMPV6_ECHO_REPLY >> 5] &= ~(1u << (ICMPV6_ECHO_REPLY & 31));
	CHECK("filter6", setsockopt(v6, IPPROTO_ICMPV6, ICMPV6_FILTER, &f6, sizeof f6) == 0);
	int off = 2;
	CHECK("checksum_offset", setsockopt(v6, SOL_RAW, IPV6_CHECKSUM, &off, sizeof off) == 0);
	off = 3;
	EXPECT_ERR("checksum_odd", setsockopt(v6, SOL_RAW, IPV6_CHECKSUM, &off, sizeof off), EINVAL);
	unsigned char r6[8 + 16] = {ICMPV6_ECHO_REQUEST, 0, 0, 0, 0x56, 0x78, 0, 3};
	struct sockaddr_in6 lo6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	CHECK("send6", sendto(v6, r6, sizeof r6, 0, (struct sockaddr *)&lo6, sizeof lo6) == (ssize_t)sizeof r6);
	p.fd = v6;
	CHECK("reply6_ready", poll(&p, 1, 1000) == 1);
	n = recv(v6, b, sizeof b, 0);
	SHOW("reply6_len", "%zd", n);
	CHECK("reply6", n == (ssize_t)sizeof r6 && b[0] == ICMPV6_ECHO_REPLY && !memcmp(b + 4, r6 + 4, sizeof r6 - 4));
	drain(v6, 0, types, sizeof types);
	SHOW("reply6_rest", "[%s]", types);
	return compat_done();
}
