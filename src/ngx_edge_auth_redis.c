
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#include "ngx_edge_auth_redis.h"


#define NGX_EDGE_AUTH_REDIS_PAUSE_MIN  1000
#define NGX_EDGE_AUTH_REDIS_PAUSE_MAX  30000

/*
 * What an answer may hold: a sealed token with its refresh token is well
 * under 20 KB, and no command the fleet sends answers with more than a
 * few elements.  A larger answer (a hostile or misused server) is an
 * outage, not a worker's memory.
 */
#define NGX_EDGE_AUTH_REDIS_ANSWER_MAX    (64 * 1024)
#define NGX_EDGE_AUTH_REDIS_ELEMENTS_MAX  1024

/* a silent listening connection is found dead within 90 s */
#define NGX_EDGE_AUTH_REDIS_KEEPIDLE      60
#define NGX_EDGE_AUTH_REDIS_KEEPINTVL     10
#define NGX_EDGE_AUTH_REDIS_KEEPCNT       3


struct ngx_edge_auth_redis_s {
    ngx_edge_auth_redis_conf_t  *conf;
    ngx_log_t                   *log;

    ngx_peer_connection_t        peer;
    ngx_uint_t                   naddr;
    ngx_log_t                    quiet;      /* for connect() errors */
    redisReader                 *reader;
    ngx_uint_t                   connected;  /* something was sent */
    ngx_uint_t                   ready;      /* AUTH and SELECT done */
    ngx_uint_t                   answered;   /* an answer came */
    ngx_uint_t                   asked;      /* for a client certificate */
    u_char                       error[256];

    /* what nginx's TLS layer says, caught for the one outage line */
    ngx_log_t                    tls_log;
    u_char                       tls_error[160];

    ngx_queue_t                  calls;      /* waiting to be sent */
    ngx_edge_auth_redis_call_t  *current;    /* sent, answers pending */
    size_t                       sent;

    int64_t                      pause_until;
    ngx_msec_t                   pause;
    ngx_atomic_t                *down;       /* an outage was logged */
    ngx_atomic_t                 own;        /* down, when not shared */

    ngx_event_t                  posted;     /* fails calls out of line */
    ngx_queue_t                  failed;

    ngx_edge_auth_redis_sentinel_t  *sentinel;
    ngx_addr_t                  *master;     /* as the sentinels said */
    ngx_edge_auth_redis_route_t *route;      /* calls go elsewhere */

    ngx_edge_auth_redis_push_pt  push;       /* a listener's messages */
    void                        *push_data;
};


static void ngx_edge_auth_redis_connect(ngx_edge_auth_redis_t *rd);
static void ngx_edge_auth_redis_keepalive(ngx_edge_auth_redis_t *rd,
    ngx_connection_t *c);
static void ngx_edge_auth_redis_master(void *data, ngx_addr_t *master,
    const char *error);
static ngx_int_t ngx_edge_auth_redis_hello(ngx_edge_auth_redis_t *rd);
static void ngx_edge_auth_redis_hello_done(ngx_edge_auth_redis_call_t *call);
static void ngx_edge_auth_redis_next(ngx_edge_auth_redis_t *rd);
static void ngx_edge_auth_redis_write_handler(ngx_event_t *wev);
static void ngx_edge_auth_redis_read_handler(ngx_event_t *rev);
static const char *ngx_edge_auth_redis_lost(ngx_edge_auth_redis_t *rd,
    const char *what);
#if (NGX_HTTP_SSL)
static void ngx_edge_auth_redis_ssl_start(ngx_edge_auth_redis_t *rd);
static void ngx_edge_auth_redis_ssl_handshake(ngx_connection_t *c);
static int ngx_edge_auth_redis_tls_asked(SSL *ssl, void *data);
static void ngx_edge_auth_redis_tls_log(ngx_log_t *log, ngx_uint_t level,
    u_char *buf, size_t len);
#endif
static void ngx_edge_auth_redis_refused(ngx_edge_auth_redis_t *rd,
    ngx_err_t err);
static void ngx_edge_auth_redis_fail(ngx_edge_auth_redis_t *rd,
    const char *error, ngx_err_t err);
static void ngx_edge_auth_redis_disconnect(ngx_edge_auth_redis_t *rd);
static void ngx_edge_auth_redis_abandon(ngx_edge_auth_redis_t *rd,
    const char *error);
static void ngx_edge_auth_redis_posted(ngx_event_t *ev);
static redisReader *ngx_edge_auth_redis_reader(void);
static ngx_uint_t ngx_edge_auth_redis_message(redisReply *reply);


/* hiredis 1 counts elements in a size_t, 0.14 in an int */
#if (HIREDIS_MAJOR >= 1)
typedef size_t  ngx_edge_auth_redis_elements_t;
#else
typedef int  ngx_edge_auth_redis_elements_t;
#endif

typedef void *(*ngx_edge_auth_redis_array_pt)(const redisReadTask *task,
    ngx_edge_auth_redis_elements_t elements);

static void *ngx_edge_auth_redis_array(const redisReadTask *task,
    ngx_edge_auth_redis_elements_t elements);


