
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Masking secrets in debug logs.
 */


#ifndef _NGX_EDGE_AUTH_REDACT_H_INCLUDED_
#define _NGX_EDGE_AUTH_REDACT_H_INCLUDED_


#include "ngx_edge_auth.h"


/* 1 when a log of the connection's chain writes debug lines */
ngx_uint_t ngx_edge_auth_redact_wanted(ngx_connection_t *c);

/*
 * Masks the given secrets in every line that the connection's log chain
 * writes, if that chain has debug enabled; a no-op otherwise.
 */
ngx_int_t ngx_edge_auth_redact_log(ngx_connection_t *c, ngx_pool_t *pool,
    ngx_array_t *secrets);


#endif /* _NGX_EDGE_AUTH_REDACT_H_INCLUDED_ */
