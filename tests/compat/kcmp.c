/* kcmp(2): the same open file (dup, fork), different ones, shared and
 * copied address spaces, fd tables, fs contexts and signal handlers
 * (a thread and a child), SysV undo lists, the ordering's antisymmetry,
 * and the errors. */
#include "common.h"
#include <fcntl.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static long kc(pid_t a, pid_t b, int type, unsigned long i1, unsigned long i2)
{
	return syscall(SYS_kcmp, a, b, type, i1, i2);
}

static pid_t thread_tid;
static volatile int done;
static void *th(void *x)
{
	(void)x;
	thread_tid = (pid_t)syscall(SYS_gettid);
	while (!done)
		usleep(1000);
	return NULL;
}

int main(void)
{
	pid_t me = getpid();
	int a = open("/etc/hostname", O_RDONLY);
	int b = dup(a);
	int c = open("/etc/hostname", O_RDONLY);
	CHECK("same fd", kc(me, me, KCMP_FILE, a, a) == 0);
	CHECK("dup", kc(me, me, KCMP_FILE, a, b) == 0);
	long r1 = kc(me, me, KCMP_FILE, a, c), r2 = kc(me, me, KCMP_FILE, c, a);
	CHECK("another open", r1 != 0 && r1 != r2 && (r1 == 1 || r1 == 2) && r1 + r2 == 3);
	EXPECT_ERR("bad fd", kc(me, me, KCMP_FILE, a, 999), EBADF);
	EXPECT_ERR("bad type", kc(me, me, 99, 0, 0), EINVAL);
	EXPECT_ERR("no such pid", kc(me, 999999, KCMP_VM, 0, 0), ESRCH);

	pthread_t t;
	pthread_create(&t, NULL, th, NULL);
	while (!thread_tid)
		usleep(1000);
	CHECK("thread: address space", kc(me, thread_tid, KCMP_VM, 0, 0) == 0);
	CHECK("thread: fd table", kc(me, thread_tid, KCMP_FILES, 0, 0) == 0);
	CHECK("thread: fs", kc(me, thread_tid, KCMP_FS, 0, 0) == 0);
	CHECK("thread: handlers", kc(me, thread_tid, KCMP_SIGHAND, 0, 0) == 0);
	done = 1;
	pthread_join(t, NULL);

	int up[2];
	pipe(up);
	fflush(stdout);
	pid_t ch = fork();
	if (ch == 0) {
		char x;
		read(up[0], &x, 1);
		_exit(0);
	}
	CHECK("child: inherited file", kc(me, ch, KCMP_FILE, a, a) == 0);
	CHECK("child: address space", kc(me, ch, KCMP_VM, 0, 0) != 0);
	CHECK("child: fd table", kc(me, ch, KCMP_FILES, 0, 0) != 0);
	CHECK("child: fs", kc(me, ch, KCMP_FS, 0, 0) != 0);
	CHECK("child: handlers", kc(me, ch, KCMP_SIGHAND, 0, 0) != 0);
	int id = semget(IPC_PRIVATE, 1, 0600);
	struct sembuf op = {0, 1, SEM_UNDO};
	semop(id, &op, 1);
	CHECK("an undo list", kc(me, ch, KCMP_SYSVSEM, 0, 0) != 0);
	semctl(id, 0, IPC_RMID);
	fflush(stdout);
	pid_t n = fork();
	if (n == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(90);
		_exit(kc(getpid(), ch, KCMP_VM, 0, 0) == -1 && errno == EPERM ? 0 : 1);
	}
	int st;
	waitpid(n, &st, 0);
	CHECK("other user", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	write(up[1], "x", 1);
	waitpid(ch, &st, 0);
	return compat_done();
}
