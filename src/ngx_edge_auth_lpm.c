
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#include <string.h>

#if (defined __SSE2__)
#include <emmintrin.h>
#endif

#include "ngx_edge_auth_lpm.h"


/* nested prefixes have strictly growing lengths: /0 to /128 is 129 deep */
#define NGX_EDGE_AUTH_LPM_DEPTH   130

/* the automatic IPv4 index keeps about this many ranges per bucket */
#define NGX_EDGE_AUTH_LPM_BUCKET  64

/* the slots: /16 buckets, ranges (or children) per 128-byte node */
#define NGX_EDGE_AUTH_LPM_SLOTS   65536
#define NGX_EDGE_AUTH_LPM_FANOUT  40

/* a bucket holds 2^16 ranges at most (65536 /32s): 3 levels below its slot */
#define NGX_EDGE_AUTH_LPM_LEVELS  8


/*
 * Both families are swept as 128-bit keys with the address in the top
 * bits, so an IPv4 /p and an IPv6 /p both cover the low (128 - p) bits.
 */

typedef struct {
    uint64_t    hi;
    uint64_t    lo;
} ngx_edge_auth_u128_t;


typedef struct {
    ngx_edge_auth_u128_t   end;
    uint32_t               value;
    unsigned               prefix;
} ngx_edge_auth_lpm_open_t;


/*
 * A slot, or a node past the slots: a leaf holds ranges (a start's low 16
 * bits and its value), an inner node the first start of each child, its
 * children one after the other from "child".  Keys past n are 0xffff, so
 * that a lookup compares all 40 at once, in vector registers.
 */

typedef struct {
    uint16_t               key[NGX_EDGE_AUTH_LPM_FANOUT];
    u_char                 value[NGX_EDGE_AUTH_LPM_FANOUT];
    uint32_t               child;
    u_char                 n;
    u_char                 inner;
    u_char                 carry;       /* leaf: the value below key[0] */
    u_char                 spare;
} ngx_edge_auth_lpm_node_t;


/* the lookup compares the keys 8 at a time, 5 times */
typedef char  ngx_edge_auth_lpm_fanout_check
                  [NGX_EDGE_AUTH_LPM_FANOUT == 40 ? 1 : -1];

typedef char  ngx_edge_auth_lpm_node_size_check
                  [sizeof(ngx_edge_auth_lpm_node_t) == 128 ? 1 : -1];


/* where the sweep writes; with no table it only counts */

typedef struct {
    ngx_edge_auth_lpm4_t  *lpm4;
    ngx_edge_auth_lpm6_t  *lpm6;
    size_t                 count;
    unsigned               family;
    unsigned               implicit;    /* IPv4: ends of prefixes this long
                                           or longer may be left out */
    uint32_t               bucket;      /* the next index slot to fill */
    ngx_edge_auth_u128_t   last;
    uint32_t               last_value;

    /* the slots: counting (1) and placing (2) passes */
    unsigned               pass;
    size_t                 nodes;       /* counted nodes past the slots */
    uint32_t               current;     /* the bucket being filled, + 1 */
    uint32_t               j;           /* its ranges so far */
    unsigned               levels;      /* below its slot */
    uint32_t               level[NGX_EDGE_AUTH_LPM_LEVELS];  /* first node
                                                                of each */
    u_char                *vp;          /* the last range's value */
} ngx_edge_auth_lpm_out_t;


static void ngx_edge_auth_lpm4_scatter(const void *src, size_t n, u_char *to,
    size_t size, unsigned pass, size_t *count);
static void ngx_edge_auth_lpm_sweep(const u_char *p, size_t n, size_t size,
    unsigned family, ngx_edge_auth_lpm_out_t *out);
static void ngx_edge_auth_lpm_emit(ngx_edge_auth_lpm_out_t *out,
    ngx_edge_auth_u128_t start, uint32_t value);
static void ngx_edge_auth_lpm_put4(ngx_edge_auth_lpm_out_t *out, size_t i,
    uint32_t start, uint32_t value);
static unsigned ngx_edge_auth_lpm_levels(size_t ranges, uint32_t *len);
static void ngx_edge_auth_lpm_slots_count(ngx_edge_auth_lpm_out_t *out,
    uint32_t bucket);
static void ngx_edge_auth_lpm_slots_plan(ngx_edge_auth_lpm4_t *lpm);
static void ngx_edge_auth_lpm_slots_put(ngx_edge_auth_lpm_out_t *out,
    uint32_t start, uint32_t value);
static void ngx_edge_auth_lpm_slots_carry(ngx_edge_auth_lpm_out_t *out,
    uint32_t to);
static void ngx_edge_auth_lpm_set(uint32_t *values, unsigned vbits, size_t i,
    uint32_t value);
static uint32_t ngx_edge_auth_lpm_get(const uint32_t *values, unsigned vbits,
    size_t i);
static void ngx_edge_auth_lpm4_set(ngx_edge_auth_lpm4_t *lpm, size_t i,
    uint32_t value);
