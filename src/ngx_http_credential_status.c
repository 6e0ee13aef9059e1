
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * credential_status: the state and the counters of every credential and
 * IP list, as JSON (the default), Prometheus text (format 0.0.4) or an
 * HTML page; credential_health: 200 while the named credentials hold a
 * usable token, 503 naming those that do not.
 *
 * Everything is read from shared memory (the store's entries, the stats
 * zone of the IP lists), so every worker answers the same.  Only names
 * the operator wrote (credentials, lists) and numbers are ever printed:
 * no token, secret, URL or Redis key is within reach of this file.
 */


#include "ngx_http_credential_status.h"
#include "ngx_http_credential_fleet.h"
#include "ngx_http_credential_login.h"
#include "ngx_edge_auth_ref.h"
#include "ngx_edge_auth_store.h"
#include "ngx_edge_auth_stats.h"


#define NGX_HTTP_CREDENTIAL_STATUS_JSON        0
#define NGX_HTTP_CREDENTIAL_STATUS_PROMETHEUS  1
#define NGX_HTTP_CREDENTIAL_STATUS_HTML        2

/* what the HTML page asks the browser: load again after that many s */
#define NGX_HTTP_CREDENTIAL_STATUS_REFRESH     5


typedef enum {
    NGX_HTTP_CREDENTIAL_STATE_NONE = 0,
    NGX_HTTP_CREDENTIAL_STATE_VALID,
    NGX_HTTP_CREDENTIAL_STATE_RENEWING,
    NGX_HTTP_CREDENTIAL_STATE_BACKOFF,
    NGX_HTTP_CREDENTIAL_STATE_NEEDS_AUTH,
    NGX_HTTP_CREDENTIAL_STATE_N
} ngx_http_credential_state_e;


/* one credential's entry, copied under the store's lock */

typedef struct {
    ngx_uint_t                   state;
    ngx_uint_t                   usable;
    int64_t                      now;
    int64_t                      expires;     /* end of use; 0: no token */
    int64_t                      issued;
    int64_t                      next;        /* 0: nothing planned */
    ngx_uint_t                   failures;
    int64_t                      last_login;
    int64_t                      last_refresh;
    int64_t                      last_sync;
    ngx_uint_t                   redis_up;
    ngx_atomic_uint_t            stats[NGX_EDGE_AUTH_STAT_N];
} ngx_http_credential_snapshot_t;


/* the answer, built into a chain of buffers */

typedef struct {
    ngx_pool_t                  *pool;
    ngx_chain_t                 *out;
    ngx_chain_t                **last;
    ngx_buf_t                   *b;
    size_t                       size;
    ngx_uint_t                   error;
} ngx_http_credential_out_t;


/* a Prometheus gauge of a snapshot's time: milliseconds, as seconds */

typedef struct {
    const char                  *name;
    const char                  *help;
    size_t                       offset;     /* of an int64_t */
} ngx_http_credential_time_t;


/* a Prometheus metric of the entry's counters */

typedef struct {
    const char                  *name;
    const char                  *help;
    const char                  *label;      /* NULL: no second label */
    const char                  *value;
    ngx_uint_t                   stat;
} ngx_http_credential_metric_t;


static ngx_int_t ngx_http_credential_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_credential_status_format(ngx_http_request_t *r,
    ngx_uint_t *format);
static void ngx_http_credential_status_snapshot(ngx_http_credential_t *cred,
    ngx_http_credential_snapshot_t *s);
static void ngx_http_credential_status_json(ngx_http_request_t *r,
    ngx_http_credential_out_t *o);
static void ngx_http_credential_status_prometheus(ngx_http_request_t *r,
    ngx_http_credential_out_t *o);
static void ngx_http_credential_status_static(ngx_http_credential_out_t *o,
    ngx_http_credential_main_conf_t *cmcf);
static void ngx_http_credential_status_html(ngx_http_request_t *r,
    ngx_http_credential_out_t *o);
static ngx_int_t ngx_http_credential_health(ngx_http_request_t *r,
    ngx_http_credential_status_t *st, ngx_http_credential_out_t *o);
static u_char *ngx_http_credential_out_reserve(ngx_http_credential_out_t *o,
    size_t n);
static void ngx_http_credential_out_printf(ngx_http_credential_out_t *o,
    const char *fmt, ...);
static void ngx_http_credential_out_json(ngx_http_credential_out_t *o,
    ngx_str_t *s);
static void ngx_http_credential_out_label(ngx_http_credential_out_t *o,
    ngx_str_t *s);
static void ngx_http_credential_out_html(ngx_http_credential_out_t *o,
    ngx_str_t *s);
static void ngx_http_credential_out_time(ngx_http_credential_out_t *o,
    const char *name, int64_t ms);


static const char  *ngx_http_credential_states[] = {
    "none", "valid", "renewing", "backoff", "needs-authorization"
};


/* the reasons a login fails, in the order of the entry's counters */

static const char  *ngx_http_credential_login_results[] = {
    "ok", "connect", "timeout", "tls", "status", "parse", "refused", "other"
};


