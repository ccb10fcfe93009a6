/* POSIX message queues: mq_open's names, flags and attributes, sending
 * and receiving by priority, full and empty queues (O_NONBLOCK, timeouts,
 * sleepers woken), mq_getsetattr, mq_notify (a signal once, SIGEV_NONE,
 * EBUSY), read(2)'s status line, poll, mq_unlink of an open queue,
 * RLIMIT_MSGQUEUE, and the mqueue filesystem (in a mount namespace of
 * its own). Names are per run: native and husk runs may overlap. */
#include "common.h"
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static char name[64], other[64];
static volatile sig_atomic_t got_sig, got_code, got_val;

static void on_usr1(int s, siginfo_t *si, void *u)
{
	(void)u;
	got_sig = s;
	got_code = si->si_code;
	got_val = si->si_value.sival_int;
}

static struct timespec in_ms(long ms)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_nsec += ms * 1000000;
	t.tv_sec += t.tv_nsec / 1000000000;
	t.tv_nsec %= 1000000000;
	return t;
}

static int fs_view(void)
{
	/* A private mount namespace with the queues' filesystem. */
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return 1;
	char dir[64];
	snprintf(dir, sizeof dir, "/tmp/mq-%d", getpid());
	mkdir(dir, 0700);
	int bad = 0;
	if (mount("none", dir, "mqueue", 0, NULL))
		return 2;
	char path[160];
	snprintf(path, sizeof path, "%s/%s", dir, name + 1);
	struct stat st;
	bad += stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0777) != 0640;
	char line[128] = {0};
	int fd = open(path, O_RDONLY);
	bad += fd < 0 || read(fd, line, sizeof line - 1) <= 0 || strncmp(line, "QSIZE:", 6) != 0;
	close(fd);
	/* A file made there is a queue; unlinking it there is mq_unlink. */
	snprintf(path, sizeof path, "%s/%s", dir, other + 1);
	fd = open(path, O_CREAT | O_RDWR, 0600);
	bad += fd < 0;
	mqd_t q = mq_open(other, O_RDWR);
	struct mq_attr at;
	bad += q < 0 || mq_getattr(q, &at) != 0 || at.mq_maxmsg != 10 || at.mq_msgsize != 8192;
	bad += mq_send(fd, "via fd", 6, 0) != 0;
	bad += unlink(path) != 0 || mq_open(other, O_RDWR) != -1 || errno != ENOENT;
	bad += mkdir(path, 0700) != -1;
	umount(dir);
	rmdir(dir);
	return bad ? 3 : 0;
}

