
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * One request per connection ("Connection: close"): resolve, connect,
 * TLS handshake and checks, send, read until the answer is complete, then
 * a single teardown path that calls done().  The model is nginx's OCSP
 * client; TLS follows the upstream module's checks.
 */


#include "ngx_edge_auth_http.h"
#include "ngx_edge_auth_tls.h"


/* why the endpoint's certificate was refused, as the Redis client says */
#define NGX_EDGE_AUTH_HTTP_REASON_LEN  128


static void ngx_edge_auth_http_resolve_handler(ngx_resolver_ctx_t *ctx);
static void ngx_edge_auth_http_connect(ngx_edge_auth_http_t *hc);
static void ngx_edge_auth_http_write_handler(ngx_event_t *wev);
static void ngx_edge_auth_http_read_handler(ngx_event_t *rev);
#if (NGX_HTTP_SSL)
static void ngx_edge_auth_http_ssl_start(ngx_edge_auth_http_t *hc);
static void ngx_edge_auth_http_ssl_handshake(ngx_connection_t *c);
#endif
static void ngx_edge_auth_http_send(ngx_edge_auth_http_t *hc);
static void ngx_edge_auth_http_next(ngx_edge_auth_http_t *hc,
    const char *error, ngx_err_t err);
static void ngx_edge_auth_http_fail(ngx_edge_auth_http_t *hc,
    const char *error, ngx_err_t err);
static void ngx_edge_auth_http_finish(ngx_edge_auth_http_t *hc);
static void ngx_edge_auth_http_close(ngx_edge_auth_http_t *hc);
static void ngx_edge_auth_http_posted(ngx_event_t *ev);
static void ngx_edge_auth_http_dummy_handler(ngx_event_t *ev);
static ngx_int_t ngx_edge_auth_url_userinfo(ngx_conf_t *cf, ngx_str_t *text,
    ngx_str_t *shown);


ngx_int_t
ngx_edge_auth_url_parse(ngx_conf_t *cf, ngx_str_t *text,
    ngx_edge_auth_url_t *url, ngx_uint_t resolve)
{
    size_t     add;
    u_char    *p;
    ngx_str_t  shown;
    ngx_url_t  u;

    ngx_memzero(url, sizeof(ngx_edge_auth_url_t));
    ngx_memzero(&u, sizeof(ngx_url_t));

    /* what messages show: the URL without its userinfo */

    if (ngx_edge_auth_url_userinfo(cf, text, &shown) != NGX_OK) {
        return NGX_ERROR;
    }

    if (shown.data != text->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL \"%V\": a user and password in a "
                           "URL are not supported (and would be logged): "
                           "use \"login_basic\" or a login_param with a "
                           "secret", &shown);
        return NGX_ERROR;
    }

    url->text = *text;

    if (text->len > 7 && ngx_strncasecmp(text->data, (u_char *) "http://", 7)
                         == 0)
    {
        add = 7;
        u.default_port = 80;

    } else if (text->len > 8
               && ngx_strncasecmp(text->data, (u_char *) "https://", 8) == 0)
    {
#if (NGX_HTTP_SSL)
        add = 8;
        u.default_port = 443;
        url->ssl = 1;
#else
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs nginx built with the ssl module",
                           &shown);
        return NGX_ERROR;
#endif

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL \"%V\": it must start with "
                           "\"http://\" or \"https://\"", &shown);
        return NGX_ERROR;
    }

    for (p = text->data; p < text->data + text->len; p++) {
        if (*p <= 0x20 || *p == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid URL \"%V\": it contains a space or "
                               "a control byte", text);
            return NGX_ERROR;
        }
    }

    u.url.len = text->len - add;
    u.url.data = text->data + add;
    u.uri_part = 1;
    u.no_resolve = resolve ? 0 : 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s in URL \"%V\"",
                               u.err, text);
        }

        return NGX_ERROR;
    }

    url->host = u.host;
    url->port = u.port;
    url->addrs = u.addrs;
    url->naddrs = u.naddrs;

    if (u.uri.len == 0) {
        ngx_str_set(&url->uri, "/");

    } else {
        url->uri = u.uri;
    }

    /* "Host: name[:port]", the port only when it is not the default */

    if (u.no_port || u.port == u.default_port) {
        url->host_header = u.host;

    } else {
        url->host_header.data = ngx_pnalloc(cf->pool,
                                            u.host.len + sizeof(":65535"));
        if (url->host_header.data == NULL) {
            return NGX_ERROR;
        }

        url->host_header.len = ngx_sprintf(url->host_header.data, "%V:%d",
                                           &u.host, (int) u.port)
                               - url->host_header.data;
    }

    return NGX_OK;
}


