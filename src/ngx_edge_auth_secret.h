
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Secrets from "env:NAME", "file:/path" or the configuration itself.
 */


#ifndef _NGX_EDGE_AUTH_SECRET_H_INCLUDED_
#define _NGX_EDGE_AUTH_SECRET_H_INCLUDED_


#include "ngx_edge_auth.h"


/* a secret read from a file may not be larger than this */
#define NGX_EDGE_AUTH_SECRET_MAX  65536


/*
 * Resolves a secret argument: "env:NAME", "file:/path" or a literal.
 * Rejects empty values and control bytes; messages never show the value.
 */
ngx_int_t ngx_edge_auth_secret(ngx_conf_t *cf, ngx_str_t *arg,
    ngx_str_t *secret, const char *what);
/* the same for key material: any bytes, a file exactly as it is */
ngx_int_t ngx_edge_auth_secret_bytes(ngx_conf_t *cf, ngx_str_t *arg,
    ngx_str_t *secret, const char *what);


/*
 * "Basic base64(user:password)" in cf->pool (RFC 7617); with "escape" both
 * are form-urlencoded first, as OAuth 2.0 client authentication wants
 * (RFC 6749 2.3.1).
 */
ngx_int_t ngx_edge_auth_basic(ngx_conf_t *cf, ngx_str_t *user,
    ngx_str_t *password, ngx_uint_t escape, ngx_str_t *value);


#endif /* _NGX_EDGE_AUTH_SECRET_H_INCLUDED_ */
