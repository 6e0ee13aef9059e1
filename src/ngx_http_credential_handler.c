
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The request path.  In the precontent phase, after every access check
 * has seen the client's own headers and before an upstream module builds
 * its request, a location's credential goes into the request: its
 * headers, a current token (a request without one waits for it, then
 * gets a 503), and its JSON body.  In the rewrite phase an internal
 * request drops what an earlier location injected.  A header filter
 * hears the upstream refuse the token a request carried.
 */


#include "ngx_http_credential_handler.h"
#include "ngx_http_credential_body.h"
#include "ngx_http_credential_ctx.h"
#include "ngx_http_credential_headers.h"
#include "ngx_http_credential_login.h"
#include "ngx_http_credential_oauth.h"
#include "ngx_http_credential_renew.h"
#include "ngx_http_credential_sigv4.h"
#include "ngx_http_credential_token.h"
#include "ngx_edge_auth_error.h"
#include "ngx_edge_auth_redact.h"
#include "ngx_edge_auth_store.h"


static ngx_int_t ngx_http_credential_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_credential_rewrite_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_credential_wait(ngx_http_request_t *r,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_http_credential_ctx_t *ctx);
static void ngx_http_credential_wait_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_credential_unavailable(ngx_http_request_t *r,
    ngx_http_credential_t *cred, int64_t waited);
static void ngx_http_credential_retry(ngx_http_request_t *r,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_http_credential_stash_t *stash);
static ngx_int_t ngx_http_credential_header_filter(ngx_http_request_t *r);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


static ngx_str_t  ngx_http_credential_unavailable_code =
    ngx_string("credential-unavailable");
static ngx_str_t  ngx_http_credential_unavailable_message =
    ngx_string("The upstream credential is not available at the moment");


ngx_int_t
ngx_http_credential_handler_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_credential_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_credential_rewrite_handler;

    return NGX_OK;
}


/*
 * The header filter: called by ngx_http_credential_filter_module, which
 * nginx orders among the filter modules (built in statically, a filter
 * registered by an HTTP module would sit below nginx's header filter).
 */

