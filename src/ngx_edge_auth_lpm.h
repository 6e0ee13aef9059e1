
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Longest-prefix match over a static set of IPv4 and IPv6 prefixes.
 *
 * The prefixes are flattened at configuration time into sorted, disjoint
 * address ranges; each range carries the value of the prefix that wins in
 * it (IPv6: packed in as few bits as the values need, 2 for allow/deny;
 * IPv4: a byte or two beside the range's start).  Only range starts are
 * kept: a range ends where the next one starts.
 *
 * An IPv4 value says the length of the prefix that wins
 * (NGX_EDGE_AUTH_LPM4_VALUE()), so the end of a prefix that lies within
 * one index bucket and is followed by no other prefix is not stored: a
 * lookup that lands in such a prefix's range checks that the address is
 * inside it.  Most prefixes of a list nest in no other: one range each.
 *
 * IPv4 ranges are grouped by the top "bits" bits of their start, bits
 * chosen from the number of ranges (0 to 16): an index of 2^bits + 1
 * positions, and of each start only the low 32 - bits bits, in 2, 3 or 4
 * bytes, with the range's value next to it (a 2-byte start and an 8-bit
 * value: 3 bytes).  A lookup reads the index, then binary-searches a block
 * of some 64 starts or fewer (the 16-bit index of a large list: about as
 * many as the list has ranges per /16), whose lines also hold the value:
 * two places in memory per lookup, the index and the block.  Memory: the
 * ranges and an index of at most a few bytes per range: no part is fixed
 * per list.
 *
 * Large IPv4 tables (NGX_EDGE_AUTH_LPM_SLOTS_MIN ranges or more, values
 * of 8 bits) have no index: a 128-byte slot per /16 holds the bucket's
 * ranges, up to 40 (2-byte starts, then 1-byte values, and the value
 * that covers the bucket's first address), so a lookup reads one place:
 * after a system call or a switch of process, one page walk and two
 * adjacent lines instead of two of each.  The few buckets with more
 * ranges (some 5 % of a random million-prefix list's) are small B-trees
 * of such nodes: the slot holds the first start of each of up to 40
 * nodes past the slots.  8 MB fixed: only for lists that large.
 *
 * Pure C, for unit tests and fuzzing.
 */


#ifndef _NGX_EDGE_AUTH_LPM_H_INCLUDED_
#define _NGX_EDGE_AUTH_LPM_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


/* automatic choice of index bits in ngx_edge_auth_lpm4_layout() */
#define NGX_EDGE_AUTH_LPM_AUTO  (-1)

/*
 * IPv4 tables of this many ranges (ngx_edge_auth_lpm4_count()) or more
 * take the slots (ngx_edge_auth_lpm4_layout_slots()), at most 8 bytes a
 * range: about 760,000 random prefixes and up
 */
#define NGX_EDGE_AUTH_LPM_SLOTS_MIN  (1 << 20)


/*
 * IPv4 values: the prefix length and a flag (e.g. deny); 0 is "no prefix
 * covers this address", 66 the largest value (8 bits)
 */
#define NGX_EDGE_AUTH_LPM4_VALUE(prefix, flag)  (1 + ((prefix) << 1 | (flag)))
#define NGX_EDGE_AUTH_LPM4_PREFIX(v)            (((v) - 1) >> 1)


/*
 * A prefix and its value (IPv4: NGX_EDGE_AUTH_LPM4_VALUE() of its length;
 * IPv6: 1 .. 2^vbits - 1; 0 is "no prefix covers this address").  Callers
 * may embed these at the start of larger records: the functions below
 * take the record size.
 */

typedef struct {
    uint32_t    addr;       /* host byte order */
    uint16_t    value;      /* IPv4 tables: 16 bits at most */
    u_char      prefix;
} ngx_edge_auth_lpm4_entry_t;


typedef struct {
    u_char      addr[16];
    uint32_t    value;
    u_char      prefix;
} ngx_edge_auth_lpm6_entry_t;


typedef struct {
    uint32_t   *index;      /* NULL or 2^bits + 1 range positions */
    u_char     *ranges;     /* each: its start's low 32 - bits bits in
                               kbytes, then its value in vbytes, both
                               big-endian */
    uint32_t    n;          /* ranges; 0: nothing matches */
    u_char      bits;
    u_char      kbytes;     /* 2, 3 or 4 */
    u_char      vbytes;     /* 1 (values up to 8 bits) or 2 */
    u_char      rbytes;     /* kbytes + vbytes */
    u_char      slots;      /* ranges: 2^16 slots, then more nodes */
} ngx_edge_auth_lpm4_t;


typedef struct {
    uint64_t   *keys;       /* two words per range, high word first */
    uint32_t   *values;
    uint32_t    n;
    u_char      vbits;
} ngx_edge_auth_lpm6_t;


/* bits per value for values up to max */
unsigned ngx_edge_auth_lpm_vbits(uint32_t max);

/* records in several blocks, as read */
typedef struct {
    const void  *elts;
    size_t       n;
} ngx_edge_auth_lpm_part_t;

/*
 * Sorts the IPv4 records of parts (each beginning with an
 * ngx_edge_auth_lpm4_entry_t, n in all) by address, then shorter prefix
 * first; records that compare equal keep their order.  a and b hold n
 * records each; returns the one that holds the result.  size is a
 * multiple of 4.  A radix sort: four passes of 11-bit digits, the
 * first straight from the parts.
 */
void *ngx_edge_auth_lpm4_sort(const ngx_edge_auth_lpm_part_t *parts,
    size_t nparts, void *a, void *b, size_t size);

/* qsort() order for ngx_edge_auth_lpm6_entry_t: address, then prefix */
int ngx_edge_auth_lpm6_cmp(const void *one, const void *two);

/*
 * Building a table from records sorted as above and free of duplicate
 * prefixes: count the ranges, choose the layout (which returns the bytes
 * of memory the table needs), then build into that memory, zeroed or not.
 * "bits" is the index size, NGX_EDGE_AUTH_LPM_AUTO to choose it from the
 * number of ranges.  The IPv4 count is for an index of 16 bits; a smaller
 * index may leave out more prefix ends (the build sets lpm->n).
 */
size_t ngx_edge_auth_lpm4_count(const void *entries, size_t n, size_t size);
size_t ngx_edge_auth_lpm4_layout(ngx_edge_auth_lpm4_t *lpm, size_t ranges,
    unsigned vbits, int bits);
void ngx_edge_auth_lpm4_build(ngx_edge_auth_lpm4_t *lpm, const void *entries,
    size_t n, size_t size, void *mem);

/*
 * The slots instead (values of 8 bits at most): the nodes besides the
 * 2^16 slots that the records need, then the layout for them.  The build
 * is ngx_edge_auth_lpm4_build(); the memory needs no alignment.
 */
size_t ngx_edge_auth_lpm4_nodes(const void *entries, size_t n, size_t size);
size_t ngx_edge_auth_lpm4_layout_slots(ngx_edge_auth_lpm4_t *lpm,
    size_t nodes);

size_t ngx_edge_auth_lpm6_count(const void *entries, size_t n, size_t size);
size_t ngx_edge_auth_lpm6_layout(ngx_edge_auth_lpm6_t *lpm, size_t ranges,
    unsigned vbits);
void ngx_edge_auth_lpm6_build(ngx_edge_auth_lpm6_t *lpm, const void *entries,
    size_t n, size_t size, void *mem);

/*
 * Slots: starts loading the slot of addr's /16 into the cache, so that a
 * lookup of addr a little later finds it there (other layouts: nothing)
 */
#define NGX_EDGE_AUTH_LPM_PREFETCH  1

void ngx_edge_auth_lpm4_prefetch(const ngx_edge_auth_lpm4_t *lpm,
    uint32_t addr);

/* the value of the longest prefix that covers addr, 0 if none does */
uint32_t ngx_edge_auth_lpm4_find(const ngx_edge_auth_lpm4_t *lpm,
    uint32_t addr);
uint32_t ngx_edge_auth_lpm6_find(const ngx_edge_auth_lpm6_t *lpm,
    const u_char *addr);


#endif /* _NGX_EDGE_AUTH_LPM_H_INCLUDED_ */
