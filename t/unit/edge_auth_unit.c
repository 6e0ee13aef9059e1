
/*
 * Unit tests, printing TAP, for the pure C parts: the strict address
 * parser and the longest-prefix table, checked against a brute-force scan.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_edge_auth_cidr.h"
#include "ngx_edge_auth_lpm.h"


static int  test_no;
static int  failed;


static void
ok(int cond, const char *fmt, const char *arg)
{
    test_no++;

    if (!cond) {
        failed++;
    }

    printf("%s %d - ", cond ? "ok" : "not ok", test_no);
    printf(fmt, arg);
    printf("\n");
}


typedef struct {
    const char               *text;
    ngx_edge_auth_cidr_rc_e   rc;
    const char               *canonical;
} parse_case_t;


static const parse_case_t  parse_cases[] = {
    { "10.0.0.0/8", NGX_EDGE_AUTH_CIDR_OK, "10.0.0.0/8" },
    { "255.255.255.255", NGX_EDGE_AUTH_CIDR_OK, "255.255.255.255/32" },
    { "0.0.0.0/0", NGX_EDGE_AUTH_CIDR_OK, "0.0.0.0/0" },
    { "::/0", NGX_EDGE_AUTH_CIDR_OK, "::/0" },
    { "2001:db8::/32", NGX_EDGE_AUTH_CIDR_OK, "2001:db8::/32" },
    { "2001:0db8:0000::1", NGX_EDGE_AUTH_CIDR_OK, "2001:db8::1/128" },
    { "::ffff:10.1.2.3", NGX_EDGE_AUTH_CIDR_OK, "10.1.2.3/32" },
    { "::ffff:10.1.0.0/112", NGX_EDGE_AUTH_CIDR_OK, "10.1.0.0/16" },
    { "1.2.3.4/32", NGX_EDGE_AUTH_CIDR_OK, "1.2.3.4/32" },
    { "0.0.0.0", NGX_EDGE_AUTH_CIDR_OK, "0.0.0.0/32" },
    { "256.1.1.1", NGX_EDGE_AUTH_CIDR_OCTET_RANGE, NULL },
    { "1..2.3", NGX_EDGE_AUTH_CIDR_EMPTY_OCTET, NULL },
    { ".1.2.3", NGX_EDGE_AUTH_CIDR_EMPTY_OCTET, NULL },
    { "1.2.3.", NGX_EDGE_AUTH_CIDR_EMPTY_OCTET, NULL },
    { "1.2.3", NGX_EDGE_AUTH_CIDR_OCTET_COUNT, NULL },
    { "1.2.3.4.5", NGX_EDGE_AUTH_CIDR_OCTET_COUNT, NULL },
    { "010.1.1.1", NGX_EDGE_AUTH_CIDR_LEADING_ZERO, NULL },
    { "10.00.1.1", NGX_EDGE_AUTH_CIDR_LEADING_ZERO, NULL },
    { "1.2.3.4a", NGX_EDGE_AUTH_CIDR_BAD_CHAR, NULL },
    { "1.2.3.-4", NGX_EDGE_AUTH_CIDR_BAD_CHAR, NULL },
    { "10.0.0.0/33", NGX_EDGE_AUTH_CIDR_PREFIX_RANGE, NULL },
    { "10.0.0.0/08", NGX_EDGE_AUTH_CIDR_PREFIX_ZERO, NULL },
    { "10.0.0.0/", NGX_EDGE_AUTH_CIDR_EMPTY_PREFIX, NULL },
    { "10.0.0.0/8x", NGX_EDGE_AUTH_CIDR_BAD_PREFIX, NULL },
    { "10.0.0.0/-8", NGX_EDGE_AUTH_CIDR_BAD_PREFIX, NULL },
    { "10.0.0.0/1000", NGX_EDGE_AUTH_CIDR_PREFIX_RANGE, NULL },
    { "2001:db8::/129", NGX_EDGE_AUTH_CIDR_PREFIX_RANGE, NULL },
    { "2001:db8:::1", NGX_EDGE_AUTH_CIDR_BAD_IPV6, NULL },
    { "fe80::1%eth0", NGX_EDGE_AUTH_CIDR_BAD_IPV6, NULL },
    { "::ffff:1.2.3.4/80", NGX_EDGE_AUTH_CIDR_MAPPED_PREFIX, NULL },
    { "/8", NGX_EDGE_AUTH_CIDR_EMPTY, NULL },
    { "", NGX_EDGE_AUTH_CIDR_EMPTY, NULL },
    { "192.168.1.5/24", NGX_EDGE_AUTH_CIDR_HOST_BITS, "192.168.1.0/24" },
    { "2001:db8::1/32", NGX_EDGE_AUTH_CIDR_HOST_BITS, "2001:db8::/32" },
};


/*
 * The fast IPv4 path takes every IPv4 case that the full parser accepts
 * and gives the same address; everything else it leaves to the full one.
 */