/*
 * A URL's "user:password@" (RFC 3986 userinfo), between "//" and the end
 * of the authority: *shown is the URL with "***" in its place, or text
 * itself when it has none.
 */

static ngx_int_t
ngx_edge_auth_url_userinfo(ngx_conf_t *cf, ngx_str_t *text, ngx_str_t *shown)
{
    u_char  *p, *start, *end, *at;

    *shown = *text;

    start = ngx_strlcasestrn(text->data, text->data + text->len,
                             (u_char *) "//", 2 - 1);
    if (start == NULL) {
        return NGX_OK;
    }

    start += 2;
    end = text->data + text->len;
    at = NULL;

    for (p = start; p < end; p++) {
        if (*p == '/' || *p == '?' || *p == '#') {
            break;
        }

        if (*p == '@') {
            at = p;
        }
    }

    if (at == NULL) {
        return NGX_OK;
    }

    shown->len = (start - text->data) + sizeof("***") - 1 + (end - at);
    shown->data = ngx_pnalloc(cf->temp_pool, shown->len);
    if (shown->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(shown->data, text->data, start - text->data);
    p = ngx_cpymem(p, "***", sizeof("***") - 1);
    ngx_memcpy(p, at, end - at);

    return NGX_OK;
}


ngx_int_t
ngx_edge_auth_url_resolve(ngx_conf_t *cf, ngx_edge_auth_url_t *url,
    u_char *file, ngx_uint_t line)
{
    ngx_url_t  u;

    if (url->addrs) {
        return NGX_OK;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.host = url->host;
    u.port = url->port;

    if (ngx_inet_resolve_host(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "%s in URL \"%V\" in %s:%ui; configure a \"resolver\" "
                      "to resolve it at run time",
                      u.err ? u.err : "host not found", &url->text, file,
                      line);
        return NGX_ERROR;
    }

    url->addrs = u.addrs;
    url->naddrs = u.naddrs;

    return NGX_OK;
}


ngx_edge_auth_http_t *
ngx_edge_auth_http_create(ngx_log_t *log)
{
    ngx_pool_t            *pool;
    ngx_edge_auth_http_t  *hc;

    pool = ngx_create_pool(2048, log);
    if (pool == NULL) {
        return NULL;
    }

    hc = ngx_pcalloc(pool, sizeof(ngx_edge_auth_http_t));
    if (hc == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    hc->log = ngx_palloc(pool, sizeof(ngx_log_t));
    if (hc->log == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    *hc->log = *log;
    hc->pool = pool;
    pool->log = hc->log;

    return hc;
}


void
ngx_edge_auth_http_start(ngx_edge_auth_http_t *hc)
{
    ngx_resolver_ctx_t  *ctx, temp;

    hc->in = ngx_create_temp_buf(hc->pool, hc->conf->max_size + 1);
    if (hc->in == NULL) {
        ngx_edge_auth_http_fail(hc, "out of memory", 0);
        return;
    }

    if (hc->conf->resolver == NULL || hc->url->addrs) {
        if (hc->url->addrs == NULL) {
            ngx_edge_auth_http_fail(hc, "the host has no address and no "
                                    "resolver is configured", 0);
            return;
        }

        hc->addrs = hc->url->addrs;
        hc->naddrs = hc->url->naddrs;

        ngx_edge_auth_http_connect(hc);
        return;
    }

    temp.name = hc->url->host;

    ctx = ngx_resolve_start(hc->conf->resolver, &temp);

    /* address literals were resolved with the configuration */
    if (ctx == NULL || ctx == NGX_NO_RESOLVER || ctx == &temp) {
        ngx_edge_auth_http_fail(hc, "the resolver cannot be used", 0);
        return;
    }

    ctx->name = hc->url->host;
    ctx->handler = ngx_edge_auth_http_resolve_handler;
    ctx->data = hc;
    ctx->timeout = hc->conf->resolver_timeout;

    hc->resolving = ctx;

    if (ngx_resolve_name(ctx) != NGX_OK) {
        hc->resolving = NULL;
        ngx_edge_auth_http_fail(hc, "the resolver failed", 0);
    }
}


static void
ngx_edge_auth_http_resolve_handler(ngx_resolver_ctx_t *ctx)
{
    ngx_edge_auth_http_t *hc = ctx->data;

    u_char           *p;
    size_t            len;
    socklen_t         socklen;
    ngx_uint_t        i;
    struct sockaddr  *sockaddr;

    if (ctx->state) {
        ngx_log_error(NGX_LOG_ERR, hc->log, 0,
                      "\"%V\" could not be resolved (%i: %s)",
                      &ctx->name, ctx->state,
                      ngx_resolver_strerror(ctx->state));
        goto failed;
    }

    hc->naddrs = ctx->naddrs;
    hc->addrs = ngx_pcalloc(hc->pool, ctx->naddrs * sizeof(ngx_addr_t));
    if (hc->addrs == NULL) {
        goto failed;
    }

    for (i = 0; i < ctx->naddrs; i++) {
        socklen = ctx->addrs[i].socklen;

        sockaddr = ngx_palloc(hc->pool, socklen);
        if (sockaddr == NULL) {
            goto failed;
        }

        ngx_memcpy(sockaddr, ctx->addrs[i].sockaddr, socklen);
        ngx_inet_set_port(sockaddr, hc->url->port);

        hc->addrs[i].sockaddr = sockaddr;
        hc->addrs[i].socklen = socklen;

        p = ngx_pnalloc(hc->pool, NGX_SOCKADDR_STRLEN);
        if (p == NULL) {
            goto failed;
        }

        len = ngx_sock_ntop(sockaddr, socklen, p, NGX_SOCKADDR_STRLEN, 1);

        hc->addrs[i].name.len = len;
        hc->addrs[i].name.data = p;
    }

    ngx_resolve_name_done(ctx);
    hc->resolving = NULL;

    ngx_edge_auth_http_connect(hc);
    return;

failed:

    ngx_resolve_name_done(ctx);
    hc->resolving = NULL;

    ngx_edge_auth_http_fail(hc, "the host name could not be resolved", 0);
}


static void
ngx_edge_auth_http_connect(ngx_edge_auth_http_t *hc)
{
    ngx_int_t          rc;
    ngx_addr_t        *addr;
    ngx_connection_t  *c;

    addr = &hc->addrs[hc->naddr];

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, hc->log, 0,
                   "credential client: connect %V (%ui/%ui)",
                   &addr->name, hc->naddr + 1, hc->naddrs);

    ngx_memzero(&hc->peer, sizeof(ngx_peer_connection_t));

    hc->peer.sockaddr = addr->sockaddr;
    hc->peer.socklen = addr->socklen;
    hc->peer.name = &addr->name;
    hc->peer.get = ngx_event_get_peer;
    hc->peer.log = hc->log;
    hc->peer.log_error = NGX_ERROR_INFO;

    /*
     * Said here, once per login, rather than as nginx's alert and a
     * connect() error that names the previous call's errno.
     */

    if (ngx_cycle->free_connection_n == 0) {
        ngx_edge_auth_http_fail(hc, "no free connection in this worker: "
                                "worker_connections are not enough for the "
                                "clients, the upstreams and the logins", 0);
        return;
    }

    rc = ngx_event_connect_peer(&hc->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        ngx_edge_auth_http_next(hc, "connect() failed", ngx_socket_errno);
        return;
    }

    c = hc->peer.connection;
    c->data = hc;
    c->pool = hc->pool;
    c->log_error = NGX_ERROR_INFO;

    c->read->handler = ngx_edge_auth_http_read_handler;
    c->write->handler = ngx_edge_auth_http_write_handler;

    ngx_add_timer(c->write, hc->conf->timeout);

    if (rc == NGX_OK) {
        ngx_edge_auth_http_write_handler(c->write);
    }
}


static void
ngx_edge_auth_http_write_handler(ngx_event_t *wev)
{
    ngx_connection_t      *c;
    ngx_edge_auth_http_t  *hc;

    c = wev->data;
    hc = c->data;

    if (wev->timedout) {
        ngx_edge_auth_http_next(hc, "the endpoint timed out", NGX_ETIMEDOUT);
        return;
    }

#if (NGX_HTTP_SSL)
    if (hc->url->ssl && c->ssl == NULL) {
        ngx_edge_auth_http_ssl_start(hc);
        return;
    }
#endif

    ngx_edge_auth_http_send(hc);
}


#if (NGX_HTTP_SSL)

static void
ngx_edge_auth_http_ssl_start(ngx_edge_auth_http_t *hc)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    c = hc->peer.connection;

    if (ngx_ssl_create_connection(hc->conf->ssl, c,
                                  NGX_SSL_BUFFER|NGX_SSL_CLIENT)
        != NGX_OK)
    {
        ngx_edge_auth_http_fail(hc, "TLS could not be set up", 0);
        return;
    }

    if (ngx_edge_auth_tls_server_name(c, &hc->url->host) != NGX_OK) {
        ngx_edge_auth_http_fail(hc, "TLS server name could not be set", 0);
        return;
    }

    c->log->action = "performing the TLS handshake with a login endpoint";

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        if (!c->write->timer_set) {
            ngx_add_timer(c->write, hc->conf->timeout);
        }

        c->ssl->handler = ngx_edge_auth_http_ssl_handshake;
        return;
    }

    ngx_edge_auth_http_ssl_handshake(c);
}


static void
ngx_edge_auth_http_ssl_handshake(ngx_connection_t *c)
{
    u_char                *reason;
    ngx_edge_auth_http_t  *hc;

    hc = c->data;

    c->log->action = NULL;

    if (!c->ssl->handshaked) {
        ngx_edge_auth_http_next(hc, c->write->timedout
                                    ? "the TLS handshake timed out"
                                    : "the TLS handshake failed", 0);
        return;
    }

    /* the reason lives in the client's pool: done() reads it later */

    if (hc->conf->verify) {
        reason = ngx_pnalloc(hc->pool, NGX_EDGE_AUTH_HTTP_REASON_LEN);
        if (reason == NULL) {
            ngx_edge_auth_http_fail(hc, "out of memory", 0);
            return;
        }

        if (ngx_edge_auth_tls_verify(c, &hc->url->host, reason,
                                     NGX_EDGE_AUTH_HTTP_REASON_LEN)
            != NULL)
        {
            ngx_edge_auth_http_fail(hc, (char *) reason, 0);
            return;
        }
    }

    c->read->handler = ngx_edge_auth_http_read_handler;
    c->write->handler = ngx_edge_auth_http_write_handler;

    ngx_edge_auth_http_send(hc);
}

#endif


static void
ngx_edge_auth_http_send(ngx_edge_auth_http_t *hc)
{
    ssize_t            n;
    ngx_time_t        *tp;
    ngx_connection_t  *c;

    c = hc->peer.connection;

    while (hc->sent < hc->request.len) {

        n = c->send(c, hc->request.data + hc->sent,
                    hc->request.len - hc->sent);

        if (n == NGX_ERROR) {
            ngx_edge_auth_http_next(hc, "the request could not be sent",
                                    ngx_socket_errno);
            return;
        }

        if (n == NGX_AGAIN) {
            if (!c->write->timer_set) {
                ngx_add_timer(c->write, hc->conf->timeout);
            }

            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                ngx_edge_auth_http_fail(hc, "the request could not be sent",
                                        0);
            }

            return;
        }

        hc->sent += n;
    }

    /*
     * All sent: from now on only the answer matters.  A token's life
     * starts no earlier than this: the caller counts from here, not from
     * the answer, which a slow partner or network may bring late.
     */

    tp = ngx_timeofday();
    hc->sent_at = (int64_t) tp->sec * 1000 + tp->msec;

    c->write->handler = ngx_edge_auth_http_dummy_handler;

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
        ngx_edge_auth_http_fail(hc, "the request could not be sent", 0);
        return;
    }

    ngx_add_timer(c->read, hc->conf->timeout);

    if (c->read->ready) {
        ngx_edge_auth_http_read_handler(c->read);
    }
}


