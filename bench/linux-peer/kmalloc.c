/* `run kmalloc`: malloc/free churn, the same as ferrite's workload/kmalloc.rs: `slots` live
 * objects; each op frees a random slot's object and allocates a new one there, of a size drawn
 * log-uniformly from 8..4096 (a power-of-two class, then uniform within it), and touches it.
 * glibc's allocator against ferrite's slab caches.
 *
 * As in ferrite, `threads` threads churn at once, thread t with its own slots and generator
 * (seed + t): each fills its slots (not timed) and waits at a gate; the clock runs from opening
 * the gate until the last thread has done its `ops` ops; the threads free their objects after
 * that. Thread 0 is the calling thread, so threads=1 is exactly the loop the single-threaded
 * peer timed (and glibc's main arena: in a new thread the same loop was ~10 % slower here). ns_per_op = wall time / ops, where ops is per thread (ferrite's definition: it stays flat
 * while the allocator scales and grows with contention). The threads are not pinned (ferrite
 * places thread t on CPU t % cpus).
 *
 * mode=pc (ferrite's producer/consumer): one thread on the first CPU mallocs `ops` objects and
 * hands each through a 256-slot ring to a thread on the second CPU, which frees it, so every free
 * is remote; each object carries a stamp the consumer checks. ns_per_op = wall time / ops. The
 * peer runs one pair (threads=2), pinned to its first two CPUs.
 *
 * Parameters (ferrite's): ops (1000000, per thread), slots (1024), seed (0x5eed), threads (1;
 * 2 with mode=pc), mode=churn|pc (churn).
 * Fields: pattern, threads, slots, sizes, allocator. */
#include "common.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct churner {
    struct shared *shared;
    pthread_t thread;
    uint64_t seed;
    int failed; /* malloc returned NULL */
};

/* The gate and the two counts, as ferrite's Completion/Gate pair. */
struct shared {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t ready, done;
    int open, abandon;
    uint64_t ops;
    size_t slots;
};

static size_t draw_size(uint64_t *rng)
{
    uint64_t r = rng_next(rng);
    unsigned class = (unsigned)(r % 10); /* 8 << 0 ..= 8 << 9 = 4096 */
    size_t hi = (size_t)8 << class, lo = hi / 2 + 1;
    return class == 0 ? 8 : lo + (size_t)((r >> 32) % (hi - lo + 1));
}

static int step(void **live, size_t slots, uint64_t *rng)
{
    size_t slot = (size_t)(rng_next(rng) % slots);
    free(live[slot]);
    live[slot] = malloc(draw_size(rng));
    if (!live[slot])
        return -1;
    *(volatile char *)live[slot] = 1;
    return 0;
}

