/* Arguments a hostile or careless program passes, answered as Linux
 * answers them: a negative setsockopt length, too many iovecs in a
 * msghdr, send flags no protocol uses, POSIX timers past
 * RLIMIT_SIGPENDING, tmpfs extended attributes beyond the mount's size,
 * and many mappings made one after another (placed top-down, found again
 * after an unmap). */
#include "common.h"
#include <signal.h>
#include <elf.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <linux/futex.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <sys/syscall.h>
#include <time.h>

static void sockets(void)
{
	int sv[2];
	CHECK("socketpair", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	int one = 1;
	EXPECT_ERR("setsockopt_len_negative", setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, -1), EINVAL);
	EXPECT_ERR("setsockopt_len_int_min", setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &one, (socklen_t)0x80000000u), EINVAL);

	static struct iovec iov[1025];
	char c = 'x';
	for (int i = 0; i < 1025; i++) {
		iov[i].iov_base = &c;
		iov[i].iov_len = 1;
	}
	struct msghdr m = {0};
	m.msg_iov = iov;
	m.msg_iovlen = 1025;
	EXPECT_ERR("sendmsg_iovlen_1025", sendmsg(sv[0], &m, 0), EMSGSIZE);
	EXPECT_ERR("recvmsg_iovlen_1025", recvmsg(sv[1], &m, MSG_DONTWAIT), EMSGSIZE);
	m.msg_iovlen = 1024;
	CHECK("sendmsg_iovlen_1024", sendmsg(sv[0], &m, 0) == 1024);
	char buf[2048];
	CHECK("recv_1024", recv(sv[1], buf, sizeof buf, 0) == 1024);
	/* Bits no protocol here uses are passed over. */
	CHECK("send_unknown_flags", send(sv[0], "a", 1, 0x800000 | 0x4000000) == 1);
	CHECK("recv_after_unknown_flags", recv(sv[1], buf, sizeof buf, 0) == 1);
	close(sv[0]);
	close(sv[1]);

	/* Netlink options Linux does not have are refused, not kept. */
	int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	int v = 1;
	CHECK("netlink_ext_ack", setsockopt(nl, SOL_NETLINK, NETLINK_EXT_ACK, &v, sizeof v) == 0);
	EXPECT_ERR("netlink_unknown_set", setsockopt(nl, SOL_NETLINK, 50, &v, sizeof v), ENOPROTOOPT);
	socklen_t vl = sizeof v;
	EXPECT_ERR("netlink_unknown_get", getsockopt(nl, SOL_NETLINK, 50, &v, &vl), ENOPROTOOPT);
	v = 0;
	EXPECT_ERR("netlink_membership_group_0", setsockopt(nl, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &v, sizeof v), EINVAL);
	close(nl);
}

static void timers(void)
{
	pid_t child = fork();
	if (child == 0) {
		struct rlimit r = {10, 10};
		setrlimit(RLIMIT_SIGPENDING, &r);
		timer_t t[12];
		struct sigevent ev = {0};
		ev.sigev_notify = SIGEV_NONE;
		int made = 0, err = 0;
		for (int i = 0; i < 12; i++) {
			if (timer_create(CLOCK_MONOTONIC, &ev, &t[i]) == 0)
				made++;
			else
				err = errno;
		}
		/* Linux counts every signal the user has pending, system-wide,
		 * beside the timers: the exact number varies. */
		printf("timers under RLIMIT_SIGPENDING 10 end with %s, at most 10: %s\n", ename(err),
		       made >= 5 && made <= 10 ? "yes" : "no");
		timer_delete(t[0]);
		printf("one more after a delete: %s\n",
		       timer_create(CLOCK_MONOTONIC, &ev, &t[0]) == 0 ? "ok" : ename(errno));
		fflush(stdout);
		_exit(0);
	}
	waitpid(child, NULL, 0);
}

static void xattrs(void)
{
	char dir[] = "/tmp/husk-hostile-XXXXXX";
	if (!mkdtemp(dir))
		return;
	pid_t child = fork();
	if (child == 0) {
		if (private_tmpfs(dir, "size=64k"))
			_exit(1);
		char f[64];
		snprintf(f, sizeof f, "%s/f", dir);
		close(open(f, O_CREAT | O_WRONLY, 0644));
		static char v[16 << 10];
		int n = 0;
		char name[32];
		for (; n < 100; n++) {
			snprintf(name, sizeof name, "user.k%d", n);
			if (setxattr(f, name, v, sizeof v, 0))
				break;
		}
		/* size= bounds pages, not attributes. */
		printf("16 KiB attributes on a 64 KiB tmpfs: %d set\n", n);
		CHECK("remove_gives_back", removexattr(f, "user.k0") == 0 && setxattr(f, "user.again", v, sizeof v, 0) == 0);
		fflush(stdout);
		_exit(0);
	}
	waitpid(child, NULL, 0);
	rmdir(dir);
}

