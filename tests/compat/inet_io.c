/* TCP and UDP I/O paths over loopback, beside inet_loopback's names and
 * states: a blocking connect's refusal, SO_RCVTIMEO/SO_SNDTIMEO expiry
 * (EAGAIN), MSG_PEEK/MSG_WAITALL/MSG_DONTWAIT/MSG_TRUNC, readv/writev,
 * sendmmsg/recvmmsg, IP_PKTINFO, IPV6_RECVPKTINFO and SO_TIMESTAMP control
 * messages,
 * FIONREAD and SIOCOUTQ, epoll (edge-triggered too) on sockets, sendfile
 * into and splice out of a TCP socket, SO_LINGER {1,0} resets, a
 * signal-interrupted blocking receive (EINTR), and the errors of bad
 * addresses and buffers (EFAULT, EINVAL, EAFNOSUPPORT, EISCONN, ENOTCONN).
 * compat-variant: network-host (also run with --network host). */
#include "common.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

static struct sockaddr_in v4(const char *ip, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static int port_of(int s)
{
	struct sockaddr_in6 a;
	socklen_t l = sizeof a;
	if (getsockname(s, (struct sockaddr *)&a, &l))
		return -1;
	return ntohs(a.sin6_port);
}

/* A connected pair over 127.0.0.1: *c the client, *a the accepted one. */
static void tcp_pair(int *c, int *a)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in at = v4("127.0.0.1", 0);
	bind(l, (struct sockaddr *)&at, sizeof at);
	listen(l, 4);
	at.sin_port = htons((unsigned short)port_of(l));
	*c = socket(AF_INET, SOCK_STREAM, 0);
	connect(*c, (struct sockaddr *)&at, sizeof at);
	*a = accept(l, NULL, NULL);
	close(l);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void on_alarm(int sig)
{
	(void)sig;
}

int main(void)
{
	char buf[4096];
	int c, a;

	/* Address errors. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in6 six = {.sin6_family = AF_INET6};
	EXPECT_ERR("connect_v6_addr_on_v4", connect(s, (struct sockaddr *)&six, sizeof six), EAFNOSUPPORT);
	struct sockaddr_in lo = v4("127.0.0.1", 1);
	EXPECT_ERR("connect_short_addr", connect(s, (struct sockaddr *)&lo, 4), EINVAL);
	EXPECT_ERR("connect_bad_addr", connect(s, BADPTR, sizeof lo), EFAULT);
	EXPECT_ERR("bind_bad_addr", bind(s, BADPTR, sizeof lo), EFAULT);
	EXPECT_ERR("connect_huge_len", connect(s, (struct sockaddr *)&lo, 4096), EINVAL);
	int v = 1;
	EXPECT_ERR("setsockopt_bad_value", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, BADPTR, sizeof v), EFAULT);
	EXPECT_ERR("setsockopt_short_value", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, 2), EINVAL);
	socklen_t vl = sizeof v;
	EXPECT_ERR("getsockopt_bad_len", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, BADPTR), EFAULT);
	EXPECT_ERR("getsockopt_unknown_level", getsockopt(s, 9999, 1, &v, &vl), EOPNOTSUPP);
	close(s);

	/* A blocking connect to a port nobody listens on. */
	s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in at = v4("127.0.0.1", 0);
	bind(s, (struct sockaddr *)&at, sizeof at);
	struct sockaddr_in gone = v4("127.0.0.1", port_of(s));
	close(s);
	s = socket(AF_INET, SOCK_STREAM, 0);
	EXPECT_ERR("blocking_connect_refused", connect(s, (struct sockaddr *)&gone, sizeof gone), ECONNREFUSED);
	EXPECT_ERR("after_refusal_not_connected", send(s, "x", 1, MSG_NOSIGNAL), EPIPE);
	close(s);

	/* Timeouts. */
	tcp_pair(&c, &a);
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
	CHECK("rcvtimeo_set", setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
	struct timeval back;
	socklen_t bl = sizeof back;
	CHECK("rcvtimeo_get", getsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &back, &bl) == 0 && back.tv_usec == 200000 && back.tv_sec == 0);
	double t0 = now();
	EXPECT_ERR("rcvtimeo_expires", recv(a, buf, 1, 0), EAGAIN);
	double took = now() - t0;
	CHECK("rcvtimeo_waited", took >= 0.19 && took < 2.0);
	struct timeval bad = {.tv_sec = 0, .tv_usec = 2000000};
	EXPECT_ERR("rcvtimeo_bad_usec", setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &bad, sizeof bad), EDOM);

	/* A blocking receive interrupted by a signal without SA_RESTART. */
	struct sigaction sa = {.sa_handler = on_alarm};
	sigaction(SIGALRM, &sa, NULL);
	struct timeval forever = {0, 0};
	setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &forever, sizeof forever);
	struct itimerval it = {.it_value = {.tv_sec = 0, .tv_usec = 100000}};
	setitimer(ITIMER_REAL, &it, NULL);
	EXPECT_ERR("recv_interrupted", recv(a, buf, 1, 0), EINTR);

	/* Peek, dontwait, waitall. */
	EXPECT_ERR("recv_dontwait_empty", recv(a, buf, 1, MSG_DONTWAIT), EAGAIN);
	CHECK("send_abc", send(c, "abcdef", 6, 0) == 6);
	struct pollfd pf = {.fd = a, .events = POLLIN};
	CHECK("poll_readable", poll(&pf, 1, 5000) == 1 && (pf.revents & POLLIN));
	int n = 0;
	CHECK("fionread", ioctl(a, FIONREAD, &n) == 0 && n == 6);
	CHECK("peek", recv(a, buf, 3, MSG_PEEK) == 3 && memcmp(buf, "abc", 3) == 0);
	CHECK("peek_leaves_data", recv(a, buf, 3, 0) == 3 && memcmp(buf, "abc", 3) == 0);
	if (fork() == 0) {
		usleep(100000);
		send(c, "ghi", 3, 0);
		_exit(0);
	}
	CHECK("waitall_gathers", recv(a, buf, 6, MSG_WAITALL) == 6 && memcmp(buf, "defghi", 6) == 0);
	wait(NULL);

	/* readv and writev. */
	struct iovec out[2] = {{"12", 2}, {"345", 3}};
	CHECK("writev", writev(c, out, 2) == 5);
	char x[2], y[8];
	struct iovec in[2] = {{x, 2}, {y, 8}};
	usleep(50000);
	CHECK("readv", readv(a, in, 2) == 5 && memcmp(x, "12", 2) == 0 && memcmp(y, "345", 3) == 0);
	EXPECT_ERR("read_bad_buffer", ({ send(c, "z", 1, 0); usleep(50000); read(a, BADPTR, 1); }), EFAULT);
	CHECK("data_kept_after_efault", recv(a, buf, 1, 0) == 1 && buf[0] == 'z');

	/* SIOCOUTQ drains to 0 once the peer has the bytes. */
	send(c, "q", 1, 0);
	usleep(50000);
	CHECK("siocoutq", ioctl(c, TIOCOUTQ, &n) == 0 && n == 0);
	recv(a, buf, 1, 0);

	/* epoll, level- and edge-triggered. */
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = 7}, got;
	CHECK("epoll_add", epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev) == 0);
	CHECK("epoll_nothing", epoll_wait(ep, &got, 1, 50) == 0);
	send(c, "e1", 2, 0);
	CHECK("epoll_et_first", epoll_wait(ep, &got, 1, 5000) == 1 && got.data.u32 == 7);
	CHECK("epoll_et_not_again", epoll_wait(ep, &got, 1, 50) == 0);
	send(c, "e2", 2, 0);
	CHECK("epoll_et_new_data", epoll_wait(ep, &got, 1, 5000) == 1);
	recv(a, buf, sizeof buf, 0);
	close(ep);

	/* sendfile from a file into the socket; splice out of it. */
	FILE *f = tmpfile();
	fputs("from a file\n", f);
	fflush(f);
	off_t off = 0;
	CHECK("sendfile_to_tcp", sendfile(c, fileno(f), &off, 12) == 12 && off == 12);
	fclose(f);
	int p[2];
	pipe(p);
	usleep(50000);
	CHECK("splice_from_tcp", splice(a, NULL, p[1], NULL, 64, 0) == 12);
	CHECK("splice_data", read(p[0], buf, 64) == 12 && memcmp(buf, "from a file\n", 12) == 0);
	close(p[0]);
	close(p[1]);

	/* SO_LINGER {1, 0}: the close is a reset. */
	struct linger lg = {1, 0};
	CHECK("linger_set", setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
	close(c);
	pf.events = POLLIN;
	poll(&pf, 1, 5000);
	EXPECT_ERR("linger_reset", recv(a, buf, 1, 0), ECONNRESET);
	CHECK("after_reset_eof", recv(a, buf, 1, 0) == 0);
	close(a);

	/* UDP: truncation, mmsg, pktinfo. */
	int u = socket(AF_INET, SOCK_DGRAM, 0), w = socket(AF_INET, SOCK_DGRAM, 0);
	at = v4("127.0.0.1", 0);
	bind(u, (struct sockaddr *)&at, sizeof at);
	at.sin_port = htons((unsigned short)port_of(u));
	CHECK("udp_connect", connect(w, (struct sockaddr *)&at, sizeof at) == 0);
	EXPECT_ERR("udp_connect_bad_family", connect(w, (struct sockaddr *)&six, sizeof six), EAFNOSUPPORT);
	CHECK("udp_send", send(w, "0123456789", 10, 0) == 10);
	CHECK("udp_trunc_len", recv(u, buf, 4, MSG_TRUNC) == 10);
	struct mmsghdr mm[3];
	struct iovec mv[3];
	char mb[3][16];
	memset(mm, 0, sizeof mm);
	for (int i = 0; i < 3; i++) {
		snprintf(mb[i], sizeof mb[i], "msg%d", i);
		mv[i].iov_base = mb[i];
		mv[i].iov_len = 4;
		mm[i].msg_hdr.msg_iov = &mv[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	CHECK("sendmmsg", sendmmsg(w, mm, 3, 0) == 3 && mm[2].msg_len == 4);
	memset(mb, 0, sizeof mb);
	for (int i = 0; i < 3; i++)
		mv[i].iov_len = 16;
	usleep(50000);
	CHECK("recvmmsg", recvmmsg(u, mm, 3, MSG_DONTWAIT, NULL) == 3 && strcmp(mb[1], "msg1") == 0 && mm[2].msg_len == 4);
	EXPECT_ERR("recvmmsg_empty", recvmmsg(u, mm, 3, MSG_DONTWAIT, NULL), EAGAIN);

	CHECK("ip_pktinfo_on", setsockopt(u, IPPROTO_IP, IP_PKTINFO, &(int){1}, sizeof(int)) == 0);
	send(w, "pk", 2, 0);
	char cbuf[256];
	struct iovec iv = {buf, sizeof buf};
	struct msghdr mh = {.msg_iov = &iv, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	CHECK("pktinfo_recv", recvmsg(u, &mh, 0) == 2);
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	int have = 0;
	for (; cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(cm), sizeof pi);
			have = pi.ipi_addr.s_addr == htonl(INADDR_LOOPBACK);
		}
	CHECK("pktinfo_cmsg", have);
	send(w, "pk", 2, 0);
	mh.msg_controllen = 8;
	CHECK("pktinfo_short_control", recvmsg(u, &mh, 0) == 2 && (mh.msg_flags & MSG_CTRUNC));
	/* SO_TIMESTAMP: the datagram's arrival, before IP_PKTINFO. */
	CHECK("timestamp_on", setsockopt(u, SOL_SOCKET, SO_TIMESTAMP, &(int){1}, sizeof(int)) == 0);
	send(w, "ts", 2, 0);
	mh.msg_controllen = sizeof cbuf;
	mh.msg_flags = 0;
	CHECK("timestamp_recv", recvmsg(u, &mh, 0) == 2);
	cm = CMSG_FIRSTHDR(&mh);
	struct timeval stamp = {0, 0}, wall;
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMP)
		memcpy(&stamp, CMSG_DATA(cm), sizeof stamp);
	gettimeofday(&wall, NULL);
	CHECK("timestamp_first_and_recent", stamp.tv_sec > 0 && wall.tv_sec - stamp.tv_sec < 5 && stamp.tv_sec <= wall.tv_sec);
	cm = cm ? CMSG_NXTHDR(&mh, cm) : NULL;
	CHECK("pktinfo_after_timestamp", cm && cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO);
	close(u);
	close(w);

	/* UDP over IPv6 loopback with IPV6_RECVPKTINFO. */
	int u6 = socket(AF_INET6, SOCK_DGRAM, 0), w6 = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 at6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	CHECK("udp6_bind", bind(u6, (struct sockaddr *)&at6, sizeof at6) == 0);
	at6.sin6_port = htons((unsigned short)port_of(u6));
	CHECK("ipv6_recvpktinfo_on", setsockopt(u6, IPPROTO_IPV6, IPV6_RECVPKTINFO, &(int){1}, sizeof(int)) == 0);
	CHECK("udp6_sendto", sendto(w6, "six", 3, 0, (struct sockaddr *)&at6, sizeof at6) == 3);
	mh.msg_controllen = sizeof cbuf;
	mh.msg_flags = 0;
	CHECK("udp6_recv", recvmsg(u6, &mh, 0) == 3);
	have = 0;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(cm), sizeof pi);
			have = memcmp(&pi.ipi6_addr, &in6addr_loopback, 16) == 0;
		}
	CHECK("ipv6_pktinfo_cmsg", have);
	close(u6);
	close(w6);

	/* A listener refuses what a stream socket does. */
	s = socket(AF_INET, SOCK_STREAM, 0);
	at = v4("127.0.0.1", 0);
	bind(s, (struct sockaddr *)&at, sizeof at);
	listen(s, 1);
	EXPECT_ERR("listener_recv", recv(s, buf, 1, MSG_DONTWAIT), ENOTCONN);
	fcntl(s, F_SETFL, O_NONBLOCK);
	EXPECT_ERR("listener_accept_nonblocking", accept(s, NULL, NULL), EAGAIN);
	EXPECT_ERR("accept4_bad_flags", accept4(s, NULL, NULL, 0x4), EINVAL);
	close(s);
	return compat_done();
}