ngx_int_t
ngx_http_credential_handler_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_credential_header_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_credential_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_uint_t                        nextra;
    ngx_table_elt_t                  *extra;
    ngx_http_credential_t            *cred;
    ngx_http_credential_ctx_t        *ctx;
    ngx_http_credential_stash_t      *stash;
    ngx_http_credential_loc_conf_t   *clcf;
    ngx_http_credential_body_ctx_t   *bctx;
    ngx_http_credential_main_conf_t  *cmcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_credential_module);

    cred = clcf->ref.target;

    /* only an internal request can carry an earlier location's credential */

    if (cred == NULL && !r->internal) {
        return NGX_DECLINED;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_credential_module);

    extra = NULL;
    nextra = 0;

    /* a 401 sent elsewhere by error_page still refuses the token */

    if (r->internal && r == r->main && cmcf->logins.nelts) {
        stash = ngx_http_credential_stash(r, 0);

        if (stash && stash->cred && !stash->retried) {
            ngx_http_credential_retry(r, cmcf, stash->cred, stash);
        }
    }

    if (cred && cred->login) {

        ctx = ngx_http_credential_ctx(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /*
         * Reading the body, or an answer code's attempts under way: the
         * headers are set, and an answer that came must not wait for a
         * token, or become a 503.
         */

        bctx = ctx->body;

        if (bctx && bctx->state != NGX_HTTP_CREDENTIAL_BODY_READ) {
            return ngx_http_credential_body_handler(r, cred);
        }

        stash = ngx_http_credential_stash(r, 1);
        if (stash == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_credential_token_current(cmcf, cred,
                                               r->connection->log);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_DECLINED) {
            /* never upstream without the credential */
            return ngx_http_credential_wait(r, cmcf, cred, ctx);
        }

        ngx_edge_auth_store_count(cred->login->entry,
                                  NGX_EDGE_AUTH_STAT_INJECTED);

        ctx->cred = cred;
        ctx->generation = cred->login->copy.generation;

        stash->cred = cred;
        stash->generation = ctx->generation;

        extra = cred->login->values;
        nextra = cred->login->inject.nelts;
    }

    /* a signature per request: never with a login (finish() says so) */

    if (cred && cred->sigv4) {
        rc = ngx_http_credential_sigv4_sign(r, cred, &extra, &nextra);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ngx_http_credential_headers_apply(r, cmcf, cred, extra, nextra)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (cred && cred->stats) {
        ngx_edge_auth_stats_count(cred->stats, NGX_EDGE_AUTH_STATS_INJECTED);
    }

    if (cred
        && ngx_edge_auth_redact_log(r->connection, r->pool, &cmcf->secrets)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_credential_body_handler(r, cred);
}


/*
 * After an internal redirect the new location's rewrite and access phases
 * must not see the credential injected by the previous location (an
 * auth_basic there would check the partner's user; $http_* would show it),
 * nor its upstream get the body the previous location's secrets are in.
 */

static ngx_int_t
ngx_http_credential_rewrite_handler(ngx_http_request_t *r)
{
    ngx_http_credential_main_conf_t  *cmcf;

    if (!r->internal) {
        return NGX_DECLINED;
    }

    if (ngx_http_credential_body_restore(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_credential_module);

    if (cmcf->injected.nelts == 0) {
        return NGX_DECLINED;
    }

    if (ngx_http_credential_headers_apply(r, cmcf, NULL, NULL, 0) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_credential_wait(ngx_http_request_t *r,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_http_credential_ctx_t *ctx)
{
    int64_t                 now;
    ngx_uint_t              first;
    ngx_edge_auth_entry_t  *e;

    /* no use waiting: only an operator's connect step helps */

    if (cred->login->entry->state == NGX_EDGE_AUTH_TOKEN_NEEDS_AUTH) {
        return ngx_http_credential_needs_auth(r, cred);
    }

    now = ngx_edge_auth_now();
    e = cred->login->entry;
    first = (ctx->deadline == 0);

    if (first) {
        ctx->deadline = now + cred->login->wait;

        ngx_http_credential_renew_soon(cmcf);

        /*
         * A subrequest cannot wait on the connection's write event: the
         * wake-up would go to the main request (mirror).
         */

        if (r != r->main) {
            return ngx_http_credential_unavailable(r, cred, 0);
        }
    }

    /*
     * Nothing in flight and backing off past the deadline, from the start
     * or since the login waited for failed: no login can help in time.
     */

    if ((e->lock_owner == 0 && e->backoff >= ctx->deadline)
        || now >= ctx->deadline)
    {
        return ngx_http_credential_unavailable(r, cred,
                                               now - ctx->deadline
                                               + cred->login->wait);
    }

    if (first) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "credential \"%V\": no valid token, waiting",
                       &cred->name);
    }

    /* poll the shared token */

    ngx_http_credential_poll(r, ngx_http_credential_wait_handler,
                             (ngx_msec_t) ngx_min(ctx->deadline - now, 50));

    return NGX_AGAIN;
}


static void
ngx_http_credential_wait_handler(ngx_http_request_t *r)
{
    if (ngx_http_credential_polled(r) != NGX_OK) {
        return;
    }

    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
}


static ngx_int_t
ngx_http_credential_unavailable(ngx_http_request_t *r,
    ngx_http_credential_t *cred, int64_t waited)
{
    int64_t           after;
    ngx_int_t         rc;
    ngx_table_elt_t  *h;

    ngx_edge_auth_store_count(cred->login->entry,
                              NGX_EDGE_AUTH_STAT_UNAVAILABLE);

    after = (cred->login->entry->backoff - ngx_edge_auth_now() + 999) / 1000;

    if (after < 1) {
        after = 1;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "credential \"%V\": no valid token after waiting %Lms, "
                  "next login in %Ls; answering 503", &cred->name, waited,
                  after);

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->value.data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (h->value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");
    h->value.len = ngx_sprintf(h->value.data, "%L", after) - h->value.data;

    rc = ngx_edge_auth_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  &ngx_http_credential_unavailable_code,
                                  &ngx_http_credential_unavailable_message);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * "proxy_intercept_errors on; error_page 401 = @retry;" sends a refused
 * request once more through a location with the same credential.  The
 * 401 never reached the header filter, so the refused generation is
 * invalidated here, and the request waits for the renewed token.
 */

static void
ngx_http_credential_retry(ngx_http_request_t *r,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_http_credential_stash_t *stash)
{
    ngx_http_upstream_state_t  *state;

    if (r->upstream_states == NULL || r->upstream_states->nelts == 0) {
        return;
    }

    state = r->upstream_states->elts;
    state += r->upstream_states->nelts - 1;

    if (state->status != NGX_HTTP_UNAUTHORIZED) {
        return;
    }

    stash->retried = 1;

    ngx_http_credential_refused(cmcf, cred, stash->generation,
                                r->connection->log);
}


/* an upstream 401 on token generation G invalidates G, and only G */

static ngx_int_t
ngx_http_credential_header_filter(ngx_http_request_t *r)
{
    ngx_http_credential_ctx_t        *ctx;
    ngx_http_credential_main_conf_t  *cmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_credential_module);

    /*
     * A subrequest's 401 (auth_request) speaks of the client, not of
     * our token, but for an answer code's attempt, which is the main
     * request sent again; a cached 401 was about an old one.
     */

    if (ctx == NULL || ctx->generation == 0 || r->upstream == NULL
        || (r != r->main && !ctx->attempt)
        || r->headers_out.status != NGX_HTTP_UNAUTHORIZED
#if (NGX_HTTP_CACHE)
        || r->upstream->cache_status == NGX_HTTP_CACHE_HIT
        || r->upstream->cache_status == NGX_HTTP_CACHE_STALE
        || r->upstream->cache_status == NGX_HTTP_CACHE_UPDATING
#endif
        )
    {
        return ngx_http_next_header_filter(r);
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_credential_module);

    ngx_http_credential_refused(cmcf, ctx->cred, ctx->generation,
                                r->connection->log);

    ctx->generation = 0;

    return ngx_http_next_header_filter(r);
}
