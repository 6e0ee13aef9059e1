
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


/* brute force: the longest covering entry wins */

static uint32_t
naive_find(ngx_edge_auth_lpm_entry_t *e, size_t n, u_char family,
    const u_char *addr)
{
    size_t    i, bits, b;
    int       best;
    uint32_t  v;

    best = -1;
    v = 0;

    for (i = 0; i < n; i++) {
        if (e[i].family != family) {
            continue;
        }

        bits = e[i].prefix;

        for (b = 0; b < bits; b++) {
            if (((addr[b / 8] >> (7 - b % 8)) & 1)
                != ((e[i].addr[b / 8] >> (7 - b % 8)) & 1))
            {
                break;
            }
        }

        if (b == bits && (int) bits > best) {
            best = (int) bits;
            v = (uint32_t) (i + 1) | (e[i].deny ? NGX_EDGE_AUTH_LPM_DENY : 0);
        }
    }

    return v;
}


static void
random_prefix(ngx_edge_auth_lpm_entry_t *e, u_char family, unsigned clusters)
{
    unsigned  i, bits;

    memset(e, 0, sizeof(*e));
    e->family = family;
    bits = (family == 4) ? 32 : 128;

    /* few distinct leading bytes, so that prefixes nest and touch */
    e->addr[0] = (u_char) (rand() % clusters);

    for (i = 1; i < bits / 8; i++) {
        e->addr[i] = (u_char) ((rand() % 4 == 0) ? rand() : (rand() % 3));
    }

    e->prefix = (u_char) (rand() % (bits + 1));
    e->deny = (u_char) (rand() % 2);

    for (i = e->prefix; i < bits; i++) {
        e->addr[i / 8] &= (u_char) ~(0x80 >> (i % 8));
    }
}


static int
run_random(u_char family, size_t count, int use_index, unsigned seed)
{
    int                         rc;
    size_t                      i, j, n, nr, probes;
    u_char                      addr[16];
    uint32_t                   *start4, *value, *index, got, want;
    uint64_t                   *start6;
    ngx_edge_auth_lpm_t         lpm;
    ngx_edge_auth_lpm_entry_t  *e;

    srand(seed);

    e = calloc(count, sizeof(ngx_edge_auth_lpm_entry_t));
    start4 = calloc(2 * count + 1, sizeof(uint32_t));
    start6 = calloc(2 * (2 * count + 1), sizeof(uint64_t));
    value = calloc(2 * count + 1, sizeof(uint32_t));
    index = calloc(65537, sizeof(uint32_t));

    for (i = 0; i < count; i++) {
        random_prefix(&e[i], family, 3);
    }

    qsort(e, count, sizeof(ngx_edge_auth_lpm_entry_t),
          ngx_edge_auth_lpm_entry_cmp);

    /* drop duplicate prefixes, as the module does */
    n = 0;

    for (i = 0; i < count; i++) {
        if (n && e[n - 1].prefix == e[i].prefix
            && memcmp(e[n - 1].addr, e[i].addr, 16) == 0)
        {
            continue;
        }

        e[n++] = e[i];
    }

    memset(&lpm, 0, sizeof(lpm));

    if (family == 4) {
        nr = ngx_edge_auth_lpm_build4(e, n, 0, start4, value);

        /* the counting pass sizes the arrays exactly */
        if (ngx_edge_auth_lpm_build4(e, n, 0, NULL, NULL) != nr) {
            printf("# IPv4 count differs from build\n");
            return 0;
        }

        lpm.start4 = start4;
        lpm.value4 = value;
        lpm.n4 = nr;

        if (use_index) {
            ngx_edge_auth_lpm_index4(&lpm, index);
        }

    } else {
        nr = ngx_edge_auth_lpm_build6(e, n, 0, start6, value);

        if (ngx_edge_auth_lpm_build6(e, n, 0, NULL, NULL) != nr) {
            printf("# IPv6 count differs from build\n");
            return 0;
        }

        lpm.start6 = start6;
        lpm.value6 = value;
        lpm.n6 = nr;
    }

    rc = (nr <= 2 * n + 1);

    probes = 20000;

    for (j = 0; j < probes; j++) {
        memset(addr, 0, sizeof(addr));

        if (j % 2 && n) {
            /* an entry's first or last address, or one beyond */
            i = (size_t) rand() % n;
            memcpy(addr, e[i].addr, 16);

            if (rand() % 2) {
                size_t  b;

                for (b = e[i].prefix; b < (family == 4 ? 32u : 128u); b++) {
                    addr[b / 8] |= (u_char) (0x80 >> (b % 8));
                }
            }

        } else {
            addr[0] = (u_char) (rand() % 4);

            for (i = 1; i < 16; i++) {
                addr[i] = (u_char) ((rand() % 4 == 0) ? rand() : rand() % 3);
            }
        }

        want = naive_find(e, n, family, addr);

        if (family == 4) {
            got = ngx_edge_auth_lpm_find4(&lpm,
                                          ((uint32_t) addr[0] << 24)
                                          | ((uint32_t) addr[1] << 16)
                                          | ((uint32_t) addr[2] << 8)
                                          | addr[3]);
        } else {
            got = ngx_edge_auth_lpm_find6(&lpm, addr);
        }

        if (got != want) {
            printf("# mismatch: got %08x want %08x\n", got, want);
            rc = 0;
            break;
        }
    }

    free(e);
    free(start4);
    free(start6);
    free(value);
    free(index);

    return rc;
}


int
main(void)
{
    unsigned  seed;
    char      name[128];

    test_parse();

    for (seed = 1; seed <= 20; seed++) {
        snprintf(name, sizeof(name), "seed %u", seed);
        ok(run_random(4, 1 + seed * 37, 0, seed),
           "IPv4 table matches brute force, %s", name);
        ok(run_random(4, 1 + seed * 37, 1, seed),
           "IPv4 table with /16 index matches brute force, %s", name);
        ok(run_random(6, 1 + seed * 37, 0, seed),
           "IPv6 table matches brute force, %s", name);
    }

    ok(run_random(4, 0, 1, 99), "empty IPv4 table denies, %s", "");
    ok(run_random(6, 0, 0, 99), "empty IPv6 table denies, %s", "");

    printf("1..%d\n", test_no);

    return failed ? 1 : 0;
}
