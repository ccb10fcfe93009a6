/* A program whose nested function needs a trampoline on the stack: the
 * compiler marks it PT_GNU_STACK RWX, and exec gives it an executable
 * stack (as /proc/self/maps shows); a trampoline call works. */
#include "common.h"

static int call(int (*f)(int), int x)
{
	return f(x);
}

static void stack_perms(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	while (f && fgets(line, sizeof line, f)) {
		if (strstr(line, "[stack]")) {
			char perms[8];
			sscanf(line, "%*s %7s", perms);
			printf("stack %s\n", perms);
		}
	}
	if (f)
		fclose(f);
}

int main(void)
{
	int k = 5;
	int add(int x) { return x + k; }
	stack_perms();
	CHECK("trampoline", call(add, 1) == 6);
	return compat_failures > 100 ? 100 : compat_failures;
}
