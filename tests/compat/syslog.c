/* syslog(2): the actions' argument checks and answers (the log's
 * contents are the kernel's own: only their shape is compared), and
 * EPERM without CAP_SYSLOG under dmesg_restrict. Console actions are
 * left alone: natively they would change the host's console. */
#include "common.h"
#include <sys/klog.h>
#include <sys/wait.h>

int main(void)
{
	char buf[64];
	CHECK("size_buffer", klogctl(10, NULL, 0) > 0);
	CHECK("size_unread", klogctl(9, NULL, 0) >= 0);
	CHECK("read_all_zero_len", klogctl(3, buf, 0) == 0);
	int n = klogctl(3, buf, sizeof buf);
	CHECK("read_all", n >= 0 && n <= (int)sizeof buf);
	CHECK("open", klogctl(1, NULL, 0) == 0);
	CHECK("close", klogctl(0, NULL, 0) == 0);
	EXPECT_ERR("bad_type", klogctl(11, NULL, 0), EINVAL);
	EXPECT_ERR("negative_type", klogctl(-1, NULL, 0), EINVAL);
	EXPECT_ERR("read_all_null", klogctl(3, NULL, 10), EINVAL);
	EXPECT_ERR("read_negative_len", klogctl(2, buf, -1), EINVAL);
	EXPECT_ERR("read_kernel_buffer", klogctl(3, (char *)0xffffffff81000000UL, 10), EFAULT);
	EXPECT_ERR("console_level_range", klogctl(8, NULL, 9), EINVAL);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		if (setuid(65534))
			_exit(2);
		_exit(klogctl(10, NULL, 0) == -1 && errno == EPERM ? 0 : 1);
	}
	int st;
	waitpid(c, &st, 0);
	CHECK("unprivileged_eperm", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return compat_failures > 100 ? 100 : compat_failures;
}
