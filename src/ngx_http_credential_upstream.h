
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The request as the upstream will see it, for the kinds that sign it
 * (sigv4.c, httpsig.c): the URI that "proxy_pass" without a URI part
 * sends, and the body, read in full and hashed.
 */


#ifndef _NGX_HTTP_CREDENTIAL_UPSTREAM_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_UPSTREAM_H_INCLUDED_


#include "ngx_http_credential_conf.h"
#include "ngx_http_credential_ctx.h"


#define NGX_HTTP_CREDENTIAL_SHA256_LEN  32


/*
 * The method the upstream gets: a HEAD that proxy_cache may store goes as
 * GET (proxy_cache_convert_head, on by default).
 */
ngx_str_t *ngx_http_credential_upstream_method(ngx_http_request_t *r);

/*
 * The path and the query (without "?") that "proxy_pass" without a URI
 * part sends: the client's bytes while they are valid, else the URI
 * escaped as the proxy escapes it.
 */
ngx_int_t ngx_http_credential_upstream_uri(ngx_http_request_t *r,
    ngx_str_t *path, ngx_str_t *args);

/*
 * The body in r->request_body, as the mirror module reads it: NGX_OK once
 * it is there (or there is none), NGX_DONE while it is read (the phases
 * run again when it is), or an HTTP status.
 */
ngx_int_t ngx_http_credential_upstream_body(ngx_http_request_t *r,
    ngx_http_credential_ctx_t *ctx);

/* the SHA-256 of the body read, in memory or in a temporary file */
ngx_int_t ngx_http_credential_upstream_sha256(ngx_http_request_t *r,
    u_char *digest);

/*
 * The n headers a signature computes, named names, as the credential's
 * cred->computed: the client's copies are removed, an internal redirect
 * drops them; a "header" of the same name is an error that names kind.
 */
ngx_int_t ngx_http_credential_upstream_computed(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_table_elt_t *headers, ngx_str_t *names, ngx_uint_t n,
    const char *kind);


#endif /* _NGX_HTTP_CREDENTIAL_UPSTREAM_H_INCLUDED_ */
