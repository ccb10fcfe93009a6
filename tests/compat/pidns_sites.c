/* Every place a process id crosses the ABI speaks the caller's PID
 * namespace. Each scenario runs in a fresh namespace: a helper unshares
 * CLONE_NEWPID and forks init (pid 1), whose children are 2, 3, ... in
 * fork order, so the numbers are fixed. Some objects are made by the
 * helper, outside: a pid that has no number in the namespace reads 0
 * there, and once init is done (alive, waiting) the helper checks that
 * it sees init's acts under init's outer pid, fork's result.
 *
 * fcntl F_SETOWN / F_GETOWN / F_[GS]ETOWN_EX (pid, -pgrp, tid) and the
 * socket ioctls FIOSETOWN / SIOCGPGRP / SIOCSPGRP; SIGIO reaches the
 * owner 2; an unknown owner is ESRCH. Record locks: F_GETLK l_pid of
 * pid 2's lock is 2, of init's lock (seen by 2) 1, of an OFD lock -1.
 * SO_PEERCRED of a socketpair is its creator (1 on both ends), of an
 * accepted connection the connecting process (2), of the connecting
 * side the listener's creator (1), and of a listening socket its own
 * creator. SCM_CREDENTIALS with SO_PASSCRED: pid 2 explicit or implied,
 * root may name another live pid (1), a pid no one has is ESRCH. SysV
 * IPC: semctl GETPID, msg_lspid / msg_lrpid, shm_cpid / shm_lpid. PI
 * futexes: the word holds namespace tids (1, 2), the kernel finds the
 * owner by them, FUTEX_UNLOCK_PI by a non-owner is EPERM, a word naming
 * no task is ESRCH. Robust mutexes (plain and PI, process-shared) whose
 * owner 2 / 3 exits give EOWNERDEAD. get/setpriority, setpgid / getpgid
 * / getsid, kill of a group, tgkill, sched_*affinity, sched_getscheduler
 * / getparam, prlimit, capget, ioprio_get, pidfd_open,
 * process_vm_readv, each with an unknown pid ESRCH. waitid P_PGID /
 * P_PIDFD / WNOWAIT, waitpid(-pgrp), wait4. SIGCHLD (exit, stop,
 * continue, kill) and kill / sigqueue senders through signalfd and
 * sigwaitinfo. (tcgetpgrp and TIOCGSID are left out: no terminal.)
 *
 * Linux details (6.x) the checks rely on: a process that is gone keeps
 * its number wherever a struct pid is held, so SO_PEERCRED, the
 * SCM_CREDENTIALS of a message it queued and semctl GETPID still read 2
 * after pid 2 was reaped, while F_GETOWN reads 0 once the owner is gone
 * (it looks for a live task) and explicit creds naming it are ESRCH.
 * getsid() of a process whose session leader is outside is 0. F_GETLK
 * reports just one of several conflicting locks (list order), so each
 * range asked about here meets one lock. FUTEX_TRYLOCK_PI of a word held
 * by another task is EAGAIN, FUTEX_UNLOCK_PI of a word naming no task
 * EPERM. Run as root. */
#include "common.h"
#include <linux/capability.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* A process starts counting its own failures; it exits with their count. */
static void begin(void)
{
	compat_failures = 0;
	alarm(10);
}



/* init's children print nothing: each condition they test is a bit of
 * their exit status, and init prints one line per bit after waitpid. */
static int cbits;
#define CBIT(i, cond)                                                       \
	do {                                                                \
		if (!(cond))                                                \
			cbits |= 1 << (i);                                  \
	} while (0)

static pid_t spawn(void)
{
	pid_t p = fork();
	if (p == 0) {
		cbits = 0;
		alarm(10);
	}
	return p;
}

static __attribute__((noreturn)) void cexit(void)
{
	_exit(cbits);
}

/* Waits for a child of spawn(): its bits, or all of them set if it did
 * not exit normally. */
static int reap(pid_t p)
{
	int st;
	pid_t r;
	while ((r = waitpid(p, &st, 0)) == -1 && errno == EINTR)
		;
	return r == p && WIFEXITED(st) ? WEXITSTATUS(st) : 0xff;
}
#define BIT_OK(b, i) (!(((b) >> (i)) & 1))

static void tell(int fd)
{
	char x = 0;
	if (write(fd, &x, 1) != 1)
		_exit(99);
}

static int hear(int fd)
{
	char x;
	return read(fd, &x, 1) == 1;
}

/* Polls cond every millisecond for up to 5 s. */
#define POLL_UNTIL(cond)                                                    \
	({                                                                  \
		int i_;                                                     \
		for (i_ = 0; i_ < 5000 && !(cond); i_++)                    \
			usleep(1000);                                       \
		(cond);                                                     \
	})

/* ---------------------------------------------------------------- */

static pid_t g_helper;
static int g_up[2], g_down[2];
static volatile int *g_share; /* a MAP_SHARED page, init to helper */

/* A helper runs before() outside, unshares, forks init, which runs
 * init_fn() and then waits while the helper runs after(init's outer
 * pid); nothing prints concurrently. */
static void scenario(const char *name, void (*before)(void), void (*init_fn)(void), void (*after)(pid_t))
{
	printf("== %s\n", name);
	pid_t p = fork();
	if (p == 0) {
		begin();
		g_helper = getpid();
		if (pipe(g_up) || pipe(g_down)) {
			printf("pipes FAIL\n");
			compat_child_end();
		}
		if (before)
			before();
		CHECK("unshare(CLONE_NEWPID)", unshare(CLONE_NEWPID) == 0);
		pid_t c = fork();
		if (c == 0) {
			begin();
			close(g_up[0]);
			close(g_down[1]);
			CHECK("init getpid() == 1", getpid() == 1);
			init_fn();
			fflush(stdout);
			tell(g_up[1]);
			hear(g_down[0]);
			compat_child_end();
		}
		close(g_up[1]);
		close(g_down[0]);
		int done = hear(g_up[0]);
		CHECK("init done", done);
		if (after)
			after(c);
		tell(g_down[1]);
		compat_collect(c, "init");
		compat_child_end();
	}
	compat_collect(p, name);
}

/* ---------------------------------------------------------------- */
/* 1. fcntl owners */

static int g_fd[2];

static void owner_before(void)
{
	CHECK("outside: pipe", pipe(g_fd) == 0);
	CHECK("outside: F_SETOWN to itself", fcntl(g_fd[0], F_SETOWN, getpid()) == 0);
}

static int getown_ex(int fd, int type, pid_t pid)
{
	struct f_owner_ex ex = {.type = -1, .pid = -1};
	return fcntl(fd, F_GETOWN_EX, &ex) == 0 && ex.type == type && ex.pid == pid;
}

static int setown_ex(int fd, int type, pid_t pid)
{
	struct f_owner_ex ex = {.type = type, .pid = pid};
	return fcntl(fd, F_SETOWN_EX, &ex);
}

