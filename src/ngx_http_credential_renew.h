
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The renewal state machine.
 */


#ifndef _NGX_HTTP_CREDENTIAL_RENEW_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_RENEW_H_INCLUDED_


#include "ngx_http_credential_conf.h"
#include "ngx_edge_auth_http.h"


#define NGX_HTTP_CREDENTIAL_RENEW_LOGIN     0
#define NGX_HTTP_CREDENTIAL_RENEW_REFRESH   1
#define NGX_HTTP_CREDENTIAL_RENEW_EXCHANGE  2

/* what came of a renewal: for its log line, or the callback's page */

typedef struct {
    ngx_uint_t                   how;
    const char                  *error;         /* NULL: a new token */
    int64_t                      now;
    int64_t                      expires;
    int64_t                      delay;         /* backoff after a failure */
    int64_t                      valid;         /* the token in use has left */
    ngx_uint_t                   failures;      /* the streak, before or now */
    size_t                       stored;        /* a token the zone refused */
    unsigned                     full_first:1;  /* the zone's first refusal */
    unsigned                     refreshed:1;   /* with a refresh token */
    unsigned                     refused:1;     /* the refresh token refused */
} ngx_http_credential_renewal_t;

ngx_int_t ngx_http_credential_renew_init(ngx_cycle_t *cycle);
void ngx_http_credential_renew_exit(ngx_cycle_t *cycle);
void ngx_http_credential_renew_soon(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred);
/* nginx -t: the login hosts (login_concurrency), and the zone's size */
ngx_int_t ngx_http_credential_renew_hosts(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf);
ngx_int_t ngx_http_credential_renew_sizing(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf);
ngx_uint_t ngx_http_credential_renew_lock(ngx_http_credential_t *cred,
    int64_t now, ngx_pid_t *owner);
void ngx_http_credential_renew_unlock(ngx_http_credential_t *cred);
void ngx_http_credential_renew_cancel(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred);
void ngx_http_credential_renew_finish(ngx_http_credential_t *cred,
    ngx_edge_auth_http_t *hc, ngx_uint_t how,
    ngx_http_credential_renewal_t *rn);


#endif /* _NGX_HTTP_CREDENTIAL_RENEW_H_INCLUDED_ */
