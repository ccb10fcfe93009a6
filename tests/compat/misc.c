/* uname, getrandom, sysinfo, scheduler, getcpu, priorities, personality. */
#include "common.h"
#include <sched.h>
#include <sys/personality.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>

int main(void)
{
	struct utsname u;
	CHECK("uname", uname(&u) == 0);
	printf("sysname %s\n", u.sysname);
	printf("machine %s\n", u.machine);
	CHECK("uname_release_nonempty", u.release[0] != 0 && u.nodename[0] != 0);
	EXPECT_ERR("uname_efault", syscall(SYS_uname, BADPTR), EFAULT);

	unsigned char buf[256];
	memset(buf, 0, sizeof(buf));
	CHECK("getrandom_256", getrandom(buf, sizeof(buf), 0) == 256);
	int nz = 0;
	for (int i = 0; i < 256; i++)
		nz += buf[i] != 0;
	CHECK("getrandom_nonzero_bytes", nz > 200);
	unsigned char buf2[256];
	getrandom(buf2, sizeof(buf2), GRND_NONBLOCK);
	CHECK("getrandom_differs", memcmp(buf, buf2, 256) != 0);
	EXPECT_ERR("getrandom_efault", getrandom(BADPTR, 16, 0), EFAULT);
	EXPECT_ERR("getrandom_bad_flags", getrandom(buf, 16, 0x100), EINVAL);
	SHOW("getrandom_zero_len", "%zd", getrandom(buf, 0, 0));

	struct sysinfo si;
	CHECK("sysinfo", sysinfo(&si) == 0);
	printf("sysinfo uptime_pos=%d totalram_pos=%d free_le_total=%d procs_pos=%d unit_pos=%d\n",
	       si.uptime > 0, si.totalram > 0, si.freeram <= si.totalram, si.procs > 0, si.mem_unit > 0);
	EXPECT_ERR("sysinfo_efault", sysinfo(BADPTR), EFAULT);

	cpu_set_t set;
	CPU_ZERO(&set);
	CHECK("sched_getaffinity", sched_getaffinity(0, sizeof(set), &set) == 0);
	CHECK("affinity_count_positive", CPU_COUNT(&set) > 0);
	CHECK("nprocs_positive", sysconf(_SC_NPROCESSORS_ONLN) > 0);
	EXPECT_ERR("sched_getaffinity_small", syscall(SYS_sched_getaffinity, 0, 1, &set), EINVAL);
	EXPECT_ERR("sched_getaffinity_esrch", sched_getaffinity(0x3fffffff, sizeof(set), &set), ESRCH);
	CHECK("sched_setaffinity_same", sched_setaffinity(0, sizeof(set), &set) == 0);
	CHECK("sched_yield", sched_yield() == 0);
	SHOW("sched_getscheduler", "%d", sched_getscheduler(0));
	struct sched_param sp;
	CHECK("sched_getparam", sched_getparam(0, &sp) == 0 && sp.sched_priority == 0);
	SHOW("sched_prio_max_fifo", "%d", sched_get_priority_max(SCHED_FIFO));
	SHOW("sched_prio_min_fifo", "%d", sched_get_priority_min(SCHED_FIFO));

	unsigned cpu = 9999, node = 9999;
	CHECK("getcpu", syscall(SYS_getcpu, &cpu, &node, NULL) == 0);
	CHECK("getcpu_in_affinity", cpu < CPU_SETSIZE && CPU_ISSET(cpu, &set));
	CHECK("sched_getcpu", sched_getcpu() >= 0);

	errno = 0;
	int pr = getpriority(PRIO_PROCESS, 0);
	CHECK("getpriority", errno == 0 && pr >= -20 && pr <= 19);
	CHECK("setpriority_raise_nice", setpriority(PRIO_PROCESS, 0, pr < 19 ? pr + 1 : 19) == 0);
	CHECK("getpriority_after", getpriority(PRIO_PROCESS, 0) == (pr < 19 ? pr + 1 : 19));
	EXPECT_ERR("getpriority_bad_which", getpriority(99, 0), EINVAL);
	EXPECT_ERR("getpriority_esrch", getpriority(PRIO_PROCESS, 0x3fffffff), ESRCH);

	SHOW("personality_query", "%#x", personality(0xffffffff));
	SHOW("sysconf_pagesize", "%ld", sysconf(_SC_PAGESIZE));
	char host[256];
	CHECK("gethostname", gethostname(host, sizeof(host)) == 0 && strcmp(host, u.nodename) == 0);
	EXPECT_ERR("syscall_enosys", syscall(1000), ENOSYS);
	EXPECT_ERR("syscall_negative_enosys", syscall(-1), ENOSYS);
	return compat_done();
}
