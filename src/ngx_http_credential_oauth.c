
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
static void ngx_http_credential_connect_post(ngx_http_request_t *r);
static const char *ngx_http_credential_cross_site(ngx_http_request_t *r);
static ngx_int_t ngx_http_credential_connect_page(ngx_http_request_t *r,
    ngx_http_credential_t *cred);
static ngx_int_t ngx_http_credential_connect_confirm(ngx_http_request_t *r,
    ngx_http_credential_t *cred);
static ngx_int_t ngx_http_credential_refuse(ngx_http_request_t *r,
    ngx_http_credential_t *cred, const char *why);
static ngx_int_t ngx_http_credential_connect_redirect(ngx_http_request_t *r,
    ngx_http_credential_t *cred);
static ngx_int_t ngx_http_credential_callback_step(ngx_http_request_t *r,
    ngx_http_credential_t *cred);
static ngx_int_t ngx_http_credential_callback_wait(ngx_http_request_t *r,
    ngx_http_credential_t *cred);
static void ngx_http_credential_callback_poll(ngx_http_request_t *r);
static ngx_int_t ngx_http_credential_callback_check(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_str_t *code, ngx_str_t *verifier,
    ngx_uint_t *status, u_char *reason, const char **why);
static ngx_int_t ngx_http_credential_exchange(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_str_t *code, ngx_str_t *verifier);
static void ngx_http_credential_exchange_done(ngx_edge_auth_http_t *hc);
static void ngx_http_credential_exchange_cleanup(void *data);
static ngx_int_t ngx_http_credential_mask_request_line(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_credential_arg(ngx_http_request_t *r, char *name,
    ngx_str_t *value);
static void ngx_http_credential_error_code(u_char *text, size_t len,
    ngx_uint_t json, u_char *out, size_t size);
static ngx_int_t ngx_http_credential_set_cookie(ngx_http_request_t *r,
    ngx_http_credential_oauth_t *oauth, ngx_str_t *name, ngx_str_t *value,
    ngx_str_t *path, ngx_uint_t strict);
static ngx_int_t ngx_http_credential_get_cookie(ngx_http_request_t *r,
    ngx_http_credential_oauth_t *oauth, ngx_str_t *name, ngx_str_t *value);
static ngx_uint_t ngx_http_credential_secure(ngx_http_request_t *r,
    ngx_http_credential_oauth_t *oauth);
static ngx_str_t *ngx_http_credential_header_in(ngx_http_request_t *r,
    char *name);
static ngx_int_t ngx_http_credential_page_headers(ngx_http_request_t *r,
    ngx_uint_t html);
static ngx_int_t ngx_http_credential_header_out(ngx_http_request_t *r,
    char *name, ngx_str_t *value, ngx_table_elt_t **out);
static ngx_int_t ngx_http_credential_page(ngx_http_request_t *r,
    ngx_uint_t status, u_char *text, size_t len);


static ngx_str_t  ngx_http_credential_empty = ngx_null_string;

static ngx_str_t  ngx_http_credential_needs_auth_code =
    ngx_string("credential-needs-authorization");
static ngx_str_t  ngx_http_credential_needs_auth_message =
    ngx_string("The upstream credential needs authorization: an operator "
               "must run its connect step");

/* the connect page, after the credential's name; the token follows */

#define NGX_HTTP_CREDENTIAL_CONNECT_PAGE                                     \
    "</b> to the gateway: its authorization server will ask you to "         \
    "sign in and grant access, and the gateway then uses that grant.</p>\n"  \
    "<form method=\"post\"><input type=\"hidden\" name=\"csrf\" "          \
    "value=\""


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


/*
 * The connect step in two requests.  A GET shows a page whose button
 * POSTs back a token bound to a cookie of this browser; only that POST
 * goes on to the authorization server.  One cross-site navigation (a link,
 * an image, a form of another site) so cannot run the flow: with a server
 * that approves on its own, it would leave the gateway with the tokens of
 * whatever account that browser is logged into.
 */

ngx_int_t
ngx_http_credential_connect_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    const char                      *why;
    ngx_http_credential_t           *cred;
    ngx_http_credential_loc_conf_t  *lcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_credential_module);
    cred = lcf->endpoint->cred;

    why = ngx_http_credential_cross_site(r);

    if (why) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_credential_refuse(r, cred, why);
    }

    if (r->method != NGX_HTTP_POST) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_credential_connect_page(r, cred);
    }

    /* the form's few bytes, in memory */

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_credential_connect_post);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_credential_connect_post(ngx_http_request_t *r)
{
    ngx_http_credential_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_credential_module);

    ngx_http_finalize_request(r, ngx_http_credential_connect_confirm(r,
                                                   lcf->endpoint->cred));
}