static void owner_init(void)
{
	int rdy[2], go[2], p[2], sv[2], v;
	CHECK("pipes and socketpair", pipe(rdy) == 0 && pipe(go) == 0 && pipe(p) == 0 &&
					      socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK("F_GETOWN of an owner outside the namespace is 0", fcntl(g_fd[0], F_GETOWN) == 0);
	pid_t k = spawn();
	if (k == 0) {
		sigset_t s;
		siginfo_t si;
		struct timespec ts = {5, 0};
		sigemptyset(&s);
		sigaddset(&s, SIGIO);
		sigprocmask(SIG_BLOCK, &s, NULL);
		tell(rdy[1]);
		CBIT(0, sigtimedwait(&s, &si, &ts) == SIGIO);
		hear(go[0]);
		cexit();
	}
	CHECK("child ready", hear(rdy[0]));
	CHECK("fork returns 2", k == 2);
	CHECK("F_GETOWN at first is 0", fcntl(p[0], F_GETOWN) == 0);
	CHECK("F_SETOWN 2", fcntl(p[0], F_SETOWN, k) == 0);
	CHECK("F_GETOWN == 2", fcntl(p[0], F_GETOWN) == 2);
	CHECK("F_GETOWN_EX F_OWNER_PID 2", getown_ex(p[0], F_OWNER_PID, 2));
	CHECK("F_SETOWN 1 (itself)", fcntl(p[0], F_SETOWN, 1) == 0);
	CHECK("F_GETOWN == 1", fcntl(p[0], F_GETOWN) == 1);
	CHECK("setpgid(2, 2)", setpgid(k, k) == 0);
	CHECK("F_SETOWN -2 (group 2)", fcntl(p[0], F_SETOWN, -k) == 0);
	CHECK("F_GETOWN == -2", fcntl(p[0], F_GETOWN) == -2);
	CHECK("F_GETOWN_EX F_OWNER_PGRP 2", getown_ex(p[0], F_OWNER_PGRP, 2));
	CHECK("F_SETOWN_EX F_OWNER_TID 2", setown_ex(p[0], F_OWNER_TID, k) == 0);
	CHECK("F_GETOWN_EX F_OWNER_TID 2", getown_ex(p[0], F_OWNER_TID, 2));
	CHECK("F_GETOWN after F_OWNER_TID == 2", fcntl(p[0], F_GETOWN) == 2);
	CHECK("F_SETOWN_EX F_OWNER_PGRP 2", setown_ex(p[0], F_OWNER_PGRP, k) == 0);
	CHECK("F_GETOWN after F_OWNER_PGRP == -2", fcntl(p[0], F_GETOWN) == -2);
	CHECK("F_SETOWN_EX F_OWNER_PID 1", setown_ex(p[0], F_OWNER_PID, 1) == 0);
	CHECK("F_GETOWN_EX F_OWNER_PID 1", getown_ex(p[0], F_OWNER_PID, 1));
	EXPECT_ERR("F_SETOWN 999", fcntl(p[0], F_SETOWN, 999), ESRCH);
	EXPECT_ERR("F_SETOWN -999", fcntl(p[0], F_SETOWN, -999), ESRCH);
	EXPECT_ERR("F_SETOWN_EX F_OWNER_TID 999", setown_ex(p[0], F_OWNER_TID, 999), ESRCH);
	EXPECT_ERR("F_SETOWN_EX F_OWNER_PID 999", setown_ex(p[0], F_OWNER_PID, 999), ESRCH);
	EXPECT_ERR("F_SETOWN_EX F_OWNER_PGRP 999", setown_ex(p[0], F_OWNER_PGRP, 999), ESRCH);
	CHECK("F_GETOWN unchanged by the failures", fcntl(p[0], F_GETOWN) == 1);
	v = k;
	CHECK("ioctl FIOSETOWN 2", ioctl(sv[0], FIOSETOWN, &v) == 0);
	v = 0;
	CHECK("ioctl SIOCGPGRP == 2", ioctl(sv[0], SIOCGPGRP, &v) == 0 && v == 2);
	CHECK("socket F_GETOWN == 2", fcntl(sv[0], F_GETOWN) == 2);
	v = -k;
	CHECK("ioctl SIOCSPGRP -2", ioctl(sv[0], SIOCSPGRP, &v) == 0);
	v = 0;
	CHECK("ioctl FIOGETOWN == -2", ioctl(sv[0], FIOGETOWN, &v) == 0 && v == -2);
	v = 999;
	EXPECT_ERR("ioctl FIOSETOWN 999", ioctl(sv[0], FIOSETOWN, &v), ESRCH);
	/* SIGIO for the pipe's reader goes to its owner, 2. */
	CHECK("F_SETOWN 2 and O_ASYNC", fcntl(p[0], F_SETOWN, k) == 0 && fcntl(p[0], F_SETFL, O_ASYNC) == 0);
	CHECK("write to the O_ASYNC pipe", write(p[1], "x", 1) == 1);
	tell(go[1]);
	int b = reap(k);
	CHECK("owner 2 got SIGIO", BIT_OK(b, 0));
	CHECK("F_GETOWN once the owner is reaped is 0", fcntl(p[0], F_GETOWN) == 0);
	/* For the helper: init owns g_fd[1]. */
	CHECK("F_SETOWN 1 on the pipe made outside", fcntl(g_fd[1], F_SETOWN, 1) == 0);
}

static void owner_after(pid_t c)
{
	CHECK("outside: F_GETOWN of init's setting is init's outer pid", fcntl(g_fd[1], F_GETOWN) == c);
	CHECK("outside: F_GETOWN of its own setting", fcntl(g_fd[0], F_GETOWN) == getpid());
}

/* ---------------------------------------------------------------- */
/* 2. record locks */

static char g_path[64];
static int g_lfd = -1;

static int lk(int fd, int cmd, int type, off_t start, off_t len, struct flock *out)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	int r = fcntl(fd, cmd, &fl);
	if (out)
		*out = fl;
	return r;
}

/* F_GETLK (or F_OFD_GETLK) for a write lock on [start, start+len):
 * whether it reports a write lock of pid over exactly that range. */
static int held_by(int fd, int cmd, off_t start, off_t len, pid_t pid)
{
	struct flock fl;
	return lk(fd, cmd, F_WRLCK, start, len, &fl) == 0 && fl.l_type == F_WRLCK && fl.l_pid == pid &&
	       fl.l_start == start && fl.l_len == len;
}

static int unlocked(int fd, off_t start, off_t len)
{
	struct flock fl;
	return lk(fd, F_GETLK, F_WRLCK, start, len, &fl) == 0 && fl.l_type == F_UNLCK;
}

static void locks_before(void)
{
	strcpy(g_path, "/tmp/husk-pidns-sites-XXXXXX");
	g_lfd = mkstemp(g_path);
	CHECK("outside: temp file", g_lfd >= 0 && ftruncate(g_lfd, 100) == 0);
	CHECK("outside: F_SETLK [50,60)", lk(g_lfd, F_SETLK, F_WRLCK, 50, 10, NULL) == 0);
}