static long fx(void *a, int op, int v, void *t)
{
	return syscall(SYS_futex, a, op, v, t, NULL, 0);
}

static void futexes(void)
{
	int *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static int w;
	EXPECT_ERR("futex_wake_above_user_space", fx((void *)0x800000000000UL, FUTEX_WAKE_PRIVATE, 1, NULL), EFAULT);
	EXPECT_ERR("futex_wake_kernel_address", fx((void *)-4L, FUTEX_WAKE_PRIVATE, 1, NULL), EFAULT);
	EXPECT_ERR("futex_wake_shared_prot_none", fx(none, FUTEX_WAKE, 1, NULL), EFAULT);
	CHECK("futex_wake_private_prot_none", fx(none, FUTEX_WAKE_PRIVATE, 1, NULL) == 0);
	EXPECT_ERR("futex_wake_clock_realtime", fx(&w, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, NULL), ENOSYS);
	struct timespec bad = {0, -1}, ok = {0, 1000};
	EXPECT_ERR("futex_wait_realtime_bad_timeout", fx(&w, FUTEX_WAIT | FUTEX_CLOCK_REALTIME, 0, &bad), EINVAL);
	EXPECT_ERR("futex_wait_realtime", fx(&w, FUTEX_WAIT | FUTEX_CLOCK_REALTIME, 0, &ok), ENOSYS);
	munmap(none, 4096);
}

static void clone3_stacks(void)
{
	struct clone_args a = {0};
	a.exit_signal = SIGCHLD;
	a.stack = 0x7ffffffff000UL;
	a.stack_size = 0x2000;
	EXPECT_ERR("clone3_stack_past_user_space", syscall(SYS_clone3, &a, sizeof a), EINVAL);
	a.stack = -4096UL;
	a.stack_size = 8192;
	EXPECT_ERR("clone3_stack_wraps", syscall(SYS_clone3, &a, sizeof a), EINVAL);
	a.stack = 0;
	EXPECT_ERR("clone3_size_without_stack", syscall(SYS_clone3, &a, sizeof a), EINVAL);
}

static void regsets(void)
{
	pid_t c = fork();
	if (c == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	struct user_regs_struct r;
	struct iovec iov = {&r, 1};
	EXPECT_ERR("getregset_len_1", ptrace(PTRACE_GETREGSET, c, NT_PRSTATUS, &iov), EINVAL);
	iov.iov_len = (size_t)-1;
	EXPECT_ERR("getregset_len_huge", ptrace(PTRACE_GETREGSET, c, NT_PRSTATUS, &iov), EINVAL);
	iov.iov_len = sizeof r;
	CHECK("getregset_type_high_bits", ptrace(PTRACE_GETREGSET, c, 0x100000000UL | NT_PRSTATUS, &iov) == 0 && iov.iov_len == sizeof r);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
}

static void mappings(void)
{
	/* Alternating protections keep them apart. */
	enum { N = 20000 };
	static char *p[N];
	int ok = 1;
	for (int i = 0; i < N; i++) {
		p[i] = mmap(NULL, 4096, i & 1 ? PROT_READ : PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p[i] == MAP_FAILED)
			ok = 0;
		/* Top-down: each below the one before. */
		if (i > 0 && p[i] >= p[i - 1])
			ok = 0;
	}
	CHECK("mappings_top_down", ok);
	/* The offset's alignment, then the fd, then the length. */
	EXPECT_ERR("mmap_len0_bad_fd", (long)mmap(NULL, 0, PROT_READ, MAP_PRIVATE, -1, 0), EBADF);
	EXPECT_ERR("mmap_unaligned_offset_bad_fd", (long)mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, -1, 1), EINVAL);
	EXPECT_ERR("mmap_len0_anonymous", (long)mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL);
	/* A hole left in the middle is where the next one goes. */
	munmap(p[N / 2], 4096);
	char *again = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("hole_found_again", again == p[N / 2]);
	for (int i = 0; i < N; i++)
		munmap(p[i], 4096);
}

int main(void)
{
	sockets();
	timers();
	if (getuid() == 0)
		xattrs();
	futexes();
	clone3_stacks();
	regsets();
	mappings();
	return compat_done();
}
