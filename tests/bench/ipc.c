/* System V IPC and Linux AIO, timed inside the process:
 *   sem  - two processes ping-pong through a SysV semaphore pair
 *   msg  - two processes ping-pong 64-byte SysV messages
 *   aio  - io_submit + io_getevents of 4 KiB reads, one in flight, over
 *          a 16 MiB file in /tmp
 * Prints microseconds per round trip (sem, msg) or per read (aio). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"

static void sem_op(int id, unsigned short n, short op)
{
	struct sembuf b = {n, op, 0};
	if (semop(id, &b, 1))
		die("semop");
}

static double sem_pingpong(int rounds)
{
	int id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	if (id < 0)
		die("semget");
	pid_t c = fork();
	if (c == 0) {
		for (int i = 0; i < rounds; i++) {
			sem_op(id, 0, -1);
			sem_op(id, 1, 1);
		}
		_exit(0);
	}
	double a = now();
	for (int i = 0; i < rounds; i++) {
		sem_op(id, 0, 1);
		sem_op(id, 1, -1);
	}
	double b = now();
	waitpid(c, NULL, 0);
	semctl(id, 0, IPC_RMID);
	return (b - a) * 1e6 / rounds;
}

struct msg {
	long type;
	char text[64];
};

static double msg_pingpong(int rounds)
{
	int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (id < 0)
		die("msgget");
	pid_t c = fork();
	struct msg m;
	memset(&m, 'x', sizeof m);
	if (c == 0) {
		for (int i = 0; i < rounds; i++) {
			if (msgrcv(id, &m, sizeof m.text, 1, 0) < 0)
				die("msgrcv");
			m.type = 2;
			if (msgsnd(id, &m, sizeof m.text, 0))
				die("msgsnd");
		}
		_exit(0);
	}
	double a = now();
	for (int i = 0; i < rounds; i++) {
		m.type = 1;
		if (msgsnd(id, &m, sizeof m.text, 0))
			die("msgsnd");
		if (msgrcv(id, &m, sizeof m.text, 2, 0) < 0)
			die("msgrcv");
	}
	double b = now();
	waitpid(c, NULL, 0);
	msgctl(id, IPC_RMID, NULL);
	return (b - a) * 1e6 / rounds;
}

static double aio_reads(void)
{
	const size_t size = 16 << 20, block = 4096;
	char path[] = "/tmp/husk-bench-aio-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		die("mkstemp");
	unlink(path);
	char *buf = malloc(1 << 20);
	memset(buf, 'a', 1 << 20);
	for (size_t off = 0; off < size; off += 1 << 20)
		if (pwrite(fd, buf, 1 << 20, (off_t)off) != 1 << 20)
			die("pwrite");
	aio_context_t ctx = 0;
	if (syscall(SYS_io_setup, 8, &ctx))
		die("io_setup");
	struct iocb cb;
	struct iocb *cbs[1] = {&cb};
	struct io_event ev;
	size_t reads = 0;
	double a = now();
	for (size_t off = 0; off < size; off += block) {
		memset(&cb, 0, sizeof cb);
		cb.aio_fildes = (uint32_t)fd;
		cb.aio_lio_opcode = IOCB_CMD_PREAD;
		cb.aio_buf = (uint64_t)(uintptr_t)buf;
		cb.aio_nbytes = block;
		cb.aio_offset = (int64_t)off;
		if (syscall(SYS_io_submit, ctx, 1, cbs) != 1)
			die("io_submit");
		if (syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) != 1 || ev.res != (int64_t)block)
			die("io_getevents");
		reads++;
	}
	double b = now();
	syscall(SYS_io_destroy, ctx);
	close(fd);
	return (b - a) * 1e6 / (double)reads;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	double us;
	if (!strcmp(argv[1], "sem"))
		us = sem_pingpong(20000);
	else if (!strcmp(argv[1], "msg"))
		us = msg_pingpong(20000);
	else if (!strcmp(argv[1], "aio"))
		us = aio_reads();
	else
		return 2;
	printf("%.2f\n", us);
	return 0;
}
