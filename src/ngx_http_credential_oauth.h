
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#ifndef _NGX_HTTP_CREDENTIAL_OAUTH_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_OAUTH_H_INCLUDED_


#include "ngx_http_credential_conf.h"


/* ngx_http_credential_oauth.c: the content handlers of the two steps */
ngx_int_t ngx_http_credential_connect_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_credential_callback_handler(ngx_http_request_t *r);

/* the 503 of a credential that needs its connect step */
ngx_int_t ngx_http_credential_needs_auth(ngx_http_request_t *r,
    ngx_http_credential_t *cred);


#endif /* _NGX_HTTP_CREDENTIAL_OAUTH_H_INCLUDED_ */
