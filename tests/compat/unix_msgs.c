/* AF_UNIX messages: datagram and seqpacket sockets (boundaries, names,
 * truncation, connected datagram sockets), files passed with SCM_RIGHTS
 * (several, cut short with MSG_CTRUNC, MSG_CMSG_CLOEXEC, bad fds),
 * SCM_CREDENTIALS with SO_PASSCRED, MSG_PEEK and MSG_WAITALL, and a long
 * chain of sockets in flight inside each other closed at once. */
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "husk-m-%d-%s", (int)getpid(), name);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

/* Sends `data` with `n` fds from `fds`. */
static ssize_t send_fds(int s, const char *data, size_t len, const int *fds, int n)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 300)];
	struct iovec iov = {(void *)data, len};
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	if (n > 0) {
		m.msg_control = cbuf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	}
	return sendmsg(s, &m, 0);
}

/* Receives into `data`; the fds received go to `fds` (count in *n). */
static ssize_t recv_fds(int s, char *data, size_t len, int *fds, int *n, size_t room, int flags, int *mflags)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 300)];
	struct iovec iov = {data, len};
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cbuf;
	m.msg_controllen = room;
	ssize_t r = recvmsg(s, &m, flags);
	*n = 0;
	if (r < 0)
		return r;
	*mflags = m.msg_flags;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fds + *n, CMSG_DATA(c), sizeof(int) * k);
			*n += k;
		}
	}
	return r;
}

