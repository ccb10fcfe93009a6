/* fcntl F_SETOWN/F_GETOWN (and the _EX forms) and F_SETSIG/F_GETSIG:
 * the owner must exist and is reported back as set. ioctl FIOASYNC is
 * F_SETFL's O_ASYNC (nginx sets it on a socketpair). */
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <pthread.h>

static volatile pid_t thread_id;

static void *park(void *arg)
{
	(void)arg;
	thread_id = gettid();
	pause();
	return NULL;
}

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
	/* Another thread's id as a process (or group) owner is taken and
	 * names no one (F_GETOWN reads 0); as F_OWNER_TID it is the thread. */
	{
		pthread_t th;
		pthread_create(&th, NULL, park, NULL);
		while (!thread_id)
			usleep(1000);
		int tp[2];
		pipe(tp);
		CHECK("setown_thread_id", fcntl(tp[0], F_SETOWN, thread_id) == 0 && fcntl(tp[0], F_GETOWN) == 0);
		struct f_owner_ex ex = {F_OWNER_TID, thread_id};
		CHECK("setown_ex_tid", fcntl(tp[0], F_SETOWN_EX, &ex) == 0 && fcntl(tp[0], F_GETOWN_EX, &ex) == 0 && ex.pid == thread_id);
		close(tp[0]);
		close(tp[1]);
	}
	return compat_done();
}
