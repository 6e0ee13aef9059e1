
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Longest-prefix match over a static set of IPv4 and IPv6 prefixes.
 *
 * The prefixes are flattened at configuration time into sorted, disjoint
 * address ranges; each range carries the entry that wins in it.  A lookup
 * is a binary search over range starts (plus a /16 index for large IPv4
 * sets), so its cost barely moves with the size of the list, and memory
 * is at most two ranges per prefix.  Pure C, for unit tests and fuzzing.
 */


#ifndef _NGX_EDGE_AUTH_LPM_H_INCLUDED_
#define _NGX_EDGE_AUTH_LPM_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


/* a range value: entry index + 1, 0 means "no entry covers this range" */
#define NGX_EDGE_AUTH_LPM_DENY       0x80000000
#define NGX_EDGE_AUTH_LPM_INDEX(v)   ((v) & ~NGX_EDGE_AUTH_LPM_DENY)

#define NGX_EDGE_AUTH_LPM_INDEX4_MIN  1024


typedef struct {
    u_char      addr[16];
    u_char      family;     /* 4 or 6 */
    u_char      prefix;
    u_char      deny;
} ngx_edge_auth_lpm_entry_t;


typedef struct {
    uint32_t   *start4;     /* range starts, host byte order */
    uint32_t   *value4;
    uint32_t   *index4;     /* NULL or 65537 range positions by /16 */
    size_t      n4;

    uint64_t   *start6;     /* two words per range, high word first */
    uint32_t   *value6;
    size_t      n6;
} ngx_edge_auth_lpm_t;


/* qsort() order: family, then address, then shorter prefix first */
int ngx_edge_auth_lpm_entry_cmp(const void *one, const void *two);

/*
 * Builds the ranges of one family from entries sorted by
 * ngx_edge_auth_lpm_entry_cmp() and free of duplicate prefixes.
 * "first" is the index of entries[0] in the caller's entry table.
 * Output arrays must hold 2 * n + 1 ranges; returns the number used.
 * With NULL arrays nothing is written: the count sizes them exactly.
 */
size_t ngx_edge_auth_lpm_build4(const ngx_edge_auth_lpm_entry_t *entries,
    size_t n, uint32_t first, uint32_t *start, uint32_t *value);
size_t ngx_edge_auth_lpm_build6(const ngx_edge_auth_lpm_entry_t *entries,
    size_t n, uint32_t first, uint64_t *start, uint32_t *value);

/* fills index (65537 slots) for lpm->start4 */
void ngx_edge_auth_lpm_index4(ngx_edge_auth_lpm_t *lpm, uint32_t *index);

uint32_t ngx_edge_auth_lpm_find4(const ngx_edge_auth_lpm_t *lpm,
    uint32_t addr);
uint32_t ngx_edge_auth_lpm_find6(const ngx_edge_auth_lpm_t *lpm,
    const u_char *addr);


#endif /* _NGX_EDGE_AUTH_LPM_H_INCLUDED_ */
