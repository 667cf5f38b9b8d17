/* malloc/free churn, the same as ferrite's workload=kmalloc (workload/kmalloc.rs): `slots` live
 * objects; each op frees a random slot's object and allocates a new one there, of a size drawn
 * log-uniformly from 8..4096 (a power-of-two class, then uniform within it), and touches it.
 * The slots are filled once before timing. glibc's allocator against ferrite's slab caches. */
#include "common.h"

static size_t draw_size(uint64_t *rng)
{
    uint64_t r = rng_next(rng);
    unsigned class = (unsigned)(r % 10); /* 8 << 0 ..= 8 << 9 = 4096 */
    size_t hi = (size_t)8 << class, lo = hi / 2 + 1;
    return class == 0 ? 8 : lo + (size_t)((r >> 32) % (hi - lo + 1));
}

static void step(void **live, size_t slots, uint64_t *rng)
{
    size_t slot = (size_t)(rng_next(rng) % slots);
    free(live[slot]);
    live[slot] = malloc(draw_size(rng));
    if (!live[slot]) die("malloc");
    *(volatile char *)live[slot] = 1;
}

int main(int argc, char **argv)
{
    long ops = arg_long(argc, argv, "--ops", 1000000);
    size_t slots = (size_t)arg_long(argc, argv, "--slots", 1024);
    uint64_t rng = (uint64_t)arg_long(argc, argv, "--seed", 0x5eed) | 1;
    void **live = calloc(slots, sizeof *live);
    if (!live) die("calloc");
    for (size_t i = 0; i < slots; i++)
        step(live, slots, &rng);
    uint64_t start = now_ns();
    for (long i = 0; i < ops; i++)
        step(live, slots, &rng);
    uint64_t ns = now_ns() - start;
    for (size_t i = 0; i < slots; i++)
        free(live[i]);
    printf("{\"workload\":\"kmalloc\",\"system\":\"linux-host\",\"allocator\":\"glibc malloc\",\"ops\":%ld,"
           "\"slots\":%zu,\"ns_per_op\":%.1f}\n", ops, slots, (double)ns / ops);
    return 0;
}
