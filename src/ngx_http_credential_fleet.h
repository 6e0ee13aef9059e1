
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The fleet: one token per credential for every gateway node, in Redis.
 */


#ifndef _NGX_HTTP_CREDENTIAL_FLEET_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_FLEET_H_INCLUDED_


#include "ngx_http_credential_conf.h"


/* ngx_http_credential_fleet_publish(): SET the token, or SET ... NX */
#define NGX_HTTP_CREDENTIAL_STORE        1
#define NGX_HTTP_CREDENTIAL_STORE_NEW    2


/* the answer to a lease: NGX_OK, NGX_BUSY, NGX_DECLINED or NGX_ABORT */
typedef void (*ngx_http_credential_fleet_leased_pt)(
    ngx_http_credential_t *cred, ngx_int_t rc);

ngx_int_t ngx_http_credential_fleet_param(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf, ngx_str_t *value);
ngx_int_t ngx_http_credential_fleet_check(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf);
ngx_int_t ngx_http_credential_fleet_names(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred);
/*
 * A credential whose token changed in another process or came from Redis,
 * told to the node's poller, which schedules it from then on: once a poll
 * period.
 */
typedef void (*ngx_http_credential_fleet_changed_pt)(
    ngx_http_credential_t *cred);

ngx_int_t ngx_http_credential_fleet_init(ngx_cycle_t *cycle,
    ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_fleet_leased_pt leased,
    ngx_http_credential_fleet_changed_pt changed);
void ngx_http_credential_fleet_exit(ngx_http_credential_main_conf_t *cmcf);
ngx_uint_t ngx_http_credential_fleet_usable(
    ngx_http_credential_main_conf_t *cmcf);
ngx_int_t ngx_http_credential_fleet_lease(
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_msec_t ttl);
void ngx_http_credential_fleet_sync(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred);
void ngx_http_credential_fleet_publish(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_uint_t store);


#endif /* _NGX_HTTP_CREDENTIAL_FLEET_H_INCLUDED_ */
