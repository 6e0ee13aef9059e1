
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The authorization-code directives of a credential block, and the
 * credential_connect and credential_callback locations.
 */


#ifndef _NGX_HTTP_CREDENTIAL_OAUTH_CONF_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_OAUTH_CONF_H_INCLUDED_


#include "ngx_http_credential_conf.h"
#include "ngx_http_credential_login.h"
#include "ngx_http_credential_oauth.h"


/* the authorization-code flow of a credential, hung from its login part */

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
