
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Redis Sentinel for the Redis client: before each new connection the
 * client asks the sentinels, one after the other, where the master named
 * in the configuration is (SENTINEL get-master-addr-by-name), and checks
 * with ROLE that the server it reached is a master.  A short exchange of
 * its own on nginx's event loop (connect, AUTH, one command, close); a
 * sentinel that is down, refuses or does not know the master is skipped.
 */


#ifndef _NGX_EDGE_AUTH_REDIS_SENTINEL_H_INCLUDED_
#define _NGX_EDGE_AUTH_REDIS_SENTINEL_H_INCLUDED_


#include "ngx_edge_auth.h"
#include <hiredis/hiredis.h>


typedef struct ngx_edge_auth_redis_sentinel_s  ngx_edge_auth_redis_sentinel_t;

/* master: the address found, or NULL and error says why */
typedef void (*ngx_edge_auth_redis_sentinel_pt)(void *data,
    ngx_addr_t *master, const char *error);


typedef struct {
    ngx_addr_t                  *addrs;      /* every sentinel, in order */
    ngx_uint_t                   naddrs;
    ngx_str_t                    master;     /* the name sentinels know */
    ngx_str_t                    password;   /* empty: no AUTH */
    ngx_msec_t                   timeout;
} ngx_edge_auth_redis_sentinel_conf_t;


/* "host:port,host:port", each host with every one of its addresses */
ngx_int_t ngx_edge_auth_redis_sentinel_parse(ngx_conf_t *cf, ngx_str_t *v,
    ngx_edge_auth_redis_sentinel_conf_t *conf);

ngx_edge_auth_redis_sentinel_t *ngx_edge_auth_redis_sentinel_create(
    ngx_cycle_t *cycle, ngx_edge_auth_redis_sentinel_conf_t *conf,
    ngx_edge_auth_redis_sentinel_pt handler, void *data);
/* handler() is called once per ask, unless closed before */
void ngx_edge_auth_redis_sentinel_ask(ngx_edge_auth_redis_sentinel_t *s);
ngx_uint_t ngx_edge_auth_redis_sentinel_busy(ngx_edge_auth_redis_sentinel_t *s);

/* the answer to ROLE: NGX_OK for a master, else why not in buf */
ngx_int_t ngx_edge_auth_redis_sentinel_role(ngx_edge_auth_redis_sentinel_t *s,
    redisReply *reply, u_char *buf, size_t len);
/* -READONLY: the master became a replica under our feet */
ngx_uint_t ngx_edge_auth_redis_sentinel_readonly(redisReply *reply);

void ngx_edge_auth_redis_sentinel_close(ngx_edge_auth_redis_sentinel_t *s);


#endif /* _NGX_EDGE_AUTH_REDIS_SENTINEL_H_INCLUDED_ */
