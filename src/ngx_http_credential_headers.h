
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * A credential's headers into the request, the client's copies out.
 */


#ifndef _NGX_HTTP_CREDENTIAL_HEADERS_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_HEADERS_H_INCLUDED_


#include "ngx_http_credential_ctx.h"


ngx_int_t ngx_http_credential_headers_append(ngx_http_request_t *r,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_table_elt_t *extra, ngx_uint_t nextra,
    ngx_http_credential_stash_t *stash);
ngx_uint_t ngx_http_credential_headers_named(ngx_http_request_t *r,
    ngx_table_elt_t *tmpl, ngx_uint_t ntmpl);
#if (NGX_DEBUG)
void ngx_http_credential_headers_log(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_table_elt_t *h, ngx_uint_t n);
#endif
ngx_int_t ngx_http_credential_headers_apply(ngx_http_request_t *r,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_table_elt_t *extra, ngx_uint_t nextra);



/*
 * Inline, in the request path's common case (handler.c): a static
 * credential's headers or a token's into a main request that was not
 * redirected, whose list is one part.  1 when the client sent one of
 * their names: they cannot be appended.  The names' lengths first, the
 * names only then.
 */

static ngx_inline ngx_uint_t
ngx_http_credential_headers_sent(ngx_http_request_t *r, ngx_table_elt_t *tmpl,
    ngx_uint_t ntmpl)
{
    uint64_t          lens;
    ngx_uint_t        i, n;
    ngx_table_elt_t  *h;

    h = r->headers_in.headers.part.elts;
    n = r->headers_in.headers.part.nelts;

    lens = 0;

    for (i = 0; i < ntmpl; i++) {
        lens |= (uint64_t) 1 << (tmpl[i].key.len & 63);
    }

    for (i = 0; i < n; i++) {
        if (lens & ((uint64_t) 1 << (h[i].key.len & 63))) {
            return ngx_http_credential_headers_named(r, tmpl, ntmpl);
        }
    }

    return 0;
}


/*
 * The stash's part, holding its first n headers, after the client's: the
 * list's nalloc says that it is full, so a module that pushes a header
 * gets a new part.  r->headers_in.authorization is not pointed at ours:
 * $remote_user would decode the partner's user into the access log.  The
 * client sent no header of these names, so it points at none.
 */

static ngx_inline void
ngx_http_credential_headers_linked(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_http_credential_stash_t *stash,
    ngx_uint_t n)
{
    ngx_list_t  *list;

    list = &r->headers_in.headers;

    stash->part.elts = stash->headers;
    stash->part.nelts = n;
    stash->part.next = NULL;

    list->part.next = &stash->part;
    list->last = &stash->part;
    list->nalloc = n;

#if (NGX_DEBUG)
    if (r->connection->log->log_level & NGX_LOG_DEBUG_HTTP) {
        ngx_http_credential_headers_log(r, cred, stash->headers, n);
    }
#endif
}


/*
 * A static credential's headers, or a token's (the worker's copy, which
 * the request holds), none sent by the client: appended
 */

static ngx_inline void
ngx_http_credential_headers_link(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_http_credential_stash_t *stash,
    ngx_table_elt_t *tmpl, ngx_uint_t n)
{
    ngx_uint_t  i;

    for (i = 0; i < n; i++) {
        stash->headers[i] = tmpl[i];
    }

    ngx_http_credential_headers_linked(r, cred, stash, n);
}


#endif /* _NGX_HTTP_CREDENTIAL_HEADERS_H_INCLUDED_ */