/* hiredis's own reply functions, but for arrays: checked first */
static redisReplyObjectFunctions    ngx_edge_auth_redis_functions;
static ngx_edge_auth_redis_array_pt  ngx_edge_auth_redis_create_array;


ngx_edge_auth_redis_t *
ngx_edge_auth_redis_create(ngx_cycle_t *cycle,
    ngx_edge_auth_redis_conf_t *conf, ngx_atomic_t *down)
{
    ngx_edge_auth_redis_t  *rd;

    rd = ngx_pcalloc(cycle->pool, sizeof(ngx_edge_auth_redis_t));
    if (rd == NULL) {
        return NULL;
    }

    rd->conf = conf;
    rd->log = cycle->log;

    /*
     * ngx_event_connect_peer() logs a refused unix socket at "crit", on
     * every try; an outage is logged here, once.
     */
    rd->quiet = *cycle->log;
    rd->quiet.log_level = NGX_LOG_ALERT;
    rd->pause = NGX_EDGE_AUTH_REDIS_PAUSE_MIN;
    rd->down = down ? down : &rd->own;

    ngx_queue_init(&rd->calls);
    ngx_queue_init(&rd->failed);

    rd->posted.handler = ngx_edge_auth_redis_posted;
    rd->posted.data = rd;
    rd->posted.log = rd->log;

#if (NGX_HTTP_SSL)
    /*
     * A TLS connection logs to this one: OpenSSL's reasons (a failed
     * handshake logs at "crit", on every try) become part of the outage
     * line instead of lines of their own.
     */
    rd->tls_log = *cycle->log;
    rd->tls_log.log_level = NGX_LOG_INFO;
    rd->tls_log.writer = ngx_edge_auth_redis_tls_log;
    rd->tls_log.wdata = rd;
    rd->tls_log.handler = NULL;
    rd->tls_log.data = NULL;
    rd->tls_log.action = NULL;
    rd->tls_log.next = NULL;
#endif

    if (conf->sentinel) {
        rd->sentinel = ngx_edge_auth_redis_sentinel_create(cycle,
                           conf->sentinel, ngx_edge_auth_redis_master, rd);
        if (rd->sentinel == NULL) {
            return NULL;
        }
    }

    return rd;
}


void
ngx_edge_auth_redis_route(ngx_edge_auth_redis_t *rd,
    ngx_edge_auth_redis_route_t *route)
{
    rd->route = route;
}


void
ngx_edge_auth_redis_listen(ngx_edge_auth_redis_t *rd,
    ngx_edge_auth_redis_push_pt push, void *data)
{
    rd->push = push;
    rd->push_data = data;
}


ngx_uint_t
ngx_edge_auth_redis_usable(ngx_edge_auth_redis_t *rd)
{
    int64_t      now;
    ngx_time_t  *tp;

    if (rd->route) {
        return rd->route->usable(rd->route->data);
    }

    tp = ngx_timeofday();
    now = (int64_t) tp->sec * 1000 + tp->msec;

    return now >= rd->pause_until;
}


