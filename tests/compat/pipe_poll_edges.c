/* Small edges: poll's nfds is an unsigned int (the register's high half
 * is not looked at), and pipe2(O_DIRECT) puts O_DIRECT on the write end
 * only. */
#include "common.h"
#include <poll.h>
#include <sys/syscall.h>

int main(void)
{
	int p[2];
	CHECK("pipe2_direct", pipe2(p, O_DIRECT) == 0);
	SHOW("read_end_flags", "%o", fcntl(p[0], F_GETFL));
	SHOW("write_end_flags", "%o", fcntl(p[1], F_GETFL));
	/* Packets all the same. */
	write(p[1], "ab", 2);
	write(p[1], "cd", 2);
	char b[8];
	CHECK("packet_read", read(p[0], b, sizeof b) == 2);
	CHECK("packet_read2", read(p[0], b, sizeof b) == 2);

	struct pollfd fd = {p[1], POLLOUT, 0};
	long r = syscall(SYS_poll, &fd, (1UL << 32) | 1, 0);
	CHECK("poll_nfds_high_bits", r == 1 && fd.revents == POLLOUT);
	EXPECT_ERR("poll_nfds_too_many", syscall(SYS_poll, &fd, 1UL << 31, 0), EINVAL);
	return compat_done();
}
