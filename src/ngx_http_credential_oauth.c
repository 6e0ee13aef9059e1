
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The OAuth 2.0 authorization-code flow (RFC 6749 4.1), as Octorate asks
 * for access to a property: an operator connects once in a browser, the
 * gateway keeps the refresh token and renews the access token for ever.
 *
 *   credential_connect   redirects the browser to the "authorize" URL with
 *                        client_id, redirect_uri and a state, and sets a
 *                        cookie with a random nonce on the same browser;
 *   credential_callback  checks the state against the cookie (HMAC-SHA256,
 *                        time-limited, single use), exchanges the code at
 *                        the "login" (token) URL and ends as a renewal
 *                        does (ngx_http_credential_renew_finish()).
 *
 * state = base64url(issued ms, 8 bytes || HMAC(key, name, issued, nonce)),
 * cookie = base64url(nonce): a state is worthless without the cookie of
 * the browser that started the connect step.  The codec is pure C
 * (ngx_edge_auth_state.c); the directives are in
 * ngx_http_credential_oauth_conf.c.
 */


/* nginx's headers first: they set the feature macros system headers see */
#include "ngx_http_credential_oauth.h"
#include "ngx_http_credential_ctx.h"
#include "ngx_http_credential_login.h"
#include "ngx_http_credential_renew.h"
#include "ngx_edge_auth_error.h"
#include "ngx_edge_auth_http.h"
#include "ngx_edge_auth_state.h"
#include "ngx_edge_auth_store.h"

#include <jansson.h>
#include <openssl/rand.h>


#define NGX_HTTP_CREDENTIAL_CODE_MAX   4096
#define NGX_HTTP_CREDENTIAL_PAGE_MAX   1024
#define NGX_HTTP_CREDENTIAL_REASON     128

/* a state from the future beyond this clock skew is not ours */
#define NGX_HTTP_CREDENTIAL_SKEW       60000


/* lives in the client's pool: the exchange may outlive the request */

typedef struct {
    ngx_http_request_t          *request;        /* NULL once it is gone */
    ngx_http_cleanup_t          *cleanup;
    ngx_http_credential_t       *cred;
} ngx_http_credential_exchange_t;


static ngx_int_t ngx_http_credential_endpoint_start(ngx_http_request_t *r,
    ngx_uint_t methods, ngx_http_credential_t **cred);
static ngx_int_t ngx_http_credential_callback_step(ngx_http_request_t *r,
    ngx_http_credential_t *cred);
static ngx_int_t ngx_http_credential_callback_wait(ngx_http_request_t *r,
    ngx_http_credential_t *cred);
static void ngx_http_credential_callback_poll(ngx_http_request_t *r);
static ngx_int_t ngx_http_credential_callback_check(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_str_t *code, ngx_uint_t *status,
    u_char *reason, const char **why);
static ngx_int_t ngx_http_credential_exchange(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_str_t *code);
static void ngx_http_credential_exchange_done(ngx_edge_auth_http_t *hc);
static void ngx_http_credential_exchange_cleanup(void *data);
static ngx_int_t ngx_http_credential_mask_request_line(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_credential_arg(ngx_http_request_t *r, char *name,
    ngx_str_t *value);
static void ngx_http_credential_error_code(u_char *text, size_t len,
    ngx_uint_t json, u_char *out, size_t size);
static ngx_int_t ngx_http_credential_set_cookie(ngx_http_request_t *r,
    ngx_http_credential_oauth_t *oauth, ngx_str_t *nonce);
static ngx_int_t ngx_http_credential_header_out(ngx_http_request_t *r,
    char *name, ngx_str_t *value, ngx_table_elt_t **out);
static ngx_int_t ngx_http_credential_page(ngx_http_request_t *r,
    ngx_uint_t status, u_char *text, size_t len);


static ngx_str_t  ngx_http_credential_needs_auth_code =
    ngx_string("credential-needs-authorization");
static ngx_str_t  ngx_http_credential_needs_auth_message =
    ngx_string("The upstream credential needs authorization: an operator "
               "must run its connect step");

static ngx_str_t  ngx_http_credential_cookie_var =
    ngx_string("cookie_credential_state");


/* the 503 of a credential that waits for an operator */

ngx_int_t
ngx_http_credential_needs_auth(ngx_http_request_t *r,
    ngx_http_credential_t *cred)
{
    ngx_int_t  rc;

    ngx_edge_auth_store_count(cred->login->entry,
                              NGX_EDGE_AUTH_STAT_NEEDS_AUTH);

    /* the one error line was written when it happened */

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "credential \"%V\" needs authorization; answering 503",
                  &cred->name);

    rc = ngx_edge_auth_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  &ngx_http_credential_needs_auth_code,
                                  &ngx_http_credential_needs_auth_message);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/* what both steps do first: a browser's GET, for its credential */