static void count(struct shared *s, size_t *counter)
{
    pthread_mutex_lock(&s->lock);
    (*counter)++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* Thread t's part: fill, wait at the gate, churn, count done, free. */
static void churn_part(struct churner *c, void **live, uint64_t *rng)
{
    struct shared *s = c->shared;
    pthread_mutex_lock(&s->lock);
    while (!s->open)
        pthread_cond_wait(&s->cond, &s->lock);
    int abandon = s->abandon;
    pthread_mutex_unlock(&s->lock);

    for (uint64_t i = 0; i < s->ops && !c->failed && !abandon; i++)
        c->failed = step(live, s->slots, rng) != 0;
    count(s, &s->done);
}

static void **fill(struct churner *c, uint64_t *rng)
{
    struct shared *s = c->shared;
    void **live = calloc(s->slots, sizeof *live);
    if (!live)
        c->failed = 1;
    for (size_t i = 0; i < s->slots && !c->failed; i++)
        c->failed = step(live, s->slots, rng) != 0;
    return live;
}

static void drop(struct churner *c, void **live)
{
    if (live)
        for (size_t i = 0; i < c->shared->slots; i++)
            free(live[i]);
    free(live);
}

static void *churn(void *arg)
{
    struct churner *c = arg;
    uint64_t rng = c->seed | 1;
    void **live = fill(c, &rng);
    count(c->shared, &c->shared->ready);
    churn_part(c, live, &rng);
    drop(c, live);
    return NULL;
}

static void wait_count(struct shared *s, size_t *counter, size_t n)
{
    pthread_mutex_lock(&s->lock);
    while (*counter < n)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

static void open_gate(struct shared *s, int abandon)
{
    pthread_mutex_lock(&s->lock);
    s->open = 1;
    s->abandon = abandon;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* The result line (both patterns). */
static int result(struct json *out, const char *pattern, uint64_t ops, uint64_t ns, uint64_t threads, uint64_t slots)
{
    json_header(out, "kmalloc", ops, ns);
    json_str(out, "pattern", pattern);
    json_u64(out, "threads", threads);
    json_u64(out, "slots", slots);
    json_str(out, "sizes", "8..4096 log-uniform");
    json_str(out, "allocator", "glibc malloc");
    json_end(out);
    return 0;
}

#define RING_SLOTS 256

/* One producer/consumer pair: object addresses in flight, 0 = free slot (as ferrite's Ring). */
struct pair {
    _Atomic(uintptr_t) ring[RING_SLOTS];
    uint64_t ops, seed;
    int cpu[2];
    int error;           /* pthread_setaffinity_np's */
    int failed, corrupt; /* malloc returned NULL; a stamp changed */
};

static int pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* Spins a while, then yields (ferrite's `wait`). */
static void spin_wait(void)
{
    for (int i = 0; i < 64; i++)
        __builtin_ia32_pause();
    sched_yield();
}

static void *consume(void *arg)
{
    struct pair *pr = arg;
    int rc = pin(pr->cpu[1]);
    if (rc)
        pr->error = rc;
    for (uint64_t i = 0; i < pr->ops; i++) {
        _Atomic(uintptr_t) *slot = &pr->ring[i % RING_SLOTS];
        uintptr_t obj;
        while ((obj = atomic_load_explicit(slot, memory_order_acquire)) == 0)
            spin_wait();
        if (obj == UINTPTR_MAX) /* the producer gave up */
            return NULL;
        if (*(volatile uint64_t *)obj != i)
            pr->corrupt = 1;
        free((void *)obj);
        atomic_store_explicit(slot, 0, memory_order_release);
    }
    return NULL;
}

/* Runs one pair on the calling thread (the producer) and a new one; returns the elapsed ns. */
static uint64_t produce(struct pair *pr, char *err, int *rc)
{
    cpu_set_t saved;
    *rc = pthread_getaffinity_np(pthread_self(), sizeof saved, &saved);
    if (*rc == 0)
        *rc = pin(pr->cpu[0]);
    pthread_t t;
    if (*rc == 0 && (*rc = pthread_create(&t, NULL, consume, pr)) != 0)
        fail(err, "pthread_create: %s", strerror(*rc));
    else if (*rc)
        fail(err, "pthread_setaffinity_np: %s", strerror(*rc));
    if (*rc) {
        pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
        return 0;
    }
    uint64_t rng = pr->seed | 1, start = now_ns();
    for (uint64_t i = 0; i < pr->ops; i++) {
        _Atomic(uintptr_t) *slot = &pr->ring[i % RING_SLOTS];
        while (atomic_load_explicit(slot, memory_order_acquire) != 0)
            spin_wait();
        uint64_t *obj = malloc(draw_size(&rng));
        if (!obj) {
            pr->failed = 1;
            atomic_store_explicit(slot, UINTPTR_MAX, memory_order_release);
            break;
        }
        *(volatile uint64_t *)obj = i;
        atomic_store_explicit(slot, (uintptr_t)obj, memory_order_release);
    }
    pthread_join(t, NULL);
    uint64_t ns = now_ns() - start;
    pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
    return ns;
}

static int run_pc(uint64_t ops, uint64_t seed, uint64_t threads, uint64_t slots, struct json *out, char *err)
{
    if (threads != 2)
        return fail(err, "mode=pc: the peer runs one producer/consumer pair (threads=2), not %llu",
                    (unsigned long long)threads);
    if (peer_cpu[1] < 0)
        return fail(err, "mode=pc needs at least 2 CPUs (this process may use %d)", peer_ncpus);
    struct pair *pr = calloc(1, sizeof *pr);
    if (!pr)
        return fail(err, "out of memory");
    pr->ops = ops;
    pr->seed = seed;
    pr->cpu[0] = peer_cpu[0];
    pr->cpu[1] = peer_cpu[1];
    int rc;
    uint64_t ns = produce(pr, err, &rc);
    int failed = pr->failed, corrupt = pr->corrupt, error = pr->error;
    free(pr);
    if (rc)
        return -1;
    if (error)
        return fail(err, "pthread_setaffinity_np (consumer): %s", strerror(error));
    if (failed)
        return fail(err, "malloc returned NULL");
    if (corrupt)
        return fail(err, "an object's stamp changed between malloc and free");
    return result(out, "pc", ops, ns, threads, slots);
}

int run_kmalloc(struct params *p, struct json *out, char *err)
{
    static const char *const MODES[] = {"churn", "pc", NULL};
    uint64_t ops, slots, seed, threads;
    int pc;
    if (param_u64(p, "ops", 1000000, 0, UINT64_MAX, &ops, err) ||
        param_u64(p, "slots", 1024, 1, 1u << 22, &slots, err) || param_u64(p, "seed", 0x5eed, 0, UINT64_MAX, &seed, err) ||
        param_choice(p, "mode", MODES, 0, &pc, err) ||
        param_u64(p, "threads", pc ? 2 : 1, 1, 1024, &threads, err) || params_finish(p, "kmalloc", err))
        return -1;
    if (pc)
        return run_pc(ops, seed, threads, slots, out, err);
    if (slots * threads > 1u << 22)
        return fail(err, "slots x threads = %llu live objects: at most %u", (unsigned long long)(slots * threads),
                    1u << 22);

    struct shared s = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .ops = ops,
                       .slots = (size_t)slots};
    struct churner *cs = calloc((size_t)threads, sizeof *cs);
    if (!cs)
        return fail(err, "out of memory");
    for (size_t t = 0; t < threads; t++) {
        cs[t].shared = &s;
        cs[t].seed = seed + t; /* wrapping, as ferrite's seed.wrapping_add(t) */
    }
    /* Churner 0 is the calling thread (with threads=1 the run is the old single-threaded peer's
     * loop, in the main malloc arena), churners 1.. are new threads. */
    size_t started = 1;
    int rc = 0;
    for (; started < threads; started++) {
        rc = pthread_create(&cs[started].thread, NULL, churn, &cs[started]);
        if (rc)
            break;
    }
    uint64_t rng = cs[0].seed | 1;
    void **live = fill(&cs[0], &rng);
    wait_count(&s, &s.ready, started - 1);
    uint64_t start = now_ns();
    open_gate(&s, rc != 0);
    churn_part(&cs[0], live, &rng);
    wait_count(&s, &s.done, started);
    uint64_t ns = now_ns() - start;
    drop(&cs[0], live);
    int failed = cs[0].failed;
    for (size_t t = 1; t < started; t++) {
        pthread_join(cs[t].thread, NULL);
        failed |= cs[t].failed;
    }
    free(cs);
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.lock);
    if (rc)
        return fail(err, "pthread_create (thread %zu of %llu): %s", started + 1, (unsigned long long)threads,
                    strerror(rc));
    if (failed)
        return fail(err, "malloc returned NULL");

    return result(out, "churn", ops, ns, threads, slots);
}
