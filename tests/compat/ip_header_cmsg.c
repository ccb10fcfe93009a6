/* A datagram's header fields as control messages: IP_RECVTTL and
 * IP_RECVTOS (IP_TOS's value is one byte), IPV6_RECVHOPLIMIT and
 * IPV6_RECVTCLASS; the values come from the sender's options or from its
 * IP_TTL, IP_TOS, IPV6_HOPLIMIT and IPV6_TCLASS control messages, which
 * are range-checked; the flags read back as 0 or 1.
 * compat-variant: network-host (also run with --network host). */
#include "common.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static void show_cmsgs(const char *what, struct msghdr *m)
{
	printf("%s:", what);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		int v = 0;
		size_t n = c->cmsg_len - CMSG_LEN(0);
		memcpy(&v, CMSG_DATA(c), n < sizeof v ? n : sizeof v);
		printf(" [%d/%d len %zu = %d]", c->cmsg_level, c->cmsg_type, (size_t)c->cmsg_len, v);
	}
	printf("\n");
}

/* Sends "x" from s to the address with one optional control message. */
static ssize_t send_with(int s, void *to, socklen_t tl, int level, int type, const void *val, size_t vl)
{
	char cbuf[64] = {0};
	struct iovec iov = {"x", 1};
	struct msghdr m = {.msg_name = to, .msg_namelen = tl, .msg_iov = &iov, .msg_iovlen = 1};
	if (vl) {
		m.msg_control = cbuf;
		m.msg_controllen = CMSG_SPACE(vl);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = level;
		c->cmsg_type = type;
		c->cmsg_len = CMSG_LEN(vl);
		memcpy(CMSG_DATA(c), val, vl);
	}
	return sendmsg(s, &m, 0);
}

static void receive(int r, const char *what)
{
	char buf[8], cbuf[256];
	struct iovec iov = {buf, sizeof buf};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	if (recvmsg(r, &m, MSG_DONTWAIT) < 0) {
		printf("%s: recvmsg %s\n", what, ename(errno));
		return;
	}
	show_cmsgs(what, &m);
}

static void v4(void)
{
	int r = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0), one = 5, v;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof a;
	bind(r, (struct sockaddr *)&a, sizeof a);
	getsockname(r, (struct sockaddr *)&a, &l);
	CHECK("IP_RECVTTL", setsockopt(r, IPPROTO_IP, IP_RECVTTL, &one, sizeof one) == 0);
	CHECK("IP_RECVTOS", setsockopt(r, IPPROTO_IP, IP_RECVTOS, &one, sizeof one) == 0);
	l = sizeof v;
	getsockopt(r, IPPROTO_IP, IP_RECVTTL, &v, &l);
	SHOW("IP_RECVTTL reads", "%d", v);
	send_with(s, &a, sizeof a, 0, 0, NULL, 0);
	receive(r, "defaults");
	int ttl = 9, tos = 0x28;
	setsockopt(s, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
	setsockopt(s, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
	send_with(s, &a, sizeof a, 0, 0, NULL, 0);
	receive(r, "the sender's options");
	ttl = 33;
	send_with(s, &a, sizeof a, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
	receive(r, "an IP_TTL message");
	unsigned char b = 0x10;
	send_with(s, &a, sizeof a, IPPROTO_IP, IP_TOS, &b, 1);
	receive(r, "a one-byte IP_TOS message");
	ttl = 0;
	EXPECT_ERR("IP_TTL 0", send_with(s, &a, sizeof a, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl), EINVAL);
	ttl = 256;
	EXPECT_ERR("IP_TTL 256", send_with(s, &a, sizeof a, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl), EINVAL);
	EXPECT_ERR("a short IP_TTL", send_with(s, &a, sizeof a, IPPROTO_IP, IP_TTL, &b, 1), EINVAL);
	close(r);
	close(s);
}

static void v6(void)
{
	int r = socket(AF_INET6, SOCK_DGRAM, 0), s = socket(AF_INET6, SOCK_DGRAM, 0), one = 7, v;
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	socklen_t l = sizeof a;
	bind(r, (struct sockaddr *)&a, sizeof a);
	getsockname(r, (struct sockaddr *)&a, &l);
	CHECK("IPV6_RECVHOPLIMIT", setsockopt(r, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one) == 0);
	CHECK("IPV6_RECVTCLASS", setsockopt(r, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof one) == 0);
	CHECK("IPV6_RECVPKTINFO", setsockopt(r, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) == 0);
	l = sizeof v;
	getsockopt(r, IPPROTO_IPV6, IPV6_RECVTCLASS, &v, &l);
	SHOW("IPV6_RECVTCLASS reads", "%d", v);
	send_with(s, &a, sizeof a, 0, 0, NULL, 0);
	receive(r, "v6 defaults");
	int hops = 3, cls = 0x40;
	setsockopt(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops);
	setsockopt(s, IPPROTO_IPV6, IPV6_TCLASS, &cls, sizeof cls);
	send_with(s, &a, sizeof a, 0, 0, NULL, 0);
	receive(r, "v6 sender's options");
	hops = 42;
	send_with(s, &a, sizeof a, IPPROTO_IPV6, IPV6_HOPLIMIT, &hops, sizeof hops);
	receive(r, "an IPV6_HOPLIMIT message");
	hops = -1;
	send_with(s, &a, sizeof a, IPPROTO_IPV6, IPV6_HOPLIMIT, &hops, sizeof hops);
	receive(r, "IPV6_HOPLIMIT -1");
	cls = 300;
	EXPECT_ERR("IPV6_TCLASS 300", send_with(s, &a, sizeof a, IPPROTO_IPV6, IPV6_TCLASS, &cls, sizeof cls), EINVAL);
	close(r);
	close(s);
}

/* glibc's resolver sets IP_RECVERR on its UDP sockets and gives up on
 * an error. */
static void recverr(void)
{
	int one = 1, v = 0;
	socklen_t l = sizeof v;
	int u = socket(AF_INET, SOCK_DGRAM, 0), u6 = socket(AF_INET6, SOCK_DGRAM, 0);
	CHECK("IP_RECVERR", setsockopt(u, IPPROTO_IP, IP_RECVERR, &one, sizeof one) == 0);
	CHECK("reads back", getsockopt(u, IPPROTO_IP, IP_RECVERR, &v, &l) == 0 && v == 1);
	CHECK("IPV6_RECVERR", setsockopt(u6, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one) == 0);
	close(u);
	close(u6);
}

int main(void)
{
	recverr();
	v4();
	v6();
	return compat_done();
}
