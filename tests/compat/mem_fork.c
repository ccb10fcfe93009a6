/* fork copy-on-write and MAP_SHARED across fork. */
#include "common.h"
#include <sys/mman.h>
#include <sys/wait.h>

static int global_data = 100;
static int global_bss;

static int wait_code(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 200 + WTERMSIG(st);
}

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	int stack_var = 5;
	char *heap = malloc(1 << 20);
	memset(heap, 'p', 1 << 20);
	char *priv = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(priv, 'p', 4 * pg);
	int *shared = mmap(NULL, pg, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	shared[0] = 1;
	global_bss = 7;

	pid_t pid = fork();
	if (pid == 0) {
		/* Child sees the parent's values ... */
		int ok = global_data == 100 && global_bss == 7 && stack_var == 5 &&
			 heap[12345] == 'p' && priv[3 * pg] == 'p' && shared[0] == 1;
		/* ... then writes everything. */
		global_data = 1;
		global_bss = 2;
		stack_var = 3;
		memset(heap, 'c', 1 << 20);
		memset(priv, 'c', 4 * pg);
		shared[0] = 2;
		shared[1] = 0x1234;
		_exit(ok ? 0 : 1);
	}
	CHECK("fork", pid > 0);
	CHECK("child_saw_parent_state", wait_code(pid) == 0);
	CHECK("cow_data_unchanged", global_data == 100);
	CHECK("cow_bss_unchanged", global_bss == 7);
	CHECK("cow_stack_unchanged", stack_var == 5);
	CHECK("cow_heap_unchanged", heap[0] == 'p' && heap[(1 << 20) - 1] == 'p');
	CHECK("cow_mmap_private_unchanged", priv[0] == 'p' && priv[4 * pg - 1] == 'p');
	CHECK("shared_anon_sees_child_write", shared[0] == 2 && shared[1] == 0x1234);

	/* Parent writes after fork are not seen by the child. */
	int pfd[2];
	pipe(pfd);
	pid = fork();
	if (pid == 0) {
		char c;
		close(pfd[1]);
		read(pfd[0], &c, 1); /* wait until parent has written */
		int ok = global_data == 100 && priv[0] == 'p' && shared[2] == 77;
		_exit(ok ? 0 : 1);
	}
	close(pfd[0]);
	global_data = 555;
	priv[0] = 'X';
	shared[2] = 77;
	write(pfd[1], "g", 1);
	close(pfd[1]);
	CHECK("child_isolated_from_parent_writes_but_shares_shared", wait_code(pid) == 0);

	/* Grandchild chain: COW across two generations. */
	pid = fork();
	if (pid == 0) {
		priv[1] = 'c';
		pid_t g = fork();
		if (g == 0) {
			int ok = priv[1] == 'c' && priv[0] == 'X';
			priv[1] = 'g';
			shared[3] = 3;
			_exit(ok ? 0 : 1);
		}
		int gc = wait_code(g);
		_exit(gc == 0 && priv[1] == 'c' ? 0 : 1);
	}
	CHECK("grandchild_cow", wait_code(pid) == 0);
	CHECK("grandchild_shared_write", shared[3] == 3);
	CHECK("parent_priv_intact", priv[1] == 'p');

	/* Many processes incrementing a shared counter with atomics. */
	int n = 8;
	for (int i = 0; i < n; i++) {
		if (fork() == 0) {
			for (int j = 0; j < 10000; j++)
				__atomic_fetch_add(&shared[10], 1, __ATOMIC_SEQ_CST);
			_exit(0);
		}
	}
	int allok = 1;
	for (int i = 0; i < n; i++) {
		int st;
		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			allok = 0;
	}
	CHECK("shared_counter_children_ok", allok);
	SHOW("shared_counter", "%d", shared[10]);

	/* MAP_PRIVATE established after fork in child is invisible to parent,
	 * munmap in the child doesn't affect the parent. */
	pid = fork();
	if (pid == 0) {
		munmap(priv, 4 * pg);
		_exit(0);
	}
	wait_code(pid);
	CHECK("child_munmap_parent_kept", priv[2 * pg] == 'p');

	/* The kernel writing into copy-on-write memory (read(2) in the child),
	 * MADV_DONTNEED, mremap and mprotect in the child: the parent keeps
	 * its contents. */
	int q[2];
	pipe(q);
	write(q[1], "kkkk", 4);
	pid = fork();
	if (pid == 0) {
		int ok = read(q[0], priv + pg, 4) == 4 && priv[pg] == 'k' && priv[pg + 4] == 'p';
		ok = ok && madvise(priv + 2 * pg, pg, MADV_DONTNEED) == 0 && priv[2 * pg] == 0;
		ok = ok && mprotect(priv, pg, PROT_READ) == 0 && priv[0] == 'X';
		ok = ok && mprotect(priv, pg, PROT_READ | PROT_WRITE) == 0;
		priv[0] = 'm';
		char *moved = mremap(priv, 4 * pg, 8 * pg, MREMAP_MAYMOVE);
		ok = ok && moved != MAP_FAILED && moved[0] == 'm' && moved[pg] == 'k' && moved[3 * pg] == 'p';
		_exit(ok ? 0 : 1);
	}
	CHECK("child_kernel_write_dontneed_mremap_mprotect", wait_code(pid) == 0);
	CHECK("parent_after_child_edits", priv[0] == 'X' && priv[pg] == 'p' && priv[2 * pg] == 'p' && priv[3 * pg] == 'p');

	free(heap);
	return compat_done();
}
