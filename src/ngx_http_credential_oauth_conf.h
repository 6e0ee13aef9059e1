
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#ifndef _NGX_HTTP_CREDENTIAL_OAUTH_CONF_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_OAUTH_CONF_H_INCLUDED_


#include "ngx_http_credential_conf.h"
#include "ngx_http_credential_login.h"


/* the authorization-code flow of a credential, hung from its login part */

struct ngx_http_credential_oauth_s {
    ngx_str_t                    authorize;      /* URL, as configured */
    ngx_array_t                  params;         /* ngx_keyval_t */
    ngx_str_t                    client_id;
    ngx_str_t                    client_secret;
    ngx_str_t                    redirect_uri;
    ngx_str_t                    cookie_path;
    ngx_str_t                    grant_type;
    ngx_str_t                    key;            /* of the state HMAC */
    ngx_msec_t                   state_lifetime;
    unsigned                     secure:1;       /* an https redirect_uri */
};


struct ngx_http_credential_endpoint_s {
    ngx_str_t                    name;
    u_char                      *file;
    ngx_uint_t                   line;
    ngx_uint_t                   callback;       /* else connect */
    ngx_http_credential_t       *cred;
};


/* ngx_http_credential_oauth_conf.c: the flow's directives */
extern ngx_command_t  ngx_http_credential_oauth_commands[];

void *ngx_http_credential_get_oauth(ngx_conf_t *cf,
    ngx_http_credential_t *cred);
ngx_int_t ngx_http_credential_oauth_finish(ngx_conf_t *cf,
    ngx_http_credential_t *cred);
char *ngx_http_credential_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_credential_endpoints_resolve(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf);


#endif /* _NGX_HTTP_CREDENTIAL_OAUTH_CONF_H_INCLUDED_ */
