
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#ifndef _NGX_HTTP_CREDENTIAL_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_H_INCLUDED_


#include "ngx_edge_auth.h"
#include "ngx_edge_auth_error.h"
#include "ngx_edge_auth_redact.h"
#include "ngx_edge_auth_ref.h"
#include "ngx_edge_auth_secret.h"
#include "ngx_edge_auth_http.h"
#include "ngx_edge_auth_store.h"
#include "ngx_edge_auth_redis.h"
#include "ngx_edge_auth_seal.h"
#include "ngx_edge_auth_json.h"

#include <jansson.h>


#define NGX_HTTP_CREDENTIAL_BODY_FORM    0
#define NGX_HTTP_CREDENTIAL_BODY_JSON    1

#define NGX_HTTP_CREDENTIAL_FROM_JSON    0
#define NGX_HTTP_CREDENTIAL_FROM_HEADER  1
#define NGX_HTTP_CREDENTIAL_FROM_COOKIE  2

/* ngx_http_credential_fleet_publish(): SET the token, or SET ... NX */
#define NGX_HTTP_CREDENTIAL_STORE        1
#define NGX_HTTP_CREDENTIAL_STORE_NEW    2


/* a header made of the token: PREFIX token SUFFIX */

typedef struct {
    ngx_str_t                    name;
    u_char                      *lowcase;
    ngx_uint_t                   hash;
    ngx_str_t                    prefix;
    ngx_str_t                    suffix;
} ngx_http_credential_tmpl_t;


typedef struct {
    ngx_uint_t                   from;
    ngx_str_t                    name;      /* JSON path, header, cookie */
} ngx_http_credential_source_t;


/* the authorization-code flow of a credential: ngx_http_credential_oauth.c */
typedef struct ngx_http_credential_oauth_s  ngx_http_credential_oauth_t;

/* a credential_connect or credential_callback location */
typedef struct ngx_http_credential_endpoint_s  ngx_http_credential_endpoint_t;


typedef struct {
    ngx_edge_auth_url_t          url;
    ngx_edge_auth_http_conf_t    http;
    ngx_str_t                    trusted_certificate;

    ngx_uint_t                   body_type; /* NGX_HTTP_CREDENTIAL_BODY_* */
    ngx_array_t                  params;    /* ngx_keyval_t */
    ngx_array_t                  headers;   /* ngx_keyval_t */
    ngx_str_t                    basic;     /* "Basic ..." or empty */
    ngx_str_t                    request;   /* built once */

    ngx_http_credential_source_t token;
    ngx_array_t                  expires_in;    /* ngx_str_t JSON paths */
    ngx_str_t                    expires_at;    /* JSON path, ISO-8601 */
    ngx_msec_t                   lifetime;
    ngx_msec_t                   max_lifetime;
    ngx_msec_t                   idle_timeout;
    ngx_msec_t                   renew_before;
    ngx_msec_t                   wait;
    ngx_msec_t                   backoff_min;
    ngx_msec_t                   backoff_max;

    ngx_array_t                  inject;    /* ngx_http_credential_tmpl_t */
    ngx_str_t                    cookie;    /* token_cookie's name */

    /* renewal with a refresh token, when the answer has one */
    ngx_edge_auth_url_t          refresh_url;
    ngx_array_t                  refresh_params;   /* ngx_keyval_t */
    ngx_http_credential_source_t refresh_from;

    /* NULL: logs in by itself; else only an operator's connect step does */
    ngx_http_credential_oauth_t *oauth;

    u_char                       key[NGX_EDGE_AUTH_KEY_LEN];

    /* at run time */
    ngx_edge_auth_store_t       *store;
    ngx_edge_auth_entry_t       *entry;     /* in shared memory */
    ngx_edge_auth_token_t        copy;      /* this worker's */
    ngx_table_elt_t             *values;    /* headers built from copy */
    ngx_edge_auth_http_t        *inflight;  /* this worker's login */
    ngx_uint_t                   secret;    /* index of 2 slots in secrets */

    /* the fleet (Redis) */
    ngx_str_t                    redis_token;   /* key names */
    ngx_str_t                    redis_lease;
    unsigned                     redis_busy:1;  /* this worker's call */
    unsigned                     leased:1;      /* this worker's lease */
    unsigned                     redis_bad:1;   /* logged: cannot open */
    unsigned                     redis_error:1; /* logged: an error reply */
    unsigned                     fleet:1;       /* shared through Redis */
} ngx_http_credential_login_t;


/* fields written into a JSON request body */

typedef struct {
    json_t                      *tree;      /* while the block is read */
    ngx_str_t                    members;   /* "k":{...},... built once */
    ngx_array_t                  names;     /* ngx_str_t: top-level keys */
} ngx_http_credential_body_t;


