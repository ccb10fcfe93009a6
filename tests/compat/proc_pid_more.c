/* /proc/PID files beyond the common ones: their modes, clear_refs
 * (and VmHWM), ksm_stat, mountstats and timers; and POSIX timer ids,
 * which are the process's own and end at exec. */
#include "common.h"
#include <signal.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

static long hwm_kb(void)
{
	char buf[8192];
	if (read_text("/proc/self/status", buf, sizeof buf) < 0)
		return -1;
	char *p = strstr(buf, "VmHWM:");
	return p ? atol(p + 6) : -1;
}

/* /proc/self/timers with the process's pid shown as PID. */
static void show_timers(const char *name)
{
	char buf[4096];
	long n = read_text("/proc/self/timers", buf, sizeof buf);
	printf("%s (%s):\n", name, n > 0 ? "some" : n == 0 ? "empty" : ename(errno));
	for (char *l = strtok(buf, "\n"); n > 0 && l; l = strtok(NULL, "\n")) {
		char *at = strstr(l, "pid.");
		if (!at)
			at = strstr(l, "tid.");
		if (strncmp(l, "notify: ", 8) == 0 && at)
			printf("  %.*s%.3s.%s\n", (int)(at - l), l, at, atoi(at + 4) == getpid() ? "SELF" : "OTHER");
		else
			printf("  %s\n", l);
	}
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		/* After exec: the timers are gone, the count goes on. */
		compat_failures = atoi(argv[1]);
		struct itimerspec its;
		EXPECT_ERR("exec_deleted_timers", timer_gettime((timer_t)1, &its), EINVAL);
		timer_t t;
		struct sigevent ev = {.sigev_notify = SIGEV_NONE};
		CHECK("exec_next_id", timer_create(CLOCK_MONOTONIC, &ev, &t) == 0 && (long)t == 10);
		show_timers("after exec");
		return compat_done();
	}
	const char *files[] = {"auxv", "environ", "io", "personality", "clear_refs", "ksm_merging_pages", "ksm_stat",
			       "mountstats", "timers", "status", "maps", "uid_map", "gid_map", "setgroups", "projid_map",
			       "mem", "timerslack_ns", "comm", NULL};
	for (int i = 0; files[i]; i++) {
		char path[64];
		struct stat st;
		snprintf(path, sizeof path, "/proc/self/%s", files[i]);
		if (stat(path, &st))
			printf("mode %s: %s\n", files[i], ename(errno));
		else
			printf("mode %s: %04o\n", files[i], st.st_mode & 07777);
		snprintf(path, sizeof path, "/proc/self/task/%d/%s", getpid(), files[i]);
		printf("in task dir %s: %s\n", files[i], access(path, F_OK) ? ename(errno) : "yes");
	}

	const char *dirs[] = {"fd", "fdinfo", "ns", "task", "net", "attr", NULL};
	for (int i = 0; dirs[i]; i++) {
		char path[64];
		struct stat st;
		snprintf(path, sizeof path, "/proc/self/%s", dirs[i]);
		if (stat(path, &st) == 0)
			printf("dir mode %s: %04o\n", dirs[i], st.st_mode & 07777);
	}
	/* smaps: the fields of a mapping, in Linux's order (names only). */
	{
		char big[65536];
		long n = read_text("/proc/self/smaps", big, sizeof big);
		char *line = n > 0 ? strchr(big, '\n') : NULL;
		printf("smaps fields:");
		while (line && *++line && strncmp(line, "VmFlags", 7) != 0) {
			char *colon = strchr(line, ':');
			if (!colon)
				break;
			printf(" %.*s", (int)(colon - line), line);
			line = strchr(line, '\n');
		}
		printf("\n");
	}
	/* fdinfo's lines for epoll (each interest), signalfd and timerfd;
	 * inode numbers and times cut off. */
	{
		int pp[2];
		pipe(pp);
		int ep = epoll_create1(0);
		struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = 0x1234};
		epoll_ctl(ep, EPOLL_CTL_ADD, pp[0], &ev);
		sigset_t sm;
		sigemptyset(&sm);
		sigaddset(&sm, SIGUSR1);
		sigaddset(&sm, SIGRTMIN);
		int sf = signalfd(-1, &sm, 0);
		int tf = timerfd_create(CLOCK_MONOTONIC, 0);
		struct itimerspec its = {{1, 0}, {100, 0}};
		timerfd_settime(tf, 0, &its, NULL);
		int in = inotify_init1(0);
		inotify_add_watch(in, "/", IN_CREATE | IN_DELETE);
		int fds[4] = {ep, sf, tf, in};
		for (int i = 0; i < 4; i++) {
			char path[64], b[2048];
			snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fds[i]);
			if (read_text(path, b, sizeof b) <= 0)
				continue;
			for (char *l = strtok(b, "\n"); l; l = strtok(NULL, "\n")) {
				if (!strncmp(l, "pos:", 4) || !strncmp(l, "flags:", 6) || !strncmp(l, "mnt_id:", 7) || !strncmp(l, "ino:", 4))
					continue;
				unsigned wd, mask;
				if (sscanf(l, "inotify wd:%x ino:%*x sdev:%*x mask:%x", &wd, &mask) == 2) {
					printf("fdinfo %d: inotify wd:%x mask:%x\n", i, wd, mask);
					continue;
				}
				char *cut = strstr(l, " ino:");
				if (!cut && !strncmp(l, "it_value: (", 11))
					cut = strchr(l, ',');
				printf("fdinfo %d: %.*s\n", i, cut ? (int)(cut - l) : (int)strlen(l), l);
			}
		}
		close(ep);
		close(sf);
		close(tf);
		close(in);
		close(pp[0]);
		close(pp[1]);
	}
	/* The executable's code and data spans (stat's startcode, endcode,
	 * start_data, end_data), and its code size (VmExe, statm's text). */
	{
		extern char __executable_start, etext, edata, end;
		char b[4096];
		read_text("/proc/self/stat", b, sizeof b);
		char *f[64];
		int n = 0;
		for (char *t = strtok(strrchr(b, ')') + 2, " "); t && n < 64; t = strtok(NULL, " "))
			f[n++] = t;
		unsigned long sc = strtoul(f[23], 0, 10), ec = strtoul(f[24], 0, 10);
		unsigned long sd = strtoul(f[42], 0, 10), ed = strtoul(f[43], 0, 10);
		CHECK("startcode", sc > (unsigned long)&__executable_start && sc < (unsigned long)&etext);
		CHECK("endcode", ec == (unsigned long)&etext);
		CHECK("data_span", sd >= ec && ed >= (unsigned long)&edata - 4096 && ed <= (unsigned long)&end);
		long text = -1, exe = -1;
		if (read_text("/proc/self/statm", b, sizeof b) > 0)
			sscanf(b, "%*ld %*ld %*ld %ld", &text);
		if (read_text("/proc/self/status", b, sizeof b) > 0 && strstr(b, "VmExe:"))
			exe = atol(strstr(b, "VmExe:") + 6);
		CHECK("vmexe_is_text", text > 0 && exe == text * 4 && exe == (long)((ec + 4095) / 4096 * 4096 - sc) / 1024);
	}
	/* Every name in /proc is generated: a new one is not there. */
	EXPECT_ERR("proc_mkdir", mkdir("/proc/x", 0755), ENOENT);
	EXPECT_ERR("proc_creat", open("/proc/x", O_CREAT | O_WRONLY, 0644), ENOENT);
	EXPECT_ERR("proc_symlink", symlink("a", "/proc/x"), ENOENT);
	EXPECT_ERR("proc_mknod", mknod("/proc/self/x", S_IFIFO | 0644, 0), ENOENT);
	EXPECT_ERR("proc_rename_new", rename("/proc/cpuinfo", "/proc/y"), ENOENT);
	EXPECT_ERR("proc_unlink", unlink("/proc/cpuinfo"), EPERM);

	/* clear_refs: 1 to 5 only; nothing to read. */
	int cr = open("/proc/self/clear_refs", O_WRONLY);
	CHECK("clear_refs_open", cr >= 0);
	for (int v = 1; v <= 5; v++) {
		char b[4];
		int n = snprintf(b, sizeof b, "%d\n", v);
		CHECK("clear_refs_value", write(cr, b, n) == n);
	}
	EXPECT_ERR("clear_refs_zero", write(cr, "0", 1), EINVAL);
	EXPECT_ERR("clear_refs_six", write(cr, "6", 1), EINVAL);
	EXPECT_ERR("clear_refs_word", write(cr, "all", 3), EINVAL);
	int crr = open("/proc/self/clear_refs", O_RDONLY);
	char c;
	EXPECT_ERR("clear_refs_read", read(crr, &c, 1), EINVAL);
	close(crr);
	/* 5 restarts the peak resident size. */
	size_t big = 64 << 20;
	char *m = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(m, 1, big);
	long at_peak = hwm_kb();
	munmap(m, big);
	CHECK("hwm_kept", at_peak >= 65536 && hwm_kb() >= 65536);
	CHECK("clear_refs_5", write(cr, "5", 1) == 1 && hwm_kb() < 32768);
	close(cr);

	/* KSM: nothing merged; asking is remembered. */
	char buf[4096];
	CHECK("ksm_merging_pages", read_text("/proc/self/ksm_merging_pages", buf, sizeof buf) > 0 && strcmp(buf, "0\n") == 0);
	CHECK("ksm_unasked", read_text("/proc/self/ksm_stat", buf, sizeof buf) > 0 && strstr(buf, "ksm_mergeable: no\n"));
	char *k = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("madv_mergeable", madvise(k, 8192, MADV_MERGEABLE) == 0);
	CHECK("ksm_asked", read_text("/proc/self/ksm_stat", buf, sizeof buf) > 0 && strstr(buf, "ksm_mergeable: yes\n") && strstr(buf, "ksm_merging_pages 0\n"));
	pid_t ch = fork();
	if (ch == 0) {
		CHECK("ksm_fork_keeps", read_text("/proc/self/ksm_stat", buf, sizeof buf) > 0 && strstr(buf, "ksm_mergeable: yes\n"));
		compat_child_end();
	}
	compat_collect(ch, "ksm fork");

	/* mountstats names /proc as it is mounted. */
	CHECK("mountstats", read_text("/proc/self/mountstats", buf, sizeof buf) > 0 && strstr(buf, "device proc mounted on /proc with fstype proc\n"));

	/* POSIX timers: the process's own ids from 0, the newest listed
	 * first, each with its signal, value, target and clock. */
	show_timers("no timers");
	timer_t t[4];
	struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
	ev.sigev_value.sival_ptr = (void *)0x1234;
	CHECK("timer0", timer_create(CLOCK_MONOTONIC, &ev, &t[0]) == 0 && (long)t[0] == 0);
	ev.sigev_notify = SIGEV_NONE;
	ev.sigev_signo = 7;
	CHECK("timer1", timer_create(CLOCK_REALTIME, &ev, &t[1]) == 0 && (long)t[1] == 1);
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = SIGRTMIN;
	ev._sigev_un._tid = gettid();
	CHECK("timer2", timer_create(CLOCK_BOOTTIME, &ev, &t[2]) == 0 && (long)t[2] == 2);
	/* SIGEV_THREAD is the C library's: to the kernel, a signal. */
	ev.sigev_notify = SIGEV_THREAD;
	ev.sigev_signo = SIGUSR2;
	int raw;
	CHECK("timer3_raw_thread", syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &raw) == 0 && raw == 3);
	CHECK("timer_null_sevp", syscall(SYS_timer_create, CLOCK_MONOTONIC, NULL, &raw) == 0 && raw == 4);
	show_timers("five timers");
	CHECK("delete1", timer_delete(t[1]) == 0);
	/* A refused sigevent still uses an id up. */
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = 0;
	EXPECT_ERR("bad_signo", syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &raw), EINVAL);
	ev.sigev_signo = SIGUSR1;
	CHECK("next_after_refusal", syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &raw) == 0 && raw == 6);
	show_timers("after delete");
	ch = fork();
	if (ch == 0) {
		show_timers("child");
		CHECK("child_first_id", syscall(SYS_timer_create, CLOCK_MONOTONIC, NULL, &raw) == 0 && raw == 0);
		compat_child_end();
	}
	compat_collect(ch, "timers fork");
	/* Exec ends them; the count goes on (the exec'd image checks). */
	for (int i = 0; i < 3; i++) {
		timer_t x;
		timer_create(CLOCK_MONOTONIC, NULL, &x);
	}
	fflush(stdout);
	char n[8];
	snprintf(n, sizeof n, "%d", compat_failures);
	execl("/proc/self/exe", argv[0], n, (char *)NULL);
	printf("exec FAIL %s\n", ename(errno));
	return 1;
}
