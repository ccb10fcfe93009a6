/* Shared futexes in two different MAP_SHARED files at the same offset are
 * different futexes: a wake on one never takes a waiter of the other
 * (multiprocessing's semaphores live in separate /dev/shm files, all at
 * offset 0). */
#include "common.h"
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

static long futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

struct waiter {
	uint32_t *word;
	long rc;
	int err;
};

static void *wait_on(void *arg)
{
	struct waiter *w = arg;
	struct timespec ts = {3, 0};
	w->rc = futex(w->word, FUTEX_WAIT, 0, &ts);
	w->err = w->rc ? errno : 0;
	return NULL;
}

static uint32_t *map_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 4096) != 0)
		return NULL;
	uint32_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

int main(void)
{
	char a_path[] = "/tmp/futex_files_a_XXXXXX", b_path[] = "/tmp/futex_files_b_XXXXXX";
	close(mkstemp(a_path));
	close(mkstemp(b_path));
	uint32_t *a = map_file(a_path), *b = map_file(b_path);
	CHECK("map_two_files", a && b);
	if (!a || !b)
		return compat_done();
	struct waiter wa = {a, 0, 0}, wb = {b, 0, 0};
	pthread_t ta, tb;
	pthread_create(&ta, NULL, wait_on, &wa);
	usleep(100000);
	pthread_create(&tb, NULL, wait_on, &wb);
	usleep(200000);
	/* Wake one waiter of b's word: it must be b's. */
	long n = futex(b, FUTEX_WAKE, 1, NULL);
	pthread_join(tb, NULL);
	CHECK("wake_b_woke_one", n == 1);
	CHECK("b_waiter_woken", wb.rc == 0);
	n = futex(a, FUTEX_WAKE, 1, NULL);
	pthread_join(ta, NULL);
	CHECK("a_waiter_still_there_for_a", n == 1 && wa.rc == 0);
	/* The same file mapped twice is one futex. */
	int fd = open(a_path, O_RDWR);
	uint32_t *a2 = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	struct waiter w2 = {a2, 0, 0};
	pthread_create(&ta, NULL, wait_on, &w2);
	usleep(200000);
	n = futex(a, FUTEX_WAKE, 1, NULL);
	pthread_join(ta, NULL);
	CHECK("two_mappings_one_futex", n == 1 && w2.rc == 0);
	unlink(a_path);
	unlink(b_path);
	return compat_done();
}
