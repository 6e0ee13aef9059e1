
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Redis Cluster on top of the Redis client: a client whose calls are
 * routed, each to the master that owns its first key's slot, over one
 * connection per master (an ngx_edge_auth_redis_t each, made when first
 * needed).  The slot map comes from CLUSTER SLOTS, asked of a seed and
 * then of any known node; "-MOVED" updates the map (and has it asked
 * again) and sends the commands again to the named node, "-ASK" sends
 * them there once after ASKING; a lost connection has the map asked of
 * another node and the call sent once more.  After five redirections a
 * call fails, as in an outage.  The commands of one call must share a
 * slot (hash tags).
 */


#ifndef _NGX_EDGE_AUTH_REDIS_CLUSTER_H_INCLUDED_
#define _NGX_EDGE_AUTH_REDIS_CLUSTER_H_INCLUDED_


#include "ngx_edge_auth.h"
#include "ngx_edge_auth_redis.h"


/* a client to use as any other: ngx_edge_auth_redis_send() and so on */
ngx_edge_auth_redis_t *ngx_edge_auth_redis_cluster_create(ngx_cycle_t *cycle,
    ngx_edge_auth_redis_conf_t *conf, ngx_atomic_t *down);


#endif /* _NGX_EDGE_AUTH_REDIS_CLUSTER_H_INCLUDED_ */
