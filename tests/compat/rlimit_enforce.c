/* Resource limits that act: RLIMIT_DATA (brk, private writable mmap,
 * mremap; shared and read-only mappings are not data), RLIMIT_NPROC
 * (fork as an unprivileged user) and RLIMIT_CPU (SIGXCPU at the soft
 * limit, which then moves a second on; SIGKILL at the hard one). */
#include "common.h"
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

static void data(void)
{
	pid_t c = fork();
	if (c == 0) {
		struct rlimit rl = {8 << 20, RLIM_INFINITY};
		setrlimit(RLIMIT_DATA, &rl);
		void *before = sbrk(0);
		printf("sbrk 16M: %s\n", sbrk(16 << 20) == (void *)-1 ? ename(errno) : "ok");
		printf("brk unmoved: %d\n", sbrk(0) == before);
		void *p = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		printf("private writable 16M: %s\n", p == MAP_FAILED ? ename(errno) : "ok");
		p = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		printf("shared writable 16M: %s\n", p == MAP_FAILED ? ename(errno) : "ok");
		p = mmap(NULL, 16 << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		printf("private read-only 16M: %s\n", p == MAP_FAILED ? ename(errno) : "ok");
		char *s = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		printf("private writable 1M: %s\n", s == MAP_FAILED ? ename(errno) : "ok");
		void *g = mremap(s, 1 << 20, 32 << 20, MREMAP_MAYMOVE);
		printf("grown to 32M: %s\n", g == MAP_FAILED ? ename(errno) : "ok");
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, NULL, 0);
}

static void nproc(void)
{
	pid_t c = fork();
	if (c == 0) {
		struct rlimit rl = {1, 1};
		setrlimit(RLIMIT_NPROC, &rl);
		if (setuid(65534) != 0) {
			printf("setuid: %s\n", ename(errno));
			_exit(1);
		}
		pid_t g = fork();
		if (g == 0)
			_exit(0);
		printf("fork past RLIMIT_NPROC: %s\n", g < 0 ? ename(errno) : "ok");
		if (g > 0)
			waitpid(g, NULL, 0);
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	c = fork();
	if (c == 0) {
		/* Root is not held to it. */
		struct rlimit rl = {1, 1};
		setrlimit(RLIMIT_NPROC, &rl);
		pid_t g = fork();
		if (g == 0)
			_exit(0);
		printf("root forks past it: %s\n", g < 0 ? ename(errno) : "ok");
		if (g > 0)
			waitpid(g, NULL, 0);
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, NULL, 0);
}

static volatile int xcpu;
static void on_xcpu(int s)
{
	(void)s;
	xcpu++;
}

static double cpu_secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void cpu(void)
{
	pid_t c = fork();
	if (c == 0) {
		signal(SIGXCPU, on_xcpu);
		struct rlimit rl = {1, 3};
		setrlimit(RLIMIT_CPU, &rl);
		while (xcpu < 1 && cpu_secs() < 5)
			;
		printf("SIGXCPU at the soft limit: %d\n", xcpu);
		getrlimit(RLIMIT_CPU, &rl);
		printf("soft limit now %ld\n", (long)rl.rlim_cur);
		while (xcpu < 2 && cpu_secs() < 5)
			;
		printf("again a second later: %d\n", xcpu);
		fflush(stdout);
		for (;;)
			;
	}
	int st;
	waitpid(c, &st, 0);
	printf("at the hard limit: %s\n", WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "exited");
}

int main(void)
{
	data();
	nproc();
	cpu();
	return compat_done();
}
