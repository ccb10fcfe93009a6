/* IPC namespaces: after unshare(CLONE_NEWIPC) a process sees none of the
 * System V objects or POSIX message queues it saw, and makes its own
 * with the same keys; /proc/sysvipc and /proc/self/ns/ipc follow it; its
 * SEM_UNDO adjustments are applied as it leaves; the namespace's objects
 * go with its last process and open namespace file; setns joins
 * another's; clone refuses
 * CLONE_NEWIPC with CLONE_SYSVSEM; a user without CAP_SYS_ADMIN is
 * refused. Run as root. */
#include "common.h"
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define KEY 0x4b5a1
#define KEY2 0x4b5a2

static int lines_with(const char *path, int key)
{
	static char buf[1 << 16];
	if (read_text(path, buf, sizeof buf) < 0)
		return -1;
	char k[32];
	snprintf(k, sizeof k, " %d ", key);
	int n = 0;
	for (char *p = buf; (p = strstr(p, k)); p++)
		n++;
	return n;
}

static unsigned long ns_ino(const char *path)
{
	struct stat st;
	return stat(path, &st) ? 0 : (unsigned long)st.st_ino;
}

static int semval(int id)
{
	return semctl(id, 0, GETVAL);
}

int main(void)
{
	if (getuid() != 0) {
		printf("needs root\n");
		return 0;
	}
	int shm = shmget(KEY, 4096, IPC_CREAT | 0600);
	int msq = msgget(KEY, IPC_CREAT | 0600);
	int sem = semget(KEY, 1, IPC_CREAT | 0600);
	struct mq_attr at = {.mq_maxmsg = 4, .mq_msgsize = 16};
	mqd_t mq = mq_open("/husk-ipc-ns", O_CREAT | O_RDWR, 0600, &at);
	printf("made: %d %d %d %d\n", shm >= 0, msq >= 0, sem >= 0, mq != (mqd_t)-1);
	unsigned long mine = ns_ino("/proc/self/ns/ipc");

	int p[2], q[2];
	pipe(p);
	pipe(q);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		struct sembuf up = {0, 1, SEM_UNDO};
		semop(sem, &up, 1);
		printf("child raised the semaphore: %d\n", semval(sem));
		int r = unshare(CLONE_NEWIPC);
		printf("unshare: %s\n", r ? ename(errno) : "ok");
		printf("own namespace: %d\n", ns_ino("/proc/self/ns/ipc") != mine);
		printf("old objects: shm %s", shmget(KEY, 0, 0) < 0 ? ename(errno) : "found");
		printf(" msg %s", msgget(KEY, 0) < 0 ? ename(errno) : "found");
		printf(" sem %s", semget(KEY, 0, 0) < 0 ? ename(errno) : "found");
		printf(" mq %s\n", mq_open("/husk-ipc-ns", O_RDWR) == (mqd_t)-1 ? ename(errno) : "found");
		int own = shmget(KEY, 8192, IPC_CREAT | IPC_EXCL | 0600);
		int own2 = shmget(KEY2, 4096, IPC_CREAT | 0600);
		printf("same key anew: %d %d\n", own >= 0, own2 >= 0);
		printf("sysvipc lists: old key %d, new key %d\n", lines_with("/proc/sysvipc/shm", KEY),
		       lines_with("/proc/sysvipc/shm", KEY2));
		fflush(stdout);
		write(p[1], "x", 1);
		/* Stay until the parent has looked. */
		char b;
		read(q[0], &b, 1);
		_exit(0);
	}
	char b;
	read(p[0], &b, 1);
	printf("parent: semaphore after the child left %d\n", semval(sem));
	printf("parent: sysvipc lists: key %d, child's key %d\n", lines_with("/proc/sysvipc/shm", KEY),
	       lines_with("/proc/sysvipc/shm", KEY2));
	printf("parent: child's key %s\n", shmget(KEY2, 0, 0) < 0 ? ename(errno) : "found");

	/* Another process joins the child's namespace. */
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/ns/ipc", c);
	int nsfd = open(path, O_RDONLY);
	fflush(stdout);
	pid_t j = fork();
	if (j == 0) {
		int r = setns(nsfd, CLONE_NEWIPC);
		printf("setns: %s, child's key %s\n", r ? ename(errno) : "ok",
		       shmget(KEY2, 0, 0) < 0 ? ename(errno) : "found");
		fflush(stdout);
		_exit(0);
	}
	waitpid(j, NULL, 0);
	write(q[1], "x", 1);
	waitpid(c, NULL, 0);
	/* Its last process gone, the open file still keeps the namespace
	 * and what is in it. */
	fflush(stdout);
	j = fork();
	if (j == 0) {
		int r = setns(nsfd, CLONE_NEWIPC);
		printf("setns after its last process: %s, child's key %s\n", r ? ename(errno) : "ok",
		       shmget(KEY2, 0, 0) < 0 ? ename(errno) : "found");
		fflush(stdout);
		_exit(0);
	}
	waitpid(j, NULL, 0);
	close(nsfd);

	/* A user without CAP_SYS_ADMIN; CLONE_SYSVSEM with CLONE_NEWIPC. */
	fflush(stdout);
	pid_t u = fork();
	if (u == 0) {
		setuid(65534);
		printf("unshare as a user: %s\n", unshare(CLONE_NEWIPC) ? ename(errno) : "ok");
		fflush(stdout);
		_exit(0);
	}
	waitpid(u, NULL, 0);
	long r = syscall(SYS_clone, CLONE_NEWIPC | CLONE_SYSVSEM | SIGCHLD, 0, 0, 0, 0);
	if (r == 0)
		_exit(0);
	printf("clone NEWIPC|SYSVSEM: %s\n", r < 0 ? ename(errno) : "made");
	if (r > 0)
		waitpid(r, NULL, 0);
	r = syscall(SYS_clone, CLONE_NEWIPC | SIGCHLD, 0, 0, 0, 0);
	if (r == 0) {
		printf("clone NEWIPC child: shm %s\n", shmget(KEY, 0, 0) < 0 ? ename(errno) : "found");
		fflush(stdout);
		_exit(0);
	}
	waitpid(r, NULL, 0);

	shmctl(shm, IPC_RMID, NULL);
	msgctl(msq, IPC_RMID, NULL);
	semctl(sem, 0, IPC_RMID);
	mq_unlink("/husk-ipc-ns");
	return 0;
}