static void locks_init(void)
{
	int rdy[2], go[2];
	struct flock fl;
	CHECK("pipes", pipe(rdy) == 0 && pipe(go) == 0);
	CHECK("F_GETLK of a lock held outside: l_pid 0", held_by(g_lfd, F_GETLK, 50, 10, 0));
	CHECK("init F_SETLK [40,45)", lk(g_lfd, F_SETLK, F_WRLCK, 40, 5, NULL) == 0);
	pid_t k = spawn();
	if (k == 0) {
		int fd = open(g_path, O_RDWR);
		CBIT(0, fd >= 0);
		CBIT(1, lk(fd, F_SETLK, F_WRLCK, 0, 10, NULL) == 0);
		CBIT(2, lk(fd, F_OFD_SETLK, F_WRLCK, 20, 10, NULL) == 0);
		CBIT(3, held_by(fd, F_GETLK, 40, 5, 1));
		CBIT(4, lk(fd, F_GETLK, F_RDLCK, 40, 5, &fl) == 0 && fl.l_type == F_WRLCK && fl.l_pid == 1);
		CBIT(5, held_by(fd, F_GETLK, 50, 10, 0));
		tell(rdy[1]);
		hear(go[0]);
		cexit();
	}
	CHECK("child ready", hear(rdy[0]));
	CHECK("F_GETLK of pid 2's lock: l_pid 2", held_by(g_lfd, F_GETLK, 0, 10, 2));
	CHECK("F_GETLK for a read lock: l_pid 2",
	      lk(g_lfd, F_GETLK, F_RDLCK, 0, 10, &fl) == 0 && fl.l_type == F_WRLCK && fl.l_pid == 2);
	CHECK("F_GETLK of an overlapping range: l_pid 2",
	      lk(g_lfd, F_GETLK, F_WRLCK, 5, 10, &fl) == 0 && fl.l_pid == 2 && fl.l_start == 0 && fl.l_len == 10);
	CHECK("F_OFD_GETLK of pid 2's process lock: l_pid 2", held_by(g_lfd, F_OFD_GETLK, 0, 10, 2));
	CHECK("F_GETLK of pid 2's OFD lock: l_pid -1", held_by(g_lfd, F_GETLK, 20, 10, -1));
	EXPECT_ERR("F_SETLK against pid 2's lock", lk(g_lfd, F_SETLK, F_WRLCK, 0, 10, NULL), EAGAIN);
	tell(go[1]);
	int b = reap(k);
	CHECK("pid 2 opens the file", BIT_OK(b, 0));
	CHECK("pid 2 F_SETLK [0,10)", BIT_OK(b, 1));
	CHECK("pid 2 F_OFD_SETLK [20,30)", BIT_OK(b, 2));
	CHECK("pid 2: F_GETLK of init's lock: l_pid 1", BIT_OK(b, 3));
	CHECK("pid 2: F_GETLK for a read lock: l_pid 1", BIT_OK(b, 4));
	CHECK("pid 2: F_GETLK of the lock held outside: l_pid 0", BIT_OK(b, 5));
	CHECK("pid 2's locks go with it", unlocked(g_lfd, 0, 10) && unlocked(g_lfd, 20, 10));
}

static void locks_after(pid_t c)
{
	CHECK("outside: F_GETLK of init's lock: l_pid is init's outer pid", held_by(g_lfd, F_GETLK, 40, 5, c));
	unlink(g_path);
	close(g_lfd);
}

/* ---------------------------------------------------------------- */
/* 3. SO_PEERCRED */

static int g_ps[2], g_lis = -1;

static socklen_t abstract(struct sockaddr_un *a, const char *tag)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "husk-pidns-sites-%d-%s", (int)g_helper, tag);
	return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

/* SO_PEERCRED: whether it reads pid (with uid and gid 0). */
static int peer_is(int fd, pid_t pid)
{
	struct ucred u;
	socklen_t l = sizeof u;
	memset(&u, 0xff, sizeof u);
	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &u, &l) == 0 && l == sizeof u && u.pid == pid && u.uid == 0 &&
	       u.gid == 0;
}

static int listener(const char *tag)
{
	struct sockaddr_un a;
	socklen_t l = abstract(&a, tag);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, l) || listen(s, 4))
		return -1;
	return s;
}

static int connector(const char *tag)
{
	struct sockaddr_un a;
	socklen_t l = abstract(&a, tag);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, l))
		return -1;
	return s;
}

static void peer_before(void)
{
	CHECK("outside: socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, g_ps) == 0);
	g_lis = listener("h");
	CHECK("outside: listening socket", g_lis >= 0);
}

static void peer_init(void)
{
	int sv[2];
	CHECK("SO_PEERCRED of a socketpair made outside: pid 0", peer_is(g_ps[1], 0));
	int cf = connector("h");
	CHECK("connect to the listener outside", cf >= 0);
	CHECK("SO_PEERCRED of a listener made outside: pid 0", peer_is(cf, 0));
	CHECK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	int lis = listener("i");
	CHECK("listening socket", lis >= 0);
	CHECK("SO_PEERCRED of its own listening socket: pid 1", peer_is(lis, 1));
	pid_t k = spawn();
	if (k == 0) {
		CBIT(0, peer_is(sv[1], 1));
		int c = connector("i");
		CBIT(1, c >= 0);
		CBIT(2, peer_is(c, 1));
		hear(sv[1]);
		cexit();
	}
	CHECK("SO_PEERCRED of init's socketpair: pid 1", peer_is(sv[0], 1));
	int a = accept(lis, NULL, NULL);
	CHECK("accept pid 2's connection", a >= 0);
	CHECK("SO_PEERCRED of the accepted connection: pid 2", peer_is(a, 2));
	tell(sv[0]);
	int b = reap(k);
	CHECK("pid 2: SO_PEERCRED of the socketpair: pid 1 (its creator)", BIT_OK(b, 0));
	CHECK("pid 2: connect", BIT_OK(b, 1));
	CHECK("pid 2: SO_PEERCRED of its connection: pid 1 (the listener)", BIT_OK(b, 2));
	CHECK("SO_PEERCRED after pid 2 was reaped: still 2", peer_is(a, 2));
}

static void peer_after(pid_t c)
{
	int a = accept(g_lis, NULL, NULL);
	CHECK("outside: accept init's connection", a >= 0);
	CHECK("outside: SO_PEERCRED of it is init's outer pid", peer_is(a, c));
	CHECK("outside: SO_PEERCRED of its own socketpair", peer_is(g_ps[0], getpid()));
}

/* ---------------------------------------------------------------- */
/* 4. SCM_CREDENTIALS */

static int g_ds[2];

static ssize_t send_cred(int fd, const struct ucred *u)
{
	char data = 'x';
	struct iovec iov = {&data, 1};
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} cm;
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	memset(&cm, 0, sizeof cm);
	if (u) {
		m.msg_control = cm.buf;
		m.msg_controllen = sizeof cm.buf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_CREDENTIALS;
		c->cmsg_len = CMSG_LEN(sizeof *u);
		memcpy(CMSG_DATA(c), u, sizeof *u);
	}
	return sendmsg(fd, &m, 0);
}

