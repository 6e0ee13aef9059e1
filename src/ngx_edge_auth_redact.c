
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Keeps secrets out of debug logs.  Once a credential is in the request
 * headers, nginx's own debug lines (the proxy module logs every header it
 * sends upstream) would print it.  When, and only when, the connection's
 * log chain has debug enabled, each log of the chain gets a writer that
 * masks every string of the list it is given (the configured secrets, and
 * a signed request's signature) before the line is written.
 */


#include "ngx_edge_auth_redact.h"


#define NGX_EDGE_AUTH_REDACTED  "[redacted]"


typedef struct {
    ngx_log_writer_pt     writer;     /* the original, or NULL for a file */
    void                 *wdata;
    ngx_array_t          *secrets;    /* ngx_str_t */
} ngx_edge_auth_redact_ctx_t;


typedef struct {
    ngx_log_t            *log;        /* the connection's own */
    ngx_log_writer_pt     writer;
    void                 *wdata;
    ngx_log_t            *next;
} ngx_edge_auth_redact_saved_t;


static void ngx_edge_auth_redact_restore(void *data);
static void ngx_edge_auth_redact_writer(ngx_log_t *log, ngx_uint_t level,
    u_char *buf, size_t len);
static size_t ngx_edge_auth_redact(u_char *buf, size_t len, u_char *out,
    size_t size, ngx_array_t *secrets);


/* no debug anywhere: nothing nginx logs carries a header value */

ngx_uint_t
ngx_edge_auth_redact_wanted(ngx_connection_t *c)
{
    ngx_log_t  *log;

    if (c->log->writer == ngx_edge_auth_redact_writer) {
        return 1;
    }

    for (log = c->log; log; log = log->next) {
        if (log->log_level & (NGX_LOG_DEBUG_ALL|NGX_LOG_DEBUG_CONNECTION)) {
            return 1;
        }
    }

    return 0;
}


ngx_int_t
ngx_edge_auth_redact_log(ngx_connection_t *c, ngx_pool_t *pool,
    ngx_array_t *secrets)
{
    ngx_log_t                     *log, *copy, *prev, *next;
    ngx_pool_cleanup_t            *cln;
    ngx_edge_auth_redact_ctx_t    *ctx;
    ngx_edge_auth_redact_saved_t  *saved;

    if (c->log->writer == ngx_edge_auth_redact_writer) {

        /* installed already: this request's list, per-request values too */

        for (log = c->log; log; log = log->next) {
            if (log->writer == ngx_edge_auth_redact_writer) {
                ctx = log->wdata;
                ctx->secrets = secrets;
            }
        }

        return NGX_OK;
    }

    if (secrets->nelts == 0 || !ngx_edge_auth_redact_wanted(c)) {
        return NGX_OK;
    }

    /*
     * c->log is the connection's own; the rest of the chain belongs to the
     * configuration and is copied.  All of it lives in the request's pool,
     * and the connection logs after the request is freed ("close http
     * connection"): the pool's cleanup puts c->log back as it was.
     */

    cln = ngx_pool_cleanup_add(pool, sizeof(ngx_edge_auth_redact_saved_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    saved = cln->data;
    saved->log = c->log;
    saved->writer = c->log->writer;
    saved->wdata = c->log->wdata;
    saved->next = c->log->next;

    cln->handler = ngx_edge_auth_redact_restore;

    prev = NULL;

    for (log = c->log; log; log = next) {
        next = log->next;

        if (prev) {
            copy = ngx_palloc(pool, sizeof(ngx_log_t));
            if (copy == NULL) {
                return NGX_ERROR;
            }

            *copy = *log;
            prev->next = copy;
            log = copy;
        }

        ctx = ngx_palloc(pool, sizeof(ngx_edge_auth_redact_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ctx->writer = log->writer;
        ctx->wdata = log->wdata;
        ctx->secrets = secrets;

        log->writer = ngx_edge_auth_redact_writer;
        log->wdata = ctx;

        prev = log;
    }

    return NGX_OK;
}


static void
ngx_edge_auth_redact_restore(void *data)
{
    ngx_edge_auth_redact_saved_t *saved = data;

    /* unless the connection has moved on to another request's chain */

    if (saved->log->writer == ngx_edge_auth_redact_writer) {
        saved->log->writer = saved->writer;
        saved->log->wdata = saved->wdata;
        saved->log->next = saved->next;
    }
}


static void
ngx_edge_auth_redact_writer(ngx_log_t *log, ngx_uint_t level, u_char *buf,
    size_t len)
{
    size_t                       n;
    ngx_edge_auth_redact_ctx_t  *ctx;
    u_char                       out[NGX_MAX_ERROR_STR];

    ctx = log->wdata;

    n = ngx_edge_auth_redact(buf, len, out, sizeof(out), ctx->secrets);

    if (ctx->writer) {
        /* syslog and memory writers keep their state in wdata */
        log->wdata = ctx->wdata;
        ctx->writer(log, level, out, n);
        log->wdata = ctx;
        return;
    }

    (void) ngx_write_fd(log->file->fd, out, n);
}


static size_t
ngx_edge_auth_redact(u_char *buf, size_t len, u_char *out, size_t size,
    ngx_array_t *secrets)
{
    size_t      i, o, rest;
    ngx_str_t  *s;
    ngx_uint_t  k, truncated;

    s = secrets->elts;

    /* a line nginx cut at NGX_MAX_ERROR_STR may end inside a secret */
    truncated = (len >= NGX_MAX_ERROR_STR - NGX_LINEFEED_SIZE);

    o = 0;
    i = 0;

    while (i < len && o < size - NGX_LINEFEED_SIZE) {

        rest = len - i;

        for (k = 0; k < secrets->nelts; k++) {

            if (s[k].len == 0 || buf[i] != s[k].data[0]) {
                continue;
            }

            if ((rest >= s[k].len
                 && ngx_memcmp(&buf[i], s[k].data, s[k].len) == 0)
                || (truncated && rest < s[k].len
                    && rest > NGX_LINEFEED_SIZE
                    && ngx_memcmp(&buf[i], s[k].data,
                                  rest - NGX_LINEFEED_SIZE) == 0))
            {
                break;
            }
        }

        if (k == secrets->nelts) {
            out[o++] = buf[i++];
            continue;
        }

        if (o + sizeof(NGX_EDGE_AUTH_REDACTED) - 1
            > size - NGX_LINEFEED_SIZE)
        {
            break;
        }

        o = ngx_cpymem(&out[o], NGX_EDGE_AUTH_REDACTED,
                       sizeof(NGX_EDGE_AUTH_REDACTED) - 1) - out;

        i += (rest >= s[k].len) ? s[k].len : rest - NGX_LINEFEED_SIZE;
    }

    if (o == 0 || out[o - 1] != LF) {
        if (o > size - NGX_LINEFEED_SIZE) {
            o = size - NGX_LINEFEED_SIZE;
        }

        out[o++] = LF;
    }

    return o;
}