static void
test_parse4_fast(void)
{
    size_t                   i;
    unsigned                 prefix, fast_ok, want_fast;
    uint32_t                 addr, full;
    char                     name[128];
    const char              *t;
    ngx_edge_auth_cidr_t     cidr;
    ngx_edge_auth_cidr_rc_e  rc;

    for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        t = parse_cases[i].text;

        fast_ok = ngx_edge_auth_cidr_parse4_fast((u_char *) t, strlen(t),
                                                 &addr, &prefix)
                  == NGX_EDGE_AUTH_CIDR_OK;

        rc = ngx_edge_auth_cidr_parse((u_char *) t, strlen(t), &cidr);

        full = ((uint32_t) cidr.addr[0] << 24)
               | ((uint32_t) cidr.addr[1] << 16)
               | ((uint32_t) cidr.addr[2] << 8) | cidr.addr[3];

        /* IPv4 text the full parser accepts: digits, dots and a slash */
        want_fast = rc == NGX_EDGE_AUTH_CIDR_OK && strchr(t, ':') == NULL;

        snprintf(name, sizeof(name), "fast IPv4 parse \"%s\": %s", t,
                 fast_ok ? "taken" : "left to the full parser");
        ok(fast_ok == want_fast
           && (!fast_ok || (addr == full && prefix == cidr.prefix)),
           "%s", name);
    }
}


static void
test_parse(void)
{
    size_t                   i, n;
    u_char                   buf[NGX_EDGE_AUTH_CIDR_TEXT_LEN + 1];
    char                     name[128];
    ngx_edge_auth_cidr_t     cidr;
    ngx_edge_auth_cidr_rc_e  rc;

    for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        rc = ngx_edge_auth_cidr_parse((u_char *) parse_cases[i].text,
                                      strlen(parse_cases[i].text), &cidr);

        snprintf(name, sizeof(name), "parse \"%s\": %s",
                 parse_cases[i].text, ngx_edge_auth_cidr_strerror(rc));
        ok(rc == parse_cases[i].rc, "%s", name);

        if (parse_cases[i].canonical) {
            n = ngx_edge_auth_cidr_format(&cidr, buf, sizeof(buf));
            buf[n] = '\0';
            snprintf(name, sizeof(name), "\"%s\" is %s", parse_cases[i].text,
                     (char *) buf);
            ok(strcmp((char *) buf, parse_cases[i].canonical) == 0, "%s",
               name);
        }
    }
}



/*
 * brute force: the value of the longest covering entry, 0 if none.  The
 * brute force is the reference, not the code under test: it runs without
 * the sanitizers (NAIVE), which checked each of its bit operations and
 * took three quarters of this test's CPU; the module's code keeps them.
 */

#if defined(__GNUC__) || defined(__clang__)
#define NAIVE  __attribute__((no_sanitize("address", "undefined")))
#else
#define NAIVE
#endif

static uint32_t NAIVE
naive4(const ngx_edge_auth_lpm4_entry_t *e, size_t n, uint32_t addr)
{
    int       best;
    size_t    i;
    uint32_t  v, mask;

    best = -1;
    v = 0;

    for (i = 0; i < n; i++) {
        mask = e[i].prefix ? 0xffffffff << (32 - e[i].prefix) : 0;

        if ((addr & mask) == e[i].addr && (int) e[i].prefix > best) {
            best = e[i].prefix;
            v = e[i].value;
        }
    }

    return v;
}


static uint32_t NAIVE
naive6(const ngx_edge_auth_lpm6_entry_t *e, size_t n, const u_char *addr)
{
    int       best;
    size_t    i, b;
    uint32_t  v;

    best = -1;
    v = 0;

    for (i = 0; i < n; i++) {
        for (b = 0; b < e[i].prefix; b++) {
            if (((addr[b / 8] ^ e[i].addr[b / 8]) >> (7 - b % 8)) & 1) {
                break;
            }
        }

        if (b == e[i].prefix && (int) b > best) {
            best = (int) b;
            v = e[i].value;
        }
    }

    return v;
}


static int
cmp4(const void *one, const void *two)
{
    const ngx_edge_auth_lpm4_entry_t  *a = one, *b = two;

    if (a->addr != b->addr) {
        return a->addr < b->addr ? -1 : 1;
    }

    return (int) a->prefix - (int) b->prefix;
}


/* sorts (the module's radix sort) and drops duplicates, as the module */

static size_t
prepare4(ngx_edge_auth_lpm4_entry_t *e, size_t n)
{
    size_t                       i, k;
    ngx_edge_auth_lpm_part_t     parts[3];
    ngx_edge_auth_lpm4_entry_t  *a, *b, *s;

    /* in parts of uneven sizes, as the module's list blocks */

    parts[0].elts = e;
    parts[0].n = n / 3;
    parts[1].elts = e + n / 3;
    parts[1].n = 0;
    parts[2].elts = e + n / 3;
    parts[2].n = n - n / 3;

    a = malloc((n + 1) * sizeof(*a));
    b = malloc((n + 1) * sizeof(*b));
    s = ngx_edge_auth_lpm4_sort(parts, 3, a, b, sizeof(*e));

    k = 0;

    for (i = 0; i < n; i++) {
        if (k && s[i].addr == e[k - 1].addr && s[i].prefix == e[k - 1].prefix)
        {
            continue;
        }

        e[k++] = s[i];
    }

    free(a);
    free(b);

    return k;
}


