
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * credential_status and credential_health: what every credential and IP
 * list is doing, read from shared memory so every worker answers the same.
 */


#ifndef _NGX_HTTP_CREDENTIAL_STATUS_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_STATUS_H_INCLUDED_


#include "ngx_http_credential_conf.h"


struct ngx_http_credential_status_s {
    ngx_uint_t                   health;    /* else the status page */
    ngx_array_t                  names;     /* ngx_str_t, health's */
    ngx_array_t                  creds;     /* ngx_http_credential_t * */
    u_char                      *file;
    ngx_uint_t                   line;
};


/* the setter of both directives */
char *ngx_http_credential_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* after the http block: health's names are token credentials */
ngx_int_t ngx_http_credential_status_resolve(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf);


#endif /* _NGX_HTTP_CREDENTIAL_STATUS_H_INCLUDED_ */