static size_t ngx_edge_auth_lpm4_size(size_t ranges, unsigned vbits,
    unsigned bits, size_t *index);
static uint32_t ngx_edge_auth_lpm4_find_slot(const ngx_edge_auth_lpm4_t *lpm,
    uint32_t addr);
static ngx_edge_auth_u128_t ngx_edge_auth_lpm_end(ngx_edge_auth_u128_t start,
    unsigned prefix);
static int ngx_edge_auth_u128_lt(ngx_edge_auth_u128_t a,
    ngx_edge_auth_u128_t b);
static int ngx_edge_auth_u128_next(ngx_edge_auth_u128_t *a);


unsigned
ngx_edge_auth_lpm_vbits(uint32_t max)
{
    unsigned  bits;

    for (bits = 1; bits < 32 && (max >> bits) != 0; bits *= 2) {
        /* void */
    }

    return bits;
}


/*
 * The sort key: the address, then the prefix length (0 to 32, 6 bits), in
 * 38 bits; four passes of 11-bit digits, least significant first.
 */

#define NGX_EDGE_AUTH_LPM_KEY(e)                                              \
    ((uint64_t) (e)->addr << 6 | (e)->prefix)

#define NGX_EDGE_AUTH_LPM_DIGIT_BITS  11
#define NGX_EDGE_AUTH_LPM_DIGITS      (1 << NGX_EDGE_AUTH_LPM_DIGIT_BITS)
#define NGX_EDGE_AUTH_LPM_PASSES      4

#define NGX_EDGE_AUTH_LPM_DIGIT(key, pass)                                    \
    ((unsigned) ((key) >> ((pass) * NGX_EDGE_AUTH_LPM_DIGIT_BITS))            \
     & (NGX_EDGE_AUTH_LPM_DIGITS - 1))


void *
ngx_edge_auth_lpm4_sort(const ngx_edge_auth_lpm_part_t *parts,
    size_t nparts, void *a, void *b, size_t size)
{
    u_char                            *from, *to, *t;
    size_t                             i, k, n, pos, c, *count;
    uint64_t                           key;
    unsigned                           pass, digit;
    const ngx_edge_auth_lpm4_entry_t  *e;
    size_t                             counts[NGX_EDGE_AUTH_LPM_PASSES]
                                             [NGX_EDGE_AUTH_LPM_DIGITS];

    /* the digits' counts of all passes in one read */

    memset(counts, 0, sizeof(counts));

    n = 0;
    key = 0;

    for (k = 0; k < nparts; k++) {
        for (i = 0; i < parts[k].n; i++) {
            e = (const ngx_edge_auth_lpm4_entry_t *)
                    ((const u_char *) parts[k].elts + i * size);

            key = NGX_EDGE_AUTH_LPM_KEY(e);

            counts[0][NGX_EDGE_AUTH_LPM_DIGIT(key, 0)]++;
            counts[1][NGX_EDGE_AUTH_LPM_DIGIT(key, 1)]++;
            counts[2][NGX_EDGE_AUTH_LPM_DIGIT(key, 2)]++;
            counts[3][NGX_EDGE_AUTH_LPM_DIGIT(key, 3)]++;
        }

        n += parts[k].n;
    }

    from = NULL;        /* still in the parts */
    to = a;

    for (pass = 0; pass < NGX_EDGE_AUTH_LPM_PASSES && n; pass++) {

        count = counts[pass];

        /* the last record read has a digit; if all have it, skip */

        if (count[NGX_EDGE_AUTH_LPM_DIGIT(key, pass)] == n) {
            continue;
        }

        pos = 0;

        for (digit = 0; digit < NGX_EDGE_AUTH_LPM_DIGITS; digit++) {
            c = count[digit];
            count[digit] = pos;
            pos += c;
        }

        if (from == NULL) {
            for (k = 0; k < nparts; k++) {
                ngx_edge_auth_lpm4_scatter(parts[k].elts, parts[k].n, to,
                                           size, pass, count);
            }

        } else {
            ngx_edge_auth_lpm4_scatter(from, n, to, size, pass, count);
        }

        t = from ? from : b;
        from = to;
        to = t;
    }

    if (from == NULL) {
        /* nothing moved: one copy, as the passes would have left it */

        for (k = 0, t = a; k < nparts; k++) {
            memcpy(t, parts[k].elts, parts[k].n * size);
            t += parts[k].n * size;
        }

        return a;
    }

    return from;
}


static void
ngx_edge_auth_lpm4_scatter(const void *src, size_t n, u_char *to,
    size_t size, unsigned pass, size_t *count)
{
    size_t                             i, w;
    unsigned                           digit;
    uint32_t                          *d;
    const uint32_t                    *s;
    const ngx_edge_auth_lpm4_entry_t  *e;

    for (i = 0; i < n; i++) {
        e = (const ngx_edge_auth_lpm4_entry_t *)
                ((const u_char *) src + i * size);
        digit = NGX_EDGE_AUTH_LPM_DIGIT(NGX_EDGE_AUTH_LPM_KEY(e), pass);

        /* records hold uint32_t: whole words, not a memcpy() call */

        s = (const uint32_t *) e;
        d = (uint32_t *) (to + count[digit]++ * size);

        for (w = 0; w < size / sizeof(uint32_t); w++) {
            d[w] = s[w];
        }
    }
}


