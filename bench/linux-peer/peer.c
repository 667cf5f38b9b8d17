/* The Linux peer: the host's own Linux running ferrite's core workloads, driven the way a ferrite
 * VM is driven through its control channel (guest-kernel/BOOT.md, "Control channel"). One
 * long-lived process reads command lines on stdin and answers each with exactly one JSON line on
 * stdout (flushed):
 *
 *   (start)                        {"ctl":"ready"}
 *   run WORKLOAD [key=value...]    the workload's result line, or {"error":"..."}
 *   stats                          {"stats":{...}}: this process's own counters (see stats())
 *   sysctl [...]                   {"error":"..."}: the peer has no scheduler tunables
 *   exit [STATUS]                  {"exit":STATUS}, then the process exits with STATUS (0..255, default 0)
 *   anything else                  {"error":"..."}
 *
 * EOF on stdin ends the process with status 0. Blank lines are skipped without an answer (as
 * ferrite does); `\n` and `\r` both end a line; a line longer than 4096 bytes, or holding a
 * NUL byte, is answered with an error and otherwise ignored. Bad input never ends the process.
 *
 * Workloads (pipe.c, hackbench.c, kmalloc.c, pages.c) take ferrite's parameter names and
 * defaults, `key=value` words with decimal or 0x-hex numbers, the last occurrence of a key
 * winning; an unknown key or a value out of range is an error, where ferrite ignores the first
 * and clamps some of the second. Every workload also takes ferrite's `delay_ms=N` (sleep first).
 * Every result has workload, system ("linux-host"), ops, ns_per_op, cpus (CPUs this process may
 * use) and elapsed_ns, then the workload's own fields.
 *
 * Build:
 *   gcc -O2 -Wall -Wextra -pthread -o peer peer.c pipe.c hackbench.c kmalloc.c pages.c
 * or `make -C bench/linux-peer OUT=/path/to/peer`. */
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096
#define PARAMS_MAX 64

int peer_ncpus;
int peer_cpu[2] = {-1, -1};
int peer_default_pipe_size;

int fail(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, ERR_MAX, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- JSON answers ---------------------------------------------------------------------- */

static void put(struct json *j, const char *s, size_t n)
{
    if (j->len + n >= sizeof j->buf) {
        j->overflow = 1;
        return;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = 0;
}

static void putf(struct json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct json *j, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        j->overflow = 1;
    else
        put(j, tmp, (size_t)n);
}

/* A JSON string. Bytes are escaped one by one: quote, backslash, control characters and every
 * byte >= 0x7f as \u00XX, so the line is valid JSON (and ASCII) whatever bytes came in. */
static void put_string(struct json *j, const char *s)
{
    put(j, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            char esc[2] = {'\\', (char)*c};
            put(j, esc, 2);
        } else if (*c < 0x20 || *c >= 0x7f) {
            putf(j, "\\u%04x", *c);
        } else {
            put(j, (const char *)c, 1);
        }
    }
    put(j, "\"", 1);
}

static void key(struct json *j, const char *k)
{
    if (j->fields++)
        put(j, ",", 1);
    put_string(j, k);
    put(j, ":", 1);
}

void json_begin(struct json *j)
{
    j->len = 0;
    j->fields = 0;
    j->overflow = 0;
    put(j, "{", 1);
}

void json_str(struct json *j, const char *k, const char *value)
{
    key(j, k);
    put_string(j, value);
}

void json_u64(struct json *j, const char *k, uint64_t value)
{
    key(j, k);
    putf(j, "%" PRIu64, value);
}

void json_f64(struct json *j, const char *k, double value)
{
    key(j, k);
    putf(j, "%.1f", value);
}

void json_raw(struct json *j, const char *k, const char *value)
{
    key(j, k);
    put(j, value, strlen(value));
}

void json_end(struct json *j)
{
    put(j, "}", 1);
}

void json_header(struct json *j, const char *workload, uint64_t ops, uint64_t elapsed_ns)
{
    json_begin(j);
    json_str(j, "workload", workload);
    json_str(j, "system", "linux-host");
    json_u64(j, "ops", ops);
    json_f64(j, "ns_per_op", (double)elapsed_ns / (double)(ops ? ops : 1));
    json_u64(j, "cpus", (uint64_t)peer_ncpus);
    json_u64(j, "elapsed_ns", elapsed_ns);
}

/* One answer line on stdout, flushed. If the host has gone (stdout closed), nobody can read
 * answers any more: end the process. */
static void answer(const struct json *j)
{
    if (j->overflow) {
        fputs("{\"error\":\"internal: answer longer than 4096 bytes\"}\n", stdout);
    } else {
        fputs(j->buf, stdout);
        fputc('\n', stdout);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "peer: writing the answer failed: %s\n", strerror(errno));
        exit(1);
    }
}

