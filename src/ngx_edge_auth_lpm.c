
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#include <string.h>

#include "ngx_edge_auth_lpm.h"


/* nested prefixes have strictly growing lengths: /0 to /128 is 129 deep */
#define NGX_EDGE_AUTH_LPM_DEPTH  130


/*
 * Both families are swept as 128-bit keys with the address in the top
 * bits, so an IPv4 /p and an IPv6 /p both cover the low (128 - p) bits.
 */

typedef struct {
    uint64_t    hi;
    uint64_t    lo;
} ngx_edge_auth_u128_t;


typedef struct {
    ngx_edge_auth_u128_t  end;
    uint32_t              value;
} ngx_edge_auth_lpm_open_t;


typedef struct {
    uint32_t             *start4;
    uint64_t             *start6;
    uint32_t             *value;
    size_t                count;
    ngx_edge_auth_u128_t  last;
    uint32_t              last_value;
} ngx_edge_auth_lpm_out_t;


static void ngx_edge_auth_lpm_sweep(const ngx_edge_auth_lpm_entry_t *entries,
    size_t n, uint32_t first, ngx_edge_auth_lpm_out_t *out);
static void ngx_edge_auth_lpm_emit(ngx_edge_auth_lpm_out_t *out,
    ngx_edge_auth_u128_t start, uint32_t value);
static ngx_edge_auth_u128_t ngx_edge_auth_lpm_key(
    const ngx_edge_auth_lpm_entry_t *e);
static ngx_edge_auth_u128_t ngx_edge_auth_lpm_end(ngx_edge_auth_u128_t start,
    unsigned prefix);
static int ngx_edge_auth_u128_lt(ngx_edge_auth_u128_t a,
    ngx_edge_auth_u128_t b);
static int ngx_edge_auth_u128_next(ngx_edge_auth_u128_t *a);


int
ngx_edge_auth_lpm_entry_cmp(const void *one, const void *two)
{
    int                               rc;
    const ngx_edge_auth_lpm_entry_t  *a, *b;

    a = one;
    b = two;

    if (a->family != b->family) {
        return (a->family < b->family) ? -1 : 1;
    }

    rc = memcmp(a->addr, b->addr, 16);
    if (rc != 0) {
        return rc;
    }

    return (int) a->prefix - (int) b->prefix;
}


size_t
ngx_edge_auth_lpm_build4(const ngx_edge_auth_lpm_entry_t *entries, size_t n,
    uint32_t first, uint32_t *start, uint32_t *value)
{
    ngx_edge_auth_lpm_out_t  out;

    memset(&out, 0, sizeof(ngx_edge_auth_lpm_out_t));
    out.start4 = start;
    out.value = value;

    ngx_edge_auth_lpm_sweep(entries, n, first, &out);

    return out.count;
}


size_t
ngx_edge_auth_lpm_build6(const ngx_edge_auth_lpm_entry_t *entries, size_t n,
    uint32_t first, uint64_t *start, uint32_t *value)
{
    ngx_edge_auth_lpm_out_t  out;

    memset(&out, 0, sizeof(ngx_edge_auth_lpm_out_t));
    out.start6 = start;
    out.value = value;

    ngx_edge_auth_lpm_sweep(entries, n, first, &out);

    return out.count;
}


static void
ngx_edge_auth_lpm_sweep(const ngx_edge_auth_lpm_entry_t *entries, size_t n,
    uint32_t first, ngx_edge_auth_lpm_out_t *out)
{
    size_t                    i, depth;
    ngx_edge_auth_u128_t      start, next, zero;
    ngx_edge_auth_lpm_open_t  open[NGX_EDGE_AUTH_LPM_DEPTH];

    memset(&zero, 0, sizeof(ngx_edge_auth_u128_t));

    ngx_edge_auth_lpm_emit(out, zero, 0);

    depth = 0;

    for (i = 0; i <= n; i++) {

        if (i < n) {
            start = ngx_edge_auth_lpm_key(&entries[i]);

        } else {
            /* past the last entry: close everything still open */
            start.hi = UINT64_MAX;
            start.lo = UINT64_MAX;
        }

        /* close the prefixes that end before this one starts */

        while (depth
               && (i == n || ngx_edge_auth_u128_lt(open[depth - 1].end,
                                                   start)))
        {
            depth--;
            next = open[depth].end;

            if (ngx_edge_auth_u128_next(&next)) {
                ngx_edge_auth_lpm_emit(out, next,
                                       depth ? open[depth - 1].value : 0);
            }
        }

        if (i == n) {
            break;
        }

        open[depth].end = ngx_edge_auth_lpm_end(start, entries[i].prefix);
        open[depth].value = (uint32_t) (first + i + 1)
                            | (entries[i].deny ? NGX_EDGE_AUTH_LPM_DENY : 0);

        ngx_edge_auth_lpm_emit(out, start, open[depth].value);

        /* sorted, duplicate-free input keeps nesting below the bound */
        if (depth < NGX_EDGE_AUTH_LPM_DEPTH - 1) {
            depth++;
        }
    }
}


