/* AF_UNIX stream sockets with names: socket(2)'s checks, bind to a path
 * and to abstract names (and autobind), listen, connect and accept with
 * their errors, names, SO_PEERCRED, shutdown and close as the peer sees
 * them (poll bits, EOF, EPIPE and SIGPIPE, ECONNRESET), SOL_SOCKET
 * options, and SO_RCVTIMEO. */
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <stddef.h>
#include <time.h>

static char dir[64];

static socklen_t path_addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof a->sun_path, "%s/%s", dir, name);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1);
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	/* Made unique per run so that two runs at once do not collide. */
	int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "husk-%d-%s", (int)getpid(), name);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static int listener(struct sockaddr_un *a, socklen_t len, int backlog)
{
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)a, len) || listen(s, backlog))
		return -1;
	return s;
}

static short revents(int fd, short events)
{
	struct pollfd p = {fd, events, 0};
	return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int sigpipes;
static void on_pipe(int s) { (void)s; sigpipes++; }

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/husk-us-%d", (int)getpid());
	mkdir(dir, 0755);
	umask(022);

	/* socket(2)'s checks. */
	EXPECT_ERR("socket_bad_family", socket(4242, SOCK_STREAM, 0), EAFNOSUPPORT);
	EXPECT_ERR("socket_bad_type", socket(AF_UNIX, 42, 0), EINVAL);
	EXPECT_ERR("socket_bad_flags", socket(AF_UNIX, SOCK_STREAM | 0x100, 0), EINVAL);
	EXPECT_ERR("socket_bad_protocol", socket(AF_UNIX, SOCK_STREAM, 2), EPROTONOSUPPORT);
	EXPECT_ERR("socket_unsupported_type", socket(AF_UNIX, SOCK_RDM, 0), ESOCKTNOSUPPORT);
	int raw = socket(AF_UNIX, SOCK_RAW, 0);
	int ty = 0;
	socklen_t tl = sizeof ty;
	CHECK("sock_raw_is_dgram", raw >= 0 && getsockopt(raw, SOL_SOCKET, SO_TYPE, &ty, &tl) == 0 && ty == SOCK_DGRAM);
	close(raw);
	int pf = socket(PF_UNIX, SOCK_STREAM, PF_UNIX);
	CHECK("protocol_pf_unix", pf >= 0);
	close(pf);
	int nb = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	CHECK("socket_flags", nb >= 0 && (fcntl(nb, F_GETFL) & O_NONBLOCK) && (fcntl(nb, F_GETFD) & FD_CLOEXEC));
	struct stat st;
	CHECK("fstat_is_socket", fstat(nb, &st) == 0 && S_ISSOCK(st.st_mode));
	char link[64] = "";
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", nb);
	CHECK("proc_fd_socket", readlink(proc, link, sizeof link - 1) > 0 && !strncmp(link, "socket:[", 8));

	/* An unconnected stream socket. */
	char buf[256];
	EXPECT_ERR("recv_unconnected", recv(nb, buf, 1, 0), EINVAL);
	EXPECT_ERR("send_unconnected", send(nb, "x", 1, MSG_NOSIGNAL), ENOTCONN);
	struct sockaddr_un a, b;
	socklen_t len = sizeof b;
	EXPECT_ERR("getpeername_unconnected", getpeername(nb, (struct sockaddr *)&b, &len), ENOTCONN);
	SHOW("poll_unconnected", "%#x", revents(nb, POLLIN | POLLOUT));
	EXPECT_ERR("listen_unbound", listen(nb, 1), EINVAL);
	EXPECT_ERR("accept_not_listening", accept(nb, NULL, NULL), EINVAL);
	CHECK("shutdown_unconnected", shutdown(nb, SHUT_RD) == 0);
	len = sizeof b;
	CHECK("getsockname_unbound", getsockname(nb, (struct sockaddr *)&b, &len) == 0 && len == 2);

	/* Bound to a path. */
	socklen_t alen = path_addr(&a, "s1");
	int l = listener(&a, alen, 2);
	CHECK("bind_listen_path", l >= 0);
	CHECK("socket_node", stat(a.sun_path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0755);
	len = sizeof b;
	CHECK("getsockname_path", getsockname(l, (struct sockaddr *)&b, &len) == 0 && len == alen && !strcmp(b.sun_path, a.sun_path));
	EXPECT_ERR("bind_again_same_path", bind(l, (struct sockaddr *)&a, alen), EADDRINUSE);
	struct sockaddr_un a2;
	socklen_t a2len = path_addr(&a2, "s1b");
	EXPECT_ERR("bind_again_new_path", bind(l, (struct sockaddr *)&a2, a2len), EINVAL);
	EXPECT_ERR("bind_again_left_no_node", stat(a2.sun_path, &st), ENOENT);
	int other = socket(AF_UNIX, SOCK_STREAM, 0);
	EXPECT_ERR("bind_in_use", bind(other, (struct sockaddr *)&a, alen), EADDRINUSE);
	struct sockaddr_un bad = a;
	strcat(bad.sun_path, "/x/y");
	EXPECT_ERR("bind_under_socket", bind(other, (struct sockaddr *)&bad, sizeof bad), ENOTDIR);
	struct sockaddr_un miss;
	path_addr(&miss, "nodir/s");
	EXPECT_ERR("bind_missing_dir", bind(other, (struct sockaddr *)&miss, sizeof miss), ENOENT);
	EXPECT_ERR("bind_short_addr", bind(other, (struct sockaddr *)&a, 1), EINVAL);
	bad.sun_family = AF_INET;
	EXPECT_ERR("bind_wrong_family", bind(other, (struct sockaddr *)&bad, sizeof bad), EINVAL);
	EXPECT_ERR("bind_efault", bind(other, (struct sockaddr *)BADPTR, sizeof a), EFAULT);
	int ac = 0;
	socklen_t il = sizeof ac;
	CHECK("acceptconn", getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &ac, &il) == 0 && ac == 1);
	SHOW("poll_listener_idle", "%#x", revents(l, POLLIN | POLLOUT));
	fcntl(l, F_SETFL, O_NONBLOCK);
	EXPECT_ERR("accept_nothing", accept(l, NULL, NULL), EAGAIN);

	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK("connect_path", connect(c, (struct sockaddr *)&a, alen) == 0);
	SHOW("poll_listener_pending", "%#x", revents(l, POLLIN | POLLOUT));
	EXPECT_ERR("connect_again", connect(c, (struct sockaddr *)&a, alen), EISCONN);
	len = sizeof b;
	memset(&b, 0x55, sizeof b);
	int s = accept4(l, (struct sockaddr *)&b, &len, SOCK_CLOEXEC);
	CHECK("accept", s >= 0 && (fcntl(s, F_GETFD) & FD_CLOEXEC));
	SHOW("accepted_peer_len", "%u", (unsigned)len);
	len = sizeof b;
	CHECK("accepted_sockname", getsockname(s, (struct sockaddr *)&b, &len) == 0 && !strcmp(b.sun_path, a.sun_path));
	len = sizeof b;
	CHECK("client_peername", getpeername(c, (struct sockaddr *)&b, &len) == 0 && !strcmp(b.sun_path, a.sun_path));
	len = sizeof b;
	CHECK("client_sockname_unnamed", getsockname(c, (struct sockaddr *)&b, &len) == 0 && len == 2);
	struct ucred cr;
	socklen_t cl = sizeof cr;
	CHECK("peercred_server_side", getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0 && cr.pid == getpid() && cr.uid == geteuid() && cl == sizeof cr);
	cl = sizeof cr;
	CHECK("peercred_client_side", getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0 && cr.pid == getpid());
	SHOW("poll_connected", "%#x", revents(c, POLLIN | POLLOUT | POLLRDHUP));

	/* Data both ways; FIONREAD and TIOCOUTQ. */
	CHECK("send", send(c, "hello", 5, 0) == 5);
	int q = -1;
	CHECK("fionread", ioctl(s, FIONREAD, &q) == 0 && q == 5);
	/* Linux counts its buffers' overhead too. */
	CHECK("tiocoutq", ioctl(c, TIOCOUTQ, &q) == 0 && q >= 5);
	SHOW("poll_readable", "%#x", revents(s, POLLIN | POLLOUT));
	CHECK("recv_peek", recv(s, buf, 3, MSG_PEEK) == 3 && !memcmp(buf, "hel", 3));
	CHECK("recv", recv(s, buf, sizeof buf, 0) == 5 && !memcmp(buf, "hello", 5));
	CHECK("write_read", write(s, "back", 4) == 4 && read(c, buf, sizeof buf) == 4);
	EXPECT_ERR("recv_dontwait", recv(c, buf, 1, MSG_DONTWAIT), EAGAIN);
	EXPECT_ERR("sendto_connected_stream", sendto(c, "x", 1, 0, (struct sockaddr *)&a, alen), EISCONN);

	/* Filling the stream: a non-blocking send stops with EAGAIN. */
	fcntl(c, F_SETFL, O_NONBLOCK);
	static char big[65536];
	long total = 0;
	int err = 0;
	for (;;) {
		ssize_t n = send(c, big, sizeof big, 0);
		if (n < 0) {
			err = errno;
			break;
		}
		total += n;
	}
	CHECK("stream_fills", err == EAGAIN && total > 65536);
	SHOW("poll_full", "%#x", revents(c, POLLOUT));
	long drained = 0;
	while (drained < total) {
		ssize_t n = recv(s, big, sizeof big, 0);
		if (n <= 0)
			break;
		drained += n;
	}
	CHECK("stream_drains", drained == total);
	SHOW("poll_drained", "%#x", revents(c, POLLOUT));
	fcntl(c, F_SETFL, 0);

	/* Shutdown as each end sees it. */
	CHECK("shutdown_wr", shutdown(c, SHUT_WR) == 0);
	SHOW("poll_after_peer_shut_wr", "%#x", revents(s, POLLIN | POLLOUT | POLLRDHUP));
	CHECK("eof_after_shut_wr", recv(s, buf, sizeof buf, 0) == 0);
	EXPECT_ERR("send_after_shut_wr", send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
	EXPECT_ERR("shutdown_bad_how", shutdown(c, 7), EINVAL);
	signal(SIGPIPE, on_pipe);
	EXPECT_ERR("write_after_shut_wr", write(c, "x", 1), EPIPE);
	CHECK("sigpipe", sigpipes == 1);
	CHECK("send_back_still", send(s, "y", 1, 0) == 1 && recv(c, buf, 1, 0) == 1);
	close(s);
	SHOW("poll_after_peer_close", "%#x", revents(c, POLLIN | POLLOUT | POLLRDHUP));
	CHECK("eof_after_close", recv(c, buf, 1, 0) == 0);
	close(c);

	/* Closing with data unread: the peer's next read is ECONNRESET. */
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&a, alen);
	s = accept(l, NULL, NULL);
	send(c, "unread", 6, 0);
	send(s, "zz", 2, 0);
	close(s);
	CHECK("data_before_reset", recv(c, buf, sizeof buf, 0) == 2);
	EXPECT_ERR("reset_after_unread", recv(c, buf, sizeof buf, 0), ECONNRESET);
	CHECK("eof_after_reset", recv(c, buf, sizeof buf, 0) == 0);
	close(c);

	/* connect(2)'s errors. */
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	path_addr(&b, "none");
	EXPECT_ERR("connect_missing", connect(c, (struct sockaddr *)&b, sizeof b), ENOENT);
	socklen_t flen = path_addr(&b, "file");
	close(open(b.sun_path, O_CREAT | O_WRONLY, 0644));
	EXPECT_ERR("connect_not_socket", connect(c, (struct sockaddr *)&b, flen), ECONNREFUSED);
	socklen_t dlen = path_addr(&b, "dgram");
	int dg = socket(AF_UNIX, SOCK_DGRAM, 0);
	bind(dg, (struct sockaddr *)&b, dlen);
	EXPECT_ERR("connect_wrong_type", connect(c, (struct sockaddr *)&b, dlen), EPROTOTYPE);
	close(dg);
	EXPECT_ERR("connect_closed_name", connect(c, (struct sockaddr *)&b, dlen), ECONNREFUSED);
	EXPECT_ERR("listen_dgram", listen(socket(AF_UNIX, SOCK_DGRAM, 0), 1), EOPNOTSUPP);

	/* The backlog: a non-blocking connect to a full one is EAGAIN. */
	socklen_t blen = path_addr(&b, "small");
	int sl = listener(&b, blen, 0);
	int c1 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK("backlog_first", connect(c1, (struct sockaddr *)&b, blen) == 0);
	EXPECT_ERR("backlog_full", connect(c2, (struct sockaddr *)&b, blen), EAGAIN);
	int a1 = accept(sl, NULL, NULL);
	CHECK("backlog_room_again", a1 >= 0 && connect(c2, (struct sockaddr *)&b, blen) == 0);
	close(a1);
	close(accept(sl, NULL, NULL));
	close(c1);
	close(c2);
	/* A blocking connect to a full backlog waits until an accept makes
	 * room. */
	c1 = socket(AF_UNIX, SOCK_STREAM, 0);
	c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	connect(c1, (struct sockaddr *)&b, blen);
	pid_t acceptor = fork();
	if (acceptor == 0) {
		usleep(100000);
		close(accept(sl, NULL, NULL));
		_exit(0);
	}
	double w0 = now();
	CHECK("backlog_blocking_connect", connect(c2, (struct sockaddr *)&b, blen) == 0 && now() - w0 > 0.05);
	waitpid(acceptor, NULL, 0);
	close(accept(sl, NULL, NULL));
	close(c1);
	close(c2);
	/* Pending connections of a closed listener are reset. */
	c1 = socket(AF_UNIX, SOCK_STREAM, 0);
	connect(c1, (struct sockaddr *)&b, blen);
	send(c1, "q", 1, 0);
	close(sl);
	EXPECT_ERR("listener_closed_reset", recv(c1, buf, 1, 0), ECONNRESET);
	close(c1);

	/* An unlinked name: gone for new connects, the listener still works. */
	unlink(a.sun_path);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	EXPECT_ERR("connect_unlinked", connect(c, (struct sockaddr *)&a, alen), ENOENT);
	close(c);
	close(l);

	/* Abstract names. */
	socklen_t xlen = abstract_addr(&a, "abs");
	l = listener(&a, xlen, 4);
	CHECK("abstract_listen", l >= 0);
	len = sizeof b;
	CHECK("abstract_sockname", getsockname(l, (struct sockaddr *)&b, &len) == 0 && len == xlen && b.sun_path[0] == 0 && !memcmp(&a, &b, xlen));
	other = socket(AF_UNIX, SOCK_STREAM, 0);
	EXPECT_ERR("abstract_in_use", bind(other, (struct sockaddr *)&a, xlen), EADDRINUSE);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK("abstract_connect", connect(c, (struct sockaddr *)&a, xlen) == 0);
	s = accept(l, NULL, NULL);
	CHECK("abstract_data", send(c, "abc", 3, 0) == 3 && recv(s, buf, 3, 0) == 3);
	close(s);
	close(c);
	close(l);
	CHECK("abstract_free_after_close", bind(other, (struct sockaddr *)&a, xlen) == 0);
	close(other);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	abstract_addr(&b, "nobody");
	EXPECT_ERR("abstract_refused", connect(c, (struct sockaddr *)&b, offsetof(struct sockaddr_un, sun_path) + 10), ECONNREFUSED);
	/* Autobind: only the family given. */
	struct sockaddr_un fam = {.sun_family = AF_UNIX};
	CHECK("autobind", bind(c, (struct sockaddr *)&fam, sizeof(sa_family_t)) == 0);
	len = sizeof b;
	CHECK("autobind_name", getsockname(c, (struct sockaddr *)&b, &len) == 0 && len == 8 && b.sun_path[0] == 0);
	close(c);

	/* SOL_SOCKET options. */
	int v = 1, got = 0;
	il = sizeof got;
	CHECK("reuseaddr", setsockopt(nb, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v) == 0 && getsockopt(nb, SOL_SOCKET, SO_REUSEADDR, &got, &il) == 0 && got == 1);
	v = 5;
	il = sizeof got;
	CHECK("keepalive_is_flag", setsockopt(nb, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v) == 0 && getsockopt(nb, SOL_SOCKET, SO_KEEPALIVE, &got, &il) == 0 && got == 1);
	struct linger lg = {1, 7}, lg2;
	socklen_t ll = sizeof lg2;
	CHECK("linger", setsockopt(nb, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0 && getsockopt(nb, SOL_SOCKET, SO_LINGER, &lg2, &ll) == 0 && lg2.l_onoff == 1 && lg2.l_linger == 7);
	EXPECT_ERR("linger_short", setsockopt(nb, SOL_SOCKET, SO_LINGER, &lg, 4), EINVAL);
	EXPECT_ERR("int_option_short", setsockopt(nb, SOL_SOCKET, SO_REUSEADDR, &v, 2), EINVAL);
	il = sizeof got;
	CHECK("so_domain", getsockopt(nb, SOL_SOCKET, SO_DOMAIN, &got, &il) == 0 && got == AF_UNIX);
	il = sizeof got;
	CHECK("sndbuf", getsockopt(nb, SOL_SOCKET, SO_SNDBUF, &got, &il) == 0 && got > 0);
	struct timeval bad_tv = {0, 2000000};
	EXPECT_ERR("rcvtimeo_bad_usec", setsockopt(nb, SOL_SOCKET, SO_RCVTIMEO, &bad_tv, sizeof bad_tv), EDOM);
	EXPECT_ERR("unknown_level", setsockopt(nb, 4242, 1, &v, sizeof v), EOPNOTSUPP);

	/* SO_RCVTIMEO: a blocking receive gives up with EAGAIN. */
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	struct timeval tv = {0, 100000}, tv2;
	socklen_t tvl = sizeof tv2;
	CHECK("rcvtimeo_set", setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 && getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv2, &tvl) == 0 && tv2.tv_usec == 100000);
	double t0 = now();
	EXPECT_ERR("rcvtimeo_expires", recv(sv[0], buf, 1, 0), EAGAIN);
	double waited = now() - t0;
	CHECK("rcvtimeo_waited", waited >= 0.09 && waited < 2.0);
	EXPECT_ERR("read_rcvtimeo_expires", read(sv[0], buf, 1), EAGAIN);
	close(sv[0]);
	close(sv[1]);
	close(nb);

	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK("cleanup", system(cmd) == 0);
	return compat_done();
}
