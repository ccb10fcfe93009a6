/* Transfers whose buffer faults part way, as Linux ends them: a file
 * read or write moves the bytes before the fault; a pipe write keeps the
 * whole pages it could fill (EFAULT when none); a pipe or stream socket
 * read whose data does not fit in the part that can be written takes
 * nothing (EFAULT, the data stays); a datagram that cannot be copied is
 * lost; a vectored transfer stops at the bad iovec. */
#include "common.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define R(name, expr)                                                                    \
	do {                                                                             \
		errno = 0;                                                               \
		long r_ = (long)(expr);                                                  \
		printf("%s %ld %s\n", name, r_, r_ < 0 ? ename(errno) : "");            \
	} while (0)

int main(void)
{
	char *m = mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(m + 2 * 4096, 4096);
	char path[64];
	snprintf(path, sizeof path, "/tmp/husk-partial-%d", getpid());
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	unlink(path);
	static char big[10000];
	memset(big, 'a', sizeof big);
	write(fd, big, sizeof big);
	char *edge = m + 2 * 4096 - 96;
	R("pread partial", pread(fd, edge, 200, 0));
	R("pread none", pread(fd, m + 2 * 4096, 200, 0));
	R("pwrite partial", pwrite(fd, edge, 200, 0));
	struct iovec iov[2] = {{m, 10}, {m + 2 * 4096, 10}};
	R("preadv second bad", preadv(fd, iov, 2, 0));
	R("pwritev second bad", pwritev(fd, iov, 2, 0));

	int p[2];
	pipe2(p, O_NONBLOCK);
	char tmp[8192];
	R("pipe write partial page", write(p[1], edge, 200));
	R("pipe empty", read(p[0], tmp, sizeof tmp));
	R("pipe write a page then fault", write(p[1], m + 4096 - 100, 4096 + 200));
	R("pipe got whole pages", read(p[0], tmp, sizeof tmp));
	write(p[1], big, 200);
	R("pipe read partial", read(p[0], edge, 200));
	R("pipe read rest", read(p[0], tmp, 200));

	int s[2];
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s);
	R("stream send partial", send(s[0], edge, 200, 0));
	R("stream nothing sent", recv(s[1], tmp, 200, 0));
	write(s[0], big, 200);
	R("stream recv partial", recv(s[1], edge, 200, 0));
	R("stream read partial", read(s[1], edge, 200));
	struct iovec riov[2] = {{tmp, 10}, {m + 2 * 4096, 190}};
	struct msghdr mh = {0};
	mh.msg_iov = riov;
	mh.msg_iovlen = 2;
	R("stream recvmsg partial", recvmsg(s[1], &mh, 0));
	R("stream data stayed", recv(s[1], tmp, 200, 0));
	write(s[0], big, 50);
	R("stream recv that fits", recv(s[1], edge, 200, 0));

	int d[2];
	socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, d);
	write(d[0], big, 200);
	R("dgram recv partial", recv(d[1], edge, 200, 0));
	R("dgram lost", recv(d[1], tmp, 200, 0));
	return compat_done();
}
