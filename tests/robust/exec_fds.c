/* Forks and execs /bin/true N times (argv[1]), then says "done N" and
 * waits for a line on stdin, so the test can count the sandbox's host
 * fds from outside between two rounds. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

static int round_of(int n)
{
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		if (p < 0)
			return -1;
		if (p == 0) {
			execl("/bin/true", "true", (char *)0);
			_exit(127);
		}
		int st;
		if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char line[16];
	for (int a = 1; a < argc; a++) {
		int n = atoi(argv[a]);
		if (round_of(n) != 0) {
			printf("failed\n");
			return 1;
		}
		printf("done %d\n", n);
		fflush(stdout);
		if (!fgets(line, sizeof line, stdin))
			return 1;
	}
	return 0;
}
