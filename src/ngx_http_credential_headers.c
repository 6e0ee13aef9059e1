
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Puts a credential's headers into the request headers that the upstream
 * modules (proxy, fastcgi, grpc, ...) forward, after removing every
 * client-sent copy of the same names, in any letter case.
 *
 * ngx_list_t cannot delete, and the proxy module forwards every element
 * of r->headers_in.headers, so the list is rebuilt: the client's is kept
 * whole, to be put back after the upstream request is built.  A
 * subrequest shares its parent's list parts: it always gets a list of
 * its own.
 *
 * Mostly the client sent none of the names: then the list is the client's
 * part, not copied, and a part of the stash's after it (the client's part
 * is not changed: ngx_list_t is copied with its first part).  The values
 * are not copied either: a static one lives in the configuration, a
 * token's as long as the request holds it (token.c).
 */


#include "ngx_http_credential_headers.h"


static ngx_inline ngx_uint_t ngx_http_credential_header_removed(
    ngx_table_elt_t *h,
    ngx_http_request_t *r, ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_table_elt_t *extra, ngx_uint_t nextra);
static ngx_int_t ngx_http_credential_push(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_table_elt_t *h,
    ngx_table_elt_t **authorization);
static ngx_inline ngx_uint_t ngx_http_credential_name_eq(ngx_table_elt_t *h,
    ngx_table_elt_t *tmpl);