static ngx_http_credential_time_t  ngx_http_credential_times[] = {

    { "nginx_credential_token_expiry_timestamp_seconds",
      "When the token's use ends (its expiry less token_expiry_margin), "
      "in seconds since the epoch; 0: no token.",
      offsetof(ngx_http_credential_snapshot_t, expires) },

    { "nginx_credential_next_attempt_timestamp_seconds",
      "When a renewal is tried next, in seconds since the epoch; 0: only "
      "an operator or a running renewal moves it.",
      offsetof(ngx_http_credential_snapshot_t, next) },

    { "nginx_credential_last_login_timestamp_seconds",
      "When the last login succeeded, in seconds since the epoch; 0: never.",
      offsetof(ngx_http_credential_snapshot_t, last_login) },

    { "nginx_credential_last_refresh_timestamp_seconds",
      "When the last refresh succeeded, in seconds since the epoch; 0: "
      "never.",
      offsetof(ngx_http_credential_snapshot_t, last_refresh) },

    { NULL, NULL, 0 }
};


static ngx_http_credential_metric_t  ngx_http_credential_metrics[] = {

    { "nginx_credential_injections_total",
      "Requests sent upstream with the credential's token.",
      NULL, NULL, NGX_EDGE_AUTH_STAT_INJECTED },

    { "nginx_credential_refreshes_total",
      "Renewals with a refresh token, by result.",
      "result", "ok", NGX_EDGE_AUTH_STAT_REFRESH_OK },
    { NULL, NULL, "result", "failed", NGX_EDGE_AUTH_STAT_REFRESH_FAILED },

    { "nginx_credential_upstream_refusals_total",
      "Upstream refusals (token_refused_status) of a request that "
      "carried the token.",
      NULL, NULL, NGX_EDGE_AUTH_STAT_UPSTREAM_REFUSED },

    { "nginx_credential_refusal_renewals_total",
      "Upstream refusals that made the token due and caused a renewal.",
      NULL, NULL, NGX_EDGE_AUTH_STAT_RENEW_REFUSED },

    { "nginx_credential_rejected_requests_total",
      "Requests answered 503 by the module, by error code.",
      "code", "credential-unavailable", NGX_EDGE_AUTH_STAT_UNAVAILABLE },
    { NULL, NULL, "code", "credential-needs-authorization",
      NGX_EDGE_AUTH_STAT_NEEDS_AUTH },

    { "nginx_credential_answer_retries_total",
      "Requests sent again because of the retry answer code.",
      NULL, NULL, NGX_EDGE_AUTH_STAT_ANSWER_RETRY },

    { "nginx_credential_answer_retries_exhausted_total",
      "Retry answer codes passed on because the retries ran out.",
      NULL, NULL, NGX_EDGE_AUTH_STAT_ANSWER_EXHAUSTED },

    { "nginx_credential_answer_refusals_total",
      "Answers with one of the answer_fail codes.",
      NULL, NULL, NGX_EDGE_AUTH_STAT_ANSWER_FAIL },

    { "nginx_credential_redis_lease_contention_total",
      "Renewals that found the fleet's lease held by another node.",
      NULL, NULL, NGX_EDGE_AUTH_STAT_LEASE_BUSY },

    { NULL, NULL, NULL, NULL, 0 }
};


static ngx_str_t  ngx_http_credential_status_json_type =
    ngx_string("application/json");
static ngx_str_t  ngx_http_credential_status_prometheus_type =
    ngx_string("text/plain; version=0.0.4; charset=utf-8");
static ngx_str_t  ngx_http_credential_status_html_type =
    ngx_string("text/html; charset=utf-8");


char *
ngx_http_credential_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_credential_loc_conf_t *lcf = conf;

    ngx_str_t                         *value, *name;
    ngx_uint_t                         i;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_credential_status_t      *st, **stp;
    ngx_http_credential_main_conf_t   *cmcf;

    if (lcf->status) {
        return "is duplicate: a location is one status or health page";
    }

    if (lcf->endpoint) {
        return "cannot share a location with a connect or callback step";
    }

    value = cf->args->elts;

    st = ngx_pcalloc(cf->pool, sizeof(ngx_http_credential_status_t));
    if (st == NULL) {
        return NGX_CONF_ERROR;
    }

    st->health = (ngx_strcmp(value[0].data, "credential_health") == 0);
    st->file = cf->conf_file->file.name.data;
    st->line = cf->conf_file->line;

    if (ngx_array_init(&st->names, cf->pool, 1, sizeof(ngx_str_t)) != NGX_OK
        || ngx_array_init(&st->creds, cf->pool, 1,
                          sizeof(ngx_http_credential_t *))
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        name = ngx_array_push(&st->names);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        *name = value[i];
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_credential_module);

    stp = ngx_array_push(&cmcf->statuses);
    if (stp == NULL) {
        return NGX_CONF_ERROR;
    }

    *stp = st;
    lcf->status = st;

    /*
     * A credential_inject of the server would make the page wait for a
     * token, and answer 503 when the page matters most: the location
     * injects nothing, as with "credential_inject off".
     */

    if (!lcf->ref.set) {
        ngx_str_null(&lcf->ref.name);
        lcf->ref.file = st->file;
        lcf->ref.line = st->line;
        lcf->ref.set = 1;
        lcf->ref.resolved = 1;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_credential_status_handler;

    return NGX_CONF_OK;
}


/*
 * After the http block, where every credential is known: health's names
 * must be token credentials (a static credential is always usable); with
 * none, all token credentials are checked.
 */