static void
ngx_edge_auth_http_read_handler(ngx_event_t *rev)
{
    ssize_t                  n;
    ngx_int_t                eof;
    ngx_buf_t               *b;
    ngx_connection_t        *c;
    ngx_edge_auth_http_t    *hc;
    ngx_edge_auth_http_rc_e  rc;

    c = rev->data;
    hc = c->data;

    if (rev->timedout) {
        ngx_edge_auth_http_fail(hc, "the endpoint timed out", NGX_ETIMEDOUT);
        return;
    }

    b = hc->in;

    for ( ;; ) {

        /* one spare byte tells "larger than the cap" from "exactly it" */

        n = c->recv(c, b->last, b->end - b->last);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR) {
            /* a refused connect shows on the read side first */

            if (hc->sent < hc->request.len && b->last == b->pos) {
                ngx_edge_auth_http_next(hc, "connect() failed",
                                        ngx_socket_errno);
                return;
            }

            ngx_edge_auth_http_fail(hc, "the answer could not be read",
                                    ngx_socket_errno);
            return;
        }

        eof = (n == 0);
        b->last += n;

        if ((size_t) (b->last - b->pos) > hc->conf->max_size) {
            ngx_edge_auth_http_fail(hc, "the answer is larger than the "
                                    "configured maximum", 0);
            return;
        }

        rc = ngx_edge_auth_http_parse(b->pos, b->last - b->pos, eof,
                                      &hc->answer);

        if (rc == NGX_EDGE_AUTH_HTTP_COMPLETE) {
            ngx_edge_auth_http_finish(hc);
            return;
        }

        if (rc == NGX_EDGE_AUTH_HTTP_INVALID) {
            ngx_edge_auth_http_fail(hc, hc->answer.error, 0);
            return;
        }

        if (eof) {
            ngx_edge_auth_http_fail(hc, "the connection closed before the "
                                    "answer was complete", 0);
            return;
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_edge_auth_http_fail(hc, "the answer could not be read", 0);
        return;
    }

    if (!rev->timer_set) {
        ngx_add_timer(rev, hc->conf->timeout);
    }
}


