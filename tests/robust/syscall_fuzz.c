/* Hostile arguments for every system call: the sandbox must survive.
 *
 * Each (syscall, argument pattern) runs in a forked child with stdio on
 * /dev/null; the child may fail, crash or block (it is killed after a
 * timeout), but the kernel serving it must not. Runs only under husk:
 * these calls are not safe to make natively as root. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Calls that would end, duplicate or signal the fuzzer itself rather than
 * test the kernel, or that only sleep. */
static int skipped(long nr)
{
	switch (nr) {
	case SYS_exit: case SYS_exit_group: case SYS_pause: case SYS_rt_sigsuspend:
	case SYS_fork: case SYS_vfork: case SYS_clone: case SYS_clone3:
	case SYS_execve: case SYS_execveat: case SYS_kill: case SYS_tkill:
	case SYS_tgkill: case SYS_rt_sigqueueinfo: case SYS_rt_tgsigqueueinfo:
	case SYS_pidfd_send_signal: case SYS_nanosleep: case SYS_clock_nanosleep:
	case SYS_rt_sigreturn: case SYS_reboot:
		return 1;
	}
	return 0;
}

static char buf[65536];

static void args_for(int pattern, unsigned *seed, long a[6])
{
	for (int i = 0; i < 6; i++) {
		switch (pattern) {
		case 0: a[i] = 0; break;
		case 1: a[i] = -1; break;
		case 2: a[i] = i % 2 ? (long)1 << 62 : 1; break; /* unmapped pointer, huge length */
		case 3: a[i] = i % 2 ? 16 : (long)buf; break;    /* valid buffer, small length */
		case 4: a[i] = (long)0xdead0000ul + i; break;
		default: {
			long r = ((long)rand_r(seed) << 32) ^ rand_r(seed);
			a[i] = (r & 3) == 0 ? (long)buf + (r & 0xffff) : (r & 3) == 1 ? (r & 0xff) : r;
		}
		}
	}
}

int main(void)
{
	int calls = 0, timeouts = 0;
	unsigned seed = 12345;
	for (long nr = 0; nr <= 462; nr++) {
		if (skipped(nr))
			continue;
		for (int pattern = 0; pattern < 7; pattern++) {
			long a[6];
			args_for(pattern, &seed, a);
			pid_t c = fork();
			if (c == 0) {
				int null = open("/dev/null", O_RDWR);
				dup2(null, 0);
				dup2(null, 1);
				dup2(null, 2);
				alarm(2);
				syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
				_exit(0);
			}
			if (c < 0) {
				printf("fork failed at %ld\n", nr);
				return 1;
			}
			/* Give the child a moment, then make sure it is gone. */
			int st;
			struct timespec ts = {0, 2000000};
			for (int i = 0; i < 250 && waitpid(c, &st, WNOHANG) == 0; i++)
				nanosleep(&ts, NULL);
			if (waitpid(c, &st, WNOHANG) == 0) {
				timeouts++;
				kill(c, SIGKILL);
				waitpid(c, &st, 0);
			}
			calls++;
		}
	}
	/* The sandbox still works: a pipe, a file, a thread-free fork. */
	int p[2];
	char ch = 0;
	int ok = pipe(p) == 0 && write(p[1], "x", 1) == 1 && read(p[0], &ch, 1) == 1 && ch == 'x';
	ok = ok && access("/etc/passwd", R_OK) == 0;
	printf("calls %d timeouts %d\n", calls, timeouts);
	printf(ok ? "survived\n" : "broken\n");
	return ok ? 0 : 1;
}
