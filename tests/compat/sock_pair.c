/* The socket calls on an AF_UNIX stream socketpair, as Linux answers
 * them: names (getsockname, getpeername, recvfrom's source), options,
 * the connection calls a connected pair refuses, address arguments that
 * are too long or unreadable, and shutdown's effect on both ends. */
#include "common.h"
#include <sys/socket.h>
#include <sys/un.h>

static void show_name(const char *what, int r, socklen_t len, const struct sockaddr_un *a)
{
	if (r != 0)
		printf("%s errno=%s\n", what, ename(errno));
	else
		printf("%s len=%u family=%d\n", what, (unsigned)len, len >= 2 ? a->sun_family : -1);
}

int main(void)
{
	int sv[2];
	CHECK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct sockaddr_un a;
	socklen_t len;

	len = sizeof a;
	memset(&a, 0x55, sizeof a);
	show_name("getsockname", getsockname(sv[0], (struct sockaddr *)&a, &len), len, &a);
	len = sizeof a;
	show_name("getpeername", getpeername(sv[0], (struct sockaddr *)&a, &len), len, &a);
	len = 1;
	show_name("getsockname_short", getsockname(sv[0], (struct sockaddr *)&a, &len), len, &a);
	EXPECT_ERR("getsockname_fault", getsockname(sv[0], BADPTR, &len), EFAULT);

	int v;
	socklen_t vl;
	int opts[] = {SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ERROR, SO_ACCEPTCONN};
	for (unsigned i = 0; i < sizeof opts / sizeof opts[0]; i++) {
		vl = sizeof v;
		v = -7;
		int r = getsockopt(sv[0], SOL_SOCKET, opts[i], &v, &vl);
		printf("getsockopt_%d r=%d v=%d len=%u\n", opts[i], r, v, (unsigned)vl);
	}
	vl = 2;
	v = 0;
	int r = getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &vl);
	printf("getsockopt_short r=%d len=%u\n", r, (unsigned)vl);

	/* A connected pair: no connect, listen or accept. */
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	strcpy(a.sun_path, "/tmp/husk-sock-pair-never");
	/* Linux finds the listener before it looks at the socket's state. */
	EXPECT_ERR("connect_missing_path", connect(sv[0], (struct sockaddr *)&a, sizeof a), ENOENT);
	strcpy(a.sun_path, "/etc/passwd");
	EXPECT_ERR("connect_not_a_socket", connect(sv[0], (struct sockaddr *)&a, sizeof a), ECONNREFUSED);
	a.sun_path[0] = 0;
	EXPECT_ERR("connect_abstract", connect(sv[0], (struct sockaddr *)&a, sizeof a), ECONNREFUSED);
	EXPECT_ERR("connect_unnamed", connect(sv[0], (struct sockaddr *)&a, 2), EINVAL);
	a.sun_family = AF_INET;
	EXPECT_ERR("connect_wrong_family", connect(sv[0], (struct sockaddr *)&a, sizeof a), EINVAL);
	a.sun_family = AF_UNIX;
	EXPECT_ERR("listen_unbound", listen(sv[0], 1), EINVAL);
	EXPECT_ERR("accept_not_listening", accept(sv[0], NULL, NULL), EINVAL);
	EXPECT_ERR("accept4_bad_flags", accept4(sv[0], NULL, NULL, 0x4000), EINVAL);
	EXPECT_ERR("connect_addr_too_long", connect(sv[0], (struct sockaddr *)&a, 200), EINVAL);
	EXPECT_ERR("connect_addr_fault", connect(sv[0], BADPTR, sizeof a), EFAULT);
	EXPECT_ERR("bind_addr_too_long", bind(sv[0], (struct sockaddr *)&a, 200), EINVAL);
	EXPECT_ERR("bind_addr_fault", bind(sv[0], BADPTR, sizeof a), EFAULT);

	/* recvfrom reports no source for an unbound peer. */
	CHECK("send", write(sv[1], "hi", 2) == 2);
	char buf[8];
	len = sizeof a;
	memset(&a, 0x55, sizeof a);
	ssize_t n = recvfrom(sv[0], buf, sizeof buf, 0, (struct sockaddr *)&a, &len);
	printf("recvfrom n=%zd len=%u\n", n, (unsigned)len);

	/* shutdown. */
	EXPECT_ERR("shutdown_bad_how", shutdown(sv[0], 7), EINVAL);
	CHECK("shutdown_wr", shutdown(sv[1], SHUT_WR) == 0);
	CHECK("peer_sees_eof", read(sv[0], buf, sizeof buf) == 0);
	CHECK("other_way_still_open", write(sv[0], "x", 1) == 1 && read(sv[1], buf, 1) == 1);
	return compat_failures > 100 ? 100 : compat_failures;
}
