
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The login and token directives of a credential block: a command table,
 * the login part it fills, and the checks at the end of the block.
 */


#ifndef _NGX_HTTP_CREDENTIAL_LOGIN_CONF_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_LOGIN_CONF_H_INCLUDED_


#include "ngx_http_credential_conf.h"
#include "ngx_http_credential_login.h"


/* ngx_http_credential_login_conf.c: login and token directives */
extern ngx_command_t  ngx_http_credential_login_commands[];

void *ngx_http_credential_get_login(ngx_conf_t *cf,
    ngx_http_credential_t *cred);
ngx_int_t ngx_http_credential_login_finish(ngx_conf_t *cf,
    ngx_http_credential_t *cred);

/* a refresh without refresh_param: RFC 6749 6, the login's client fields */
ngx_int_t ngx_http_credential_refresh_defaults(
    ngx_http_credential_login_t *login);


#endif /* _NGX_HTTP_CREDENTIAL_LOGIN_CONF_H_INCLUDED_ */