ngx_int_t
ngx_http_credential_status_resolve(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf)
{
    ngx_str_t                      *name;
    ngx_uint_t                      i, j;
    ngx_http_credential_t          *cred, **c, **all;
    ngx_http_credential_status_t  **st;

    st = cmcf->statuses.elts;

    for (i = 0; i < cmcf->statuses.nelts; i++) {
        if (!st[i]->health) {
            continue;
        }

        name = st[i]->names.elts;

        for (j = 0; j < st[i]->names.nelts; j++) {
            cred = ngx_edge_auth_names_find(&cmcf->names, &name[j]);

            if (cred == NULL) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "unknown credential \"%V\" in %s:%ui: no "
                              "such \"credential\" block", &name[j],
                              st[i]->file, st[i]->line);
                return NGX_ERROR;
            }

            if (cred->login == NULL) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "credential \"%V\" in %s:%ui has no token to "
                              "check: \"credential_health\" takes token "
                              "credentials", &name[j], st[i]->file,
                              st[i]->line);
                return NGX_ERROR;
            }

            c = ngx_array_push(&st[i]->creds);
            if (c == NULL) {
                return NGX_ERROR;
            }

            *c = cred;
        }

        if (st[i]->names.nelts) {
            continue;
        }

        all = cmcf->logins.elts;

        for (j = 0; j < cmcf->logins.nelts; j++) {
            c = ngx_array_push(&st[i]->creds);
            if (c == NULL) {
                return NGX_ERROR;
            }

            *c = all[j];
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_credential_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_str_t                       *type;
    ngx_uint_t                       format, status;
    ngx_chain_t                     *cl;
    ngx_table_elt_t                 *h;
    ngx_http_credential_out_t        o;
    ngx_http_credential_status_t    *st;
    ngx_http_credential_loc_conf_t  *lcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_credential_module);
    st = lcf->status;

    ngx_memzero(&o, sizeof(ngx_http_credential_out_t));
    o.pool = r->pool;
    o.last = &o.out;

    status = NGX_HTTP_OK;
    type = &ngx_http_credential_status_json_type;

    if (st->health) {
        status = ngx_http_credential_health(r, st, &o);

    } else {
        if (ngx_http_credential_status_format(r, &format) != NGX_OK) {
            return NGX_HTTP_BAD_REQUEST;
        }

        switch (format) {

        case NGX_HTTP_CREDENTIAL_STATUS_PROMETHEUS:
            type = &ngx_http_credential_status_prometheus_type;
            ngx_http_credential_status_prometheus(r, &o);
            break;

        case NGX_HTTP_CREDENTIAL_STATUS_HTML:
            type = &ngx_http_credential_status_html_type;
            ngx_http_credential_status_html(r, &o);
            break;

        default:
            ngx_http_credential_status_json(r, &o);
            break;
        }
    }

    if (o.error) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = status;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_length_n = o.size;

    if (ngx_http_credential_out_reserve(&o, 0) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a page of the moment: never cached, by a proxy or a browser */

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    ngx_str_set(&h->value, "no-store");

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    for (cl = o.out; cl->next; cl = cl->next) { /* void */ }

    cl->buf->last_buf = (r == r->main) ? 1 : 0;
    cl->buf->last_in_chain = 1;

    return ngx_http_output_filter(r, o.out);
}


/*
 * ?format=json|prometheus|html wins; else the Accept header: a browser
 * asks for text/html, a Prometheus server for text/plain;version=0.0.4 or
 * OpenMetrics (answered in 0.0.4, which it takes too); else JSON.
 */

static ngx_int_t
ngx_http_credential_status_format(ngx_http_request_t *r, ngx_uint_t *format)
{
    ngx_str_t         arg, accept;
    ngx_table_elt_t  *h;

    *format = NGX_HTTP_CREDENTIAL_STATUS_JSON;

    if (ngx_http_arg(r, (u_char *) "format", 6, &arg) == NGX_OK) {
        if (arg.len == 4 && ngx_strncmp(arg.data, "json", 4) == 0) {
            return NGX_OK;
        }

        if (arg.len == 10 && ngx_strncmp(arg.data, "prometheus", 10) == 0) {
            *format = NGX_HTTP_CREDENTIAL_STATUS_PROMETHEUS;
            return NGX_OK;
        }

        if (arg.len == 4 && ngx_strncmp(arg.data, "html", 4) == 0) {
            *format = NGX_HTTP_CREDENTIAL_STATUS_HTML;
            return NGX_OK;
        }

        return NGX_ERROR;
    }

    h = r->headers_in.accept;
    if (h == NULL) {
        return NGX_OK;
    }

    accept = h->value;

    if (ngx_strlcasestrn(accept.data, accept.data + accept.len,
                         (u_char *) "text/html", 9 - 1)
        != NULL)
    {
        *format = NGX_HTTP_CREDENTIAL_STATUS_HTML;

    } else if (ngx_strlcasestrn(accept.data, accept.data + accept.len,
                                (u_char *) "application/openmetrics-text",
                                28 - 1)
               != NULL
               || ngx_strlcasestrn(accept.data, accept.data + accept.len,
                                   (u_char *) "version=0.0.4", 13 - 1)
                  != NULL)
    {
        *format = NGX_HTTP_CREDENTIAL_STATUS_PROMETHEUS;
    }

    return NGX_OK;
}


