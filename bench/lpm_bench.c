
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The auth_ip lookup without nginx: builds the IPv4 table of an
 * auth_ip_list file (gen_prefixes.py --authip) with the module's own
 * src/ngx_edge_auth_lpm.c and src/ngx_edge_auth_cidr.c, and times
 * ngx_edge_auth_lpm4_find() in CPU time of this thread (nanoseconds,
 * CLOCK_THREAD_CPUTIME_ID: what other processes on the machine take is
 * not counted, only what they do to the caches):
 *
 *   tput    independent lookups of the addresses in turn: throughput,
 *           the CPU overlaps the cache misses of several lookups;
 *   chain   the next address depends on the last lookup's value: the
 *           latency of one lookup, its misses one after the other;
 *   cold    chain, and after each lookup POLLUTE bytes read of a buffer
 *           16 times as large (a request's own memory, which a worker
 *           reads again for every request: it stays in the caches and
 *           pushes the table out of the nearest), minus the mean of the
 *           same loop without the lookups run just before and after:
 *           what a lookup costs in a busy worker.  POLLUTE 1: a system
 *           call (getppid) instead, which in some VMs empties the TLB.
 *
 * Each for the 1-prefix table (127.0.0.1) and the list's, the list's in
 * 4 KB pages (MADV_NOHUGEPAGE) and in 2 MB pages (MADV_HUGEPAGE), rounds
 * interleaved; printed: median, min and max of the rounds, in ns per
 * lookup, as "RESULT name median min max" lines.
 *
 *   lpm_bench LIST ADDRESSES [LOOKUPS [ROUNDS [POLLUTE [WORK]]]]
 *
 * WORK (bytes, 0: not run): what a prefetch of the slot early in the
 * request (ngx_edge_auth_lpm4_prefetch(), as auth_ip does in the server
 * rewrite phase) saves.  Each iteration makes a system call (getppid: a
 * recv() empties the TLB in some VMs), reads WORK bytes of other memory
 * (nginx's work between the two phases), then looks the address up:
 * "work" without the lookup, "work+find", and "pf+work+find" with the
 * slot prefetched before the work; ns per iteration, a chain as above.
 *
 * ADDRESSES: one address a line (gen_prefixes.py --addresses, addresses
 * the list allows, like the bench's random clients); a quarter of the
 * lookups use uniformly random addresses instead.
 */


#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "ngx_edge_auth_cidr.h"
#include "ngx_edge_auth_lpm.h"


#define HUGE_PAGE   (2 * 1024 * 1024)
#define NADDR       65536               /* a power of two */
#define MAX_ROUNDS  64


typedef struct {
    const char            *name;
    ngx_edge_auth_lpm4_t   lpm;
    size_t                 size;
} table_t;


static uint32_t   addrs[NADDR];
static u_char    *pollution;
static size_t     pollution_size;     /* a power of two */
static size_t     pollute_at;


static double
now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);

    return ts.tv_sec * 1e9 + ts.tv_nsec;
}


static void *
map(size_t size, int huge)
{
    u_char  *p;
    size_t   len;

    len = (size + 2 * HUGE_PAGE - 1) & ~((size_t) HUGE_PAGE - 1);

    p = mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS,
             -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }

    p = (u_char *) (((uintptr_t) p + HUGE_PAGE - 1)
                    & ~((uintptr_t) HUGE_PAGE - 1));

    (void) madvise(p, len - HUGE_PAGE, huge ? MADV_HUGEPAGE
                                            : MADV_NOHUGEPAGE);

    return p;
}


