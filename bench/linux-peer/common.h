/* Shared by the Linux peer programs: timing and the JSON result line. Each program runs on the
 * host's own Linux the workload ferrite runs as workload=<name>, and prints one JSON line in the
 * same shape, so bench scripts put the two side by side. */
#ifndef PEER_COMMON_H
#define PEER_COMMON_H
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* "--name=value" style arguments: returns value or the default. */
static inline long arg_long(int argc, char **argv, const char *name, long dflt)
{
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=')
            return strtol(argv[i] + n + 1, NULL, 0);
    return dflt;
}

static inline const char *arg_str(int argc, char **argv, const char *name, const char *dflt)
{
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=')
            return argv[i] + n + 1;
    return dflt;
}

static inline void die(const char *what)
{
    perror(what);
    exit(1);
}
#endif
