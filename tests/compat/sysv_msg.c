/* System V message queues: msgget's lookup, msgsnd and msgrcv by type
 * (0, positive, negative, MSG_EXCEPT), truncation (E2BIG, MSG_NOERROR),
 * MSG_COPY, the queue's byte limit and blocking both ways, EINTR, EIDRM,
 * msgctl's commands and another user's checks. Keys are per run: native
 * and husk runs may overlap in the host's namespace. */
#include "common.h"
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

struct m {
	long type;
	char text[64];
};

static int snd(int id, long type, const char *t, int flg)
{
	struct m b = {type, {0}};
	strncpy(b.text, t, sizeof b.text - 1);
	return msgsnd(id, &b, strlen(t), flg);
}

/* Receives into `out`: the type, or -1. */
static long rcv(int id, long type, int flg, char *out, size_t size)
{
	struct m b;
	memset(&b, 0, sizeof b);
	ssize_t n = msgrcv(id, &b, size, type, flg);
	if (n < 0)
		return -1;
	memcpy(out, b.text, (size_t)n);
	out[n] = 0;
	return b.type;
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
	char t[64];
	struct msqid_ds ds;
	errno = 0;
	bad += !(msgget(key, 0) == id);
	bad += !(msgget(key, 0600) == -1 && errno == EACCES);
	bad += !(snd(id, 1, "x", IPC_NOWAIT) == -1 && errno == EACCES);
	bad += !(rcv(id, 0, IPC_NOWAIT, t, 64) == -1 && errno == EACCES);
	bad += !(msgctl(id, IPC_STAT, &ds) == -1 && errno == EACCES);
	bad += !(msgctl(id, IPC_RMID, NULL) == -1 && errno == EPERM);
	return bad;
}

