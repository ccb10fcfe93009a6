/* Scheduler policies and affinity, thread CPU clocks, SEEK_HOLE/SEEK_DATA
 * at the end of a file, a trailing-slash create, the name a program runs
 * under through a symlink, the open-files limit and socket buffer sizes:
 * small differences real programs (CPython's tests, Node) met. */
#include "common.h"
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static void scheduler(void)
{
	struct sched_param p = {0};
	CHECK("getscheduler_self", sched_getscheduler(0) == SCHED_OTHER);
	EXPECT_ERR("getscheduler_neg", sched_getscheduler(-1), EINVAL);
	EXPECT_ERR("getscheduler_missing", sched_getscheduler(999999), ESRCH);
	EXPECT_ERR("setscheduler_bad_policy", sched_setscheduler(0, 42, &p), EINVAL);
	EXPECT_ERR("setscheduler_null", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, NULL), EINVAL);
	EXPECT_ERR("setscheduler_neg", sched_setscheduler(-1, SCHED_OTHER, &p), EINVAL);
	p.sched_priority = 5;
	EXPECT_ERR("setscheduler_other_prio", sched_setscheduler(0, SCHED_OTHER, &p), EINVAL);
	p.sched_priority = 0;
	CHECK("setscheduler_batch", sched_setscheduler(0, SCHED_BATCH, &p) == 0);
	CHECK("getscheduler_batch", sched_getscheduler(0) == SCHED_BATCH);
	CHECK("setscheduler_idle", sched_setscheduler(0, SCHED_IDLE, &p) == 0);
	CHECK("getscheduler_idle", sched_getscheduler(0) == SCHED_IDLE);
	CHECK("setscheduler_reset_on_fork",
	      sched_setscheduler(0, SCHED_OTHER | SCHED_RESET_ON_FORK, &p) == 0);
	CHECK("getscheduler_reset_on_fork",
	      sched_getscheduler(0) == (SCHED_OTHER | SCHED_RESET_ON_FORK));
	CHECK("setscheduler_other", sched_setscheduler(0, SCHED_OTHER, &p) == 0);
	CHECK("getparam", sched_getparam(0, &p) == 0 && p.sched_priority == 0);
	EXPECT_ERR("getparam_neg", sched_getparam(-1, &p), EINVAL);
	p.sched_priority = 3;
	EXPECT_ERR("setparam_other_prio", sched_setparam(0, &p), EINVAL);
	p.sched_priority = 0;
	CHECK("setparam_other", sched_setparam(0, &p) == 0);
	struct timespec ts;
	CHECK("rr_interval_self", sched_rr_get_interval(0, &ts) == 0);
	EXPECT_ERR("rr_interval_neg", sched_rr_get_interval(-1, &ts), EINVAL);
	EXPECT_ERR("rr_interval_missing", sched_rr_get_interval(999999, &ts), ESRCH);
	/* A child that drops to an unprivileged uid may not pick SCHED_RR. */
	pid_t pid = fork();
	if (pid == 0) {
		if (setuid(65534) != 0)
			_exit(2);
		struct sched_param q = {.sched_priority = 10};
		int r = sched_setscheduler(0, SCHED_RR, &q);
		_exit(r == -1 && errno == EPERM ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK("rr_needs_privilege", WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void affinity(void)
{
	cpu_set_t all, one, got;
	CHECK("getaffinity", sched_getaffinity(0, sizeof all, &all) == 0);
	EXPECT_ERR("getaffinity_neg", syscall(SYS_sched_getaffinity, -1, sizeof all, &all), ESRCH);
	EXPECT_ERR("getaffinity_missing", sched_getaffinity(999999, sizeof all, &all), ESRCH);
	EXPECT_ERR("getaffinity_odd_len", syscall(SYS_sched_getaffinity, 0, 7, &all), EINVAL);
	long n = syscall(SYS_sched_getaffinity, 0, sizeof all, &all);
	CHECK("getaffinity_returns_mask_bytes", n > 0 && n % 8 == 0);
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	CHECK("setaffinity_cpu0", sched_setaffinity(0, sizeof one, &one) == 0);
	CHECK("getaffinity_is_what_was_set",
	      sched_getaffinity(0, sizeof got, &got) == 0 && CPU_COUNT(&got) == 1 && CPU_ISSET(0, &got));
	/* Another thread keeps its own mask. */
	cpu_set_t empty;
	CPU_ZERO(&empty);
	EXPECT_ERR("setaffinity_empty", sched_setaffinity(0, sizeof empty, &empty), EINVAL);
	EXPECT_ERR("setaffinity_missing", sched_setaffinity(999999, sizeof one, &one), ESRCH);
	pid_t pid = fork();
	if (pid == 0) {
		cpu_set_t c;
		_exit(sched_getaffinity(0, sizeof c, &c) == 0 && CPU_COUNT(&c) == 1 ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK("affinity_inherited_by_fork", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK("setaffinity_all_again", sched_setaffinity(0, sizeof all, &all) == 0);
	CHECK("getaffinity_all_again",
	      sched_getaffinity(0, sizeof got, &got) == 0 && CPU_EQUAL(&got, &all));
}

static int go[2];

static void *thread_clock(void *arg)
{
	(void)arg;
	volatile long x = 0;
	for (long i = 0; i < 3000000; i++)
		x += i;
	char c;
	read(go[0], &c, 1); /* lives until its clock has been read */
	return NULL;
}

static void cpu_clocks(void)
{
	clockid_t cid;
	struct timespec ts;
	CHECK("getcpuclockid_self", pthread_getcpuclockid(pthread_self(), &cid) == 0);
	CHECK("thread_cpu_clock_reads", clock_gettime(cid, &ts) == 0 && (ts.tv_sec > 0 || ts.tv_nsec > 0));
	CHECK("thread_cpu_clock_res", clock_getres(cid, &ts) == 0);
	pthread_t t;
	pipe(go);
	pthread_create(&t, NULL, thread_clock, NULL);
	CHECK("other_thread_cpuclockid", pthread_getcpuclockid(t, &cid) == 0);
	CHECK("other_thread_cpu_clock_reads", clock_gettime(cid, &ts) == 0);
	write(go[1], "x", 1);
	pthread_join(t, NULL);
	CHECK("process_cpu_clock_reads",
	      clock_getcpuclockid(getpid(), &cid) == 0 && clock_gettime(cid, &ts) == 0);
	/* A thread id that does not exist. */
	clockid_t bad = ((~(clockid_t)999999) << 3) | 6;
	EXPECT_ERR("missing_thread_clock", clock_gettime(bad, &ts), EINVAL);
}

static void seek_holes(void)
{
	char path[] = "/tmp/sched_misc_XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	CHECK("write_dense", write(fd, "0123456789", 10) == 10);
	CHECK("seek_hole_in_data_is_eof", lseek(fd, 2, SEEK_HOLE) == 10);
	CHECK("seek_data_in_data", lseek(fd, 3, SEEK_DATA) == 3);
	EXPECT_ERR("seek_hole_at_eof", lseek(fd, 10, SEEK_HOLE), ENXIO);
	EXPECT_ERR("seek_data_at_eof", lseek(fd, 10, SEEK_DATA), ENXIO);
	EXPECT_ERR("seek_hole_past_eof", lseek(fd, 100, SEEK_HOLE), ENXIO);
	EXPECT_ERR("seek_data_negative", lseek(fd, -1, SEEK_DATA), ENXIO);
	close(fd);
}

static void trailing_slash(void)
{
	EXPECT_ERR("create_trailing_slash", open("/tmp/sched_misc_missing/", O_CREAT | O_WRONLY, 0600), EISDIR);
	EXPECT_ERR("create_trailing_slash_excl",
		   open("/tmp/sched_misc_missing/", O_CREAT | O_EXCL | O_WRONLY, 0600), EISDIR);
	CHECK("nothing_created", access("/tmp/sched_misc_missing", F_OK) == -1);
}

static void comm_through_symlink(const char *self)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return;
	exe[n] = 0;
	char link[] = "/tmp/sched_misc_link";
	unlink(link);
	CHECK("symlink", symlink(exe, link) == 0);
	int p[2];
	pipe(p);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		execl(link, self, "comm", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char buf[64] = {0};
	ssize_t r = read(p[0], buf, sizeof buf - 1);
	waitpid(pid, NULL, 0);
	unlink(link);
	CHECK("comm_is_the_name_executed", r > 0 && strcmp(buf, "sched_misc_link\n") == 0);
}

static void limits(void)
{
	struct rlimit r;
	getrlimit(RLIMIT_NOFILE, &r);
	/* Inherited from the host as runc does: the same on both sides. */
	printf("nofile %llu %llu\n", (unsigned long long)r.rlim_cur, (unsigned long long)r.rlim_max);
}

static void socket_buffers(void)
{
	int sv[2];
	CHECK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	int v = 0;
	socklen_t l = sizeof v;
	CHECK("sndbuf_default_large", getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &l) == 0 && v >= 200000);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	static char chunk[4096];
	long total = 0;
	int err = 0;
	for (;;) {
		ssize_t w = write(sv[0], chunk, sizeof chunk);
		if (w <= 0) {
			err = errno;
			break;
		}
		total += w;
	}
	CHECK("holds_over_100k_without_reader", total > 100000 && err == EAGAIN);
	int small = 4096;
	CHECK("set_sndbuf", setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
	l = sizeof v;
	CHECK("sndbuf_doubled", getsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &v, &l) == 0 && v == 8192);
	close(sv[0]);
	close(sv[1]);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "comm") == 0) {
		char c[32] = {0};
		int fd = open("/proc/self/comm", O_RDONLY);
		read(fd, c, sizeof c - 1);
		fputs(c, stdout);
		return 0;
	}
	scheduler();
	affinity();
	cpu_clocks();
	seek_holes();
	trailing_slash();
	comm_through_symlink(argv[0]);
	limits();
	socket_buffers();
	return compat_done();
}
