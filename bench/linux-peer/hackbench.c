/* hackbench-style messaging with threads and pipes (as `hackbench -T -p`): each group has 10
 * senders and 10 receivers; every sender writes `loops` 100-byte messages to each receiver of its
 * group; total wall time. */
#include "common.h"
#include <pthread.h>
#include <unistd.h>

#define FDS 10
#define MSG 100

struct receiver { int fd; long expect; };
struct sender { int fds[FDS]; long loops; };

static void *receive(void *arg)
{
    struct receiver *r = arg;
    char buf[MSG];
    for (long got = 0; got < r->expect * MSG;) {
        ssize_t n = read(r->fd, buf, sizeof buf);
        if (n <= 0) die("read");
        got += n;
    }
    return NULL;
}

static void *send_all(void *arg)
{
    struct sender *s = arg;
    char msg[MSG] = {0};
    for (long l = 0; l < s->loops; l++)
        for (int i = 0; i < FDS; i++)
            if (write(s->fds[i], msg, MSG) != MSG) die("write");
    return NULL;
}

int main(int argc, char **argv)
{
    int groups = (int)arg_long(argc, argv, "--groups", 2);
    long loops = arg_long(argc, argv, "--loops", 100);
    int threads = groups * FDS * 2;
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    struct receiver *rs = calloc((size_t)groups * FDS, sizeof *rs);
    struct sender *ss = calloc((size_t)groups * FDS, sizeof *ss);
    int n = 0;
    uint64_t start = now_ns();
    for (int g = 0; g < groups; g++) {
        int wfds[FDS];
        for (int i = 0; i < FDS; i++) {
            int p[2];
            if (pipe(p)) die("pipe");
            rs[g * FDS + i] = (struct receiver){p[0], loops * FDS};
            wfds[i] = p[1];
            if (pthread_create(&tids[n++], NULL, receive, &rs[g * FDS + i])) die("pthread_create");
        }
        for (int i = 0; i < FDS; i++) {
            memcpy(ss[g * FDS + i].fds, wfds, sizeof wfds);
            ss[g * FDS + i].loops = loops;
            if (pthread_create(&tids[n++], NULL, send_all, &ss[g * FDS + i])) die("pthread_create");
        }
    }
    for (int i = 0; i < n; i++)
        pthread_join(tids[i], NULL);
    uint64_t ns = now_ns() - start;
    long messages = (long)groups * FDS * FDS * loops;
    printf("{\"workload\":\"hackbench\",\"system\":\"linux-host\",\"groups\":%d,\"loops\":%ld,\"messages\":%ld,"
           "\"total_ms\":%.2f,\"ns_per_op\":%.1f}\n", groups, loops, messages, ns / 1e6, (double)ns / messages);
    return 0;
}