/* Receives one message: whether it came with SCM_CREDENTIALS naming pid
 * (uid and gid 0). */
static int recv_cred(int fd, pid_t pid)
{
	char data;
	struct iovec iov = {&data, 1};
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred)) + 64];
		struct cmsghdr align;
	} cm;
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof cm.buf};
	struct ucred u;
	int found = 0;
	if (recvmsg(fd, &m, 0) != 1)
		return 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len == CMSG_LEN(sizeof u)) {
			memcpy(&u, CMSG_DATA(c), sizeof u);
			found = u.pid == pid && u.uid == 0 && u.gid == 0;
		}
	}
	return found;
}

static void scm_before(void)
{
	int on = 1;
	CHECK("outside: socketpair SOCK_DGRAM", socketpair(AF_UNIX, SOCK_DGRAM, 0, g_ds) == 0);
	CHECK("outside: SO_PASSCRED on both ends",
	      setsockopt(g_ds[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0 &&
		      setsockopt(g_ds[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
	CHECK("outside: send", send_cred(g_ds[0], NULL) == 1);
}

static void scm_init(void)
{
	int sv[2], go[2], on = 1;
	struct ucred bad = {999, 0, 0};
	CHECK("SCM_CREDENTIALS of a sender outside: pid 0", recv_cred(g_ds[1], 0));
	CHECK("send to the outside", send_cred(g_ds[1], NULL) == 1);
	CHECK("socketpair SOCK_DGRAM and a pipe", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0 && pipe(go) == 0);
	CHECK("SO_PASSCRED", setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
	pid_t k = spawn();
	if (k == 0) {
		struct ucred me = {getpid(), 0, 0}, one = {1, 0, 0};
		CBIT(0, getpid() == 2);
		CBIT(1, send_cred(sv[1], &me) == 1);
		CBIT(2, send_cred(sv[1], NULL) == 1);
		CBIT(3, send_cred(sv[1], &one) == 1);
		errno = 0;
		CBIT(4, send_cred(sv[1], &bad) == -1 && errno == ESRCH);
		hear(go[0]);
		CBIT(5, send_cred(sv[1], NULL) == 1);
		cexit();
	}
	CHECK("explicit SCM_CREDENTIALS of pid 2: pid 2", recv_cred(sv[0], 2));
	CHECK("implied SCM_CREDENTIALS of pid 2: pid 2", recv_cred(sv[0], 2));
	CHECK("SCM_CREDENTIALS naming pid 1 (root may): pid 1", recv_cred(sv[0], 1));
	tell(go[1]);
	int b = reap(k);
	CHECK("pid 2: getpid() == 2", BIT_OK(b, 0));
	CHECK("pid 2: send with its own creds", BIT_OK(b, 1));
	CHECK("pid 2: send without creds", BIT_OK(b, 2));
	CHECK("pid 2: send with creds naming pid 1", BIT_OK(b, 3));
	CHECK("pid 2: creds naming pid 999 are ESRCH", BIT_OK(b, 4));
	CHECK("pid 2: last send", BIT_OK(b, 5));
	CHECK("SCM_CREDENTIALS of a message from pid 2, since reaped: pid 2", recv_cred(sv[0], 2));
	EXPECT_ERR("init: creds naming pid 2, since reaped", send_cred(sv[1], &(struct ucred){2, 0, 0}), ESRCH);
	EXPECT_ERR("init: creds naming pid 999", send_cred(sv[1], &bad), ESRCH);
	CHECK("init: creds naming itself", send_cred(sv[1], &(struct ucred){1, 0, 0}) == 1);
	CHECK("... received: pid 1", recv_cred(sv[0], 1));
}

static void scm_after(pid_t c)
{
	CHECK("outside: SCM_CREDENTIALS of init: its outer pid", recv_cred(g_ds[0], c));
}

/* ---------------------------------------------------------------- */
/* 5. SysV IPC */

static int g_sem = -1, g_msq = -1;
struct onebyte {
	long mtype;
	char c;
};

static int sem_add(int n)
{
	struct sembuf op = {0, (short)n, 0};
	return semop(g_sem, &op, 1);
}

static int msg_pids(pid_t lspid, pid_t lrpid, unsigned long qnum)
{
	struct msqid_ds q;
	return msgctl(g_msq, IPC_STAT, &q) == 0 && q.msg_lspid == lspid && q.msg_lrpid == lrpid && q.msg_qnum == qnum;
}

static int shm_pids(int id, pid_t cpid, pid_t lpid)
{
	struct shmid_ds s;
	return shmctl(id, IPC_STAT, &s) == 0 && s.shm_cpid == cpid && s.shm_lpid == lpid;
}

static void ipc_before(void)
{
	struct onebyte m = {1, 'h'};
	g_msq = msgget(IPC_PRIVATE, 0600);
	g_sem = semget(IPC_PRIVATE, 1, 0600);
	CHECK("outside: msgget and semget", g_msq >= 0 && g_sem >= 0);
	CHECK("outside: msgsnd", msgsnd(g_msq, &m, 1, 0) == 0);
	CHECK("outside: semop", sem_add(1) == 0);
}

static void ipc_init(void)
{
	int idp[2], go[2], id = -1;
	struct onebyte m;
	CHECK("pipes", pipe(idp) == 0 && pipe(go) == 0);
	CHECK("msg_lspid of a sender outside: 0", msg_pids(0, 0, 1));
	CHECK("semctl GETPID of a process outside: 0", semctl(g_sem, 0, GETPID) == 0);
	CHECK("msgrcv", msgrcv(g_msq, &m, 1, 0, 0) == 1 && m.c == 'h');
	CHECK("msg_lrpid 1 after init's msgrcv", msg_pids(0, 1, 0));
	pid_t k = spawn();
	if (k == 0) {
		struct onebyte mm = {1, '2'};
		CBIT(0, sem_add(1) == 0);
		CBIT(1, msgsnd(g_msq, &mm, 1, 0) == 0);
		int i = shmget(IPC_PRIVATE, 4096, 0600);
		CBIT(2, i >= 0);
		void *a = shmat(i, NULL, 0);
		CBIT(3, a != (void *)-1 && shmdt(a) == 0);
		CBIT(4, write(idp[1], &i, sizeof i) == sizeof i);
		hear(go[0]);
		cexit();
	}
	CHECK("shm id from pid 2", read(idp[0], &id, sizeof id) == sizeof id);
	g_share[0] = id;
	CHECK("semctl GETPID == 2", semctl(g_sem, 0, GETPID) == 2);
	CHECK("semctl GETVAL == 2", semctl(g_sem, 0, GETVAL) == 2);
	CHECK("msg_lspid == 2, msg_lrpid still 1", msg_pids(2, 1, 1));
	CHECK("shm_cpid == 2, shm_lpid == 2", shm_pids(id, 2, 2));
	tell(go[1]);
	int b = reap(k);
	CHECK("pid 2: semop", BIT_OK(b, 0));
	CHECK("pid 2: msgsnd", BIT_OK(b, 1));
	CHECK("pid 2: shmget", BIT_OK(b, 2));
	CHECK("pid 2: shmat and shmdt", BIT_OK(b, 3));
	CHECK("pid 2: sends the id", BIT_OK(b, 4));
	CHECK("semctl GETPID after pid 2 was reaped: still 2", semctl(g_sem, 0, GETPID) == 2);
	CHECK("msgrcv pid 2's message", msgrcv(g_msq, &m, 1, 0, 0) == 1 && m.c == '2');
	CHECK("msg_lspid 2, msg_lrpid 1", msg_pids(2, 1, 0));
	void *a = shmat(id, NULL, 0);
	CHECK("init shmat", a != (void *)-1);
	CHECK("shm_lpid 1 after init's shmat, shm_cpid 2", shm_pids(id, 2, 1));
	CHECK("shmdt", shmdt(a) == 0);
	CHECK("init semop", sem_add(-1) == 0);
	CHECK("semctl GETPID == 1 after init's semop", semctl(g_sem, 0, GETPID) == 1);
}

static void ipc_after(pid_t c)
{
	struct msqid_ds q;
	struct shmid_ds s;
	int id = g_share[0];
	CHECK("outside: semctl GETPID is init's outer pid", semctl(g_sem, 0, GETPID) == c);
	CHECK("outside: msg_lrpid is init's outer pid", msgctl(g_msq, IPC_STAT, &q) == 0 && q.msg_lrpid == c);
	CHECK("outside: shm_lpid is init's outer pid", shmctl(id, IPC_STAT, &s) == 0 && s.shm_lpid == c);
	CHECK("outside: shm_cpid is some other process", s.shm_cpid != c && s.shm_cpid != getpid() && s.shm_cpid > 0);
	CHECK("IPC_RMID all three", semctl(g_sem, 0, IPC_RMID) == 0 && msgctl(g_msq, IPC_RMID, NULL) == 0 &&
					    shmctl(id, IPC_RMID, NULL) == 0);
}

/* ---------------------------------------------------------------- */
/* 6. PI futexes */

static uint32_t *word(pthread_mutex_t *m)
{
	return (uint32_t *)&m->__data.__lock;
}

static uint32_t load(uint32_t *w)
{
	return __atomic_load_n(w, __ATOMIC_SEQ_CST);
}

static long futex(uint32_t *w, int op)
{
	return syscall(SYS_futex, w, op, 0, NULL, NULL, 0);
}

static pthread_mutex_t g_pi;
static int t_up[2], t_down[2];
static volatile int t_tid, t_try, t_lock, t_unlock;
static volatile uint32_t t_word;

static void *pi_thread(void *a)
{
	t_tid = gettid();
	t_try = pthread_mutex_trylock(&g_pi);
	t_lock = pthread_mutex_lock(&g_pi);
	t_word = load(word(&g_pi));
	tell(t_up[1]);
	hear(t_down[0]);
	t_unlock = pthread_mutex_unlock(&g_pi);
	return a;
}

static void pi_init(void)
{
	pthread_mutexattr_t at;
	pthread_t t;
	uint32_t w;
	CHECK("pipes", pipe(t_up) == 0 && pipe(t_down) == 0);
	pthread_mutexattr_init(&at);
	pthread_mutexattr_settype(&at, PTHREAD_MUTEX_ERRORCHECK);
	EXPECT_RC("PTHREAD_PRIO_INHERIT", pthread_mutexattr_setprotocol(&at, PTHREAD_PRIO_INHERIT), 0);
	EXPECT_RC("pthread_mutex_init", pthread_mutex_init(&g_pi, &at), 0);
	EXPECT_RC("init locks", pthread_mutex_lock(&g_pi), 0);
	CHECK("the futex word holds tid 1", load(word(&g_pi)) == 1);
	EXPECT_RC("pthread_create", pthread_create(&t, NULL, pi_thread, NULL), 0);
	/* The thread's FUTEX_LOCK_PI found owner 1 and queued itself. */
	CHECK("the thread waits in the kernel (FUTEX_WAITERS)", POLL_UNTIL(load(word(&g_pi)) & FUTEX_WAITERS));
	CHECK("the word still names 1", (load(word(&g_pi)) & FUTEX_TID_MASK) == 1);
	EXPECT_RC("init unlocks", pthread_mutex_unlock(&g_pi), 0);
	CHECK("the thread has the mutex", hear(t_up[0]));
	CHECK("thread gettid() == 2", t_tid == 2);
	EXPECT_RC("thread trylock while init held it", t_try, EBUSY);
	EXPECT_RC("thread lock", t_lock, 0);
	CHECK("the word handed over names 2", (t_word & FUTEX_TID_MASK) == 2);
	EXPECT_RC("unlock by a non-owner", pthread_mutex_unlock(&g_pi), EPERM);
	EXPECT_ERR("FUTEX_UNLOCK_PI by a non-owner", futex(word(&g_pi), FUTEX_UNLOCK_PI), EPERM);
	EXPECT_ERR("FUTEX_TRYLOCK_PI of a word held by 2", futex(word(&g_pi), FUTEX_TRYLOCK_PI), EAGAIN);
	EXPECT_RC("trylock of the mutex held by 2", pthread_mutex_trylock(&g_pi), EBUSY);
	tell(t_down[1]);
	EXPECT_RC("pthread_join", pthread_join(t, NULL), 0);
	EXPECT_RC("thread unlock", t_unlock, 0);
	CHECK("the word is 0 again", load(word(&g_pi)) == 0);
	EXPECT_RC("lock again", pthread_mutex_lock(&g_pi), 0);
	EXPECT_RC("unlock again", pthread_mutex_unlock(&g_pi), 0);

	w = 0;
	CHECK("FUTEX_LOCK_PI of 0 writes tid 1", futex(&w, FUTEX_LOCK_PI_PRIVATE) == 0 && w == 1);
	EXPECT_ERR("FUTEX_LOCK_PI of its own lock", futex(&w, FUTEX_LOCK_PI_PRIVATE), EDEADLK);
	CHECK("FUTEX_UNLOCK_PI", futex(&w, FUTEX_UNLOCK_PI_PRIVATE) == 0 && w == 0);
	CHECK("FUTEX_TRYLOCK_PI of 0 writes tid 1", futex(&w, FUTEX_TRYLOCK_PI_PRIVATE) == 0 && w == 1);
	CHECK("FUTEX_UNLOCK_PI again", futex(&w, FUTEX_UNLOCK_PI_PRIVATE) == 0 && w == 0);
	w = 999;
	EXPECT_ERR("FUTEX_LOCK_PI of a word naming no task (999)", futex(&w, FUTEX_LOCK_PI_PRIVATE), ESRCH);
	EXPECT_ERR("FUTEX_TRYLOCK_PI of a word naming 999", futex(&w, FUTEX_TRYLOCK_PI_PRIVATE), ESRCH);
	EXPECT_ERR("FUTEX_UNLOCK_PI of a word naming 999", futex(&w, FUTEX_UNLOCK_PI_PRIVATE), EPERM);
}

/* ---------------------------------------------------------------- */
/* 7. robust mutexes */

struct shared_mutexes {
	pthread_mutex_t m, pi;
};

static void robust_init(void)
{
	pthread_mutexattr_t at;
	int rdy[2], go[2];
	struct shared_mutexes *sh =
		mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK("shared mapping and pipes", sh != MAP_FAILED && pipe(rdy) == 0 && pipe(go) == 0);
	if (sh == MAP_FAILED)
		return;
	pthread_mutexattr_init(&at);
	pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
	EXPECT_RC("robust mutex", pthread_mutex_init(&sh->m, &at), 0);
	pthread_mutexattr_setprotocol(&at, PTHREAD_PRIO_INHERIT);
	EXPECT_RC("robust PI mutex", pthread_mutex_init(&sh->pi, &at), 0);

	pid_t k = spawn();
	if (k == 0) {
		CBIT(0, pthread_mutex_lock(&sh->m) == 0);
		CBIT(1, (load(word(&sh->m)) & FUTEX_TID_MASK) == 2);
		tell(rdy[1]);
		hear(go[0]);
		_exit(cbits); /* still holding it */
	}
	CHECK("child ready", hear(rdy[0]));
	CHECK("the word of pid 2's lock names 2", (load(word(&sh->m)) & FUTEX_TID_MASK) == 2);
	EXPECT_RC("trylock while 2 holds it", pthread_mutex_trylock(&sh->m), EBUSY);
	tell(go[1]);
	int b = reap(k);
	CHECK("pid 2 locks", BIT_OK(b, 0));
	CHECK("pid 2 sees its tid in the word", BIT_OK(b, 1));
	CHECK("the exit marked the word FUTEX_OWNER_DIED", (load(word(&sh->m)) & FUTEX_OWNER_DIED) != 0);
	EXPECT_RC("lock after the owner died", pthread_mutex_lock(&sh->m), EOWNERDEAD);
	CHECK("the word names 1", (load(word(&sh->m)) & FUTEX_TID_MASK) == 1);
	EXPECT_RC("pthread_mutex_consistent", pthread_mutex_consistent(&sh->m), 0);
	EXPECT_RC("unlock", pthread_mutex_unlock(&sh->m), 0);
	EXPECT_RC("lock again", pthread_mutex_lock(&sh->m), 0);
	EXPECT_RC("unlock again", pthread_mutex_unlock(&sh->m), 0);

	/* PI: init waits in FUTEX_LOCK_PI on owner 3 when 3 exits. */
	k = spawn();
	if (k == 0) {
		CBIT(0, pthread_mutex_lock(&sh->pi) == 0);
		CBIT(1, (load(word(&sh->pi)) & FUTEX_TID_MASK) == 3);
		tell(rdy[1]);
		CBIT(2, POLL_UNTIL(load(word(&sh->pi)) & FUTEX_WAITERS));
		_exit(cbits);
	}
	CHECK("child ready", hear(rdy[0]));
	CHECK("fork returns 3", k == 3);
	EXPECT_RC("PI lock waiting for owner 3 to exit", pthread_mutex_lock(&sh->pi), EOWNERDEAD);
	b = reap(k);
	CHECK("pid 3 locks", BIT_OK(b, 0));
	CHECK("pid 3 sees its tid in the word", BIT_OK(b, 1));
	CHECK("pid 3 sees init waiting", BIT_OK(b, 2));
	CHECK("the PI word names 1", (load(word(&sh->pi)) & FUTEX_TID_MASK) == 1);
	EXPECT_RC("pthread_mutex_consistent (PI)", pthread_mutex_consistent(&sh->pi), 0);
	EXPECT_RC("unlock (PI)", pthread_mutex_unlock(&sh->pi), 0);
	CHECK("the PI word is 0", load(word(&sh->pi)) == 0);
	munmap(sh, sizeof *sh);
}

/* ---------------------------------------------------------------- */
/* 8, 9. calls that take a pid */

static volatile int g_marker = 1;

static void calls_init(void)
{
	int rdy[2], go[2], e, v, nice0;
	cpu_set_t mine, its;
	struct sched_param sp;
	struct rlimit own, old, nw;
	struct __user_cap_header_struct ch = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct cme[2], cits[2];
	CHECK("pipes", pipe(rdy) == 0 && pipe(go) == 0);
	pid_t k = spawn();
	if (k == 0) {
		g_marker = 0x1234;
		tell(rdy[1]);
		hear(go[0]);
		cexit();
	}
	CHECK("child ready", hear(rdy[0]));
	CHECK("fork returns 2", k == 2);
	errno = 0;
	nice0 = getpriority(PRIO_PROCESS, 0);
	e = errno;
	CHECK("getpriority(PRIO_PROCESS, 0)", e == 0);
	CHECK("setpriority(PRIO_PROCESS, 2, 5)", setpriority(PRIO_PROCESS, 2, 5) == 0);
	errno = 0;
	v = getpriority(PRIO_PROCESS, 2);
	e = errno;
	CHECK("getpriority(PRIO_PROCESS, 2) == 5", v == 5 && e == 0);
	errno = 0;
	v = getpriority(PRIO_PROCESS, 0);
	e = errno;
	CHECK("init's own priority unchanged", v == nice0 && e == 0);
	EXPECT_ERR("getpriority(PRIO_PROCESS, 999)", getpriority(PRIO_PROCESS, 999), ESRCH);
	EXPECT_ERR("setpriority(PRIO_PROCESS, 999)", setpriority(PRIO_PROCESS, 999, 5), ESRCH);
	CHECK("setpgid(2, 2)", setpgid(2, 2) == 0);
	CHECK("getpgid(2) == 2", getpgid(2) == 2);
	CHECK("getsid(2) == 0 (its session leader is outside)", getsid(2) == 0);
	errno = 0;
	v = getpriority(PRIO_PGRP, 2);
	e = errno;
	CHECK("getpriority(PRIO_PGRP, 2) == 5", v == 5 && e == 0);
	EXPECT_ERR("getpriority(PRIO_PGRP, 999)", getpriority(PRIO_PGRP, 999), ESRCH);
	EXPECT_ERR("getpgid(999)", getpgid(999), ESRCH);
	EXPECT_ERR("getsid(999)", getsid(999), ESRCH);
	EXPECT_ERR("setpgid(999, 999)", setpgid(999, 999), ESRCH);
	CHECK("kill(2, 0)", kill(2, 0) == 0);
	CHECK("kill(-2, 0) (group 2)", kill(-2, 0) == 0);
	EXPECT_ERR("kill(-999, 0)", kill(-999, 0), ESRCH);
	CHECK("tgkill(2, 2, 0)", syscall(SYS_tgkill, 2, 2, 0) == 0);
	EXPECT_ERR("tgkill(1, 2, 0): 2 is not a thread of 1", syscall(SYS_tgkill, 1, 2, 0), ESRCH);
	EXPECT_ERR("tgkill(999, 999, 0)", syscall(SYS_tgkill, 999, 999, 0), ESRCH);
	CHECK("sched_getaffinity(0)", sched_getaffinity(0, sizeof mine, &mine) == 0);
	CHECK("sched_getaffinity(2) is init's mask",
	      sched_getaffinity(2, sizeof its, &its) == 0 && CPU_EQUAL(&mine, &its));
	CHECK("sched_setaffinity(2)", sched_setaffinity(2, sizeof mine, &mine) == 0);
	EXPECT_ERR("sched_getaffinity(999)", sched_getaffinity(999, sizeof its, &its), ESRCH);
	EXPECT_ERR("sched_setaffinity(999)", sched_setaffinity(999, sizeof mine, &mine), ESRCH);
	v = sched_getscheduler(0);
	CHECK("sched_getscheduler(2) is init's", v >= 0 && sched_getscheduler(2) == v);
	EXPECT_ERR("sched_getscheduler(999)", sched_getscheduler(999), ESRCH);
	CHECK("sched_getparam(0)", sched_getparam(0, &sp) == 0);
	v = sp.sched_priority;
	sp.sched_priority = -1;
	CHECK("sched_getparam(2) is init's", sched_getparam(2, &sp) == 0 && sp.sched_priority == v);
	EXPECT_ERR("sched_getparam(999)", sched_getparam(999, &sp), ESRCH);
	CHECK("getrlimit(RLIMIT_NOFILE)", getrlimit(RLIMIT_NOFILE, &own) == 0);
	CHECK("prlimit(2, RLIMIT_NOFILE, NULL, &old) is init's",
	      prlimit(2, RLIMIT_NOFILE, NULL, &old) == 0 && old.rlim_cur == own.rlim_cur && old.rlim_max == own.rlim_max);
	nw.rlim_cur = own.rlim_max < 64 ? own.rlim_max : 64;
	nw.rlim_max = own.rlim_max;
	CHECK("prlimit(2) sets 64, returns the old", prlimit(2, RLIMIT_NOFILE, &nw, &old) == 0 && old.rlim_cur == own.rlim_cur);
	CHECK("prlimit(2) reads 64", prlimit(2, RLIMIT_NOFILE, NULL, &old) == 0 && old.rlim_cur == nw.rlim_cur);
	CHECK("init's own limit unchanged", getrlimit(RLIMIT_NOFILE, &old) == 0 && old.rlim_cur == own.rlim_cur);
	EXPECT_ERR("prlimit(999)", prlimit(999, RLIMIT_NOFILE, NULL, &old), ESRCH);
	ch.pid = 0;
	memset(cme, 0, sizeof cme);
	memset(cits, 0xff, sizeof cits);
	CHECK("capget(0)", syscall(SYS_capget, &ch, cme) == 0);
	ch.pid = 2;
	CHECK("capget(2) is init's", syscall(SYS_capget, &ch, cits) == 0 && !memcmp(cme, cits, sizeof cme));
	ch.pid = 999;
	EXPECT_ERR("capget(999)", syscall(SYS_capget, &ch, cits), ESRCH);
	long io = syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0);
	CHECK("ioprio_get(PROCESS, 2) is init's", io >= 0 && syscall(SYS_ioprio_get, 1, 2) == io);
	EXPECT_ERR("ioprio_get(PROCESS, 999)", syscall(SYS_ioprio_get, 1, 999), ESRCH);
	int pfd = syscall(SYS_pidfd_open, 2, 0);
	CHECK("pidfd_open(2)", pfd >= 0);
	CHECK("pidfd_send_signal(0)", syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 0) == 0);
	EXPECT_ERR("pidfd_open(999)", syscall(SYS_pidfd_open, 999, 0), ESRCH);
	v = 0;
	struct iovec l = {&v, sizeof v}, r = {(void *)&g_marker, sizeof v};
	CHECK("process_vm_readv(2) reads its memory", process_vm_readv(2, &l, 1, &r, 1, 0) == sizeof v && v == 0x1234);
	EXPECT_ERR("process_vm_readv(999)", process_vm_readv(999, &l, 1, &r, 1, 0), ESRCH);
	tell(go[1]);
	CHECK("pid 2 exits", reap(k) == 0);
	EXPECT_ERR("kill(2, 0) once reaped", kill(2, 0), ESRCH);
	EXPECT_ERR("getpriority(PRIO_PROCESS, 2) once reaped", getpriority(PRIO_PROCESS, 2), ESRCH);
	EXPECT_ERR("prlimit(2) once reaped", prlimit(2, RLIMIT_NOFILE, NULL, &old), ESRCH);
	EXPECT_ERR("pidfd_send_signal once reaped", syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 0), ESRCH);
}

/* ---------------------------------------------------------------- */
/* 10. waitid and friends */

static pid_t waiter(int fd, int code)
{
	pid_t p = spawn();
	if (p == 0) {
		if (fd >= 0)
			hear(fd);
		_exit(code);
	}
	return p;
}

static void waitid_init(void)
{
	int ga[2], gb[2], gc[2], st;
	siginfo_t si;
	struct rusage ru;
	CHECK("pipes", pipe(ga) == 0 && pipe(gb) == 0 && pipe(gc) == 0);
	pid_t a = waiter(ga[0], 7);
	pid_t b = waiter(gb[0], 9);
	CHECK("children are 2 and 3", a == 2 && b == 3);
	CHECK("setpgid(2, 2) and setpgid(3, 2)", setpgid(2, 2) == 0 && setpgid(3, 2) == 0);
	CHECK("getpgid(3) == 2", getpgid(3) == 2);
	memset(&si, 0, sizeof si);
	CHECK("waitid(P_PGID, 2, WNOHANG) before either exits",
	      waitid(P_PGID, 2, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0);
	tell(ga[1]);
	memset(&si, 0, sizeof si);
	CHECK("waitid(P_PGID, 2) reaps 2",
	      waitid(P_PGID, 2, &si, WEXITED) == 0 && si.si_pid == 2 && si.si_code == CLD_EXITED && si.si_status == 7 &&
		      si.si_uid == 0);
	tell(gb[1]);
	CHECK("waitpid(-2) reaps 3 (group 2, its leader gone)",
	      waitpid(-2, &st, 0) == 3 && WIFEXITED(st) && WEXITSTATUS(st) == 9);
	EXPECT_ERR("waitid(P_PGID, 2) with the group empty", waitid(P_PGID, 2, &si, WEXITED), ECHILD);
	EXPECT_ERR("waitid(P_PGID, 999)", waitid(P_PGID, 999, &si, WEXITED), ECHILD);
	EXPECT_ERR("waitid(P_PID, 999)", waitid(P_PID, 999, &si, WEXITED), ECHILD);
	EXPECT_ERR("waitpid(999)", waitpid(999, &st, 0), ECHILD);
	EXPECT_ERR("waitpid(-999)", waitpid(-999, &st, 0), ECHILD);
	pid_t c = waiter(gc[0], 3);
	int pfd = syscall(SYS_pidfd_open, c, 0);
	CHECK("pidfd_open(4)", c == 4 && pfd >= 0);
	tell(gc[1]);
	memset(&si, 0, sizeof si);
	CHECK("waitid(P_PIDFD) reaps 4",
	      waitid(P_PIDFD, pfd, &si, WEXITED) == 0 && si.si_pid == 4 && si.si_status == 3);
	pid_t d = waiter(-1, 0);
	CHECK("wait4(5) returns 5", d == 5 && wait4(5, &st, 0, &ru) == 5 && WIFEXITED(st));
	pid_t e = waiter(-1, 4);
	memset(&si, 0, sizeof si);
	CHECK("waitid(P_PID, 6, WNOWAIT)",
	      e == 6 && waitid(P_PID, 6, &si, WEXITED | WNOWAIT) == 0 && si.si_pid == 6 && si.si_status == 4);
	memset(&si, 0, sizeof si);
	CHECK("waitid(P_ALL) then reaps 6", waitid(P_ALL, 0, &si, WEXITED) == 0 && si.si_pid == 6);
	EXPECT_ERR("no children left", waitpid(-1, &st, WNOHANG), ECHILD);
}

/* ---------------------------------------------------------------- */
/* 11. SIGCHLD and other senders */

static int sfd_read(int sfd, struct signalfd_siginfo *ss)
{
	memset(ss, 0, sizeof *ss);
	return read(sfd, ss, sizeof *ss) == sizeof *ss;
}

static void sigchld_init(void)
{
	sigset_t s, chld;
	struct signalfd_siginfo ss;
	siginfo_t si;
	int rdy[2], go[2], st;
	CHECK("pipes", pipe(rdy) == 0 && pipe(go) == 0);
	sigemptyset(&s);
	sigaddset(&s, SIGCHLD);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGRTMIN);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	CHECK("block SIGCHLD SIGUSR1 SIGRTMIN", sigprocmask(SIG_BLOCK, &s, NULL) == 0);
	int sfd = signalfd(-1, &s, 0);
	CHECK("signalfd", sfd >= 0);
	pid_t k = waiter(-1, 3);
	CHECK("signalfd: SIGCHLD from 2, CLD_EXITED 3",
	      sfd_read(sfd, &ss) && ss.ssi_signo == SIGCHLD && ss.ssi_pid == 2 && ss.ssi_code == CLD_EXITED &&
		      ss.ssi_status == 3 && ss.ssi_uid == 0);
	CHECK("waitpid returns 2", k == 2 && waitpid(k, &st, 0) == 2);
	k = spawn();
	if (k == 0) {
		CBIT(0, kill(1, SIGUSR1) == 0);
		CBIT(1, sigqueue(1, SIGRTMIN, (union sigval){.sival_int = 42}) == 0);
		tell(rdy[1]);
		hear(go[0]);
		cexit();
	}
	CHECK("child ready", hear(rdy[0]));
	CHECK("signalfd: SIGUSR1 from kill by 3: ssi_pid 3 SI_USER",
	      sfd_read(sfd, &ss) && ss.ssi_signo == SIGUSR1 && ss.ssi_pid == 3 && ss.ssi_code == SI_USER &&
		      ss.ssi_uid == 0);
	CHECK("signalfd: SIGRTMIN from sigqueue by 3: ssi_pid 3 SI_QUEUE",
	      sfd_read(sfd, &ss) && ss.ssi_signo == (uint32_t)SIGRTMIN && ss.ssi_pid == 3 && ss.ssi_code == SI_QUEUE &&
		      ss.ssi_int == 42);
	tell(go[1]);
	CHECK("signalfd: SIGCHLD from 3",
	      sfd_read(sfd, &ss) && ss.ssi_signo == SIGCHLD && ss.ssi_pid == 3 && ss.ssi_code == CLD_EXITED);
	int b = reap(k);
	CHECK("pid 3: kill(1, SIGUSR1)", BIT_OK(b, 0));
	CHECK("pid 3: sigqueue(1, SIGRTMIN)", BIT_OK(b, 1));
	/* Stop, continue and kill pid 4: sigwaitinfo. */
	k = spawn();
	if (k == 0) {
		for (;;)
			pause();
	}
	CHECK("fork returns 4", k == 4);
	CHECK("kill(4, SIGSTOP)", kill(4, SIGSTOP) == 0);
	memset(&si, 0, sizeof si);
	CHECK("sigwaitinfo: CLD_STOPPED from 4",
	      sigwaitinfo(&chld, &si) == SIGCHLD && si.si_pid == 4 && si.si_code == CLD_STOPPED &&
		      si.si_status == SIGSTOP);
	memset(&si, 0, sizeof si);
	CHECK("waitid(P_PID, 4, WSTOPPED)",
	      waitid(P_PID, 4, &si, WSTOPPED) == 0 && si.si_pid == 4 && si.si_code == CLD_STOPPED);
	CHECK("kill(4, SIGCONT)", kill(4, SIGCONT) == 0);
	memset(&si, 0, sizeof si);
	CHECK("sigwaitinfo: CLD_CONTINUED from 4",
	      sigwaitinfo(&chld, &si) == SIGCHLD && si.si_pid == 4 && si.si_code == CLD_CONTINUED &&
		      si.si_status == SIGCONT);
	memset(&si, 0, sizeof si);
	CHECK("waitid(P_PID, 4, WCONTINUED)",
	      waitid(P_PID, 4, &si, WCONTINUED) == 0 && si.si_pid == 4 && si.si_code == CLD_CONTINUED);
	CHECK("kill(4, SIGKILL)", kill(4, SIGKILL) == 0);
	memset(&si, 0, sizeof si);
	CHECK("sigwaitinfo: CLD_KILLED from 4",
	      sigwaitinfo(&chld, &si) == SIGCHLD && si.si_pid == 4 && si.si_code == CLD_KILLED &&
		      si.si_status == SIGKILL);
	CHECK("waitpid returns 4, killed", waitpid(4, &st, 0) == 4 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

int main(void)
{
	alarm(30);
	g_share = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g_share == MAP_FAILED) {
		printf("mmap FAIL\n");
		return 1;
	}
	scenario("fcntl owner", owner_before, owner_init, owner_after);
	scenario("record locks", locks_before, locks_init, locks_after);
	scenario("SO_PEERCRED", peer_before, peer_init, peer_after);
	scenario("SCM_CREDENTIALS", scm_before, scm_init, scm_after);
	scenario("SysV IPC", ipc_before, ipc_init, ipc_after);
	scenario("PI futex", NULL, pi_init, NULL);
	scenario("robust mutex", NULL, robust_init, NULL);
	scenario("calls taking a pid", NULL, calls_init, NULL);
	scenario("waitid", NULL, waitid_init, NULL);
	scenario("SIGCHLD", NULL, sigchld_init, NULL);
	return compat_done();
}
