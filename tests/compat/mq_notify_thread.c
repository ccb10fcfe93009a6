/* mq_notify with SIGEV_THREAD: glibc hands the kernel a netlink socket
 * and a cookie; the kernel sends the cookie when a message arrives on
 * the empty queue, and glibc runs the function in a new thread with
 * the registration's value. Once only; re-registering works; a bad
 * cookie pointer is EFAULT and a file that is no socket ENOTSOCK (raw
 * mq_notify); removing a registration sends the cookie marked so. */
#include "common.h"
#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <signal.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/netlink.h>

static sem_t done;
static volatile int calls, value;

static void on_msg(union sigval v)
{
	value = v.sival_int;
	calls++;
	sem_post(&done);
}

static int waited(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	return sem_timedwait(&done, &ts) == 0;
}

int main(void)
{
	char name[64];
	snprintf(name, sizeof name, "/husk_mqt_%d", getpid());
	struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 16};
	mqd_t q = mq_open(name, O_CREAT | O_RDWR | O_EXCL, 0600, &attr);
	CHECK("mq_open", q != (mqd_t)-1);
	sem_init(&done, 0, 0);
	struct sigevent ev = {0};
	ev.sigev_notify = SIGEV_THREAD;
	ev.sigev_notify_function = on_msg;
	ev.sigev_value.sival_int = 42;
	CHECK("mq_notify_thread", mq_notify(q, &ev) == 0);
	CHECK("send", mq_send(q, "a", 1, 0) == 0);
	CHECK("thread_ran", waited() && calls == 1 && value == 42);
	char buf[16];
	mq_receive(q, buf, sizeof buf, NULL);
	mq_send(q, "b", 1, 0);
	mq_receive(q, buf, sizeof buf, NULL);
	usleep(50000);
	CHECK("fired_once", calls == 1);
	ev.sigev_value.sival_int = 7;
	CHECK("register_again", mq_notify(q, &ev) == 0);
	mq_send(q, "c", 1, 0);
	CHECK("thread_ran_again", waited() && calls == 2 && value == 7);
	mq_receive(q, buf, sizeof buf, NULL);

	/* The raw call: the cookie must be readable, the fd a socket. */
	struct sigevent raw = {0};
	raw.sigev_notify = SIGEV_THREAD;
	int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	raw.sigev_signo = nl;
	raw.sigev_value.sival_ptr = BADPTR;
	EXPECT_ERR("raw_bad_cookie", syscall(SYS_mq_notify, q, &raw), EFAULT);
	char cookie[32] = {1, 2, 3};
	raw.sigev_value.sival_ptr = cookie;
	raw.sigev_signo = 0; /* stdin: not a socket */
	int devnull = open("/dev/null", O_RDONLY);
	raw.sigev_signo = devnull;
	EXPECT_ERR("raw_not_socket", syscall(SYS_mq_notify, q, &raw), ENOTSOCK);
	raw.sigev_signo = 9999;
	EXPECT_ERR("raw_bad_fd", syscall(SYS_mq_notify, q, &raw), EBADF);
	/* Registered raw, then removed: the socket gets the cookie marked
	 * removed (2). */
	raw.sigev_signo = nl;
	CHECK("raw_register", syscall(SYS_mq_notify, q, &raw) == 0);
	CHECK("raw_unregister", syscall(SYS_mq_notify, q, NULL) == 0);
	unsigned char got[64];
	ssize_t n = recv(nl, got, sizeof got, MSG_DONTWAIT);
	CHECK("removed_cookie", n == 32 && got[0] == 1 && got[2] == 3 && got[31] == 2);
	CHECK("raw_register_again", syscall(SYS_mq_notify, q, &raw) == 0);
	mq_send(q, "d", 1, 0);
	n = recv(nl, got, sizeof got, MSG_DONTWAIT);
	CHECK("woken_cookie", n == 32 && got[1] == 2 && got[31] == 1);
	mq_close(q);
	mq_unlink(name);
	return compat_failures > 100 ? 100 : compat_failures;
}
