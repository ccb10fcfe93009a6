/* Edges of read(2) and write(2): /dev/null and /dev/zero take a write
 * without reading its buffer (a bad pointer included); a read of zero
 * bytes still reaches counters and event files (eventfd, timerfd,
 * inotify: EINVAL) while pipes and files read 0; a datagram read into a
 * buffer that faults part way is EFAULT and loses the message; FIGETBSZ
 * and FIOQSIZE answer for files and directories. */
#include "common.h"
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <linux/fs.h>

static void zero_read(const char *name, int fd)
{
	char b[8];
	ssize_t r = read(fd, b, 0);
	printf("%s read 0: %zd %s\n", name, r, r < 0 ? ename(errno) : "");
}

int main(void)
{
	int nl = open("/dev/null", O_WRONLY), z = open("/dev/zero", O_WRONLY);
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(p + 4096, 4096, PROT_NONE);
	SHOW("/dev/null bad pointer", "%zd", write(nl, (void *)8, 200));
	SHOW("/dev/null across a hole", "%zd", write(nl, p + 4000, 200));
	SHOW("/dev/zero bad pointer", "%zd", write(z, (void *)8, 200));
	struct iovec iov[2] = {{(void *)8, 10}, {p, 20}};
	SHOW("/dev/null writev", "%zd", writev(nl, iov, 2));

	zero_read("eventfd", eventfd(1, EFD_NONBLOCK));
	zero_read("timerfd", timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK));
	int in = inotify_init1(IN_NONBLOCK);
	zero_read("inotify empty", in);
	char dir[] = "/tmp/husk-ioedge-XXXXXX";
	mkdtemp(dir);
	inotify_add_watch(in, dir, IN_CREATE);
	char path[64];
	snprintf(path, sizeof path, "%s/f", dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	zero_read("inotify with an event", in);
	int pp[2];
	pipe(pp);
	zero_read("pipe", pp[0]);
	zero_read("file", open(path, O_RDONLY));

	/* Datagrams: the message goes with the fault. */
	int types[2] = {SOCK_DGRAM, SOCK_SEQPACKET};
	for (int i = 0; i < 2; i++) {
		int sv[2];
		socketpair(AF_UNIX, types[i], 0, sv);
		char msg[300];
		memset(msg, 'm', sizeof msg);
		send(sv[0], msg, 300, 0);
		send(sv[0], "next", 4, 0);
		errno = 0;
		ssize_t r = read(sv[1], p + 4000, 300);
		printf("%s read across a hole: %zd %s\n", i ? "seqpacket" : "dgram", r, r < 0 ? ename(errno) : "");
		char b[16] = {0};
		r = recv(sv[1], b, sizeof b, MSG_DONTWAIT);
		printf("  then: %zd %.4s\n", r, b);
		/* A message that fits in the good part is read whole. */
		send(sv[0], "short", 5, 0);
		SHOW("  short message across a hole", "%zd", read(sv[1], p + 4000, 300));
		close(sv[0]);
		close(sv[1]);
	}

	int f = open(path, O_RDWR);
	int bs = 0;
	CHECK("FIGETBSZ", ioctl(f, FIGETBSZ, &bs) == 0 && bs > 0);
	long long q = -1;
	CHECK("FIOQSIZE file", ioctl(f, FIOQSIZE, &q) == 0 && q == 0);
	int d = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK("FIOQSIZE directory", ioctl(d, FIOQSIZE, &q) == 0);
	EXPECT_ERR("FIOQSIZE pipe", ioctl(pp[0], FIOQSIZE, &q), ENOTTY);
	unlink(path);
	rmdir(dir);
	return compat_done();
}