static void
ngx_http_credential_status_snapshot(ngx_http_credential_t *cred,
    ngx_http_credential_snapshot_t *s)
{
    ngx_uint_t                    i, locked;
    ngx_edge_auth_entry_t        *e;
    ngx_http_credential_login_t  *login;

    login = cred->login;
    e = login->entry;

    ngx_memzero(s, sizeof(ngx_http_credential_snapshot_t));

    s->now = ngx_edge_auth_now();

    ngx_edge_auth_store_lock(login->store);

    /* the end of the token's use, token_expiry_margin before its expiry */

    if (e->token) {
        s->expires = ngx_http_credential_usable_end(login, e->issued,
                                                    e->expires);
        s->issued = e->issued;
    }

    s->usable = (e->state == NGX_EDGE_AUTH_TOKEN_VALID
                 && s->now < s->expires);

    locked = (e->lock_owner != 0 && s->now < e->lock_deadline);

    if (e->state == NGX_EDGE_AUTH_TOKEN_NEEDS_AUTH) {
        s->state = NGX_HTTP_CREDENTIAL_STATE_NEEDS_AUTH;

    } else if (locked) {
        s->state = NGX_HTTP_CREDENTIAL_STATE_RENEWING;

    } else if (s->usable) {
        s->state = NGX_HTTP_CREDENTIAL_STATE_VALID;

    } else if (e->backoff > s->now) {
        s->state = NGX_HTTP_CREDENTIAL_STATE_BACKOFF;

    } else {
        s->state = NGX_HTTP_CREDENTIAL_STATE_NONE;
    }

    /* when the renewal timer will try next: renew time or end of backoff */

    if (e->state != NGX_EDGE_AUTH_TOKEN_NEEDS_AUTH && !locked) {
        s->next = ngx_max(e->backoff, (s->usable ? e->renew : s->now));
    }

    s->failures = e->failures;
    s->last_login = e->last_login;
    s->last_refresh = e->last_refresh;
    /* the node's poll of the change log looks for every credential */
    s->last_sync = ngx_max(e->last_sync, login->store->sh->fleet_synced);
    s->redis_up = e->redis_up;

    ngx_edge_auth_store_unlock(login->store);

    for (i = 0; i < NGX_EDGE_AUTH_STAT_N; i++) {
        s->stats[i] = e->stats[i];
    }
}


/* JSON ------------------------------------------------------------------ */

static void
ngx_http_credential_status_json(ngx_http_request_t *r,
    ngx_http_credential_out_t *o)
{
    ngx_uint_t                        i, j, first;
    ngx_http_credential_t           **cred;
    ngx_edge_auth_stats_t            *stats;
    ngx_edge_auth_stats_want_t       *w;
    ngx_http_credential_main_conf_t  *cmcf;
    ngx_http_credential_snapshot_t    s;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_credential_module);

    ngx_http_credential_out_printf(o, "{\"version\":\"%s\",\"time\":%L,"
                                   "\"credentials\":{",
                                   NGX_HTTP_CREDENTIAL_VERSION,
                                   ngx_edge_auth_now() / 1000);

    cred = cmcf->credentials.elts;

    for (i = 0; i < cmcf->credentials.nelts; i++) {
        if (i) {
            ngx_http_credential_out_printf(o, ",");
        }

        ngx_http_credential_out_json(o, &cred[i]->name);

        if (cred[i]->login == NULL) {
            ngx_http_credential_out_printf(o,
                ":{\"type\":\"static\",\"injections\":%uA}",
                cred[i]->stats
                ? cred[i]->stats->counters[NGX_EDGE_AUTH_STATS_INJECTED] : 0);
            continue;
        }

        ngx_http_credential_status_snapshot(cred[i], &s);

        ngx_http_credential_out_printf(o,
            ":{\"type\":\"%s\",\"state\":\"%s\",\"token_usable\":%s,",
            cred[i]->login->oauth ? "oauth" : "token",
            ngx_http_credential_states[s.state],
            s.usable ? "true" : "false");

        ngx_http_credential_out_time(o, "expires_at", s.expires);

        ngx_http_credential_out_printf(o, ",\"expires_in\":%L,",
                                       s.usable
                                       ? (s.expires - s.now) / 1000 : 0);

        ngx_http_credential_out_time(o, "issued_at", s.issued);
        ngx_http_credential_out_printf(o, ",\"failure_streak\":%ui,",
                                       s.failures);
        ngx_http_credential_out_time(o, "next_attempt_at", s.next);
        ngx_http_credential_out_printf(o, ",");
        ngx_http_credential_out_time(o, "last_login_at", s.last_login);
        ngx_http_credential_out_printf(o, ",");
        ngx_http_credential_out_time(o, "last_refresh_at", s.last_refresh);

        ngx_http_credential_out_printf(o,
            ",\"injections\":%uA,"
            "\"logins\":{\"ok\":%uA,\"failed\":{",
            s.stats[NGX_EDGE_AUTH_STAT_INJECTED],
            s.stats[NGX_EDGE_AUTH_STAT_LOGIN_OK]);

        for (j = 1; j < 8; j++) {
            ngx_http_credential_out_printf(o, "%s\"%s\":%uA",
                j > 1 ? "," : "", ngx_http_credential_login_results[j],
                s.stats[NGX_EDGE_AUTH_STAT_LOGIN_OK + j]);
        }

        ngx_http_credential_out_printf(o,
            "}},\"refreshes\":{\"ok\":%uA,\"failed\":%uA},"
            "\"upstream_refusals\":%uA,\"refusal_renewals\":%uA,"
            "\"rejected\":{\"credential-unavailable\":%uA,"
            "\"credential-needs-authorization\":%uA},"
            "\"answer\":{\"retries\":%uA,\"retries_exhausted\":%uA,"
            "\"refusals\":%uA}",
            s.stats[NGX_EDGE_AUTH_STAT_REFRESH_OK],
            s.stats[NGX_EDGE_AUTH_STAT_REFRESH_FAILED],
            s.stats[NGX_EDGE_AUTH_STAT_UPSTREAM_REFUSED],
            s.stats[NGX_EDGE_AUTH_STAT_RENEW_REFUSED],
            s.stats[NGX_EDGE_AUTH_STAT_UNAVAILABLE],
            s.stats[NGX_EDGE_AUTH_STAT_NEEDS_AUTH],
            s.stats[NGX_EDGE_AUTH_STAT_ANSWER_RETRY],
            s.stats[NGX_EDGE_AUTH_STAT_ANSWER_EXHAUSTED],
            s.stats[NGX_EDGE_AUTH_STAT_ANSWER_FAIL]);

        if (cred[i]->login->fleet) {
            ngx_http_credential_out_printf(o,
                ",\"redis\":{\"lease_contention\":%uA,\"up\":%s,",
                s.stats[NGX_EDGE_AUTH_STAT_LEASE_BUSY],
                s.redis_up ? "true" : "false");
            ngx_http_credential_out_time(o, "last_sync_at", s.last_sync);
            ngx_http_credential_out_printf(o, "}");
        }

        ngx_http_credential_out_printf(o, "}");
    }

    ngx_http_credential_out_printf(o, "},\"ip_lists\":{");

    stats = ngx_edge_auth_stats_get((ngx_cycle_t *) ngx_cycle);

    if (stats) {
        w = stats->wanted.elts;
        first = 1;

        for (i = 0; i < stats->wanted.nelts; i++) {
            if (w[i].group != NGX_EDGE_AUTH_STATS_IP_LIST) {
                continue;
            }

            ngx_http_credential_out_printf(o, first ? "" : ",");
            first = 0;

            ngx_http_credential_out_json(o, &w[i].name);
            ngx_http_credential_out_printf(o,
                ":{\"allowed\":%uA,\"denied\":%uA,\"prefixes\":%ui}",
                (*w[i].set)->counters[NGX_EDGE_AUTH_STATS_ALLOWED],
                (*w[i].set)->counters[NGX_EDGE_AUTH_STATS_DENIED],
                w[i].size);
        }
    }

    ngx_http_credential_out_printf(o,
        "},\"redis\":{\"configured\":%s,\"connected\":%s}}\n",
        cmcf->redis_conf ? "true" : "false",
        ngx_http_credential_fleet_usable(cmcf) ? "true" : "false");
}