static uint32_t  probes4[1 << 16];


/*
 * Builds the table with the given index bits and compares it with the
 * brute force on every entry's first and last address and their
 * neighbours, the first and last address of index buckets, and random
 * addresses.  Returns the number of mismatches.
 */

static size_t
check4(const ngx_edge_auth_lpm4_entry_t *e, size_t n, unsigned vbits,
    int bits, const char **why)
{
    void                  *mem;
    size_t                 i, np, bad, size;
    uint32_t               a, last, got, want, step;
    ngx_edge_auth_lpm4_t   lpm;

    size = ngx_edge_auth_lpm4_layout(&lpm,
                                     ngx_edge_auth_lpm4_count(e, n, sizeof(*e)),
                                     vbits, bits);
    mem = malloc(size + 1);
    ngx_edge_auth_lpm4_build(&lpm, e, n, sizeof(*e), mem);

    np = 0;
    probes4[np++] = 0;
    probes4[np++] = 1;
    probes4[np++] = 0xffffffff;
    probes4[np++] = 0xfffffffe;

    for (i = 0; i < n && np < (1 << 16) - 8; i++) {
        a = e[i].addr;
        last = a | (uint32_t) (0xffffffffULL >> e[i].prefix);
        probes4[np++] = a - 1;
        probes4[np++] = a;
        probes4[np++] = a + 1;
        probes4[np++] = last - 1;
        probes4[np++] = last;
        probes4[np++] = last + 1;
    }

    if (lpm.bits) {
        step = (uint32_t) 1 << (32 - lpm.bits);

        for (a = 0, i = 0; i < 512 && np < (1 << 16) - 3; i++) {
            probes4[np++] = a;
            probes4[np++] = a - 1;
            probes4[np++] = a + step - 1;
            a += step * (uint32_t) (1 + rand() % 5);
        }
    }

    while (np < (1 << 16) - 1 && np < 4 * n + 2000) {
        probes4[np++] = ((uint32_t) rand() << 16) ^ (uint32_t) rand();
    }

    bad = 0;

    for (i = 0; i < np; i++) {
        got = ngx_edge_auth_lpm4_find(&lpm, probes4[i]);
        want = naive4(e, n, probes4[i]);

        if (got != want) {
            if (bad++ == 0) {
                printf("# bits %d: %u.%u.%u.%u: got %u, want %u\n",
                       (int) lpm.bits, probes4[i] >> 24,
                       (probes4[i] >> 16) & 255, (probes4[i] >> 8) & 255,
                       probes4[i] & 255, got, want);
            }
        }
    }

    if (lpm.n > 2 * n + 1) {
        *why = "more than 2n + 1 ranges";
        bad++;
    }

    free(mem);

    return bad;
}


/* the index sizes to try: none, small, key widths 4, 3 and 2 bytes */

static const int  bits_cases[] = {
    NGX_EDGE_AUTH_LPM_AUTO, 0, 1, 4, 7, 8, 9, 12, 15, 16
};

#define NBITS  (sizeof(bits_cases) / sizeof(bits_cases[0]))


static void
edge4(const char *name, ngx_edge_auth_lpm4_entry_t *e, size_t n)
{
    size_t       b, bad;
    char         label[160];
    const char  *why;

    n = prepare4(e, n);

    for (b = 0; b < NBITS; b++) {
        why = "";
        bad = check4(e, n, 8, bits_cases[b], &why);

        snprintf(label, sizeof(label), "%s, index bits %d%s", name,
                 bits_cases[b], why);
        ok(bad == 0, "IPv4 table: %s", label);
    }
}


/* v: 1 allow, 2 deny, encoded with the prefix length as the module does */
#define E4(a, b, c, d, p, v)                                                 \
    { ((uint32_t) (a) << 24) | ((uint32_t) (b) << 16) | ((c) << 8) | (d),   \
      NGX_EDGE_AUTH_LPM4_VALUE(p, (v) - 1), (p) }


