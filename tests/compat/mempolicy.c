/* NUMA policies on a machine of one node: set_mempolicy and
 * get_mempolicy (the task's policy, MPOL_F_MEMS_ALLOWED, MPOL_F_ADDR,
 * MPOL_F_NODE), mbind on a range (and what it leaves around it), the
 * inheritance by fork, and the errors. */
#include "common.h"
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define MPOL_DEFAULT 0
#define MPOL_PREFERRED 1
#define MPOL_BIND 2
#define MPOL_INTERLEAVE 3
#define MPOL_LOCAL 4
#define MPOL_F_STATIC_NODES (1 << 15)
#define MPOL_F_RELATIVE_NODES (1 << 14)
#define MPOL_F_NODE 1
#define MPOL_F_ADDR 2
#define MPOL_F_MEMS_ALLOWED 4
#define MPOL_MF_STRICT 1
#define MPOL_MF_MOVE 2

static long setp(int mode, unsigned long *mask, unsigned long max) { return syscall(SYS_set_mempolicy, mode, mask, max); }
static long getp(int *mode, unsigned long *mask, unsigned long max, void *addr, unsigned long flags)
{
	return syscall(SYS_get_mempolicy, mode, mask, max, addr, flags);
}
static long mb(void *a, unsigned long len, int mode, unsigned long *mask, unsigned long max, unsigned f)
{
	return syscall(SYS_mbind, a, len, mode, mask, max, f);
}

static void show(const char *what, void *addr, unsigned long flags)
{
	int mode = -1;
	unsigned long mask[2] = {99, 99};
	long r = getp(&mode, mask, 65, addr, flags);
	if (r)
		printf("%s errno=%s\n", what, ename(errno));
	else
		printf("%s mode=%d mask=%lx\n", what, mode, mask[0]);
}

int main(void)
{
	unsigned long n0 = 1, n1 = 2, none = 0;
	show("default", NULL, 0);
	show("mems allowed", NULL, MPOL_F_MEMS_ALLOWED);
	CHECK("bind node 0", setp(MPOL_BIND, &n0, 2) == 0);
	show("bind", NULL, 0);
	CHECK("interleave", setp(MPOL_INTERLEAVE, &n0, 64) == 0);
	show("interleave", NULL, 0);
	show("interleave next node", NULL, MPOL_F_NODE);
	CHECK("preferred", setp(MPOL_PREFERRED, &n0, 2) == 0);
	show("preferred", NULL, 0);
	EXPECT_ERR("F_NODE without interleave", getp(NULL, NULL, 0, NULL, MPOL_F_NODE), EINVAL);
	CHECK("preferred, no nodes", setp(MPOL_PREFERRED, &none, 2) == 0);
	show("preferred empty", NULL, 0);
	CHECK("local", setp(MPOL_LOCAL, NULL, 0) == 0);
	show("local", NULL, 0);
	CHECK("static nodes", setp(MPOL_BIND | MPOL_F_STATIC_NODES, &n0, 2) == 0);
	show("static", NULL, 0);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		int mode = -1;
		getp(&mode, NULL, 0, NULL, 0);
		_exit(mode == (MPOL_BIND | MPOL_F_STATIC_NODES) ? 0 : 1);
	}
	int st;
	waitpid(c, &st, 0);
	CHECK("inherited", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK("default again", setp(MPOL_DEFAULT, NULL, 0) == 0);
	show("default again", NULL, 0);

	EXPECT_ERR("bad mode", setp(42, &n0, 2), EINVAL);
	EXPECT_ERR("static and relative", setp(MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, &n0, 2), EINVAL);
	EXPECT_ERR("bind to no node", setp(MPOL_BIND, &none, 2), EINVAL);
	EXPECT_ERR("bind to a node that is not there", setp(MPOL_BIND, &n1, 3), EINVAL);
	EXPECT_ERR("default with nodes", setp(MPOL_DEFAULT, &n0, 2), EINVAL);
	EXPECT_ERR("local with nodes", setp(MPOL_LOCAL, &n0, 2), EINVAL);
	EXPECT_ERR("bad mask", setp(MPOL_BIND, BADPTR, 2), EFAULT);
	EXPECT_ERR("huge maxnode", setp(MPOL_BIND, &n0, 1UL << 40), EINVAL);
	EXPECT_ERR("get bad flags", getp(NULL, NULL, 0, NULL, 8), EINVAL);
	EXPECT_ERR("get addr without F_ADDR", getp(NULL, NULL, 0, &n0, 0), EINVAL);
	EXPECT_ERR("get mask too small", getp(NULL, &n0, 0, NULL, 0), EINVAL);
	EXPECT_ERR("mems allowed with F_NODE", getp(NULL, NULL, 0, NULL, MPOL_F_MEMS_ALLOWED | MPOL_F_NODE), EINVAL);

	/* mbind: a range of a mapping gets its own policy. */
	char *m = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("mbind", mb(m + 4096, 4096, MPOL_BIND, &n0, 2, MPOL_MF_STRICT | MPOL_MF_MOVE) == 0);
	show("range", m + 4096, MPOL_F_ADDR);
	show("before it", m, MPOL_F_ADDR);
	show("after it", m + 2 * 4096, MPOL_F_ADDR);
	m[4096] = 1;
	show("node of the page", m + 4096, MPOL_F_ADDR | MPOL_F_NODE);
	CHECK("mbind default", mb(m + 4096, 4096, MPOL_DEFAULT, NULL, 0, 0) == 0);
	show("range default", m + 4096, MPOL_F_ADDR);
	EXPECT_ERR("mbind unaligned", mb(m + 1, 4096, MPOL_BIND, &n0, 2, 0), EINVAL);
	EXPECT_ERR("mbind bad flags", mb(m, 4096, MPOL_BIND, &n0, 2, 64), EINVAL);
	munmap(m + 3 * 4096, 4096);
	EXPECT_ERR("mbind over a hole", mb(m, 4 * 4096, MPOL_BIND, &n0, 2, 0), EFAULT);
	show("unmapped address", m + 3 * 4096, MPOL_F_ADDR);
	CHECK("mbind of nothing", mb(m, 0, MPOL_BIND, &n0, 2, 0) == 0);
	return compat_done();
}
