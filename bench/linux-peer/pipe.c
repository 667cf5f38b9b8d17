/* Thread ping-pong through two pipes, one byte each way, as `perf bench sched pipe` (with
 * threads): ops round trips; each round trip is two context switches when both threads share a
 * CPU (pin=same) and two cross-CPU wakeups when they do not (pin=split). */
#include "common.h"
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

static int ping[2], pong[2];
static long ops;
static int split;

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0)
        die("pthread_setaffinity_np");
}

static void *partner(void *arg)
{
    (void)arg;
    pin(split ? 1 : 0);
    char c;
    for (long i = 0; i < ops; i++) {
        if (read(ping[0], &c, 1) != 1) die("read");
        if (write(pong[1], &c, 1) != 1) die("write");
    }
    return NULL;
}

int main(int argc, char **argv)
{
    ops = arg_long(argc, argv, "--ops", 100000);
    split = strcmp(arg_str(argc, argv, "--pin", "same"), "split") == 0;
    if (pipe(ping) || pipe(pong)) die("pipe");
    pin(0);
    pthread_t t;
    if (pthread_create(&t, NULL, partner, NULL)) die("pthread_create");
    char c = 'x';
    uint64_t start = now_ns();
    for (long i = 0; i < ops; i++) {
        if (write(ping[1], &c, 1) != 1) die("write");
        if (read(pong[0], &c, 1) != 1) die("read");
    }
    uint64_t ns = now_ns() - start;
    pthread_join(t, NULL);
    printf("{\"workload\":\"pipe\",\"system\":\"linux-host\",\"pin\":\"%s\",\"ops\":%ld,\"ns_per_op\":%.1f,"
           "\"ns_per_switch\":%.1f}\n", split ? "split" : "same", ops, (double)ns / ops, (double)ns / ops / 2);
    return 0;
}
