
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * nginx's headers, first: they set the feature macros that the system
 * headers see, so every file includes them before jansson's, OpenSSL's
 * or hiredis's.  Each ngx_edge_auth_*.c and ngx_http_credential_*.c file
 * has its own header for what it exports.
 */


#ifndef _NGX_EDGE_AUTH_H_INCLUDED_
#define _NGX_EDGE_AUTH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#endif /* _NGX_EDGE_AUTH_H_INCLUDED_ */
