/* System V semaphores: semget's lookup and errors, semop's all-or-nothing
 * operations and its errors, sleeping (semncnt/semzcnt, wake-ups, a
 * timeout, EINTR whatever SA_RESTART says, EIDRM on removal), SEM_UNDO
 * at exit, semctl's commands and the checks for another user. Keys are
 * per run: native and husk runs may overlap in the host's namespace. */
#include "common.h"
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *info;
};

static int op(int id, unsigned short num, short o, short flg)
{
	struct sembuf b = {num, o, flg};
	return semop(id, &b, 1);
}

static int val(int id, int num)
{
	return semctl(id, num, GETVAL);
}

/* Waits until `cmd` (GETNCNT or GETZCNT) of semaphore `num` is `want`. */
static int wait_count(int id, int num, int cmd, int want)
{
	for (int i = 0; i < 2000; i++) {
		if (semctl(id, num, cmd) == want)
			return 1;
		usleep(1000);
	}
	return 0;
}

static void on_alarm(int s)
{
	(void)s;
}

static int as_nobody(int id, key_t key)
{
	if (setgid(65534) || setuid(65534))
		return 100;
	int bad = 0;
	struct semid_ds ds;
	union semun u = {.buf = &ds};
	errno = 0;
	bad += !(semget(key, 0, 0) == id);
	bad += !(semget(key, 0, 0600) == -1 && errno == EACCES);
	bad += !(op(id, 0, 1, IPC_NOWAIT) == -1 && errno == EACCES);
	bad += !(semctl(id, 0, GETVAL) == -1 && errno == EACCES);
	bad += !(semctl(id, 0, IPC_STAT, u) == -1 && errno == EACCES);
	bad += !(semctl(id, 0, IPC_RMID) == -1 && errno == EPERM);
	bad += !(semctl(id, 0, SETVAL, (union semun){.val = 1}) == -1 && errno == EACCES);
	return bad;
}

