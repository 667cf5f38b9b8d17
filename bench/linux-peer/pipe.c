/* `run pipe`: thread ping-pong through two pipes, one byte each way, as `perf bench sched pipe`
 * (with threads) and ferrite's workload/pipe.rs. One op = one round trip: two context switches
 * when both threads share a CPU (pin=same), two cross-CPU wakeups when they do not (pin=split).
 * The calling thread is one side, pinned for the run (its affinity is restored afterwards); the
 * CPUs are the first (and second) this process may use.
 *
 * Parameters (ferrite's): ops (100000), pin=same|split (same; split needs 2 CPUs).
 * Fields: pin, ns_per_round_trip, ns_per_switch (elapsed / (2 * ops): the two switches a round
 * trip needs), process_context_switches (this process's voluntary + involuntary switches over
 * the run, getrusage: per thread, so unlike ferrite's context_switches no switches to idle). */
#include "common.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

struct side {
    int ping[2], pong[2];
    uint64_t ops;
    int cpu;
    int error, eof; /* errno of a failed call, or a closed pipe */
    const char *what;
};

static int pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* Records why a side stopped and closes the one write end it owns, so that the other side's
 * read sees end-of-file instead of waiting forever. */
static void stop(struct side *s, int *write_end, const char *what, ssize_t n, int error)
{
    s->what = what;
    if (n == 0)
        s->eof = 1;
    else
        s->error = error;
    close(*write_end);
    *write_end = -1;
}

static void *partner(void *arg)
{
    struct side *s = arg;
    int rc = pin(s->cpu);
    if (rc) {
        stop(s, &s->pong[1], "pthread_setaffinity_np", -1, rc);
        return NULL;
    }
    char c;
    for (uint64_t i = 0; i < s->ops; i++) {
        ssize_t n = read(s->ping[0], &c, 1);
        if (n != 1) {
            stop(s, &s->pong[1], "read", n, errno);
            return NULL;
        }
        n = write(s->pong[1], &c, 1);
        if (n != 1) {
            stop(s, &s->pong[1], "write", n, errno);
            return NULL;
        }
    }
    return NULL;
}

static void close_all(struct side *s)
{
    int *fds[] = {&s->ping[0], &s->ping[1], &s->pong[0], &s->pong[1]};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
}

static int side_error(const struct side *s, char *err)
{
    if (s->eof)
        return fail(err, "%s: the other thread stopped", s->what);
    return fail(err, "%s: %s", s->what, strerror(s->error));
}

int run_pipe(struct params *p, struct json *out, char *err)
{
    static const char *const PINS[] = {"same", "split", NULL};
    uint64_t ops;
    int split;
    if (param_u64(p, "ops", 100000, 0, UINT64_MAX, &ops, err) || param_choice(p, "pin", PINS, 0, &split, err) ||
        params_finish(p, "pipe", err))
        return -1;
    if (split && peer_cpu[1] < 0)
        return fail(err, "pin=split needs at least 2 CPUs (this process may use %d)", peer_ncpus);

    struct side a = {.ping = {-1, -1}, .pong = {-1, -1}, .ops = ops, .cpu = peer_cpu[0]};
    struct side b = a;
    b.cpu = peer_cpu[split ? 1 : 0];
    if (pipe(a.ping) || pipe(a.pong)) {
        int e = errno;
        close_all(&a);
        return fail(err, "pipe: %s", strerror(e));
    }
    memcpy(b.ping, a.ping, sizeof a.ping);
    memcpy(b.pong, a.pong, sizeof a.pong);

    cpu_set_t saved;
    int rc = pthread_getaffinity_np(pthread_self(), sizeof saved, &saved);
    if (rc == 0)
        rc = pin(a.cpu);
    if (rc) {
        close_all(&a);
        return fail(err, "pthread_setaffinity_np: %s", strerror(rc));
    }
    pthread_t t;
    rc = pthread_create(&t, NULL, partner, &b);
    if (rc) {
        pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
        close_all(&a);
        return fail(err, "pthread_create: %s", strerror(rc));
    }
    uint64_t switches = process_context_switches();
    char c = 'x';
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < ops; i++) {
        ssize_t n = write(a.ping[1], &c, 1);
        if (n != 1) {
            stop(&a, &a.ping[1], "write", n, errno);
            break;
        }
        n = read(a.pong[0], &c, 1);
        if (n != 1) {
            stop(&a, &a.ping[1], "read", n, errno);
            break;
        }
    }
    uint64_t ns = now_ns() - start;
    pthread_join(t, NULL);
    switches = process_context_switches() - switches;
    pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
    /* Each side closed at most its own write end (and marked it -1 in its own copy). */
    a.pong[1] = b.pong[1];
    close_all(&a);
    if (a.what && !a.eof)
        return side_error(&a, err);
    if (b.what)
        return side_error(&b, err);
    if (a.what)
        return side_error(&a, err);

    json_header(out, "pipe", ops, ns);
    json_str(out, "pin", split ? "split" : "same");
    json_f64(out, "ns_per_round_trip", (double)ns / (double)(ops ? ops : 1));
    json_f64(out, "ns_per_switch", (double)ns / (double)(ops ? ops : 1) / 2);
    json_u64(out, "process_context_switches", switches);
    json_end(out);
    return 0;
}