ngx_edge_auth_redis_call_t *
ngx_edge_auth_redis_call_create(ngx_edge_auth_redis_t *rd)
{
    ngx_pool_t                  *pool;
    ngx_edge_auth_redis_call_t  *call;

    pool = ngx_create_pool(1024, rd->log);
    if (pool == NULL) {
        return NULL;
    }

    call = ngx_pcalloc(pool, sizeof(ngx_edge_auth_redis_call_t));
    if (call == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    call->pool = pool;

    return call;
}


ngx_int_t
ngx_edge_auth_redis_command(ngx_edge_auth_redis_call_t *call,
    ngx_uint_t argc, ngx_str_t *argv)
{
    int          len;
    char        *cmd;
    u_char      *p;
    size_t       lens[8];
    const char  *args[8];
    ngx_uint_t   i;

    if (argc > 8 || call->ncommands == NGX_EDGE_AUTH_REDIS_MAX_COMMANDS) {
        return NGX_ERROR;
    }

    for (i = 0; i < argc; i++) {
        args[i] = (const char *) argv[i].data;
        lens[i] = argv[i].len;
    }

    /*
     * A cluster routes a call by its first key: a command's first
     * argument, the first of an EVAL's keys.
     */

    if (call->ncommands == 0 && argc > 1) {
        i = (argc > 3 && argv[0].len >= 4
             && ngx_strncasecmp(argv[0].data, (u_char *) "EVAL", 4) == 0
             && !(argv[2].len == 1 && argv[2].data[0] == '0'))
            ? 3 : 1;
        call->slot = ngx_edge_auth_redis_slot(argv[i].data, argv[i].len);
    }

    len = redisFormatCommandArgv(&cmd, (int) argc, args, lens);
    if (len < 0) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(call->pool, call->out.len + len);
    if (p == NULL) {
        redisFreeCommand(cmd);
        return NGX_ERROR;
    }

    ngx_memcpy(p, call->out.data, call->out.len);
    ngx_memcpy(p + call->out.len, cmd, len);

    /* commands may carry a password */
    ngx_explicit_memzero(cmd, len);
    redisFreeCommand(cmd);

    if (call->out.data) {
        ngx_explicit_memzero(call->out.data, call->out.len);
    }

    call->out.data = p;
    call->out.len += len;
    call->ends[call->ncommands++] = call->out.len;

    return NGX_OK;
}


void
ngx_edge_auth_redis_send(ngx_edge_auth_redis_t *rd,
    ngx_edge_auth_redis_call_t *call)
{
    if (rd->route) {
        rd->route->send(rd->route->data, call);
        return;
    }

    ngx_queue_insert_tail(&rd->calls, &call->queue);

    if (rd->peer.connection == NULL) {
        if (rd->sentinel && ngx_edge_auth_redis_sentinel_busy(rd->sentinel)) {
            return;
        }

        if (!ngx_edge_auth_redis_usable(rd)) {
            ngx_edge_auth_redis_fail(rd, "Redis is paused after a failure",
                                     0);
            return;
        }

        rd->naddr = 0;

        if (rd->sentinel) {
            /* every new connection: the master may have changed */
            ngx_edge_auth_redis_sentinel_ask(rd->sentinel);
            return;
        }

        ngx_edge_auth_redis_connect(rd);
        return;
    }

    if (rd->ready && rd->current == NULL) {
        ngx_edge_auth_redis_next(rd);
    }
}


void
ngx_edge_auth_redis_call_free(ngx_edge_auth_redis_call_t *call)
{
    ngx_uint_t  i;

    for (i = 0; i < call->nreplies; i++) {
        freeReplyObject(call->replies[i]);
    }

    if (call->out.data) {
        ngx_explicit_memzero(call->out.data, call->out.len);
    }

    ngx_destroy_pool(call->pool);
}


/*
 * A listening connection sends nothing for minutes: one that died without
 * a close (a peer's reboot, a dropped route) would leave the node waiting
 * for the safety poll.  The kernel's probes find it, without waking the
 * worker until it is gone.
 */

static void
ngx_edge_auth_redis_keepalive(ngx_edge_auth_redis_t *rd, ngx_connection_t *c)
{
    int  value;

    value = 1;

    if (setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE,
                   (const void *) &value, sizeof(int))
        == -1)
    {
        ngx_log_error(NGX_LOG_INFO, rd->log, ngx_socket_errno,
                      "redis: setsockopt(SO_KEEPALIVE) failed");
        return;
    }

#if (NGX_HAVE_KEEPALIVE_TUNABLE)

    value = NGX_EDGE_AUTH_REDIS_KEEPIDLE;
    (void) setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE,
                      (const void *) &value, sizeof(int));

    value = NGX_EDGE_AUTH_REDIS_KEEPINTVL;
    (void) setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPINTVL,
                      (const void *) &value, sizeof(int));

    value = NGX_EDGE_AUTH_REDIS_KEEPCNT;
    (void) setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPCNT,
                      (const void *) &value, sizeof(int));

#endif
}


static void
ngx_edge_auth_redis_connect(ngx_edge_auth_redis_t *rd)
{
    ngx_int_t          rc;
    ngx_addr_t        *addr;
    ngx_connection_t  *c;

    addr = rd->master ? rd->master : &rd->conf->addrs[rd->naddr];

    ngx_memzero(&rd->peer, sizeof(ngx_peer_connection_t));

    rd->peer.sockaddr = addr->sockaddr;
    rd->peer.socklen = addr->socklen;
    rd->peer.name = &addr->name;
    rd->peer.get = ngx_event_get_peer;
    rd->peer.log = &rd->quiet;
    rd->peer.log_error = NGX_ERROR_INFO;

    rc = ngx_event_connect_peer(&rd->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        rd->peer.connection = NULL;
        ngx_edge_auth_redis_refused(rd, ngx_socket_errno);
        return;
    }

    c = rd->peer.connection;
    c->data = rd;
    c->log = rd->log;
    c->read->log = rd->log;
    c->write->log = rd->log;
    c->log_error = NGX_ERROR_INFO;

    c->read->handler = ngx_edge_auth_redis_read_handler;
    c->write->handler = ngx_edge_auth_redis_write_handler;

    if (rd->push && addr->sockaddr->sa_family != AF_UNIX) {
        ngx_edge_auth_redis_keepalive(rd, c);
    }

    rd->connected = 0;
    rd->answered = 0;
    rd->asked = 0;
    rd->tls_error[0] = '\0';
    rd->reader = ngx_edge_auth_redis_reader();

#if (NGX_HTTP_SSL)
    if (rd->conf->tls) {
        c->log = &rd->tls_log;
        c->read->log = c->log;
        c->write->log = c->log;

        /* ngx_ssl_create_connection() allocates from it */
        c->pool = ngx_create_pool(1024, rd->log);
        if (c->pool == NULL) {
            ngx_edge_auth_redis_fail(rd, "out of memory", 0);
            return;
        }
    }
#endif

    if (rd->reader == NULL || ngx_edge_auth_redis_hello(rd) != NGX_OK) {
        ngx_edge_auth_redis_fail(rd, "out of memory", 0);
        return;
    }

    ngx_add_timer(c->write, rd->conf->timeout);

    if (rc == NGX_OK) {
        ngx_edge_auth_redis_write_handler(c->write);
    }
}


