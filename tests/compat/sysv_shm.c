/* System V shared memory: shmget's lookup and errors, shmat (at an
 * address, SHM_RND, SHM_RDONLY, SHM_REMAP), memory shared across fork
 * and between attaches, shmdt, IPC_STAT/IPC_SET/IPC_RMID (a removed
 * segment lives until its last detach), the info commands, /proc/self/maps,
 * and the permission checks for another user. Native and husk runs may
 * overlap in the host's IPC namespace: keys are per run and every object
 * is removed. */
#include "common.h"
#include <setjmp.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>

static int stat_of(int id, struct shmid_ds *ds)
{
	return shmctl(id, IPC_STAT, ds);
}

static sigjmp_buf jb;
static void on_segv(int s)
{
	(void)s;
	siglongjmp(jb, 1);
}

/* Whether writing *p faults. */
static int write_faults(volatile char *p)
{
	struct sigaction sa = {0}, old;
	sa.sa_handler = on_segv;
	sigaction(SIGSEGV, &sa, &old);
	int faulted = 0;
	if (sigsetjmp(jb, 1) == 0)
		*p = 1;
	else
		faulted = 1;
	sigaction(SIGSEGV, &old, NULL);
	return faulted;
}

static int as_nobody(int id, key_t key)
{
	if (setgid(65534) || setuid(65534))
		return 100;
	int bad = 0;
	struct shmid_ds ds;
	errno = 0;
	bad += !(shmget(key, 0, 0) == id);
	bad += !(shmget(key, 0, 0400) == -1 && errno == EACCES);
	bad += !(shmat(id, NULL, 0) == (void *)-1 && errno == EACCES);
	bad += !(stat_of(id, &ds) == -1 && errno == EACCES);
	bad += !(shmctl(id, IPC_RMID, NULL) == -1 && errno == EPERM);
	bad += !(shmctl(id, SHM_LOCK, NULL) == -1 && errno == EPERM);
	return bad;
}

