/* msync, mlock family, set*id family in a child, capget, arch_prctl,
 * set_tid_address, get_robust_list, rt_(tg)sigqueueinfo, clone3, execveat,
 * close_range, restart_syscall, exit_group. */
#include "common.h"
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <asm/prctl.h>
#include <grp.h>

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 0x01
#endif

#define NOPID 0x3fffffff

static int child_status(pid_t p)
{
	int st;
	if (waitpid(p, &st, 0) != p)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static volatile int sig_seen, sig_code, sig_value, sig_pid_ok;
static void on_info(int s, siginfo_t *si, void *uc)
{
	(void)uc;
	sig_seen = s;
	sig_code = si->si_code;
	sig_value = si->si_value.sival_int;
	sig_pid_ok = si->si_pid == getpid();
}

static void *exit_group_thread(void *arg)
{
	(void)arg;
	syscall(SYS_exit_group, 5);
	return NULL;
}

static int tid_word = 12345;

/* clone3 that is expected to fail: if it creates a child anyway, the child
 * exits at once and is reaped so that it does not run the rest of main. */
static long clone3_try(struct clone_args *a, size_t size)
{
	long r = syscall(SYS_clone3, a, size);
	if (r == 0)
		_exit(0);
	if (r > 0) {
		waitpid(r, NULL, __WALL);
		errno = 0;
	}
	return r;
}

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);

	/* msync. */
	char *m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("mmap_anon", m != MAP_FAILED);
	m[0] = 1;
	CHECK("msync_anon_sync", msync(m, pg, MS_SYNC) == 0);
	CHECK("msync_anon_async", msync(m, 4 * pg, MS_ASYNC) == 0);
	CHECK("msync_invalidate", msync(m, pg, MS_INVALIDATE) == 0);
	CHECK("msync_zero_len", msync(m, 0, MS_SYNC) == 0);
	EXPECT_ERR("msync_unaligned", msync(m + 1, pg, MS_SYNC), EINVAL);
	EXPECT_ERR("msync_sync_and_async", msync(m, pg, MS_SYNC | MS_ASYNC), EINVAL);
	EXPECT_ERR("msync_bad_flags", msync(m, pg, 0x100), EINVAL);
	char *hole = mmap(NULL, 3 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(hole, 3 * pg);
	EXPECT_ERR("msync_unmapped", msync(hole, pg, MS_SYNC), ENOMEM);
	munmap(m + 2 * pg, pg); /* punch a hole in the middle */
	EXPECT_ERR("msync_partially_unmapped", msync(m, 4 * pg, MS_SYNC), ENOMEM);
	int pfd = open("/etc/passwd", O_RDONLY);
	char *fm = mmap(NULL, pg, PROT_READ, MAP_SHARED, pfd, 0);
	CHECK("mmap_file_shared", fm != MAP_FAILED);
	CHECK("msync_file_shared", msync(fm, pg, MS_SYNC) == 0);
	munmap(fm, pg);

	/* mlock family. */
	CHECK("mlock_anon", mlock(m, pg) == 0);
	CHECK("munlock_anon", munlock(m, pg) == 0);
	EXPECT_ERR("mlock_unmapped", mlock(hole, pg), ENOMEM);
	EXPECT_ERR("munlock_unmapped", munlock(hole, pg), ENOMEM);
	EXPECT_ERR("mlock_partially_unmapped", mlock(m, 4 * pg), ENOMEM);
	CHECK("mlock2_zero", mlock2(m, pg, 0) == 0);
	CHECK("mlock2_onfault", mlock2(m, pg, MLOCK_ONFAULT) == 0);
	EXPECT_ERR("mlock2_bad_flags", mlock2(m, pg, 0x2), EINVAL);
	EXPECT_ERR("mlock2_unmapped", mlock2(hole, pg, 0), ENOMEM);
	CHECK("munlock_after_mlock2", munlock(m, pg) == 0);
	CHECK("mlockall_current", mlockall(MCL_CURRENT) == 0);
	CHECK("munlockall", munlockall() == 0);
	CHECK("mlockall_future", mlockall(MCL_FUTURE) == 0);
	char *after = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("mmap_after_mlockall_future", after != MAP_FAILED);
	CHECK("munlockall_2", munlockall() == 0);
	munmap(after, pg);
	CHECK("mlockall_onfault", mlockall(MCL_CURRENT | MCL_ONFAULT) == 0);
	CHECK("munlockall_3", munlockall() == 0);
	EXPECT_ERR("mlockall_zero", mlockall(0), EINVAL);
	EXPECT_ERR("mlockall_onfault_alone", mlockall(MCL_ONFAULT), EINVAL);
	EXPECT_ERR("mlockall_bad_flags", mlockall(0x100), EINVAL);

	/* set*id: change credentials in a child only. */
	pid_t p = fork();
	if (p == 0) {
		uid_t r, e, s;
		compat_failures = 0;
		gid_t gr, ge, gs;
		CHECK("setreuid_noop", setreuid(-1, -1) == 0);
		CHECK("setreuid_same", setreuid(0, 0) == 0);
		CHECK("setregid_same", setregid(0, 0) == 0);
		CHECK("setresuid_same", setresuid(0, 0, 0) == 0);
		CHECK("setresgid_same", setresgid(0, 0, 0) == 0);
		SHOW("setfsuid_prev", "%d", setfsuid(0));
		SHOW("setfsgid_prev", "%d", setfsgid(0));
		SHOW("setfsuid_query", "%d", setfsuid(-1));
		SHOW("setfsgid_query", "%d", setfsgid(-1));
		gid_t groups[4] = {0, 5, 7, 0};
		CHECK("setgroups_empty", setgroups(0, NULL) == 0);
		SHOW("getgroups_after_empty", "%d", getgroups(0, NULL));
		CHECK("setgroups_three", setgroups(3, groups) == 0);
		gid_t got[8] = {0};
		SHOW("getgroups_three", "%d", getgroups(8, got));
		SHOW("getgroups_values", "%d", got[0] == 0 && got[1] == 5 && got[2] == 7);
		EXPECT_ERR("getgroups_too_small", getgroups(1, got), EINVAL);
		EXPECT_ERR("setgroups_too_many", setgroups(65537, groups), EINVAL);
		EXPECT_ERR("setgroups_efault", setgroups(2, BADPTR), EFAULT);
		CHECK("setresgid_1000", setresgid(1000, 1001, 1002) == 0);
		CHECK("getresgid_1000", getresgid(&gr, &ge, &gs) == 0);
		SHOW("resgid", "%d", gr == 1000 && ge == 1001 && gs == 1002);
		SHOW("setfsgid_follows_egid", "%d", setfsgid(-1));
		CHECK("setregid_swap", setregid(1001, 1000) == 0);
		getresgid(&gr, &ge, &gs);
		printf("%s %d %d %d\n", "regid_after_swap", gr, ge, gs);
		CHECK("setresuid_1000", setresuid(1000, 1001, 1002) == 0);
		CHECK("getresuid_1000", getresuid(&r, &e, &s) == 0);
		printf("%s %d %d %d\n", "resuid", r, e, s);
		SHOW("setfsuid_follows_euid", "%d", setfsuid(-1));
		CHECK("setreuid_unpriv_swap", setreuid(1001, 1000) == 0);
		getresuid(&r, &e, &s);
		printf("%s %d %d %d\n", "reuid_after_swap", r, e, s);
		EXPECT_ERR("setresuid_unpriv_eperm", setresuid(0, -1, -1), EPERM);
		EXPECT_ERR("setreuid_unpriv_eperm", setreuid(-1, 0), EPERM);
		EXPECT_ERR("setregid_unpriv_eperm", setregid(-1, 0), EPERM);
		EXPECT_ERR("setuid_unpriv_eperm", setuid(0), EPERM);
		EXPECT_ERR("setgroups_unpriv_eperm", setgroups(0, NULL), EPERM);
		SHOW("setfsuid_unpriv_denied_prev", "%d", setfsuid(0));
		SHOW("setfsuid_unpriv_unchanged", "%d", setfsuid(-1));
		SHOW("setfsuid_unpriv_to_ruid_prev", "%d", setfsuid(1001));
		SHOW("setfsuid_unpriv_now", "%d", setfsuid(-1));
		_exit(compat_failures);
	}
	SHOW("setid_child_failures", "%d", child_status(p));
	CHECK("parent_still_root", geteuid() == 0 && getuid() == 0);

	/* capget. */
	struct __user_cap_header_struct hdr = {0, 0};
	struct __user_cap_data_struct data[2];
	SHOW("capget_probe_ret", "%ld", syscall(SYS_capget, &hdr, NULL));
	SHOW("capget_probe_version", "%#x", hdr.version);
	hdr.version = 0;
	EXPECT_ERR("capget_bad_version_with_data", syscall(SYS_capget, &hdr, data), EINVAL);
	SHOW("capget_bad_version_rewritten", "%#x", hdr.version);
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	hdr.pid = 0;
	memset(data, 0, sizeof(data));
	CHECK("capget_v3", syscall(SYS_capget, &hdr, data) == 0);
	CHECK("capget_v3_effective_nonzero", data[0].effective != 0);
	CHECK("capget_v3_permitted_ge_effective",
	      (data[0].effective & ~data[0].permitted) == 0 && (data[1].effective & ~data[1].permitted) == 0);
	hdr.pid = getpid();
	struct __user_cap_data_struct d2[2];
	CHECK("capget_v3_self_pid", syscall(SYS_capget, &hdr, d2) == 0 &&
	      d2[0].effective == data[0].effective && d2[1].effective == data[1].effective);
	hdr.version = _LINUX_CAPABILITY_VERSION_1;
	hdr.pid = 0;
	CHECK("capget_v1", syscall(SYS_capget, &hdr, d2) == 0 && d2[0].effective == data[0].effective);
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	hdr.pid = NOPID;
	EXPECT_ERR("capget_esrch", syscall(SYS_capget, &hdr, data), ESRCH);
	hdr.pid = -1;
	EXPECT_ERR("capget_negative_pid", syscall(SYS_capget, &hdr, data), EINVAL);
	EXPECT_ERR("capget_hdr_efault", syscall(SYS_capget, BADPTR, data), EFAULT);
	hdr.pid = 0;
	EXPECT_ERR("capget_data_efault", syscall(SYS_capget, &hdr, BADPTR), EFAULT);

	/* arch_prctl. */
	unsigned long fs = 0, fs2 = 0, gs = 1, self;
	CHECK("arch_get_fs", syscall(SYS_arch_prctl, ARCH_GET_FS, &fs) == 0);
	__asm__ volatile("mov %%fs:0, %0" : "=r"(self));
	CHECK("arch_get_fs_eq_tcb_self", fs == self);
	CHECK("arch_get_fs_eq_pthread_self", fs == (unsigned long)pthread_self());
	CHECK("arch_get_fs_twice", syscall(SYS_arch_prctl, ARCH_GET_FS, &fs2) == 0 && fs2 == fs);
	CHECK("arch_set_fs_same", syscall(SYS_arch_prctl, ARCH_SET_FS, fs) == 0);
	CHECK("arch_get_gs", syscall(SYS_arch_prctl, ARCH_GET_GS, &gs) == 0);
	SHOW("arch_get_gs_value", "%lu", gs);
	EXPECT_ERR("arch_prctl_bad_code", syscall(SYS_arch_prctl, 0x1fff, &fs), EINVAL);
	EXPECT_ERR("arch_get_fs_efault", syscall(SYS_arch_prctl, ARCH_GET_FS, BADPTR), EFAULT);
	SHOW("arch_get_cpuid", "%ld", syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0));

	/* set_tid_address / get_robust_list. */
	p = fork();
	if (p == 0) {
		long t = syscall(SYS_set_tid_address, &tid_word);
		_exit(t == syscall(SYS_gettid) ? 0 : 1);
	}
	SHOW("set_tid_address_child_status", "%d", child_status(p));
	SHOW("set_tid_address_eq_gettid", "%d",
	     syscall(SYS_set_tid_address, &tid_word) == syscall(SYS_gettid));
	void *head = NULL;
	size_t len = 0;
	CHECK("get_robust_list_self", syscall(SYS_get_robust_list, 0, &head, &len) == 0);
	SHOW("get_robust_list_len", "%zu", len);
	CHECK("get_robust_list_head_set", head != NULL);
	CHECK("get_robust_list_by_tid", syscall(SYS_get_robust_list, syscall(SYS_gettid), &head, &len) == 0);
	EXPECT_ERR("get_robust_list_esrch", syscall(SYS_get_robust_list, NOPID, &head, &len), ESRCH);
	EXPECT_ERR("get_robust_list_efault", syscall(SYS_get_robust_list, 0, BADPTR, &len), EFAULT);
	EXPECT_ERR("set_robust_list_bad_len", syscall(SYS_set_robust_list, head, 10), EINVAL);
	CHECK("set_robust_list_restore", syscall(SYS_set_robust_list, head, 24) == 0);

	/* rt_sigqueueinfo / rt_tgsigqueueinfo to self. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_info;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	si.si_signo = SIGUSR1;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = 42;
	CHECK("rt_sigqueueinfo_self", syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &si) == 0);
	SHOW("rt_sigqueueinfo_signal", "%d", sig_seen);
	SHOW("rt_sigqueueinfo_code_is_queue", "%d", sig_code == SI_QUEUE);
	SHOW("rt_sigqueueinfo_value", "%d", sig_value);
	SHOW("rt_sigqueueinfo_pid_ok", "%d", sig_pid_ok);
	sig_seen = 0;
	si.si_signo = SIGUSR2;
	si.si_value.sival_int = 77;
	CHECK("rt_tgsigqueueinfo_self",
	      syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), SIGUSR2, &si) == 0);
	SHOW("rt_tgsigqueueinfo_signal", "%d", sig_seen);
	SHOW("rt_tgsigqueueinfo_value", "%d", sig_value);
	SHOW("rt_tgsigqueueinfo_code_is_queue", "%d", sig_code == SI_QUEUE);
	sig_seen = 0;
	si.si_code = SI_USER; /* allowed when sending to oneself */
	si.si_value.sival_int = 5;
	CHECK("rt_sigqueueinfo_self_si_user", syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &si) == 0);
	SHOW("rt_sigqueueinfo_si_user_code", "%d", sig_code);
	si.si_code = SI_QUEUE;
	CHECK("rt_sigqueueinfo_sig0", syscall(SYS_rt_sigqueueinfo, getpid(), 0, &si) == 0);
	EXPECT_ERR("rt_sigqueueinfo_bad_sig", syscall(SYS_rt_sigqueueinfo, getpid(), 1000, &si), EINVAL);
	EXPECT_ERR("rt_sigqueueinfo_esrch", syscall(SYS_rt_sigqueueinfo, NOPID, SIGUSR1, &si), ESRCH);
	EXPECT_ERR("rt_sigqueueinfo_efault", syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, BADPTR), EFAULT);
	EXPECT_ERR("rt_tgsigqueueinfo_bad_tid",
		   syscall(SYS_rt_tgsigqueueinfo, getpid(), NOPID, SIGUSR2, &si), ESRCH);
	EXPECT_ERR("rt_tgsigqueueinfo_negative",
		   syscall(SYS_rt_tgsigqueueinfo, -1, -1, SIGUSR2, &si), EINVAL);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);

	/* clone3. */
	struct clone_args ca;
	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	EXPECT_ERR("clone3_size_too_small", clone3_try(&ca, 63), EINVAL);
	EXPECT_ERR("clone3_size_zero", clone3_try(&ca, 0), EINVAL);
	EXPECT_ERR("clone3_efault", clone3_try(BADPTR, 64), EFAULT);
	ca.exit_signal = 200;
	EXPECT_ERR("clone3_bad_exit_signal", clone3_try(&ca, 64), EINVAL);
	ca.exit_signal = SIGCHLD;
	ca.flags = CLONE_THREAD;
	EXPECT_ERR("clone3_thread_without_vm", clone3_try(&ca, 64), EINVAL);
	ca.flags = 1ULL << 40;
	EXPECT_ERR("clone3_unknown_flag", clone3_try(&ca, 64), EINVAL);
	ca.flags = 0;
	long c3 = syscall(SYS_clone3, &ca, 64);
	if (c3 == 0)
		_exit(23);
	CHECK("clone3_fork", c3 > 0);
	int st = -1;
	CHECK("clone3_waitpid", waitpid(c3, &st, 0) == c3);
	SHOW("clone3_child_status", "%d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	pid_t parent = getpid();
	c3 = syscall(SYS_clone3, &ca, sizeof(ca));
	if (c3 == 0)
		_exit(getppid() == parent ? 24 : 1);
	SHOW("clone3_full_size_child_status", "%d", c3 > 0 ? child_status(c3) : -1);

	/* execveat. */
	char *argv[] = {"true", NULL};
	char *envp[] = {NULL};
	p = fork();
	if (p == 0) {
		int fd = open("/bin/true", O_RDONLY);
		syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
		_exit(99);
	}
	SHOW("execveat_empty_path_status", "%d", child_status(p));
	p = fork();
	if (p == 0) {
		int d = open("/bin", O_RDONLY | O_DIRECTORY);
		syscall(SYS_execveat, d, "true", argv, envp, 0);
		_exit(99);
	}
	SHOW("execveat_dirfd_status", "%d", child_status(p));
	EXPECT_ERR("execveat_enoent", syscall(SYS_execveat, AT_FDCWD, "/nonexistent-husk", argv, envp, 0), ENOENT);
	EXPECT_ERR("execveat_bad_flags", syscall(SYS_execveat, AT_FDCWD, "/bin/true", argv, envp, 0x1), EINVAL);
	EXPECT_ERR("execveat_ebadf", syscall(SYS_execveat, 999, "true", argv, envp, 0), EBADF);
	EXPECT_ERR("execveat_empty_no_flag", syscall(SYS_execveat, pfd, "", argv, envp, 0), ENOENT);
	EXPECT_ERR("execveat_empty_path_nonexec", syscall(SYS_execveat, pfd, "", argv, envp, AT_EMPTY_PATH), EACCES);

	/* close_range. */
	for (int i = 10; i <= 20; i++)
		dup2(pfd, i);
	CHECK("close_range_10_20", close_range(10, 20, 0) == 0);
	int still = 0;
	for (int i = 10; i <= 20; i++)
		still += fcntl(i, F_GETFD) >= 0;
	SHOW("close_range_still_open", "%d", still);
	CHECK("close_range_pfd_kept", fcntl(pfd, F_GETFD) >= 0);
	for (int i = 10; i <= 12; i++)
		dup2(pfd, i);
	CHECK("close_range_cloexec", close_range(10, 12, CLOSE_RANGE_CLOEXEC) == 0);
	printf("%s %d%d%d\n", "close_range_cloexec_flags", fcntl(10, F_GETFD), fcntl(11, F_GETFD), fcntl(12, F_GETFD));
	CHECK("close_range_unshare", close_range(11, 11, CLOSE_RANGE_UNSHARE) == 0);
	SHOW("close_range_unshare_closed", "%d", fcntl(11, F_GETFD) < 0);
	CHECK("close_range_to_max", close_range(10, ~0U, 0) == 0);
	SHOW("close_range_to_max_closed", "%d", fcntl(10, F_GETFD) < 0 && fcntl(12, F_GETFD) < 0);
	CHECK("close_range_empty_area", close_range(500, 600, 0) == 0);
	EXPECT_ERR("close_range_first_gt_last", close_range(20, 10, 0), EINVAL);
	EXPECT_ERR("close_range_bad_flags", close_range(10, 20, 0x1), EINVAL);

	/* restart_syscall with nothing to restart. */
	EXPECT_ERR("restart_syscall_direct", syscall(SYS_restart_syscall), EINTR);

	/* exit_group. */
	p = fork();
	if (p == 0) {
		syscall(SYS_exit_group, 42);
		_exit(1);
	}
	SHOW("exit_group_status", "%d", child_status(p));
	p = fork();
	if (p == 0) {
		pthread_t t;
		pthread_create(&t, NULL, exit_group_thread, NULL);
		for (;;)
			pause();
	}
	SHOW("exit_group_from_thread_status", "%d", child_status(p));
	p = fork();
	if (p == 0) {
		syscall(SYS_exit_group, 0x1234);
		_exit(1);
	}
	SHOW("exit_group_status_truncated", "%d", child_status(p));

	/* Unaligned mlock/munlock ranges are rounded to pages; the process
	 * must stay usable (fork, mprotect) afterwards. Last, because a broken
	 * implementation may take the whole process down. */
	CHECK("mlock_unaligned_ok", mlock(m + 10, 100) == 0);
	CHECK("munlock_unaligned_ok", munlock(m + 10, 100) == 0);
	CHECK("mprotect_after_unaligned_mlock", mprotect(m, pg, PROT_READ) == 0);
	p = fork();
	if (p == 0)
		_exit(m[0] == 1 ? 31 : 1);
	SHOW("fork_after_unaligned_mlock_status", "%d", child_status(p));

	return compat_done();
}