static void
ngx_edge_auth_lpm_emit(ngx_edge_auth_lpm_out_t *out,
    ngx_edge_auth_u128_t start, uint32_t value)
{
    size_t  i;

    if (out->count) {
        if (out->last.hi == start.hi && out->last.lo == start.lo) {
            /* a range that begins where a nested prefix begins is empty */
            out->last_value = value;

            if (out->value) {
                out->value[out->count - 1] = value;
            }

            return;
        }

        if (out->last_value == value) {
            return;
        }
    }

    i = out->count++;

    out->last = start;
    out->last_value = value;

    /* without arrays the sweep only counts, to size them exactly */

    if (out->value == NULL) {
        return;
    }

    if (out->start4) {
        out->start4[i] = (uint32_t) (start.hi >> 32);

    } else {
        out->start6[2 * i] = start.hi;
        out->start6[2 * i + 1] = start.lo;
    }

    out->value[i] = value;
}


static ngx_edge_auth_u128_t
ngx_edge_auth_lpm_key(const ngx_edge_auth_lpm_entry_t *e)
{
    unsigned              i;
    ngx_edge_auth_u128_t  k;

    k.hi = 0;
    k.lo = 0;

    for (i = 0; i < 8; i++) {
        k.hi = (k.hi << 8) | e->addr[i];
        k.lo = (k.lo << 8) | e->addr[i + 8];
    }

    return k;
}


static ngx_edge_auth_u128_t
ngx_edge_auth_lpm_end(ngx_edge_auth_u128_t start, unsigned prefix)
{
    unsigned  host;

    host = 128 - prefix;

    if (host >= 64) {
        start.lo = UINT64_MAX;
        start.hi |= (host == 128) ? UINT64_MAX
                                  : ((uint64_t) 1 << (host - 64)) - 1;

    } else if (host > 0) {
        start.lo |= ((uint64_t) 1 << host) - 1;
    }

    return start;
}


static int
ngx_edge_auth_u128_lt(ngx_edge_auth_u128_t a, ngx_edge_auth_u128_t b)
{
    return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
}


/* increments a; returns 0 when a was the last key */
static int
ngx_edge_auth_u128_next(ngx_edge_auth_u128_t *a)
{
    if (a->lo == UINT64_MAX && a->hi == UINT64_MAX) {
        return 0;
    }

    if (++a->lo == 0) {
        a->hi++;
    }

    return 1;
}


void
ngx_edge_auth_lpm_index4(ngx_edge_auth_lpm_t *lpm, uint32_t *index)
{
    size_t    i;
    uint32_t  k;

    /* index[k]: the last range starting at or below k << 16 */

    i = 0;

    for (k = 0; k < 65536; k++) {
        while (i + 1 < lpm->n4 && lpm->start4[i + 1] <= (k << 16)) {
            i++;
        }

        index[k] = (uint32_t) i;
    }

    index[65536] = (uint32_t) (lpm->n4 - 1);

    lpm->index4 = index;
}


uint32_t
ngx_edge_auth_lpm_find4(const ngx_edge_auth_lpm_t *lpm, uint32_t addr)
{
    size_t  lo, hi, mid;

    if (lpm->n4 == 0) {
        return 0;
    }

    if (lpm->index4) {
        lo = lpm->index4[addr >> 16];
        hi = lpm->index4[(addr >> 16) + 1];

    } else {
        lo = 0;
        hi = lpm->n4 - 1;
    }

    /* the last range whose start is <= addr; start4[0] is always 0 */

    while (lo < hi) {
        mid = lo + (hi - lo + 1) / 2;

        if (lpm->start4[mid] <= addr) {
            lo = mid;

        } else {
            hi = mid - 1;
        }
    }

    return lpm->value4[lo];
}


uint32_t
ngx_edge_auth_lpm_find6(const ngx_edge_auth_lpm_t *lpm, const u_char *addr)
{
    size_t     lo, hi, mid, i;
    uint64_t   khi, klo;
    uint64_t  *s;

    if (lpm->n6 == 0) {
        return 0;
    }

    khi = 0;
    klo = 0;

    for (i = 0; i < 8; i++) {
        khi = (khi << 8) | addr[i];
        klo = (klo << 8) | addr[i + 8];
    }

    lo = 0;
    hi = lpm->n6 - 1;

    while (lo < hi) {
        mid = lo + (hi - lo + 1) / 2;
        s = &lpm->start6[2 * mid];

        if (s[0] < khi || (s[0] == khi && s[1] <= klo)) {
            lo = mid;

        } else {
            hi = mid - 1;
        }
    }

    return lpm->value6[lo];
}