/*
 * Sec-Fetch-Site and Origin, where the browser sends them: a request from
 * another site (cross-site), or a POST from a sibling host (same-site)
 * is refused; a browser that sends neither still needs the form's token.
 */

static const char *
ngx_http_credential_cross_site(ngx_http_request_t *r)
{
    size_t            len;
    u_char           *host;
    ngx_str_t        *origin, *site, *own;
    ngx_table_elt_t  *h;

    site = ngx_http_credential_header_in(r, "Sec-Fetch-Site");

    if (site && site->len == sizeof("cross-site") - 1
        && ngx_strncasecmp(site->data, (u_char *) "cross-site",
                           site->len) == 0)
    {
        return "the request comes from another site (Sec-Fetch-Site: "
               "cross-site): open the connect address directly, typed or "
               "from a bookmark";
    }

    if (r->method == NGX_HTTP_POST && site
        && !(site->len == sizeof("same-origin") - 1
             && ngx_strncasecmp(site->data, (u_char *) "same-origin",
                                site->len) == 0))
    {
        return "the confirmation was not sent by this page (Sec-Fetch-Site "
               "is not same-origin)";
    }

    origin = ngx_http_credential_header_in(r, "Origin");

    if (origin == NULL) {
        return NULL;
    }

    /* the request's own origin: either scheme (TLS may end before nginx) */

    h = r->headers_in.host;
    own = h ? &h->value : NULL;

    if (own && own->len) {
        host = origin->data;
        len = origin->len;

        if (len > sizeof("https://") - 1
            && ngx_strncasecmp(host, (u_char *) "https://",
                               sizeof("https://") - 1) == 0)
        {
            host += sizeof("https://") - 1;
            len -= sizeof("https://") - 1;

        } else if (len > sizeof("http://") - 1
                   && ngx_strncasecmp(host, (u_char *) "http://",
                                      sizeof("http://") - 1) == 0)
        {
            host += sizeof("http://") - 1;
            len -= sizeof("http://") - 1;

        } else {
            len = 0;
        }

        if (len == own->len && ngx_strncasecmp(host, own->data, len) == 0) {
            return NULL;
        }
    }

    return "the request comes from another origin (Origin is not this "
           "server's): open the connect address directly";
}


/* the confirmation page: a button and a token, nothing from elsewhere */