/* the partner's answer codes: ngx_http_credential_answer.c */

typedef struct {
    ngx_str_t                    code;      /* JSON path in the answer */
    ngx_str_t                    retry;     /* the code that is retried */
    ngx_array_t                  delays;    /* ngx_msec_t */
    ngx_array_t                  fail;      /* ngx_str_t codes */
    size_t                       max_size;
    ngx_uint_t                   refused;   /* this worker's count */
} ngx_http_credential_answer_conf_t;


typedef struct {
    ngx_str_t                    name;      /* first: ngx_edge_auth_find() */
    ngx_array_t                  headers;   /* static ngx_table_elt_t */
    ngx_http_credential_login_t *login;     /* NULL: static credential */
    ngx_http_credential_body_t  *body;      /* NULL: headers only */
    ngx_http_credential_answer_conf_t *answer;  /* NULL: no answer codes */
    unsigned                     refreshing:1;  /* this worker's call */
    u_char                      *file;
    ngx_uint_t                   line;
    unsigned                     basic:1;
} ngx_http_credential_t;


typedef struct {
    ngx_array_t                  credentials;   /* ngx_http_credential_t * */
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
    ngx_edge_auth_store_t       *store;

    ngx_event_t                 *timer;         /* this worker's */

    /* Redis, shared by the gateway nodes; NULL: shared memory only */
    ngx_edge_auth_redis_conf_t  *redis_conf;
    ngx_edge_auth_seal_keys_t    redis_key;
    ngx_uint_t                   redis_key_set;
    ngx_str_t                    redis_prefix;
    ngx_edge_auth_redis_t       *redis;         /* this worker's client */
    ngx_str_t                    redis_owner;   /* this worker's lease id */

    /* credential_connect and credential_callback locations */
    ngx_array_t                  endpoints;     /* endpoint_t * */
} ngx_http_credential_main_conf_t;


typedef struct {
    ngx_edge_auth_ref_t              ref;       /* first: $credential_name */
    ngx_http_credential_endpoint_t  *endpoint;  /* not inherited */
} ngx_http_credential_loc_conf_t;


typedef struct {
    ngx_http_credential_t       *cred;
    ngx_atomic_uint_t            generation;    /* of the injected token */
    int64_t                      deadline;      /* waiting for a token */
    void                        *body;          /* body_ctx_t */
    unsigned                     attempt:1;     /* answer.c's subrequest */
} ngx_http_credential_ctx_t;


/*
 * What the request sent last, kept in a pool cleanup because internal
 * redirects wipe module contexts: an "error_page 401" retry must know
 * which token the partner refused; another location must get the
 * client's body, not one with an earlier location's secrets in it.
 */

typedef struct {
    ngx_http_credential_t       *cred;
    ngx_atomic_uint_t            generation;

    ngx_http_request_body_t     *body;          /* the client's */
    off_t                        content_length_n;
    ngx_str_t                    content_length;
    unsigned                     chunked:1;

    unsigned                     retried:1;
} ngx_http_credential_stash_t;


extern ngx_module_t  ngx_http_credential_module;


/* ngx_http_credential_module.c */
ngx_int_t ngx_http_credential_check_name(ngx_conf_t *cf, ngx_str_t *name);
ngx_int_t ngx_http_credential_secret(ngx_conf_t *cf, ngx_str_t *directive,
    ngx_str_t *name, ngx_str_t *arg, ngx_str_t *secret);

/* ngx_http_credential_handler.c: the request path */
ngx_int_t ngx_http_credential_handler_init(ngx_conf_t *cf);

/* ngx_http_credential_ctx.c: the request's context and stash, waiting */
ngx_http_credential_ctx_t *ngx_http_credential_ctx(ngx_http_request_t *r);
ngx_http_credential_stash_t *ngx_http_credential_stash(ngx_http_request_t *r,
    ngx_uint_t create);
void ngx_http_credential_poll(ngx_http_request_t *r,
    ngx_http_event_handler_pt handler, ngx_msec_t delay);
ngx_int_t ngx_http_credential_polled(ngx_http_request_t *r);


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

/* ngx_http_credential_headers.c */
ngx_int_t ngx_http_credential_headers_apply(ngx_http_request_t *r,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_table_elt_t *extra, ngx_uint_t nextra);

/* ngx_http_credential_login.c: the login request and its answer */
ngx_int_t ngx_http_credential_login_request(ngx_conf_t *cf,
    ngx_http_credential_t *cred);
ngx_int_t ngx_http_credential_login_answer(ngx_http_credential_t *cred,
    ngx_edge_auth_http_t *hc, int64_t now, ngx_str_t *token,
    ngx_str_t *refresh, int64_t *expires, const char **error);
