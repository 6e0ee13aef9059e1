
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
ngx_int_t ngx_http_credential_headers_apply(ngx_http_request_t *r,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_table_elt_t *extra, ngx_uint_t nextra);


#endif /* _NGX_HTTP_CREDENTIAL_HEADERS_H_INCLUDED_ */
