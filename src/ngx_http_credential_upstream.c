
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * What the upstream will see of a request, for the signatures computed
 * in the precontent phase, before the proxy module builds its request.
 */


#include "ngx_http_credential_upstream.h"
#include "ngx_edge_auth_sigv4.h"


/* ctx->body_read: the upstream module reading the body for a signature */
#define NGX_HTTP_CREDENTIAL_UPSTREAM_READING  1
#define NGX_HTTP_CREDENTIAL_UPSTREAM_READ     2


static void ngx_http_credential_upstream_body_read(ngx_http_request_t *r);


ngx_str_t *
ngx_http_credential_upstream_method(ngx_http_request_t *r)
{
    ngx_http_credential_loc_conf_t  *clcf;

    static ngx_str_t  get = ngx_string("GET");

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_credential_module);

    /*
     * ngx_http_upstream_cache() sends every HEAD it may cache as GET, and
     * HEAD is always among proxy_cache_methods; a proxy_cache whose zone
     * is a variable that says "off" sends HEAD (not known here).
     */

    if (r->method == NGX_HTTP_HEAD
        && clcf->proxy.cache == 1 && clcf->proxy.convert_head != 0)
    {
        return &get;
    }

    return &r->method_name;
}


ngx_int_t
ngx_http_credential_upstream_uri(ngx_http_request_t *r, ngx_str_t *path,
    ngx_str_t *args)
{
    u_char     *q;
    uintptr_t   escape;

    if (r->valid_unparsed_uri) {
        *path = r->unparsed_uri;
        args->len = 0;
        args->data = NULL;

        q = ngx_strlchr(path->data, path->data + path->len, '?');

        if (q) {
            args->data = q + 1;
            args->len = path->data + path->len - args->data;
            path->len = q - path->data;
        }

        return NGX_OK;
    }

    escape = ngx_escape_uri(NULL, r->uri.data, r->uri.len, NGX_ESCAPE_URI);

    path->len = r->uri.len + 2 * escape;
    path->data = ngx_pnalloc(r->pool, path->len);
    if (path->data == NULL) {
        return NGX_ERROR;
    }

    ngx_escape_uri(path->data, r->uri.data, r->uri.len, NGX_ESCAPE_URI);

    *args = r->args;

    return NGX_OK;
}


ngx_int_t
ngx_http_credential_upstream_body(ngx_http_request_t *r,
    ngx_http_credential_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ctx->body_read == NGX_HTTP_CREDENTIAL_UPSTREAM_READING) {
        return NGX_DONE;
    }

    /* HTTP/2 and HTTP/3 may send a body with neither header */

    if (ctx->body_read == NGX_HTTP_CREDENTIAL_UPSTREAM_READ
        || r != r->main || r->request_body != NULL
        || !(r->headers_in.content_length_n > 0 || r->headers_in.chunked
             || r->http_version >= NGX_HTTP_VERSION_20))
    {
        return NGX_OK;
    }

    ctx->body_read = NGX_HTTP_CREDENTIAL_UPSTREAM_READING;

    rc = ngx_http_read_client_request_body(r,
                                       ngx_http_credential_upstream_body_read);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    ngx_http_finalize_request(r, NGX_DONE);

    return NGX_DONE;
}


static void
ngx_http_credential_upstream_body_read(ngx_http_request_t *r)
{
    ngx_http_credential_ctx_t  *ctx;

    ctx = ngx_http_credential_ctx(r);
    if (ctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->body_read = NGX_HTTP_CREDENTIAL_UPSTREAM_READ;

    /* the proxy sends the body that was hashed */
    r->preserve_body = 1;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


ngx_int_t
ngx_http_credential_upstream_sha256(ngx_http_request_t *r, u_char *digest)
{
    off_t         off;
    void         *hash;
    size_t        n;
    ssize_t       got;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;
    u_char        buf[4096];

    hash = ngx_edge_auth_sigv4_hash_new();
    if (hash == NULL) {
        return NGX_ERROR;
    }

    for (cl = r->request_body ? r->request_body->bufs : NULL;
         cl;
         cl = cl->next)
    {
        b = cl->buf;

        if (!b->in_file) {
            if (ngx_edge_auth_sigv4_hash_update(hash, b->pos, b->last - b->pos)
                != 0)
            {
                goto failed;
            }

            continue;
        }

        for (off = b->file_pos; off < b->file_last; off += got) {
            n = (size_t) ngx_min((off_t) sizeof(buf), b->file_last - off);

            got = ngx_read_file(b->file, buf, n, off);

            if (got <= 0
                || ngx_edge_auth_sigv4_hash_update(hash, buf, got) != 0)
            {
                goto failed;
            }
        }
    }

    return ngx_edge_auth_sigv4_hash_final(hash, digest) == 0
           ? NGX_OK : NGX_ERROR;

failed:

    ngx_edge_auth_sigv4_hash_free(hash);

    return NGX_ERROR;
}


ngx_int_t
ngx_http_credential_upstream_computed(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_table_elt_t *headers, ngx_str_t *names, ngx_uint_t n,
    const char *kind)
{
    u_char           **lc;
    ngx_uint_t         i, j;
    ngx_table_elt_t   *h, *static_h;

    static_h = cred->headers.elts;

    for (i = 0; i < n; i++) {
        h = &headers[i];

        h->key = names[i];
        h->lowcase_key = ngx_pnalloc(cf->pool, h->key.len);
        if (h->lowcase_key == NULL) {
            return NGX_ERROR;
        }

        ngx_strlow(h->lowcase_key, h->key.data, h->key.len);
        h->hash = ngx_hash_key(h->lowcase_key, h->key.len);

        for (j = 0; j < cred->headers.nelts; j++) {
            if (static_h[j].key.len == h->key.len
                && ngx_http_credential_same_name(static_h[j].lowcase_key,
                                                 h->lowcase_key,
                                                 h->key.len))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "credential \"%V\" sets header \"%V\" "
                                   "twice (\"%s\" sets it)",
                                   &cred->name, &h->key, kind);
                return NGX_ERROR;
            }
        }

        lc = ngx_array_push(&cmcf->injected);
        if (lc == NULL) {
            return NGX_ERROR;
        }

        *lc = h->lowcase_key;
    }

    cred->computed = headers;
    cred->ncomputed = n;

    return NGX_OK;
}
