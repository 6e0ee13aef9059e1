
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * A small HTTP/1.1 client on nginx's event loop, for login and token
 * endpoints: plain or TLS (certificate and host name verified, SNI),
 * addresses resolved at configuration time or through nginx's resolver,
 * one timeout for connect and each read and write, a cap on the answer.
 */


#ifndef _NGX_EDGE_AUTH_HTTP_H_INCLUDED_
#define _NGX_EDGE_AUTH_HTTP_H_INCLUDED_


#include "ngx_edge_auth.h"
#include "ngx_edge_auth_http_parse.h"


typedef struct ngx_edge_auth_http_s  ngx_edge_auth_http_t;

typedef void (*ngx_edge_auth_http_done_pt)(ngx_edge_auth_http_t *hc);


typedef struct {
    ngx_str_t                    text;       /* as configured, for logs */
    ngx_str_t                    host;       /* SNI, certificate name */
    ngx_str_t                    host_header;
    ngx_str_t                    uri;        /* path and query */
    in_port_t                    port;
    ngx_addr_t                  *addrs;      /* from configuration time */
    ngx_uint_t                   naddrs;
    unsigned                     ssl:1;
} ngx_edge_auth_url_t;


typedef struct {
#if (NGX_HTTP_SSL)
    ngx_ssl_t                   *ssl;
#endif
    ngx_flag_t                   verify;
    ngx_resolver_t              *resolver;   /* NULL: configured addresses */
    ngx_msec_t                   resolver_timeout;
    ngx_msec_t                   timeout;
    size_t                       max_size;
} ngx_edge_auth_http_conf_t;


struct ngx_edge_auth_http_s {
    ngx_pool_t                  *pool;
    ngx_log_t                   *log;

    /* set by the caller before ngx_edge_auth_http_start() */
    ngx_edge_auth_url_t         *url;
    ngx_edge_auth_http_conf_t   *conf;
    ngx_str_t                    request;    /* the whole request */
    ngx_edge_auth_http_done_pt   done;
    void                        *data;

    /* for done(): error is NULL or a sentence; err the system error */
    const char                  *error;
    ngx_err_t                    err;
    ngx_edge_auth_http_answer_t  answer;
    int64_t                      sent_at;    /* ms: the request's last byte */

    /* private */
    ngx_peer_connection_t        peer;
    ngx_resolver_ctx_t          *resolving;
    ngx_addr_t                  *addrs;
    ngx_uint_t                   naddrs;
    ngx_uint_t                   naddr;
    ngx_buf_t                   *in;
    size_t                       sent;
    ngx_event_t                  posted;     /* runs done() */
};


ngx_int_t ngx_edge_auth_url_parse(ngx_conf_t *cf, ngx_str_t *text,
    ngx_edge_auth_url_t *url, ngx_uint_t resolve);
/* resolves the host now; file and line name the directive for errors */
ngx_int_t ngx_edge_auth_url_resolve(ngx_conf_t *cf, ngx_edge_auth_url_t *url,
    u_char *file, ngx_uint_t line);

ngx_edge_auth_http_t *ngx_edge_auth_http_create(ngx_log_t *log);
/* done() is always called, never from within this call */
void ngx_edge_auth_http_start(ngx_edge_auth_http_t *hc);
/* stops without calling done() and frees everything */
void ngx_edge_auth_http_abort(ngx_edge_auth_http_t *hc);
void ngx_edge_auth_http_free(ngx_edge_auth_http_t *hc);

/* what kind of failure hc->error is, for counters */
#define NGX_EDGE_AUTH_HTTP_FAIL_NONE     0
#define NGX_EDGE_AUTH_HTTP_FAIL_CONNECT  1   /* resolve, connect, send, read */
#define NGX_EDGE_AUTH_HTTP_FAIL_TIMEOUT  2
#define NGX_EDGE_AUTH_HTTP_FAIL_TLS      3
#define NGX_EDGE_AUTH_HTTP_FAIL_PARSE    4   /* not an HTTP answer */
#define NGX_EDGE_AUTH_HTTP_FAIL_OTHER    5   /* out of memory */

ngx_uint_t ngx_edge_auth_http_failure(ngx_edge_auth_http_t *hc);


#endif /* _NGX_EDGE_AUTH_HTTP_H_INCLUDED_ */