static void
test_edges4(void)
{
    ngx_edge_auth_lpm4_entry_t  one[] = { E4(10, 1, 2, 3, 32, 1) };
    ngx_edge_auth_lpm4_entry_t  all[] = { E4(0, 0, 0, 0, 0, 2) };
    ngx_edge_auth_lpm4_entry_t  first[] = { E4(0, 0, 0, 0, 32, 1) };
    ngx_edge_auth_lpm4_entry_t  last[] = { E4(255, 255, 255, 255, 32, 1) };
    ngx_edge_auth_lpm4_entry_t  ends[] = {
        E4(0, 0, 0, 0, 32, 2), E4(255, 255, 255, 255, 32, 2),
        E4(0, 0, 0, 0, 0, 1)
    };
    ngx_edge_auth_lpm4_entry_t  adjacent[] = {
        E4(10, 0, 0, 0, 24, 1), E4(10, 0, 1, 0, 24, 2),
        E4(10, 0, 2, 0, 23, 1), E4(10, 0, 4, 0, 32, 1),
        E4(10, 0, 4, 1, 32, 2), E4(10, 0, 4, 2, 31, 1)
    };
    ngx_edge_auth_lpm4_entry_t  nested[] = {
        E4(10, 0, 0, 0, 8, 1), E4(10, 1, 0, 0, 16, 2),
        E4(10, 1, 1, 0, 24, 1), E4(10, 1, 1, 1, 32, 2),
        E4(10, 1, 1, 0, 32, 2), E4(10, 1, 1, 255, 32, 2),
        E4(10, 255, 255, 255, 32, 2), E4(10, 0, 0, 0, 32, 2),
        E4(0, 0, 0, 0, 0, 2)
    };
    ngx_edge_auth_lpm4_entry_t  same_end[] = {
        /* nested prefixes ending together, in nothing else */
        E4(147, 146, 0, 0, 15, 1), E4(147, 147, 0, 0, 16, 2),
        E4(10, 0, 0, 0, 8, 1), E4(10, 255, 0, 0, 16, 2),
        E4(10, 255, 255, 0, 24, 1), E4(10, 255, 255, 255, 32, 2)
    };
    ngx_edge_auth_lpm4_entry_t  buckets[] = {
        /* on /16, /8 and /1 bucket edges, and across many buckets */
        E4(1, 2, 0, 0, 16, 1), E4(1, 1, 255, 255, 32, 2),
        E4(1, 3, 0, 0, 32, 2), E4(2, 0, 0, 0, 8, 1),
        E4(2, 200, 0, 0, 32, 2), E4(127, 255, 255, 255, 32, 2),
        E4(128, 0, 0, 0, 32, 1), E4(128, 0, 0, 0, 1, 2),
        E4(254, 0, 0, 0, 7, 1), E4(255, 255, 0, 0, 16, 2)
    };

    edge4("a list of one /32", one, 1);
    edge4("0.0.0.0/0", all, 1);
    edge4("0.0.0.0/32, the first address", first, 1);
    edge4("255.255.255.255/32, the last address", last, 1);
    edge4("first and last /32 inside /0", ends, 3);
    edge4("adjacent ranges", adjacent, 6);
    edge4("nested prefixes", nested, 9);
    edge4("nested prefixes ending together", same_end, 6);
    edge4("index bucket edges", buckets, 10);
}


static void
random4(ngx_edge_auth_lpm4_entry_t *e, size_t count, unsigned clusters)
{
    size_t    i;
    unsigned  p;

    for (i = 0; i < count; i++) {
        /* few distinct leading bits, so that prefixes nest and touch */
        e[i].addr = ((uint32_t) (rand() % clusters) << 24)
                    | ((uint32_t) (rand() % 4 ? rand() % 3 : rand() % 256)
                       << 16)
                    | ((uint32_t) (rand() % 4 ? rand() % 3 : rand() % 256)
                       << 8)
                    | (uint32_t) (rand() % 2 ? rand() % 3 : rand() % 256);
        p = (rand() % 3) ? 16 + rand() % 17 : rand() % 33;
        e[i].prefix = (u_char) p;
        e[i].addr &= p ? 0xffffffff << (32 - p) : 0;
        e[i].value = 0;
    }
}


static void
test_random4(void)
{
    int                          ok_all;
    size_t                       b, i, n, count, bad;
    unsigned                     seed, vbits;
    char                         label[120];
    const char                  *why;
    ngx_edge_auth_lpm4_entry_t  *e;

    for (seed = 1; seed <= 12; seed++) {
        srand(seed);

        count = 1 + seed * seed * 10;
        e = calloc(count, sizeof(*e));
        random4(e, count, seed % 3 ? 3 : 256);

        n = prepare4(e, count);

        /* values: the prefix length and allow/deny, as in the module */

        vbits = (seed % 2) ? 8 : 16;

        for (i = 0; i < n; i++) {
            e[i].value = NGX_EDGE_AUTH_LPM4_VALUE(e[i].prefix,
                                                  (uint32_t) (rand() % 2));
        }

        ok_all = 1;
        why = "";

        for (b = 0; b < NBITS; b++) {
            bad = check4(e, n, vbits, bits_cases[b], &why);
            ok_all = ok_all && bad == 0;
        }

        snprintf(label, sizeof(label), "seed %u, %zu prefixes, %u-bit "
                 "values, all index sizes%s", seed, n, vbits, why);
        ok(ok_all, "IPv4 table matches brute force, %s", label);

        free(e);
    }
}


