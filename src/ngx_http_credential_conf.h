
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The credential module's configuration: a credential, the main and
 * location configurations, and the checks shared by their directives.
 */


#ifndef _NGX_HTTP_CREDENTIAL_CONF_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_CONF_H_INCLUDED_


#include "ngx_edge_auth.h"
#include "ngx_edge_auth_ref.h"
#include "ngx_edge_auth_redis.h"
#include "ngx_edge_auth_seal.h"
#include "ngx_edge_auth_store.h"
#include "ngx_edge_auth_stats.h"


/* the parts of a credential, each defined by the file that reads it */
typedef struct ngx_http_credential_login_s  ngx_http_credential_login_t;
typedef struct ngx_http_credential_body_s  ngx_http_credential_body_t;
typedef struct ngx_http_credential_answer_conf_s
    ngx_http_credential_answer_conf_t;
typedef struct ngx_http_credential_sigv4_s  ngx_http_credential_sigv4_t;
typedef struct ngx_http_credential_httpsig_s  ngx_http_credential_httpsig_t;

/* the authorization-code flow: ngx_http_credential_oauth_conf.h */
typedef struct ngx_http_credential_oauth_s  ngx_http_credential_oauth_t;

/* a credential_connect or credential_callback location */
typedef struct ngx_http_credential_endpoint_s  ngx_http_credential_endpoint_t;
typedef struct ngx_http_credential_status_s  ngx_http_credential_status_t;


typedef struct {
    ngx_str_t                           name;   /* first: edge_auth_find() */
    ngx_array_t                         headers;  /* static ngx_table_elt_t */
    ngx_http_credential_login_t        *login;  /* NULL: static credential */
    ngx_http_credential_body_t         *body;   /* NULL: headers only */
    ngx_http_credential_answer_conf_t  *answer; /* NULL: no answer codes */
    ngx_http_credential_sigv4_t        *sigv4;  /* NULL: no AWS signature */
    ngx_http_credential_httpsig_t      *httpsig; /* NULL: no RFC 9421 one */

    /*
     * Headers a feature computes for each request (the signature's): the
     * client's copies are removed, whether the request gets one or not.
     */
    ngx_table_elt_t                    *computed;
    ngx_uint_t                          ncomputed;

    ngx_edge_auth_stats_set_t          *stats;  /* a static one's counters */
    unsigned                            refreshing:1; /* this worker's call */
    u_char                             *file;
    ngx_uint_t                          line;
    unsigned                            basic:1;
} ngx_http_credential_t;


/*
 * A login host (host:port of a login or refresh URL): its slots in the
 * zone (login_concurrency), and this worker's credentials that wait for
 * one.
 */

typedef struct {
    ngx_str_t                    name;
    ngx_edge_auth_host_t        *sh;
    ngx_queue_t                  waiting;
    ngx_event_t                  retry;
} ngx_http_credential_host_t;


typedef struct ngx_http_credential_huge_s  ngx_http_credential_huge_t;

#define NGX_HTTP_CREDENTIAL_URLS  16


typedef struct {
    ngx_array_t                  credentials;   /* ngx_http_credential_t * */
    ngx_edge_auth_names_t        names;         /* the credentials */
    ngx_array_t                  logins;        /* ngx_http_credential_t * */

    /*
     * Every header any credential injects, by identity of its lowcase_key:
     * a request that is redirected internally drops what an earlier
     * location injected, so no credential reaches another upstream.
     */
    ngx_array_t                  injected;      /* u_char * */

    /* every secret value, and slots for tokens: masked in debug logs */
    ngx_array_t                  secrets;       /* ngx_str_t */

    ngx_str_t                    store_name;
    size_t                       store_size;
    u_char                      *store_file;    /* NULL: the default zone */
    ngx_uint_t                   store_line;
    ngx_edge_auth_store_t       *store;

    /* logins in flight per login host and node */
    ngx_int_t                    login_concurrency;
    ngx_array_t                  hosts;   /* ngx_http_credential_host_t * */

    ngx_event_t                 *timer;         /* this worker's */

    /* Redis, shared by the gateway nodes; NULL: shared memory only */
    ngx_edge_auth_redis_conf_t  *redis_conf;
    ngx_edge_auth_seal_keys_t    redis_key;
    ngx_uint_t                   redis_key_set;
    ngx_str_t                    redis_prefix;
    ngx_edge_auth_redis_t       *redis;         /* this worker's client */
    ngx_str_t                    redis_owner;   /* this worker's lease id */

    /*
     * The fleet's change counter and log (fleet.c): one GET a second per
     * node at rest, whatever the number of credentials.
     */
    ngx_str_t                    redis_changes;
    ngx_str_t                    redis_changes_log;
    ngx_event_t                 *redis_timer;   /* this worker's poll */
    ngx_http_credential_t      **redis_sorted;  /* logins by key name */
    ngx_uint_t                   redis_polling; /* this worker's, in flight */

    /* the zone's changed entries this worker has seen (store->sh) */
    ngx_http_credential_t      **redis_by_entry; /* logins by entry */
    ngx_atomic_uint_t            redis_changes_seen;

    /* credential_connect and credential_callback locations */
    ngx_array_t                  endpoints;     /* endpoint_t * */

    /* credential_status and credential_health locations */
    ngx_array_t                  statuses;      /* status_t * */

    /*
     * The indexed variables that read the request ($http_*, $cookie_*,
     * $remote_user, $request_body): their cached values are dropped when
     * the client's view is back (handler.c)
     */
    ngx_uint_t                  *flushes;
    ngx_uint_t                   nflushes;

    /* login and refresh URLs parsed, by CRC32 (login_conf.c) */
    void                        *urls[NGX_HTTP_CREDENTIAL_URLS];

    /* the pool credential blocks are read into, its 2 MB blocks (conf.c) */
    ngx_pool_t                  *pool;
    ngx_http_credential_huge_t  *huge;
} ngx_http_credential_main_conf_t;


