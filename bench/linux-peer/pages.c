/* Page allocation churn. Linux's page allocator is not reachable from user space, so the
 * nearest measurable peer is one page of anonymous memory faulted in and given back:
 * a page fault that allocates and zeroes a page, then madvise(MADV_DONTNEED) that frees it.
 * It includes a fault and a system call per op, which ferrite's in-kernel alloc_page/free_page
 * does not pay: read the ratio as "in-kernel page allocator vs what a process pays". */
#include "common.h"
#include <sys/mman.h>

#define WINDOW 64
#define PAGE 4096

int main(int argc, char **argv)
{
    long ops = arg_long(argc, argv, "--ops", 200000);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    char *area = mmap(NULL, WINDOW * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) die("mmap");
    for (int i = 0; i < WINDOW; i++)
        area[i * PAGE] = 1;
    uint64_t start = now_ns();
    for (long i = 0; i < ops; i++) {
        unsigned slot = (unsigned)(xorshift64(&seed) % WINDOW);
        if (madvise(area + slot * PAGE, PAGE, MADV_DONTNEED)) die("madvise");
        area[slot * PAGE] = 1; /* fault: allocate and zero a fresh page */
    }
    uint64_t ns = now_ns() - start;
    printf("{\"workload\":\"pages\",\"system\":\"linux-host\",\"method\":\"fault + MADV_DONTNEED\",\"ops\":%ld,"
           "\"ns_per_op\":%.1f}\n", ops, (double)ns / ops);
    return 0;
}
