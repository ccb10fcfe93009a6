/* Capabilities: capget/capset and their rules, the bounding set
 * (PR_CAPBSET_READ/DROP), ambient capabilities, what setuid does to the
 * sets (with and without PR_SET_KEEPCAPS), what exec makes of them, and
 * the checks that use them: chown (CAP_CHOWN), reading another user's
 * file (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), kill (CAP_KILL or
 * matching ids). Run as root; every check is relative to the sets the
 * program starts with, which differ between hosts. */
#include "common.h"
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

struct sets {
	unsigned long long eff, prm, inh;
};

static int get_caps(struct sets *s)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d))
		return -1;
	s->eff = d[0].effective | (unsigned long long)d[1].effective << 32;
	s->prm = d[0].permitted | (unsigned long long)d[1].permitted << 32;
	s->inh = d[0].inheritable | (unsigned long long)d[1].inheritable << 32;
	return 0;
}

static int set_caps(const struct sets *s)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {
		{(unsigned)s->eff, (unsigned)s->prm, (unsigned)s->inh},
		{(unsigned)(s->eff >> 32), (unsigned)(s->prm >> 32), (unsigned)(s->inh >> 32)},
	};
	return (int)syscall(SYS_capset, &h, d);
}

#define BIT(c) (1ULL << (c))

/* Per-run names: native and husk runs may overlap. */
static char secret[64], file[64];

/* Runs `fn` in a child; its exit status is the number of failures. */
static void in_child(const char *name, int (*fn)(void))
{
	fflush(stdout);
	pid_t p = fork();
	if (p == 0)
		_exit(fn());
	int st = 0;
	waitpid(p, &st, 0);
	CHECK(name, WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int drop_root(void)
{
	struct sets s;
	if (setresuid(1000, 1000, 1000))
		return 100;
	get_caps(&s);
	CHECK("setuid_clears_sets", s.eff == 0 && s.prm == 0);
	/* Root's parent is out of reach now. */
	EXPECT_ERR("kill_parent_eperm", kill(getppid(), 0), EPERM);
	EXPECT_ERR("setuid_back_eperm", setuid(0), EPERM);
	return compat_failures;
}

static int keep_caps(void)
{
	struct sets s;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setresuid(1000, 1000, 1000))
		return 100;
	get_caps(&s);
	CHECK("keepcaps_keeps_permitted", s.eff == 0 && (s.prm & BIT(CAP_KILL)));
	s.eff = BIT(CAP_KILL);
	CHECK("keepcaps_regain_kill", set_caps(&s) == 0);
	CHECK("kill_with_cap_kill", kill(getppid(), 0) == 0);
	return compat_failures;
}

static int dac(void)
{
	struct sets s;
	get_caps(&s);
	int fd = open(secret, O_RDONLY);
	CHECK("dac_override_reads", fd >= 0);
	if (fd >= 0)
		close(fd);
	s.eff &= ~(BIT(CAP_DAC_OVERRIDE) | BIT(CAP_DAC_READ_SEARCH));
	set_caps(&s);
	EXPECT_ERR("without_dac_eacces", open(secret, O_RDONLY), EACCES);
	s.eff |= BIT(CAP_DAC_READ_SEARCH);
	set_caps(&s);
	fd = open(secret, O_RDONLY);
	CHECK("dac_read_search_reads", fd >= 0);
	if (fd >= 0)
		close(fd);
	EXPECT_ERR("dac_read_search_no_write", open(secret, O_WRONLY), EACCES);
	return compat_failures;
}

static int bounding(void)
{
	CHECK("capbset_drop", prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0) == 0);
	CHECK("capbset_read_dropped", prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) == 0);
	/* Still held until exec recomputes the permitted set. */
	struct sets s;
	get_caps(&s);
	CHECK("capbset_drop_keeps_permitted", (s.prm & BIT(CAP_SYS_ADMIN)) != 0);
	execl("/proc/self/exe", "caps", "after-exec", (char *)NULL);
	return 100;
}

