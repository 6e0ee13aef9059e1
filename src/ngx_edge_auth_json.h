
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * jansson trees as the partners' answers use them.
 */


#ifndef _NGX_EDGE_AUTH_JSON_H_INCLUDED_
#define _NGX_EDGE_AUTH_JSON_H_INCLUDED_


#include "ngx_edge_auth.h"

#include <jansson.h>


/* the value at "a.b.c" in nested objects, or NULL */
json_t *ngx_edge_auth_json_path(json_t *root, ngx_str_t *path);


#endif /* _NGX_EDGE_AUTH_JSON_H_INCLUDED_ */