static void
test_sort4(void)
{
    int                          good;
    size_t                       i, n;
    ngx_edge_auth_lpm_part_t     part;
    ngx_edge_auth_lpm4_entry_t  *e, *tmp, *tmp2, *want, *got;

    n = 5000;
    srand(7);

    e = calloc(n, sizeof(*e));
    tmp = calloc(n, sizeof(*e));
    tmp2 = calloc(n, sizeof(*e));
    want = calloc(n, sizeof(*e));

    random4(e, n, 4);

    /* the value numbers the records: equal ones must keep their order */
    for (i = 0; i < n; i++) {
        e[i].value = (uint32_t) i;
        want[i] = e[i];
    }

    /* insertion sort: stable, and obviously right */
    for (i = 1; i < n; i++) {
        ngx_edge_auth_lpm4_entry_t  x = want[i];
        size_t                      j = i;

        while (j > 0 && cmp4(&want[j - 1], &x) > 0) {
            want[j] = want[j - 1];
            j--;
        }

        want[j] = x;
    }

    part.elts = e;
    part.n = n;
    got = ngx_edge_auth_lpm4_sort(&part, 1, tmp, tmp2, sizeof(*e));

    good = 1;

    for (i = 0; i < n; i++) {
        good = good && got[i].addr == want[i].addr
               && got[i].prefix == want[i].prefix
               && got[i].value == want[i].value;
    }

    ok(good, "radix sort: by address, then prefix, stable%s", "");

    free(e);
    free(tmp);
    free(tmp2);
    free(want);
}


static void
random6(ngx_edge_auth_lpm6_entry_t *e, unsigned clusters)
{
    unsigned  i;

    memset(e, 0, sizeof(*e));

    e->addr[0] = (u_char) (rand() % clusters);

    for (i = 1; i < 16; i++) {
        e->addr[i] = (u_char) ((rand() % 4 == 0) ? rand() : (rand() % 3));
    }

    e->prefix = (u_char) (rand() % 129);

    for (i = e->prefix; i < 128; i++) {
        e->addr[i / 8] &= (u_char) ~(0x80 >> (i % 8));
    }
}


static int
run_random6(size_t count, unsigned seed, unsigned vbits)
{
    int                          rc;
    void                        *mem;
    size_t                       i, j, n, nr, b;
    u_char                       addr[16];
    uint32_t                     got, want;
    ngx_edge_auth_lpm6_t         lpm;
    ngx_edge_auth_lpm6_entry_t  *e;

    srand(seed);

    e = calloc(count + 1, sizeof(*e));

    for (i = 0; i < count; i++) {
        random6(&e[i], 3);
    }

    qsort(e, count, sizeof(*e), ngx_edge_auth_lpm6_cmp);

    n = 0;

    for (i = 0; i < count; i++) {
        if (n && ngx_edge_auth_lpm6_cmp(&e[n - 1], &e[i]) == 0) {
            continue;
        }

        e[n++] = e[i];
    }

    for (i = 0; i < n; i++) {
        e[i].value = (vbits == 2) ? (uint32_t) (1 + rand() % 2) : (uint32_t) i + 1;
    }

    nr = ngx_edge_auth_lpm6_count(e, n, sizeof(*e));
    mem = malloc(ngx_edge_auth_lpm6_layout(&lpm, nr, vbits) + 1);
    ngx_edge_auth_lpm6_build(&lpm, e, n, sizeof(*e), mem);

    rc = (nr <= 2 * n + 1);

    for (j = 0; j < 20000; j++) {
        memset(addr, 0, sizeof(addr));

        if (j % 2 && n) {
            /* an entry's first or last address, or one beyond */
            i = (size_t) rand() % n;
            memcpy(addr, e[i].addr, 16);

            if (rand() % 2) {
                for (b = e[i].prefix; b < 128; b++) {
                    addr[b / 8] |= (u_char) (0x80 >> (b % 8));
                }

                if (rand() % 2) {
                    for (b = 16; b-- > 0 && ++addr[b] == 0; ) {
                        /* void */
                    }
                }
            }

        } else {
            addr[0] = (u_char) (rand() % 4);

            for (i = 1; i < 16; i++) {
                addr[i] = (u_char) ((rand() % 4 == 0) ? rand() : rand() % 3);
            }
        }

        want = naive6(e, n, addr);
        got = ngx_edge_auth_lpm6_find(&lpm, addr);

        if (got != want) {
            printf("# mismatch: got %u want %u\n", got, want);
            rc = 0;
            break;
        }
    }

    free(e);
    free(mem);

    return rc;
}


static void
test_vbits(void)
{
    ok(ngx_edge_auth_lpm_vbits(0) == 1 && ngx_edge_auth_lpm_vbits(1) == 1
       && ngx_edge_auth_lpm_vbits(2) == 2 && ngx_edge_auth_lpm_vbits(3) == 2
       && ngx_edge_auth_lpm_vbits(4) == 4 && ngx_edge_auth_lpm_vbits(255) == 8
       && ngx_edge_auth_lpm_vbits(256) == 16
       && ngx_edge_auth_lpm_vbits(65536) == 32
       && ngx_edge_auth_lpm_vbits(0xffffffff) == 32,
       "value widths: 1, 2, 4, 8, 16, 32 bits%s", "");
}