/* the sentinels' answer */

static void
ngx_edge_auth_redis_master(void *data, ngx_addr_t *master, const char *error)
{
    ngx_edge_auth_redis_t *rd = data;

    if (master == NULL) {
        ngx_edge_auth_redis_fail(rd, error, 0);
        return;
    }

    rd->master = master;
    ngx_edge_auth_redis_connect(rd);
}


/* AUTH and SELECT go first on every new connection (and ROLE) */

static ngx_int_t
ngx_edge_auth_redis_hello(ngx_edge_auth_redis_t *rd)
{
    u_char                      *p;
    ngx_str_t                    argv[3];
    ngx_uint_t                   argc;
    ngx_edge_auth_redis_call_t  *call;

    rd->ready = 0;

    call = ngx_edge_auth_redis_call_create(rd);
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->done = ngx_edge_auth_redis_hello_done;
    call->data = rd;

    if (rd->conf->password.len) {
        argc = 0;
        ngx_str_set(&argv[argc], "AUTH"); argc++;

        if (rd->conf->user.len) {
            argv[argc++] = rd->conf->user;
        }

        argv[argc++] = rd->conf->password;

        if (ngx_edge_auth_redis_command(call, argc, argv) != NGX_OK) {
            goto failed;
        }
    }

    ngx_str_set(&argv[0], "SELECT");

    p = ngx_pnalloc(call->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        goto failed;
    }

    argv[1].data = p;
    argv[1].len = ngx_sprintf(p, "%ui", rd->conf->db) - p;

    if (ngx_edge_auth_redis_command(call, 2, argv) != NGX_OK) {
        goto failed;
    }

    /* never a write to a replica: the sentinels may lag behind */

    if (rd->sentinel) {
        ngx_str_set(&argv[0], "ROLE");

        if (ngx_edge_auth_redis_command(call, 1, argv) != NGX_OK) {
            goto failed;
        }
    }

    /* first on the wire, before the calls that waited for the connection */
    rd->current = call;
    rd->sent = 0;

    return NGX_OK;

failed:

    ngx_edge_auth_redis_call_free(call);
    return NGX_ERROR;
}


static void
ngx_edge_auth_redis_hello_done(ngx_edge_auth_redis_call_t *call)
{
    ngx_edge_auth_redis_t *rd = call->data;

    u_char       *p, *last;
    ngx_uint_t    i;
    redisReply   *reply;

    for (i = 0; i < call->nreplies; i++) {
        reply = call->replies[i];

        if (reply->type != REDIS_REPLY_ERROR) {
            continue;
        }

        /* Redis's own words ("WRONGPASS ..."); they never echo a password */

        p = rd->error;
        last = rd->error + sizeof(rd->error) - 1;
        p = ngx_slprintf(p, last, "%s refused: %*s",
                         (i == 0 && rd->conf->password.len) ? "AUTH"
                         : (rd->sentinel && i + 1 == call->ncommands) ? "ROLE"
                                                                   : "SELECT",
                         ngx_min(reply->len, 80), reply->str);
        *p = '\0';

        ngx_edge_auth_redis_call_free(call);
        ngx_edge_auth_redis_fail(rd, (char *) rd->error, 0);
        return;
    }

    if (rd->sentinel
        && ngx_edge_auth_redis_sentinel_role(rd->sentinel,
                                             call->replies[call->nreplies - 1],
                                             rd->error, sizeof(rd->error))
           != NGX_OK)
    {
        ngx_edge_auth_redis_call_free(call);
        ngx_edge_auth_redis_fail(rd, (char *) rd->error, 0);
        return;
    }

    ngx_edge_auth_redis_call_free(call);

    rd->ready = 1;

    /*
     * A listener is not back until its first call (SUBSCRIBE) is answered:
     * a server that takes AUTH but drops or ignores SUBSCRIBE (a proxy
     * without pub/sub) is asked less and less often, and the node's
     * outage is the command connections' to say.
     */

    if (rd->push) {
        ngx_edge_auth_redis_next(rd);
        return;
    }

    rd->pause = NGX_EDGE_AUTH_REDIS_PAUSE_MIN;

    /*
     * The worker that ends the outage says so, once for the node; in a
     * cluster, the cluster layer, which knows whether the call was lost.
     */

    if (!rd->conf->cluster && *rd->down && ngx_atomic_cmp_set(rd->down, 1, 0))
    {
        ngx_log_error(NGX_LOG_NOTICE, rd->log, 0,
                      "redis %V: connected again", &rd->conf->text);
    }

    ngx_edge_auth_redis_next(rd);
}


/* the next waiting call goes out */

