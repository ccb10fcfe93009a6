/* Allocates and touches 32 MiB at a time, up to 2 GiB: run under a
 * memory limit, it must be stopped (killed, or malloc fails) while the
 * sandbox and the host go on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
    size_t chunk = 32 << 20, total = 0;
    for (int i = 0; i < 64; i++) { /* at most 2 GiB */
        char *p = malloc(chunk);
        if (!p) { printf("malloc failed after %zu MiB\n", total >> 20); return 3; }
        memset(p, 1, chunk);
        total += chunk;
    }
    printf("allocated %zu MiB\n", total >> 20);
    return 0;
}
