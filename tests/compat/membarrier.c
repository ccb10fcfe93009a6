/* membarrier: the commands' answers and errors, registrations per
 * address space (shared by threads, kept by fork, gone at exec), and barriers that return. */
#include "common.h"
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define GET_REGISTRATIONS (1 << 9)

static long mb(int cmd, unsigned flags) { return syscall(SYS_membarrier, cmd, flags, 0); }

static void *in_thread(void *arg)
{
	(void)arg;
	return (void *)mb(GET_REGISTRATIONS, 0);
}

int main(int argc, char **argv)
{
	if (argc > 1) /* after exec */
		return mb(GET_REGISTRATIONS, 0) == 0 ? 0 : 1;
	long q = mb(MEMBARRIER_CMD_QUERY, 0);
	int core = MEMBARRIER_CMD_GLOBAL | MEMBARRIER_CMD_GLOBAL_EXPEDITED | MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED |
		   MEMBARRIER_CMD_PRIVATE_EXPEDITED | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED;
	CHECK("query", q > 0 && (q & core) == core);
	EXPECT_ERR("query_flags", mb(MEMBARRIER_CMD_QUERY, 1), EINVAL);
	CHECK("global", mb(MEMBARRIER_CMD_GLOBAL, 0) == 0);
	CHECK("global_expedited_unregistered", mb(MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0) == 0);
	EXPECT_ERR("private_unregistered", mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0), EPERM);
	CHECK("no_registrations", mb(GET_REGISTRATIONS, 0) == 0);
	CHECK("register_private", mb(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0);
	CHECK("private", mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) == 0);
	CHECK("register_global", mb(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0) == 0);
	long regs = mb(GET_REGISTRATIONS, 0);
	CHECK("registrations", regs == (MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED | MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED));
	pthread_t t;
	void *tr;
	pthread_create(&t, NULL, in_thread, NULL);
	pthread_join(t, &tr);
	CHECK("thread_shares", (long)tr == regs);
	EXPECT_ERR("bad_command", mb(1 << 20, 0), EINVAL);
	EXPECT_ERR("bad_flags", mb(MEMBARRIER_CMD_GLOBAL, 2), EINVAL);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0)
		_exit(mb(GET_REGISTRATIONS, 0) == regs && mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) == 0 ? 0 : 1);
	int st;
	waitpid(c, &st, 0);
	CHECK("fork_inherits", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	c = fork();
	if (c == 0) {
		execl("/proc/self/exe", argv[0], "exec", (char *)0);
		_exit(2);
	}
	waitpid(c, &st, 0);
	CHECK("exec_clears", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return compat_failures > 100 ? 100 : compat_failures;
}
