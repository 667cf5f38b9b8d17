/* malloc/free churn over a size mix: a window of live objects, each op frees one slot and
 * allocates a new object of a random size from the kmalloc classes (xorshift64, fixed seed).
 * The peer of ferrite's workload=kmalloc: glibc's allocator against ferrite's slab caches. */
#include "common.h"

static const size_t sizes[] = {8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096};
#define NSIZES (sizeof sizes / sizeof sizes[0])
#define WINDOW 64

int main(int argc, char **argv)
{
    long ops = arg_long(argc, argv, "--ops", 1000000);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    void *live[WINDOW] = {0};
    for (int i = 0; i < WINDOW; i++)
        live[i] = malloc(sizes[xorshift64(&seed) % NSIZES]);
    uint64_t start = now_ns();
    for (long i = 0; i < ops; i++) {
        unsigned slot = (unsigned)(xorshift64(&seed) % WINDOW);
        free(live[slot]);
        live[slot] = malloc(sizes[xorshift64(&seed) % NSIZES]);
        if (!live[slot]) die("malloc");
        *(volatile char *)live[slot] = 1; /* touch it, as a user of the memory would */
    }
    uint64_t ns = now_ns() - start;
    for (int i = 0; i < WINDOW; i++)
        free(live[i]);
    printf("{\"workload\":\"kmalloc\",\"system\":\"linux-host\",\"allocator\":\"glibc malloc\",\"ops\":%ld,"
           "\"ns_per_op\":%.1f}\n", ops, (double)ns / ops);
    return 0;
}
