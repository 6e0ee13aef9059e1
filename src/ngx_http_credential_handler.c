
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The request path.  In the precontent phase, after every access check
 * has seen the client's own headers and before an upstream module builds
 * its request, a location's credential goes into the request: its
 * headers, a current token (a request without one waits for it, then
 * gets a 503), and its JSON body.  Once the upstream module has built
 * its request from them, the client's own headers and body are put back,
 * so that no variable, filter or log sees a secret.  In the rewrite phase
 * an internal request drops what an earlier location injected.  A header
 * filter hears the upstream refuse the token a request carried; that
 * token stays in use.
 */


#include "ngx_http_credential_handler.h"
#include "ngx_http_credential_body.h"
#include "ngx_http_credential_ctx.h"
#include "ngx_http_credential_headers.h"
#include "ngx_http_credential_login.h"
#include "ngx_http_credential_oauth.h"
#include "ngx_http_credential_renew.h"
#include "ngx_http_credential_sigv4.h"
#include "ngx_http_credential_httpsig.h"
#include "ngx_http_credential_token.h"
#include "ngx_edge_auth_error.h"
#include "ngx_edge_auth_redact.h"
#include "ngx_edge_auth_store.h"


static ngx_int_t ngx_http_credential_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_credential_inject_plain(ngx_http_request_t *r,
    ngx_http_credential_t *cred);
static ngx_int_t ngx_http_credential_drop(ngx_http_request_t *r);
static ngx_int_t ngx_http_credential_rewrite_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_credential_wait(ngx_http_request_t *r,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_http_credential_ctx_t *ctx);
static void ngx_http_credential_wait_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_credential_wait_renewal(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_http_credential_ctx_t *ctx);
static ngx_int_t ngx_http_credential_unavailable(ngx_http_request_t *r,
    ngx_http_credential_t *cred, int64_t waited);
static ngx_atomic_uint_t ngx_http_credential_retry(ngx_http_request_t *r,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_http_credential_stash_t *stash);
static ngx_int_t ngx_http_credential_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_credential_save(ngx_http_request_t *r,
    ngx_http_credential_ctx_t *ctx, ngx_http_credential_stash_t **stash);
static ngx_table_elt_t *ngx_http_credential_copy_values(ngx_http_request_t *r,
    ngx_http_credential_values_t *v);