static ngx_int_t
ngx_http_credential_endpoint_start(ngx_http_request_t *r, ngx_uint_t methods,
    ngx_http_credential_t **cred)
{
    ngx_int_t                        rc;
    ngx_http_credential_loc_conf_t  *lcf;

    if (!(r->method & methods)) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_credential_module);
    *cred = lcf->endpoint->cred;

    return NGX_OK;
}


/* the browser goes to the authorization server, with a signed state */

ngx_int_t
ngx_http_credential_connect_handler(ngx_http_request_t *r)
{
    size_t                           len;
    u_char                          *p, *sep;
    u_char                           nonce[NGX_EDGE_AUTH_STATE_NONCE];
    u_char                           text[NGX_HTTP_CREDENTIAL_PAGE_MAX];
    ngx_int_t                        rc;
    ngx_str_t                        state, cookie, location;
    ngx_uint_t                       i;
    ngx_keyval_t                    *kv;
    ngx_table_elt_t                 *h;
    ngx_http_credential_t           *cred;
    ngx_http_credential_oauth_t     *oauth;

    rc = ngx_http_credential_endpoint_start(r, NGX_HTTP_GET|NGX_HTTP_HEAD,
                                            &cred);

    if (rc != NGX_OK) {
        return rc;
    }

    oauth = cred->login->oauth;

    state.len = NGX_EDGE_AUTH_STATE_TEXT_LEN;
    state.data = ngx_pnalloc(r->pool, state.len);
    cookie.len = NGX_EDGE_AUTH_STATE_COOKIE_LEN;
    cookie.data = ngx_pnalloc(r->pool, cookie.len);

    if (state.data == NULL || cookie.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (RAND_bytes(nonce, NGX_EDGE_AUTH_STATE_NONCE) != 1) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "RAND_bytes() failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* issued in milliseconds: also what makes a state single use */

    if (ngx_edge_auth_state_make(oauth->key.data, oauth->key.len,
                                 cred->name.data, cred->name.len,
                                 ngx_edge_auth_now(), nonce, state.data,
                                 cookie.data)
        != 0)
    {
        ngx_explicit_memzero(nonce, sizeof(nonce));
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "HMAC() failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_explicit_memzero(nonce, sizeof(nonce));

    /* authorize?client_id=..&redirect_uri=..[&param=..]&state=.. */

    kv = oauth->params.elts;

    len = oauth->authorize.len + sizeof("?client_id=&redirect_uri=&state=")
          + 3 * oauth->client_id.len + 3 * oauth->redirect_uri.len
          + state.len;

    for (i = 0; i < oauth->params.nelts; i++) {
        len += 3 * kv[i].key.len + 3 * kv[i].value.len + 2;
    }

    location.data = ngx_pnalloc(r->pool, len);
    if (location.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sep = ngx_strlchr(oauth->authorize.data,
                      oauth->authorize.data + oauth->authorize.len, '?');

    p = ngx_cpymem(location.data, oauth->authorize.data,
                   oauth->authorize.len);
    p = ngx_cpymem(p, sep ? "&client_id=" : "?client_id=",
                   sizeof("?client_id=") - 1);
    p = (u_char *) ngx_escape_uri(p, oauth->client_id.data,
                                  oauth->client_id.len,
                                  NGX_ESCAPE_URI_COMPONENT);
    p = ngx_cpymem(p, "&redirect_uri=", sizeof("&redirect_uri=") - 1);
    p = (u_char *) ngx_escape_uri(p, oauth->redirect_uri.data,
                                  oauth->redirect_uri.len,
                                  NGX_ESCAPE_URI_COMPONENT);

    for (i = 0; i < oauth->params.nelts; i++) {
        *p++ = '&';
        p = (u_char *) ngx_escape_uri(p, kv[i].key.data, kv[i].key.len,
                                      NGX_ESCAPE_URI_COMPONENT);
        *p++ = '=';
        p = (u_char *) ngx_escape_uri(p, kv[i].value.data, kv[i].value.len,
                                      NGX_ESCAPE_URI_COMPONENT);
    }

    p = ngx_cpymem(p, "&state=", sizeof("&state=") - 1);
    p = ngx_cpymem(p, state.data, state.len);

    location.len = p - location.data;

    if (ngx_http_credential_set_cookie(r, oauth, &cookie) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_clear_location(r);

    if (ngx_http_credential_header_out(r, "Location", &location, &h)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.location = h;

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "credential \"%V\": connect step started, the browser "
                  "goes to %V", &cred->name, &oauth->authorize);

    p = ngx_slprintf(text, text + sizeof(text),
                     "Redirecting to the authorization server of credential "
                     "\"%V\".\n", &cred->name);

    return ngx_http_credential_page(r, NGX_HTTP_MOVED_TEMPORARILY, text,
                                    p - text);
}


ngx_int_t
ngx_http_credential_callback_handler(ngx_http_request_t *r)
{
    ngx_int_t               rc;
    ngx_http_credential_t  *cred;

    /* the code and state stay out of every log line, 405s included */

    if (ngx_http_credential_mask_request_line(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* not HEAD: a link preview must not spend the code */

    rc = ngx_http_credential_endpoint_start(r, NGX_HTTP_GET, &cred);

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_credential_callback_step(r, cred);
}


/* checks the callback and exchanges its code, or waits for a renewal */

static ngx_int_t
ngx_http_credential_callback_step(ngx_http_request_t *r,
    ngx_http_credential_t *cred)
{
    u_char       *p;
    u_char        text[NGX_HTTP_CREDENTIAL_PAGE_MAX];
    u_char        reason[NGX_HTTP_CREDENTIAL_REASON];
    ngx_int_t     rc;
    ngx_str_t     code;
    ngx_uint_t    status;
    const char   *why;

    status = NGX_HTTP_OK;
    why = NULL;

    rc = ngx_http_credential_callback_check(r, cred, &code, &status, reason,
                                            &why);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * The state cookie has served once the state is used or refused for
     * good; a busy answer keeps it, so that reloading the page works.
     */

    if ((rc == NGX_OK || status != NGX_HTTP_SERVICE_UNAVAILABLE)
        && ngx_http_credential_set_cookie(r, cred->login->oauth, NULL)
           != NGX_OK)
    {
        if (rc == NGX_OK) {
            /* the check took the node's lock for the exchange */
            ngx_http_credential_renew_unlock(cred);
            ngx_explicit_memzero(code.data, code.len);
        }

        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK) {
        rc = ngx_http_credential_exchange(r, cred, &code);

        ngx_explicit_memzero(code.data, code.len);

        if (rc == NGX_OK) {
            return NGX_DONE;
        }

        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE
        && ngx_http_credential_callback_wait(r, cred) == NGX_OK)
    {
        return NGX_DONE;
    }

    /* refused: one line for the operator's log, the reason on the page */

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "credential \"%V\": callback refused: %s",
                  &cred->name, why);

    p = ngx_slprintf(text, text + sizeof(text),
                     "Not connected: credential \"%V\": %s\n",
                     &cred->name, why);

    return ngx_http_credential_page(r, status, text, p - text);
}


/*
 * A renewal holds the login lock: the callback waits for it up to
 * login_wait, polling with a timer as requests wait for a token, so the
 * owner's browser need not be told to reload.
 */

static ngx_int_t
ngx_http_credential_callback_wait(ngx_http_request_t *r,
    ngx_http_credential_t *cred)
{
    int64_t                     now;
    ngx_http_credential_ctx_t  *ctx;

    ctx = ngx_http_credential_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    now = ngx_edge_auth_now();

    if (ctx->deadline == 0) {
        ctx->deadline = now + cred->login->wait;
    }

    if (now >= ctx->deadline) {
        return NGX_DECLINED;
    }

    r->main->count++;

    ngx_http_credential_poll(r, ngx_http_credential_callback_poll,
                             (ngx_msec_t) ngx_min(ctx->deadline - now, 100));

    return NGX_OK;
}


static void
ngx_http_credential_callback_poll(ngx_http_request_t *r)
{
    ngx_http_credential_loc_conf_t  *lcf;

    if (ngx_http_credential_polled(r) != NGX_OK) {
        return;
    }

    r->write_event_handler = ngx_http_request_empty_handler;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_credential_module);

    ngx_http_finalize_request(r, ngx_http_credential_callback_step(r,
                                                   lcf->endpoint->cred));
}


/*
 * NGX_OK with the code when the callback may exchange it (the login lock
 * is then ours and the state used); NGX_DECLINED with a status and a
 * reason otherwise.
 */

static ngx_int_t
ngx_http_credential_callback_check(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_str_t *code, ngx_uint_t *status,
    u_char *reason, const char **why)
{
    u_char                        *p;
    u_char                         word[32];
    int64_t                        now, issued;
    ngx_str_t                      state, error, name;
    ngx_uint_t                     key;
    ngx_pid_t                      owner;
    ngx_edge_auth_entry_t         *e;
    ngx_http_variable_value_t     *vv;
    ngx_http_credential_oauth_t   *oauth;
    ngx_http_credential_login_t   *login;

    login = cred->login;
    oauth = login->oauth;
    e = login->entry;

    *status = NGX_HTTP_BAD_REQUEST;

    if (ngx_http_credential_arg(r, "error", &error) == NGX_OK) {
        /* the owner said no, or the server failed: its word, sanitized */

        ngx_http_credential_error_code(error.data, error.len, 0, word,
                                       sizeof(word));
        ngx_snprintf(reason, NGX_HTTP_CREDENTIAL_REASON - 1,
                     "the authorization server answered error=\"%s\"%Z",
                     word);
        *why = (const char *) reason;
        return NGX_DECLINED;
    }

    if (ngx_http_credential_arg(r, "state", &state) != NGX_OK) {
        *why = "the callback has no state: start at the connect step";
        return NGX_DECLINED;
    }

    if (ngx_http_credential_arg(r, "code", code) != NGX_OK) {
        *why = "the callback has no code";
        return NGX_DECLINED;
    }

    if (code->len > NGX_HTTP_CREDENTIAL_CODE_MAX) {
        *why = "the code is too long";
        return NGX_DECLINED;
    }

    for (p = code->data; p < code->data + code->len; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            *why = "the code contains a control byte, a space or a "
                   "non-ASCII byte";
            return NGX_DECLINED;
        }
    }

    *status = NGX_HTTP_FORBIDDEN;

    name = ngx_http_credential_cookie_var;
    key = ngx_hash_key(name.data, name.len);

    vv = ngx_http_get_variable(r, &name, key);

    if (vv == NULL || vv->not_found || vv->len == 0) {
        *why = "this browser has no state cookie: run the connect step in "
               "this browser (the cookie goes to this callback only, and "
               "needs cookies enabled)";
        return NGX_DECLINED;
    }

    now = ngx_edge_auth_now();
    issued = 0;

    switch (ngx_edge_auth_state_check(oauth->key.data, oauth->key.len,
                                      cred->name.data, cred->name.len,
                                      state.data, state.len, vv->data,
                                      vv->len, now, oauth->state_lifetime,
                                      NGX_HTTP_CREDENTIAL_SKEW, &issued))
    {
    case NGX_EDGE_AUTH_STATE_OK:
        break;

    case NGX_EDGE_AUTH_STATE_MALFORMED_COOKIE:
        *why = "the state cookie is malformed";
        return NGX_DECLINED;

    case NGX_EDGE_AUTH_STATE_MALFORMED_STATE:
        *why = "the state is malformed (forged?)";
        return NGX_DECLINED;

    case NGX_EDGE_AUTH_STATE_BAD_MAC:
        *why = "the state does not match this browser's connect step: "
               "forged, signed with another key, or begun in another "
               "browser";
        return NGX_DECLINED;

    case NGX_EDGE_AUTH_STATE_FUTURE:
        *why = "the state was issued in the future: check the clocks";
        return NGX_DECLINED;

    case NGX_EDGE_AUTH_STATE_EXPIRED:
        ngx_snprintf(reason, NGX_HTTP_CREDENTIAL_REASON - 1,
                     "the state has expired (it lives %Ms): run the "
                     "connect step again%Z", oauth->state_lifetime / 1000);
        *why = (const char *) reason;
        return NGX_DECLINED;

    default: /* NGX_EDGE_AUTH_STATE_ERROR */
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "HMAC() failed");
        return NGX_ERROR;
    }

    /*
     * One exchange or renewal at a time: a renewal in flight with the old
     * refresh token must not race the new grant.  A busy answer leaves
     * the state unused, so reloading the page works.
     */

    ngx_edge_auth_store_lock(login->store);

    if (issued <= e->state_used) {
        ngx_edge_auth_store_unlock(login->store);
        *why = "the state was already used (a replayed or reloaded "
               "callback): run the connect step again";
        return NGX_DECLINED;
    }

    if (!ngx_http_credential_renew_lock(cred, now, &owner)) {
        ngx_edge_auth_store_unlock(login->store);
        *status = NGX_HTTP_SERVICE_UNAVAILABLE;
        *why = "a token renewal of this credential is still in flight: "
               "reload this page in a few seconds";
        return NGX_DECLINED;
    }

    e->state_used = issued;

    ngx_edge_auth_store_unlock(login->store);

    *status = NGX_HTTP_OK;

    return NGX_OK;
}


static ngx_int_t
ngx_http_credential_exchange(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_str_t *code)
{
    ngx_str_t                        name;
    ngx_http_cleanup_t              *cln;
    ngx_edge_auth_http_t            *hc;
    ngx_http_credential_login_t     *login;
    ngx_http_credential_exchange_t  *ex;

    login = cred->login;

    /* after the login fields: client_id, client_secret, redirect_uri... */
    ngx_str_set(&name, "code");

    /* the cycle's log: the exchange may outlive the client's connection */

    hc = ngx_edge_auth_http_create(ngx_cycle->log);
    if (hc == NULL) {
        goto failed;
    }

    ex = ngx_pcalloc(hc->pool, sizeof(ngx_http_credential_exchange_t));
    cln = ngx_http_cleanup_add(r, 0);

    if (ex == NULL || cln == NULL
        || ngx_http_credential_form_request(login, hc->pool, &login->url,
                                            &login->params, &name, code,
                                            &hc->request)
           != NGX_OK)
    {
        ngx_edge_auth_http_free(hc);
        goto failed;
    }

    ex->request = r;
    ex->cleanup = cln;
    ex->cred = cred;

    cln->handler = ngx_http_credential_exchange_cleanup;
    cln->data = ex;

    hc->log->action = "exchanging an authorization code";
    hc->url = &login->url;
    hc->conf = &login->http;
    hc->done = ngx_http_credential_exchange_done;
    hc->data = ex;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "credential \"%V\": exchanging the code", &cred->name);

    /* the request waits for done(); a client that leaves is noticed */

    r->main->count++;
    r->read_event_handler = ngx_http_test_reading;

    ngx_edge_auth_http_start(hc);

    return NGX_OK;

failed:

    /* the node's lock only: an exchange holds no fleet lease */
    ngx_http_credential_renew_unlock(cred);

    return NGX_ERROR;
}


/* the client left: the exchange goes on, its result is only logged */

static void
ngx_http_credential_exchange_cleanup(void *data)
{
    ngx_http_credential_exchange_t *ex = data;

    ex->request = NULL;
}


static void
ngx_http_credential_exchange_done(ngx_edge_auth_http_t *hc)
{
    ngx_http_credential_exchange_t *ex = hc->data;

    u_char                         *p, *last;
    u_char                          text[NGX_HTTP_CREDENTIAL_PAGE_MAX];
    u_char                          detail[128], code[64];
    int64_t                         now, expires;
    ngx_int_t                       rc;
    ngx_uint_t                      status, http, refreshed;
    const char                     *error;
    ngx_connection_t               *c;
    ngx_http_request_t             *r;
    ngx_http_credential_t          *cred;
    ngx_http_credential_login_t    *login;
    ngx_http_credential_renewal_t   rn;

    cred = ex->cred;
    login = cred->login;

    /* stored and published as any renewal; the other nodes take it */

    ngx_http_credential_renew_finish(cred, hc,
                                     NGX_HTTP_CREDENTIAL_RENEW_EXCHANGE, &rn);

    now = rn.now;
    error = rn.error;
    expires = rn.expires;
    refreshed = rn.refreshed;
    status = hc->answer.status;
    code[0] = '\0';

    if (hc->error == NULL && (status < 200 || status > 299)) {
        ngx_http_credential_error_code(hc->answer.body,
                                       hc->answer.body_len, 1, code,
                                       sizeof(code));
    }

    /* the reason, for the log and the page: never a value */

    p = detail;
    last = detail + sizeof(detail);

    if (status && error) {
        p = ngx_slprintf(p, last, " (HTTP status %ui", status);
        p = code[0] ? ngx_slprintf(p, last, ", error \"%s\")", code)
                    : ngx_slprintf(p, last, ")");
    }

    if (error == NULL) {
        ngx_log_error(NGX_LOG_NOTICE, hc->log, 0,
                      "credential \"%V\": connected with the "
                      "authorization-code flow, token valid for %Ls%s",
                      &cred->name, (expires - now) / 1000,
                      refreshed ? "" : "; the answer had no refresh "
                                         "token: connect again before it "
                                         "expires");
        http = NGX_HTTP_OK;

        p = ngx_slprintf(text, text + sizeof(text),
                         "Connected: credential \"%V\" has an access token "
                         "valid for %Ls%s\n", &cred->name,
                         (expires - now) / 1000,
                         refreshed ? " and a refresh token; nginx renews "
                                       "it from now on. You may close this "
                                       "page."
                                     : ", but no refresh token: run the "
                                       "connect step again before it "
                                       "expires.");

    } else {
        ngx_log_error(NGX_LOG_ERR, hc->log, hc->err,
                      "credential \"%V\": the code exchange at %V failed: "
                      "%s%*s", &cred->name, &login->url.text, error,
                      p - detail, detail);
        http = NGX_HTTP_BAD_GATEWAY;

        p = ngx_slprintf(text, text + sizeof(text),
                         "Not connected: credential \"%V\": the code "
                         "exchange at %V failed: %s%*s. Run the connect "
                         "step again.\n", &cred->name, &login->url.text,
                         error, (size_t) (p - detail), detail);
    }

    r = ex->request;

    if (r) {
        ex->cleanup->handler = NULL;
        c = r->connection;

        rc = ngx_http_credential_page(r, http, text, p - text);

        ngx_http_finalize_request(r, rc);
        ngx_http_run_posted_requests(c);
    }

    ngx_edge_auth_http_free(hc);
}


/*
 * Every error line of a request shows its request line, and the default
 * access log format too ($request): without the query, they show neither
 * the code nor the state.
 */

static ngx_int_t
ngx_http_credential_mask_request_line(ngx_http_request_t *r)
{
    u_char     *p, *q;
    ngx_str_t  *line;

    line = &r->request_line;

    q = ngx_strlchr(line->data, line->data + line->len, '?');
    if (q == NULL) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, line->len + sizeof("[hidden]"));
    if (p == NULL) {
        return NGX_ERROR;
    }

    line->len = ngx_sprintf(p, "%*s?[hidden]%s%V", (size_t) (q - line->data),
                            line->data, r->http_protocol.len ? " " : "",
                            &r->http_protocol)
                - p;
    line->data = p;

    return NGX_OK;
}