/* nothing was received yet: the next address, as proxy_pass does */

static void
ngx_edge_auth_http_next(ngx_edge_auth_http_t *hc, const char *error,
    ngx_err_t err)
{
    if (hc->naddr + 1 >= hc->naddrs) {
        ngx_edge_auth_http_fail(hc, error, err);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, hc->log, err,
                  "login endpoint %V: %s, trying the next address",
                  &hc->addrs[hc->naddr].name, error);

    ngx_edge_auth_http_close(hc);

    hc->naddr++;
    hc->sent = 0;
    hc->in->last = hc->in->pos;

    ngx_edge_auth_http_connect(hc);
}


static void
ngx_edge_auth_http_fail(ngx_edge_auth_http_t *hc, const char *error,
    ngx_err_t err)
{
    hc->error = error;
    hc->err = err;

    ngx_edge_auth_http_finish(hc);
}


static void
ngx_edge_auth_http_finish(ngx_edge_auth_http_t *hc)
{
    ngx_edge_auth_http_close(hc);

    /* done() never runs inside ngx_edge_auth_http_start() */

    hc->posted.handler = ngx_edge_auth_http_posted;
    hc->posted.data = hc;
    hc->posted.log = hc->log;

    ngx_post_event(&hc->posted, &ngx_posted_events);
}


