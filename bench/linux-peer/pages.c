/* `run pages`: page allocation churn, shaped like ferrite's workload/pages.rs: rounds of `depth`
 * page allocations followed by `depth` frees. Linux's page allocator is not reachable from user
 * space, so the nearest measurable peer is anonymous memory: each allocation is a page fault
 * that allocates and zeroes a page, and each round's frees are one madvise(MADV_DONTNEED) over
 * the `depth` pages. That includes faults and a system call that ferrite's in-kernel
 * alloc_page/free_page does not pay (nor does ferrite zero the page): read the ratio as
 * "in-kernel page allocator vs what a process pays for a fresh page".
 *
 * Parameters (ferrite's): ops (1000000, rounded up to whole rounds), depth (16; 1..=4096, the
 * range ferrite clamps to), buddy (only 0: ferrite's second, buddy-allocator pass has no Linux
 * counterpart, so the same command can ask both systems for the first pass alone). Fields:
 * depth, method. */
#include "common.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096

int run_pages(struct params *p, struct json *out, char *err)
{
    uint64_t ops, depth, buddy;
    if (param_u64(p, "ops", 1000000, 0, UINT64_MAX - 4096, &ops, err) ||
        param_u64(p, "depth", 16, 1, 4096, &depth, err) || param_u64(p, "buddy", 0, 0, 0, &buddy, err) ||
        params_finish(p, "pages", err))
        return -1;
    uint64_t rounds = (ops + depth - 1) / depth;
    ops = rounds * depth;
    size_t bytes = (size_t)depth * PAGE;
    char *area = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED)
        return fail(err, "mmap: %s", strerror(errno));
    int e = 0;
    uint64_t start = now_ns();
    for (uint64_t r = 0; r < rounds; r++) {
        for (uint64_t i = 0; i < depth; i++)
            area[i * PAGE] = 1; /* fault: allocate and zero a fresh page */
        if (madvise(area, bytes, MADV_DONTNEED)) {
            e = errno;
            break;
        }
    }
    uint64_t ns = now_ns() - start;
    munmap(area, bytes);
    if (e)
        return fail(err, "madvise: %s", strerror(e));

    char method[64];
    snprintf(method, sizeof method, "fault + MADV_DONTNEED per %llu pages", (unsigned long long)depth);
    json_header(out, "pages", ops, ns);
    json_u64(out, "depth", depth);
    json_str(out, "method", method);
    json_end(out);
    return 0;
}
