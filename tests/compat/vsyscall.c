/* The legacy vsyscall page: old static binaries call time(),
 * gettimeofday() and getcpu() at fixed addresses, which the kernel
 * emulates. They must work (not kill the process) and agree with the
 * syscalls. */
#include "common.h"
#include <sys/time.h>
#include <time.h>

int main(void)
{
	time_t (*vtime)(time_t *) = (void *)0xffffffffff600400;
	int (*vgtod)(struct timeval *, void *) = (void *)0xffffffffff600000;
	long (*vgetcpu)(unsigned *, unsigned *, void *) = (void *)0xffffffffff600800;
	time_t stored = 0;
	time_t t = vtime(&stored);
	CHECK("time_agrees", t == stored && t - time(NULL) <= 1 && time(NULL) - t <= 1);
	struct timeval tv;
	CHECK("gettimeofday_ok", vgtod(&tv, NULL) == 0);
	CHECK("gettimeofday_agrees", tv.tv_sec - time(NULL) <= 1 && time(NULL) - tv.tv_sec <= 1 && tv.tv_usec < 1000000);
	unsigned cpu = 1000, node = 1000;
	CHECK("getcpu_ok", vgetcpu(&cpu, &node, NULL) == 0);
	CHECK("getcpu_in_range", cpu < (unsigned)sysconf(_SC_NPROCESSORS_CONF) && node == 0);
	return compat_done();
}