int
ngx_edge_auth_lpm6_cmp(const void *one, const void *two)
{
    int                                rc;
    const ngx_edge_auth_lpm6_entry_t  *a, *b;

    a = one;
    b = two;

    rc = memcmp(a->addr, b->addr, 16);
    if (rc != 0) {
        return rc;
    }

    return (int) a->prefix - (int) b->prefix;
}


size_t
ngx_edge_auth_lpm4_count(const void *entries, size_t n, size_t size)
{
    ngx_edge_auth_lpm_out_t  out;

    memset(&out, 0, sizeof(ngx_edge_auth_lpm_out_t));

    /* the most ranges any index may need: a smaller one leaves out more */
    out.implicit = 16;

    ngx_edge_auth_lpm_sweep(entries, n, size, 4, &out);

    return out.count;
}


size_t
ngx_edge_auth_lpm6_count(const void *entries, size_t n, size_t size)
{
    ngx_edge_auth_lpm_out_t  out;

    memset(&out, 0, sizeof(ngx_edge_auth_lpm_out_t));

    ngx_edge_auth_lpm_sweep(entries, n, size, 6, &out);

    return out.count;
}


/*
 * The automatic index: of the sizes that keep buckets to about 64 ranges
 * (any from 16 bits on), the one that takes the least memory.  Keys
 * narrow to 3 bytes from 8 index bits on and to 2 bytes at 16: small
 * lists get a small index, large ones the /16 and 2-byte keys.
 */

size_t
ngx_edge_auth_lpm4_layout(ngx_edge_auth_lpm4_t *lpm, size_t ranges,
    unsigned vbits, int bits)
{
    size_t    size, best, index;
    unsigned  b;

    if (bits < 0) {
        best = 0;

        for (b = 0; b <= 16; b++) {
            if (b < 16 && (ranges >> b) > NGX_EDGE_AUTH_LPM_BUCKET) {
                continue;
            }

            size = ngx_edge_auth_lpm4_size(ranges, vbits, b, &index);

            if (best == 0 || size < best) {
                best = size;
                bits = (int) b;
            }
        }
    }

    memset(lpm, 0, sizeof(ngx_edge_auth_lpm4_t));

    lpm->n = (uint32_t) ranges;
    lpm->bits = (u_char) bits;
    lpm->kbytes = (bits >= 16) ? 2 : (bits >= 8) ? 3 : 4;
    lpm->vbytes = (vbits <= 8) ? 1 : 2;
    lpm->rbytes = lpm->kbytes + lpm->vbytes;

    return ngx_edge_auth_lpm4_size(ranges, vbits, (unsigned) bits, &index);
}


/* a range: its start's kbytes, then its value in whole bytes */

static size_t
ngx_edge_auth_lpm4_size(size_t ranges, unsigned vbits, unsigned bits,
    size_t *index)
{
    size_t  kbytes, vbytes;

    kbytes = (bits >= 16) ? 2 : (bits >= 8) ? 3 : 4;
    vbytes = (vbits <= 8) ? 1 : 2;

    *index = bits ? (((size_t) 1 << bits) + 1) * sizeof(uint32_t) : 0;

    return *index + (ranges * (kbytes + vbytes) + 3) / 4 * 4;
}


void
ngx_edge_auth_lpm4_build(ngx_edge_auth_lpm4_t *lpm, const void *entries,
    size_t n, size_t size, void *mem)
{
    size_t                     total, index;
    ngx_edge_auth_lpm_out_t    out;
    ngx_edge_auth_lpm_node_t  *node;

    if (lpm->slots) {
        /* lpm->n: the nodes past the slots, from the layout */

        node = (ngx_edge_auth_lpm_node_t *)
                   (((uintptr_t) mem + 127) & ~(uintptr_t) 127);
        total = (NGX_EDGE_AUTH_LPM_SLOTS + (size_t) lpm->n)
                * sizeof(ngx_edge_auth_lpm_node_t);

        memset(node, 0, total);

        lpm->index = NULL;
        lpm->ranges = (u_char *) node;

        /* the ranges of each bucket counted, then placed */

        memset(&out, 0, sizeof(ngx_edge_auth_lpm_out_t));
        out.lpm4 = lpm;
        out.implicit = 16;
        out.pass = 1;

        ngx_edge_auth_lpm_sweep(entries, n, size, 4, &out);

        ngx_edge_auth_lpm_slots_plan(lpm);

        memset(&out, 0, sizeof(ngx_edge_auth_lpm_out_t));
        out.lpm4 = lpm;
        out.implicit = 16;
        out.pass = 2;

        ngx_edge_auth_lpm_sweep(entries, n, size, 4, &out);

        ngx_edge_auth_lpm_slots_carry(&out, NGX_EDGE_AUTH_LPM_SLOTS);

        lpm->n = (uint32_t) out.count;

        return;
    }

    total = ngx_edge_auth_lpm4_size(lpm->n, lpm->vbytes * 8, lpm->bits,
                                    &index);

    memset(mem, 0, total);

    lpm->index = lpm->bits ? mem : NULL;
    lpm->ranges = (u_char *) mem + index;

    memset(&out, 0, sizeof(ngx_edge_auth_lpm_out_t));
    out.lpm4 = lpm;
    out.implicit = lpm->bits;

    ngx_edge_auth_lpm_sweep(entries, n, size, 4, &out);

    lpm->n = (uint32_t) out.count;

    /* the buckets past the last range start are empty */

    if (lpm->bits) {
        while (out.bucket <= ((uint32_t) 1 << lpm->bits)) {
            lpm->index[out.bucket++] = lpm->n;
        }
    }
}