static ngx_edge_auth_lpm4_entry_t *
read_list(const char *path, size_t *n)
{
    FILE                        *f;
    char                         line[256];
    size_t                       len, cap;
    unsigned                     prefix, deny;
    uint32_t                     addr;
    ngx_edge_auth_cidr_t         cidr;
    ngx_edge_auth_lpm4_entry_t  *e;

    f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        exit(1);
    }

    cap = 1024;
    e = malloc(cap * sizeof(*e));
    *n = 0;

    while (fgets(line, sizeof(line), f)) {
        len = strcspn(line, " ;\n");
        if (len == 0) {
            continue;
        }

        deny = strstr(line + len, "deny") != NULL;

        if (ngx_edge_auth_cidr_parse4_fast((u_char *) line, len, &addr,
                                           &prefix)
            != NGX_EDGE_AUTH_CIDR_OK)
        {
            if (ngx_edge_auth_cidr_parse((u_char *) line, len, &cidr)
                != NGX_EDGE_AUTH_CIDR_OK || cidr.family != 4)
            {
                fprintf(stderr, "%s: not an IPv4 prefix: %s", path, line);
                exit(1);
            }

            addr = (uint32_t) cidr.addr[0] << 24 | cidr.addr[1] << 16
                   | cidr.addr[2] << 8 | cidr.addr[3];
            prefix = cidr.prefix;
        }

        if (*n == cap) {
            cap *= 2;
            e = realloc(e, cap * sizeof(*e));
        }

        e[*n].addr = addr;
        e[*n].prefix = (u_char) prefix;
        e[*n].value = NGX_EDGE_AUTH_LPM4_VALUE(prefix, deny);
        (*n)++;
    }

    fclose(f);

    return e;
}


static void
build(table_t *t, const ngx_edge_auth_lpm4_entry_t *e, size_t n, int huge)
{
    void                        *a, *b, *sorted, *mem;
    size_t                       ranges;
    ngx_edge_auth_lpm_part_t     part;

    a = malloc(n * sizeof(*e) + 1);
    b = malloc(n * sizeof(*e) + 1);

    part.elts = e;
    part.n = n;

    /* the module's order; gen_prefixes.py writes no duplicates */
    sorted = ngx_edge_auth_lpm4_sort(&part, 1, a, b, sizeof(*e));

    /* as the module chooses */

    ranges = ngx_edge_auth_lpm4_count(sorted, n, sizeof(*e));

#ifdef NGX_EDGE_AUTH_LPM_SLOTS_MIN
    if (ranges >= NGX_EDGE_AUTH_LPM_SLOTS_MIN) {
        t->size = ngx_edge_auth_lpm4_layout_slots(&t->lpm,
                                 ngx_edge_auth_lpm4_nodes(sorted, n,
                                                          sizeof(*e)));
    } else
#endif
    {
        t->size = ngx_edge_auth_lpm4_layout(&t->lpm, ranges,
                                 ngx_edge_auth_lpm_vbits(
                                     NGX_EDGE_AUTH_LPM4_VALUE(32, 1)),
                                 NGX_EDGE_AUTH_LPM_AUTO);
    }

    mem = map(t->size, huge);
    ngx_edge_auth_lpm4_build(&t->lpm, sorted, n, sizeof(*e), mem);

    free(a);
    free(b);
}


static void
read_addrs(const char *path)
{
    FILE                  *f;
    char                   line[64];
    size_t                 n, len, i;
    ngx_edge_auth_cidr_t   cidr;

    f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        exit(1);
    }

    n = 0;

    while (n < NADDR && fgets(line, sizeof(line), f)) {
        len = strcspn(line, "\n");

        if (len && ngx_edge_auth_cidr_parse((u_char *) line, len, &cidr)
                   == NGX_EDGE_AUTH_CIDR_OK && cidr.family == 4)
        {
            addrs[n++] = (uint32_t) cidr.addr[0] << 24 | cidr.addr[1] << 16
                         | cidr.addr[2] << 8 | cidr.addr[3];
        }
    }

    fclose(f);

    if (n == 0) {
        fprintf(stderr, "%s: no address\n", path);
        exit(1);
    }

    /* repeat the file; every fourth address uniformly random */

    for (i = n; i < NADDR; i++) {
        addrs[i] = addrs[i % n];
    }

    for (i = 3; i < NADDR; i += 4) {
        addrs[i] = (uint32_t) random() << 16 ^ (uint32_t) random();
    }
}


static inline unsigned
pollute(size_t bytes)
{
    size_t     i;
    unsigned   sum;

    sum = 0;

    for (i = 0; i < bytes; i += 64) {
        sum += pollution[pollute_at];
        pollute_at = (pollute_at + 64) & (pollution_size - 1);
    }

    return sum;
}


/* the three loops; each returns ns per lookup */

