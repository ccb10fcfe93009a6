/* The fs base a new thread or process starts with (CLONE_SETTLS) and
 * arch_prctl(ARCH_SET_FS) must be user addresses: EPERM from
 * TASK_SIZE_MAX on, non-canonical ones included; a good one works. */
#include "common.h"
#include <asm/prctl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static long clone_tls(unsigned long tls)
{
	long r = syscall(SYS_clone, CLONE_SETTLS | SIGCHLD, 0, 0, 0, tls);
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, 0, 0);
	return r;
}

int main(void)
{
	unsigned long fs;
	EXPECT_ERR("clone_tls_noncanonical", clone_tls(0xffff800000000000UL), EPERM);
	EXPECT_ERR("clone_tls_task_size_max", clone_tls(0x7ffffffff000UL), EPERM);
	CHECK("arch_get_fs", syscall(SYS_arch_prctl, ARCH_GET_FS, &fs) == 0);
	CHECK("clone_tls_own", clone_tls(fs) > 0);
	EXPECT_ERR("set_fs_past_task_size", syscall(SYS_arch_prctl, ARCH_SET_FS, 0x7ffffffff800UL), EPERM);
	EXPECT_ERR("set_gs_noncanonical", syscall(SYS_arch_prctl, ARCH_SET_GS, 0xffff800000000000UL), EPERM);
	return compat_failures > 100 ? 100 : compat_failures;
}
