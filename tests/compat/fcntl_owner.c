/* fcntl F_SETOWN/F_GETOWN (and the _EX forms) and F_SETSIG/F_GETSIG:
 * the owner must exist and is reported back as set. ioctl FIOASYNC is
 * F_SETFL's O_ASYNC (nginx sets it on a socketpair). */
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

int main(void)
{
	int p[2];
	CHECK("pipe", pipe(p) == 0);
	SHOW("getown_default", "%d", fcntl(p[0], F_GETOWN));
	CHECK("setown_self", fcntl(p[0], F_SETOWN, getpid()) == 0);
	CHECK("getown_self", fcntl(p[0], F_GETOWN) == getpid());
	CHECK("setown_pgrp", fcntl(p[0], F_SETOWN, -getpgrp()) == 0);
	CHECK("getown_pgrp", fcntl(p[0], F_GETOWN) == -getpgrp());
	struct f_owner_ex ex;
	CHECK("getown_ex", fcntl(p[0], F_GETOWN_EX, &ex) == 0 && ex.type == F_OWNER_PGRP && ex.pid == getpgrp());
	ex.type = F_OWNER_TID;
	ex.pid = gettid();
	CHECK("setown_ex_tid", fcntl(p[0], F_SETOWN_EX, &ex) == 0);
	CHECK("getown_after_tid", fcntl(p[0], F_GETOWN) == gettid());
	ex.type = 7;
	EXPECT_ERR("setown_ex_bad_type", fcntl(p[0], F_SETOWN_EX, &ex), EINVAL);
	EXPECT_ERR("setown_missing", fcntl(p[0], F_SETOWN, 999999), ESRCH);
	CHECK("setown_zero", fcntl(p[0], F_SETOWN, 0) == 0 && fcntl(p[0], F_GETOWN) == 0);
	CHECK("setsig", fcntl(p[0], F_SETSIG, SIGUSR1) == 0);
	SHOW("getsig", "%d", fcntl(p[0], F_GETSIG));
	EXPECT_ERR("setsig_bad", fcntl(p[0], F_SETSIG, 1000), EINVAL);
	int sv[2], on = 1, off = 0;
	CHECK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK("fioasync_on", ioctl(sv[0], FIOASYNC, &on) == 0);
	CHECK("fioasync_flag", (fcntl(sv[0], F_GETFL) & O_ASYNC) != 0);
	CHECK("fioasync_off", ioctl(sv[0], FIOASYNC, &off) == 0);
	CHECK("fioasync_cleared", (fcntl(sv[0], F_GETFL) & O_ASYNC) == 0);
	EXPECT_ERR("fioasync_fault", ioctl(sv[0], FIOASYNC, (void *)8), EFAULT);
	EXPECT_ERR("fioasync_badf", ioctl(999, FIOASYNC, &on), EBADF);
	return compat_done();
}
