/* Hostile ptrace requests: a tracer throws random requests with random
 * addresses and values (valid buffers, bad pointers, kernel addresses,
 * random registers, FPU images, debug registers, siginfos, options) at a
 * tracee that keeps stopping itself. The tracee may crash or be killed
 * (a new one takes its place); the kernel serving both must not, and no
 * request may leave the platform unable to run the tracee. Prints
 * "survived" at the end. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned char buf[8192] __attribute__((aligned(64)));
static struct iovec iov;

static const long requests[] = {
	PTRACE_PEEKTEXT, PTRACE_PEEKDATA, PTRACE_PEEKUSER, PTRACE_POKETEXT, PTRACE_POKEDATA,
	PTRACE_POKEUSER, PTRACE_CONT, PTRACE_SINGLESTEP, PTRACE_GETREGS, PTRACE_SETREGS,
	PTRACE_GETFPREGS, PTRACE_SETFPREGS, PTRACE_SYSCALL, 30 /* ARCH_PRCTL */, 31 /* SYSEMU */,
	32 /* SYSEMU_SINGLESTEP */, PTRACE_SETOPTIONS, PTRACE_GETEVENTMSG, PTRACE_GETSIGINFO,
	PTRACE_SETSIGINFO, PTRACE_GETREGSET, PTRACE_SETREGSET, PTRACE_INTERRUPT, PTRACE_LISTEN,
	0x4209 /* PEEKSIGINFO */, 0x420a /* GETSIGMASK */, 0x420b /* SETSIGMASK */,
	0x420e /* GET_SYSCALL_INFO */, 0x420c, 0x420d, 0x7777,
};

/* An address or value an attacker might pass. */
static uint64_t value(void)
{
	switch (next() % 9) {
	case 0:
		return 0;
	case 1:
		return 1;
	case 2:
		return (uint64_t)(uintptr_t)buf;
	case 3:
		return (uint64_t)(uintptr_t)&iov;
	case 4:
		return 0xffffffff81000000ULL;
	case 5:
		return next() % 1024 * 8; /* user area offsets */
	case 6:
		return next() % 65;  /* signals */
	case 7:
		return (uint64_t)(uintptr_t)buf + next() % sizeof buf;
	default:
		return next();
	}
}

static pid_t tracee(void)
{
	pid_t c = fork();
	if (c == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		for (;;)
			raise(SIGSTOP);
	}
	return c;
}

/* Waits up to 0.2 s for a stop or the end; 0 when neither came. */
static int settle(pid_t c, int *st)
{
	for (int i = 0; i < 20; i++) {
		pid_t r = waitpid(c, st, WNOHANG | __WALL);
		if (r == c)
			return 1;
		if (r < 0)
			return -1;
		usleep(10000);
	}
	return 0;
}

/* Kills the tracee and waits for its end, letting it out of the exit
 * stop PTRACE_O_TRACEEXIT (a random option) puts it in. */
static void end(pid_t c)
{
	int st;
	kill(c, SIGKILL);
	while (waitpid(c, &st, __WALL) == c && !WIFEXITED(st) && !WIFSIGNALED(st))
		ptrace(PTRACE_CONT, c, 0, 0);
}

int main(void)
{
	rng ^= (uint64_t)time(NULL);
	pid_t c = tracee();
	int st, respawns = 0;
	settle(c, &st);
	for (int i = 0; i < 5000; i++) {
		for (size_t j = 0; j < sizeof buf; j += 8)
			*(uint64_t *)(buf + j) = next() % 4 ? next() : 0;
		iov.iov_base = next() % 4 ? (void *)buf : (void *)(uintptr_t)value();
		iov.iov_len = next() % 3 ? sizeof buf / (1 + next() % 16) : next();
		long req = requests[next() % (sizeof requests / sizeof requests[0])];
		uint64_t addr = value(), data = value();
		if (req == PTRACE_GETREGSET || req == PTRACE_SETREGSET)
			addr = (uint64_t[]){1, 2, 0x202, next()}[next() % 4];
		long r0 = ptrace((enum __ptrace_request)req, c, (void *)(uintptr_t)addr, (void *)(uintptr_t)data);
		int resumed = req == PTRACE_CONT || req == PTRACE_SYSCALL || req == PTRACE_SINGLESTEP ||
			      req == 31 || req == 32 || req == PTRACE_LISTEN;
		if (!resumed || r0 != 0)
			continue;
		int r = settle(c, &st);
		if (r == 1 && WIFSTOPPED(st))
			continue;
		/* Gone, or running away (a detach, a listen that never ends). */
		end(c);
		c = tracee();
		settle(c, &st);
		respawns++;
	}
	end(c);
	/* The sandbox still runs a program. */
	pid_t p = fork();
	if (p == 0) {
		execl("/bin/true", "true", (char *)0);
		_exit(1);
	}
	waitpid(p, &st, 0);
	printf("respawns %d\n", respawns);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		printf("survived\n");
	return 0;
}