/* a query argument, percent-decoded in the request pool */

static ngx_int_t
ngx_http_credential_arg(ngx_http_request_t *r, char *name, ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   raw;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw) != NGX_OK
        || raw.len == 0)
    {
        return NGX_DECLINED;
    }

    value->data = ngx_pnalloc(r->pool, raw.len);
    if (value->data == NULL) {
        return NGX_DECLINED;
    }

    dst = value->data;
    src = raw.data;

    ngx_unescape_uri(&dst, &src, raw.len, 0);

    value->len = dst - value->data;

    return value->len ? NGX_OK : NGX_DECLINED;
}


/*
 * An RFC 6749 error code, from a JSON answer's "error" field or given
 * as is, reduced to the characters such codes have: it goes on a page
 * and into the log, and must carry nothing else.
 */

static void
ngx_http_credential_error_code(u_char *text, size_t len, ngx_uint_t json,
    u_char *out, size_t size)
{
    u_char        c;
    size_t        n, i;
    json_t       *root, *v;
    const char   *s;
    json_error_t  jerr;

    /*
     * Of an answer, only the "error" member of JSON (RFC 6749 5.2): a body
     * in another form might echo the code, and goes neither to the log
     * nor to the page.
     */

    out[0] = '\0';
    root = NULL;
    s = (const char *) text;
    n = len;

    if (json) {
        if (len == 0 || text[0] != '{') {
            return;
        }

        root = json_loadb((const char *) text, len, 0, &jerr);
        v = root ? json_object_get(root, "error") : NULL;

        if (v == NULL || !json_is_string(v)) {
            goto done;
        }

        s = json_string_value(v);
        n = json_string_length(v);
    }

    for (i = 0; i < n && i < size - 1; i++) {
        c = s[i];

        out[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                  || (c >= '0' && c <= '9') || c == '_' || c == '-'
                  || c == '.')
                 ? c : '?';
    }

    out[i] = '\0';

done:

    if (root) {
        json_decref(root);
    }
}