static void
test_layout(void)
{
    ngx_edge_auth_lpm4_t  lpm;

    /* a small list: no index; a large one: the /16 and 2-byte keys */

    (void) ngx_edge_auth_lpm4_layout(&lpm, 10, 2, NGX_EDGE_AUTH_LPM_AUTO);
    ok(lpm.bits == 0 && lpm.kbytes == 4, "10 ranges: no index%s", "");

    (void) ngx_edge_auth_lpm4_layout(&lpm, 20000, 2, NGX_EDGE_AUTH_LPM_AUTO);
    ok(lpm.bits >= 8 && lpm.bits < 16 && lpm.kbytes == 3,
       "20,000 ranges: a small index and 3-byte keys%s", "");

    (void) ngx_edge_auth_lpm4_layout(&lpm, 2000000, 2,
                                     NGX_EDGE_AUTH_LPM_AUTO);
    ok(lpm.bits == 16 && lpm.kbytes == 2,
       "2,000,000 ranges: a /16 index and 2-byte keys%s", "");
}


/*
 * Prefixes that nest in no other need one range each, not two (no range
 * for the end): 1,000 /24s apart, and the same with a /16 around each
 * tenth, whose ends (another prefix resumes) are stored.
 */

static void
test_ranges(void)
{
    void                        *mem;
    size_t                       i, n, len;
    ngx_edge_auth_lpm4_t         lpm;
    ngx_edge_auth_lpm4_entry_t  *e;

    e = calloc(1100, sizeof(*e));

    for (i = 0; i < 1000; i++) {
        e[i].addr = (uint32_t) (10 + i / 200) << 24 | (uint32_t) i << 10;
        e[i].prefix = 24;
        e[i].value = NGX_EDGE_AUTH_LPM4_VALUE(24, i % 2);
    }

    len = ngx_edge_auth_lpm4_layout(&lpm, ngx_edge_auth_lpm4_count(e, 1000,
                                                                  sizeof(*e)),
                                    8, NGX_EDGE_AUTH_LPM_AUTO);
    mem = malloc(len);
    ngx_edge_auth_lpm4_build(&lpm, e, 1000, sizeof(*e), mem);

    ok(lpm.n <= 1001, "1,000 prefixes that nest in no other: one range "
       "each%s", "");

    free(mem);

    /* a /16 before every tenth /24, sorted: it comes first */

    n = 0;

    for (i = 0; i < 1000; i++) {
        if (i % 10 == 0) {
            e[n].addr = ((uint32_t) (10 + i / 200) << 24 | (uint32_t) i << 10)
                        & 0xffff0000;
            e[n].prefix = 16;
            e[n].value = NGX_EDGE_AUTH_LPM4_VALUE(16, 0);

            if (n == 0 || e[n - 1].addr != e[n].addr
                || e[n - 1].prefix != 16)
            {
                n++;
            }
        }

        e[n].addr = (uint32_t) (10 + i / 200) << 24 | (uint32_t) i << 10;
        e[n].prefix = 24;
        e[n].value = NGX_EDGE_AUTH_LPM4_VALUE(24, i % 2);
        n++;
    }

    n = prepare4(e, n);

    ok(check4(e, n, 8, NGX_EDGE_AUTH_LPM_AUTO, &(const char *) { "" }) == 0,
       "... and with /16s around some: the table matches brute "
       "force%s", "");

    free(e);
}


/*
 * The slots (ngx_edge_auth_lpm4_layout_slots()), which the module takes
 * for lists of NGX_EDGE_AUTH_LPM_SLOTS_MIN ranges or more.  Two
 * references: the /16 index layout (tested above against brute force)
 * for every probe, and a longest-prefix search that looks up the
 * address's prefix of each length among the sorted prefixes
 * (naive_sorted4()) for a share of them.
 */

static uint32_t  slots_rng;


/* xorshift32: the same tables on every libc */

static uint32_t
slots_rand(void)
{
    slots_rng ^= slots_rng << 13;
    slots_rng ^= slots_rng >> 17;
    slots_rng ^= slots_rng << 5;

    return slots_rng;
}


/* the longest prefix of addr among e (sorted, no duplicates): 33 lookups */

static uint32_t NAIVE
naive_sorted4(const ngx_edge_auth_lpm4_entry_t *e, size_t n, uint32_t addr)
{
    int       p;
    size_t    lo, hi, mid;
    uint32_t  key;

    for (p = 32; p >= 0; p--) {
        key = p ? addr & (0xffffffff << (32 - p)) : 0;
        lo = 0;
        hi = n;

        while (lo < hi) {
            mid = lo + (hi - lo) / 2;

            if (e[mid].addr < key
                || (e[mid].addr == key && e[mid].prefix < p))
            {
                lo = mid + 1;

            } else {
                hi = mid;
            }
        }

        if (lo < n && e[lo].addr == key && e[lo].prefix == p) {
            return e[lo].value;
        }
    }

    return 0;
}