ngx_int_t ngx_http_credential_refresh_request(ngx_http_credential_t *cred,
    ngx_pool_t *pool, ngx_str_t *refresh, ngx_str_t *request);
ngx_int_t ngx_http_credential_form_request(ngx_http_credential_login_t *login,
    ngx_pool_t *pool, ngx_edge_auth_url_t *url, ngx_array_t *params,
    ngx_str_t *name, ngx_str_t *value, ngx_str_t *request);


#define NGX_HTTP_CREDENTIAL_BODY_READING  1
#define NGX_HTTP_CREDENTIAL_BODY_READ     2
#define NGX_HTTP_CREDENTIAL_BODY_PASS     3    /* injected: on to proxy */
#define NGX_HTTP_CREDENTIAL_BODY_ANSWER   4    /* answer.c sends it */


typedef struct ngx_http_credential_answer_s  ngx_http_credential_answer_t;

typedef struct {
    ngx_uint_t                    state;
    ngx_http_credential_answer_t *answer;
} ngx_http_credential_body_ctx_t;


/* ngx_http_credential_body.c: JSON request bodies */
extern ngx_command_t  ngx_http_credential_body_commands[];
void *ngx_http_credential_get_body(ngx_conf_t *cf,
    ngx_http_credential_t *cred);
ngx_int_t ngx_http_credential_check_path(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *directive);
ngx_int_t ngx_http_credential_body_finish(ngx_conf_t *cf,
    ngx_http_credential_t *cred);
ngx_int_t ngx_http_credential_body_handler(ngx_http_request_t *r,
    ngx_http_credential_t *cred);
ngx_int_t ngx_http_credential_body_restore(ngx_http_request_t *r);

/* ngx_http_credential_answer.c: the partner's answer codes */
extern ngx_command_t  ngx_http_credential_answer_commands[];
void *ngx_http_credential_get_answer(ngx_conf_t *cf,
    ngx_http_credential_t *cred);
ngx_int_t ngx_http_credential_answer_finish(ngx_conf_t *cf,
    ngx_http_credential_t *cred);
ngx_int_t ngx_http_credential_answer_init(ngx_conf_t *cf);
ngx_int_t ngx_http_credential_answer_start(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_http_credential_body_ctx_t *bctx);
ngx_int_t ngx_http_credential_answer_resume(ngx_http_request_t *r,
    ngx_http_credential_body_ctx_t *bctx);


/* ngx_http_credential_oauth.c: the authorization-code flow */
ngx_int_t ngx_http_credential_needs_auth(ngx_http_request_t *r,
    ngx_http_credential_t *cred);


/* ngx_http_credential_token.c: the token as requests see it */
void ngx_http_credential_refused(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_atomic_uint_t generation,
    ngx_log_t *log);
ngx_int_t ngx_http_credential_token_current(ngx_http_credential_main_conf_t
    *cmcf, ngx_http_credential_t *cred, ngx_log_t *log);


/* ngx_http_credential_renew.c: the renewal state machine */

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
    unsigned                     refreshed:1;   /* with a refresh token */
    unsigned                     refused:1;     /* the refresh token refused */
} ngx_http_credential_renewal_t;

ngx_int_t ngx_http_credential_renew_init(ngx_cycle_t *cycle);
void ngx_http_credential_renew_exit(ngx_cycle_t *cycle);
void ngx_http_credential_renew_soon(ngx_http_credential_main_conf_t *cmcf);
ngx_uint_t ngx_http_credential_renew_lock(ngx_http_credential_t *cred,
    int64_t now, ngx_pid_t *owner);
void ngx_http_credential_renew_cancel(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred);
void ngx_http_credential_renew_finish(ngx_http_credential_t *cred,
    ngx_edge_auth_http_t *hc, ngx_uint_t how,
    ngx_http_credential_renewal_t *rn);


/* ngx_http_credential_fleet.c: the fleet (Redis) */

/* the answer to a lease: NGX_OK, NGX_BUSY, NGX_DECLINED or NGX_ABORT */
typedef void (*ngx_http_credential_fleet_leased_pt)(
    ngx_http_credential_t *cred, ngx_int_t rc);

ngx_int_t ngx_http_credential_fleet_param(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf, ngx_str_t *value);
ngx_int_t ngx_http_credential_fleet_check(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf);
ngx_int_t ngx_http_credential_fleet_names(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred);
ngx_int_t ngx_http_credential_fleet_init(ngx_cycle_t *cycle,
    ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_fleet_leased_pt leased);
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


#endif /* _NGX_HTTP_CREDENTIAL_H_INCLUDED_ */
