/* /proc/sys/kernel/ns_last_pid in a new PID namespace, written as a
 * sysctl is: bounds (0 to pid_max), blanks, a base prefix, no plus sign,
 * empty writes, writes past position 0 taken and ignored, EPERM without
 * privilege; the next fork takes the number after it, wrapping to 300
 * (RESERVED_PIDS) past pid_max. Written by a hunt; run as root. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sched.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/wait.h>
static const char *P = "/proc/sys/kernel/ns_last_pid";
static void w(const char *s, size_t n) {
	int fd = open(P, O_RDWR); if (fd < 0) { printf("open: %s\n", strerror(errno)); return; }
	ssize_t r = write(fd, s, n); printf("write [%.*s] -> %zd %s\n", (int)n, s, r, r < 0 ? strerror(errno) : "");
	char b[64]; lseek(fd, 0, SEEK_SET); int k = read(fd, b, 63); b[k > 0 ? k : 0] = 0; printf("   now %s", b); close(fd);
}
#define S(x) x, sizeof(x)-1
int main(){
	setvbuf(stdout,0,_IONBF,0);
	unshare(CLONE_NEWPID);
	if (fork() == 0) {
		/* init of new ns */
		w(S("100"));
		pid_t c = fork(); if (c == 0) _exit(0); printf("fork after 100 -> %d\n", c); waitpid(c,0,0);
		w(S("-1")); w(S("-5")); w(S("0")); w(S("4194303")); w(S("4194304")); w(S("2147483647")); w(S("2147483648"));
		w(S("99999999999999999999")); w(S("abc")); w(S("12abc")); w(S(" 12")); w(S("12\n")); w(S("12 13")); w(S("")); w(S("\n")); w(S("0x20")); w(S("+30")); w(S("1"));
		c = fork(); if (c == 0) _exit(0); printf("fork after 1 -> %d\n", c); waitpid(c,0,0);
		w(S("4194303"));
		c = fork(); if (c == 0) _exit(0); printf("fork after max -> %d\n", c); waitpid(c,0,0);
		/* partial write */
		int fd = open(P, O_WRONLY); printf("w1 %zd\n", write(fd, "5", 1)); printf("w2 %zd %s\n", write(fd, "0", 1), strerror(errno)); close(fd);
		fd = open(P, O_RDONLY); char b[32]; int k = read(fd, b, 31); b[k>0?k:0]=0; printf("now %s", b); close(fd);
		fd = open(P, O_WRONLY); printf("pwrite off 3: %zd %s\n", pwrite(fd, "77", 2, 3), strerror(errno)); close(fd);
		fd = open(P, O_RDONLY); k = read(fd, b, 31); b[k>0?k:0]=0; printf("now %s", b); close(fd);
		/* non-root */
		if (fork() == 0) { setresuid(1000,1000,1000); w(S("200")); _exit(0);} wait(0);
		/* set to the pid of an existing process */
		w(S("1")); c = fork(); if (c == 0) _exit(0); printf("fork after 1 again -> %d\n", c); waitpid(c,0,0);
		w(S("0")); c = fork(); if (c == 0) _exit(0); printf("fork after 0 -> %d\n", c); waitpid(c,0,0);
		_exit(0);
	}
	wait(0);
	return 0;
}