int main(void)
{
	key_t key = (key_t)(0x53100000 | (getpid() & 0xfffff));
	int st;
	int id = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
	CHECK("semget", id >= 0);
	unsigned short all[3] = {9, 9, 9};
	CHECK("GETALL", semctl(id, 0, GETALL, (union semun){.array = all}) == 0 && all[0] == 0 && all[2] == 0);
	CHECK("SETVAL", semctl(id, 1, SETVAL, (union semun){.val = 5}) == 0 && val(id, 1) == 5);
	EXPECT_ERR("SETVAL too big", semctl(id, 1, SETVAL, (union semun){.val = 32768}), ERANGE);
	EXPECT_ERR("SETVAL negative", semctl(id, 1, SETVAL, (union semun){.val = -1}), ERANGE);
	EXPECT_ERR("GETVAL bad num", semctl(id, 3, GETVAL), EINVAL);
	EXPECT_ERR("GETVAL negative num", semctl(id, -1, GETVAL), EINVAL);
	unsigned short set[3] = {1, 2, 3};
	CHECK("SETALL", semctl(id, 0, SETALL, (union semun){.array = set}) == 0);
	CHECK("values", val(id, 0) == 1 && val(id, 1) == 2 && val(id, 2) == 3);
	unsigned short big[3] = {1, 40000, 3};
	EXPECT_ERR("SETALL too big", semctl(id, 0, SETALL, (union semun){.array = big}), ERANGE);
	EXPECT_ERR("SETALL bad buf", semctl(id, 0, SETALL, (union semun){.array = BADPTR}), EFAULT);
	EXPECT_ERR("GETALL bad buf", semctl(id, 0, GETALL, (union semun){.array = BADPTR}), EFAULT);

	/* semop: all or nothing. */
	struct sembuf two[2] = {{0, -1, 0}, {1, -3, IPC_NOWAIT}};
	EXPECT_ERR("all or nothing", semop(id, two, 2), EAGAIN);
	CHECK("nothing applied", val(id, 0) == 1 && val(id, 1) == 2);
	struct sembuf seq[2] = {{1, 2, 0}, {1, -4, 0}};
	CHECK("ops see earlier ops", semop(id, seq, 2) == 0 && val(id, 1) == 0);
	CHECK("GETPID", semctl(id, 1, GETPID) == getpid());
	EXPECT_ERR("zero wait nowait", op(id, 0, 0, IPC_NOWAIT), EAGAIN);
	CHECK("zero wait ok", op(id, 1, 0, 0) == 0);
	EXPECT_ERR("over SEMVMX", op(id, 2, 32767, 0), ERANGE);
	EXPECT_ERR("bad sem_num", op(id, 3, 1, 0), EFBIG);
	EXPECT_ERR("nsops 0", semop(id, two, 0), EINVAL);
	struct sembuf many[501];
	memset(many, 0, sizeof many);
	EXPECT_ERR("nsops > SEMOPM", semop(id, many, 501), E2BIG);
	EXPECT_ERR("bad sops", semop(id, BADPTR, 1), EFAULT);
	EXPECT_ERR("bad id", op(-1, 0, 1, 0), EINVAL);
	EXPECT_ERR("stale id", op(id + 32768, 0, 1, 0), EINVAL);
	struct timespec ts = {0, 50 * 1000 * 1000};
	struct sembuf dec = {0, -5, 0};
	EXPECT_ERR("semtimedop timeout", semtimedop(id, &dec, 1, &ts), EAGAIN);
	struct timespec badts = {0, 1000000000};
	EXPECT_ERR("semtimedop bad timeout", semtimedop(id, &dec, 1, &badts), EINVAL);

	/* A sleeper is counted and woken. */
	semctl(id, 0, SETVAL, (union semun){.val = 0});
	fflush(stdout);
	pid_t c = fork();
	if (c == 0)
		_exit(op(id, 0, -2, 0) == 0 ? 0 : 1);
	CHECK("GETNCNT", wait_count(id, 0, GETNCNT, 1));
	CHECK("one is not enough", op(id, 0, 1, 0) == 0 && semctl(id, 0, GETNCNT) == 1);
	CHECK("wake", op(id, 0, 1, 0) == 0);
	waitpid(c, &st, 0);
	CHECK("sleeper done", WIFEXITED(st) && WEXITSTATUS(st) == 0 && val(id, 0) == 0);
	CHECK("GETNCNT after", semctl(id, 0, GETNCNT) == 0);
	semctl(id, 2, SETVAL, (union semun){.val = 1});
	c = fork();
	if (c == 0)
		_exit(op(id, 2, 0, 0) == 0 ? 0 : 1);
	CHECK("GETZCNT", wait_count(id, 2, GETZCNT, 1));
	CHECK("zero", op(id, 2, -1, 0) == 0);
	waitpid(c, &st, 0);
	CHECK("zero waiter done", WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* SEM_UNDO: a process's adjustments go at its exit. */
	c = fork();
	if (c == 0) {
		op(id, 0, 3, SEM_UNDO);
		op(id, 1, 2, 0);
		op(id, 1, -1, SEM_UNDO);
		_exit(0);
	}
	waitpid(c, &st, 0);
	CHECK("undo at exit", val(id, 0) == 0 && val(id, 1) == 2);
	c = fork();
	if (c == 0) {
		op(id, 0, 4, SEM_UNDO);
		semctl(id, 0, SETVAL, (union semun){.val = 7});
		_exit(0);
	}
	waitpid(c, &st, 0);
	CHECK("SETVAL clears undo", val(id, 0) == 7);
	c = fork();
	if (c == 0) {
		op(id, 0, 2, SEM_UNDO);
		execl("/bin/true", "true", (char *)NULL);
		_exit(9);
	}
	waitpid(c, &st, 0);
	CHECK("undo kept across exec", val(id, 0) == 7);

	/* Signals end the sleep with EINTR, even with SA_RESTART. */
	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	semctl(id, 0, SETVAL, (union semun){.val = 0});
	ualarm(50000, 0);
	EXPECT_ERR("EINTR despite SA_RESTART", op(id, 0, -1, 0), EINTR);

	/* unshare(CLONE_SYSVSEM) leaves the undo list: it is applied. */
	c = fork();
	if (c == 0) {
		op(id, 0, 2, SEM_UNDO);
		int before = val(id, 0);
		unshare(CLONE_SYSVSEM);
		_exit(before * 10 + val(id, 0));
	}
	waitpid(c, &st, 0);
	CHECK("unshare applies undo", WIFEXITED(st) && WEXITSTATUS(st) == 20);

	/* Keys and semget's errors. */
	int k = semget(key, 2, IPC_CREAT | IPC_EXCL | 0640);
	CHECK("semget key", k >= 0);
	CHECK("same key", semget(key, 2, 0) == k && semget(key, 0, 0) == k);
	EXPECT_ERR("more sems than it has", semget(key, 3, 0), EINVAL);
	EXPECT_ERR("excl", semget(key, 2, IPC_CREAT | IPC_EXCL), EEXIST);
	EXPECT_ERR("no key", semget(key + 1, 1, 0), ENOENT);
	EXPECT_ERR("nsems 0 new", semget(IPC_PRIVATE, 0, IPC_CREAT), EINVAL);
	EXPECT_ERR("nsems negative", semget(IPC_PRIVATE, -1, IPC_CREAT), EINVAL);
	EXPECT_ERR("nsems > SEMMSL", semget(IPC_PRIVATE, 32001, IPC_CREAT), EINVAL);

	struct semid_ds ds;
	CHECK("IPC_STAT", semctl(k, 0, IPC_STAT, (union semun){.buf = &ds}) == 0);
	CHECK("stat fields", ds.sem_nsems == 2 && (ds.sem_perm.mode & 0777) == 0640 && ds.sem_perm.__key == key && ds.sem_otime == 0);
	fflush(stdout);
	c = fork();
	if (c == 0)
		_exit(as_nobody(k, key));
	waitpid(c, &st, 0);
	CHECK("nobody refused", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ds.sem_perm.mode = 0666;
	CHECK("IPC_SET", semctl(k, 0, IPC_SET, (union semun){.buf = &ds}) == 0);
	semctl(k, 0, IPC_STAT, (union semun){.buf = &ds});
	CHECK("IPC_SET mode", (ds.sem_perm.mode & 0777) == 0666);
	EXPECT_ERR("IPC_STAT bad buf", semctl(k, 0, IPC_STAT, (union semun){.buf = BADPTR}), EFAULT);
	EXPECT_ERR("bad cmd", semctl(k, 0, 99), EINVAL);

	struct seminfo si;
	int max = semctl(0, 0, IPC_INFO, (union semun){.info = &si});
	CHECK("IPC_INFO", max >= 0 && si.semmsl == 32000 && si.semopm == 500 && si.semvmx == 32767);
	max = semctl(0, 0, SEM_INFO, (union semun){.info = &si});
	CHECK("SEM_INFO", max >= 0 && si.semusz >= 2 && si.semaem >= 5);
	int found = 0;
	for (int i = 0; i <= max; i++)
		if (semctl(i, 0, SEM_STAT, (union semun){.buf = &ds}) == k)
			found = ds.sem_nsems == 2;
	CHECK("SEM_STAT finds it", found);

	/* Removal wakes sleepers with EIDRM. */
	c = fork();
	if (c == 0)
		_exit(op(k, 0, -1, 0) == -1 && errno == EIDRM ? 0 : 1);
	CHECK("sleeper", wait_count(k, 0, GETNCNT, 1));
	CHECK("RMID", semctl(k, 0, IPC_RMID) == 0);
	waitpid(c, &st, 0);
	CHECK("EIDRM", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	EXPECT_ERR("gone", semctl(k, 0, GETVAL), EINVAL);
	CHECK("RMID private", semctl(id, 0, IPC_RMID) == 0);
	return compat_done();
}