static void
ngx_edge_auth_redis_next(ngx_edge_auth_redis_t *rd)
{
    ngx_queue_t  *q;

    if (ngx_queue_empty(&rd->calls)) {
        return;
    }

    q = ngx_queue_head(&rd->calls);
    ngx_queue_remove(q);

    rd->current = ngx_queue_data(q, ngx_edge_auth_redis_call_t, queue);
    rd->sent = 0;

    ngx_edge_auth_redis_write_handler(rd->peer.connection->write);
}


static void
ngx_edge_auth_redis_write_handler(ngx_event_t *wev)
{
    ssize_t                      n;
    ngx_connection_t            *c;
    ngx_edge_auth_redis_t       *rd;
    ngx_edge_auth_redis_call_t  *call;

    c = wev->data;
    rd = c->data;

    if (wev->timedout) {
        if (!rd->connected) {
            ngx_edge_auth_redis_refused(rd, NGX_ETIMEDOUT);
            return;
        }

        ngx_edge_auth_redis_fail(rd, "Redis timed out", NGX_ETIMEDOUT);
        return;
    }

#if (NGX_HTTP_SSL)
    if (rd->conf->tls && c->ssl == NULL) {
        ngx_edge_auth_redis_ssl_start(rd);
        return;
    }
#endif

    call = rd->current;

    if (call == NULL || rd->sent == call->out.len) {
        if (wev->timer_set) {
            ngx_del_timer(wev);
        }

        if (ngx_handle_write_event(wev, 0) != NGX_OK) {
            ngx_edge_auth_redis_fail(rd, "the connection failed", 0);
        }

        return;
    }

    while (rd->sent < call->out.len) {
        n = c->send(c, call->out.data + rd->sent, call->out.len - rd->sent);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR) {
            if (!rd->connected) {
                ngx_edge_auth_redis_refused(rd, ngx_socket_errno);
                return;
            }

            ngx_edge_auth_redis_fail(rd,
                                     ngx_edge_auth_redis_lost(rd,
                                         "the command could not be sent"),
                                     c->ssl ? 0 : ngx_socket_errno);
            return;
        }

        rd->connected = 1;
        rd->sent += n;
    }

    if (rd->sent < call->out.len) {
        if (ngx_handle_write_event(wev, 0) != NGX_OK) {
            ngx_edge_auth_redis_fail(rd, "the connection failed", 0);
            return;
        }

        ngx_add_timer(wev, rd->conf->timeout);
        return;
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    /* sent: the answers must come within the timeout */
    ngx_add_timer(c->read, rd->conf->timeout);

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_edge_auth_redis_fail(rd, "the connection failed", 0);
    }
}


static void
ngx_edge_auth_redis_read_handler(ngx_event_t *rev)
{
    void                        *reply;
    ssize_t                      n;
    u_char                       buf[4096];
    ngx_connection_t            *c;
    ngx_edge_auth_redis_t       *rd;
    ngx_edge_auth_redis_call_t  *call;

    c = rev->data;
    rd = c->data;

    if (rev->timedout) {
        ngx_edge_auth_redis_fail(rd, "Redis timed out", NGX_ETIMEDOUT);
        return;
    }

    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR && !rd->connected) {
            ngx_edge_auth_redis_refused(rd, ngx_socket_errno);
            return;
        }

        if (n == NGX_ERROR || n == 0) {
            if (rd->current == NULL) {
                /* an idle connection closed (a restart): reconnect later */
                ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                              "redis %V: the idle connection closed",
                              &rd->conf->text);
                ngx_edge_auth_redis_disconnect(rd);
                return;
            }

            ngx_edge_auth_redis_fail(rd,
                                     ngx_edge_auth_redis_lost(rd, n == 0
                                         ? "Redis closed the connection"
                                         : "the answer could not be read"),
                                     (n == 0 || c->ssl) ? 0
                                                        : ngx_socket_errno);
            return;
        }

        if (redisReaderFeed(rd->reader, (const char *) buf, n) != REDIS_OK) {
            ngx_edge_auth_redis_fail(rd, "out of memory", 0);
            return;
        }

        ngx_explicit_memzero(buf, n);

        /* hiredis keeps an answer whole until its last byte: not a big one */

        if (rd->reader->len - rd->reader->pos
            > NGX_EDGE_AUTH_REDIS_ANSWER_MAX + sizeof(buf))
        {
            ngx_edge_auth_redis_fail(rd, "an answer larger than 64 KB", 0);
            return;
        }

        for ( ;; ) {
            call = rd->current;

            if (redisReaderGetReply(rd->reader, &reply) != REDIS_OK) {
                ngx_edge_auth_redis_fail(rd, "an invalid or too large answer",
                                         0);
                return;
            }

            if (reply == NULL) {
                break;
            }

            rd->answered = 1;

            /* the master became a replica: the sentinels know the new one */

            if (rd->sentinel && ngx_edge_auth_redis_sentinel_readonly(reply)) {
                freeReplyObject(reply);
                ngx_edge_auth_redis_fail(rd, "READONLY: the master became a "
                                         "replica; the sentinels are asked "
                                         "again", 0);
                return;
            }

            /* a listener's message comes between the answers to calls */

            if (rd->push && ngx_edge_auth_redis_message(reply)) {
                rd->push(rd->push_data, reply);
                freeReplyObject(reply);

                if (rd->peer.connection == NULL) {
                    return;
                }

                continue;
            }

            if (call == NULL || call->nreplies == call->ncommands) {
                freeReplyObject(reply);
                ngx_edge_auth_redis_fail(rd, "an answer to no command", 0);
                return;
            }

            call->replies[call->nreplies++] = reply;

            if (call->nreplies < call->ncommands) {
                continue;
            }

            rd->current = NULL;

            if (rev->timer_set) {
                ngx_del_timer(rev);
            }

            if (rd->push && call->done != ngx_edge_auth_redis_hello_done) {
                /* a listener whose SUBSCRIBE was answered works again */
                rd->pause = NGX_EDGE_AUTH_REDIS_PAUSE_MIN;
            }

            /* done() may send the next call or close everything */
            call->done(call);

            if (rd->peer.connection == NULL) {
                return;
            }

            if (rd->current == NULL) {
                ngx_edge_auth_redis_next(rd);
            }

            if (rd->peer.connection == NULL) {
                return;
            }
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_edge_auth_redis_fail(rd, "the connection failed", 0);
    }
}


