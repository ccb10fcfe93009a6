/* husk's vDSO: time without a trap. The sentry keeps the parameter page
 * (mapped one page below the image) current; see sentry/src/kernel/time.rs. */
#include <stdint.h>
#include <stddef.h>

struct husk_vvar {
	volatile uint64_t seq;
	uint64_t tsc_base;
	int64_t mono_base;
	int64_t real_offset;
	uint64_t mult;
	uint32_t shift;
	uint32_t enabled;
};

struct ts { int64_t sec, nsec; };
struct tv { int64_t sec, usec; };

extern const char __ehdr_start[] __attribute__((visibility("hidden")));

static inline const struct husk_vvar *vvar(void)
{
	return (const struct husk_vvar *)(__ehdr_start - 4096);
}

static inline long sys2(long nr, long a, long b)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "0"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
	return r;
}

static inline long sys3(long nr, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "0"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return r;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* Monotonic nanoseconds; returns 0 when the page is not usable. */
static int now(int64_t *mono, int64_t *off)
{
	const struct husk_vvar *v = vvar();
	uint64_t s1, s2;
	do {
		s1 = v->seq;
		__asm__ volatile("" ::: "memory");
		if (!v->enabled)
			return 0;
		int64_t d = (int64_t)(rdtsc() - v->tsc_base);
		if (d < 0)
			d = 0;
		*mono = v->mono_base + (int64_t)(((unsigned __int128)(uint64_t)d * v->mult) >> v->shift);
		*off = v->real_offset;
		__asm__ volatile("" ::: "memory");
		s2 = v->seq;
	} while ((s1 & 1) || s1 != s2);
	return 1;
}

int __vdso_clock_gettime(int clk, struct ts *t)
{
	int64_t mono, off;
	switch (clk) {
	case 0: case 1: case 4: case 5: case 6: case 7:
		if (!now(&mono, &off))
			break;
		if (clk == 0 || clk == 5)
			mono += off;
		t->sec = mono / 1000000000;
		t->nsec = mono % 1000000000;
		return 0;
	}
	return (int)sys2(228, clk, (long)t);
}

int __vdso_gettimeofday(struct tv *tv, void *tz)
{
	int64_t mono, off;
	if (tz || !now(&mono, &off))
		return (int)sys2(96, (long)tv, (long)tz);
	if (tv) {
		mono += off;
		tv->sec = mono / 1000000000;
		tv->usec = (mono % 1000000000) / 1000;
	}
	return 0;
}

long __vdso_time(long *t)
{
	int64_t mono, off;
	if (!now(&mono, &off))
		return sys2(201, (long)t, 0);
	long s = (mono + off) / 1000000000;
	if (t)
		*t = s;
	return s;
}

int __vdso_clock_getres(int clk, struct ts *t)
{
	switch (clk) {
	case 0: case 1: case 4: case 7:
		if (t) {
			t->sec = 0;
			t->nsec = 1;
		}
		return 0;
	}
	return (int)sys2(229, clk, (long)t);
}

long __vdso_getcpu(unsigned *cpu, unsigned *node, void *cache)
{
	return sys3(309, (long)cpu, (long)node, (long)cache);
}

void __vdso_rt_sigreturn(void)
{
	__asm__ volatile("mov $15, %eax; syscall");
}

int clock_gettime(int, struct ts *) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct tv *, void *) __attribute__((weak, alias("__vdso_gettimeofday")));
long time(long *) __attribute__((weak, alias("__vdso_time")));
int clock_getres(int, struct ts *) __attribute__((weak, alias("__vdso_clock_getres")));
long getcpu(unsigned *, unsigned *, void *) __attribute__((weak, alias("__vdso_getcpu")));
