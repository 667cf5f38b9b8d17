/* `run hackbench`: messaging with threads and pipes (as `hackbench -T -p`, `perf bench sched
 * messaging` with pipes, and ferrite's workload/hackbench.rs): each group has 10 senders and 10
 * receivers, one pipe per receiver; every sender writes `loops` 100-byte messages to each
 * receiver of its group. One op = one message. As in ferrite, every thread waits at a gate until
 * all exist; the clock runs from opening the gate until the last thread is joined, so thread and
 * pipe creation are not timed.
 *
 * Parameters (ferrite's): groups (10), loops (100), pipe_size (65536; a size other than the
 * kernel's default, 65536 on x86_64, is set with F_SETPIPE_SZ, which rounds it up to a
 * power-of-two number of pages). Fields: groups, loops, threads, message_bytes, pipe_size (the
 * smallest size a pipe had: past /proc/sys/fs/pipe-user-pages-soft new pipes get one page),
 * messages, total_ms, process_context_switches (see pipe.c). */
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FDS 10
#define MSG 100

/* Holds every thread until the run's threads all exist (ferrite's task::Gate). */
struct gate {
    pthread_mutex_t lock;
    pthread_cond_t opened;
    int open;
};

static void gate_wait(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    while (!g->open)
        pthread_cond_wait(&g->opened, &g->lock);
    pthread_mutex_unlock(&g->lock);
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = 1;
    pthread_cond_broadcast(&g->opened);
    pthread_mutex_unlock(&g->lock);
}

struct receiver {
    struct gate *gate;
    int fd;          /* read end; closed (-1) by the receiver itself if it fails */
    uint64_t expect; /* bytes */
    int error, eof;
};

struct sender {
    struct gate *gate;
    const int *fds; /* the group's FDS write ends */
    uint64_t loops;
    int error;
};

static void *receive(void *arg)
{
    struct receiver *r = arg;
    char buf[MSG];
    gate_wait(r->gate);
    for (uint64_t got = 0; got < r->expect;) {
        ssize_t n = read(r->fd, buf, sizeof buf);
        if (n <= 0) {
            /* End of file: the run is being abandoned (all writers closed). An error: close the
             * read end, so that senders blocked on this pipe fail with EPIPE instead of waiting. */
            if (n == 0) {
                r->eof = 1;
            } else {
                r->error = errno;
                close(r->fd);
                r->fd = -1;
            }
            return NULL;
        }
        got += (uint64_t)n;
    }
    return NULL;
}

static void *send_all(void *arg)
{
    struct sender *s = arg;
    char msg[MSG] = {0};
    gate_wait(s->gate);
    for (uint64_t l = 0; l < s->loops; l++)
        for (int i = 0; i < FDS; i++)
            if (write(s->fds[i], msg, MSG) != MSG) {
                s->error = errno ? errno : EIO;
                return NULL;
            }
    return NULL;
}

struct run {
    struct gate gate;
    uint64_t groups, loops;
    int *wfds;                 /* groups * FDS write ends, -1 when not open */
    struct receiver *rs;       /* groups * FDS */
    struct sender *ss;         /* groups * FDS */
    pthread_t *rt, *st;        /* receiver and sender threads */
    size_t nrt, nst;           /* how many of each were started */
};

/* Opens the gate (threads that exist must not wait forever), joins every thread and closes every
 * descriptor. Senders first: once they are done, the write
 * ends are closed if the run is failing, so that receivers still waiting see end-of-file. */
static void finish(struct run *r, int failing)
{
    gate_open(&r->gate);
    for (size_t i = 0; i < r->nst; i++)
        pthread_join(r->st[i], NULL);
    for (size_t i = 0; i < r->nst; i++)
        if (r->ss[i].error)
            failing = 1;
    if (failing)
        for (size_t i = 0; i < r->groups * FDS; i++)
            if (r->wfds[i] >= 0) {
                close(r->wfds[i]);
                r->wfds[i] = -1;
            }
    for (size_t i = 0; i < r->nrt; i++)
        pthread_join(r->rt[i], NULL);
}

static void release(struct run *r)
{
    for (size_t i = 0; i < r->groups * FDS; i++) {
        if (r->wfds[i] >= 0)
            close(r->wfds[i]);
        if (r->rs[i].fd >= 0)
            close(r->rs[i].fd);
    }
    free(r->wfds);
    free(r->rs);
    free(r->ss);
    free(r->rt);
    free(r->st);
}