/* the state cookie: a nonce, or an empty value that clears it */

static ngx_int_t
ngx_http_credential_set_cookie(ngx_http_request_t *r,
    ngx_http_credential_oauth_t *oauth, ngx_str_t *nonce)
{
    size_t      len;
    u_char     *p;
    ngx_str_t   value;
    ngx_uint_t  secure;

    secure = oauth->secure;

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        secure = 1;
    }
#endif

    len = sizeof("credential_state=; Path=; Max-Age=; HttpOnly; "
                 "SameSite=Lax; Secure") - 1
          + (nonce ? nonce->len : 0) + oauth->cookie_path.len + NGX_INT_T_LEN;

    value.data = ngx_pnalloc(r->pool, len);
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    if (nonce) {
        p = ngx_sprintf(value.data, "credential_state=%V; Path=%V; "
                        "Max-Age=%M; HttpOnly; SameSite=Lax", nonce,
                        &oauth->cookie_path,
                        (oauth->state_lifetime + 999) / 1000);

    } else {
        p = ngx_sprintf(value.data, "credential_state=; Path=%V; "
                        "Max-Age=0; HttpOnly; SameSite=Lax",
                        &oauth->cookie_path);
    }

    if (secure) {
        p = ngx_cpymem(p, "; Secure", sizeof("; Secure") - 1);
    }

    value.len = p - value.data;

    return ngx_http_credential_header_out(r, "Set-Cookie", &value, NULL);
}


static ngx_int_t
ngx_http_credential_header_out(ngx_http_request_t *r, char *name,
    ngx_str_t *value, ngx_table_elt_t **out)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;
    h->lowcase_key = NULL;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    if (out) {
        *out = h;
    }

    return NGX_OK;
}


/* a short plain-text page for the operator; never cached */

static ngx_int_t
ngx_http_credential_page(ngx_http_request_t *r, ngx_uint_t status,
    u_char *text, size_t len)
{
    ngx_buf_t  *b;
    ngx_str_t   value;

    ngx_str_set(&value, "no-store");

    if (ngx_http_credential_header_out(r, "Cache-Control", &value, NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&value, "nosniff");

    if (ngx_http_credential_header_out(r, "X-Content-Type-Options", &value,
                                       NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, text, len);

    ngx_str_set(&value, "text/plain; charset=utf-8");

    return ngx_edge_auth_send(r, status, &value, b);
}
