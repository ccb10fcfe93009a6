/* fcntl's F_DUPFD_QUERY (do two fds share an open file?) and the
 * write-life hints (F_SET_RW_HINT/F_GET_RW_HINT: the file's, seen
 * through any fd), with their errors. */
#include "common.h"
#include <fcntl.h>
#include <stdint.h>

#ifndef F_DUPFD_QUERY
#define F_DUPFD_QUERY 1027
#endif

int main(void)
{
	char path[64];
	snprintf(path, sizeof path, "/tmp/husk-fcntlq-%d", getpid());
	int a = open(path, O_CREAT | O_RDWR, 0600);
	int b = dup(a);
	int c = open(path, O_RDONLY);
	CHECK("dup shares", fcntl(a, F_DUPFD_QUERY, b) == 1);
	CHECK("itself", fcntl(a, F_DUPFD_QUERY, a) == 1);
	CHECK("another open does not", fcntl(a, F_DUPFD_QUERY, c) == 0);
	EXPECT_ERR("query a closed fd", fcntl(a, F_DUPFD_QUERY, 999), EBADF);
	uint64_t h = 99;
	CHECK("no hint at first", fcntl(a, F_GET_RW_HINT, &h) == 0 && h == 0);
	h = RWH_WRITE_LIFE_SHORT;
	CHECK("set a hint", fcntl(a, F_SET_RW_HINT, &h) == 0);
	h = 0;
	CHECK("another fd of the file sees it", fcntl(c, F_GET_RW_HINT, &h) == 0 && h == RWH_WRITE_LIFE_SHORT);
	h = 6;
	EXPECT_ERR("bad hint", fcntl(a, F_SET_RW_HINT, &h), EINVAL);
	EXPECT_ERR("bad pointer", fcntl(a, F_SET_RW_HINT, BADPTR), EFAULT);
	EXPECT_ERR("bad pointer get", fcntl(a, F_GET_RW_HINT, BADPTR), EFAULT);
	h = RWH_WRITE_LIFE_NOT_SET;
	CHECK("clear it", fcntl(a, F_SET_RW_HINT, &h) == 0 && fcntl(c, F_GET_RW_HINT, &h) == 0 && h == 0);
	unlink(path);
	return compat_done();
}
