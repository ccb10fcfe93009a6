/* Time namespaces: unshare(CLONE_NEWTIME) makes the namespace forked
 * children enter; /proc/self/timens_offsets sets its CLOCK_MONOTONIC and
 * CLOCK_BOOTTIME offsets (bad clocks and nanoseconds EINVAL, a clock
 * taken below zero ERANGE) until a task enters (then EACCES); a child
 * reads the clocks with the offsets (through the vDSO and the system
 * call), CLOCK_REALTIME without; absolute sleeps and timerfds use the
 * namespace's clock; setns back to the first namespace needs a single
 * thread (EUSERS) and undoes the offsets. Run as root. */
#include "common.h"
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>

static long long now_ns(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long long sys_ns(clockid_t c)
{
	struct timespec t;
	syscall(SYS_clock_gettime, c, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int put(const char *s)
{
	return compat_write_file("/proc/self/timens_offsets", s);
}

static int near(long long a, long long b)
{
	long long d = a - b;
	return d > -3000000000LL && d < 3000000000LL;
}

static void *idle(void *p)
{
	pause();
	return p;
}

#define DAY 86400000000000LL

int main(void)
{
	char before[64] = "", after[64] = "", kid[64] = "";
	readlink("/proc/self/ns/time", before, sizeof before - 1);
	long long m0 = now_ns(CLOCK_MONOTONIC), b0 = now_ns(CLOCK_BOOTTIME);
	CHECK("unshare(CLONE_NEWTIME)", unshare(CLONE_NEWTIME) == 0);
	readlink("/proc/self/ns/time", after, sizeof after - 1);
	CHECK("own time namespace unchanged", strcmp(before, after) == 0);
	readlink("/proc/self/ns/time_for_children", kid, sizeof kid - 1);
	CHECK("time_for_children is another", strcmp(kid, before) != 0 && !strncmp(kid, "time:[", 6));
	EXPECT_ERR("realtime offset", put("realtime 1 0"), EINVAL);
	EXPECT_ERR("nanoseconds past a second", put("monotonic 1 1000000000"), EINVAL);
	EXPECT_ERR("monotonic below zero", put("monotonic -9000000000 0"), ERANGE);
	CHECK("set monotonic +1 day", put("monotonic 86400 0") == 0);
	CHECK("set boottime +2 days by number", put("7 172800 0") == 0);
	char buf[256] = "";
	int fd = open("/proc/self/timens_offsets", O_RDONLY);
	int n = read(fd, buf, sizeof buf - 1);
	close(fd);
	CHECK("offsets read back",
	      n > 0 && !strcmp(buf, "monotonic       86400         0\nboottime       172800         0\n"));
	CHECK("the caller's clock is unchanged", near(now_ns(CLOCK_MONOTONIC), m0));
	/* A process's file only: a thread's directory neither has nor lists it. */
	char tpath[64];
	snprintf(tpath, sizeof tpath, "/proc/self/task/%d/timens_offsets", (int)gettid());
	EXPECT_ERR("no timens_offsets per thread", open(tpath, O_RDONLY), ENOENT);
	snprintf(tpath, sizeof tpath, "/proc/self/task/%d", (int)gettid());
	DIR *td = opendir(tpath);
	int listed = 0;
	for (struct dirent *e; td && (e = readdir(td));)
		listed |= !strcmp(e->d_name, "timens_offsets");
	if (td)
		closedir(td);
	CHECK("a thread's directory does not list it", td && !listed);
	pid_t p = fork();
	if (p == 0) {
		compat_failures = 0;
		char mine[64] = "";
		readlink("/proc/self/ns/time", mine, sizeof mine - 1);
		CHECK("the child is in it", strcmp(mine, kid) == 0);
		CHECK("vDSO monotonic +1 day", near(now_ns(CLOCK_MONOTONIC), m0 + DAY));
		CHECK("syscall monotonic +1 day", near(sys_ns(CLOCK_MONOTONIC), m0 + DAY));
		CHECK("monotonic raw and coarse too", near(now_ns(CLOCK_MONOTONIC_RAW), m0 + DAY) &&
							     near(now_ns(CLOCK_MONOTONIC_COARSE), m0 + DAY));
		CHECK("boottime +2 days", near(now_ns(CLOCK_BOOTTIME), b0 + 2 * DAY));
		CHECK("realtime unchanged", near(now_ns(CLOCK_REALTIME), sys_ns(CLOCK_REALTIME)));
		long long t0 = now_ns(CLOCK_MONOTONIC);
		struct timespec until = {(t0 + 50000000) / 1000000000, (t0 + 50000000) % 1000000000};
		CHECK("absolute sleep on the namespace's clock",
		      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == 0 &&
			      now_ns(CLOCK_MONOTONIC) - t0 < 2000000000LL);
		int tf = timerfd_create(CLOCK_MONOTONIC, 0);
		t0 = now_ns(CLOCK_MONOTONIC);
		struct itimerspec its = {{0, 0}, {(t0 + 30000000) / 1000000000, (t0 + 30000000) % 1000000000}};
		unsigned long long ticks = 0;
		CHECK("absolute timerfd fires on time",
		      timerfd_settime(tf, TFD_TIMER_ABSTIME, &its, NULL) == 0 &&
			      read(tf, &ticks, 8) == 8 && ticks == 1 && now_ns(CLOCK_MONOTONIC) - t0 < 2000000000LL);
		EXPECT_ERR("offsets fixed once entered", put("monotonic 1 0"), EACCES);
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/ns/time", getppid());
		int nsfd = open(path, O_RDONLY);
		pthread_t th;
		pthread_create(&th, NULL, idle, NULL);
		EXPECT_ERR("setns with two threads", setns(nsfd, CLONE_NEWTIME), EUSERS);
		_exit(compat_failures);
	}
	int st = 0;
	waitpid(p, &st, 0);
	int fails = WIFEXITED(st) ? WEXITSTATUS(st) : 100;
	CHECK("the child's checks", fails == 0);
	EXPECT_ERR("offsets fixed once a child entered", put("monotonic 1 0"), EACCES);
	p = fork();
	if (p == 0) {
		compat_failures = 0;
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/ns/time", getppid());
		int nsfd = open(path, O_RDONLY);
		CHECK("setns back to the first", setns(nsfd, CLONE_NEWTIME) == 0);
		CHECK("monotonic back without offset", near(now_ns(CLOCK_MONOTONIC), sys_ns(CLOCK_MONOTONIC)) &&
							       now_ns(CLOCK_MONOTONIC) < m0 + DAY / 2);
		_exit(compat_failures);
	}
	waitpid(p, &st, 0);
	fails = WIFEXITED(st) ? WEXITSTATUS(st) : 100;
	CHECK("the second child's checks", fails == 0);
	/* A vfork child shares its parent's memory: EUSERS. */
	int kidfd = open("/proc/self/ns/time_for_children", O_RDONLY);
	p = vfork();
	if (p == 0)
		_exit(setns(kidfd, CLONE_NEWTIME) == -1 && errno == EUSERS ? 0 : 1);
	waitpid(p, &st, 0);
	CHECK("setns from a vfork child is EUSERS", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(kidfd);
	return compat_failures + fails;
}
