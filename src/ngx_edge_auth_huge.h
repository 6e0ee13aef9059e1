
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Memory in 2 MB pages for what configuration builds large: a fault per
 * 2 MB instead of per 4 KB while it is written (microseconds each in a
 * VM), and one TLB entry per 2 MB while it is read.
 */


#ifndef _NGX_EDGE_AUTH_HUGE_H_INCLUDED_
#define _NGX_EDGE_AUTH_HUGE_H_INCLUDED_


#include "ngx_edge_auth.h"


#define NGX_EDGE_AUTH_HUGE  (2 * 1024 * 1024)


/*
 * Anonymous memory from a 2 MB boundary, size rounded up to 2 MB; its
 * first "advise" bytes, rounded down to whole 2 MB, advised into huge
 * pages (the rest stays in 4 KB pages: no memory for an unused tail).
 * NULL where the platform has no such advice (then callers take their
 * usual memory) or mmap() fails.  The size given back to
 * ngx_edge_auth_huge_free() is the one asked for.
 */
void *ngx_edge_auth_huge_alloc(size_t size, size_t advise);
void ngx_edge_auth_huge_free(void *p, size_t size);

/* the same, freed with a pool: its cleanup unmaps it */
void *ngx_edge_auth_huge_palloc(ngx_pool_t *pool, size_t size,
    size_t advise);


#endif /* _NGX_EDGE_AUTH_HUGE_H_INCLUDED_ */
