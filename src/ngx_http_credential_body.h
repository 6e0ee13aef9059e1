
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Credentials written into JSON request bodies.
 */


#ifndef _NGX_HTTP_CREDENTIAL_BODY_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_BODY_H_INCLUDED_


#include "ngx_http_credential_conf.h"
#include "ngx_http_credential_answer.h"

#include <jansson.h>


/* fields written into a JSON request body */

struct ngx_http_credential_body_s {
    json_t                      *tree;      /* while the block is read */
    ngx_str_t                    members;   /* {"k":{...},..., built once */
    ngx_array_t                  names;     /* ngx_str_t: top-level keys */
    ngx_array_t                  folded;    /* the names, case folded */
    u_char                      *fold;      /* a client's key, folded */
    size_t                       fold_size;
    size_t                       max_size;  /* body_json_max_size */
};


extern ngx_command_t  ngx_http_credential_body_commands[];
void *ngx_http_credential_get_body(ngx_conf_t *cf,
    ngx_http_credential_t *cred);
ngx_int_t ngx_http_credential_body_finish(ngx_conf_t *cf,
    ngx_http_credential_t *cred);
ngx_int_t ngx_http_credential_body_handler(ngx_http_request_t *r,
    ngx_http_credential_t *cred);
ngx_int_t ngx_http_credential_body_restore(ngx_http_request_t *r,
    ngx_http_credential_stash_t *stash);


#endif /* _NGX_HTTP_CREDENTIAL_BODY_H_INCLUDED_ */