/* a connection lost before the answers: what can be said of why */

static const char *
ngx_edge_auth_redis_lost(ngx_edge_auth_redis_t *rd, const char *what)
{
    u_char  *p, *last;

    p = rd->error;
    last = rd->error + sizeof(rd->error) - 1;

    if (rd->asked) {
        /* TLS 1.3: the refusal comes after the handshake, or as a reset */
        p = ngx_slprintf(p, last, "%s: Redis asked for a client certificate "
                         "and none is configured (redis_ssl_certificate=)",
                         what);

    } else if (rd->tls_error[0]) {
        p = ngx_slprintf(p, last, "%s: %s", what, rd->tls_error);

    } else if (!rd->conf->tls && !rd->answered) {
        /* a TLS port drops what it cannot read as a TLS handshake */
        p = ngx_slprintf(p, last, "%s before answering (if that port "
                         "speaks TLS, the address needs \"tls://\")",
                         what);

    } else {
        return what;
    }

    *p = '\0';

    return (const char *) rd->error;
}


#if (NGX_HTTP_SSL)

static void
ngx_edge_auth_redis_ssl_start(ngx_edge_auth_redis_t *rd)
{
    int                err;
    socklen_t          len;
    ngx_int_t          rc;
    ngx_connection_t  *c;

    c = rd->peer.connection;

    /* a refused connection is said as such, not as a failed handshake */

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err) {
        ngx_edge_auth_redis_refused(rd, err);
        return;
    }

    if (ngx_ssl_create_connection(rd->conf->ssl, c, NGX_SSL_CLIENT)
        != NGX_OK)
    {
        ngx_edge_auth_redis_fail(rd, "TLS could not be set up", 0);
        return;
    }

    SSL_set_cert_cb(c->ssl->connection, ngx_edge_auth_redis_tls_asked, rd);

    if (ngx_edge_auth_tls_server_name(c, &rd->conf->name) != NGX_OK) {
        ngx_edge_auth_redis_fail(rd, "the TLS server name could not be set",
                                 0);
        return;
    }

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        if (!c->write->timer_set) {
            ngx_add_timer(c->write, rd->conf->timeout);
        }

        c->ssl->handler = ngx_edge_auth_redis_ssl_handshake;
        return;
    }

    ngx_edge_auth_redis_ssl_handshake(c);
}


/* the server proves who it is before a password or a token goes out */

static void
ngx_edge_auth_redis_ssl_handshake(ngx_connection_t *c)
{
    u_char                 *p, *last;
    ngx_edge_auth_redis_t  *rd;

    rd = c->data;

    if (!c->ssl->handshaked) {
        if (c->read->timedout || c->write->timedout) {
            /* a plaintext Redis waits for the end of a "command" */
            ngx_edge_auth_redis_fail(rd, "the TLS handshake timed out (no "
                                     "TLS answer: a port without TLS?)", 0);
            return;
        }

        p = rd->error;
        last = rd->error + sizeof(rd->error) - 1;
        if (rd->asked) {
            ngx_edge_auth_redis_fail(rd, ngx_edge_auth_redis_lost(rd,
                                     "the TLS handshake failed"), 0);
            return;
        }

        p = ngx_slprintf(p, last, "the TLS handshake failed%s%s",
                         rd->tls_error[0] ? ": " : "", rd->tls_error);
        *p = '\0';

        ngx_edge_auth_redis_fail(rd, (char *) rd->error, 0);
        return;
    }

    if (rd->conf->verify
        && ngx_edge_auth_tls_verify(c, &rd->conf->name, rd->error,
                                    sizeof(rd->error))
           != NULL)
    {
        ngx_edge_auth_redis_fail(rd, (char *) rd->error, 0);
        return;
    }

    rd->connected = 1;
    rd->tls_error[0] = '\0';

    c->read->handler = ngx_edge_auth_redis_read_handler;
    c->write->handler = ngx_edge_auth_redis_write_handler;

    /* AUTH and SELECT, waiting since the connect */
    ngx_edge_auth_redis_write_handler(c->write);
}