int main(void)
{
	key_t key = (key_t)(0x53000000 | (getpid() & 0xffffff));
	struct shmid_ds ds;

	int id = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
	CHECK("shmget private", id >= 0);
	CHECK("stat", stat_of(id, &ds) == 0);
	CHECK("stat size", ds.shm_segsz == 8192);
	CHECK("stat mode", (ds.shm_perm.mode & 0777) == 0600);
	CHECK("stat key", ds.shm_perm.__key == IPC_PRIVATE);
	CHECK("stat owner", ds.shm_perm.uid == getuid() && ds.shm_perm.cuid == getuid());
	CHECK("stat cpid", ds.shm_cpid == getpid() && ds.shm_lpid == 0);
	CHECK("stat nattch 0", ds.shm_nattch == 0 && ds.shm_atime == 0);

	char *p = shmat(id, NULL, 0);
	CHECK("shmat", p != (void *)-1);
	CHECK("zeroed", p[0] == 0 && p[8191] == 0);
	strcpy(p, "hello");
	stat_of(id, &ds);
	CHECK("nattch 1", ds.shm_nattch == 1);
	CHECK("lpid", ds.shm_lpid == getpid() && ds.shm_atime != 0);

	/* A second attach sees the same memory. */
	char *q = shmat(id, NULL, SHM_RDONLY);
	CHECK("second attach", q != (void *)-1 && q != p && strcmp(q, "hello") == 0);
	p[0] = 'j';
	CHECK("shared between attaches", q[0] == 'j');
	CHECK("rdonly write faults", write_faults(q));
	EXPECT_ERR("rdonly mprotect write", mprotect(q, 4096, PROT_READ | PROT_WRITE), EACCES);
	CHECK("shmdt second", shmdt(q) == 0);

	/* Shared across fork, both ways; the child's attach counts. */
	int sync1[2], sync2[2];
	pipe(sync1);
	pipe(sync2);
	pid_t c = fork();
	if (c == 0) {
		char b;
		p[1] = 'E';
		write(sync1[1], "x", 1);
		read(sync2[0], &b, 1);
		_exit(p[2] == 'Z' ? 0 : 1);
	}
	char b;
	read(sync1[0], &b, 1);
	CHECK("child wrote", p[1] == 'E');
	stat_of(id, &ds);
	CHECK("nattch after fork", ds.shm_nattch == 2);
	p[2] = 'Z';
	write(sync2[1], "x", 1);
	int st;
	waitpid(c, &st, 0);
	CHECK("child saw parent", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	stat_of(id, &ds);
	CHECK("nattch after child exit", ds.shm_nattch == 1);

	/* Addresses. */
	EXPECT_ERR("shmdt not an attach", shmdt(p + 4096), EINVAL);
	EXPECT_ERR("shmdt unaligned", shmdt(p + 1), EINVAL);
	char *area = mmap(NULL, 4 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(area, 4 * 4096);
	EXPECT_ERR("shmat unaligned", shmat(id, area + 1, 0), EINVAL);
	char *r = shmat(id, area + 1, SHM_RND);
	CHECK("shmat SHM_RND", r == area && strcmp(r, "jEZlo") == 0);
	EXPECT_ERR("shmat over a mapping", shmat(id, area, 0), EINVAL);
	r = shmat(id, area, SHM_REMAP);
	CHECK("shmat SHM_REMAP", r == area);
	EXPECT_ERR("SHM_REMAP without address", shmat(id, NULL, SHM_REMAP), EINVAL);
	CHECK("shmdt remapped", shmdt(area) == 0);
	EXPECT_ERR("shmat bad id", shmat(id + 1, NULL, 0), EINVAL);
	EXPECT_ERR("shmat negative id", shmat(-1, NULL, 0), EINVAL);

	/* /proc/self/maps names the segment. */
	FILE *m = fopen("/proc/self/maps", "r");
	char line[512];
	int named = 0;
	while (m && fgets(line, sizeof line, m))
		if (strstr(line, "/SYSV00000000 (deleted)"))
			named++;
	if (m)
		fclose(m);
	CHECK("maps names it", named == 1);

	/* Keys. */
	int k = shmget(key, 10000, IPC_CREAT | IPC_EXCL | 0640);
	CHECK("shmget key", k >= 0 && k != id);
	CHECK("same key same id", shmget(key, 0, 0) == k);
	CHECK("same key smaller size", shmget(key, 100, IPC_CREAT) == k);
	EXPECT_ERR("same key larger size", shmget(key, 20000, 0), EINVAL);
	EXPECT_ERR("excl", shmget(key, 0, IPC_CREAT | IPC_EXCL), EEXIST);
	EXPECT_ERR("no such key", shmget(key + 1, 4096, 0), ENOENT);
	EXPECT_ERR("size 0", shmget(IPC_PRIVATE, 0, IPC_CREAT), EINVAL);
	EXPECT_ERR("too large", shmget(IPC_PRIVATE, (size_t)-1, IPC_CREAT), EINVAL);
	stat_of(k, &ds);
	CHECK("key stat", ds.shm_perm.__key == key && ds.shm_segsz == 10000);

	/* Another user. */
	fflush(stdout);
	c = fork();
	if (c == 0)
		_exit(as_nobody(k, key));
	waitpid(c, &st, 0);
	CHECK("nobody refused", WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* IPC_SET, and then the other user may look. */
	stat_of(k, &ds);
	ds.shm_perm.mode = 0644;
	CHECK("IPC_SET", shmctl(k, IPC_SET, &ds) == 0);
	stat_of(k, &ds);
	CHECK("IPC_SET mode", (ds.shm_perm.mode & 0777) == 0644);
	EXPECT_ERR("IPC_SET bad buf", shmctl(k, IPC_SET, BADPTR), EFAULT);
	EXPECT_ERR("IPC_STAT bad buf", shmctl(k, IPC_STAT, BADPTR), EFAULT);
	EXPECT_ERR("bad cmd", shmctl(k, 99, &ds), EINVAL);
	EXPECT_ERR("stat bad id", shmctl(-5, IPC_STAT, &ds), EINVAL);

	/* SHM_LOCK marks the mode. */
	CHECK("SHM_LOCK", shmctl(k, SHM_LOCK, NULL) == 0);
	stat_of(k, &ds);
	CHECK("locked mode", (ds.shm_perm.mode & SHM_LOCKED) != 0);
	CHECK("SHM_UNLOCK", shmctl(k, SHM_UNLOCK, NULL) == 0);

	/* Info. */
	struct shminfo si;
	int max = shmctl(0, IPC_INFO, (struct shmid_ds *)&si);
	CHECK("IPC_INFO", max >= 0 && si.shmmni == 4096 && si.shmmin == 1);
	struct shm_info sinfo;
	max = shmctl(0, SHM_INFO, (struct shmid_ds *)&sinfo);
	CHECK("SHM_INFO", max >= 0 && sinfo.used_ids >= 2);
	int found = 0;
	for (int i = 0; i <= max; i++) {
		int got = shmctl(i, SHM_STAT, &ds);
		if (got == k)
			found = ds.shm_segsz == 10000;
	}
	CHECK("SHM_STAT finds it", found);

	/* A removed segment lives on while attached. */
	CHECK("RMID attached", shmctl(id, IPC_RMID, NULL) == 0);
	CHECK("still readable", strcmp(p, "jEZlo") == 0);
	CHECK("stat after RMID", stat_of(id, &ds) == 0);
	CHECK("dest mode", (ds.shm_perm.mode & SHM_DEST) != 0 && ds.shm_perm.__key == IPC_PRIVATE);
	CHECK("attach after RMID", (q = shmat(id, NULL, 0)) != (void *)-1 && q[0] == 'j');
	shmdt(q);
	CHECK("shmdt last", shmdt(p) == 0);
	EXPECT_ERR("gone after last detach", stat_of(id, &ds), EINVAL);
	CHECK("RMID key", shmctl(k, IPC_RMID, NULL) == 0);
	EXPECT_ERR("key gone", shmget(key, 0, 0), ENOENT);
	EXPECT_ERR("RMID twice", shmctl(k, IPC_RMID, NULL), EINVAL);
	return compat_done();
}
