/* AF_INET and AF_INET6 on loopback: TCP (bind, ephemeral ports,
 * EADDRINUSE and SO_REUSEADDR, listen, connect and accept with their
 * names, a non-blocking connect's EINPROGRESS, ECONNREFUSED, data, EOF,
 * EPIPE, ECONNRESET, v4-mapped peers of a v6 listener), UDP (names of
 * senders, connected sockets, EDESTADDRREQ, a send nobody takes) and the
 * TCP and IP options programs read. Port numbers differ between runs:
 * only comparisons are printed.
 * compat-variant: network-host (also run with --network host). */
#include "common.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

static struct sockaddr_in v4(const char *ip, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

/* Whether a line of /proc/net/`table` has `needle`. */
static int proc_net_has(const char *table, const char *needle)
{
	char path[64], line[512];
	snprintf(path, sizeof path, "/proc/net/%s", table);
	FILE *f = fopen(path, "r");
	int found = 0;
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static int port_of(int s)
{
	struct sockaddr_in6 a;
	socklen_t l = sizeof a;
	if (getsockname(s, (struct sockaddr *)&a, &l))
		return -1;
	return ntohs(a.sin6_port); /* sin_port and sin6_port are at the same place */
}

/* A port nobody listens on: bound once, then let go. */
static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = v4("127.0.0.1", 0);
	bind(s, (struct sockaddr *)&a, sizeof a);
	int p = port_of(s);
	close(s);
	return p;
}

int main(void)
{
	char buf[256];
	EXPECT_ERR("tcp_wrong_protocol", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
	EXPECT_ERR("seqpacket_inet", socket(AF_INET, SOCK_SEQPACKET, 0), ESOCKTNOSUPPORT);
	int sv[2];
	EXPECT_ERR("socketpair_inet", socketpair(AF_INET, SOCK_STREAM, 0, sv), EOPNOTSUPP);

	/* TCP. */
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = v4("127.0.0.1", 0), b;
	socklen_t len = sizeof b;
	CHECK("tcp_unbound_name", getsockname(l, (struct sockaddr *)&b, &len) == 0 && len == sizeof b && b.sin_port == 0 && b.sin_addr.s_addr == 0);
	CHECK("tcp_bind", bind(l, (struct sockaddr *)&a, sizeof a) == 0);
	int port = port_of(l);
	CHECK("tcp_ephemeral", port >= 32768 && port <= 60999);
	EXPECT_ERR("tcp_bind_twice", bind(l, (struct sockaddr *)&a, sizeof a), EINVAL);
	struct sockaddr_in far = v4("10.9.8.7", 0);
	int o = socket(AF_INET, SOCK_STREAM, 0);
	EXPECT_ERR("tcp_bind_foreign", bind(o, (struct sockaddr *)&far, sizeof far), EADDRNOTAVAIL);
	EXPECT_ERR("tcp_bind_short", bind(o, (struct sockaddr *)&a, 8), EINVAL);
	struct sockaddr_in same = v4("127.0.0.1", port);
	EXPECT_ERR("tcp_port_in_use", bind(o, (struct sockaddr *)&same, sizeof same), EADDRINUSE);
	struct sockaddr_in anyp = v4("0.0.0.0", port);
	EXPECT_ERR("tcp_wildcard_overlaps", bind(o, (struct sockaddr *)&anyp, sizeof anyp), EADDRINUSE);
	CHECK("tcp_listen", listen(l, 8) == 0);
	char want[64];
	snprintf(want, sizeof want, "0100007F:%04X 00000000:0000 0A", port);
	CHECK("proc_net_tcp_listener", proc_net_has("tcp", want));
	int v = 1, got = 0;
	socklen_t il = sizeof got;
	CHECK("tcp_acceptconn", getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &got, &il) == 0 && got == 1);
	close(o);

	int c = socket(AF_INET, SOCK_STREAM, 0);
	EXPECT_ERR("tcp_send_unconnected", send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
	EXPECT_ERR("tcp_recv_unconnected", recv(c, buf, 1, MSG_DONTWAIT), ENOTCONN);
	/* (Linux marks the socket shut down all the same: a fresh one.) */
	int fresh = socket(AF_INET, SOCK_STREAM, 0);
	EXPECT_ERR("tcp_shutdown_unconnected", shutdown(fresh, SHUT_RDWR), ENOTCONN);
	SHOW("tcp_poll_after_failed_shutdown", "%#x", ({
		struct pollfd fp = {fresh, POLLIN | POLLOUT | POLLRDHUP, 0};
		poll(&fp, 1, 0);
		fp.revents;
	}));
	close(fresh);
	len = sizeof b;
	EXPECT_ERR("tcp_peername_unconnected", getpeername(c, (struct sockaddr *)&b, &len), ENOTCONN);
	CHECK("tcp_connect", connect(c, (struct sockaddr *)&same, sizeof same) == 0);
	EXPECT_ERR("tcp_connect_again", connect(c, (struct sockaddr *)&same, sizeof same), EISCONN);
	struct sockaddr_in peer, mine;
	len = sizeof peer;
	int s = accept(l, (struct sockaddr *)&peer, &len);
	CHECK("tcp_accept", s >= 0 && len == sizeof peer && peer.sin_family == AF_INET);
	socklen_t ml = sizeof mine;
	CHECK("tcp_peer_is_client", getsockname(c, (struct sockaddr *)&mine, &ml) == 0 && mine.sin_port == peer.sin_port && mine.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
	len = sizeof b;
	CHECK("tcp_server_side_name", getsockname(s, (struct sockaddr *)&b, &len) == 0 && ntohs(b.sin_port) == port);
	len = sizeof b;
	CHECK("tcp_client_peername", getpeername(c, (struct sockaddr *)&b, &len) == 0 && ntohs(b.sin_port) == port);
	CHECK("tcp_data", send(c, "hello", 5, 0) == 5 && recv(s, buf, sizeof buf, 0) == 5 && !memcmp(buf, "hello", 5));
	CHECK("tcp_back", write(s, "abc", 3) == 3 && read(c, buf, sizeof buf) == 3);
	il = sizeof got;
	CHECK("tcp_nodelay_default", getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &got, &il) == 0 && got == 0);
	CHECK("tcp_nodelay_set", setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) == 0 && getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &got, &il) == 0 && got == 1);
	il = sizeof got;
	CHECK("ip_ttl", getsockopt(c, IPPROTO_IP, IP_TTL, &got, &il) == 0 && got == 64);
	struct tcp_info ti;
	socklen_t tl = sizeof ti;
	CHECK("tcp_info_state", getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 && ti.tcpi_state == 1);
	/* TCP ignores files and credentials sent along. */
	CHECK("sendmsg_rights_on_tcp_ignored", ({
		char cb[CMSG_SPACE(sizeof(int))];
		struct iovec iov = {"x", 1};
		struct msghdr m = {0};
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = cb;
		m.msg_controllen = sizeof cb;
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &c, sizeof c);
		sendmsg(c, &m, 0);
	}) == 1 && recv(s, buf, sizeof buf, 0) == 1);
	CHECK("tcp_shut_wr", shutdown(c, SHUT_WR) == 0 && recv(s, buf, sizeof buf, 0) == 0);
	close(s);
	CHECK("tcp_eof", recv(c, buf, sizeof buf, 0) == 0);
	close(c);

	/* Closing with data unread resets the peer. */
	c = socket(AF_INET, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&same, sizeof same);
	s = accept(l, NULL, NULL);
	send(c, "unread", 6, 0);
	usleep(10000);
	close(s);
	usleep(10000);
	EXPECT_ERR("tcp_reset", recv(c, buf, sizeof buf, 0), ECONNRESET);
	close(c);

	/* Refused, and a non-blocking connect. */
	c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in nobody = v4("127.0.0.1", free_port());
	EXPECT_ERR("tcp_refused", connect(c, (struct sockaddr *)&nobody, sizeof nobody), ECONNREFUSED);
	close(c);
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	EXPECT_ERR("tcp_nonblocking_connect", connect(c, (struct sockaddr *)&same, sizeof same), EINPROGRESS);
	struct pollfd p = {c, POLLOUT, 0};
	CHECK("tcp_connect_completes", poll(&p, 1, 5000) == 1 && (p.revents & POLLOUT));
	il = sizeof got;
	CHECK("tcp_so_error_zero", getsockopt(c, SOL_SOCKET, SO_ERROR, &got, &il) == 0 && got == 0);
	s = accept(l, NULL, NULL);
	CHECK("tcp_nonblocking_accepted", s >= 0);
	close(s);
	close(c);

	close(l);
	/* SO_REUSEADDR: two sockets may bind one port, one may listen. */
	struct sockaddr_in shared = v4("127.0.0.1", free_port());
	int r1 = socket(AF_INET, SOCK_STREAM, 0), r2 = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(r1, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v);
	setsockopt(r2, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v);
	CHECK("reuseaddr_both_bind", bind(r1, (struct sockaddr *)&shared, sizeof shared) == 0 && bind(r2, (struct sockaddr *)&shared, sizeof shared) == 0);
	CHECK("reuseaddr_first_listens", listen(r1, 1) == 0);
	EXPECT_ERR("reuseaddr_second_listen", listen(r2, 1), EADDRINUSE);
	int r3 = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(r3, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v);
	EXPECT_ERR("reuseaddr_not_over_listener", bind(r3, (struct sockaddr *)&shared, sizeof shared), EADDRINUSE);
	close(r1);
	close(r2);
	close(r3);

	/* A v6 listener on the wildcard takes v4 and v6 clients. */
	int l6 = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	CHECK("tcp6_bind_listen", bind(l6, (struct sockaddr *)&a6, sizeof a6) == 0 && listen(l6, 4) == 0);
	int p6 = port_of(l6);
	snprintf(want, sizeof want, "00000000000000000000000000000000:%04X", p6);
	CHECK("proc_net_tcp6_listener", proc_net_has("tcp6", want));
	struct sockaddr_in to4 = v4("127.0.0.1", p6);
	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK("tcp6_v4_client", connect(c, (struct sockaddr *)&to4, sizeof to4) == 0);
	struct sockaddr_in6 pp;
	len = sizeof pp;
	s = accept(l6, (struct sockaddr *)&pp, &len);
	CHECK("tcp6_v4_mapped_peer", s >= 0 && len == sizeof pp && IN6_IS_ADDR_V4MAPPED(&pp.sin6_addr));
	close(s);
	close(c);
	struct sockaddr_in6 to6 = {.sin6_family = AF_INET6, .sin6_port = htons((unsigned short)p6), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	c = socket(AF_INET6, SOCK_STREAM, 0);
	CHECK("tcp6_v6_client", connect(c, (struct sockaddr *)&to6, sizeof to6) == 0);
	len = sizeof pp;
	s = accept(l6, (struct sockaddr *)&pp, &len);
	CHECK("tcp6_v6_peer", s >= 0 && IN6_IS_ADDR_LOOPBACK(&pp.sin6_addr));
	close(s);
	close(c);
	EXPECT_ERR("tcp4_to_v6_address", connect(socket(AF_INET, SOCK_STREAM, 0), (struct sockaddr *)&to6, sizeof to6), EAFNOSUPPORT);
	close(l6);

	/* UDP. */
	int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in ua = v4("127.0.0.1", 0);
	bind(u1, (struct sockaddr *)&ua, sizeof ua);
	struct sockaddr_in u1a = v4("127.0.0.1", port_of(u1));
	EXPECT_ERR("udp_no_destination", send(u2, "x", 1, 0), EDESTADDRREQ);
	CHECK("udp_sendto", sendto(u2, "ping", 4, 0, (struct sockaddr *)&u1a, sizeof u1a) == 4);
	CHECK("udp_autobound", port_of(u2) >= 32768);
	snprintf(want, sizeof want, "0100007F:%04X 00000000:0000 07", ntohs(u1a.sin_port));
	CHECK("proc_net_udp_bound", proc_net_has("udp", want));
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	CHECK("udp_recvfrom", recvfrom(u1, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl) == 4 && fl == sizeof from && ntohs(from.sin_port) == port_of(u2) && from.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
	CHECK("udp_truncates", sendto(u2, "abcdef", 6, 0, (struct sockaddr *)&u1a, sizeof u1a) == 6 && recv(u1, buf, 2, MSG_TRUNC) == 6);
	struct sockaddr_in nob = v4("127.0.0.1", free_port());
	CHECK("udp_nobody_unconnected", sendto(u2, "x", 1, 0, (struct sockaddr *)&nob, sizeof nob) == 1);
	CHECK("udp_connect", connect(u2, (struct sockaddr *)&u1a, sizeof u1a) == 0 && send(u2, "c", 1, 0) == 1 && recv(u1, buf, 1, 0) == 1);
	len = sizeof b;
	CHECK("udp_peername", getpeername(u2, (struct sockaddr *)&b, &len) == 0 && b.sin_port == u1a.sin_port);
	close(u1);
	CHECK("udp_send_to_closed_port", send(u2, "y", 1, 0) == 1);
	usleep(10000);
	EXPECT_ERR("udp_refused_after", recv(u2, buf, 1, MSG_DONTWAIT), ECONNREFUSED);
	EXPECT_ERR("udp_listen", listen(u2, 1), EOPNOTSUPP);
	close(u2);

	int on = 0;
	(void)on;
	return compat_done();
}