static void
ngx_edge_auth_http_posted(ngx_event_t *ev)
{
    ngx_edge_auth_http_t *hc = ev->data;

    hc->done(hc);
}


static void
ngx_edge_auth_http_close(ngx_edge_auth_http_t *hc)
{
    ngx_connection_t  *c;

    if (hc->resolving) {
        ngx_resolve_name_done(hc->resolving);
        hc->resolving = NULL;
    }

    c = hc->peer.connection;

    if (c == NULL) {
        return;
    }

#if (NGX_HTTP_SSL)
    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = 1;
        (void) ngx_ssl_shutdown(c);
    }
#endif

    ngx_close_connection(c);
    hc->peer.connection = NULL;
}


void
ngx_edge_auth_http_abort(ngx_edge_auth_http_t *hc)
{
    if (hc->posted.posted) {
        ngx_delete_posted_event(&hc->posted);
    }

    ngx_edge_auth_http_close(hc);
    ngx_edge_auth_http_free(hc);
}


void
ngx_edge_auth_http_free(ngx_edge_auth_http_t *hc)
{
    /* the answer holds tokens */
    if (hc->in) {
        ngx_explicit_memzero(hc->in->start, hc->in->end - hc->in->start);
    }

    ngx_destroy_pool(hc->pool);
}


static void
ngx_edge_auth_http_dummy_handler(ngx_event_t *ev)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "credential client: dummy handler");
}


/*
 * The client's errors are its own sentences (above); this sorts them,
 * here next to them, so a new sentence is sorted where it is written.
 */

ngx_uint_t
ngx_edge_auth_http_failure(ngx_edge_auth_http_t *hc)
{
    const char  *e;

    e = hc->error;

    if (e == NULL) {
        return NGX_EDGE_AUTH_HTTP_FAIL_NONE;
    }

    if (hc->err == NGX_ETIMEDOUT || ngx_strstr(e, "timed out")) {
        return NGX_EDGE_AUTH_HTTP_FAIL_TIMEOUT;
    }

    if (ngx_strstr(e, "TLS") || ngx_strstr(e, "certificate")) {
        return NGX_EDGE_AUTH_HTTP_FAIL_TLS;
    }

    if (e == hc->answer.error || ngx_strstr(e, "larger than")) {
        return NGX_EDGE_AUTH_HTTP_FAIL_PARSE;
    }

    if (ngx_strstr(e, "out of memory")) {
        return NGX_EDGE_AUTH_HTTP_FAIL_OTHER;
    }

    return NGX_EDGE_AUTH_HTTP_FAIL_CONNECT;
}
