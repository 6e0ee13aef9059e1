
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Memory in 2 MB pages (Linux, MADV_HUGEPAGE).
 */


#include "ngx_edge_auth_huge.h"


#if (NGX_LINUX && defined MADV_HUGEPAGE)

typedef struct {
    void    *p;
    size_t   size;
} ngx_edge_auth_huge_cln_t;


static void ngx_edge_auth_huge_cleanup(void *data);


void *
ngx_edge_auth_huge_alloc(size_t size, size_t advise)
{
    u_char  *map, *start;
    size_t   len;

    size = ngx_align(size, NGX_EDGE_AUTH_HUGE);

    /* 2 MB more, for a start on a 2 MB boundary; the rest unmapped */

    len = size + NGX_EDGE_AUTH_HUGE;

    map = mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS,
               -1, 0);
    if (map == MAP_FAILED) {
        return NULL;
    }

    start = ngx_align_ptr(map, NGX_EDGE_AUTH_HUGE);

    if (start > map) {
        (void) munmap(map, start - map);
    }

    (void) munmap(start + size, map + len - start - size);

    advise &= ~((size_t) NGX_EDGE_AUTH_HUGE - 1);

    if (advise) {
        (void) madvise(start, ngx_min(advise, size), MADV_HUGEPAGE);
    }

    return start;
}


void
ngx_edge_auth_huge_free(void *p, size_t size)
{
    (void) munmap(p, ngx_align(size, NGX_EDGE_AUTH_HUGE));
}


void *
ngx_edge_auth_huge_palloc(ngx_pool_t *pool, size_t size, size_t advise)
{
    ngx_pool_cleanup_t        *cln;
    ngx_edge_auth_huge_cln_t  *hc;

    cln = ngx_pool_cleanup_add(pool, sizeof(ngx_edge_auth_huge_cln_t));
    if (cln == NULL) {
        return NULL;
    }

    hc = cln->data;

    hc->p = ngx_edge_auth_huge_alloc(size, advise);
    if (hc->p == NULL) {
        return NULL;
    }

    hc->size = size;
    cln->handler = ngx_edge_auth_huge_cleanup;

    return hc->p;
}


static void
ngx_edge_auth_huge_cleanup(void *data)
{
    ngx_edge_auth_huge_cln_t  *hc = data;

    ngx_edge_auth_huge_free(hc->p, hc->size);
}

#else

void *
ngx_edge_auth_huge_alloc(size_t size, size_t advise)
{
    return NULL;
}


void
ngx_edge_auth_huge_free(void *p, size_t size)
{
}


void *
ngx_edge_auth_huge_palloc(ngx_pool_t *pool, size_t size, size_t advise)
{
    return NULL;
}

#endif