static double
run_tput(const table_t *t, size_t lookups, unsigned *sink)
{
    size_t    i;
    unsigned  sum;
    double    t0;

    sum = 0;
    t0 = now_ns();

    for (i = 0; i < lookups; i++) {
        sum += ngx_edge_auth_lpm4_find(&t->lpm, addrs[i & (NADDR - 1)]);
    }

    *sink += sum;

    return (now_ns() - t0) / lookups;
}


static double
run_chain(const table_t *t, size_t lookups, size_t polluted,
    unsigned *sink)
{
    size_t    i, j;
    unsigned  sum;
    uint32_t  v;
    double    t0;

    sum = 0;
    j = 0;
    t0 = now_ns();

    for (i = 0; i < lookups; i++) {
        v = t ? ngx_edge_auth_lpm4_find(&t->lpm, addrs[j]) : (uint32_t) i;

        /* the next address needs this value: one lookup at a time */
        j = (j + 1 + (v & 1) * 7) & (NADDR - 1);

        if (polluted == 1) {
            /* a system call, as a request makes several */
            sum += (unsigned) syscall(SYS_getppid);

        } else if (polluted) {
            sum += pollute(polluted);
        }
    }

    *sink += sum + (unsigned) j;

    return (now_ns() - t0) / lookups;
}


/* the prefetch section: a system call, the work, the lookup */

static double
run_overlap(const table_t *t, size_t lookups, size_t work, int prefetch,
    unsigned *sink)
{
    size_t    i, j;
    unsigned  sum;
    uint32_t  v, a;
    double    t0;

    static size_t  run;

    /* each run from elsewhere: not the slots the last run left cached */
    run += 4099;

    sum = 0;
    j = run & (NADDR - 1);
    t0 = now_ns();

    for (i = 0; i < lookups; i++) {
        sum += (unsigned) syscall(SYS_getppid);

        a = addrs[j];

#ifdef NGX_EDGE_AUTH_LPM_PREFETCH
        if (prefetch) {
            ngx_edge_auth_lpm4_prefetch(&t->lpm, a);
        }
#else
        (void) prefetch;
#endif

        sum += pollute(work);

        v = t ? ngx_edge_auth_lpm4_find(&t->lpm, a) : (uint32_t) i;

        j = (j + 1 + (v & 1) * 7) & (NADDR - 1);
    }

    *sink += sum + (unsigned) j;

    return (now_ns() - t0) / lookups;
}


static int
cmp_double(const void *one, const void *two)
{
    double  a = *(const double *) one, b = *(const double *) two;

    return (a > b) - (a < b);
}


static void
report(const char *name, double *x, size_t n)
{
    qsort(x, n, sizeof(double), cmp_double);

    printf("RESULT %-24s %9.1f %9.1f %9.1f\n", name,
           n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2, x[0], x[n - 1]);
}


