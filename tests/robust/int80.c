/* int $0x80 from a 64-bit process selects the i386 system call table: the
 * number is in eax and the arguments in ebx, ecx, edx. A sandbox must either
 * implement that table or refuse the call (-ENOSYS); it must never run the
 * 64-bit call with the same number: 5 is open on i386 but fstat on x86-64,
 * 20 is getpid on i386 but writev on x86-64.
 *
 * The 64-bit argument registers are loaded so that the wrong interpretation
 * succeeds visibly: fstat(1, &st) returns 0 and writev(1, ...) prints
 * "writev-ran". Prints the raw return values. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>

static long int80(long nr, long ebx, long ecx, long edx, long rdi, long rsi)
{
	long r;
	/* The kernel zeroes r8-r11 on return from int $0x80. */
	__asm__ volatile("int $0x80"
			 : "=a"(r)
			 : "a"(nr), "b"(ebx), "c"(ecx), "d"(edx), "D"(rdi), "S"(rsi)
			 : "memory", "r8", "r9", "r10", "r11");
	return r;
}

int main(void)
{
	static struct stat st;
	static char msg[] = "writev-ran\n";
	static struct iovec iov = { msg, sizeof msg - 1 };

	/* i386 pointers are 32 bits wide: the path must live below 4 GiB. */
	char *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (low == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	strcpy(low, "/etc/hostname");
	setvbuf(stdout, NULL, _IONBF, 0);

	/* i386 open(path, O_RDONLY, 0); as x86-64: fstat(1, &st). */
	printf("open %ld\n", int80(5, (long)low, 0, 0, 1, (long)&st));
	/* i386 getpid(); as x86-64: writev(1, &iov, 1). */
	printf("getpid %ld\n", int80(20, 0, 0, 1, 1, (long)&iov));
	return 0;
}