/* "name":seconds since the epoch, or null */

static void
ngx_http_credential_out_time(ngx_http_credential_out_t *o, const char *name,
    int64_t ms)
{
    if (ms > 0) {
        ngx_http_credential_out_printf(o, "\"%s\":%L", name, ms / 1000);

    } else {
        ngx_http_credential_out_printf(o, "\"%s\":null", name);
    }
}


/* Prometheus ------------------------------------------------------------ */

static void
ngx_http_credential_status_prometheus(ngx_http_request_t *r,
    ngx_http_credential_out_t *o)
{
    int64_t                           v;
    ngx_uint_t                        i, j, k, n, fleet;
    ngx_http_credential_t           **cred;
    ngx_edge_auth_stats_t            *stats;
    ngx_edge_auth_stats_want_t       *w;
    ngx_http_credential_metric_t     *m;
    ngx_http_credential_time_t       *t;
    ngx_http_credential_snapshot_t   *s;
    ngx_http_credential_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_credential_module);

    ngx_http_credential_out_printf(o,
        "# HELP nginx_credential_module_info The module's version.\n"
        "# TYPE nginx_credential_module_info gauge\n"
        "nginx_credential_module_info{version=\"%s\"} 1\n",
        NGX_HTTP_CREDENTIAL_VERSION);

    /* one snapshot per token credential, then metric by metric */

    n = cmcf->logins.nelts;
    cred = cmcf->logins.elts;
    fleet = 0;

    s = ngx_palloc(r->pool, (n + 1) * sizeof(ngx_http_credential_snapshot_t));
    if (s == NULL) {
        o->error = 1;
        return;
    }

    for (i = 0; i < n; i++) {
        ngx_http_credential_status_snapshot(cred[i], &s[i]);
        fleet |= cred[i]->login->fleet;
    }

#define ngx_http_credential_prom_head(metric, help, type)                    \
    ngx_http_credential_out_printf(o, "# HELP " metric " " help "\n"         \
                                   "# TYPE " metric " " type "\n")

