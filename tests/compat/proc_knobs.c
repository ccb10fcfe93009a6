/* Per-process /proc files a write changes: comm (of the caller, of
 * another thread of its process through task/TID, not of another
 * process) and oom_score_adj (range, read back, inherited by fork). */
#include "common.h"
#include <fcntl.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static long put(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	long r = write(fd, s, strlen(s));
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

static volatile int tid_of_thread, stop;

static void *thread(void *a)
{
	(void)a;
	tid_of_thread = (int)syscall(SYS_gettid);
	while (!stop)
		usleep(1000);
	return NULL;
}

int main(void)
{
	char buf[64], path[64];
	struct stat st;
	CHECK("comm is writable", stat("/proc/self/comm", &st) == 0 && (st.st_mode & 0777) == 0644);
	CHECK("write comm", put("/proc/self/comm", "renamed") == 7);
	read_text("/proc/self/comm", buf, sizeof buf);
	printf("comm now: %s", buf);
	prctl(PR_GET_NAME, buf);
	printf("PR_GET_NAME: %s\n", buf);
	CHECK("a long name", put("/proc/self/comm", "a-name-longer-than-fifteen") == 26);
	read_text("/proc/self/comm", buf, sizeof buf);
	printf("truncated: %s", buf);

	pthread_t t;
	pthread_create(&t, NULL, thread, NULL);
	while (!tid_of_thread)
		usleep(1000);
	snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid_of_thread);
	CHECK("another thread's comm", put(path, "worker") == 6);
	read_text(path, buf, sizeof buf);
	printf("thread comm: %s", buf);
	stop = 1;
	pthread_join(t, NULL);

	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		pause();
		_exit(0);
	}
	snprintf(path, sizeof path, "/proc/%d/comm", (int)c);
	EXPECT_ERR("another process's comm", put(path, "x"), EINVAL);

	CHECK("oom_score_adj is writable", stat("/proc/self/oom_score_adj", &st) == 0 && (st.st_mode & 0777) == 0644);
	/* Raised to the top: never a lowering, whatever it started at. */
	CHECK("raise it", put("/proc/self/oom_score_adj", "1000\n") == 5);
	read_text("/proc/self/oom_score_adj", buf, sizeof buf);
	printf("oom_score_adj now: %s", buf);
	EXPECT_ERR("out of range", put("/proc/self/oom_score_adj", "1001"), EINVAL);
	EXPECT_ERR("not a number", put("/proc/self/oom_score_adj", "abc"), EINVAL);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	fflush(stdout);
	c = fork();
	if (c == 0) {
		read_text("/proc/self/oom_score_adj", buf, sizeof buf);
		printf("inherited: %s", buf);
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	return compat_done();
}