static void answer_error(const char *message)
{
    struct json j;
    json_begin(&j);
    json_str(&j, "error", message);
    json_end(&j);
    answer(&j);
}

/* ---- parameters ------------------------------------------------------------------------ */

struct params {
    struct {
        const char *key, *value;
        int used;
    } v[PARAMS_MAX];
    int n;
    const char *asked[16]; /* the keys the workload looked up, for the unknown-key message */
    int nasked;
};

/* key=value words (separated by spaces or tabs), as bootinfo's Cmdline reads them: the value is
 * everything after the first '='. A word without '=' or with an empty key is an error here. */
static int params_parse(struct params *p, char **words, int nwords, char *err)
{
    p->n = p->nasked = 0;
    for (int i = 0; i < nwords; i++) {
        char *eq = strchr(words[i], '=');
        if (!eq)
            return fail(err, "parameter %.64s: expected key=value", words[i]);
        if (eq == words[i])
            return fail(err, "parameter %.64s: empty key", words[i]);
        if (p->n == PARAMS_MAX)
            return fail(err, "more than %d parameters", PARAMS_MAX);
        *eq = 0;
        p->v[p->n].key = words[i];
        p->v[p->n].value = eq + 1;
        p->v[p->n].used = 0;
        p->n++;
    }
    return 0;
}

/* The value of the last occurrence of key (NULL if absent); marks every occurrence used. */
static const char *param_get(struct params *p, const char *k)
{
    const char *value = NULL;
    if (p->nasked < (int)(sizeof p->asked / sizeof p->asked[0]))
        p->asked[p->nasked++] = k;
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->v[i].key, k) == 0) {
            value = p->v[i].value;
            p->v[i].used = 1;
        }
    return value;
}

/* Ferrite's number syntax (bootinfo cmdline.rs parse_u64, Rust's u64 parsing): decimal, or hex
 * after 0x/0X; an optional '+'; no sign, space or suffix; no overflow. */
static int parse_u64(const char *s, uint64_t *out)
{
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (*s == '+')
        s++;
    if (!*s)
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return -1;
        if (v > (UINT64_MAX - d) / (unsigned)base)
            return -1;
        v = v * (unsigned)base + d;
    }
    *out = v;
    return 0;
}

int param_u64(struct params *p, const char *k, uint64_t dflt, uint64_t min, uint64_t max, uint64_t *out, char *err)
{
    const char *value = param_get(p, k);
    if (!value) {
        *out = dflt;
        return 0;
    }
    if (parse_u64(value, out))
        return fail(err, "%s=%.64s is not a number (decimal or 0x hex, below 2^64)", k, value);
    if (*out < min || *out > max)
        return fail(err, "%s=%.64s is out of range %" PRIu64 "..=%" PRIu64, k, value, min, max);
    return 0;
}