static ngx_int_t
ngx_http_credential_connect_page(ngx_http_request_t *r,
    ngx_http_credential_t *cred)
{
    size_t                        len;
    u_char                        nonce[NGX_EDGE_AUTH_STATE_NONCE];
    u_char                        token[NGX_EDGE_AUTH_STATE_TEXT_LEN];
    u_char                       *p;
    ngx_buf_t                    *b;
    ngx_str_t                     cookie, name, type;
    ngx_http_credential_oauth_t  *oauth;

    oauth = cred->login->oauth;

    cookie.len = NGX_EDGE_AUTH_STATE_COOKIE_LEN;
    cookie.data = ngx_pnalloc(r->pool, cookie.len);

    if (cookie.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (RAND_bytes(nonce, NGX_EDGE_AUTH_STATE_NONCE) != 1) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "RAND_bytes() failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_edge_auth_connect_make(oauth->key.data, oauth->key.len,
                                   cred->name.data, cred->name.len,
                                   ngx_edge_auth_now(), nonce, token,
                                   cookie.data)
        != 0)
    {
        ngx_explicit_memzero(nonce, sizeof(nonce));
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "HMAC() failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_explicit_memzero(nonce, sizeof(nonce));

    ngx_str_set(&name, "credential_connect");

    if (ngx_http_credential_set_cookie(r, oauth, &name, &cookie, NULL, 1)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the name is the operator's: escaped as HTML */

    len = sizeof("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                 "<title>Connect </title></head>\n<body><p>Connect "
                 "credential <b>")
          + sizeof(NGX_HTTP_CREDENTIAL_CONNECT_PAGE) + sizeof(token)
          + sizeof("\"><button type=\"submit\">Continue</button></form>"
                   "</body></html>\n")
          + 2 * (cred->name.len + ngx_escape_html(NULL, cred->name.data,
                                                  cred->name.len));

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(b->last, "<!DOCTYPE html>\n<html><head><meta "
                   "charset=\"utf-8\"><title>Connect ",
                   sizeof("<!DOCTYPE html>\n<html><head><meta "
                          "charset=\"utf-8\"><title>Connect ") - 1);
    p = (u_char *) ngx_escape_html(p, cred->name.data, cred->name.len);
    p = ngx_cpymem(p, "</title></head>\n<body><p>Connect credential <b>",
                   sizeof("</title></head>\n<body><p>Connect credential "
                          "<b>") - 1);
    p = (u_char *) ngx_escape_html(p, cred->name.data, cred->name.len);
    p = ngx_cpymem(p, NGX_HTTP_CREDENTIAL_CONNECT_PAGE,
                   sizeof(NGX_HTTP_CREDENTIAL_CONNECT_PAGE) - 1);
    p = ngx_cpymem(p, token, sizeof(token));
    p = ngx_cpymem(p, "\"><button type=\"submit\">Continue</button>"
                   "</form></body></html>\n",
                   sizeof("\"><button type=\"submit\">Continue</button>"
                          "</form></body></html>\n") - 1);
    b->last = p;

    if (ngx_http_credential_page_headers(r, 1) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&type, "text/html; charset=utf-8");

    return ngx_edge_auth_send(r, NGX_HTTP_OK, &type, b);
}


/* the POST of the page: its token against the cookie, then the redirect */

static ngx_int_t
ngx_http_credential_connect_confirm(ngx_http_request_t *r,
    ngx_http_credential_t *cred)
{
    size_t                        len;
    u_char                       *p, *last, *end;
    u_char                        body[512];
    ngx_str_t                     token, name, cookie;
    ngx_buf_t                    *b;
    ngx_chain_t                  *cl;
    ngx_http_credential_oauth_t  *oauth;

    oauth = cred->login->oauth;

    /* a few bytes in memory; anything else is not this page's form */

    len = 0;

    for (cl = r->request_body ? r->request_body->bufs : NULL; cl;
         cl = cl->next)
    {
        b = cl->buf;

        if (b->in_file || (size_t) (b->last - b->pos) > sizeof(body) - len) {
            return ngx_http_credential_refuse(r, cred,
                       "the confirmation is not this page's form");
        }

        len = ngx_cpymem(body + len, b->pos, b->last - b->pos) - body;
    }

    /* csrf=TOKEN among the form's fields */

    ngx_str_null(&token);
    p = body;
    last = body + len;

    while (p < last) {
        end = ngx_strlchr(p, last, '&');
        if (end == NULL) {
            end = last;
        }

        if ((size_t) (end - p) > sizeof("csrf=") - 1
            && ngx_strncmp(p, "csrf=", sizeof("csrf=") - 1) == 0)
        {
            token.data = p + sizeof("csrf=") - 1;
            token.len = end - token.data;
        }

        p = end + 1;
    }

    ngx_str_set(&name, "credential_connect");

    if (token.len == 0) {
        return ngx_http_credential_refuse(r, cred,
                   "the confirmation has no token: use the button of the "
                   "connect page");
    }

    if (ngx_http_credential_get_cookie(r, oauth, &name, &cookie) != NGX_OK) {
        return ngx_http_credential_refuse(r, cred,
                   "this browser has no cookie of the connect page: open "
                   "the connect page again (cookies must be enabled)");
    }

    switch (ngx_edge_auth_connect_check(oauth->key.data, oauth->key.len,
                                        cred->name.data, cred->name.len,
                                        token.data, token.len, cookie.data,
                                        cookie.len, ngx_edge_auth_now(),
                                        oauth->state_lifetime,
                                        NGX_HTTP_CREDENTIAL_SKEW))
    {
    case NGX_EDGE_AUTH_STATE_OK:
        break;

    case NGX_EDGE_AUTH_STATE_ERROR:
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "HMAC() failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;

    case NGX_EDGE_AUTH_STATE_EXPIRED:
        return ngx_http_credential_refuse(r, cred,
                   "the connect page has expired: open it again");

    default:
        return ngx_http_credential_refuse(r, cred,
                   "the confirmation does not match this browser's "
                   "connect page: open it again");
    }

    /* served: the page's cookie is of no further use */

    if (ngx_http_credential_set_cookie(r, oauth, &name, NULL, NULL, 1)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_credential_connect_redirect(r, cred);
}


/* a refused connect step: 403, the reason on the page and in the log */

static ngx_int_t
ngx_http_credential_refuse(ngx_http_request_t *r, ngx_http_credential_t *cred,
    const char *why)
{
    u_char  *p;
    u_char   text[NGX_HTTP_CREDENTIAL_PAGE_MAX];

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "credential \"%V\": connect step refused: %s",
                  &cred->name, why);

    p = ngx_slprintf(text, text + sizeof(text),
                     "Not started: credential \"%V\": %s\n", &cred->name,
                     why);

    return ngx_http_credential_page(r, NGX_HTTP_FORBIDDEN, text, p - text);
}


/* the browser goes to the authorization server, with a signed state */

static ngx_int_t
ngx_http_credential_connect_redirect(ngx_http_request_t *r,
    ngx_http_credential_t *cred)
{
    size_t                           len;
    u_char                          *p, *sep;
    u_char                           nonce[NGX_EDGE_AUTH_STATE_NONCE];
    u_char                           text[NGX_HTTP_CREDENTIAL_PAGE_MAX];
    u_char                           verifier[NGX_EDGE_AUTH_PKCE_LEN];
    u_char                           challenge[NGX_EDGE_AUTH_PKCE_LEN];
    ngx_str_t                        state, cookie, location, name;
    ngx_uint_t                       i;
    ngx_keyval_t                    *kv;
    ngx_table_elt_t                 *h;
    ngx_http_credential_oauth_t     *oauth;

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
        != 0
        || (oauth->pkce
            && ngx_edge_auth_state_pkce(oauth->key.data, oauth->key.len,
                                        cred->name.data, cred->name.len,
                                        cookie.data, cookie.len, verifier,
                                        challenge)
               != 0))
    {
        ngx_explicit_memzero(nonce, sizeof(nonce));
        ngx_explicit_memzero(verifier, sizeof(verifier));
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "HMAC() failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_explicit_memzero(nonce, sizeof(nonce));
    ngx_explicit_memzero(verifier, sizeof(verifier));

    /* authorize?client_id=..&redirect_uri=..[&param=..]&state=.. */

    kv = oauth->params.elts;

    len = oauth->authorize.len + sizeof("?client_id=&redirect_uri=&state=")
          + 3 * oauth->client_id.len + 3 * oauth->redirect_uri.len
          + state.len
          + sizeof("&code_challenge=&code_challenge_method=S256")
          + sizeof(challenge);

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

    if (oauth->pkce) {
        p = ngx_cpymem(p, "&code_challenge=", sizeof("&code_challenge=") - 1);
        p = ngx_cpymem(p, challenge, sizeof(challenge));
        p = ngx_cpymem(p, "&code_challenge_method=S256",
                       sizeof("&code_challenge_method=S256") - 1);
    }

    p = ngx_cpymem(p, "&state=", sizeof("&state=") - 1);
    p = ngx_cpymem(p, state.data, state.len);

    location.len = p - location.data;

    ngx_str_set(&name, "credential_state");

    if (ngx_http_credential_set_cookie(r, oauth, &name, &cookie,
                                       &oauth->cookie_path, 0)
        != NGX_OK)
    {
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

    /* 303: the browser follows a POST's redirect with a GET */

    return ngx_http_credential_page(r, NGX_HTTP_SEE_OTHER, text, p - text);
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
    u_char        pkce[NGX_EDGE_AUTH_PKCE_LEN];
    ngx_int_t     rc;
    ngx_str_t     code, verifier, name;
    ngx_uint_t    status;
    const char   *why;

    status = NGX_HTTP_OK;
    why = NULL;
    verifier.data = pkce;
    verifier.len = 0;

    rc = ngx_http_credential_callback_check(r, cred, &code, &verifier,
                                            &status, reason, &why);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * The state cookie has served once its state is used.  A refused
     * callback leaves it: a forged callback link (or one with only an
     * error) must not end a connect step in progress in this browser,
     * and a busy answer must let a reload work.  It expires anyway.
     */

    ngx_str_set(&name, "credential_state");

    if (rc == NGX_OK
        && ngx_http_credential_set_cookie(r, cred->login->oauth, &name, NULL,
                                          &cred->login->oauth->cookie_path,
                                          0)
           != NGX_OK)
    {
        /* the check took the node's lock for the exchange */
        ngx_http_credential_renew_unlock(cred);
        ngx_explicit_memzero(code.data, code.len);
        ngx_explicit_memzero(pkce, sizeof(pkce));

        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK) {
        rc = ngx_http_credential_exchange(r, cred, &code, &verifier);

        ngx_explicit_memzero(code.data, code.len);
        ngx_explicit_memzero(pkce, sizeof(pkce));

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
    ngx_http_credential_t *cred, ngx_str_t *code, ngx_str_t *verifier,
    ngx_uint_t *status, u_char *reason, const char **why)
{
    u_char                        *p;
    u_char                         word[32];
    u_char                         challenge[NGX_EDGE_AUTH_PKCE_LEN];
    int64_t                        now, issued;
    ngx_str_t                      state, error, name, cookie;
    ngx_pid_t                      owner;
    ngx_edge_auth_entry_t         *e;
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

    ngx_str_set(&name, "credential_state");

    if (ngx_http_credential_get_cookie(r, oauth, &name, &cookie) != NGX_OK) {
        *why = "this browser has no state cookie: run the connect step in "
               "this browser (the cookie goes to this callback only, and "
               "needs cookies enabled)";
        return NGX_DECLINED;
    }

    now = ngx_edge_auth_now();
    issued = 0;

    switch (ngx_edge_auth_state_check(oauth->key.data, oauth->key.len,
                                      cred->name.data, cred->name.len,
                                      state.data, state.len, cookie.data,
                                      cookie.len, now, oauth->state_lifetime,
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

    /* the verifier of this browser's connect step, from its cookie */

    if (oauth->pkce) {
        if (ngx_edge_auth_state_pkce(oauth->key.data, oauth->key.len,
                                     cred->name.data, cred->name.len,
                                     cookie.data, cookie.len, verifier->data,
                                     challenge)
            != 0)
        {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "HMAC() failed");
            return NGX_ERROR;
        }

        verifier->len = NGX_EDGE_AUTH_PKCE_LEN;
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
    ngx_http_credential_t *cred, ngx_str_t *code, ngx_str_t *verifier)
{
    ngx_str_t                        name;
    ngx_array_t                      fields;
    ngx_keyval_t                    *kv;
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

    /* the login fields, and the PKCE verifier (RFC 7636 4.5) */

    if (ex == NULL || cln == NULL
        || ngx_array_init(&fields, hc->pool, login->params.nelts + 1,
                          sizeof(ngx_keyval_t))
           != NGX_OK)
    {
        ngx_edge_auth_http_free(hc);
        goto failed;
    }

    kv = ngx_array_push_n(&fields, login->params.nelts);
    ngx_memcpy(kv, login->params.elts,
               login->params.nelts * sizeof(ngx_keyval_t));

    if (verifier->len) {
        kv = ngx_array_push(&fields);
        ngx_str_set(&kv->key, "code_verifier");
        kv->value = *verifier;
    }

    if (ngx_http_credential_form_request(login, hc->pool, &login->url,
                                         &fields, &name, code, &hc->request)
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


/*
 * Served over HTTPS (the redirect_uri's scheme, or this connection's),
 * a cookie is "__Host-" NAME, Secure, Path=/ and without Domain: a
 * sibling host cannot set or overwrite it (RFC 6265bis 4.1.3.2).
 */

static ngx_uint_t
ngx_http_credential_secure(ngx_http_request_t *r,
    ngx_http_credential_oauth_t *oauth)
{
#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        return 1;
    }
#endif

    return oauth->secure;
}


/* a cookie of the flow: a value, or none to clear it; strict: SameSite */

static ngx_int_t
ngx_http_credential_set_cookie(ngx_http_request_t *r,
    ngx_http_credential_oauth_t *oauth, ngx_str_t *name, ngx_str_t *value,
    ngx_str_t *path, ngx_uint_t strict)
{
    size_t      len;
    u_char     *p;
    ngx_str_t   header, root;
    ngx_uint_t  secure;

    secure = ngx_http_credential_secure(r, oauth);

    ngx_str_set(&root, "/");

    if (secure || path == NULL) {
        path = &root;
    }

    len = sizeof("__Host-=; Path=; Max-Age=; HttpOnly; SameSite=Strict; "
                 "Secure") - 1
          + name->len + (value ? value->len : 0) + path->len + NGX_INT_T_LEN;

    header.data = ngx_pnalloc(r->pool, len);
    if (header.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(header.data, "%s%V=%V; Path=%V; Max-Age=%M; HttpOnly; "
                    "SameSite=%s", secure ? "__Host-" : "", name,
                    value ? value : &ngx_http_credential_empty, path,
                    value ? (oauth->state_lifetime + 999) / 1000 : 0,
                    strict ? "Strict" : "Lax");

    if (secure) {
        p = ngx_cpymem(p, "; Secure", sizeof("; Secure") - 1);
    }

    header.len = p - header.data;

    return ngx_http_credential_header_out(r, "Set-Cookie", &header, NULL);
}


/* only the name that set_cookie() gives: a sibling's plain one is not it */

static ngx_int_t
ngx_http_credential_get_cookie(ngx_http_request_t *r,
    ngx_http_credential_oauth_t *oauth, ngx_str_t *name, ngx_str_t *value)
{
    u_char                     *p;
    ngx_str_t                   var;
    ngx_http_variable_value_t  *vv;

    var.len = sizeof("cookie___Host-") - 1 + name->len;
    var.data = ngx_pnalloc(r->pool, var.len);
    if (var.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(var.data, "cookie_", sizeof("cookie_") - 1);

    if (ngx_http_credential_secure(r, oauth)) {
        p = ngx_cpymem(p, "__Host-", sizeof("__Host-") - 1);
    }

    p = ngx_cpymem(p, name->data, name->len);
    var.len = p - var.data;

    vv = ngx_http_get_variable(r, &var, ngx_hash_key(var.data, var.len));

    if (vv == NULL || vv->not_found || vv->len == 0) {
        return NGX_DECLINED;
    }

    value->data = vv->data;
    value->len = vv->len;

    return NGX_OK;
}


/* a request header by name; the first of several */

static ngx_str_t *
ngx_http_credential_header_in(ngx_http_request_t *r, char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i].value;
        }
    }
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

    if (ngx_http_credential_page_headers(r, 0) != NGX_OK) {
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


/*
 * Never cached; an HTML page loads nothing, runs nothing and is in no
 * frame: a framed button could be clicked for the operator.
 */

static ngx_int_t
ngx_http_credential_page_headers(ngx_http_request_t *r, ngx_uint_t html)
{
    ngx_str_t  value;

    if (html) {
        ngx_str_set(&value, "default-src 'none'; base-uri 'none'; "
                            "frame-ancestors 'none'");

        if (ngx_http_credential_header_out(r, "Content-Security-Policy",
                                           &value, NULL)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_str_set(&value, "DENY");

        if (ngx_http_credential_header_out(r, "X-Frame-Options", &value,
                                           NULL)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    ngx_str_set(&value, "no-store");

    if (ngx_http_credential_header_out(r, "Cache-Control", &value, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&value, "nosniff");

    return ngx_http_credential_header_out(r, "X-Content-Type-Options",
                                          &value, NULL);
}
