/* fcntl F_SETOWN/F_GETOWN (and the _EX forms) and F_SETSIG/F_GETSIG:
 * the owner must exist and is reported back as set. */
#include "common.h"
#include <fcntl.h>
#include <signal.h>

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
	return compat_done();
}
