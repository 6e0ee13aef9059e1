
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Credentials that log in: the login part of a credential, the login and
 * refresh requests, and the reading of their answers.
 */


#ifndef _NGX_HTTP_CREDENTIAL_LOGIN_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_LOGIN_H_INCLUDED_


#include "ngx_http_credential_conf.h"
#include "ngx_edge_auth_http.h"
#include "ngx_edge_auth_jwt.h"
#include "ngx_edge_auth_store.h"


#define NGX_HTTP_CREDENTIAL_BODY_FORM    0
#define NGX_HTTP_CREDENTIAL_BODY_JSON    1

#define NGX_HTTP_CREDENTIAL_FROM_JSON    0
#define NGX_HTTP_CREDENTIAL_FROM_HEADER  1
#define NGX_HTTP_CREDENTIAL_FROM_COOKIE  2


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


/*
 * login_ssl_trusted_certificate and a TLS client certificate (RFC 8705
 * tls_client_auth): read when the block ends, and set for few of
 * thousands of credentials, so a part of their own
 */

typedef struct {
    ngx_str_t                    trusted_certificate;
    ngx_str_t                    certificate;
    EVP_PKEY                    *certificate_key;
    ngx_str_t                    certificate_key_file;  /* the directive's */
    ngx_uint_t                   certificate_key_line;
} ngx_http_credential_login_tls_t;


/* a credential whose token comes from a login or token endpoint */

struct ngx_http_credential_login_s {
    ngx_edge_auth_url_t          url;
    ngx_edge_auth_http_conf_t    http;
    ngx_http_credential_login_tls_t  *tls;  /* NULL: no login_ssl_* file */

    ngx_uint_t                   body_type; /* NGX_HTTP_CREDENTIAL_BODY_* */
    ngx_array_t                  params;    /* ngx_keyval_t */
    ngx_array_t                  headers;   /* ngx_keyval_t */
    ngx_str_t                    basic;     /* "Basic ..." or empty */
    ngx_str_t                    request;   /* built once */

    /* a signed JWT instead of a secret (RFC 7523 2.2), one per request */
    ngx_edge_auth_jwt_key_t     *assertion;
    ngx_str_t                    client_id; /* login_param client_id */

    ngx_http_credential_source_t token;
    ngx_array_t                  expires_in;    /* ngx_str_t JSON paths */
    ngx_str_t                    expires_at;    /* JSON path, ISO-8601 */
    ngx_msec_t                   lifetime;
    ngx_msec_t                   max_lifetime;
    ngx_msec_t                   idle_timeout;
    ngx_msec_t                   renew_before;
    /* token_expiry_margin: max(life * percent, min(margin, life / 2)) */
    ngx_msec_t                   margin;
    ngx_uint_t                   margin_percent;
    ngx_msec_t                   wait;
    ngx_msec_t                   backoff_min;
    ngx_msec_t                   backoff_max;

    /* an upstream answer that refuses the token, and its renewals */
    ngx_array_t                  refused_status;    /* ngx_uint_t */
    ngx_msec_t                   refused_interval;

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
    struct ngx_http_credential_values_s  *values;   /* built from copy */
    ngx_edge_auth_http_t        *inflight;  /* this worker's login */

    /* login_concurrency: the hosts of url and refresh_url */
    ngx_http_credential_host_t  *host;
    ngx_http_credential_host_t  *refresh_host;
    /* this worker's: its next look, its wait for a slot, the slot held */
    ngx_event_t                 *ev;
    ngx_queue_t                  queue;     /* in slot_host's waiting */
    ngx_http_credential_host_t  *slot_host;
    ngx_int_t                    slot;
    unsigned                     waiting:1;
    unsigned                     urgent:1;  /* a request waits for it */
    unsigned                     scheduled:1;   /* this worker's to look at */
    ngx_uint_t                   secret;    /* index of 2 slots in secrets */

    /* the fleet (Redis) */
    ngx_str_t                    redis_token;   /* key names */
    ngx_str_t                    redis_lease;
    unsigned                     redis_busy:1;  /* this worker's call */
    unsigned                     leased:1;      /* this worker's lease */
    unsigned                     redis_bad:1;   /* logged: cannot open */
    unsigned                     redis_error:1; /* logged: an error reply */
    unsigned                     fleet:1;       /* shared through Redis */
};


ngx_int_t ngx_http_credential_login_request(ngx_conf_t *cf,
    ngx_http_credential_t *cred);
ngx_int_t ngx_http_credential_login_answer(ngx_http_credential_t *cred,
    ngx_edge_auth_http_t *hc, int64_t now, ngx_str_t *token,
    ngx_str_t *refresh, int64_t *expires, const char **error);
/* the end of a token's use: its expiry less token_expiry_margin */
int64_t ngx_http_credential_usable_end(ngx_http_credential_login_t *login,
    int64_t issued, int64_t expires);
/* when a token issued then is renewed: token_renew_before */
int64_t ngx_http_credential_renew_time(ngx_http_credential_login_t *login,
    int64_t issued, int64_t expires);
ngx_int_t ngx_http_credential_refresh_request(ngx_http_credential_t *cred,
    ngx_pool_t *pool, ngx_str_t *refresh, ngx_str_t *request);
ngx_int_t ngx_http_credential_login_signed(ngx_http_credential_login_t *login,
    ngx_pool_t *pool, ngx_str_t *request);
ngx_int_t ngx_http_credential_form_request(ngx_http_credential_login_t *login,
    ngx_pool_t *pool, ngx_edge_auth_url_t *url, ngx_array_t *params,
    ngx_str_t *name, ngx_str_t *value, ngx_str_t *request);


#endif /* _NGX_HTTP_CREDENTIAL_LOGIN_H_INCLUDED_ */