/* the server asks for a certificate: said if it then refuses us */

static int
ngx_edge_auth_redis_tls_asked(SSL *ssl, void *data)
{
    ngx_edge_auth_redis_t *rd = data;

    if (SSL_get_certificate(ssl) == NULL) {
        rd->asked = 1;
    }

    return 1;
}


/*
 * The first thing nginx's TLS layer says on a connection, without the
 * time, level and process ("SSL_do_handshake() failed (SSL: ...)").
 */

static void
ngx_edge_auth_redis_tls_log(ngx_log_t *log, ngx_uint_t level, u_char *buf,
    size_t len)
{
    ngx_edge_auth_redis_t *rd = log->wdata;

    u_char  *p, *last;

    if (rd->tls_error[0]) {
        return;
    }

    last = buf + len;

    while (last > buf && (last[-1] == LF || last[-1] == CR)) {
        last--;
    }

    /* "2026/01/01 00:00:00 [crit] 1#1: *5 " */

    p = ngx_strlchr(buf, last, '#');
    p = p ? ngx_strlchr(p, last, ' ') : NULL;

    if (p == NULL) {
        return;
    }

    p++;

    if (p < last && *p == '*') {
        p = ngx_strlchr(p, last, ' ');

        if (p == NULL) {
            return;
        }

        p++;
    }

    len = ngx_min((size_t) (last - p), sizeof(rd->tls_error) - 1);
    ngx_memcpy(rd->tls_error, p, len);
    rd->tls_error[len] = '\0';
}

#endif


/* a connection that was never established: the next address, if any */

static void
ngx_edge_auth_redis_refused(ngx_edge_auth_redis_t *rd, ngx_err_t err)
{
    ngx_edge_auth_redis_call_t  *call;

    if (rd->naddr + 1 >= rd->conf->naddrs) {
        ngx_edge_auth_redis_fail(rd, "connect() failed", err);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, rd->log, err,
                  "redis %V: connect() to %V failed, trying the next address",
                  &rd->conf->text, &rd->conf->addrs[rd->naddr].name);

    /* the greeting is made again for the next connection */
    call = rd->current;
    rd->current = NULL;

    if (call) {
        ngx_edge_auth_redis_call_free(call);
    }

    ngx_edge_auth_redis_disconnect(rd);

    rd->naddr++;
    ngx_edge_auth_redis_connect(rd);
}


/*
 * Every call pending fails (done() runs from a posted event, so never
 * inside a caller's ngx_edge_auth_redis_send()); the client pauses.
 */

static void
ngx_edge_auth_redis_fail(ngx_edge_auth_redis_t *rd, const char *error,
    ngx_err_t err)
{
    int64_t                      now;
    ngx_uint_t                   level;
    ngx_queue_t                 *q;
    ngx_time_t                  *tp;
    ngx_edge_auth_redis_call_t  *call;

    if (rd->peer.connection || rd->current) {
        call = rd->current;
        rd->current = NULL;

        ngx_edge_auth_redis_disconnect(rd);

        if (call) {
            if (call->done == ngx_edge_auth_redis_hello_done) {
                ngx_edge_auth_redis_call_free(call);

            } else {
                ngx_queue_insert_tail(&rd->failed, &call->queue);
            }
        }
    }

    while (!ngx_queue_empty(&rd->calls)) {
        q = ngx_queue_head(&rd->calls);
        ngx_queue_remove(q);
        call = ngx_queue_data(q, ngx_edge_auth_redis_call_t, queue);
        call->error = error;
        ngx_queue_insert_tail(&rd->failed, q);
    }

    for (q = ngx_queue_head(&rd->failed);
         q != ngx_queue_sentinel(&rd->failed);
         q = ngx_queue_next(q))
    {
        call = ngx_queue_data(q, ngx_edge_auth_redis_call_t, queue);
        call->error = error;
    }

    if (!ngx_queue_empty(&rd->failed) && !rd->posted.posted) {
        ngx_post_event(&rd->posted, &ngx_posted_events);
    }

    tp = ngx_timeofday();
    now = (int64_t) tp->sec * 1000 + tp->msec;

    if (now < rd->pause_until) {
        return;
    }

    /*
     * One line per outage and node, then quiet until it recovers: the
     * node's workers share the flag, and each meets the outage itself.
     */

    level = (!rd->conf->cluster && !rd->push
             && ngx_atomic_cmp_set(rd->down, 0, 1))
            ? NGX_LOG_ERR : NGX_LOG_INFO;

    ngx_log_error(level, rd->log, err,
                  "redis %V: %s; tokens stay in shared memory and each "
                  "node logs in for itself until Redis is back (next try "
                  "in %Mms)", &rd->conf->text, error, rd->pause);

    rd->pause_until = now + rd->pause;
    rd->pause = ngx_min(rd->pause * 2, NGX_EDGE_AUTH_REDIS_PAUSE_MAX);
}