int main(void)
{
	key_t key = (key_t)(0x53200000 | (getpid() & 0xfffff));
	char t[128];
	int st;
	int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	CHECK("msgget", id >= 0);
	CHECK("send 4", snd(id, 3, "three", 0) == 0 && snd(id, 1, "one", 0) == 0 &&
				snd(id, 2, "two", 0) == 0 && snd(id, 1, "uno", 0) == 0);
	struct msqid_ds ds;
	CHECK("IPC_STAT", msgctl(id, IPC_STAT, &ds) == 0);
	CHECK("qnum cbytes qbytes", ds.msg_qnum == 4 && ds.__msg_cbytes == 14 && ds.msg_qbytes == 16384);
	CHECK("lspid", ds.msg_lspid == getpid() && ds.msg_lrpid == 0 && ds.msg_stime != 0);

	CHECK("MSG_COPY", rcv(id, 2, MSG_COPY | IPC_NOWAIT, t, 64) == 2 && strcmp(t, "two") == 0);
	EXPECT_ERR("MSG_COPY past the end", rcv(id, 4, MSG_COPY | IPC_NOWAIT, t, 64), ENOMSG);
	EXPECT_ERR("MSG_COPY without NOWAIT", rcv(id, 0, MSG_COPY, t, 64), EINVAL);
	EXPECT_ERR("MSG_COPY with EXCEPT", rcv(id, 0, MSG_COPY | IPC_NOWAIT | MSG_EXCEPT, t, 64), EINVAL);
	CHECK("type 1", rcv(id, 1, 0, t, 64) == 1 && strcmp(t, "one") == 0);
	CHECK("except 3", rcv(id, 3, MSG_EXCEPT, t, 64) == 2 && strcmp(t, "two") == 0);
	CHECK("lowest up to 3", rcv(id, -3, 0, t, 64) == 1 && strcmp(t, "uno") == 0);
	EXPECT_ERR("too small", rcv(id, 0, 0, t, 3), E2BIG);
	CHECK("still there", msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qnum == 1);
	CHECK("MSG_NOERROR", rcv(id, 0, MSG_NOERROR, t, 3) == 3 && strcmp(t, "thr") == 0);
	EXPECT_ERR("empty nowait", rcv(id, 0, IPC_NOWAIT, t, 64), ENOMSG);
	EXPECT_ERR("none of the type", (snd(id, 5, "five", 0), rcv(id, 6, IPC_NOWAIT, t, 64)), ENOMSG);
	CHECK("type 0 takes it", rcv(id, 0, 0, t, 64) == 5);
	msgctl(id, IPC_STAT, &ds);
	CHECK("lrpid", ds.msg_lrpid == getpid() && ds.msg_qnum == 0 && ds.__msg_cbytes == 0);

	/* Errors. */
	EXPECT_ERR("type 0", snd(id, 0, "x", 0), EINVAL);
	EXPECT_ERR("negative type", snd(id, -1, "x", 0), EINVAL);
	static char huge[8192 + 16];
	EXPECT_ERR("over MSGMAX", msgsnd(id, huge, 8193, 0), EINVAL);
	EXPECT_ERR("bad msgp", msgsnd(id, BADPTR, 4, 0), EFAULT);
	EXPECT_ERR("negative size", msgrcv(id, huge, (size_t)-1, 0, 0), EINVAL);
	EXPECT_ERR("bad id", snd(-1, 1, "x", 0), EINVAL);
	EXPECT_ERR("stale id", snd(id + 32768, 1, "x", 0), EINVAL);

	/* The byte limit, and senders and receivers that wait. */
	ds.msg_qbytes = 10;
	CHECK("IPC_SET qbytes", msgctl(id, IPC_SET, &ds) == 0);
	CHECK("fits", snd(id, 1, "12345678", IPC_NOWAIT) == 0);
	EXPECT_ERR("full", snd(id, 1, "abc", IPC_NOWAIT), EAGAIN);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0)
		_exit(snd(id, 2, "abc", 0) == 0 ? 0 : 1);
	usleep(100000);
	CHECK("sender waits", waitpid(c, &st, WNOHANG) == 0);
	CHECK("room", rcv(id, 1, 0, t, 64) == 1);
	waitpid(c, &st, 0);
	CHECK("sender done", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK("its message", rcv(id, 0, 0, t, 64) == 2 && strcmp(t, "abc") == 0);
	c = fork();
	if (c == 0)
		_exit(rcv(id, 7, 0, t, 64) == 7 && strcmp(t, "late") == 0 ? 0 : 1);
	usleep(100000);
	CHECK("receiver waits", waitpid(c, &st, WNOHANG) == 0 && snd(id, 6, "other", 0) == 0);
	usleep(50000);
	CHECK("receiver still waits", waitpid(c, &st, WNOHANG) == 0 && snd(id, 7, "late", 0) == 0);
	waitpid(c, &st, 0);
	CHECK("receiver done", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ds.msg_qbytes = 1 << 20;
	EXPECT_ERR("qbytes above MSGMNB", msgctl(id, IPC_SET, &ds), EPERM);

	/* Signals: EINTR, whatever SA_RESTART says. */
	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	ualarm(50000, 0);
	EXPECT_ERR("EINTR", rcv(id, 99, 0, t, 64), EINTR);

	/* Keys, stat commands, another user. */
	int k = msgget(key, IPC_CREAT | IPC_EXCL | 0640);
	CHECK("msgget key", k >= 0 && msgget(key, 0) == k);
	EXPECT_ERR("excl", msgget(key, IPC_CREAT | IPC_EXCL), EEXIST);
	EXPECT_ERR("no key", msgget(key + 1, 0), ENOENT);
	fflush(stdout);
	c = fork();
	if (c == 0)
		_exit(as_nobody(k, key));
	waitpid(c, &st, 0);
	CHECK("nobody refused", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	struct msginfo mi;
	int max = msgctl(0, IPC_INFO, (struct msqid_ds *)&mi);
	CHECK("IPC_INFO", max >= 0 && mi.msgmax == 8192 && mi.msgmnb == 16384 && mi.msgmni == 32000);
	max = msgctl(0, MSG_INFO, (struct msqid_ds *)&mi);
	CHECK("MSG_INFO", max >= 0 && mi.msgpool >= 2);
	int found = 0;
	for (int i = 0; i <= max; i++)
		if (msgctl(i, MSG_STAT, &ds) == k)
			found = (ds.msg_perm.mode & 0777) == 0640;
	CHECK("MSG_STAT finds it", found);
	EXPECT_ERR("bad cmd", msgctl(k, 99, &ds), EINVAL);
	EXPECT_ERR("IPC_STAT bad buf", msgctl(k, IPC_STAT, BADPTR), EFAULT);

	/* Removal wakes a receiver with EIDRM. */
	c = fork();
	if (c == 0)
		_exit(rcv(k, 0, 0, t, 64) == -1 && errno == EIDRM ? 0 : 1);
	usleep(100000);
	CHECK("RMID", msgctl(k, IPC_RMID, NULL) == 0);
	waitpid(c, &st, 0);
	CHECK("EIDRM", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	EXPECT_ERR("gone", msgctl(k, IPC_STAT, &ds), EINVAL);
	CHECK("RMID private", msgctl(id, IPC_RMID, NULL) == 0);
	return compat_done();
}
