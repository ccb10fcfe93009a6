/* sched_setattr and sched_getattr: policies, real-time priorities and
 * nice values through struct sched_attr, its sizes (older, newer, larger
 * with zeros, larger with data: E2BIG and the size written back), the
 * keep flags, and the errors. */
#include "common.h"
#include <sched.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>

struct attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t prio;
	uint64_t runtime, deadline, period;
	uint32_t util_min, util_max;
	char extra[8];
};

static long setattr(pid_t p, struct attr *a) { return syscall(SYS_sched_setattr, p, a, 0); }
static long getattr(pid_t p, struct attr *a, unsigned size) { return syscall(SYS_sched_getattr, p, a, size, 0); }

int main(void)
{
	struct attr a;
	memset(&a, 0xee, sizeof a);
	CHECK("getattr", getattr(0, &a, 56) == 0);
	CHECK("default", a.size == 56 && a.policy == SCHED_OTHER && a.flags == 0 && a.nice == 0 && a.prio == 0 && a.util_max == 0);
	memset(&a, 0xee, sizeof a);
	CHECK("getattr old size", getattr(0, &a, 48) == 0 && a.size == 48 && (unsigned char)a.util_min == 0xee);
	memset(&a, 0xee, sizeof a);
	CHECK("getattr larger, zero-filled", getattr(0, &a, 64) == 0 && a.size == 56 && a.extra[0] == 0 && a.extra[7] == 0);
	EXPECT_ERR("getattr too small", getattr(0, &a, 40), EINVAL);
	EXPECT_ERR("getattr flags", syscall(SYS_sched_getattr, 0, &a, 56, 1), EINVAL);
	EXPECT_ERR("getattr null", getattr(0, NULL, 56), EINVAL);
	EXPECT_ERR("getattr no pid", getattr(999999, &a, 56), ESRCH);

	memset(&a, 0, sizeof a);
	a.size = 56;
	a.policy = SCHED_BATCH;
	a.nice = 5;
	CHECK("batch nice 5", setattr(0, &a) == 0);
	CHECK("getpriority", getpriority(PRIO_PROCESS, 0) == 5 && sched_getscheduler(0) == SCHED_BATCH);
	memset(&a, 0, sizeof a);
	a.size = 48;
	a.policy = SCHED_FIFO;
	a.prio = 10;
	CHECK("fifo 10, old size", setattr(0, &a) == 0);
	memset(&a, 0, sizeof a);
	getattr(0, &a, 56);
	CHECK("read back", a.policy == SCHED_FIFO && a.prio == 10);
	a.size = 56;
	a.flags = 0x10 | 1; /* keep params, reset on fork */
	a.policy = SCHED_RR;
	a.prio = 50;
	CHECK("keep params", setattr(0, &a) == 0 && getattr(0, &a, 56) == 0 && a.policy == SCHED_FIFO && a.prio == 10 && a.flags == 1);
	a.flags = 0x08; /* keep policy (and reset on fork) */
	a.prio = 20;
	CHECK("keep policy", setattr(0, &a) == 0 && getattr(0, &a, 56) == 0 && a.policy == SCHED_FIFO && a.prio == 20 && a.flags == 1);
	memset(&a, 0, sizeof a);
	a.size = 64;
	a.policy = SCHED_OTHER;
	CHECK("larger with zeros", setattr(0, &a) == 0);
	a.extra[3] = 1;
	EXPECT_ERR("larger with data", setattr(0, &a), E2BIG);
	CHECK("size written back", a.size == 56);
	a.size = 20;
	EXPECT_ERR("too small", setattr(0, &a), E2BIG);
	memset(&a, 0, sizeof a);
	a.size = 56;
	a.policy = SCHED_FIFO;
	EXPECT_ERR("fifo priority 0", setattr(0, &a), EINVAL);
	a.policy = SCHED_OTHER;
	a.prio = 3;
	EXPECT_ERR("other with priority", setattr(0, &a), EINVAL);
	a.prio = 0;
	a.flags = 0x1000;
	EXPECT_ERR("unknown flag", setattr(0, &a), EINVAL);
	a.flags = 0;
	a.policy = 77;
	EXPECT_ERR("bad policy", setattr(0, &a), EINVAL);
	EXPECT_ERR("setattr flags", syscall(SYS_sched_setattr, 0, &a, 1), EINVAL);
	EXPECT_ERR("setattr null", setattr(0, NULL), EINVAL);
	EXPECT_ERR("setattr bad pointer", setattr(0, BADPTR), EFAULT);
	return compat_done();
}
