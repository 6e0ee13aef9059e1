
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The token as requests see it: this worker's copy, refusals.
 */


#ifndef _NGX_HTTP_CREDENTIAL_TOKEN_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_TOKEN_H_INCLUDED_


#include "ngx_http_credential_conf.h"


ngx_uint_t ngx_http_credential_token_refusal(ngx_http_credential_t *cred,
    ngx_uint_t status);
ngx_int_t ngx_http_credential_refused(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_atomic_uint_t generation,
    ngx_uint_t status, ngx_log_t *log);
ngx_int_t ngx_http_credential_token_current(
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_log_t *log);


#endif /* _NGX_HTTP_CREDENTIAL_TOKEN_H_INCLUDED_ */