size_t
ngx_edge_auth_lpm4_nodes(const void *entries, size_t n, size_t size)
{
    ngx_edge_auth_lpm_out_t  out;

    memset(&out, 0, sizeof(ngx_edge_auth_lpm_out_t));

    out.implicit = 16;
    out.pass = 1;

    ngx_edge_auth_lpm_sweep(entries, n, size, 4, &out);

    /* the last bucket's */
    ngx_edge_auth_lpm_slots_count(&out, NGX_EDGE_AUTH_LPM_SLOTS);

    return out.nodes;
}


size_t
ngx_edge_auth_lpm4_layout_slots(ngx_edge_auth_lpm4_t *lpm, size_t nodes)
{
    memset(lpm, 0, sizeof(ngx_edge_auth_lpm4_t));

    lpm->n = (uint32_t) nodes;        /* until the build */
    lpm->bits = 16;
    lpm->kbytes = 2;
    lpm->vbytes = 1;
    lpm->rbytes = 3;
    lpm->slots = 1;

    /* and room to align the nodes with cache lines */

    return (NGX_EDGE_AUTH_LPM_SLOTS + nodes) * sizeof(ngx_edge_auth_lpm_node_t)
           + 127;
}


size_t
ngx_edge_auth_lpm6_layout(ngx_edge_auth_lpm6_t *lpm, size_t ranges,
    unsigned vbits)
{
    memset(lpm, 0, sizeof(ngx_edge_auth_lpm6_t));

    lpm->n = (uint32_t) ranges;
    lpm->vbits = (u_char) vbits;

    return ranges * 2 * sizeof(uint64_t)
           + (ranges * vbits + 31) / 32 * sizeof(uint32_t);
}


void
ngx_edge_auth_lpm6_build(ngx_edge_auth_lpm6_t *lpm, const void *entries,
    size_t n, size_t size, void *mem)
{
    ngx_edge_auth_lpm_out_t  out;

    memset(mem, 0, lpm->n * 2 * sizeof(uint64_t)
                   + (lpm->n * lpm->vbits + 31) / 32 * sizeof(uint32_t));

    lpm->keys = mem;
    lpm->values = (uint32_t *) (lpm->keys + 2 * (size_t) lpm->n);

    memset(&out, 0, sizeof(ngx_edge_auth_lpm_out_t));
    out.lpm6 = lpm;

    ngx_edge_auth_lpm_sweep(entries, n, size, 6, &out);
}


