/* Page allocation churn, shaped like ferrite's workload=pages (workload/pages.rs): rounds of
 * `depth` page allocations followed by `depth` frees. Linux's page allocator is not reachable
 * from user space, so the nearest measurable peer is anonymous memory: each allocation is a
 * page fault that allocates and zeroes a page, and each round's frees are one
 * madvise(MADV_DONTNEED) over the `depth` pages. That includes faults and a system call that
 * ferrite's in-kernel alloc_page/free_page does not pay (nor does ferrite zero the page): read
 * the ratio as "in-kernel page allocator vs what a process pays for a fresh page". */
#include "common.h"
#include <sys/mman.h>

#define PAGE 4096

int main(int argc, char **argv)
{
    long ops = arg_long(argc, argv, "--ops", 200000);
    long depth = arg_long(argc, argv, "--depth", 16);
    long rounds = (ops + depth - 1) / depth;
    ops = rounds * depth;
    char *area = mmap(NULL, (size_t)depth * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) die("mmap");
    uint64_t start = now_ns();
    for (long r = 0; r < rounds; r++) {
        for (long i = 0; i < depth; i++)
            area[i * PAGE] = 1; /* fault: allocate and zero a fresh page */
        if (madvise(area, (size_t)depth * PAGE, MADV_DONTNEED)) die("madvise");
    }
    uint64_t ns = now_ns() - start;
    printf("{\"workload\":\"pages\",\"system\":\"linux-host\",\"method\":\"fault + MADV_DONTNEED per %ld pages\","
           "\"ops\":%ld,\"depth\":%ld,\"ns_per_op\":%.1f}\n", depth, ops, depth, (double)ns / ops);
    return 0;
}
