
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The request path: phase handlers and the header filter.
 */


#ifndef _NGX_HTTP_CREDENTIAL_HANDLER_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_HANDLER_H_INCLUDED_


#include "ngx_http_credential_conf.h"


/* registers the phase handlers */
ngx_int_t ngx_http_credential_handler_init(ngx_conf_t *cf);

/* wraps the content handler of a location that injects a credential */
void ngx_http_credential_handler_wrap(ngx_conf_t *cf,
    ngx_http_credential_loc_conf_t *conf);

/* registers the header filter: ngx_http_credential_filter_module's */
ngx_int_t ngx_http_credential_handler_filter_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_CREDENTIAL_HANDLER_H_INCLUDED_ */
