/* Socket calls on descriptors that are not sockets (a pipe, a regular
 * file) and on descriptors that are not open. No socket is created. */
#include "common.h"
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>

static void check_fd(const char *what, int fd, int err)
{
	char name[96];
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int one = 1, val = 0;
	socklen_t vlen = sizeof(val);
	char buf[16] = "x";
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr mh;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(9);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

#define T(call, expr)                                                       \
	do {                                                                \
		snprintf(name, sizeof(name), "%s_%s", call, what);          \
		EXPECT_ERR(name, expr, err);                                \
	} while (0)

	T("getsockname", getsockname(fd, (struct sockaddr *)&sin, &len));
	T("getpeername", getpeername(fd, (struct sockaddr *)&sin, &len));
	T("setsockopt", setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
	T("getsockopt", getsockopt(fd, SOL_SOCKET, SO_TYPE, &val, &vlen));
	T("shutdown", shutdown(fd, SHUT_RDWR));
	T("sendto", sendto(fd, buf, 1, 0, (struct sockaddr *)&sin, sizeof(sin)));
	T("sendto_noaddr", sendto(fd, buf, 1, 0, NULL, 0));
	T("send", send(fd, buf, 1, MSG_DONTWAIT));
	T("recvfrom", recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL));
	T("recv", recv(fd, buf, sizeof(buf), MSG_DONTWAIT));
	T("sendmsg", sendmsg(fd, &mh, MSG_DONTWAIT));
	T("recvmsg", recvmsg(fd, &mh, MSG_DONTWAIT));
	T("connect", connect(fd, (struct sockaddr *)&sin, sizeof(sin)));
	T("bind", bind(fd, (struct sockaddr *)&sin, sizeof(sin)));
	T("listen", listen(fd, 5));
	T("accept", accept(fd, NULL, NULL));
	T("accept4", accept4(fd, NULL, NULL, SOCK_CLOEXEC));
	struct mmsghdr mm;
	memset(&mm, 0, sizeof(mm));
	mm.msg_hdr = mh;
	T("sendmmsg", sendmmsg(fd, &mm, 1, MSG_DONTWAIT));
	T("recvmmsg", recvmmsg(fd, &mm, 1, MSG_DONTWAIT, NULL));
#undef T
}

int main(void)
{
	int p[2];
	CHECK("pipe", pipe(p) == 0);
	int ro = open("/etc/passwd", O_RDONLY);
	CHECK("open_passwd", ro >= 0);
	int dn = open("/dev/null", O_RDWR);
	CHECK("open_devnull", dn >= 0);

	check_fd("pipe_read", p[0], ENOTSOCK);
	check_fd("pipe_write", p[1], ENOTSOCK);
	check_fd("file", ro, ENOTSOCK);
	check_fd("devnull", dn, ENOTSOCK);
	check_fd("fd999", 999, EBADF);
	check_fd("fd_negative", -1, EBADF);

	/* accept4 looks the descriptor up, then checks its flags, and only
	 * then whether the file is a socket. */
	EXPECT_ERR("accept4_bad_flags_pipe", accept4(p[0], NULL, NULL, 0x1), EINVAL);
	EXPECT_ERR("accept4_bad_flags_ebadf", accept4(999, NULL, NULL, 0x1), EBADF);

	/* Nothing above touched the pipe: it still works. */
	CHECK("pipe_still_works", write(p[1], "ok", 2) == 2);
	char b[4] = {0};
	CHECK("pipe_still_reads", read(p[0], b, sizeof(b)) == 2 && memcmp(b, "ok", 2) == 0);
	return compat_done();
}