#define ngx_http_credential_prom_cred(metric, i)                             \
    ngx_http_credential_out_printf(o, metric "{credential=\"");              \
    ngx_http_credential_out_label(o, &cred[i]->name);                        \
    ngx_http_credential_out_printf(o, "\"")

    ngx_http_credential_prom_head("nginx_credential_state",
        "The credential's state: 1 for the one it is in.", "gauge");

    for (i = 0; i < n; i++) {
        for (k = 0; k < NGX_HTTP_CREDENTIAL_STATE_N; k++) {
            ngx_http_credential_prom_cred("nginx_credential_state", i);
            ngx_http_credential_out_printf(o, ",state=\"%s\"} %d\n",
                                           ngx_http_credential_states[k],
                                           s[i].state == k);
        }
    }

    ngx_http_credential_prom_head("nginx_credential_token_usable",
        "1 while the credential holds a token it injects (one not in "
        "its expiry margin).", "gauge");

    for (i = 0; i < n; i++) {
        ngx_http_credential_prom_cred("nginx_credential_token_usable", i);
        ngx_http_credential_out_printf(o, "} %ui\n", s[i].usable);
    }

    ngx_http_credential_prom_head("nginx_credential_token_expiry_seconds",
        "Seconds until the token's use ends; 0 without a usable token.",
        "gauge");

    for (i = 0; i < n; i++) {
        v = s[i].usable ? s[i].expires - s[i].now : 0;
        ngx_http_credential_prom_cred("nginx_credential_token_expiry_seconds",
                                      i);
        ngx_http_credential_out_printf(o, "} %L.%03L\n", v / 1000, v % 1000);
    }

    /* the times, in seconds since the epoch: 0 for never */

    for (t = ngx_http_credential_times; t->name; t++) {
        ngx_http_credential_out_printf(o, "# HELP %s %s\n# TYPE %s gauge\n",
                                       t->name, t->help, t->name);

        for (i = 0; i < n; i++) {
            v = *(int64_t *) ((u_char *) &s[i] + t->offset);
            ngx_http_credential_out_printf(o, "%s{credential=\"", t->name);
            ngx_http_credential_out_label(o, &cred[i]->name);
            ngx_http_credential_out_printf(o, "\"} %L\n", v / 1000);
        }
    }

    ngx_http_credential_prom_head("nginx_credential_failure_streak",
        "Renewals failed in a row.", "gauge");

    for (i = 0; i < n; i++) {
        ngx_http_credential_prom_cred("nginx_credential_failure_streak", i);
        ngx_http_credential_out_printf(o, "} %ui\n", s[i].failures);
    }

    ngx_http_credential_prom_head("nginx_credential_logins_total",
        "Logins and code exchanges, by result: ok or why they failed.",
        "counter");

    for (i = 0; i < n; i++) {
        for (k = 0; k < 8; k++) {
            ngx_http_credential_prom_cred("nginx_credential_logins_total", i);
            ngx_http_credential_out_printf(o, ",result=\"%s\"} %uA\n",
                ngx_http_credential_login_results[k],
                s[i].stats[NGX_EDGE_AUTH_STAT_LOGIN_OK + k]);
        }
    }

    for (m = ngx_http_credential_metrics; m->stat || m->name; /* void */) {

        /* a metric, and the rows after it without a name of their own */

        if (m->stat == NGX_EDGE_AUTH_STAT_LEASE_BUSY && !fleet) {
            break;
        }

        ngx_http_credential_out_printf(o, "# HELP %s %s\n# TYPE %s counter\n",
                                       m->name, m->help, m->name);

        for (i = 0; i < n; i++) {
            j = 0;

            do {
                ngx_http_credential_out_printf(o, "%s{credential=\"",
                                               m->name);
                ngx_http_credential_out_label(o, &cred[i]->name);

                if (m[j].label) {
                    ngx_http_credential_out_printf(o, "\",%s=\"%s",
                                                   m[j].label, m[j].value);
                }

                ngx_http_credential_out_printf(o, "\"} %uA\n",
                                               s[i].stats[m[j].stat]);
                j++;

            } while (m[j].name == NULL && m[j].stat);
        }

        if (m->stat == NGX_EDGE_AUTH_STAT_INJECTED) {
            ngx_http_credential_status_static(o, cmcf);
        }

        do {
            m++;
        } while (m->name == NULL && m->stat);
    }

    if (fleet) {
        ngx_http_credential_prom_head("nginx_credential_redis_up",
            "1 when Redis's last answer about the credential was usable.",
            "gauge");

        for (i = 0; i < n; i++) {
            if (cred[i]->login->fleet) {
                ngx_http_credential_prom_cred("nginx_credential_redis_up", i);
                ngx_http_credential_out_printf(o, "} %ui\n", s[i].redis_up);
            }
        }

        ngx_http_credential_prom_head(
            "nginx_credential_redis_last_sync_timestamp_seconds",
            "When Redis last answered a look for a newer token, in "
            "seconds since the epoch; 0: never.", "gauge");

        for (i = 0; i < n; i++) {
            if (cred[i]->login->fleet) {
                ngx_http_credential_prom_cred(
                    "nginx_credential_redis_last_sync_timestamp_seconds", i);
                ngx_http_credential_out_printf(o, "} %L\n",
                                               s[i].last_sync / 1000);
            }
        }
    }

    if (cmcf->redis_conf) {
        ngx_http_credential_prom_head("nginx_credential_redis_connected",
            "1 when the answering worker's Redis connection is usable.",
            "gauge");
        ngx_http_credential_out_printf(o,
            "nginx_credential_redis_connected %d\n",
            ngx_http_credential_fleet_usable(cmcf) ? 1 : 0);
    }

#undef ngx_http_credential_prom_head
#undef ngx_http_credential_prom_cred

    stats = ngx_edge_auth_stats_get((ngx_cycle_t *) ngx_cycle);

    if (stats == NULL) {
        return;
    }

    w = stats->wanted.elts;

    ngx_http_credential_out_printf(o,
        "# HELP nginx_auth_ip_requests_total Requests checked by an "
        "auth_ip list, by result.\n"
        "# TYPE nginx_auth_ip_requests_total counter\n");

    for (i = 0; i < stats->wanted.nelts; i++) {
        if (w[i].group != NGX_EDGE_AUTH_STATS_IP_LIST) {
            continue;
        }

        for (k = 0; k < NGX_EDGE_AUTH_STATS_COUNTERS; k++) {
            ngx_http_credential_out_printf(o,
                "nginx_auth_ip_requests_total{list=\"");
            ngx_http_credential_out_label(o, &w[i].name);
            ngx_http_credential_out_printf(o, "\",result=\"%s\"} %uA\n",
                k == NGX_EDGE_AUTH_STATS_ALLOWED ? "allowed" : "denied",
                (*w[i].set)->counters[k]);
        }
    }

    ngx_http_credential_out_printf(o,
        "# HELP nginx_auth_ip_prefixes Prefixes loaded into an auth_ip "
        "list.\n"
        "# TYPE nginx_auth_ip_prefixes gauge\n");

    for (i = 0; i < stats->wanted.nelts; i++) {
        if (w[i].group != NGX_EDGE_AUTH_STATS_IP_LIST) {
            continue;
        }

        ngx_http_credential_out_printf(o, "nginx_auth_ip_prefixes{list=\"");
        ngx_http_credential_out_label(o, &w[i].name);
        ngx_http_credential_out_printf(o, "\"} %ui\n", w[i].size);
    }
}


