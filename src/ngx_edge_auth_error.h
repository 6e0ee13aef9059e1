
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Answers sent by the modules themselves: JSON errors.
 */


#ifndef _NGX_EDGE_AUTH_ERROR_H_INCLUDED_
#define _NGX_EDGE_AUTH_ERROR_H_INCLUDED_


#include "ngx_edge_auth.h"


/* sends the buffer as the whole answer, of the given type */
ngx_int_t ngx_edge_auth_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_buf_t *b);

/* sends {"errorCode": ..., "errorMessage": ..., "errors": []} */
ngx_int_t ngx_edge_auth_send_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *code, ngx_str_t *message);


#endif /* _NGX_EDGE_AUTH_ERROR_H_INCLUDED_ */
