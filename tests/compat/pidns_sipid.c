/* si_pid of a signal from an ancestor PID namespace is 0 for the receiver,
 * whatever the siginfo said (kill, sigqueue, rt_sigqueueinfo, tgkill,
 * rt_tgsigqueueinfo, pidfd_send_signal), as Linux send_signal. From a
 * hunt; run as root. */
/* si_pid seen inside a pid namespace for signals sent from outside, by each sending call */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <sys/mman.h>
static volatile int *shm;
static void h(int s, siginfo_t *si, void *u) { shm[0] = si->si_pid; shm[1] = si->si_code; shm[2]++; }
int main(){
	setvbuf(stdout,0,_IONBF,0);
	for (int k = 0; k < 5; k++) if (fork() == 0) _exit(0); else wait(0);
	shm = mmap(0, 4096, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS, -1, 0);
	struct sigaction sa = {0}; sa.sa_sigaction = h; sa.sa_flags = SA_SIGINFO; sigaction(SIGUSR1, &sa, 0);
	unshare(CLONE_NEWPID);
	pid_t C = fork();
	if (C == 0) { for (;;) pause(); }
	int pfd = syscall(SYS_pidfd_open, C, 0);
	const char *names[] = {"kill", "sigqueue", "rt_sigqueueinfo(forged 777)", "tgkill", "rt_tgsigqueueinfo(forged 777)", "pidfd_send_signal(NULL)", "pidfd_send_signal(forged 777)"};
	for (int i = 0; i < 7; i++) {
		int before = shm[2];
		siginfo_t si = {0}; si.si_signo = SIGUSR1; si.si_code = SI_QUEUE; si.si_pid = 777;
		int r = 0;
		switch (i) {
		case 0: r = kill(C, SIGUSR1); break;
		case 1: r = sigqueue(C, SIGUSR1, (union sigval){0}); break;
		case 2: r = syscall(SYS_rt_sigqueueinfo, C, SIGUSR1, &si); break;
		case 3: r = syscall(SYS_tgkill, C, C, SIGUSR1); break;
		case 4: r = syscall(SYS_rt_tgsigqueueinfo, C, C, SIGUSR1, &si); break;
		case 5: r = syscall(SYS_pidfd_send_signal, pfd, SIGUSR1, NULL, 0); break;
		case 6: r = syscall(SYS_pidfd_send_signal, pfd, SIGUSR1, &si, 0); break;
		}
		for (int k = 0; k < 100 && shm[2] == before; k++) usleep(1000);
		printf("%-32s r=%d  receiver si_pid=%d code=%d\n", names[i], r, shm[0], shm[1]);
	}
	kill(C, SIGKILL); waitpid(C, 0, 0);
	return 0;
}
