/* Hand-off and wake-up costs, timed inside the process.
 *
 *   wake pipe-threads SLEEPERS  round trip (us) of a one-byte pipe
 *                               ping-pong between two threads while
 *                               SLEEPERS other threads sleep in read(2)
 *                               on pipes of their own that stay idle
 *   wake futex-threads          round trip (us) of a futex ping-pong
 *                               between two threads
 *   wake pipe-procs             round trip (us) of a pipe ping-pong
 *                               between two processes
 *   wake scale                  throughput of two threads each pread()ing
 *                               256 KiB blocks of their own /tmp file,
 *                               over that of one thread (x)
 *   wake scale-stat             the same for two threads each stat()ing
 *                               a path of the host's root (x)
 *   wake scale-spawn            the same for two threads each running
 *                               /bin/true (posix_spawn, waitpid) (x)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"

/* ---- pipe ping-pong between threads, with idle sleepers ---- */

static int ping[2], pong[2];
static int rounds;

static void *echo(void *arg)
{
	(void)arg;
	char c;
	for (int i = 0; i < rounds; i++) {
		if (read(ping[0], &c, 1) != 1 || write(pong[1], &c, 1) != 1)
			die("echo");
	}
	return NULL;
}

static void *sleeper(void *arg)
{
	char c;
	/* Blocks until main closes the write end at exit. */
	(void)!read((int)(long)arg, &c, 1);
	return NULL;
}

static double pingpong(void)
{
	char c = 'x';
	double t0 = now();
	for (int i = 0; i < rounds; i++) {
		if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
			die("ping");
	}
	return (now() - t0) / rounds * 1e6;
}

static int pipe_threads(int sleepers)
{
	if (pipe(ping) || pipe(pong))
		die("pipe");
	for (int i = 0; i < sleepers; i++) {
		int p[2];
		pthread_t t;
		if (pipe(p))
			die("pipe");
		if (pthread_create(&t, NULL, sleeper, (void *)(long)p[0]))
			die("pthread_create");
		pthread_detach(t);
	}
	usleep(200 * 1000); /* let the sleepers block */
	rounds = 200;
	pthread_t e;
	pthread_create(&e, NULL, echo, NULL);
	pingpong(); /* warm up */
	pthread_join(e, NULL);
	rounds = 4000;
	pthread_create(&e, NULL, echo, NULL);
	double us = pingpong();
	pthread_join(e, NULL);
	printf("%.2f\n", us);
	return 0;
}

/* ---- futex ping-pong between threads ---- */

static _Atomic int turn;

static void fwait(int val)
{
	while (atomic_load(&turn) == val)
		syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void fset(int val)
{
	atomic_store(&turn, val);
	syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *fecho(void *arg)
{
	(void)arg;
	for (int i = 0; i < rounds; i++) {
		fwait(0);
		fset(0);
	}
	return NULL;
}

static int futex_threads(void)
{
	rounds = 4000;
	pthread_t e;
	pthread_create(&e, NULL, fecho, NULL);
	double t0 = now();
	for (int i = 0; i < rounds; i++) {
		fset(1);
		fwait(1);
	}
	double us = (now() - t0) / rounds * 1e6;
	pthread_join(e, NULL);
	printf("%.2f\n", us);
	return 0;
}

/* ---- pipe ping-pong between processes ---- */

static int pipe_procs(void)
{
	if (pipe(ping) || pipe(pong))
		die("pipe");
	rounds = 4000;
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		echo(NULL);
		_exit(0);
	}
	double us = pingpong();
	waitpid(pid, NULL, 0);
	printf("%.2f\n", us);
	return 0;
}

/* ---- two readers of their own tmpfs files ---- */

#define BLOCK (256 << 10)
#define FILESZ (32 << 20)
static double stop_at;

static void *reader(void *arg)
{
	int fd = (int)(long)arg;
	char *buf = malloc(BLOCK);
	long long n = 0;
	off_t off = 0;
	while (now() < stop_at) {
		if (pread(fd, buf, BLOCK, off) != BLOCK)
			die("pread");
		off = (off + BLOCK) % FILESZ;
		n++;
	}
	free(buf);
	return (void *)(long)n;
}

static int make_file(int i)
{
	char path[64];
	snprintf(path, sizeof path, "/tmp/husk-wake-%d-%d", (int)getpid(), i);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die(path);
	unlink(path);
	char *buf = malloc(BLOCK);
	memset(buf, 'a' + i, BLOCK);
	for (int off = 0; off < FILESZ; off += BLOCK)
		if (write(fd, buf, BLOCK) != BLOCK)
			die("write");
	free(buf);
	return fd;
}

/* Calls per second of `threads` threads running `fn(args[i])` for 1 s. */
static double rate(int threads, void *(*fn)(void *), void **args)
{
	pthread_t t[2];
	double t0 = now();
	stop_at = t0 + 1.0;
	long total = 0;
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, fn, args[i]);
	for (int i = 0; i < threads; i++) {
		void *n;
		pthread_join(t[i], &n);
		total += (long)n;
	}
	return total / (now() - t0);
}

/* Prints the rate of two threads running `fn` over that of one. */
static int scaling(void *(*fn)(void *), void **args)
{
	rate(1, fn, args); /* warm up */
	double one = rate(1, fn, args);
	double two = rate(2, fn, args);
	printf("%.2f\n", two / one);
	return 0;
}

static int scale(void)
{
	void *fds[2] = {(void *)(long)make_file(0), (void *)(long)make_file(1)};
	return scaling(reader, fds);
}

/* ---- two threads looking up paths ---- */

static void *statter(void *arg)
{
	struct stat st;
	long n = 0;
	while (now() < stop_at) {
		if (stat(arg, &st))
			die("stat");
		n++;
	}
	return (void *)n;
}

static int scale_stat(void)
{
	void *paths[2] = {"/usr/share/doc/bash/copyright", "/usr/lib/os-release"};
	return scaling(statter, paths);
}

/* ---- two threads starting processes ---- */

extern char **environ;

static void *spawner(void *arg)
{
	char *argv[] = {arg, NULL};
	long n = 0;
	while (now() < stop_at) {
		pid_t pid;
		int st;
		if (posix_spawn(&pid, arg, NULL, NULL, argv, environ))
			die("posix_spawn");
		if (waitpid(pid, &st, 0) != pid || st != 0)
			die("waitpid");
		n++;
	}
	return (void *)n;
}

static int scale_spawn(void)
{
	void *progs[2] = {"/bin/true", "/bin/true"};
	return scaling(spawner, progs);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "pipe-threads"))
		return pipe_threads(argc > 2 ? atoi(argv[2]) : 0);
	if (argc >= 2 && !strcmp(argv[1], "futex-threads"))
		return futex_threads();
	if (argc >= 2 && !strcmp(argv[1], "pipe-procs"))
		return pipe_procs();
	if (argc >= 2 && !strcmp(argv[1], "scale"))
		return scale();
	if (argc >= 2 && !strcmp(argv[1], "scale-stat"))
		return scale_stat();
	if (argc >= 2 && !strcmp(argv[1], "scale-spawn"))
		return scale_spawn();
	fprintf(stderr, "usage: wake pipe-threads N | futex-threads | pipe-procs | scale | scale-stat | scale-spawn\n");
	return 2;
}
