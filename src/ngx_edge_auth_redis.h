
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * A Redis client on nginx's event loop: hiredis encodes the commands and
 * decodes the answers (redisFormatCommandArgv, redisReader); the
 * connection, its timeouts and its reconnection belong to nginx.  One
 * connection per worker; calls (a few pipelined commands each) go out one
 * after the other.  After a failure the client refuses calls for a while,
 * doubling the pause, so callers fall back to what they have at once.
 * Over TLS the chain and the name are checked before anything is sent; a
 * failed check is an outage like any other.  A client may also listen
 * (SUBSCRIBE): the messages that come outside any call go to a handler.
 */


#ifndef _NGX_EDGE_AUTH_REDIS_H_INCLUDED_
#define _NGX_EDGE_AUTH_REDIS_H_INCLUDED_


#include "ngx_edge_auth.h"
#include "ngx_edge_auth_redis_sentinel.h"
#include "ngx_edge_auth_tls.h"
#include "ngx_edge_auth_redis_slot.h"
#include <hiredis/hiredis.h>


#define NGX_EDGE_AUTH_REDIS_MAX_COMMANDS  4


typedef struct ngx_edge_auth_redis_s       ngx_edge_auth_redis_t;
typedef struct ngx_edge_auth_redis_call_s  ngx_edge_auth_redis_call_t;

typedef void (*ngx_edge_auth_redis_done_pt)(ngx_edge_auth_redis_call_t *call);
/*
 * A listening client's: a pub/sub message (an array "message", channel,
 * payload; freed after the call), or NULL when a connection that was
 * ready is gone (what was published meanwhile is lost).
 */
typedef void (*ngx_edge_auth_redis_push_pt)(void *data, redisReply *reply);


typedef struct {
    ngx_str_t                    text;       /* as configured, for logs */
    ngx_addr_t                  *addrs;
    ngx_uint_t                   naddrs;
    ngx_str_t                    user;       /* empty: "default" */
    ngx_str_t                    password;   /* empty: no AUTH */
    ngx_uint_t                   db;
    ngx_msec_t                   timeout;

    /* Sentinel: the master's address is asked for, instead of addrs */
    ngx_edge_auth_redis_sentinel_conf_t  *sentinel;

    /* TLS: the name sent (SNI) and checked, from the address or given */
    ngx_flag_t                   tls;
    ngx_flag_t                   verify;
    ngx_str_t                    name;
    ngx_str_t                    host;       /* of the address */
#if (NGX_HTTP_SSL)
    ngx_ssl_t                   *ssl;
#endif

    /* until the context is made: what it is made of */
    ngx_str_t                    trusted_certificate;
    ngx_str_t                    certificate;
    EVP_PKEY                    *certificate_key;
    ngx_uint_t                   certificate_key_set;
    const char                  *tls_param;  /* the first redis_ssl_* */

    /* Redis Cluster: addrs are the seed nodes */
    ngx_flag_t                   cluster;
} ngx_edge_auth_redis_conf_t;


struct ngx_edge_auth_redis_call_s {
    ngx_queue_t                  queue;
    ngx_pool_t                  *pool;
    ngx_str_t                    out;        /* the encoded commands */
    ngx_uint_t                   ncommands;

    /* Redis Cluster: the first command's key's slot; where each ends */
    ngx_uint_t                   slot;
    size_t                       ends[NGX_EDGE_AUTH_REDIS_MAX_COMMANDS];

    /* for done(): either error or every reply, in order (room for an
     * ASKING before each command, in a cluster) */
    const char                  *error;
    redisReply                  *replies[2 * NGX_EDGE_AUTH_REDIS_MAX_COMMANDS];
    ngx_uint_t                   nreplies;

    ngx_edge_auth_redis_done_pt  done;
    void                        *data;
};


/*
 * A client whose calls go elsewhere (ngx_edge_auth_redis_cluster.c): its
 * send, usable and close are these.
 */
typedef struct {
    void                       (*send)(void *data,
                                       ngx_edge_auth_redis_call_t *call);
    ngx_uint_t                 (*usable)(void *data);
    void                       (*close)(void *data);
    void                        *data;
} ngx_edge_auth_redis_route_t;


/* down: a flag the node's workers share (shared memory), or NULL */
ngx_edge_auth_redis_t *ngx_edge_auth_redis_create(ngx_cycle_t *cycle,
    ngx_edge_auth_redis_conf_t *conf, ngx_atomic_t *down);
void ngx_edge_auth_redis_route(ngx_edge_auth_redis_t *rd,
    ngx_edge_auth_redis_route_t *route);
/* a client whose connection listens: SUBSCRIBE is sent as a call */
void ngx_edge_auth_redis_listen(ngx_edge_auth_redis_t *rd,
    ngx_edge_auth_redis_push_pt push, void *data);
/* 0 while pausing after a failure: do without Redis for now */
ngx_uint_t ngx_edge_auth_redis_usable(ngx_edge_auth_redis_t *rd);

ngx_edge_auth_redis_call_t *ngx_edge_auth_redis_call_create(
    ngx_edge_auth_redis_t *rd);
ngx_int_t ngx_edge_auth_redis_command(ngx_edge_auth_redis_call_t *call,
    ngx_uint_t argc, ngx_str_t *argv);
/* done() is always called, never from within this call */
void ngx_edge_auth_redis_send(ngx_edge_auth_redis_t *rd,
    ngx_edge_auth_redis_call_t *call);
void ngx_edge_auth_redis_call_free(ngx_edge_auth_redis_call_t *call);

/* at worker exit: fails what is pending and closes */
void ngx_edge_auth_redis_close(ngx_edge_auth_redis_t *rd);
/* the connection only (a listener that stops): pending calls fail */
void ngx_edge_auth_redis_drop(ngx_edge_auth_redis_t *rd);


#endif /* _NGX_EDGE_AUTH_REDIS_H_INCLUDED_ */
