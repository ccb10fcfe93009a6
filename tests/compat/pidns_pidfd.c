/* Signals across PID namespaces (from a hunt): a process inside cannot
 * pidfd_send_signal a process outside (EINVAL, as access_pidfd_pidns), and
 * the victim lives. Run as root. */
/* a process inside a new pid namespace signals an outside process through an inherited pidfd */
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
static volatile int got, gotpid, gotcode;
static void h(int s, siginfo_t *si, void *u) { got++; gotpid = si->si_pid; gotcode = si->si_code; }
int main(int argc, char **argv){
	setvbuf(stdout,0,_IONBF,0);
	int mode = argc > 1 ? atoi(argv[1]) : 0;
	struct sigaction sa = {0}; sa.sa_sigaction = h; sa.sa_flags = SA_SIGINFO; sigaction(SIGUSR2, &sa, 0);
	pid_t victim = fork(); /* an unrelated process outside */
	if (victim == 0) { for (;;) pause(); }
	int pfd = syscall(SYS_pidfd_open, victim, 0);
	int pself = syscall(SYS_pidfd_open, getpid(), 0);
	pid_t W = fork();
	if (W == 0) {
		if (unshare(CLONE_NEWPID)) { perror("unshare"); _exit(1); }
		pid_t C = fork();
		if (C == 0) {
			siginfo_t si = {0}; si.si_signo = SIGUSR2; si.si_code = SI_QUEUE; si.si_pid = 4242;
			int r = syscall(SYS_pidfd_send_signal, pself, SIGUSR2, mode ? &si : NULL, 0);
			printf("inside: pidfd_send_signal(parent outside, SIGUSR2) = %s\n", r ? strerror(errno) : "ok");
			r = syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
			printf("inside: pidfd_send_signal(victim outside, SIGKILL) = %s\n", r ? strerror(errno) : "ok");
			_exit(0);
		}
		waitpid(C, 0, 0); _exit(0);
	}
	waitpid(W, 0, 0);
	usleep(100000);
	printf("outside: got %d SIGUSR2, si_pid %s, code %d\n", got, gotpid == 4242 ? "4242(forged)" : gotpid ? "nonzero" : "0", gotcode);
	int st; pid_t r = waitpid(victim, &st, WNOHANG);
	printf("outside: victim %s\n", r == victim ? "KILLED" : "alive");
	if (r != victim) { kill(victim, SIGKILL); waitpid(victim, 0, 0); }
	return 0;
}
