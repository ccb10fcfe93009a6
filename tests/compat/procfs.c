/* The sandbox's own /proc: self/exe, maps, status, fd, comm, cpuinfo, meminfo. */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap + 1);
	ssize_t r;
	while ((r = read(fd, b + n, cap - n)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			b = realloc(b, cap + 1);
		}
	}
	close(fd);
	b[n] = 0;
	if (len)
		*len = n;
	return b;
}

static int has_line_prefix(const char *text, const char *prefix)
{
	size_t pl = strlen(prefix);
	for (const char *p = text; p && *p;) {
		if (strncmp(p, prefix, pl) == 0)
			return 1;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	(void)argc;
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	CHECK("readlink_proc_self_exe", n > 0);
	if (n > 0) {
		buf[n] = 0;
		const char *base = strrchr(argv[0], '/');
		base = base ? base + 1 : argv[0];
		size_t bl = strlen(base);
		CHECK("proc_self_exe_ends_with_prog", (size_t)n >= bl && strcmp(buf + n - bl, base) == 0);
		CHECK("proc_self_exe_absolute", buf[0] == '/');
		struct stat a, b;
		CHECK("proc_self_exe_same_file", stat(buf, &a) == 0 && stat("/proc/self/exe", &b) == 0 &&
							 a.st_ino == b.st_ino && a.st_size == b.st_size);
	}
	char self[64], pid[32];
	n = readlink("/proc/self", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = 0;
	snprintf(pid, sizeof(pid), "%d", getpid());
	CHECK("proc_self_is_pid", strcmp(self, pid) == 0);
	snprintf(buf, sizeof(buf), "/proc/%d/status", getpid());
	CHECK("proc_pid_status_exists", access(buf, R_OK) == 0);

	/* maps: stack, heap-ish and our own anonymous mapping. */
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 3 * pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *maps = slurp("/proc/self/maps", NULL);
	CHECK("proc_self_maps_readable", maps != NULL);
	CHECK("maps_has_stack", maps && strstr(maps, "[stack]") != NULL);
	char want[64];
	snprintf(want, sizeof(want), "%lx-%lx r--p ", (unsigned long)m, (unsigned long)(m + 3 * pg));
	CHECK("maps_has_anon_mapping", maps && strstr(maps, want) != NULL);
	CHECK("maps_has_exe", maps && strstr(maps, "r-xp") != NULL);
	int local;
	unsigned long sp = (unsigned long)&local;
	int stack_ok = 0;
	for (char *l = maps; l && *l;) {
		unsigned long lo, hi;
		if (sscanf(l, "%lx-%lx", &lo, &hi) == 2 && sp >= lo && sp < hi && strstr(l, "[stack]") &&
		    strchr(l, '\n') > strstr(l, "[stack]"))
			stack_ok = 1;
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	CHECK("maps_stack_contains_sp", stack_ok);
	munmap(m, 3 * pg);
	free(maps);
	maps = slurp("/proc/self/maps", NULL);
	CHECK("maps_unmapped_gone", maps && strstr(maps, want) == NULL);
	free(maps);

	/* status. */
	char *st = slurp("/proc/self/status", NULL);
	CHECK("proc_self_status", st != NULL);
	CHECK("status_name_line", st && has_line_prefix(st, "Name:\t"));
	CHECK("status_pid_line", st && has_line_prefix(st, "Pid:\t"));
	CHECK("status_ppid_line", st && has_line_prefix(st, "PPid:\t"));
	CHECK("status_uid_line", st && has_line_prefix(st, "Uid:\t"));
	CHECK("status_vmrss_line", st && has_line_prefix(st, "VmRSS:"));
	CHECK("status_threads_line", st && has_line_prefix(st, "Threads:\t1\n"));
	if (st) {
		char *nm = strstr(st, "Name:\t");
		if (nm) {
			char *e = strchr(nm, '\n');
			if (e)
				*e = 0;
			const char *base = strrchr(argv[0], '/');
			base = base ? base + 1 : argv[0];
			CHECK("status_name_is_prog", strncmp(nm + 6, base, 15) == 0);
		}
	}
	free(st);
	char *comm = slurp("/proc/self/comm", NULL);
	CHECK("proc_self_comm", comm && strchr(comm, '\n') != NULL);
	free(comm);
	char *cmdline;
	size_t cl;
	cmdline = slurp("/proc/self/cmdline", &cl);
	CHECK("proc_self_cmdline_argv0", cmdline && strcmp(cmdline, argv[0]) == 0 && cmdline[cl - 1] == 0);
	free(cmdline);

	/* fd directory. */
	DIR *d = opendir("/proc/self/fd");
	CHECK("opendir_proc_self_fd", d != NULL);
	int seen0 = 0, seen1 = 0, seen2 = 0, seen_dirfd = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, "0") == 0) seen0 = 1;
		if (strcmp(e->d_name, "1") == 0) seen1 = 1;
		if (strcmp(e->d_name, "2") == 0) seen2 = 1;
		if (atoi(e->d_name) == dirfd(d)) seen_dirfd = 1;
	}
	printf("proc_self_fd has0=%d has1=%d has2=%d has_dirfd=%d\n", seen0, seen1, seen2, seen_dirfd);
	if (d)
		closedir(d);
	int fd = open("/etc/passwd", O_RDONLY);
	snprintf(buf, sizeof(buf), "/proc/self/fd/%d", fd);
	char target[256];
	n = readlink(buf, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = 0;
	printf("proc_self_fd_link %s\n", target);
	snprintf(buf, sizeof(buf), "/proc/self/fdinfo/%d", fd);
	char *fi = slurp(buf, NULL);
	CHECK("proc_self_fdinfo_pos", fi && has_line_prefix(fi, "pos:\t0"));
	free(fi);
	/* Re-opening through /proc/self/fd gives an independent description. */
	snprintf(buf, sizeof(buf), "/proc/self/fd/%d", fd);
	int fd2 = open(buf, O_RDONLY);
	CHECK("open_proc_self_fd", fd2 >= 0);
	struct stat s1, s2;
	fstat(fd, &s1);
	fstat(fd2, &s2);
	CHECK("proc_fd_reopen_same_inode", s1.st_ino == s2.st_ino);
	close(fd2);
	close(fd);
	EXPECT_ERR("proc_self_fd_missing", open("/proc/self/fd/999", O_RDONLY), ENOENT);

	/* System-wide files. */
	char *cpu = slurp("/proc/cpuinfo", NULL);
	CHECK("proc_cpuinfo", cpu && has_line_prefix(cpu, "processor\t"));
	CHECK("cpuinfo_flags", cpu && has_line_prefix(cpu, "flags\t"));
	free(cpu);
	char *mem = slurp("/proc/meminfo", NULL);
	CHECK("proc_meminfo_total", mem && has_line_prefix(mem, "MemTotal:"));
	CHECK("proc_meminfo_free", mem && has_line_prefix(mem, "MemFree:"));
	free(mem);
	EXPECT_ERR("proc_nonexistent", open("/proc/self/nonexistent-entry", O_RDONLY), ENOENT);
	struct stat ps;
	CHECK("proc_is_dir", stat("/proc", &ps) == 0 && S_ISDIR(ps.st_mode));
	return compat_done();
}