typedef struct {
    ngx_edge_auth_lpm4_t   slots;
    ngx_edge_auth_lpm4_t   index;
    void                  *slots_mem;
    void                  *index_mem;
    size_t                 nodes;
    size_t                 ranges;
    size_t                 probes;
    size_t                 bad;
    const ngx_edge_auth_lpm4_entry_t  *e;
    size_t                 n;
} slots_case_t;


static void
slots_build(slots_case_t *sc, const ngx_edge_auth_lpm4_entry_t *e, size_t n)
{
    size_t  len;

    memset(sc, 0, sizeof(slots_case_t));
    sc->e = e;
    sc->n = n;

    sc->nodes = ngx_edge_auth_lpm4_nodes(e, n, sizeof(*e));
    len = ngx_edge_auth_lpm4_layout_slots(&sc->slots, sc->nodes);
    sc->slots_mem = malloc(len);
    ngx_edge_auth_lpm4_build(&sc->slots, e, n, sizeof(*e), sc->slots_mem);

    sc->ranges = ngx_edge_auth_lpm4_count(e, n, sizeof(*e));
    len = ngx_edge_auth_lpm4_layout(&sc->index, sc->ranges, 8, 16);
    sc->index_mem = malloc(len + 1);
    ngx_edge_auth_lpm4_build(&sc->index, e, n, sizeof(*e), sc->index_mem);
}


/* naive: check this probe against the sorted search too */

static void
slots_probe(slots_case_t *sc, uint32_t addr, int naive)
{
    uint32_t  got, want;

    got = ngx_edge_auth_lpm4_find(&sc->slots, addr);
    want = ngx_edge_auth_lpm4_find(&sc->index, addr);

    if (naive && got == want) {
        want = naive_sorted4(sc->e, sc->n, addr);
    }

    sc->probes++;

    if (got != want && sc->bad++ < 3) {
        printf("# slots: %u.%u.%u.%u: got %u, want %u\n", addr >> 24,
               (addr >> 16) & 255, (addr >> 8) & 255, addr & 255, got, want);
    }
}


/* the first and last address of each /16, 0.0.0.0 and 255.255.255.255 */

static void
slots_probe_buckets(slots_case_t *sc)
{
    uint32_t  b;

    for (b = 0; b < 65536; b++) {
        slots_probe(sc, b << 16, (b & 63) == 0);
        slots_probe(sc, b << 16 | 0xffff, (b & 63) == 1);
    }

    slots_probe(sc, 0, 1);
    slots_probe(sc, 0xffffffff, 1);
}


/* the first and last address of prefix i, and their neighbours */

static void
slots_probe_prefix(slots_case_t *sc, size_t i, int naive)
{
    uint32_t  a, last;

    a = sc->e[i].addr;
    last = a | (uint32_t) (0xffffffffULL >> sc->e[i].prefix);

    slots_probe(sc, a - 1, naive);
    slots_probe(sc, a, naive);
    slots_probe(sc, last, naive);
    slots_probe(sc, last + 1, naive);
}


static void
slots_free(slots_case_t *sc)
{
    free(sc->slots_mem);
    free(sc->index_mem);
}


static void
slots_values(ngx_edge_auth_lpm4_entry_t *e, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        e[i].value = NGX_EDGE_AUTH_LPM4_VALUE(e[i].prefix,
                                              slots_rand() % 2);
    }
}


static void
test_slots_random(void)
{
    size_t                       i, n, count;
    uint32_t                     r;
    unsigned                     p;
    char                         label[160];
    slots_case_t                 sc;
    ngx_edge_auth_lpm4_entry_t  *e;

    /* as a large blocklist: mostly /32s and /24s, some shorter around */

    count = 1100000;
    slots_rng = 2463534242u;
    e = calloc(count, sizeof(*e));

    for (i = 0; i < count; i++) {
        r = slots_rand();
        p = r % 100;
        p = p < 55 ? 32 : p < 75 ? 24 : p < 90 ? 25 + r % 7
            : p < 98 ? 16 + r % 8 : r % 16;
        e[i].prefix = (u_char) p;
        e[i].addr = slots_rand() & (p ? 0xffffffff << (32 - p) : 0);
    }

    n = prepare4(e, count);
    slots_values(e, n);

    slots_build(&sc, e, n);

    /* every /16 edge, every prefix's edges, random addresses */

    slots_probe_buckets(&sc);

    for (i = 0; i < n; i++) {
        slots_probe_prefix(&sc, i, (i & 63) == 0);
    }

    for (i = 0; i < 100000; i++) {
        slots_probe(&sc, slots_rand(), (i & 7) == 0);
    }

    snprintf(label, sizeof(label), "%zu prefixes, %zu ranges (slots from "
             "%u), %zu nodes past the slots, %zu lookups", n, sc.ranges,
             NGX_EDGE_AUTH_LPM_SLOTS_MIN, sc.nodes, sc.probes);

    ok(sc.bad == 0 && sc.ranges >= NGX_EDGE_AUTH_LPM_SLOTS_MIN
       && sc.nodes > 0,
       "IPv4 slots match the index layout and longest-prefix search: %s",
       label);

    slots_free(&sc);
    free(e);
}