int main(void)
{
	char buf[256];
	struct sockaddr_un a, b, from;
	socklen_t flen;

	/* Datagrams between named sockets. */
	socklen_t alen = abstract_addr(&a, "d1"), blen = abstract_addr(&b, "d2");
	int d1 = socket(AF_UNIX, SOCK_DGRAM, 0), d2 = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK("dgram_bind", bind(d1, (struct sockaddr *)&a, alen) == 0 && bind(d2, (struct sockaddr *)&b, blen) == 0);
	{
		char want[64], line[512];
		snprintf(want, sizeof want, "@husk-m-%d-d1", (int)getpid());
		FILE *f = fopen("/proc/net/unix", "r");
		int found = 0;
		while (f && !found && fgets(line, sizeof line, f))
			found = strstr(line, want) != NULL && strstr(line, " 0002 ") != NULL;
		if (f)
			fclose(f);
		CHECK("proc_net_unix_lists_abstract", found);
	}
	CHECK("dgram_sendto", sendto(d2, "one", 3, 0, (struct sockaddr *)&a, alen) == 3);
	CHECK("dgram_sendto_empty", sendto(d2, "", 0, 0, (struct sockaddr *)&a, alen) == 0);
	CHECK("dgram_sendto_long", sendto(d2, "three33", 7, 0, (struct sockaddr *)&a, alen) == 7);
	int q = -1;
	CHECK("dgram_fionread", ioctl(d1, FIONREAD, &q) == 0 && q == 3);
	flen = sizeof from;
	CHECK("dgram_recvfrom", recvfrom(d1, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen) == 3 && flen == blen && !memcmp(&from, &b, blen));
	CHECK("dgram_empty", recv(d1, buf, sizeof buf, 0) == 0);
	CHECK("dgram_trunc_len", recv(d1, buf, 2, MSG_TRUNC | MSG_PEEK) == 7);
	struct iovec iov = {buf, 2};
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	CHECK("dgram_truncated", recvmsg(d1, &m, 0) == 2 && (m.msg_flags & MSG_TRUNC));
	EXPECT_ERR("dgram_empty_queue", recv(d1, buf, 1, MSG_DONTWAIT), EAGAIN);
	EXPECT_ERR("dgram_no_destination", send(d1, "x", 1, 0), ENOTCONN);
	struct sockaddr_un nobody;
	socklen_t nlen = abstract_addr(&nobody, "nobody");
	EXPECT_ERR("dgram_refused", sendto(d1, "x", 1, 0, (struct sockaddr *)&nobody, nlen), ECONNREFUSED);
	/* A connected datagram socket: a default peer, and only its peer's
	 * datagrams come in. */
	CHECK("dgram_connect", connect(d2, (struct sockaddr *)&a, alen) == 0);
	CHECK("dgram_send_connected", send(d2, "hi", 2, 0) == 2 && recv(d1, buf, sizeof buf, 0) == 2);
	struct sockaddr_un peer;
	socklen_t plen = sizeof peer;
	CHECK("dgram_peername", getpeername(d2, (struct sockaddr *)&peer, &plen) == 0 && plen == alen);
	int d3 = socket(AF_UNIX, SOCK_DGRAM, 0);
	EXPECT_ERR("dgram_to_connected_other", sendto(d3, "x", 1, 0, (struct sockaddr *)&b, blen), EPERM);
	/* The queue fills: a non-blocking send is EAGAIN. */
	int nsent = 0, err = 0;
	for (int i = 0; i < 1000; i++) {
		if (sendto(d3, "fill", 4, MSG_DONTWAIT, (struct sockaddr *)&a, alen) < 0) {
			err = errno;
			break;
		}
		nsent++;
	}
	CHECK("dgram_queue_fills", err == EAGAIN && nsent > 0);
	SHOW("dgram_poll_full", "%#x", (int)({
		struct pollfd p = {d3, POLLOUT, 0};
		poll(&p, 1, 0);
		p.revents;
	}));
	static char huge[300000];
	EXPECT_ERR("dgram_too_big", sendto(d3, huge, sizeof huge, 0, (struct sockaddr *)&a, alen), EMSGSIZE);
	close(d1);
	EXPECT_ERR("dgram_peer_closed", send(d2, "x", 1, 0), ECONNREFUSED);
	close(d2);
	close(d3);

	/* Seqpacket: boundaries kept, truncation flagged. */
	int sp[2];
	CHECK("seqpacket_pair", socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) == 0);
	send(sp[0], "abc", 3, 0);
	send(sp[0], "defgh", 5, 0);
	CHECK("seqpacket_boundary", recv(sp[1], buf, sizeof buf, 0) == 3);
	m.msg_flags = 0;
	iov.iov_len = 2;
	CHECK("seqpacket_truncated", recvmsg(sp[1], &m, 0) == 2 && (m.msg_flags & MSG_TRUNC));
	CHECK("seqpacket_sendto_ignores_addr", sendto(sp[0], "z", 1, 0, (struct sockaddr *)&nobody, nlen) == 1 && recv(sp[1], buf, 9, 0) == 1);
	close(sp[0]);
	CHECK("seqpacket_eof", recv(sp[1], buf, sizeof buf, 0) == 0);
	close(sp[1]);

	/* SCM_RIGHTS. */
	int sv[2], p[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pipe(p);
	int fds[300], got[300], n = 0, mflags = 0;
	fds[0] = p[1];
	fds[1] = p[0];
	CHECK("rights_send", send_fds(sv[0], "F", 1, fds, 2) == 1);
	CHECK("rights_recv", recv_fds(sv[1], buf, sizeof buf, got, &n, CMSG_SPACE(sizeof(int) * 2), 0, &mflags) == 1 && n == 2 && mflags == 0);
	CHECK("rights_work", n == 2 && write(got[0], "via", 3) == 3 && read(p[0], buf, 3) == 3 && !memcmp(buf, "via", 3));
	CHECK("rights_not_cloexec", n == 2 && !(fcntl(got[0], F_GETFD) & FD_CLOEXEC));
	close(got[0]);
	close(got[1]);
	/* Too little room: as many as fit, MSG_CTRUNC, the rest closed. */
	fds[0] = fds[1] = fds[2] = p[1];
	send_fds(sv[0], "G", 1, fds, 3);
	CHECK("rights_ctrunc", recv_fds(sv[1], buf, sizeof buf, got, &n, CMSG_LEN(sizeof(int)), 0, &mflags) == 1 && n == 1 && (mflags & MSG_CTRUNC));
	close(got[0]);
	send_fds(sv[0], "H", 1, fds, 1);
	CHECK("rights_no_control", recv(sv[1], buf, sizeof buf, 0) == 1);
	send_fds(sv[0], "I", 1, fds, 1);
	CHECK("rights_cloexec", recv_fds(sv[1], buf, sizeof buf, got, &n, CMSG_SPACE(sizeof(int)), MSG_CMSG_CLOEXEC, &mflags) == 1 && n == 1 && (fcntl(got[0], F_GETFD) & FD_CLOEXEC));
	close(got[0]);
	fds[0] = 999;
	EXPECT_ERR("rights_bad_fd", send_fds(sv[0], "J", 1, fds, 1), EBADF);
	for (int i = 0; i < 254; i++)
		fds[i] = p[1];
	EXPECT_ERR("rights_too_many", send_fds(sv[0], "K", 1, fds, 254), EINVAL);
	CHECK("rights_max", send_fds(sv[0], "L", 1, fds, 253) == 1 && recv_fds(sv[1], buf, sizeof buf, got, &n, sizeof(int) * 300 + 64, 0, &mflags) == 1 && n == 253);
	for (int i = 0; i < n; i++)
		close(got[i]);
	/* A read stops after the data that carried files. */
	send(sv[0], "ab", 2, 0);
	fds[0] = p[1];
	send_fds(sv[0], "cd", 2, fds, 1);
	send(sv[0], "ef", 2, 0);
	CHECK("rights_read_stops", recv_fds(sv[1], buf, sizeof buf, got, &n, CMSG_SPACE(sizeof(int)), 0, &mflags) == 4 && n == 1);
	close(got[0]);
	CHECK("rights_rest", recv(sv[1], buf, sizeof buf, 0) == 2);
	/* A socket sent over itself, then closed: nothing hangs. */
	int self[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, self);
	send_fds(self[0], "s", 1, &self[1], 1);
	close(self[0]);
	close(self[1]);
	CHECK("self_sent", 1);

	/* SCM_CREDENTIALS with SO_PASSCRED. */
	int on = 1;
	CHECK("passcred", setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
	send(sv[0], "c", 1, 0);
	{
		char cbuf[CMSG_SPACE(sizeof(struct ucred))];
		iov.iov_base = buf;
		iov.iov_len = sizeof buf;
		struct msghdr cm = {0};
		cm.msg_iov = &iov;
		cm.msg_iovlen = 1;
		cm.msg_control = cbuf;
		cm.msg_controllen = sizeof cbuf;
		struct cmsghdr *c;
		struct ucred cr = {0};
		CHECK("creds_recv", recvmsg(sv[1], &cm, 0) == 1 && (c = CMSG_FIRSTHDR(&cm)) && c->cmsg_type == SCM_CREDENTIALS && (memcpy(&cr, CMSG_DATA(c), sizeof cr), cr.pid == getpid()) && cr.uid == geteuid());
		/* Sent explicitly. */
		struct msghdr sm = {0};
		struct iovec siov = {"d", 1};
		sm.msg_iov = &siov;
		sm.msg_iovlen = 1;
		sm.msg_control = cbuf;
		sm.msg_controllen = CMSG_SPACE(sizeof cr);
		c = CMSG_FIRSTHDR(&sm);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_CREDENTIALS;
		c->cmsg_len = CMSG_LEN(sizeof cr);
		cr.pid = getpid();
		cr.uid = geteuid();
		cr.gid = getegid();
		memcpy(CMSG_DATA(c), &cr, sizeof cr);
		CHECK("creds_send", sendmsg(sv[0], &sm, 0) == 1 && recv(sv[1], buf, 1, 0) == 1);
		/* scm_check_creds then the pid lookup: an id with no name is
		 * EINVAL, a process that does not exist ESRCH (root may claim
		 * any other). */
		struct ucred bad[] = {
			{getpid(), (uid_t)-1, getegid()},
			{getpid(), geteuid(), (gid_t)-1},
			{0, geteuid(), getegid()},
			{-5, geteuid(), getegid()},
			{0x3fffffff, geteuid(), getegid()},
		};
		const char *names[] = {"creds_uid_none", "creds_gid_none", "creds_pid_0",
				       "creds_pid_negative", "creds_pid_absent"};
		int want[] = {EINVAL, EINVAL, ESRCH, ESRCH, ESRCH};
		for (int i = 0; i < 5; i++) {
			if (want[i] == ESRCH && geteuid() != 0)
				continue;
			memcpy(CMSG_DATA(c), &bad[i], sizeof bad[i]);
			EXPECT_ERR(names[i], sendmsg(sv[0], &sm, 0), want[i]);
		}
		c->cmsg_len = CMSG_LEN(4);
		EXPECT_ERR("creds_bad_len", sendmsg(sv[0], &sm, 0), EINVAL);
	}

	/* MSG_PEEK and MSG_WAITALL. */
	on = 0;
	setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
	pid_t child = fork();
	if (child == 0) {
		for (int i = 0; i < 4; i++) {
			usleep(20000);
			send(sv[0], "part", 4, 0);
		}
		_exit(0);
	}
	CHECK("waitall", recv(sv[1], buf, 16, MSG_WAITALL) == 16);
	waitpid(child, NULL, 0);
	send(sv[0], "peek", 4, 0);
	CHECK("peek_twice", recv(sv[1], buf, 4, MSG_PEEK) == 4 && recv(sv[1], buf, 4, MSG_PEEK) == 4 && recv(sv[1], buf, 4, 0) == 4);
	close(sv[0]);
	CHECK("waitall_eof", recv(sv[1], buf, 16, MSG_WAITALL) == 0);
	close(sv[1]);

	/* 5,000 socket pairs, each in flight inside the one before, all
	 * let go by one close. */
	int first[2], prev[2], cur[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, first);
	prev[0] = first[0];
	prev[1] = first[1];
	int ok = 1;
	for (int i = 0; i < 5000 && ok; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, cur)) {
			ok = 0;
			break;
		}
		if (send_fds(prev[0], "n", 1, cur, 2) != 1)
			ok = 0;
		if (prev[0] != first[0]) {
			close(prev[0]);
			close(prev[1]);
		}
		prev[0] = cur[0];
		prev[1] = cur[1];
	}
	close(prev[0]);
	close(prev[1]);
	close(first[0]);
	close(first[1]);
	CHECK("chain_of_sockets_closed", ok);
	int still[2];
	CHECK("still_working", socketpair(AF_UNIX, SOCK_DGRAM, 0, still) == 0 && send(still[0], "w", 1, 0) == 1 && recv(still[1], buf, 1, 0) == 1);

	close(p[0]);
	close(p[1]);
	return compat_done();
}