static void
ngx_edge_auth_lpm_sweep(const u_char *p, size_t n, size_t size,
    unsigned family, ngx_edge_auth_lpm_out_t *out)
{
    size_t                             i, depth, k;
    unsigned                           prefix;
    uint32_t                           value;
    ngx_edge_auth_u128_t               start, next, zero;
    ngx_edge_auth_lpm_open_t           open[NGX_EDGE_AUTH_LPM_DEPTH];
    const ngx_edge_auth_lpm4_entry_t  *e4;
    const ngx_edge_auth_lpm6_entry_t  *e6;

    memset(&zero, 0, sizeof(ngx_edge_auth_u128_t));

    out->family = family;

    ngx_edge_auth_lpm_emit(out, zero, 0);

    depth = 0;
    prefix = 0;
    value = 0;

    for (i = 0; i <= n; i++) {

        if (i == n) {
            /* past the last entry: close everything still open */
            start.hi = UINT64_MAX;
            start.lo = UINT64_MAX;

        } else if (family == 4) {
            e4 = (const ngx_edge_auth_lpm4_entry_t *) (p + i * size);
            start.hi = (uint64_t) e4->addr << 32;
            start.lo = 0;
            prefix = e4->prefix;
            value = e4->value;

        } else {
            e6 = (const ngx_edge_auth_lpm6_entry_t *) (p + i * size);
            start.hi = 0;
            start.lo = 0;

            for (k = 0; k < 8; k++) {
                start.hi = (start.hi << 8) | e6->addr[k];
                start.lo = (start.lo << 8) | e6->addr[k + 8];
            }

            prefix = e6->prefix;
            value = e6->value;
        }

        /* close the prefixes that end before this one starts */

        while (depth
               && (i == n || ngx_edge_auth_u128_lt(open[depth - 1].end,
                                                   start)))
        {
            depth--;
            next = open[depth].end;

            if (!ngx_edge_auth_u128_next(&next)) {
                continue;
            }

            /*
             * IPv4: no prefix after one that lies in one index bucket, no
             * range: a lookup checks that the address is in the prefix.
             * A range of it that starts here (a nested prefix ended here
             * too) must not stay: it starts outside the prefix.
             */

            if (family == 4 && depth == 0
                && open[depth].prefix >= out->implicit
                && (next.hi != out->last.hi || next.lo != out->last.lo))
            {
                continue;
            }

            ngx_edge_auth_lpm_emit(out, next,
                                   depth ? open[depth - 1].value : 0);
        }

        if (i == n) {
            break;
        }

        open[depth].end = ngx_edge_auth_lpm_end(start, prefix);
        open[depth].value = value;
        open[depth].prefix = prefix;

        ngx_edge_auth_lpm_emit(out, start, value);

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

            if (out->lpm4 && out->lpm4->slots) {
                if (out->pass == 2) {
                    *out->vp = (u_char) value;
                }

            } else if (out->lpm4) {
                ngx_edge_auth_lpm4_set(out->lpm4, out->count - 1, value);

            } else if (out->lpm6) {
                ngx_edge_auth_lpm_set(out->lpm6->values, out->lpm6->vbits,
                                      out->count - 1, value);
            }

            return;
        }

        /*
         * IPv6: equal neighbours merge; IPv4 ranges of equal values may
         * belong to different prefixes, which the lookup tells apart
         */

        if (out->family == 6 && out->last_value == value) {
            return;
        }
    }

    i = out->count++;

    /* before last_value changes: the slots' carries take it */

    if (out->lpm4) {
        ngx_edge_auth_lpm_put4(out, i, (uint32_t) (start.hi >> 32), value);

    } else if (out->pass) {
        ngx_edge_auth_lpm_slots_count(out, (uint32_t) (start.hi >> 48));
        out->j++;
    }

    out->last = start;
    out->last_value = value;

    if (out->lpm6) {
        out->lpm6->keys[2 * i] = start.hi;
        out->lpm6->keys[2 * i + 1] = start.lo;

        ngx_edge_auth_lpm_set(out->lpm6->values, out->lpm6->vbits, i, value);
    }
}


static void
ngx_edge_auth_lpm_put4(ngx_edge_auth_lpm_out_t *out, size_t i, uint32_t start,
    uint32_t value)
{
    u_char                *p;
    uint32_t               bucket;
    ngx_edge_auth_lpm4_t  *lpm;

    lpm = out->lpm4;

    if (lpm->slots) {
        if (out->pass == 1) {
            /* counted in the slot's child until the plan */
            ((ngx_edge_auth_lpm_node_t *) lpm->ranges)[start >> 16].child++;

        } else {
            ngx_edge_auth_lpm_slots_put(out, start, value);
        }

        return;
    }

    if (lpm->bits) {
        /* index[k]: the first range that starts in bucket k or later */

        bucket = start >> (32 - lpm->bits);

        while (out->bucket <= bucket) {
            lpm->index[out->bucket++] = (uint32_t) i;
        }

        start &= 0xffffffff >> lpm->bits;
    }

    /* big-endian, whatever the width: a key is read byte by byte */

    p = lpm->ranges + i * lpm->rbytes;

    switch (lpm->kbytes) {

    case 2:
        p[0] = (u_char) (start >> 8);
        p[1] = (u_char) start;
        break;

    case 3:
        p[0] = (u_char) (start >> 16);
        p[1] = (u_char) (start >> 8);
        p[2] = (u_char) start;
        break;

    default:
        p[0] = (u_char) (start >> 24);
        p[1] = (u_char) (start >> 16);
        p[2] = (u_char) (start >> 8);
        p[3] = (u_char) start;
        break;
    }

    ngx_edge_auth_lpm4_set(lpm, i, value);
}


/* the nodes below a slot of so many ranges, level by level from leaves */

static unsigned
ngx_edge_auth_lpm_levels(size_t ranges, uint32_t *len)
{
    unsigned  t;

    for (t = 0; ranges > NGX_EDGE_AUTH_LPM_FANOUT; t++) {
        ranges = (ranges + NGX_EDGE_AUTH_LPM_FANOUT - 1)
                 / NGX_EDGE_AUTH_LPM_FANOUT;
        len[t] = (uint32_t) ranges;
    }

    return t;
}


/* counting: a range in this bucket; a new bucket closes the last one */

static void
ngx_edge_auth_lpm_slots_count(ngx_edge_auth_lpm_out_t *out, uint32_t bucket)
{
    unsigned  t, levels;
    uint32_t  len[NGX_EDGE_AUTH_LPM_LEVELS];

    if (out->current == bucket + 1) {
        return;
    }

    if (out->current) {
        levels = ngx_edge_auth_lpm_levels(out->j, len);

        for (t = 0; t < levels; t++) {
            out->nodes += len[t];
        }
    }

    out->current = bucket + 1;
    out->j = 0;
}


