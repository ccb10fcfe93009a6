/* Sockets sent over themselves and closed: cycles only their own queues
 * reach, which Linux's collector frees, and husk's (local/gc.rs) too, so
 * the sentry's memory does not grow; were they kept, the files in flight
 * (RLIMIT_NOFILE) would bound them with ETOOMANYREFS. Prints how many
 * sends went through, were refused, or failed otherwise. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
	long sent = 0, refused = 0, other = 0;
	char cbuf[CMSG_SPACE(sizeof(int))];
	for (int i = 0; i < 200000; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
			other++;
			break;
		}
		struct iovec iov = {"x", 1};
		struct msghdr m = {0};
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = cbuf;
		m.msg_controllen = sizeof cbuf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &sv[1], sizeof(int));
		if (sendmsg(sv[0], &m, 0) == 1)
			sent++;
		else if (errno == ETOOMANYREFS)
			refused++;
		else
			other++;
		close(sv[0]);
		close(sv[1]);
	}
	printf("sent %ld refused %ld other %ld\n", sent, refused, other);
	return 0;
}
