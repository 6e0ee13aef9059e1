
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Named sets of counters in a shared zone of their own, for modules that
 * have no shared memory otherwise (auth_ip).  A set is found by its name
 * when the zone is initialized, so its counters go on across reloads; a
 * reader finds the zone of a cycle without knowing who registered into it.
 */


#ifndef _NGX_EDGE_AUTH_STATS_H_INCLUDED_
#define _NGX_EDGE_AUTH_STATS_H_INCLUDED_


#include "ngx_edge_auth.h"


#define NGX_EDGE_AUTH_STATS_COUNTERS  2

/* the groups of sets, and their counters */
#define NGX_EDGE_AUTH_STATS_IP_LIST   0
#define NGX_EDGE_AUTH_STATS_ALLOWED   0
#define NGX_EDGE_AUTH_STATS_DENIED    1

/* a credential without a store entry (a static one) */
#define NGX_EDGE_AUTH_STATS_STATIC    1
#define NGX_EDGE_AUTH_STATS_INJECTED  0


/* in shared memory */

typedef struct {
    ngx_queue_t                  queue;
    ngx_atomic_t                 counters[NGX_EDGE_AUTH_STATS_COUNTERS];
    ngx_uint_t                   group;
    size_t                       name_len;
    u_char                       name[1];
} ngx_edge_auth_stats_set_t;


/* one registration of a configuration */

typedef struct {
    ngx_uint_t                   group;
    ngx_str_t                    name;
    ngx_uint_t                   size;        /* e.g. prefixes loaded */
    ngx_edge_auth_stats_set_t  **set;         /* set at zone init */
} ngx_edge_auth_stats_want_t;


typedef struct {
    ngx_queue_t                 *sets;        /* in shared memory */
    ngx_slab_pool_t             *shpool;
    ngx_shm_zone_t              *zone;
    ngx_array_t                  wanted;      /* ngx_edge_auth_stats_want_t */
} ngx_edge_auth_stats_t;


/*
 * At configuration time: a set named NAME in GROUP; *set points to its
 * counters once the zone is initialized.  The zone is created by the
 * first set.
 */
ngx_int_t ngx_edge_auth_stats_register(ngx_conf_t *cf, ngx_uint_t group,
    ngx_str_t *name, ngx_uint_t size, ngx_edge_auth_stats_set_t **set);

/* the cycle's stats, NULL when nothing registered */
ngx_edge_auth_stats_t *ngx_edge_auth_stats_get(ngx_cycle_t *cycle);

#define ngx_edge_auth_stats_count(set, i)                                    \
    (void) ngx_atomic_fetch_add(&(set)->counters[i], 1)


#endif /* _NGX_EDGE_AUTH_STATS_H_INCLUDED_ */