/*
 * Between the passes: each slot's count of ranges (in its child) becomes
 * a leaf, or a root whose nodes start at "base"; the root keeps where,
 * and how many ranges, in its keys until its first range is placed.
 */

static void
ngx_edge_auth_lpm_slots_plan(ngx_edge_auth_lpm4_t *lpm)
{
    size_t                     k;
    unsigned                   t, levels;
    uint32_t                   b, c, base, len[NGX_EDGE_AUTH_LPM_LEVELS];
    ngx_edge_auth_lpm_node_t  *node;

    node = (ngx_edge_auth_lpm_node_t *) lpm->ranges;
    base = NGX_EDGE_AUTH_LPM_SLOTS;

    for (b = 0; b < NGX_EDGE_AUTH_LPM_SLOTS; b++) {
        c = node[b].child;
        node[b].child = 0;

        memset(node[b].key, 0xff, sizeof(node[b].key));

        if (c <= NGX_EDGE_AUTH_LPM_FANOUT) {
            continue;
        }

        node[b].inner = 1;
        memcpy(&node[b].key[0], &base, sizeof(uint32_t));
        memcpy(&node[b].key[2], &c, sizeof(uint32_t));

        levels = ngx_edge_auth_lpm_levels(c, len);

        for (t = 0; t < levels; t++) {
            base += len[t];
        }
    }

    for (k = NGX_EDGE_AUTH_LPM_SLOTS; k < base; k++) {
        memset(node[k].key, 0xff, sizeof(node[k].key));
    }
}


/* a leaf's carry: a prefix of 16 bits or more ends in its own bucket */

#define NGX_EDGE_AUTH_LPM_CARRY(v)                                            \
    (((v) == 0 || NGX_EDGE_AUTH_LPM4_PREFIX(v) >= 16) ? 0 : (u_char) (v))


static void
ngx_edge_auth_lpm_slots_put(ngx_edge_auth_lpm_out_t *out, uint32_t start,
    uint32_t value)
{
    unsigned                   t;
    uint32_t                   bucket, j, idx, pos, c, base,
                               len[NGX_EDGE_AUTH_LPM_LEVELS];
    ngx_edge_auth_lpm_node_t  *node, *slot, *leaf, *parent;

    node = (ngx_edge_auth_lpm_node_t *) out->lpm4->ranges;
    bucket = start >> 16;
    slot = &node[bucket];

    if (out->current != bucket + 1) {
        ngx_edge_auth_lpm_slots_carry(out, bucket + 1);

        out->current = bucket + 1;
        out->j = 0;
        out->levels = 0;

        if (slot->inner) {
            memcpy(&base, &slot->key[0], sizeof(uint32_t));
            memcpy(&c, &slot->key[2], sizeof(uint32_t));
            memset(slot->key, 0xff, sizeof(slot->key));

            out->levels = ngx_edge_auth_lpm_levels(c, len);

            for (t = 0; t < out->levels; t++) {
                out->level[t] = base;
                base += len[t];
            }
        }
    }

    j = out->j++;

    if (out->levels == 0) {
        slot->key[j] = (uint16_t) start;
        slot->value[j] = (u_char) value;
        slot->n = (u_char) (j + 1);
        out->vp = &slot->value[j];
        return;
    }

    idx = j / NGX_EDGE_AUTH_LPM_FANOUT;
    pos = j % NGX_EDGE_AUTH_LPM_FANOUT;

    leaf = &node[out->level[0] + idx];
    leaf->key[pos] = (uint16_t) start;
    leaf->value[pos] = (u_char) value;
    leaf->n = (u_char) (pos + 1);
    out->vp = &leaf->value[pos];

    if (pos) {
        return;
    }

    /* a new node: its first key goes up to its parent, and so on */

    leaf->carry = NGX_EDGE_AUTH_LPM_CARRY(out->last_value);

    for (t = 1; t <= out->levels; t++) {
        parent = (t == out->levels)
                 ? slot
                 : &node[out->level[t] + idx / NGX_EDGE_AUTH_LPM_FANOUT];
        pos = idx % NGX_EDGE_AUTH_LPM_FANOUT;

        parent->key[pos] = (uint16_t) start;
        parent->n = (u_char) (pos + 1);
        parent->inner = 1;
        parent->child = out->level[t - 1] + idx - pos;

        if (pos) {
            break;
        }

        idx /= NGX_EDGE_AUTH_LPM_FANOUT;
    }
}


/* the slots before "to" not yet reached take the value before them */

static void
ngx_edge_auth_lpm_slots_carry(ngx_edge_auth_lpm_out_t *out, uint32_t to)
{
    ngx_edge_auth_lpm_node_t  *node;

    node = (ngx_edge_auth_lpm_node_t *) out->lpm4->ranges;

    while (out->bucket < to) {
        node[out->bucket++].carry =
                                 NGX_EDGE_AUTH_LPM_CARRY(out->last_value);
    }
}


