
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#ifndef _NGX_HTTP_CREDENTIAL_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_H_INCLUDED_


#include "ngx_edge_auth.h"


typedef struct {
    ngx_str_t               name;        /* first: ngx_edge_auth_find() */
    ngx_array_t             headers;     /* ngx_table_elt_t to inject */
    u_char                 *file;
    ngx_uint_t              line;
    unsigned                basic:1;
} ngx_http_credential_t;


typedef struct {
    ngx_array_t             credentials; /* ngx_http_credential_t * */

    /*
     * Every header any credential injects, by identity of its lowcase_key:
     * a request that is redirected internally drops what an earlier
     * location injected, so no credential reaches another upstream.
     */
    ngx_array_t             injected;    /* u_char * (lowcase_key) */

    /* every secret value, masked in debug logs */
    ngx_array_t             secrets;     /* ngx_str_t */
} ngx_http_credential_main_conf_t;


ngx_int_t ngx_http_credential_headers_apply(ngx_http_request_t *r,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred);


#endif /* _NGX_HTTP_CREDENTIAL_H_INCLUDED_ */