/* the injections of static credentials, counted in the stats zone */

static void
ngx_http_credential_status_static(ngx_http_credential_out_t *o,
    ngx_http_credential_main_conf_t *cmcf)
{
    ngx_uint_t               i;
    ngx_http_credential_t  **cred;

    cred = cmcf->credentials.elts;

    for (i = 0; i < cmcf->credentials.nelts; i++) {
        if (cred[i]->login || cred[i]->stats == NULL) {
            continue;
        }

        ngx_http_credential_out_printf(o,
            "nginx_credential_injections_total{credential=\"");
        ngx_http_credential_out_label(o, &cred[i]->name);
        ngx_http_credential_out_printf(o, "\"} %uA\n",
            cred[i]->stats->counters[NGX_EDGE_AUTH_STATS_INJECTED]);
    }
}


/* HTML ------------------------------------------------------------------ */

static void
ngx_http_credential_status_html(ngx_http_request_t *r,
    ngx_http_credential_out_t *o)
{
    int64_t                           left, life;
    ngx_uint_t                        i, pct;
    ngx_http_credential_t           **cred;
    ngx_edge_auth_stats_t            *stats;
    ngx_edge_auth_stats_want_t       *w;
    ngx_http_credential_snapshot_t    s;
    ngx_http_credential_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_credential_module);

    ngx_http_credential_out_printf(o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"refresh\" content=\"%d\">"
        "<title>credentials</title><style>"
        "body{font:14px sans-serif;margin:1.5em;color:#222}"
        "table{border-collapse:collapse;margin-bottom:2em}"
        "th,td{padding:.3em .8em;border-bottom:1px solid #ddd;"
        "text-align:left}"
        ".state{font-weight:bold;padding:.1em .5em;border-radius:.3em;"
        "color:#fff}"
        ".valid{background:#2a8a3a}.renewing{background:#2a6ac0}"
        ".backoff{background:#d08000}"
        ".needs-authorization{background:#c02a2a}"
        ".none{background:#777}"
        ".bar{width:12em;height:.8em;background:#eee;border-radius:.2em}"
        ".bar div{height:100%%;background:#2a8a3a;border-radius:.2em}"
        "</style></head><body>\n<h1>Credentials</h1>\n"
        "<p>nginx credential module %s</p>\n"
        "<table id=\"credentials\"><tr><th>credential</th><th>state</th>"
        "<th>time left</th><th>last login</th><th>failure streak</th>"
        "<th>injections</th></tr>\n",
        NGX_HTTP_CREDENTIAL_STATUS_REFRESH, NGX_HTTP_CREDENTIAL_VERSION);

    cred = cmcf->credentials.elts;

    for (i = 0; i < cmcf->credentials.nelts; i++) {
        ngx_http_credential_out_printf(o, "<tr><td class=\"name\">");
        ngx_http_credential_out_html(o, &cred[i]->name);

        if (cred[i]->login == NULL) {
            ngx_http_credential_out_printf(o, "</td><td>static</td>"
                "<td></td><td></td><td></td><td>%uA</td></tr>\n",
                cred[i]->stats
                ? cred[i]->stats->counters[NGX_EDGE_AUTH_STATS_INJECTED] : 0);
            continue;
        }

        ngx_http_credential_status_snapshot(cred[i], &s);

        left = s.usable ? s.expires - s.now : 0;
        life = s.expires - s.issued;
        pct = (life > 0 && left > 0) ? (ngx_uint_t) (left * 100 / life) : 0;

        ngx_http_credential_out_printf(o,
            "</td><td><span class=\"state %s\">%s</span></td>"
            "<td><div class=\"bar\" title=\"%Ls\"><div style=\"width:%ui%%\">"
            "</div></div>%Ls</td><td>",
            ngx_http_credential_states[s.state],
            ngx_http_credential_states[s.state],
            left / 1000, ngx_min(pct, 100), left / 1000);

        if (s.last_login) {
            ngx_http_credential_out_printf(o, "%Ls ago",
                                           (s.now - s.last_login) / 1000);
        } else {
            ngx_http_credential_out_printf(o, "never");
        }

        ngx_http_credential_out_printf(o, "</td><td>%ui</td><td>%uA</td>"
                                       "</tr>\n", s.failures,
                                       s.stats[NGX_EDGE_AUTH_STAT_INJECTED]);
    }

    ngx_http_credential_out_printf(o, "</table>\n<h1>IP lists</h1>\n"
        "<table id=\"ip_lists\"><tr><th>list</th><th>prefixes</th>"
        "<th>allowed</th><th>denied</th></tr>\n");

    stats = ngx_edge_auth_stats_get((ngx_cycle_t *) ngx_cycle);

    if (stats) {
        w = stats->wanted.elts;

        for (i = 0; i < stats->wanted.nelts; i++) {
            if (w[i].group != NGX_EDGE_AUTH_STATS_IP_LIST) {
                continue;
            }

            ngx_http_credential_out_printf(o, "<tr><td class=\"name\">");
            ngx_http_credential_out_html(o, &w[i].name);
            ngx_http_credential_out_printf(o,
                "</td><td>%ui</td><td>%uA</td><td>%uA</td></tr>\n",
                w[i].size,
                (*w[i].set)->counters[NGX_EDGE_AUTH_STATS_ALLOWED],
                (*w[i].set)->counters[NGX_EDGE_AUTH_STATS_DENIED]);
        }
    }

    ngx_http_credential_out_printf(o, "</table>\n</body></html>\n");
}