ngx_int_t
ngx_http_credential_headers_apply(ngx_http_request_t *r,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_table_elt_t *extra, ngx_uint_t nextra)
{
    ngx_uint_t        i, kept, removed, ninject;
    ngx_list_t        old;
    ngx_table_elt_t  *h, *t, *tmpl, *authorization;
    ngx_list_part_t  *part;

    ninject = cred ? cred->headers.nelts : 0;
    tmpl = cred ? cred->headers.elts : NULL;

    kept = 0;
    removed = 0;
    authorization = r->headers_in.authorization;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (ngx_http_credential_header_removed(&h[i], r, cmcf, cred, extra,
                                               nextra))
        {
            removed++;

            if (&h[i] == authorization) {
                authorization = NULL;
            }

        } else {
            kept++;
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "credential: %ui header(s) removed, %ui injected",
                   removed, ninject + nextra);

    if (removed == 0 && ninject + nextra == 0) {
        return NGX_OK;
    }

    /*
     * Injecting, the client's list is left as it is: it is put back once
     * the upstream request is built (ngx_list_push on it would append to
     * parts that the client's copy shares).
     */

    if (removed || r != r->main || ninject + nextra) {

        /* ngx_list_t points into itself ("last"): build it in place */
        old = r->headers_in.headers;

        if (ngx_list_init(&r->headers_in.headers, r->pool,
                          kept + ninject + nextra + 1, sizeof(ngx_table_elt_t))
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        part = &old.part;
        h = part->elts;

        for (i = 0; /* void */; i++) {

            if (i >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }

                part = part->next;
                h = part->elts;
                i = 0;
            }

            if (ngx_http_credential_header_removed(&h[i], r, cmcf, cred,
                                                   extra, nextra))
            {
                continue;
            }

            t = ngx_list_push(&r->headers_in.headers);
            if (t == NULL) {
                return NGX_ERROR;
            }

            *t = h[i];
        }
    }

    /* static values live in the configuration; the request holds a token */

    for (i = 0; i < ninject; i++) {
        if (ngx_http_credential_push(r, cred, &tmpl[i], &authorization)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    for (i = 0; i < nextra; i++) {
        if (ngx_http_credential_push(r, cred, &extra[i], &authorization)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* the client's, if still there; never a removed or injected one */
    r->headers_in.authorization = authorization;

    return NGX_OK;
}


/*
 * Mostly: a main request, not redirected, whose client sent none of the
 * names, in a list of one part.  That part is the client's, and the
 * stash's follows it; the list's nalloc says that the stash's is full, so
 * a module that pushes a header meanwhile gets a new part.  With more
 * than one name, a bit per length of the names set skips the client's
 * headers of other lengths at once.  NGX_DECLINED: not the case,
 * ngx_http_credential_headers_apply().
 */

ngx_int_t
ngx_http_credential_headers_append(ngx_http_request_t *r,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_table_elt_t *extra, ngx_uint_t nextra,
    ngx_http_credential_stash_t *stash)
{
    uint64_t          lens;
    ngx_uint_t        i, n;
    ngx_list_t       *list;
    ngx_table_elt_t  *h, *tmpl, *one;

    list = &r->headers_in.headers;
    tmpl = cred->headers.elts;
    n = cred->headers.nelts + nextra;

    if (r->internal || list->part.next || n == 0
        || n > NGX_HTTP_CREDENTIAL_STASH_HEADERS)
    {
        return NGX_DECLINED;
    }

    h = list->part.elts;

    /* mostly one header, and no computed one: its name alone */

    if (n == 1 && cred->ncomputed == 0) {
        one = nextra ? extra : tmpl;

        for (i = 0; i < list->part.nelts; i++) {
            if (ngx_http_credential_name_eq(&h[i], one)) {
                return NGX_DECLINED;
            }
        }

        h = stash->headers;
        h[0] = *one;

        goto append;
    }

    lens = 0;

    for (i = 0; i < cred->headers.nelts; i++) {
        lens |= (uint64_t) 1 << (tmpl[i].key.len & 63);
    }

    for (i = 0; i < nextra; i++) {
        lens |= (uint64_t) 1 << (extra[i].key.len & 63);
    }

    for (i = 0; i < cred->ncomputed; i++) {
        lens |= (uint64_t) 1 << (cred->computed[i].key.len & 63);
    }

    for (i = 0; i < list->part.nelts; i++) {
        if ((lens & ((uint64_t) 1 << (h[i].key.len & 63)))
            && ngx_http_credential_header_removed(&h[i], r, cmcf, cred,
                                                  extra, nextra))
        {
            return NGX_DECLINED;
        }
    }

    h = stash->headers;

    for (i = 0; i < cred->headers.nelts; i++) {
        h[i] = tmpl[i];
    }

    for (i = 0; i < nextra; i++) {
        h[cred->headers.nelts + i] = extra[i];
    }

append:

    ngx_http_credential_headers_linked(r, cred, stash, n);

    return NGX_OK;
}


/*
 * The client sent a header of the same length as one of the names to
 * append (headers.h): is it one of them?
 */

ngx_uint_t
ngx_http_credential_headers_named(ngx_http_request_t *r,
    ngx_table_elt_t *tmpl, ngx_uint_t ntmpl)
{
    ngx_uint_t        i, j, n;
    ngx_table_elt_t  *h;

    h = r->headers_in.headers.part.elts;
    n = r->headers_in.headers.part.nelts;

    for (i = 0; i < n; i++) {
        for (j = 0; j < ntmpl; j++) {
            if (ngx_http_credential_name_eq(&h[i], &tmpl[j])) {
                return 1;
            }
        }
    }

    return 0;
}


#if (NGX_DEBUG)

/* names only: values are secrets, at every log level */

void
ngx_http_credential_headers_log(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_table_elt_t *h, ngx_uint_t n)
{
    ngx_uint_t  i;

    for (i = 0; i < n; i++) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "credential \"%V\": injected header \"%V\"",
                       &cred->name, &h[i].key);
    }
}

#endif


static ngx_int_t
ngx_http_credential_push(ngx_http_request_t *r, ngx_http_credential_t *cred,
    ngx_table_elt_t *h, ngx_table_elt_t **authorization)
{
    ngx_table_elt_t  *t;

    t = ngx_list_push(&r->headers_in.headers);
    if (t == NULL) {
        return NGX_ERROR;
    }

    *t = *h;

    /*
     * r->headers_in.authorization is not pointed at ours: $remote_user
     * would decode the partner's user into the access log.
     */

    if (t->key.len == sizeof("authorization") - 1
        && ngx_strncmp(t->lowcase_key, "authorization",
                       sizeof("authorization") - 1) == 0)
    {
        *authorization = NULL;
    }

    /* names only: values are secrets, at every log level */
    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "credential \"%V\": injected header \"%V\"",
                   &cred->name, &t->key);

    return NGX_OK;
}


/* inline: the loop over the client's headers is most of an injection */

static ngx_inline ngx_uint_t
ngx_http_credential_header_removed(ngx_table_elt_t *h, ngx_http_request_t *r,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_table_elt_t *extra, ngx_uint_t nextra)
{
    u_char           **ours;
    ngx_uint_t         i;
    ngx_table_elt_t   *tmpl;

    /* injected by an earlier location of this request or by its parent */

    if (r->internal) {
        ours = cmcf->injected.elts;

        for (i = 0; i < cmcf->injected.nelts; i++) {
            if (h->lowcase_key == ours[i]) {
                return 1;
            }
        }
    }

    if (cred == NULL) {
        return 0;
    }

    /* a client-sent copy of a name that this credential sets */

    tmpl = cred->headers.elts;

    for (i = 0; i < cred->headers.nelts; i++) {
        if (ngx_http_credential_name_eq(h, &tmpl[i])) {
            return 1;
        }
    }

    for (i = 0; i < nextra; i++) {
        if (ngx_http_credential_name_eq(h, &extra[i])) {
            return 1;
        }
    }

    for (i = 0; i < cred->ncomputed; i++) {
        if (ngx_http_credential_name_eq(h, &cred->computed[i])) {
            return 1;
        }
    }

    return 0;
}


/*
 * Compares lowercase names without trusting the parser's hash, and with
 * "_" equal to "-": CGI-style upstreams (fastcgi, uwsgi, scgi) turn both
 * into "_", so "X_Api_Key" would otherwise smuggle a second "x-api-key"
 * when underscores_in_headers is on.
 */

static ngx_inline ngx_uint_t
ngx_http_credential_name_eq(ngx_table_elt_t *h, ngx_table_elt_t *tmpl)
{
    return h->key.len == tmpl->key.len
           && ngx_http_credential_same_name(h->lowcase_key, tmpl->lowcase_key,
                                            h->key.len);
}