static void
ngx_edge_auth_lpm4_set(ngx_edge_auth_lpm4_t *lpm, size_t i, uint32_t value)
{
    u_char    *p;
    unsigned   k;

    p = lpm->ranges + i * lpm->rbytes + lpm->kbytes;

    for (k = lpm->vbytes; k; k--) {
        *p++ = (u_char) (value >> (8 * (k - 1)));
    }
}


/* whole bytes and words are stored as such, narrower values packed */

static void
ngx_edge_auth_lpm_set(uint32_t *values, unsigned vbits, size_t i,
    uint32_t value)
{
    size_t    bit;
    uint32_t  mask;

    switch (vbits) {

    case 8:
        ((u_char *) values)[i] = (u_char) value;
        return;

    case 16:
        ((uint16_t *) values)[i] = (uint16_t) value;
        return;

    case 32:
        values[i] = value;
        return;
    }

    bit = i * vbits;
    mask = (vbits == 32) ? 0xffffffff : ((uint32_t) 1 << vbits) - 1;

    values[bit / 32] &= ~(mask << (bit % 32));
    values[bit / 32] |= (value & mask) << (bit % 32);
}


static uint32_t
ngx_edge_auth_lpm_get(const uint32_t *values, unsigned vbits, size_t i)
{
    size_t    bit;
    uint32_t  mask;

    if (vbits == 8) {
        /* the module's IPv4 tables */
        return ((const u_char *) values)[i];
    }

    switch (vbits) {

    case 16:
        return ((const uint16_t *) values)[i];

    case 32:
        return values[i];
    }

    bit = i * vbits;
    mask = (vbits == 32) ? 0xffffffff : ((uint32_t) 1 << vbits) - 1;

    return (values[bit / 32] >> (bit % 32)) & mask;
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


/*
 * The slots: down from the address's /16 slot to the leaf, the keys at or
 * below the address counted in each node (all 40: no branches, in vector
 * registers); the range is the last of them, or none: the value below
 * the leaf's first key.  Only a leaf past the slots is reached through
 * its first key, so the carry is only ever the one of a bucket's start.
 */

static uint32_t
ngx_edge_auth_lpm4_find_slot(const ngx_edge_auth_lpm4_t *lpm, uint32_t addr)
{
    unsigned                          c, prefix;
    uint32_t                          low, value;
    const ngx_edge_auth_lpm_node_t   *node, *nodes;
#if (defined __SSE2__)
    __m128i                           lows, zero, sum;
#else
    unsigned                          i;
#endif

    nodes = (const ngx_edge_auth_lpm_node_t *) lpm->ranges;
    node = &nodes[addr >> 16];
    low = addr & 0xffff;

#if (defined __SSE2__)
    lows = _mm_set1_epi16((short) low);
    zero = _mm_setzero_si128();
#endif

    for ( ;; ) {

#if (defined __SSE2__)

        /*
         * nginx builds with -O, which vectorizes nothing: 8 keys at a
         * time by hand; a key at or below the address saturates to 0
         * when the address is taken from it, and each such lane of
         * "sum" goes up by 1
         */

#define NGX_EDGE_AUTH_LPM_LE(k)                                               \
        _mm_cmpeq_epi16(_mm_subs_epu16(                                       \
            _mm_loadu_si128((const __m128i *) &node->key[k]), lows), zero)

        sum = _mm_add_epi16(NGX_EDGE_AUTH_LPM_LE(0), NGX_EDGE_AUTH_LPM_LE(8));
        sum = _mm_add_epi16(sum, NGX_EDGE_AUTH_LPM_LE(16));
        sum = _mm_add_epi16(sum, NGX_EDGE_AUTH_LPM_LE(24));
        sum = _mm_add_epi16(sum, NGX_EDGE_AUTH_LPM_LE(32));

#undef NGX_EDGE_AUTH_LPM_LE

        /* lanes of -5 .. 0: their sum, negated */
        sum = _mm_madd_epi16(sum, _mm_set1_epi16(-1));
        sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0x4e));
        sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0xb1));
        c = (unsigned) _mm_cvtsi128_si32(sum);

#else
        c = 0;

        for (i = 0; i < NGX_EDGE_AUTH_LPM_FANOUT; i++) {
            c += (node->key[i] <= low);
        }
#endif

        /* the padding's 0xffff counts for the address 0xffff */

        if (c > node->n) {
            c = node->n;
        }

        if (!node->inner) {
            break;
        }

        node = &nodes[node->child + (c ? c - 1 : 0)];
    }

    if (c == 0) {
        return node->carry;
    }

    value = node->value[c - 1];
    prefix = NGX_EDGE_AUTH_LPM4_PREFIX(value);

    if (value == 0 || prefix <= 16) {
        return value;
    }

    /* a prefix within the bucket may have no range after it */

    if (((low ^ node->key[c - 1]) >> (32 - prefix)) != 0) {
        return 0;
    }

    return value;
}


