
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The authorization-code flow: its part of a credential (filled by the
 * directives of ngx_http_credential_oauth_conf.c), the connect and
 * callback steps, and the 503 of a credential that needs its connect step.
 */


#ifndef _NGX_HTTP_CREDENTIAL_OAUTH_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_OAUTH_H_INCLUDED_


#include "ngx_http_credential_conf.h"


/* the flow's part of a credential */

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
    ngx_flag_t                   pkce;           /* RFC 7636, S256 */
    unsigned                     secure:1;       /* an https redirect_uri */
};


/* a credential_connect or credential_callback location */

struct ngx_http_credential_endpoint_s {
    ngx_str_t                    name;
    u_char                      *file;
    ngx_uint_t                   line;
    ngx_uint_t                   callback;       /* else connect */
    ngx_http_credential_t       *cred;
};


/* the content handlers of the two steps */
ngx_int_t ngx_http_credential_connect_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_credential_callback_handler(ngx_http_request_t *r);

/* the 503 of a credential that needs its connect step */
ngx_int_t ngx_http_credential_needs_auth(ngx_http_request_t *r,
    ngx_http_credential_t *cred);


#endif /* _NGX_HTTP_CREDENTIAL_OAUTH_H_INCLUDED_ */
