/* Shared helpers for the husk compatibility suite.
 *
 * Every program prints one line per check. Lines must be identical between
 * two native runs and between a native run and a run under husk, so they
 * never contain pids, addresses, times or other values that legitimately
 * vary: print the result of a comparison instead.
 *
 * The exit status is the number of failed checks (capped at 100).
 */
#ifndef HUSK_COMPAT_COMMON_H
#define HUSK_COMPAT_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int compat_failures;

/* A pointer that is never mapped, hidden from the compiler's analysis so
 * that passing it to libc does not draw -Wstringop-overread and friends. */
static void *volatile compat_bad_ptr = (void *)1;
#define BADPTR ((void *)compat_bad_ptr)

static const char *ename(int e)
{
	const char *n;
	if (e == 0)
		return "0";
	n = strerrorname_np(e);
	return n ? n : "E?";
}

__attribute__((constructor)) static void compat_init(void)
{
	/* Line buffering: nothing is left in the buffer across fork(). */
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Writes string s to the file at path (a /proc or /sys knob): 0, or -1
 * with errno. */
static __attribute__((unused)) int compat_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	int r = write(fd, s, strlen(s));
	int e = errno;
	close(fd);
	errno = e;
	return r < 0 ? -1 : 0;
}

/* A forked checker's end: it exits with its failure count. */
static __attribute__((unused, noreturn)) void compat_child_end(void)
{
	fflush(stdout);
	_exit(compat_failures > 100 ? 100 : compat_failures);
}

/* Waits for checker p and adds the failures it reported (its exit
 * status); one that was killed or cannot be waited for is a failure. */
static __attribute__((unused)) void compat_collect(pid_t p, const char *who)
{
	int st;
	pid_t r;
	while ((r = waitpid(p, &st, 0)) == -1 && errno == EINTR)
		;
	if (r != p) {
		printf("%s: waitpid FAIL %s\n", who, ename(errno));
		compat_failures++;
	} else if (WIFEXITED(st)) {
		compat_failures += WEXITSTATUS(st);
	} else {
		printf("%s: killed by signal %d FAIL\n", who, WTERMSIG(st));
		compat_failures++;
	}
}

/* CHECK(name, cond): prints "name ok" or "name FAIL ...". */
#define CHECK(name, cond)                                                   \
	do {                                                                \
		errno = 0;                                                  \
		if (cond) {                                                 \
			printf("%s ok\n", name);                            \
		} else {                                                    \
			int e_ = errno;                                     \
			printf("%s FAIL (%s) errno=%s\n", name, #cond,      \
			       ename(e_));                                  \
			compat_failures++;                                  \
		}                                                           \
	} while (0)

/* EXPECT_ERR(name, expr, err): expr must return -1 (or MAP_FAILED) with
 * errno == err. Prints "name errno=ENAME". */
#define EXPECT_ERR(name, expr, err)                                         \
	do {                                                                \
		long r_;                                                    \
		int e_;                                                     \
		errno = 0;                                                  \
		r_ = (long)(expr);                                          \
		e_ = errno;                                                 \
		if (r_ == -1 && e_ == (err)) {                              \
			printf("%s errno=%s\n", name, ename(e_));           \
		} else {                                                    \
			printf("%s FAIL ret=%s errno=%s want %s\n", name,   \
			       r_ == -1 ? "-1" : "not-1", ename(e_),        \
			       ename(err));                                 \
			compat_failures++;                                  \
		}                                                           \
	} while (0)

/* EXPECT_RC(name, expr, err): for functions that return an errno value
 * (pthread_*, posix_*): expr must return err. */
#define EXPECT_RC(name, expr, err)                                          \
	do {                                                                \
		int r_ = (expr);                                            \
		if (r_ == (err)) {                                          \
			printf("%s rc=%s\n", name, ename(r_));              \
		} else {                                                    \
			printf("%s FAIL rc=%s want %s\n", name, ename(r_),  \
			       ename(err));                                 \
			compat_failures++;                                  \
		}                                                           \
	} while (0)

/* Print a value that is deterministic (sizes, counts, flags). */
#define SHOW(name, fmt, val) printf("%s " fmt "\n", name, val)

/* Reads up to n-1 bytes of a small file (a /proc or /sys one) into buf,
 * NUL-terminated; the read's result, with its errno kept. */
static inline long read_text(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	ssize_t r = fd < 0 ? -1 : read(fd, buf, n - 1);
	int e = errno;
	buf[r > 0 ? r : 0] = 0;
	if (fd >= 0)
		close(fd);
	errno = e;
	return r;
}

/* Reads all of a file (up to n-1 bytes) into buf, NUL-terminated: a
 * seq_file such as /proc/net/tcp gives a page or so per read. */
static inline long read_whole(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	size_t got = 0;
	ssize_t r = 0;
	while (fd >= 0 && got < n - 1 && (r = read(fd, buf + got, n - 1 - got)) > 0)
		got += r;
	buf[got] = 0;
	if (fd >= 0)
		close(fd);
	return fd < 0 || r < 0 ? -1 : (long)got;
}

/* Mounts a tmpfs of its own (options `opts`) on `dir`, in a mount
 * namespace of the caller's own, so that the host's /tmp (its nosuid,
 * its contents) does not count. Root only; prints why on failure. */
static inline int private_tmpfs(const char *dir, const char *opts)
{
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("t", dir, "tmpfs", 0, opts)) {
		printf("tmpfs: %s\n", ename(errno));
		return -1;
	}
	return 0;
}

static inline int compat_done(void)
{
	printf("failures %d\n", compat_failures);
	fflush(stdout);
	return compat_failures > 100 ? 100 : compat_failures;
}

#endif