/* health ---------------------------------------------------------------- */

static ngx_int_t
ngx_http_credential_health(ngx_http_request_t *r,
    ngx_http_credential_status_t *st, ngx_http_credential_out_t *o)
{
    ngx_uint_t                       i, bad, first;
    ngx_http_credential_t          **cred;
    ngx_http_credential_snapshot_t  *s;

    cred = st->creds.elts;

    s = ngx_palloc(r->pool,
                   (st->creds.nelts + 1)
                   * sizeof(ngx_http_credential_snapshot_t));
    if (s == NULL) {
        o->error = 1;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    bad = 0;

    for (i = 0; i < st->creds.nelts; i++) {
        ngx_http_credential_status_snapshot(cred[i], &s[i]);
        bad += !s[i].usable;
    }

    ngx_http_credential_out_printf(o, "{\"healthy\":%s,\"unusable\":[",
                                   bad ? "false" : "true");

    first = 1;

    for (i = 0; i < st->creds.nelts; i++) {
        if (!s[i].usable) {
            ngx_http_credential_out_printf(o, first ? "" : ",");
            ngx_http_credential_out_json(o, &cred[i]->name);
            first = 0;
        }
    }

    ngx_http_credential_out_printf(o, "],\"credentials\":{");

    for (i = 0; i < st->creds.nelts; i++) {
        ngx_http_credential_out_printf(o, i ? "," : "");
        ngx_http_credential_out_json(o, &cred[i]->name);
        ngx_http_credential_out_printf(o, ":\"%s\"",
                                       ngx_http_credential_states[s[i].state]);
    }

    ngx_http_credential_out_printf(o, "}}\n");

    return bad ? NGX_HTTP_SERVICE_UNAVAILABLE : NGX_HTTP_OK;
}


/* output ---------------------------------------------------------------- */

/* room for n bytes at o->b->last; n == 0 makes sure there is a buffer */

static u_char *
ngx_http_credential_out_reserve(ngx_http_credential_out_t *o, size_t n)
{
    size_t        size;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (o->error) {
        return NULL;
    }

    if (o->b && (n == 0 || (size_t) (o->b->end - o->b->last) >= n)) {
        return o->b->last;
    }

    size = ngx_max(n, 16384);

    b = ngx_create_temp_buf(o->pool, size);
    cl = ngx_alloc_chain_link(o->pool);

    if (b == NULL || cl == NULL) {
        o->error = 1;
        return NULL;
    }

    b->memory = 1;

    cl->buf = b;
    cl->next = NULL;
    *o->last = cl;
    o->last = &cl->next;
    o->b = b;

    return b->last;
}


static void
ngx_http_credential_out_printf(ngx_http_credential_out_t *o,
    const char *fmt, ...)
{
    u_char   *p, *last;
    va_list   args;

    /* every format here prints a line of numbers and fixed words */

    p = ngx_http_credential_out_reserve(o, 4096);
    if (p == NULL) {
        return;
    }

    va_start(args, fmt);
    last = ngx_vslprintf(p, o->b->end, fmt, args);
    va_end(args);

    o->size += last - p;
    o->b->last = last;
}


/* "s", JSON-escaped */

static void
ngx_http_credential_out_json(ngx_http_credential_out_t *o, ngx_str_t *s)
{
    u_char  *p, *last;
    size_t   n;

    n = s->len + ngx_escape_json(NULL, s->data, s->len) + 2;

    p = ngx_http_credential_out_reserve(o, n);
    if (p == NULL) {
        return;
    }

    *p++ = '"';
    last = (u_char *) ngx_escape_json(p, s->data, s->len);
    *last++ = '"';

    o->size += last - o->b->last;
    o->b->last = last;
}


/* a Prometheus label value: backslash, double quote and newline escaped */

static void
ngx_http_credential_out_label(ngx_http_credential_out_t *o, ngx_str_t *s)
{
    u_char      *p, *start;
    ngx_uint_t   i;

    p = ngx_http_credential_out_reserve(o, 2 * s->len);
    if (p == NULL) {
        return;
    }

    start = p;

    for (i = 0; i < s->len; i++) {
        switch (s->data[i]) {

        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = s->data[i];
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            *p++ = s->data[i];
        }
    }

    o->size += p - start;
    o->b->last = p;
}


static void
ngx_http_credential_out_html(ngx_http_credential_out_t *o, ngx_str_t *s)
{
    u_char  *p, *last;
    size_t   n;

    n = s->len + ngx_escape_html(NULL, s->data, s->len);

    p = ngx_http_credential_out_reserve(o, n);
    if (p == NULL) {
        return;
    }

    last = (u_char *) ngx_escape_html(p, s->data, s->len);

    o->size += last - p;
    o->b->last = last;
}