int
main(int argc, char **argv)
{
    size_t                       n, i, k, r, lookups, rounds, polluted,
                                 work;
    unsigned                     sink;
    double                       base[MAX_ROUNDS], b0, b1;
    double                       res[3][3][MAX_ROUNDS];
    double                       ov[2][3][MAX_ROUNDS], d[2][MAX_ROUNDS];
    char                         name[64];
    table_t                      tables[3];
    ngx_edge_auth_lpm4_entry_t  *e, one;

    if (argc < 3) {
        fprintf(stderr, "usage: lpm_bench LIST ADDRESSES [LOOKUPS [ROUNDS "
                        "[POLLUTE]]]\n");
        return 2;
    }

    lookups = argc > 3 ? strtoul(argv[3], NULL, 10) : 200000;
    rounds = argc > 4 ? strtoul(argv[4], NULL, 10) : 31;
    polluted = argc > 5 ? strtoul(argv[5], NULL, 10) : 32768;
    work = argc > 6 ? strtoul(argv[6], NULL, 10) : 0;

    if (rounds < 1 || rounds > MAX_ROUNDS || lookups < 1000) {
        fprintf(stderr, "lpm_bench: 1 to %d rounds, 1000 lookups or more\n",
                MAX_ROUNDS);
        return 2;
    }

    srandom(1);

    e = read_list(argv[1], &n);
    read_addrs(argv[2]);

    one.addr = 0x7f000001;
    one.prefix = 32;
    one.value = NGX_EDGE_AUTH_LPM4_VALUE(32, 0);

    tables[0].name = "1 prefix";
    build(&tables[0], &one, 1, 0);
    tables[1].name = "list, 4K pages";
    build(&tables[1], e, n, 0);
    tables[2].name = "list, 2M pages";
    build(&tables[2], e, n, 1);

    for (pollution_size = 64;
         pollution_size < 16 * (polluted > work ? polluted : work);
         pollution_size *= 2)
    {
        /* void */
    }

    pollution = map(pollution_size, 0);
    memset(pollution, 1, pollution_size);

    printf("prefixes %zu, ranges %u, index bits %u, key bytes %u%s, "
           "table %zu bytes (%.2f per prefix)\n",
           n, tables[1].lpm.n, tables[1].lpm.bits, tables[1].lpm.kbytes,
#ifdef NGX_EDGE_AUTH_LPM_SLOTS_MIN
           tables[1].lpm.slots ? ", in 128-byte slots" : "",
#else
           "",
#endif
           tables[1].size, (double) tables[1].size / n);
    printf("%zu lookups a run, %zu rounds interleaved, cold: %zu bytes "
           "read between lookups\n", lookups, rounds, polluted);

    sink = 0;

    /* warm up: fault every page in */
    for (k = 0; k < 3; k++) {
        run_tput(&tables[k], lookups, &sink);
    }

    for (r = 0; r < rounds; r++) {
        for (k = 0; k < 3; k++) {
            res[k][0][r] = run_tput(&tables[k], lookups, &sink);
            res[k][1][r] = run_chain(&tables[k], lookups, 0, &sink);
        }

        /* each against the reads alone just before and after it */

        b0 = run_chain(NULL, lookups / 16, polluted, &sink);
        base[r] = b0;

        for (k = 0; k < 3; k++) {
            res[k][2][r] = run_chain(&tables[k], lookups / 16, polluted,
                                     &sink);
            b1 = run_chain(NULL, lookups / 16, polluted, &sink);
            res[k][2][r] -= (b0 + b1) / 2;
            b0 = b1;
        }
    }

    /* the prefetch: the lists' tables, rounds interleaved */

    for (r = 0; work && r < rounds; r++) {
        for (k = 0; k < 2; k++) {
            ov[k][0][r] = run_overlap(NULL, lookups / 16, work, 0, &sink);
            ov[k][1][r] = run_overlap(&tables[k + 1], lookups / 16, work, 0,
                                      &sink);
            ov[k][2][r] = run_overlap(&tables[k + 1], lookups / 16, work, 1,
                                      &sink);
        }
    }

    report("cold baseline (read)", base, rounds);

    for (k = 0; work && k < 2; k++) {
        /* the lookup's share, against the work alone of the same round */

        for (r = 0; r < rounds; r++) {
            d[0][r] = ov[k][1][r] - ov[k][0][r];
            d[1][r] = ov[k][2][r] - ov[k][0][r];
        }

        for (i = 0; i < 3; i++) {
            snprintf(name, sizeof(name), "%s %s",
                     i == 0 ? "work" : i == 1 ? "work+find" : "pf+work+find",
                     k == 0 ? "4k" : "2m");
            report(name, ov[k][i], rounds);
        }

        snprintf(name, sizeof(name), "find after work %s",
                 k == 0 ? "4k" : "2m");
        report(name, d[0], rounds);
        snprintf(name, sizeof(name), "find, prefetched %s",
                 k == 0 ? "4k" : "2m");
        report(name, d[1], rounds);
    }

    for (k = 0; k < 3; k++) {
        for (i = 0; i < 3; i++) {
            snprintf(name, sizeof(name), "%s %s",
                     i == 0 ? "tput" : i == 1 ? "chain" : "cold",
                     k == 0 ? "1" : k == 1 ? "4k" : "2m");
            report(name, res[k][i], rounds);
        }
    }

    /* the optimiser must not drop the lookups */
    fprintf(stderr, "(%u)\n", sink);

    return 0;
}