/*
 * What the proxy module's directives said in a location, recorded as they
 * are read (ngx_http_credential_cache.c): the proxy's own configuration is
 * private to it.
 */

typedef struct {
    ngx_int_t                    cache;     /* proxy_cache: UNSET, 0, 1 */
    ngx_int_t                    convert_head;  /* UNSET (on), 0, 1 */
    u_char                      *cache_file;
    ngx_uint_t                   cache_line;
    ngx_str_t                    key;       /* proxy_cache_key's text */
    u_char                      *key_file;  /* NULL: the default key */
    ngx_uint_t                   key_line;
    u_char                      *pass_file; /* NULL: no proxy_pass here */
    ngx_uint_t                   pass_line;
} ngx_http_credential_proxy_t;


typedef struct {
    ngx_edge_auth_ref_t              ref;       /* first: $credential_name */
    ngx_http_credential_endpoint_t  *endpoint;  /* not inherited */
    ngx_http_credential_status_t    *status;    /* not inherited */
    ngx_http_credential_proxy_t      proxy;

    /* the location's content handler, wrapped (handler.c) */
    ngx_http_handler_pt              handler;
} ngx_http_credential_loc_conf_t;


extern ngx_module_t  ngx_http_credential_module;


/*
 * The directives inside "credential NAME { ... }" are ngx_command_t tables,
 * one per feature file, walked by module.c's block handler.  Their offsets
 * point into a part of the credential that the table's part function
 * returns, creating it on first use.  While a block is read
 * cf->handler_conf is its credential: a setter that names it in a message
 * takes it from there.
 */

typedef void *(*ngx_http_credential_part_pt)(ngx_conf_t *cf,
    ngx_http_credential_t *cred);

/*
 * The post of a stock msec or size slot: its bounds, and the message for a
 * value outside them or one that does not parse.
 */

typedef struct {
    ngx_conf_post_handler_pt     post_handler;
    size_t                       low;
    size_t                       high;      /* 0: no upper bound */
    char                        *message;   /* %V: the value as written */
} ngx_http_credential_bounds_t;

char *ngx_http_credential_size_bounds(ngx_conf_t *cf, void *post,
    void *data);
char *ngx_http_credential_msec_bounds(ngx_conf_t *cf, void *post,
    void *data);
/* for 1MORE and 2MORE directives that still have an upper bound */
ngx_int_t ngx_http_credential_args_max(ngx_conf_t *cf, ngx_uint_t max);

/* the pool a credential block is read into: ngx_http_credential_conf.c */
ngx_pool_t *ngx_http_credential_block_pool(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf);
/* an argument that may be "env:NAME" or "file:/path", named in messages */
ngx_int_t ngx_http_credential_secret(ngx_conf_t *cf, ngx_str_t *directive,
    ngx_str_t *name, ngx_str_t *arg, ngx_str_t *secret);
/* RFC 9110 token characters, and none of the headers nginx manages */
ngx_int_t ngx_http_credential_check_name(ngx_conf_t *cf, ngx_str_t *name);
/* lower-case names, one header to an upstream: "_" equal to "-" */
ngx_uint_t ngx_http_credential_same_name(u_char *a, u_char *b, size_t len);
/* "a.b.c": keys of visible ASCII */
ngx_int_t ngx_http_credential_check_path(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *directive);
/* NAME VALUE into an array of ngx_keyval_t at cmd->offset; VALUE a secret */
char *ngx_http_credential_keyval_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/* up to 8 values, once, into an array of ngx_str_t; cmd->post checks each */
char *ngx_http_credential_list_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_CREDENTIAL_CONF_H_INCLUDED_ */
