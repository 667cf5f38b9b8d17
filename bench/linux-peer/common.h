/* The Linux peer (see peer.c): what the protocol code and the four workloads share. Each
 * workload runs on the host's own Linux what ferrite runs as `run NAME ...` / workload=NAME, with
 * ferrite's parameter names and defaults, and answers one JSON line of the same shape. */
#ifndef PEER_COMMON_H
#define PEER_COMMON_H
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Room for one error message (the answer {"error":"..."}). */
#define ERR_MAX 256

/* Formats an error message into err (ERR_MAX bytes); returns -1 so callers can `return fail(...)`. */
int fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The generator ferrite's workloads use (workload/mod.rs, Rng): xorshift64*, state seed | 1. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* One answer line being built: fields are appended in order, as ferrite's workload/json.rs does
 * (numbers as integers, f64 with one decimal). Answers are small; `overflow` marks one that did
 * not fit, which the protocol code turns into an error answer. */
struct json {
    char buf[4096];
    size_t len;
    int fields, overflow;
};
void json_begin(struct json *j);
void json_str(struct json *j, const char *key, const char *value);
void json_u64(struct json *j, const char *key, uint64_t value);
void json_f64(struct json *j, const char *key, double value);
void json_raw(struct json *j, const char *key, const char *value);
void json_end(struct json *j);
/* The fields every result starts with (ferrite's workload::header without mode/irq):
 * workload, system "linux-host", ops, ns_per_op (elapsed / max(ops, 1)), cpus, elapsed_ns. */
void json_header(struct json *j, const char *workload, uint64_t ops, uint64_t elapsed_ns);

/* A `run` line's key=value words. Getters mark the key used (the last occurrence wins, as on
 * ferrite's command line); params_finish fails on any key nobody asked for. */
struct params;
int param_u64(struct params *p, const char *key, uint64_t dflt, uint64_t min, uint64_t max, uint64_t *out,
              char *err);
/* `key` must be one of `choices` (NULL-terminated); *out is its index, dflt when absent. */
int param_choice(struct params *p, const char *key, const char *const *choices, int dflt, int *out, char *err);
/* Reads the common `delay_ms`, rejects unknown keys, then sleeps delay_ms: call it after the
 * workload has read its own parameters and before it sets anything up. */
int params_finish(struct params *p, const char *workload, char *err);

/* The CPUs this process may run on (its affinity mask at start-up), in order. */
extern int peer_ncpus;
extern int peer_cpu[2]; /* the first two, -1 if absent */
/* A pipe's capacity on this kernel when nobody sets it (F_GETPIPE_SZ at start-up). */
extern int peer_default_pipe_size;

/* This process's context switches so far, voluntary + involuntary, all threads including
 * finished ones (getrusage RUSAGE_SELF). */
uint64_t process_context_switches(void);

/* Each fills *out with one complete answer (json_header ... json_end) and returns 0, or writes a
 * message to err and returns -1. Threads they start are joined, and memory and descriptors they
 * take are released, before they return. */
int run_pipe(struct params *p, struct json *out, char *err);
int run_hackbench(struct params *p, struct json *out, char *err);
int run_kmalloc(struct params *p, struct json *out, char *err);
int run_pages(struct params *p, struct json *out, char *err);
#endif