/* Starts group g's pipes and threads; on failure returns the errno and what failed. */
static int start_group(struct run *r, uint64_t g, int pipe_size, const char **what)
{
    int *wfds = r->wfds + g * FDS;
    for (int i = 0; i < FDS; i++) {
        int p[2];
        if (pipe(p)) {
            *what = "pipe";
            return errno;
        }
        struct receiver *rcv = &r->rs[g * FDS + i];
        rcv->gate = &r->gate;
        rcv->fd = p[0];
        rcv->expect = r->loops * FDS * MSG;
        wfds[i] = p[1];
        if (pipe_size != peer_default_pipe_size && fcntl(p[1], F_SETPIPE_SZ, pipe_size) < 0) {
            *what = "fcntl(F_SETPIPE_SZ)";
            return errno;
        }
        int rc = pthread_create(&r->rt[r->nrt], NULL, receive, rcv);
        if (rc) {
            *what = "pthread_create";
            return rc;
        }
        r->nrt++;
    }
    for (int i = 0; i < FDS; i++) {
        struct sender *s = &r->ss[g * FDS + i];
        s->gate = &r->gate;
        s->fds = wfds;
        s->loops = r->loops;
        int rc = pthread_create(&r->st[r->nst], NULL, send_all, s);
        if (rc) {
            *what = "pthread_create";
            return rc;
        }
        r->nst++;
    }
    return 0;
}

int run_hackbench(struct params *p, struct json *out, char *err)
{
    uint64_t groups, loops, pipe_size;
    if (param_u64(p, "groups", 10, 1, 10000, &groups, err) || param_u64(p, "loops", 100, 0, 1ull << 40, &loops, err) ||
        param_u64(p, "pipe_size", 65536, 1, 1u << 30, &pipe_size, err) ||
        params_finish(p, "hackbench", err))
        return -1;

    size_t n = (size_t)groups * FDS;
    struct run r = {.gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0}, .groups = groups, .loops = loops};
    r.wfds = malloc(n * sizeof *r.wfds);
    r.rs = calloc(n, sizeof *r.rs);
    r.ss = calloc(n, sizeof *r.ss);
    r.rt = calloc(n, sizeof *r.rt);
    r.st = calloc(n, sizeof *r.st);
    if (!r.wfds || !r.rs || !r.ss || !r.rt || !r.st) {
        free(r.wfds);
        free(r.rs);
        free(r.ss);
        free(r.rt);
        free(r.st);
        return fail(err, "out of memory for %zu threads", 2 * n);
    }
    for (size_t i = 0; i < n; i++)
        r.wfds[i] = r.rs[i].fd = -1;

    for (uint64_t g = 0; g < groups; g++) {
        const char *what;
        int e = start_group(&r, g, (int)pipe_size, &what);
        if (e) {
            finish(&r, 1);
            release(&r);
            return fail(err, "%s: %s (group %" PRIu64 " of %" PRIu64 ")", what, strerror(e), g + 1, groups);
        }
    }
    uint64_t switches = process_context_switches();
    uint64_t start = now_ns();
    finish(&r, 0);
    uint64_t ns = now_ns() - start;
    switches = process_context_switches() - switches;

    int failed = 0;
    for (size_t i = 0; i < n && !failed; i++) {
        if (r.rs[i].error || r.rs[i].eof)
            failed = fail(err, "receiver: %s", r.rs[i].eof ? "pipe closed early" : strerror(r.rs[i].error));
        else if (r.ss[i].error)
            failed = fail(err, "sender: write: %s", strerror(r.ss[i].error));
    }
    /* The smallest pipe: past the per-user limit (/proc/sys/fs/pipe-user-pages-soft), the kernel
     * makes new pipes one page. */
    int actual_size = -1;
    for (size_t i = 0; i < n; i++) {
        int size = fcntl(r.wfds[i], F_GETPIPE_SZ);
        if (actual_size < 0 || size < actual_size)
            actual_size = size;
    }
    release(&r);
    if (failed)
        return -1;

    uint64_t messages = groups * FDS * FDS * loops;
    json_header(out, "hackbench", messages, ns);
    json_u64(out, "groups", groups);
    json_u64(out, "loops", loops);
    json_u64(out, "threads", 2 * n);
    json_u64(out, "message_bytes", MSG);
    json_u64(out, "pipe_size", actual_size > 0 ? (uint64_t)actual_size : 0);
    json_u64(out, "messages", messages);
    json_f64(out, "total_ms", (double)ns / 1e6);
    json_u64(out, "process_context_switches", switches);
    json_end(out);
    return 0;
}