int main(void)
{
	snprintf(name, sizeof name, "/husk-mq-%d", getpid());
	snprintf(other, sizeof other, "/husk-mq2-%d", getpid());
	mq_unlink(name);
	struct mq_attr at = {0, 4, 64, 0};
	mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0640, &at);
	CHECK("mq_open create", q >= 0);
	struct mq_attr got;
	CHECK("getattr", mq_getattr(q, &got) == 0 && got.mq_maxmsg == 4 && got.mq_msgsize == 64 && got.mq_curmsgs == 0 && got.mq_flags == 0);
	EXPECT_ERR("excl", mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0640, &at), EEXIST);
	EXPECT_ERR("no such queue", mq_open(other, O_RDWR), ENOENT);
	EXPECT_ERR("slash inside", syscall(SYS_mq_open, "a/b", O_RDWR, 0, NULL), EACCES);
	EXPECT_ERR("empty name", syscall(SYS_mq_open, "", O_RDWR, 0, NULL), ENOENT);
	EXPECT_ERR("bad name pointer", syscall(SYS_mq_open, BADPTR, O_RDWR, 0, NULL), EFAULT);
	EXPECT_ERR("O_ACCMODE", syscall(SYS_mq_open, name + 1, 3, 0, NULL), EINVAL);
	struct mq_attr bad = {0, 0, 64, 0};
	EXPECT_ERR("maxmsg 0", mq_open(other, O_CREAT | O_RDWR, 0600, &bad), EINVAL);
	bad.mq_maxmsg = 11;
	EXPECT_ERR("maxmsg over msg_max", mq_open(other, O_CREAT | O_RDWR, 0600, &bad), EINVAL);
	bad.mq_maxmsg = 2;
	bad.mq_msgsize = 8193;
	EXPECT_ERR("msgsize over msgsize_max", mq_open(other, O_CREAT | O_RDWR, 0600, &bad), EINVAL);
	EXPECT_ERR("bad attr pointer", mq_open(other, O_CREAT | O_RDWR, 0600, BADPTR), EFAULT);

	/* Priorities: highest first, in order within one. */
	CHECK("send", mq_send(q, "a1", 2, 1) == 0 && mq_send(q, "b5", 2, 5) == 0 &&
			      mq_send(q, "c1", 2, 1) == 0 && mq_send(q, "d9", 2, 9) == 0);
	char buf[128];
	unsigned prio = 0;
	struct pollfd p = {q, POLLIN | POLLOUT, 0};
	CHECK("poll full", poll(&p, 1, 0) == 1 && p.revents == POLLIN);
	EXPECT_ERR("send full nonblock", (mq_setattr(q, &(struct mq_attr){O_NONBLOCK, 0, 0, 0}, NULL), mq_send(q, "x", 1, 0)), EAGAIN);
	CHECK("getattr nonblock", mq_getattr(q, &got) == 0 && got.mq_flags == O_NONBLOCK && got.mq_curmsgs == 4);
	EXPECT_ERR("setattr bad flags", mq_setattr(q, &(struct mq_attr){O_NONBLOCK | 1, 0, 0, 0}, NULL), EINVAL);
	mq_setattr(q, &(struct mq_attr){0, 0, 0, 0}, NULL);
	struct timespec t = in_ms(30);
	EXPECT_ERR("timedsend full", mq_timedsend(q, "x", 1, 0, &t), ETIMEDOUT);
	char line[128] = {0};
	const char *qs = "QSIZE:8          NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n";
	CHECK("read status", read(q, line, sizeof line - 1) == 60 && strcmp(line, qs) == 0);
	ssize_t n = mq_receive(q, buf, sizeof buf, &prio);
	CHECK("highest first", n == 2 && memcmp(buf, "d9", 2) == 0 && prio == 9);
	n = mq_receive(q, buf, sizeof buf, &prio);
	CHECK("then 5", n == 2 && memcmp(buf, "b5", 2) == 0 && prio == 5);
	n = mq_receive(q, buf, sizeof buf, NULL);
	CHECK("fifo within 1", n == 2 && memcmp(buf, "a1", 2) == 0);
	n = mq_receive(q, buf, sizeof buf, &prio);
	CHECK("last", n == 2 && memcmp(buf, "c1", 2) == 0 && prio == 1);
	p.revents = 0;
	CHECK("poll empty", poll(&p, 1, 0) == 1 && p.revents == POLLOUT);
	t = in_ms(30);
	EXPECT_ERR("timedreceive empty", mq_timedreceive(q, buf, sizeof buf, NULL, &t), ETIMEDOUT);
	struct timespec badt = {0, 2000000000};
	EXPECT_ERR("bad timeout", mq_timedreceive(q, buf, sizeof buf, NULL, &badt), EINVAL);
	EXPECT_ERR("receive buffer too small", mq_receive(q, buf, 63, NULL), EMSGSIZE);
	EXPECT_ERR("message too big", mq_send(q, buf, 65, 0), EMSGSIZE);
	EXPECT_ERR("prio too big", mq_send(q, "x", 1, 32768), EINVAL);
	EXPECT_ERR("bad message pointer", mq_send(q, BADPTR, 4, 0), EFAULT);
	int pfd[2];
	pipe(pfd);
	EXPECT_ERR("not a queue", mq_send(pfd[0], "x", 1, 0), EBADF);
	EXPECT_ERR("closed fd", mq_send(999, "x", 1, 0), EBADF);
	mqd_t ro = mq_open(name, O_RDONLY);
	CHECK("open existing", ro >= 0 && ro != q);
	EXPECT_ERR("send on read-only", mq_send(ro, "x", 1, 0), EBADF);
	mqd_t wo = mq_open(name, O_WRONLY | O_NONBLOCK);
	EXPECT_ERR("receive on write-only", mq_receive(wo, buf, sizeof buf, NULL), EBADF);
	CHECK("nonblock from open", mq_getattr(wo, &got) == 0 && got.mq_flags == O_NONBLOCK);

	/* Sleepers on both sides are woken. */
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		ssize_t r = mq_receive(ro, buf, sizeof buf, &prio);
		_exit(r == 4 && memcmp(buf, "wake", 4) == 0 && prio == 3 ? 0 : 1);
	}
	usleep(100000);
	CHECK("wake receiver", mq_send(q, "wake", 4, 3) == 0);
	int st;
	waitpid(c, &st, 0);
	CHECK("receiver got it", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (int i = 0; i < 4; i++)
		mq_send(q, "f", 1, 0);
	c = fork();
	if (c == 0)
		_exit(mq_send(q, "late", 4, 7) == 0 ? 0 : 1);
	usleep(100000);
	CHECK("sender waits", waitpid(c, &st, WNOHANG) == 0);
	mq_receive(q, buf, sizeof buf, NULL);
	waitpid(c, &st, 0);
	CHECK("sender done", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	n = mq_receive(q, buf, sizeof buf, &prio);
	CHECK("its message first", n == 4 && prio == 7);
	while (mq_receive(wo == -1 ? q : ro, buf, sizeof buf, NULL) > 0 && (mq_getattr(q, &got), got.mq_curmsgs > 0))
		;

	/* Notification: once, by signal, for a message on an empty queue. */
	struct sigaction sa = {0};
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	struct sigevent ev = {0};
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGUSR1;
	ev.sigev_value.sival_int = 42;
	CHECK("mq_notify", mq_notify(q, &ev) == 0);
	memset(line, 0, sizeof line);
	pread(q, line, sizeof line - 1, 0);
	char want[64];
	snprintf(want, sizeof want, "NOTIFY:0     SIGNO:%-5d NOTIFY_PID:%-6d", SIGUSR1, getpid());
	CHECK("status shows it", strstr(line, want) != NULL);
	c = fork();
	if (c == 0)
		_exit(mq_notify(q, &ev) == -1 && errno == EBUSY ? 0 : 1);
	waitpid(c, &st, 0);
	CHECK("EBUSY for another", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	mq_send(q, "n", 1, 0);
	for (int i = 0; i < 100 && !got_sig; i++)
		usleep(1000);
	CHECK("signal", got_sig == SIGUSR1 && got_code == SI_MESGQ && got_val == 42);
	got_sig = 0;
	mq_receive(q, buf, sizeof buf, NULL);
	mq_send(q, "n", 1, 0);
	usleep(20000);
	CHECK("only once", got_sig == 0);
	mq_receive(q, buf, sizeof buf, NULL);
	ev.sigev_notify = SIGEV_NONE;
	CHECK("SIGEV_NONE", mq_notify(q, &ev) == 0);
	memset(line, 0, sizeof line);
	pread(q, line, sizeof line - 1, 0);
	CHECK("status NONE", strstr(line, "NOTIFY:1     SIGNO:0 ") != NULL);
	CHECK("unregister", mq_notify(q, NULL) == 0);
	ev.sigev_notify = 99;
	EXPECT_ERR("bad sigev_notify", mq_notify(q, &ev), EINVAL);
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = 65;
	EXPECT_ERR("bad signo", mq_notify(q, &ev), EINVAL);

	/* RLIMIT_MSGQUEUE. */
	c = fork();
	if (c == 0) {
		struct rlimit r = {1000, 1000};
		setrlimit(RLIMIT_MSGQUEUE, &r);
		_exit(mq_open(other, O_CREAT | O_RDWR, 0600, NULL) == -1 && errno == EMFILE ? 0 : 1);
	}
	waitpid(c, &st, 0);
	CHECK("RLIMIT_MSGQUEUE", WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* The filesystem view. */
	fflush(stdout);
	c = fork();
	if (c == 0)
		_exit(fs_view());
	waitpid(c, &st, 0);
	CHECK("mqueue filesystem", WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* Another user; then unlink while open. */
	c = fork();
	if (c == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(9);
		int r = 0;
		r += !(mq_open(name, O_WRONLY) == -1 && errno == EACCES);
		r += !(mq_open(name, O_RDONLY) == -1 && errno == EACCES);
		r += !(mq_unlink(name) == -1 && errno == EACCES);
		_exit(r);
	}
	waitpid(c, &st, 0);
	CHECK("other user refused", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK("unlink", mq_unlink(name) == 0);
	EXPECT_ERR("unlink again", mq_unlink(name), ENOENT);
	EXPECT_ERR("gone by name", mq_open(name, O_RDWR), ENOENT);
	CHECK("still works open", mq_send(q, "z", 1, 0) == 0 && mq_receive(q, buf, sizeof buf, NULL) == 1);
	char link[128] = {0}, fdp[64];
	snprintf(fdp, sizeof fdp, "/proc/self/fd/%d", q);
	readlink(fdp, link, sizeof link - 1);
	char wantl[96];
	snprintf(wantl, sizeof wantl, "%s (deleted)", name);
	CHECK("fd link", strcmp(link, wantl) == 0);
	return compat_done();
}