static int ambient(void)
{
	struct sets s;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setresuid(1000, 1000, 1000))
		return 100;
	get_caps(&s);
	s.inh = BIT(CAP_NET_RAW);
	s.eff = 0;
	CHECK("inheritable_from_permitted", set_caps(&s) == 0);
	CHECK("ambient_raise", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0) == 0);
	CHECK("ambient_is_set", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW, 0, 0) == 1);
	EXPECT_ERR("ambient_raise_not_inheritable", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0), EPERM);
	execl("/proc/self/exe", "caps", "ambient-exec", (char *)NULL);
	return 100;
}

int main(int argc, char **argv)
{
	struct sets s, start;
	if (argc > 1 && strcmp(argv[1], "after-exec") == 0) {
		get_caps(&s);
		CHECK("exec_drops_unbounded", (s.prm & BIT(CAP_SYS_ADMIN)) == 0 && (s.prm & BIT(CAP_CHOWN)));
		CHECK("exec_root_effective_is_permitted", s.eff == s.prm);
		return compat_failures;
	}
	if (argc > 1 && strcmp(argv[1], "ambient-exec") == 0) {
		get_caps(&s);
		CHECK("exec_ambient_gives_effective", s.eff == BIT(CAP_NET_RAW) && s.prm == BIT(CAP_NET_RAW));
		return compat_failures;
	}
	snprintf(secret, sizeof secret, "/tmp/husk-caps-secret-%d", (int)getpid());
	snprintf(file, sizeof file, "/tmp/husk-caps-file-%d", (int)getpid());
	if (geteuid() != 0) {
		printf("needs root\n");
		return 0;
	}
	CHECK("capget", get_caps(&start) == 0);
	CHECK("root_effective_is_permitted", start.eff == start.prm && start.inh == 0);
	CHECK("capbset_read", prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0) == 1);
	EXPECT_ERR("capbset_read_bad", prctl(PR_CAPBSET_READ, 64, 0, 0, 0), EINVAL);
	struct __user_cap_header_struct h = {0x12345678, 0};
	EXPECT_ERR("capget_bad_version", syscall(SYS_capget, &h, &s), EINVAL);
	CHECK("capget_bad_version_says_v3", h.version == _LINUX_CAPABILITY_VERSION_3);
	h.version = 0x12345678;
	CHECK("capget_version_probe", syscall(SYS_capget, &h, NULL) == 0 && h.version == _LINUX_CAPABILITY_VERSION_3);

	/* chown needs CAP_CHOWN in the effective set. */
	int fd = open(file, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	close(fd);
	s = start;
	s.eff &= ~BIT(CAP_CHOWN);
	CHECK("capset_drop_effective", set_caps(&s) == 0);
	EXPECT_ERR("chown_without_cap", chown(file, 1000, 1000), EPERM);
	CHECK("chown_own_group_ok", chown(file, 0, 0) == 0);
	s.eff |= BIT(CAP_CHOWN);
	CHECK("capset_regain_effective", set_caps(&s) == 0);
	CHECK("chown_with_cap", chown(file, 1000, 1000) == 0);
	unlink(file);

	/* Permitted never grows back; effective within permitted. */
	s = start;
	s.prm &= ~BIT(CAP_MKNOD);
	s.eff &= ~BIT(CAP_MKNOD);
	CHECK("capset_drop_permitted", set_caps(&s) == 0);
	s.eff |= BIT(CAP_MKNOD);
	EXPECT_ERR("capset_effective_beyond_permitted", set_caps(&s), EPERM);
	s.eff &= ~BIT(CAP_MKNOD);
	s.prm |= BIT(CAP_MKNOD);
	EXPECT_ERR("capset_permitted_grows", set_caps(&s), EPERM);
	struct sets now;
	get_caps(&now);
	CHECK("capset_failed_changes_nothing", (now.prm & BIT(CAP_MKNOD)) == 0);

	fd = open(secret, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	close(fd);
	CHECK("secret_owned", chown(secret, 1000, 1000) == 0);
	in_child("child_dac", dac);
	unlink(secret);
	in_child("child_drop_root", drop_root);
	in_child("child_keep_caps", keep_caps);
	in_child("child_bounding", bounding);
	in_child("child_ambient", ambient);
	return compat_failures > 100 ? 100 : compat_failures;
}
