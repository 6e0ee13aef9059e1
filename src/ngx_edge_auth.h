
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Declarations shared by ngx_http_credential_module and
 * ngx_http_auth_ip_module.
 */


#ifndef _NGX_EDGE_AUTH_H_INCLUDED_
#define _NGX_EDGE_AUTH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* a secret read from a file may not be larger than this */
#define NGX_EDGE_AUTH_SECRET_MAX  65536


/*
 * A directive argument that names a block defined elsewhere in the http
 * block ("credential NAME", "auth_ip_list NAME").  Blocks may be defined
 * after their first use, so names are resolved when location
 * configurations are merged, and errors then name the directive's own
 * file and line.
 */

typedef void *(*ngx_edge_auth_find_pt)(ngx_conf_t *cf, ngx_str_t *name);

typedef struct {
    ngx_str_t            name;      /* empty for "off" */
    u_char              *file;
    ngx_uint_t           line;
    void                *target;    /* resolved block, NULL for "off" */
    unsigned             set:1;
    unsigned             resolved:1;
} ngx_edge_auth_ref_t;


char *ngx_edge_auth_ref_set(ngx_conf_t *cf, ngx_edge_auth_ref_t *ref);
/* blocks is an array of pointers to structures that start with ngx_str_t */
void *ngx_edge_auth_find(ngx_array_t *blocks, ngx_str_t *name);
/*
 * The name of the block a location refers to, as a variable; data is the
 * module, whose location configuration starts with its ngx_edge_auth_ref_t.
 */
ngx_int_t ngx_edge_auth_ref_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_edge_auth_add_variables(ngx_conf_t *cf,
    ngx_http_variable_t *vars);
char *ngx_edge_auth_ref_merge(ngx_conf_t *cf, ngx_edge_auth_ref_t *conf,
    ngx_edge_auth_ref_t *prev, ngx_edge_auth_find_pt find, const char *what);


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


/*
 * Masks the given secrets in every line that the connection's log chain
 * writes, if that chain has debug enabled; a no-op otherwise.
 */
ngx_int_t ngx_edge_auth_redact_log(ngx_connection_t *c, ngx_pool_t *pool,
    ngx_array_t *secrets);


/* sends the buffer as the whole answer, of the given type */
ngx_int_t ngx_edge_auth_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_buf_t *b);

/* sends {"errorCode": ..., "errorMessage": ..., "errors": []} */
ngx_int_t ngx_edge_auth_send_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *code, ngx_str_t *message);


#endif /* _NGX_EDGE_AUTH_H_INCLUDED_ */