static ngx_int_t ngx_http_credential_content_handler(ngx_http_request_t *r);
static ngx_http_credential_ctx_t *ngx_http_credential_clone(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_credential_create_request(ngx_http_request_t *r);
static void ngx_http_credential_restore(ngx_http_request_t *r,
    ngx_http_credential_ctx_t *ctx);
static void ngx_http_credential_restore_cleanup(void *data);
static void ngx_http_credential_flush(ngx_http_request_t *r);
static ngx_array_t *ngx_http_credential_signed_secrets(ngx_http_request_t *r,
    ngx_http_credential_main_conf_t *cmcf, ngx_table_elt_t *extra,
    ngx_uint_t nextra);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


static ngx_str_t  ngx_http_credential_unavailable_code =
    ngx_string("credential-unavailable");
/* the variables that read what the credential changes in a request */
static ngx_str_t  ngx_http_credential_read_vars[] = {
    ngx_string("http_"),
    ngx_string("cookie_"),
    ngx_string("remote_user"),
    ngx_string("request_body"),
    ngx_null_string
};

static ngx_str_t  ngx_http_credential_unavailable_message =
    ngx_string("The upstream credential is not available at the moment");


ngx_int_t
ngx_http_credential_handler_init(ngx_conf_t *cf)
{
    ngx_str_t                        *name;
    ngx_uint_t                        i, n;
    ngx_http_variable_t              *v;
    ngx_http_handler_pt              *h;
    ngx_http_core_main_conf_t        *cmcf;
    ngx_http_credential_main_conf_t  *crmcf;

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

    /*
     * Every directive has indexed its variables by now.  A value evaluated
     * while the credential was in (a proxy_set_header of
     * $http_authorization, an add_header on an answer before the upstream
     * request) stays cached for the log and the filters: flushed when the
     * client's view is put back.
     */

    crmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_credential_module);

    v = cmcf->variables.elts;

    for (i = 0; i < cmcf->variables.nelts; i++) {
        for (name = ngx_http_credential_read_vars; name->len; name++) {

            /* a name that ends in "_" is a prefix: $http_*, $cookie_* */

            if ((name->data[name->len - 1] == '_'
                 ? v[i].name.len > name->len : v[i].name.len == name->len)
                && ngx_strncmp(v[i].name.data, name->data, name->len) == 0)
            {
                break;
            }
        }

        if (name->len == 0) {
            continue;
        }

        if (crmcf->flushes == NULL) {
            n = cmcf->variables.nelts;

            crmcf->flushes = ngx_palloc(cf->pool, n * sizeof(ngx_uint_t));
            if (crmcf->flushes == NULL) {
                return NGX_ERROR;
            }
        }

        crmcf->flushes[crmcf->nflushes++] = i;
    }

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


/*
 * The token this request carries, for a refusal to name and the stash to
 * hold: the common path and the general one alike
 */

static ngx_inline void
ngx_http_credential_token_held(ngx_http_credential_t *cred,
    ngx_http_credential_ctx_t *ctx, ngx_http_credential_stash_t *stash)
{
    /*
     * Injected already: the body came after the header, and the token is
     * looked at again (it may be renewed meanwhile).  One injection still.
     */

    if (!ctx->injected) {
        ngx_edge_auth_store_count(cred->login->entry,
                                  NGX_EDGE_AUTH_STAT_INJECTED);
    }

    ctx->cred = cred;
    ctx->generation = cred->login->copy.generation;

    stash->cred = cred;
    stash->generation = ctx->generation;
}


static ngx_int_t
ngx_http_credential_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_uint_t                        nextra, fresh;
    ngx_array_t                      *secrets;
    ngx_table_elt_t                  *extra;
    ngx_atomic_uint_t                 refused;
    ngx_connection_t                 *c;
    ngx_http_credential_t            *cred;
    ngx_http_credential_values_t     *v;
    ngx_http_credential_ctx_t        *ctx;
    ngx_http_credential_stash_t      *stash;
    ngx_http_credential_loc_conf_t   *clcf;
    ngx_http_credential_body_ctx_t   *bctx;
    ngx_http_credential_main_conf_t  *cmcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_credential_module);

    cred = clcf->ref.target;

    /* only an internal request can carry an earlier location's credential */

    if (cred == NULL) {
        return r->internal ? ngx_http_credential_drop(r) : NGX_DECLINED;
    }

    if (!r->internal && cred->sigv4 == NULL && cred->httpsig == NULL
        && cred->body == NULL && cred->answer == NULL)
    {
        rc = ngx_http_credential_inject_plain(r, cred);

        if (rc == NGX_OK) {
            return NGX_DECLINED;
        }

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_credential_module);

    extra = NULL;
    nextra = 0;
    refused = 0;

    /* a 401 sent elsewhere by error_page still refuses the token */

    if (r->internal && r == r->main && cmcf->logins.nelts) {
        stash = ngx_http_credential_stash(r, 0);

        if (stash && stash->cred && !stash->retried) {
            refused = ngx_http_credential_retry(r, cmcf, stash->cred, stash);

            if (stash->cred != cred) {
                refused = 0;
            }
        }
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_credential_module);

    if (ctx == NULL) {

        /* not redirected: none of the module's state yet, nothing to find */

        ctx = r->internal ? ngx_http_credential_ctx(r)
                          : ngx_http_credential_ctx_first(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (cred->login && refused) {
        ctx->refused = refused;
    }

    /*
     * Reading the body, or an answer code's attempts under way: the
     * headers were set, and counted, before; each attempt sends what was
     * saved then (ctx->sent).  An answer that came must not wait for a
     * token, or become a 503.
     */

    bctx = ctx->body;

    if (bctx && bctx->state != NGX_HTTP_CREDENTIAL_BODY_READ) {
        return ngx_http_credential_body_handler(r, cred);
    }

    /*
     * The body came after the request header: its handler ran the phases
     * again.  Static headers are in since the first pass, as they were:
     * on with the body.  A token is looked at again (it may be renewed
     * meanwhile), a signature or computed header made again.
     */

    if (bctx && ctx->injected && cred->login == NULL
        && cred->sigv4 == NULL && cred->httpsig == NULL
        && cred->ncomputed == 0)
    {
        goto body;
    }

    if (cred->login) {

        stash = ctx->stash ? ctx->stash : ngx_http_credential_stash(r, 1);
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

        if (ctx->refused
            && ngx_http_credential_wait_renewal(r, cred, ctx) == NGX_AGAIN)
        {
            return NGX_AGAIN;
        }

        ngx_http_credential_token_held(cred, ctx, stash);

        /*
         * The worker's headers, held until the request ends: not copied.
         * A request that was sent on to another location with a newer
         * token since holds the older one already, and copies this one.
         */

        v = cred->login->values;

        if (stash->values == NULL) {
            stash->values = v;
            v->refs++;
        }

        extra = v->h;
        nextra = v->n;

        if (stash->values != v) {
            extra = ngx_http_credential_copy_values(r, v);
            if (extra == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }

    /* a signature per request: never with a login (finish() says so) */

    if (cred->sigv4) {
        rc = ngx_http_credential_sigv4_sign(r, cred, &extra, &nextra);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (cred->httpsig) {
        rc = ngx_http_credential_httpsig_sign(r, cred, &extra, &nextra);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    stash = NULL;
    fresh = !ctx->saved;

    if (ngx_http_credential_save(r, ctx, &stash) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * No header to put in, none to take out (a body_json credential, no
     * header credential in an earlier location): the client's list as it
     * is, not looked through
     */

    if (cred->headers.nelts + nextra + cred->ncomputed == 0
        && (!r->internal || cmcf->injected.nelts == 0))
    {
        ctx->linked = 0;
        goto headers_done;
    }

    rc = NGX_DECLINED;

    if (stash) {
        rc = ngx_http_credential_headers_append(r, cmcf, cred, extra, nextra,
                                                stash);
    }

    /*
     * Appended to the client's list saved just now: what is sent needs no
     * copy.  Not with a body (sent's is the injected one), nor with answer
     * codes (answer.c reads sent).
     */

    ctx->linked = (rc == NGX_OK && fresh && cred->body == NULL
                   && cred->answer == NULL);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_credential_headers_apply(r, cmcf, cred, extra, nextra);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

headers_done:

    if (cred->stats) {
        ngx_edge_auth_stats_count(cred->stats, NGX_EDGE_AUTH_STATS_INJECTED);
    }

    /*
     * Only a debug log could show a header's value (redact.c): without one
     * in the connection's log chain, and none installed, there is nothing
     * to mask
     */

    c = r->connection;

    if (c->log->writer || c->log->next
        || (c->log->log_level & (NGX_LOG_DEBUG_ALL|NGX_LOG_DEBUG_CONNECTION)))
    {
        secrets = &cmcf->secrets;

        /* only a debug line could show a signature: no copy without one */

        if ((cred->sigv4 || cred->httpsig)
            && ngx_edge_auth_redact_wanted(c))
        {
            secrets = ngx_http_credential_signed_secrets(r, cmcf, extra,
                                                         nextra);
            if (secrets == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        if (ngx_edge_auth_redact_log(c, r->pool, secrets) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (cred->body == NULL && cred->answer == NULL) {
        return NGX_DECLINED;
    }

    /*
     * The body handler may end the request (an answer delivered or
     * failed, an error from a pass the body read ran at once): a
     * reference keeps it, and its pool, until the restore below, as
     * nginx's own body reading does.
     */

body:

    r->main->count++;

    rc = ngx_http_credential_body_handler(r, cred);

    /* answer codes: each attempt gets what was injected (answer.c) */

    if (ctx->body && ctx->body->state == NGX_HTTP_CREDENTIAL_BODY_ANSWER) {
        ngx_http_credential_restore(r, ctx);
    }

    ngx_http_finalize_request(r, NGX_DONE);

    return rc;
}


/*
 * Mostly: a static credential's headers or a current token's, none of them
 * sent by the client, into a request that was not redirected.  What the
 * general path does then, with nothing looked up, checked or set twice:
 * a third fewer instructions, which made the difference to a
 * proxy_set_header of the same header (bench/README.md).  NGX_DECLINED:
 * not the case (or no current token: the general path waits for one).
 */

static ngx_int_t
ngx_http_credential_inject_plain(ngx_http_request_t *r,
    ngx_http_credential_t *cred)
{
    ngx_uint_t                        n;
    ngx_table_elt_t                  *h;
    ngx_connection_t                 *c;
    ngx_http_credential_ctx_t        *ctx;
    ngx_http_credential_stash_t      *stash;
    ngx_http_credential_values_t     *v;
    ngx_http_credential_main_conf_t  *cmcf;

    if (cred->ncomputed
        || r->headers_in.headers.part.next
        || ngx_http_get_module_ctx(r, ngx_http_credential_module))
    {
        return NGX_DECLINED;
    }

    v = NULL;

    if (cred->login == NULL) {
        h = cred->headers.elts;
        n = cred->headers.nelts;

    } else {
        cmcf = ngx_http_get_module_main_conf(r, ngx_http_credential_module);

        if (cred->headers.nelts
            || ngx_http_credential_token_current(cmcf, cred,
                                                 r->connection->log)
               != NGX_OK)
        {
            return NGX_DECLINED;
        }

        /* the worker's headers, held until the request ends: not copied */

        v = cred->login->values;
        h = v->h;
        n = v->n;
    }

    if (n == 0 || n > NGX_HTTP_CREDENTIAL_STASH_HEADERS
        || ngx_http_credential_headers_sent(r, h, n))
    {
        return NGX_DECLINED;
    }

    ctx = ngx_http_credential_ctx_first(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    stash = ctx->stash;

    if (v) {
        ngx_http_credential_token_held(cred, ctx, stash);
        stash->values = v;
        v->refs++;
    }

    stash->injected = ctx;
    stash->restore = ngx_http_credential_restore_cleanup;

    /* ngx_http_credential_save(): linked, the list's nalloc is enough */

    ctx->client.headers.nalloc = r->headers_in.headers.nalloc;
    ctx->saved = 1;
    ctx->injected = 1;
    ctx->linked = 1;

    if (r->content_handler
        && r->content_handler != ngx_http_credential_content_handler)
    {
        ctx->content_handler = r->content_handler;
        r->content_handler = ngx_http_credential_content_handler;
    }

    ngx_http_credential_headers_link(r, cred, stash, h, n);

    if (cred->stats) {
        ngx_edge_auth_stats_count(cred->stats, NGX_EDGE_AUTH_STATS_INJECTED);
    }

    /* as in the general path: only a debug log could show a value */

    c = r->connection;

    if (c->log->writer || c->log->next
        || (c->log->log_level & (NGX_LOG_DEBUG_ALL|NGX_LOG_DEBUG_CONNECTION)))
    {
        cmcf = ngx_http_get_module_main_conf(r, ngx_http_credential_module);

        if (ngx_edge_auth_redact_log(c, r->pool, &cmcf->secrets) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * An internal request in a location without a credential: a 401 that
 * error_page sent here still refuses the token, and what an earlier
 * location injected goes (as in the rewrite phase).
 */

static ngx_int_t
ngx_http_credential_drop(ngx_http_request_t *r)
{
    ngx_http_credential_stash_t      *stash;
    ngx_http_credential_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_credential_module);

    if (r == r->main && cmcf->logins.nelts) {
        stash = ngx_http_credential_stash(r, 0);

        if (stash && stash->cred && !stash->retried) {
            (void) ngx_http_credential_retry(r, cmcf, stash->cred, stash);
        }
    }

    if (ngx_http_credential_headers_apply(r, cmcf, NULL, NULL, 0) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


/* a request's own copy of a token's headers, in its pool */

static ngx_table_elt_t *
ngx_http_credential_copy_values(ngx_http_request_t *r,
    ngx_http_credential_values_t *v)
{
    u_char           *p;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    h = ngx_palloc(r->pool, v->n * sizeof(ngx_table_elt_t));
    if (h == NULL) {
        return NULL;
    }

    for (i = 0; i < v->n; i++) {
        h[i] = v->h[i];

        p = ngx_pnalloc(r->pool, v->h[i].value.len);
        if (p == NULL) {
            return NULL;
        }

        ngx_memcpy(p, v->h[i].value.data, v->h[i].value.len);
        h[i].value.data = p;
    }

    return h;
}


/*
 * A signature (Authorization of SigV4, RFC 9421's Signature) is good for a
 * replay of its request while the upstream accepts its date: masked in
 * debug logs as the configured secrets are, for this request only.
 */

static ngx_array_t *
ngx_http_credential_signed_secrets(ngx_http_request_t *r,
    ngx_http_credential_main_conf_t *cmcf, ngx_table_elt_t *extra,
    ngx_uint_t nextra)
{
    ngx_str_t    *s;
    ngx_uint_t    i;
    ngx_array_t  *secrets;

    secrets = ngx_array_create(r->pool, cmcf->secrets.nelts + 2,
                               sizeof(ngx_str_t));
    if (secrets == NULL) {
        return NULL;
    }

    if (cmcf->secrets.nelts) {
        s = ngx_array_push_n(secrets, cmcf->secrets.nelts);
        if (s == NULL) {
            return NULL;
        }

        ngx_memcpy(s, cmcf->secrets.elts,
                   cmcf->secrets.nelts * sizeof(ngx_str_t));
    }

    for (i = 0; i < nextra; i++) {
        if (!((extra[i].key.len == sizeof("authorization") - 1
               && ngx_strncmp(extra[i].lowcase_key, "authorization",
                              sizeof("authorization") - 1) == 0)
              || (extra[i].key.len == sizeof("signature") - 1
                  && ngx_strncmp(extra[i].lowcase_key, "signature",
                                 sizeof("signature") - 1) == 0)))
        {
            continue;
        }

        s = ngx_array_push(secrets);
        if (s == NULL) {
            return NULL;
        }

        *s = extra[i].value;
    }

    return secrets;
}


/*
 * Before the first injection in this location: the client's view, and
 * the location's content handler wrapped, to put that view back once the
 * upstream request is built.  The request's cleanups run before it is
 * logged, also when it ends before (a client that leaves while its body
 * is read).
 */

static ngx_int_t
ngx_http_credential_save(ngx_http_request_t *r, ngx_http_credential_ctx_t *ctx,
    ngx_http_credential_stash_t **stashp)
{
    ngx_http_credential_stash_t  *stash;

    if (r == r->main) {
        stash = ctx->stash ? ctx->stash : ngx_http_credential_stash(r, 1);
        if (stash == NULL) {
            return NGX_ERROR;
        }

        stash->injected = ctx;
        *stashp = stash;

        /* whichever location injects last: the stash's cleanup calls it */

        stash->restore = ngx_http_credential_restore_cleanup;
    }

    if (!ctx->saved) {
        ctx->client.headers = r->headers_in.headers;
        ctx->client.authorization = r->headers_in.authorization;
        ctx->saved = 1;
    }

    ctx->injected = 1;

    if (r->content_handler
        && r->content_handler != ngx_http_credential_content_handler)
    {
        ctx->content_handler = r->content_handler;
        r->content_handler = ngx_http_credential_content_handler;
    }

    return NGX_OK;
}


/*
 * The location's content handler.  An upstream module builds its request
 * in it (u->create_request), at once when the body is read already; else
 * later, when the body is (or a cache lock is released), and then
 * u->create_request is wrapped.
 */

static ngx_int_t
ngx_http_credential_content_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_http_upstream_t             *u;
    ngx_http_handler_pt              handler;
    ngx_http_credential_ctx_t       *ctx;
    ngx_http_credential_loc_conf_t  *lcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_credential_module);

    if (ctx == NULL && r != r->main) {
        ctx = ngx_http_credential_clone(r);
    }

    if (ctx && ctx->content_handler) {
        handler = ctx->content_handler;

    } else {
        lcf = ngx_http_get_module_loc_conf(r, ngx_http_credential_module);
        handler = lcf->handler;
    }

    if (handler == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "credential: content handler without a context");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->content_handler = handler;

    rc = handler(r);

    if (ctx == NULL) {
        return rc;
    }

    /* redirected inside (error_page): another location's request now */

    if (ngx_http_get_module_ctx(r, ngx_http_credential_module) != ctx
        || !ctx->injected)
    {
        return rc;
    }

    u = r->upstream;

    /* u->writer.pool is set right after u->create_request ran */

    if (u && u->writer.pool == NULL && u->create_request
        && u->create_request != ngx_http_credential_create_request)
    {
        ctx->create_request = u->create_request;
        u->create_request = ngx_http_credential_create_request;
        return rc;
    }

    ngx_http_credential_restore(r, ctx);

    return rc;
}


/*
 * A subrequest that clones the request (slice; a cache's background
 * update) starts at the content phase: no credential handler ran for it,
 * and it copied the main request's headers and body, the client's once
 * the main request's upstream request was built.  It gets what was
 * injected, and its own view back after its upstream request is built, as
 * an answer code's attempt does (answer.c).
 */

static ngx_http_credential_ctx_t *
ngx_http_credential_clone(ngx_http_request_t *r)
{
    ngx_list_t                 *list;
    ngx_list_part_t            *part;
    ngx_http_credential_ctx_t  *ctx, *mctx;

    mctx = ngx_http_get_module_ctx(r->main, ngx_http_credential_module);

    /* a clone runs in the main request's location: the same credential */

    if (mctx == NULL || !mctx->sent_saved) {
        return NULL;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_credential_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->cred = mctx->cred;
    ctx->generation = mctx->generation;
    ctx->content_handler = mctx->content_handler;

    /* a background update cloned it before the client's were back */

    ctx->client = mctx->client;
    ctx->saved = 1;
    ctx->injected = 1;

    if (mctx->linked) {

        /*
         * The main request's list, which the subrequest copied, with the
         * stash's part after the client's (and whatever was pushed after
         * that); the body and Authorization are the client's, as the
         * subrequest has them
         */

        ctx->linked = 1;

        list = &r->headers_in.headers;
        list->part.next = &mctx->stash->part;

        for (part = &mctx->stash->part; part->next; part = part->next) {
            /* void */
        }

        list->last = part;
        list->nalloc = mctx->stash->part.nelts;

    } else {
        r->headers_in.headers = mctx->sent.headers;
        r->headers_in.authorization = mctx->sent.authorization;
        r->request_body = mctx->sent.body;
        r->headers_in.content_length_n = mctx->sent.content_length_n;
        r->headers_in.chunked = mctx->sent.chunked;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_credential_module);

    return ctx;
}


static ngx_int_t
ngx_http_credential_create_request(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_http_credential_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_credential_module);

    if (ctx == NULL || ctx->create_request == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "credential: upstream request without a context");
        return NGX_ERROR;
    }

    r->upstream->create_request = ctx->create_request;

    rc = ctx->create_request(r);

    ngx_http_credential_restore(r, ctx);

    return rc;
}


/*
 * The client's headers and body again.  The upstream request is a copy
 * (proxy, fastcgi, ... copy header values into their own buffer) or a
 * chain of copied buffer structures: retries (proxy_next_upstream) send
 * it again as it is.
 */

static void
ngx_http_credential_restore(ngx_http_request_t *r,
    ngx_http_credential_ctx_t *ctx)
{
    ngx_list_t                   *list;
    ngx_http_credential_stash_t  *stash;

    if (!ctx->injected) {
        return;
    }

    ctx->injected = 0;

    /* what was sent, for the subrequests that clone this one later */

    if (r == r->main && !ctx->sent_saved) {
        if (!ctx->linked) {
            ngx_http_credential_view_get(r, &ctx->sent);
        }

        ctx->sent_saved = 1;
    }

    if (ctx->linked) {

        /* the client's part alone; nothing else was changed (headers.c) */

        list = &r->headers_in.headers;
        list->part.next = NULL;
        list->last = &list->part;
        list->nalloc = ctx->client.headers.nalloc;

        ngx_http_credential_flush(r);

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "credential: the client's headers put back");
        return;
    }

    r->headers_in.headers = ctx->client.headers;
    r->headers_in.authorization = ctx->client.authorization;

    /* the secret body is gone even when the length's copy fails */

    stash = ctx->stash ? ctx->stash : ngx_http_credential_stash(r, 0);

    if (stash && stash->body
        && ngx_http_credential_body_restore(r, stash) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "credential: the client's Content-Length not put "
                      "back");
    }

    ngx_http_credential_flush(r);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "credential: the client's headers and body put back");
}


/* what was read of the request while the credential was in: read again */

static void
ngx_http_credential_flush(ngx_http_request_t *r)
{
    ngx_uint_t                        i;
    ngx_http_variable_value_t        *vv;
    ngx_http_credential_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_credential_module);

    for (i = 0; i < cmcf->nflushes; i++) {
        vv = &r->variables[cmcf->flushes[i]];
        vv->valid = 0;
        vv->not_found = 0;
    }
}


static void
ngx_http_credential_restore_cleanup(void *data)
{
    ngx_http_request_t *r = data;

    ngx_http_credential_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_credential_module);

    if (ctx) {
        ngx_http_credential_restore(r, ctx);
    }
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
    ngx_http_credential_stash_t      *stash;
    ngx_http_credential_main_conf_t  *cmcf;

    if (!r->internal) {
        return NGX_DECLINED;
    }

    /*
     * Redirected before the upstream request was built, or while it was
     * (an error_page for a 502 at once): the client's own headers, those
     * of the names injected included.
     */

    stash = ngx_http_credential_stash(r->main, 0);

    if (r == r->main && stash && stash->injected) {
        ngx_http_credential_restore(r, stash->injected);
        stash->injected = NULL;
    }

    if (ngx_http_credential_body_restore(r, stash) != NGX_OK) {
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

        ngx_http_credential_renew_soon(cmcf, cred);

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


/*
 * A retry whose refusal made the token due: it waits, up to login_wait,
 * for the renewed token; it goes on with the refused one (still valid)
 * when the login failed and the next one is due after that, or at the
 * deadline: a refusal never makes a request a 503.
 */

static ngx_int_t
ngx_http_credential_wait_renewal(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_http_credential_ctx_t *ctx)
{
    int64_t                 now;
    ngx_edge_auth_entry_t  *e;

    now = ngx_edge_auth_now();
    e = cred->login->entry;

    if (ctx->deadline == 0) {
        ctx->deadline = now + cred->login->wait;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "credential \"%V\": retry waits for the renewal "
                       "of the refused token", &cred->name);
    }

    /* a grant without a refresh token is renewed by an operator only */

    if (cred->login->copy.generation == ctx->refused
        && now < ctx->deadline
        && !(e->lock_owner == 0 && e->backoff >= ctx->deadline)
        && !(cred->login->oauth && e->refresh_len == 0))
    {
        ngx_http_credential_poll(r, ngx_http_credential_wait_handler,
                                 (ngx_msec_t) ngx_min(ctx->deadline - now,
                                                      50));
        return NGX_AGAIN;
    }

    ctx->refused = 0;
    ctx->deadline = 0;

    return NGX_OK;
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
 * refusal never reached the header filter, so it is heard here.  The
 * retry waits for a renewal only when the refused token is due because
 * of a refusal (this one or another of the same token); a token renewed
 * within token_refused_interval is sent again at once (the partner
 * refuses this request, not the token), a newer token is just used.
 * Returns the generation to wait for, or 0.
 */

static ngx_atomic_uint_t
ngx_http_credential_retry(ngx_http_request_t *r,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_http_credential_stash_t *stash)
{
    ngx_int_t                   rc;
    ngx_http_upstream_state_t  *state;

    if (r->upstream_states == NULL || r->upstream_states->nelts == 0) {
        return 0;
    }

    state = r->upstream_states->elts;
    state += r->upstream_states->nelts - 1;

    if (!ngx_http_credential_token_refusal(cred, state->status)) {
        return 0;
    }

    stash->retried = 1;

    rc = ngx_http_credential_refused(cmcf, cred, stash->generation,
                                     state->status, r->connection->log);

    return (rc == NGX_OK || rc == NGX_DONE) ? stash->generation : 0;
}


/*
 * An upstream refusal (token_refused_status) of token generation G makes G
 * due for renewal, and only G; G stays in use
 */

static ngx_int_t
ngx_http_credential_header_filter(ngx_http_request_t *r)
{
    ngx_http_credential_ctx_t        *ctx;
    ngx_http_credential_stash_t      *stash;
    ngx_http_credential_main_conf_t  *cmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_credential_module);

    /*
     * An answer while the credential is still in: the upstream request
     * was never built (a cache hit, an error before, a failure at once
     * inside the content handler); add_header and the rest come after.
     */

    if (ctx && ctx->injected) {
        ngx_http_credential_restore(r, ctx);
    }

    /*
     * Redirected before the upstream request was built (an error_page for
     * a 413 while the body was read), and answered before a location's
     * rewrite phase put the client's view back (a server-level "return"):
     * the redirect wiped the context, the stash knows it
     */

    if (ctx == NULL && r->internal && r == r->main) {
        stash = ngx_http_credential_stash(r, 0);

        if (stash && stash->injected && stash->injected->injected) {
            ngx_http_credential_restore(r, stash->injected);
            stash->injected = NULL;
        }
    }

    /*
     * A subrequest's 401 (auth_request) speaks of the client, not of
     * our token, but for an answer code's attempt, which is the main
     * request sent again; a cached 401 was about an old one.
     */

    if (ctx == NULL || ctx->generation == 0 || r->upstream == NULL
        || (r != r->main && !ctx->attempt)
        || !ngx_http_credential_token_refusal(ctx->cred,
                                              r->headers_out.status)
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

    (void) ngx_http_credential_refused(cmcf, ctx->cred, ctx->generation,
                                       r->headers_out.status,
                                       r->connection->log);

    ctx->generation = 0;

    return ngx_http_next_header_filter(r);
}


/*
 * The content handler is wrapped in the location's configuration as well
 * as in the request (ngx_http_credential_save()): a subrequest that clones
 * the request gets the location's handler (ngx_http_subrequest() calls
 * ngx_http_update_location_config()), and must get the credential too.
 */

void
ngx_http_credential_handler_wrap(ngx_conf_t *cf,
    ngx_http_credential_loc_conf_t *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->ref.target == NULL || clcf->handler == NULL
        || clcf->handler == ngx_http_credential_content_handler)
    {
        return;
    }

    conf->handler = clcf->handler;
    clcf->handler = ngx_http_credential_content_handler;
}