static void
ngx_edge_auth_redis_disconnect(ngx_edge_auth_redis_t *rd)
{
    ngx_pool_t        *pool;
    ngx_connection_t  *c;

    if (rd->reader) {
        redisReaderFree(rd->reader);
        rd->reader = NULL;
    }

    c = rd->peer.connection;

    if (c) {
        pool = c->pool;

#if (NGX_HTTP_SSL)
        if (c->ssl) {
            c->ssl->no_wait_shutdown = 1;
            c->ssl->no_send_shutdown = 1;
            (void) ngx_ssl_shutdown(c);
        }
#endif

        ngx_close_connection(c);
        rd->peer.connection = NULL;

        if (pool) {
            ngx_destroy_pool(pool);
        }
    }

    /* a listener that was ready misses what is published from now on */

    if (rd->push && rd->ready) {
        rd->ready = 0;
        rd->push(rd->push_data, NULL);
    }

    rd->ready = 0;
}


static void
ngx_edge_auth_redis_posted(ngx_event_t *ev)
{
    ngx_edge_auth_redis_t *rd = ev->data;

    ngx_queue_t                 *q;
    ngx_edge_auth_redis_call_t  *call;

    while (!ngx_queue_empty(&rd->failed)) {
        q = ngx_queue_head(&rd->failed);
        ngx_queue_remove(q);

        call = ngx_queue_data(q, ngx_edge_auth_redis_call_t, queue);
        call->done(call);
    }
}


void
ngx_edge_auth_redis_close(ngx_edge_auth_redis_t *rd)
{
    if (rd->route) {
        rd->route->close(rd->route->data);
        return;
    }

    if (rd->posted.posted) {
        ngx_delete_posted_event(&rd->posted);
    }

    if (rd->sentinel) {
        ngx_edge_auth_redis_sentinel_close(rd->sentinel);
    }

    ngx_edge_auth_redis_abandon(rd, "the worker is exiting");

    /* the failed calls' done() now, not in a posted event: it is exiting */

    ngx_edge_auth_redis_posted(&rd->posted);
}


/* a listener that stops: its connection closes, its calls fail */

void
ngx_edge_auth_redis_drop(ngx_edge_auth_redis_t *rd)
{
    ngx_edge_auth_redis_abandon(rd, "the connection was dropped");

    if (!ngx_queue_empty(&rd->failed) && !rd->posted.posted) {
        ngx_post_event(&rd->posted, &ngx_posted_events);
    }
}


/*
 * The connection closes; every call sent or waiting joins the failed ones
 * with the error given (the connection's own greeting is just freed).
 */

static void
ngx_edge_auth_redis_abandon(ngx_edge_auth_redis_t *rd, const char *error)
{
    ngx_queue_t                 *q;
    ngx_edge_auth_redis_call_t  *call;

    call = rd->current;
    rd->current = NULL;

    if (call) {
        if (call->done == ngx_edge_auth_redis_hello_done) {
            ngx_edge_auth_redis_call_free(call);

        } else {
            ngx_queue_insert_tail(&rd->failed, &call->queue);
        }
    }

    ngx_edge_auth_redis_disconnect(rd);

    ngx_queue_add(&rd->failed, &rd->calls);
    ngx_queue_init(&rd->calls);

    for (q = ngx_queue_head(&rd->failed);
         q != ngx_queue_sentinel(&rd->failed);
         q = ngx_queue_next(q))
    {
        call = ngx_queue_data(q, ngx_edge_auth_redis_call_t, queue);
        call->error = error;
    }
}


/* a pub/sub message: "message", the channel, the payload (RESP2) */

static ngx_uint_t
ngx_edge_auth_redis_message(redisReply *reply)
{
    redisReply  *kind;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
        return 0;
    }

    kind = reply->element[0];

    return (kind->type == REDIS_REPLY_STRING && kind->len == 7
            && ngx_strncmp(kind->str, "message", 7) == 0);
}


/*
 * A reader whose arrays are checked before hiredis allocates them: the
 * header "*50000000" alone would make it allocate 400 MB.  A refused
 * array makes the answer invalid.
 */

static redisReader *
ngx_edge_auth_redis_reader(void)
{
    redisReader  *reader;

    reader = redisReaderCreate();
    if (reader == NULL) {
        return NULL;
    }

    if (ngx_edge_auth_redis_create_array == NULL) {
        ngx_edge_auth_redis_functions = *reader->fn;
        ngx_edge_auth_redis_create_array = reader->fn->createArray;
        ngx_edge_auth_redis_functions.createArray =
                                             ngx_edge_auth_redis_array;
    }

    reader->fn = &ngx_edge_auth_redis_functions;

    return reader;
}


static void *
ngx_edge_auth_redis_array(const redisReadTask *task,
    ngx_edge_auth_redis_elements_t elements)
{
    /* "*-1", a nil array, is not an array to hiredis: never negative */

    if (elements > NGX_EDGE_AUTH_REDIS_ELEMENTS_MAX) {
        return NULL;
    }

    return ngx_edge_auth_redis_create_array(task, elements);
}
