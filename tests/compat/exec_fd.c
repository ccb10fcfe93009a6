/* Executing an open file: execveat(fd, "", AT_EMPTY_PATH) of a memfd
 * and of a removed file, execve of /proc/self/fd/N, scripts run through
 * an fd (the interpreter is given /dev/fd/N; ENOENT when that fd closes
 * at exec), and what exec leaves of an ignored signal's action. */
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static char *const env[] = {NULL};

/* A copy of /bin/true in `fd`. */
static void copy_true(int fd)
{
	int a = open("/bin/true", O_RDONLY);
	char b[65536];
	ssize_t n;
	while ((n = read(a, b, sizeof b)) > 0)
		if (write(fd, b, n) != n)
			break;
	close(a);
}

/* Runs `fn` in a child; its exit status, or -signal. */
static int in_child(void (*fn)(void *), void *arg)
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		fn(arg);
		_exit(99);
	}
	int st;
	waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

static void exec_fd(void *p)
{
	char *const av[] = {"true", NULL};
	syscall(SYS_execveat, *(int *)p, "", av, env, AT_EMPTY_PATH);
	printf("execveat: %s\n", ename(errno));
	fflush(stdout);
	_exit(98);
}

static void exec_path(void *p)
{
	char *const av[] = {"true", NULL};
	execve(p, av, env);
	printf("execve: %s\n", ename(errno));
	fflush(stdout);
	_exit(98);
}

/* execs /bin/true with (arg & 0xffff) KiB of arguments under a stack
 * limit of (arg & ~0xffff) bytes (0: unlimited); exits 100 + errno. */
static void big_args(void *arg)
{
	unsigned long a = (unsigned long)arg, kib = a & 0xffff, lim = a & ~0xffffUL;
	struct rlimit rl = {lim ? lim : RLIM_INFINITY, RLIM_INFINITY};
	setrlimit(RLIMIT_STACK, &rl);
	size_t n = kib / 64;
	char **av = calloc(n + 2, sizeof *av);
	char *s = malloc(65536);
	memset(s, 'a', 65535);
	s[65535] = 0;
	av[0] = "true";
	for (size_t i = 1; i <= n; i++)
		av[i] = s;
	execve("/bin/true", av, env);
	_exit(100 + errno);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "child")) {
		struct sigaction o;
		sigaction(SIGHUP, NULL, &o);
		printf("after exec: ignored %d flags %#x\n", o.sa_handler == SIG_IGN, o.sa_flags);
		return 0;
	}

	int m = memfd_create("prog", 0);
	copy_true(m);
	CHECK("a memfd runs", in_child(exec_fd, &m) == 0);
	close(m);

	int f = open("/tmp/exec_fd_prog", O_RDWR | O_CREAT | O_TRUNC, 0755);
	copy_true(f);
	close(f);
	f = open("/tmp/exec_fd_prog", O_RDONLY);
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", f);
	CHECK("/proc/self/fd/N runs", in_child(exec_path, p) == 0);
	unlink("/tmp/exec_fd_prog");
	CHECK("a removed file runs by its fd", in_child(exec_fd, &f) == 0);
	close(f);

	int pf = open("/bin/true", O_PATH);
	CHECK("an O_PATH fd runs", in_child(exec_fd, &pf) == 0);
	close(pf);

	/* Scripts through an fd. */
	int s = open("/tmp/exec_fd_script", O_RDWR | O_CREAT | O_TRUNC, 0755);
	if (write(s, "#!/bin/echo\n", 12) != 12)
		return 1;
	close(s);
	s = open("/tmp/exec_fd_script", O_RDONLY);
	if (s != 3)
		dup2(s, 3), close(s), s = 3;
	CHECK("a script by fd gets /dev/fd/N", in_child(exec_fd, &s) == 0);
	int sc = open("/tmp/exec_fd_script", O_RDONLY | O_CLOEXEC);
	CHECK("a script by a close-on-exec fd", in_child(exec_fd, &sc) == 98);
	int ms = memfd_create("script", MFD_CLOEXEC);
	if (write(ms, "#!/bin/echo\n", 12) != 12)
		return 1;
	CHECK("a script in a close-on-exec memfd", in_child(exec_fd, &ms) == 98);
	unlink("/tmp/exec_fd_script");

	/* Not runnable by fd. */
	int d = open("/tmp", O_RDONLY | O_DIRECTORY);
	CHECK("a directory", in_child(exec_fd, &d) == 98);
	int bad = 999;
	CHECK("a bad fd", in_child(exec_fd, &bad) == 98);
	int nx = memfd_create("nx", 0);
	copy_true(nx);
	fchmod(nx, 0644);
	CHECK("a memfd without x", in_child(exec_fd, &nx) == 98);

	/* The arguments' room is a quarter of RLIMIT_STACK (128 KiB to
	 * 6 MiB). */
	CHECK("400 KiB of arguments, 1 MiB stack", in_child(big_args, (void *)((1UL << 20) | 400)) == 100 + E2BIG);
	CHECK("3 MiB of arguments, unlimited stack", in_child(big_args, (void *)(0UL | 3072)) == 0);
	CHECK("7 MiB of arguments, unlimited stack", in_child(big_args, (void *)(0UL | 7168)) == 100 + E2BIG);

	/* An ignored signal stays ignored, its flags do not. */
	struct sigaction sa = {0};
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = SA_RESTART | SA_NODEFER;
	sigaction(SIGHUP, &sa, NULL);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		char *const av[] = {argv[0], "child", NULL};
		execv("/proc/self/exe", av);
		_exit(97);
	}
	int st;
	CHECK("re-exec", waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return compat_done();
}