/*
 * Crowded /16s: one full of /32s (65,536 ranges, a tree of three levels
 * below its slot), and /16s of 39 to 1,601 /32s, on both sides of a
 * slot's 40 ranges and of an inner node's 40 x 40; some inside a /8, so
 * that each /32 has a range after it, some at the edges of the address
 * space (0.0.0.0/32, 255.255.255.255/32).  Addresses all over those /16s
 * are looked up, and the edges of every /16 and every prefix.
 */

typedef struct {
    uint32_t    bucket;     /* the /16 */
    uint32_t    count;      /* /32s in it */
    uint32_t    stride;
} slots_crowd_t;


static const slots_crowd_t  slots_crowds[] = {
    { 0x0000, 41, 7 },          /* from 0.0.0.0 */
    { 0xffff, 40, 13 },         /* to 255.255.255.255: see below */
    { 0x0a01, 20, 3 },          /* in 10/8: 40 ranges */
    { 0x0a02, 21, 3 },          /* in 10/8: 42 ranges */
    { 0x0a03, 800, 2 },         /* in 10/8: 1,600 ranges */
    { 0x0a04, 801, 2 },         /* in 10/8: 1,602 ranges */
    { 0x0b01, 39, 5 },
    { 0x0b02, 40, 5 },
    { 0x0b03, 79, 5 },
    { 0x0b04, 80, 5 },
    { 0x0b05, 81, 5 },
    { 0x0b06, 1599, 3 },
    { 0x0b07, 1600, 3 },
    { 0x0b08, 1601, 3 },
    { 0x0b09, 32768, 2 },       /* every other address */
    { 0x1401, 65536, 1 },       /* every address */
};

#define NCROWDS  (sizeof(slots_crowds) / sizeof(slots_crowds[0]))


static void
test_slots_crowded(void)
{
    size_t                       i, k, n;
    uint32_t                     a, b, step;
    char                         label[160];
    slots_case_t                 sc;
    ngx_edge_auth_lpm4_entry_t  *e;

    slots_rng = 88172645u;
    e = calloc(300000, sizeof(*e));
    n = 0;

    for (i = 0; i < NCROWDS; i++) {
        for (k = 0; k < slots_crowds[i].count; k++) {
            e[n].addr = slots_crowds[i].bucket << 16
                        | (uint32_t) (k * slots_crowds[i].stride);
            e[n].prefix = 32;
            n++;
        }
    }

    /* the last address of all, a /8 around some, /24s and /20s between */

    e[n].addr = 0xffffffff;
    e[n++].prefix = 32;
    e[n].addr = 0x0a000000;
    e[n++].prefix = 8;
    e[n].addr = 0x0b020100;
    e[n++].prefix = 24;
    e[n].addr = 0x0b07f000;
    e[n++].prefix = 20;
    e[n].addr = 0x14010000;
    e[n++].prefix = 16;

    /* some background: /24s in the /16s around */

    for (b = 0; b < 4096; b++) {
        e[n].addr = (slots_rand() & 0x00ffff00) | 0x0c000000;
        e[n++].prefix = 24;
    }

    n = prepare4(e, n);
    slots_values(e, n);

    slots_build(&sc, e, n);

    /* every address of the deepest trees, every third of the others */

    for (i = 0; i < NCROWDS; i++) {
        step = slots_crowds[i].count > 10000 ? 1 : 3;

        for (a = 0; a < 65536; a += step) {
            slots_probe(&sc, slots_crowds[i].bucket << 16 | a,
                        (a & 15) == 0);
        }
    }

    slots_probe_buckets(&sc);

    for (i = 0; i < n; i++) {
        slots_probe_prefix(&sc, i, 1);
    }

    snprintf(label, sizeof(label), "%zu /16s, %zu ranges, %zu nodes past "
             "the slots, %zu lookups", NCROWDS, sc.ranges, sc.nodes,
             sc.probes);

    ok(sc.bad == 0 && sc.nodes > 0,
       "IPv4 slots, crowded /16s match: %s", label);

    slots_free(&sc);
    free(e);
}


int
main(void)
{
    unsigned  seed;
    char      name[128];

    test_parse();
    test_parse4_fast();
    test_vbits();
    test_layout();
    test_ranges();
    test_sort4();
    test_edges4();
    test_random4();
    test_slots_random();
    test_slots_crowded();

    for (seed = 1; seed <= 20; seed++) {
        snprintf(name, sizeof(name), "seed %u", seed);
        ok(run_random6(1 + seed * 37, seed, seed % 2 ? 2 : 16),
           "IPv6 table matches brute force, %s", name);
    }

    ok(run_random6(0, 99, 2), "empty IPv6 table denies%s", "");

    printf("1..%d\n", test_no);

    return failed ? 1 : 0;
}