/*
 * Both lines of the slot (nodes are 128 bytes, aligned); a bucket that
 * overflowed its slot still needs the nodes below, which only the slot
 * says where to find.  A prefetch is a hint: no fault, no wait.
 */

void
ngx_edge_auth_lpm4_prefetch(const ngx_edge_auth_lpm4_t *lpm, uint32_t addr)
{
    const ngx_edge_auth_lpm_node_t  *node;

    if (!lpm->slots) {
        return;
    }

    node = (const ngx_edge_auth_lpm_node_t *) lpm->ranges + (addr >> 16);

#if (defined __GNUC__ || defined __clang__)
    __builtin_prefetch(node, 0, 3);
    __builtin_prefetch((const u_char *) node + 64, 0, 3);
#else
    (void) node;
#endif
}


/*
 * The ranges of the address's bucket start in [lo, hi); the range that
 * covers it is the last one of them starting at or below it, or, if none
 * does, the one before the bucket (range 0 starts at 0, in bucket 0).
 * The search keeps that range's key ("below") for the check at the end.
 * A range's value follows its key: the search's last probes have read
 * the line that holds it.
 */

uint32_t
ngx_edge_auth_lpm4_find(const ngx_edge_auth_lpm4_t *lpm, uint32_t addr)
{
    size_t         lo, hi, mid, first, r;
    unsigned       prefix;
    uint32_t       low, bucket, key, below, value;
    const u_char  *k, *ranges;

    if (lpm->slots) {
        return ngx_edge_auth_lpm4_find_slot(lpm, addr);
    }

    if (lpm->n == 0) {
        return 0;
    }

    ranges = lpm->ranges;
    r = lpm->rbytes;

    if (lpm->bits) {
        bucket = addr >> (32 - lpm->bits);
        lo = lpm->index[bucket];
        hi = lpm->index[bucket + 1];
        low = addr & (0xffffffff >> lpm->bits);

#if (defined __GNUC__)
        /*
         * The block (some 20 ranges of 3 bytes in a million-prefix list)
         * and the range before it, whose value an address below the
         * block's first start takes: both ends, in case they straddle
         * a line, fetched at once rather than as the search reaches them.
         */

        __builtin_prefetch(&ranges[(lo ? lo - 1 : 0) * r]);

        if (lo < hi) {
            __builtin_prefetch(&ranges[hi * r - 1]);
        }
#endif

    } else {
        lo = 0;
        hi = lpm->n;
        low = addr;
    }

    first = lo;
    below = 0;

    /* lo: the first range of the block starting above the address */

    switch (lpm->kbytes) {

    case 2:
        while (lo < hi) {
            mid = lo + (hi - lo) / 2;
            k = &ranges[mid * r];
            key = ((uint32_t) k[0] << 8) | k[1];

            if (key <= low) {
                lo = mid + 1;
                below = key;

            } else {
                hi = mid;
            }
        }

        break;

    case 3:
        while (lo < hi) {
            mid = lo + (hi - lo) / 2;
            k = &ranges[mid * r];
            key = ((uint32_t) k[0] << 16) | ((uint32_t) k[1] << 8) | k[2];

            if (key <= low) {
                lo = mid + 1;
                below = key;

            } else {
                hi = mid;
            }
        }

        break;

    default:
        while (lo < hi) {
            mid = lo + (hi - lo) / 2;
            k = &ranges[mid * r];
            key = ((uint32_t) k[0] << 24) | ((uint32_t) k[1] << 16)
                  | ((uint32_t) k[2] << 8) | k[3];

            if (key <= low) {
                lo = mid + 1;
                below = key;

            } else {
                hi = mid;
            }
        }

        break;
    }

    k = &ranges[(lo - 1) * r + lpm->kbytes];
    value = (lpm->vbytes == 1) ? k[0] : ((uint32_t) k[0] << 8) | k[1];
    prefix = NGX_EDGE_AUTH_LPM4_PREFIX(value);

    if (value == 0 || prefix < lpm->bits) {
        return value;
    }

    /*
     * A prefix within one bucket may have no range after it: the address
     * must be in its bucket and share its first "prefix" bits.
     */

    if (lo == first || ((uint64_t) (low ^ below) >> (32 - prefix)) != 0) {
        return 0;
    }

    return value;
}


uint32_t
ngx_edge_auth_lpm6_find(const ngx_edge_auth_lpm6_t *lpm, const u_char *addr)
{
    size_t           lo, hi, mid, i;
    uint64_t         khi, klo;
    const uint64_t  *s;

    if (lpm->n == 0) {
        return 0;
    }

    khi = 0;
    klo = 0;

    for (i = 0; i < 8; i++) {
        khi = (khi << 8) | addr[i];
        klo = (klo << 8) | addr[i + 8];
    }

    lo = 0;
    hi = lpm->n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        s = &lpm->keys[2 * mid];

        if (s[0] < khi || (s[0] == khi && s[1] <= klo)) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return ngx_edge_auth_lpm_get(lpm->values, lpm->vbits, lo - 1);
}