int param_choice(struct params *p, const char *k, const char *const *choices, int dflt, int *out, char *err)
{
    const char *value = param_get(p, k);
    if (!value) {
        *out = dflt;
        return 0;
    }
    for (int i = 0; choices[i]; i++)
        if (strcmp(value, choices[i]) == 0) {
            *out = i;
            return 0;
        }
    char list[128] = "";
    for (int i = 0; choices[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", choices[i]);
    return fail(err, "%s=%.64s: expected one of %s", k, value, list);
}

int params_finish(struct params *p, const char *workload, char *err)
{
    uint64_t delay_ms;
    if (param_u64(p, "delay_ms", 0, 0, 3600000, &delay_ms, err))
        return -1;
    for (int i = 0; i < p->n; i++)
        if (!p->v[i].used) {
            char known[128] = "";
            for (int k = 0; k < p->nasked; k++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", k ? ", " : "", p->asked[k]);
            return fail(err, "unknown parameter %.64s (%s takes %s)", p->v[i].key, workload, known);
        }
    if (delay_ms) {
        struct timespec ts = {(time_t)(delay_ms / 1000), (long)(delay_ms % 1000) * 1000000};
        while (nanosleep(&ts, &ts) && errno == EINTR)
            ;
    }
    return 0;
}

uint64_t process_context_switches(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru))
        return 0;
    return (uint64_t)ru.ru_nvcsw + (uint64_t)ru.ru_nivcsw;
}

/* ---- commands -------------------------------------------------------------------------- */

static const struct {
    const char *name;
    int (*run)(struct params *, struct json *, char *);
} WORKLOADS[] = {
    {"pipe", run_pipe},
    {"hackbench", run_hackbench},
    {"kmalloc", run_kmalloc},
    {"pages", run_pages},
};

/* ferrite's other workloads (workload/mod.rs NAMES): named in the error, so that a typo and a
 * workload the peer deliberately lacks read differently. */
static const char *const FERRITE_ONLY[] = {"disksum", "diskwrite", "diskbench", "rng",   "ping",     "pingd",
                                           "seqread", "randread",  "mixed",     "scanhot", "filewrite", NULL};

static void run(char **words, int nwords)
{
    char err[ERR_MAX];
    if (nwords == 0) {
        answer_error("run: which workload? (pipe, hackbench, kmalloc, pages)");
        return;
    }
    for (size_t i = 0; i < sizeof WORKLOADS / sizeof WORKLOADS[0]; i++) {
        if (strcmp(words[0], WORKLOADS[i].name) != 0)
            continue;
        struct params p;
        struct json out;
        if (params_parse(&p, words + 1, nwords - 1, err) || WORKLOADS[i].run(&p, &out, err)) {
            char message[ERR_MAX + 32];
            snprintf(message, sizeof message, "%s: %s", words[0], err);
            answer_error(message);
        } else {
            answer(&out);
        }
        return;
    }
    char message[ERR_MAX];
    for (int i = 0; FERRITE_ONLY[i]; i++)
        if (strcmp(words[0], FERRITE_ONLY[i]) == 0) {
            snprintf(message, sizeof message,
                     "workload %.64s runs only in ferrite; the Linux peer runs pipe, hackbench, kmalloc, pages",
                     words[0]);
            answer_error(message);
            return;
        }
    snprintf(message, sizeof message, "unknown workload %.64s (pipe, hackbench, kmalloc, pages)", words[0]);
    answer_error(message);
}

/* The number on /proc/self/status line `k` ("VmRSS:\t123 kB" -> 123), or 0. */
static uint64_t proc_status(const char *k)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    uint64_t v = 0;
    size_t n = strlen(k);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, k, n) == 0 && line[n] == ':') {
            v = strtoull(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* What the peer can say honestly about itself; ferrite's `stats` is about the whole kernel, this
 * is about this process only ("scope":"process"). */
static void stats(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    struct json j, inner;
    json_begin(&inner);
    json_str(&inner, "system", "linux-host");
    json_str(&inner, "scope", "process");
    json_u64(&inner, "voluntary_context_switches", (uint64_t)ru.ru_nvcsw);
    json_u64(&inner, "involuntary_context_switches", (uint64_t)ru.ru_nivcsw);
    json_u64(&inner, "minor_faults", (uint64_t)ru.ru_minflt);
    json_u64(&inner, "major_faults", (uint64_t)ru.ru_majflt);
    json_u64(&inner, "threads", proc_status("Threads"));
    json_u64(&inner, "rss_kb", proc_status("VmRSS"));
    json_u64(&inner, "max_rss_kb", (uint64_t)ru.ru_maxrss);
    json_u64(&inner, "vm_size_kb", proc_status("VmSize"));
    json_end(&inner);
    json_begin(&j);
    json_raw(&j, "stats", inner.buf);
    json_end(&j);
    if (inner.overflow)
        j.overflow = 1;
    answer(&j);
}

/* exit [STATUS]: STATUS as ferrite's ctl.rs reads it (Rust's u8 parsing: decimal, optional '+',
 * 0..=255). */
static void exit_command(char **words, int nwords)
{
    uint64_t status = 0;
    int hex = nwords == 1 && words[0][0] == '0' && (words[0][1] == 'x' || words[0][1] == 'X');
    if (nwords > 1 || hex || (nwords == 1 && (parse_u64(words[0], &status) || status > 255))) {
        answer_error("exit: status must be 0..=255");
        return;
    }
    struct json j;
    json_begin(&j);
    json_u64(&j, "exit", status);
    json_end(&j);
    answer(&j);
    exit((int)status);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

/* One non-blank line (NUL-terminated, no line end) -> one answer. */
static void command(char *line)
{
    char *words[PARAMS_MAX + 2];
    int n = 0;
    for (char *s = line; *s;) {
        while (is_space(*s))
            *s++ = 0;
        if (!*s)
            break;
        if (n == PARAMS_MAX + 2) {
            answer_error("too many words on the line");
            return;
        }
        words[n++] = s;
        while (*s && !is_space(*s))
            s++;
    }
    if (strcmp(words[0], "run") == 0) {
        run(words + 1, n - 1);
    } else if (strcmp(words[0], "exit") == 0) {
        exit_command(words + 1, n - 1);
    } else if (strcmp(words[0], "stats") == 0) {
        if (n > 1)
            answer_error("stats takes no arguments");
        else
            stats();
    } else if (strcmp(words[0], "sysctl") == 0) {
        answer_error("sysctl: the Linux peer has no scheduler tunables (ferrite's sysctl sets its CFS "
                     "tunables; the host's are in /proc/sys/kernel and /sys/kernel/debug/sched)");
    } else {
        char message[ERR_MAX];
        snprintf(message, sizeof message, "unknown command %.64s (run, stats, exit; sysctl is ferrite's only)",
                 words[0]);
        answer_error(message);
    }
}

static void setup(void)
{
    /* A closed answer pipe shows up as a failed write (answer() exits), not as a signal; the
     * workloads never write to a pipe whose reader has gone except after a failure. */
    signal(SIGPIPE, SIG_IGN);

    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
            if (CPU_ISSET(cpu, &set)) {
                if (peer_ncpus < 2)
                    peer_cpu[peer_ncpus] = cpu;
                peer_ncpus++;
            }
    } else {
        peer_ncpus = 1;
        peer_cpu[0] = 0;
    }

    int p[2];
    if (pipe(p) == 0) {
        peer_default_pipe_size = fcntl(p[0], F_GETPIPE_SZ);
        close(p[0]);
        close(p[1]);
    }

    /* hackbench holds 20 descriptors per group: allow as many as the hard limit does. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(void)
{
    setup();
    struct json ready;
    json_begin(&ready);
    json_str(&ready, "ctl", "ready");
    json_end(&ready);
    answer(&ready);

    static char line[LINE_MAX_BYTES + 1];
    size_t len = 0;
    int overlong = 0, nul = 0;
    for (;;) {
        int c = getchar();
        if (c != EOF && c != '\n' && c != '\r') {
            if (len < LINE_MAX_BYTES)
                line[len++] = (char)c;
            else
                overlong = 1;
            if (c == 0)
                nul = 1;
            continue;
        }
        line[len] = 0;
        if (overlong) {
            answer_error("line longer than 4096 bytes: ignored");
        } else if (nul) {
            answer_error("line holds a NUL byte: ignored");
        } else {
            char *s = line;
            while (is_space(*s))
                s++;
            if (*s)
                command(s);
        }
        len = 0;
        overlong = nul = 0;
        if (c == EOF)
            return 0;
    }
}
