
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#include "ngx_edge_auth_redis_sentinel.h"


/* an answer of a sentinel is an address: a few dozen bytes */
#define NGX_EDGE_AUTH_REDIS_SENTINEL_ANSWER_MAX    4096
#define NGX_EDGE_AUTH_REDIS_SENTINEL_ELEMENTS_MAX  16


struct ngx_edge_auth_redis_sentinel_s {
    ngx_edge_auth_redis_sentinel_conf_t  *conf;
    ngx_log_t                            *log;
    ngx_log_t                             quiet;     /* connect() errors */

    ngx_edge_auth_redis_sentinel_pt       handler;
    void                                 *data;

    ngx_str_t                             out;       /* AUTH, SENTINEL */
    ngx_uint_t                            ncommands;
    size_t                                sent;

    ngx_peer_connection_t                 peer;
    redisReader                          *reader;
    redisReply                           *replies[2];
    ngx_uint_t                            nreplies;
    ngx_uint_t                            connected;

    ngx_uint_t                            busy;
    ngx_uint_t                            tried;     /* in this ask */
    ngx_uint_t                            current;   /* the one asked */

    /* the master, as the last sentinel that answered said */
    ngx_addr_t                            master;
    ngx_sockaddr_t                        sockaddr;
    u_char                                name[NGX_SOCKADDR_STRLEN];

    u_char                                error[256];
};


static void ngx_edge_auth_redis_sentinel_try(
    ngx_edge_auth_redis_sentinel_t *s);
static void ngx_edge_auth_redis_sentinel_write_handler(ngx_event_t *wev);
static void ngx_edge_auth_redis_sentinel_read_handler(ngx_event_t *rev);
static void ngx_edge_auth_redis_sentinel_answer(
    ngx_edge_auth_redis_sentinel_t *s);
static void ngx_edge_auth_redis_sentinel_skip(
    ngx_edge_auth_redis_sentinel_t *s, ngx_err_t err, const char *fmt, ...);
static void ngx_edge_auth_redis_sentinel_finish(
    ngx_edge_auth_redis_sentinel_t *s, ngx_addr_t *master);
static void ngx_edge_auth_redis_sentinel_disconnect(
    ngx_edge_auth_redis_sentinel_t *s);
static ngx_int_t ngx_edge_auth_redis_sentinel_format(ngx_pool_t *pool,
    ngx_str_t *out, ngx_uint_t argc, ngx_str_t *argv);
static redisReader *ngx_edge_auth_redis_sentinel_reader(void);


/* hiredis 1 counts elements in a size_t, 0.14 in an int */
#if (HIREDIS_MAJOR >= 1)
typedef size_t  ngx_edge_auth_redis_sentinel_elements_t;
#else
typedef int  ngx_edge_auth_redis_sentinel_elements_t;
#endif

typedef void *(*ngx_edge_auth_redis_sentinel_array_pt)(
    const redisReadTask *task, ngx_edge_auth_redis_sentinel_elements_t n);

static void *ngx_edge_auth_redis_sentinel_array(const redisReadTask *task,
    ngx_edge_auth_redis_sentinel_elements_t elements);

static redisReplyObjectFunctions  ngx_edge_auth_redis_sentinel_functions;
static ngx_edge_auth_redis_sentinel_array_pt
    ngx_edge_auth_redis_sentinel_create_array;


ngx_int_t
ngx_edge_auth_redis_sentinel_parse(ngx_conf_t *cf, ngx_str_t *v,
    ngx_edge_auth_redis_sentinel_conf_t *conf)
{
    u_char       *p, *last, *comma;
    ngx_url_t     u;
    ngx_uint_t    i;
    ngx_array_t   addrs;
    ngx_addr_t   *addr;

    if (ngx_array_init(&addrs, cf->pool, 3, sizeof(ngx_addr_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    p = v->data;
    last = v->data + v->len;

    while (p < last) {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url.data = p;
        u.url.len = comma - p;
        u.default_port = 26379;

        if (u.url.len == 0
            || ngx_parse_url(cf->pool, &u) != NGX_OK
            || u.naddrs == 0 || u.family == AF_UNIX || u.uri.len)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid sentinel address \"%V\" in "
                               "\"redis_sentinel=%V\": expected "
                               "\"host:port,host:port\"%s%s", &u.url, v,
                               u.err ? ": " : "", u.err ? u.err : "");
            return NGX_ERROR;
        }

        for (i = 0; i < u.naddrs; i++) {
            addr = ngx_array_push(&addrs);
            if (addr == NULL) {
                return NGX_ERROR;
            }

            *addr = u.addrs[i];
        }

        p = comma + 1;
    }

    if (addrs.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"redis_sentinel=\" needs \"host:port\"");
        return NGX_ERROR;
    }

    conf->addrs = addrs.elts;
    conf->naddrs = addrs.nelts;

    return NGX_OK;
}


ngx_edge_auth_redis_sentinel_t *
ngx_edge_auth_redis_sentinel_create(ngx_cycle_t *cycle,
    ngx_edge_auth_redis_sentinel_conf_t *conf,
    ngx_edge_auth_redis_sentinel_pt handler, void *data)
{
    ngx_str_t                        argv[3];
    ngx_edge_auth_redis_sentinel_t  *s;

    s = ngx_pcalloc(cycle->pool, sizeof(ngx_edge_auth_redis_sentinel_t));
    if (s == NULL) {
        return NULL;
    }

    s->conf = conf;
    s->log = cycle->log;
    s->handler = handler;
    s->data = data;

    /* a refused connection is said once, as part of the outage line */
    s->quiet = *cycle->log;
    s->quiet.log_level = NGX_LOG_ALERT;

    /* the same commands every time: encoded once */

    if (conf->password.len) {
        ngx_str_set(&argv[0], "AUTH");
        argv[1] = conf->password;

        if (ngx_edge_auth_redis_sentinel_format(cycle->pool, &s->out, 2, argv)
            != NGX_OK)
        {
            return NULL;
        }

        s->ncommands++;
    }

    ngx_str_set(&argv[0], "SENTINEL");
    ngx_str_set(&argv[1], "get-master-addr-by-name");
    argv[2] = conf->master;

    if (ngx_edge_auth_redis_sentinel_format(cycle->pool, &s->out, 3, argv)
        != NGX_OK)
    {
        return NULL;
    }

    s->ncommands++;

    s->master.sockaddr = &s->sockaddr.sockaddr;
    s->master.name.data = s->name;

    return s;
}


ngx_uint_t
ngx_edge_auth_redis_sentinel_busy(ngx_edge_auth_redis_sentinel_t *s)
{
    return s->busy;
}


void
ngx_edge_auth_redis_sentinel_ask(ngx_edge_auth_redis_sentinel_t *s)
{
    if (s->busy) {
        return;
    }

    s->busy = 1;
    s->tried = 0;
    s->error[0] = '\0';

    /* the sentinel that answered last is asked first */
    ngx_edge_auth_redis_sentinel_try(s);
}


static void
ngx_edge_auth_redis_sentinel_try(ngx_edge_auth_redis_sentinel_t *s)
{
    ngx_int_t          rc;
    ngx_addr_t        *addr;
    ngx_connection_t  *c;

    if (s->tried == s->conf->naddrs) {
        ngx_edge_auth_redis_sentinel_finish(s, NULL);
        return;
    }

    addr = &s->conf->addrs[s->current];

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, s->log, 0,
                   "redis sentinel: asking %V for master \"%V\"",
                   &addr->name, &s->conf->master);

    ngx_memzero(&s->peer, sizeof(ngx_peer_connection_t));

    s->peer.sockaddr = addr->sockaddr;
    s->peer.socklen = addr->socklen;
    s->peer.name = &addr->name;
    s->peer.get = ngx_event_get_peer;
    s->peer.log = &s->quiet;
    s->peer.log_error = NGX_ERROR_INFO;

    rc = ngx_event_connect_peer(&s->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        s->peer.connection = NULL;
        ngx_edge_auth_redis_sentinel_skip(s, ngx_socket_errno,
                                          "connect() failed");
        return;
    }

    c = s->peer.connection;
    c->data = s;
    c->log = s->log;
    c->read->log = s->log;
    c->write->log = s->log;
    c->log_error = NGX_ERROR_INFO;

    c->read->handler = ngx_edge_auth_redis_sentinel_read_handler;
    c->write->handler = ngx_edge_auth_redis_sentinel_write_handler;

    s->sent = 0;
    s->nreplies = 0;
    s->connected = 0;
    s->reader = ngx_edge_auth_redis_sentinel_reader();

    if (s->reader == NULL) {
        ngx_edge_auth_redis_sentinel_skip(s, 0, "out of memory");
        return;
    }

    ngx_add_timer(c->write, s->conf->timeout);

    if (rc == NGX_OK) {
        ngx_edge_auth_redis_sentinel_write_handler(c->write);
    }
}


static void
ngx_edge_auth_redis_sentinel_write_handler(ngx_event_t *wev)
{
    ssize_t                          n;
    ngx_connection_t                *c;
    ngx_edge_auth_redis_sentinel_t  *s;

    c = wev->data;
    s = c->data;

    if (wev->timedout) {
        ngx_edge_auth_redis_sentinel_skip(s, NGX_ETIMEDOUT, "timed out");
        return;
    }

    while (s->sent < s->out.len) {
        n = c->send(c, s->out.data + s->sent, s->out.len - s->sent);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_edge_auth_redis_sentinel_skip(s, 0,
                                                  "the connection failed");
            }

            return;
        }

        if (n == NGX_ERROR) {
            ngx_edge_auth_redis_sentinel_skip(s, ngx_socket_errno,
                                              s->connected
                                              ? "the command could not be sent"
                                              : "connect() failed");
            return;
        }

        s->connected = 1;
        s->sent += n;
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    if (!c->read->timer_set) {
        ngx_add_timer(c->read, s->conf->timeout);
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_edge_auth_redis_sentinel_skip(s, 0, "the connection failed");
    }
}


static void
ngx_edge_auth_redis_sentinel_read_handler(ngx_event_t *rev)
{
    void                            *reply;
    ssize_t                          n;
    u_char                           buf[1024];
    ngx_connection_t                *c;
    ngx_edge_auth_redis_sentinel_t  *s;

    c = rev->data;
    s = c->data;

    if (rev->timedout) {
        ngx_edge_auth_redis_sentinel_skip(s, NGX_ETIMEDOUT, "timed out");
        return;
    }

    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_edge_auth_redis_sentinel_skip(s,
                                              n == 0 ? 0 : ngx_socket_errno,
                                              s->connected
                                              ? "closed the connection"
                                              : "connect() failed");
            return;
        }

        if (redisReaderFeed(s->reader, (const char *) buf, n) != REDIS_OK
            || s->reader->len - s->reader->pos
               > NGX_EDGE_AUTH_REDIS_SENTINEL_ANSWER_MAX)
        {
            ngx_edge_auth_redis_sentinel_skip(s, 0, "an answer too large");
            return;
        }

        while (s->nreplies < s->ncommands) {
            if (redisReaderGetReply(s->reader, &reply) != REDIS_OK) {
                ngx_edge_auth_redis_sentinel_skip(s, 0, "an invalid answer");
                return;
            }

            if (reply == NULL) {
                break;
            }

            s->replies[s->nreplies++] = reply;
        }

        if (s->nreplies == s->ncommands) {
            ngx_edge_auth_redis_sentinel_answer(s);
            return;
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_edge_auth_redis_sentinel_skip(s, 0, "the connection failed");
    }
}


/* "*2 $ip $port": the master; nil: the name is unknown to this sentinel */

static void
ngx_edge_auth_redis_sentinel_answer(ngx_edge_auth_redis_sentinel_t *s)
{
    size_t        len;
    u_char        name[NGX_SOCKADDR_STRLEN];
    ngx_int_t     port;
    ngx_addr_t    addr;
    ngx_pool_t   *pool;
    redisReply   *reply, *ip, *pt;

    reply = s->replies[0];

    if (s->ncommands == 2 && reply->type == REDIS_REPLY_ERROR) {
        /* the sentinel's own words ("WRONGPASS ..."): never the password */
        ngx_edge_auth_redis_sentinel_skip(s, 0, "AUTH refused: %*s",
                                          ngx_min(reply->len, 80),
                                          reply->str);
        return;
    }

    reply = s->replies[s->ncommands - 1];

    if (reply->type == REDIS_REPLY_NIL) {
        ngx_edge_auth_redis_sentinel_skip(s, 0,
                                          "does not know master \"%V\" "
                                          "(redis_master=)",
                                          &s->conf->master);
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_edge_auth_redis_sentinel_skip(s, 0, "SENTINEL refused: %*s",
                                          ngx_min(reply->len, 80),
                                          reply->str);
        return;
    }

    ip = (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2)
         ? reply->element[0] : NULL;
    pt = ip ? reply->element[1] : NULL;

    if (ip == NULL
        || ip->type != REDIS_REPLY_STRING || pt->type != REDIS_REPLY_STRING)
    {
        ngx_edge_auth_redis_sentinel_skip(s, 0, "an unexpected answer");
        return;
    }

    port = ngx_atoi((u_char *) pt->str, pt->len);

    pool = ngx_create_pool(256, s->log);
    if (pool == NULL) {
        ngx_edge_auth_redis_sentinel_skip(s, 0, "out of memory");
        return;
    }

    /* an IP address: sentinels announce hostnames only when told to */

    if (port < 1 || port > 65535
        || ngx_parse_addr(pool, &addr, (u_char *) ip->str, ip->len)
           != NGX_OK)
    {
        ngx_destroy_pool(pool);
        ngx_edge_auth_redis_sentinel_skip(s, 0, "an address that is not "
                                          "an IP address and a port "
                                          "(resolve-hostnames?)");
        return;
    }

    ngx_inet_set_port(addr.sockaddr, (in_port_t) port);

    len = ngx_sock_ntop(addr.sockaddr, addr.socklen, name,
                        NGX_SOCKADDR_STRLEN, 1);

    /* said when it changes: a failover, as this worker sees it */

    if (len != s->master.name.len
        || ngx_strncmp(name, s->name, len) != 0)
    {
        ngx_log_error(NGX_LOG_NOTICE, s->log, 0,
                      "redis sentinel %V: master \"%V\" is %*s",
                      &s->conf->addrs[s->current].name, &s->conf->master,
                      len, name);
    }

    ngx_memcpy(&s->sockaddr, addr.sockaddr, addr.socklen);
    s->master.socklen = addr.socklen;
    ngx_memcpy(s->name, name, len);
    s->master.name.len = len;

    ngx_destroy_pool(pool);

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, s->log, 0,
                   "redis sentinel %V: master \"%V\" at %V",
                   &s->conf->addrs[s->current].name, &s->conf->master,
                   &s->master.name);

    ngx_edge_auth_redis_sentinel_finish(s, &s->master);
}


/* this sentinel gave no address: the next one, if any is left */

static void
ngx_edge_auth_redis_sentinel_skip(ngx_edge_auth_redis_sentinel_t *s,
    ngx_err_t err, const char *fmt, ...)
{
    u_char   *p, *last;
    va_list   args;

    p = s->error;
    last = s->error + sizeof(s->error) - 1;

    p = ngx_slprintf(p, last, "sentinel %V: ",
                     &s->conf->addrs[s->current].name);

    va_start(args, fmt);
    p = ngx_vslprintf(p, last, fmt, args);
    va_end(args);

    if (err) {
        p = ngx_slprintf(p, last, " (%d: ", err);
        p = ngx_strerror(err, p, last - p);
        p = ngx_slprintf(p, last, ")");
    }

    *p = '\0';

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, s->log, 0,
                   "redis %s", s->error);

    ngx_edge_auth_redis_sentinel_disconnect(s);

    s->tried++;
    s->current = (s->current + 1) % s->conf->naddrs;

    ngx_edge_auth_redis_sentinel_try(s);
}


static void
ngx_edge_auth_redis_sentinel_finish(ngx_edge_auth_redis_sentinel_t *s,
    ngx_addr_t *master)
{
    u_char      *p, *last;
    u_char       error[sizeof(s->error) + 96];
    ngx_uint_t   i;

    ngx_edge_auth_redis_sentinel_disconnect(s);

    s->busy = 0;

    if (master) {
        s->handler(s->data, master, NULL);
        return;
    }

    /* the last sentinel's reason; the others said theirs at debug */

    p = error;
    last = error + sizeof(error) - 1;

    i = s->conf->naddrs;
    p = ngx_slprintf(p, last, "no sentinel gave its address (%ui asked; "
                     "last, %s)", i, s->error);
    *p = '\0';

    s->handler(s->data, NULL, (const char *) error);
}


static void
ngx_edge_auth_redis_sentinel_disconnect(ngx_edge_auth_redis_sentinel_t *s)
{
    ngx_uint_t  i;

    for (i = 0; i < s->nreplies; i++) {
        freeReplyObject(s->replies[i]);
    }

    s->nreplies = 0;

    if (s->reader) {
        redisReaderFree(s->reader);
        s->reader = NULL;
    }

    if (s->peer.connection) {
        ngx_close_connection(s->peer.connection);
        s->peer.connection = NULL;
    }
}


ngx_int_t
ngx_edge_auth_redis_sentinel_role(ngx_edge_auth_redis_sentinel_t *s,
    redisReply *reply, u_char *buf, size_t len)
{
    u_char      *p;
    redisReply  *role;

    role = (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0)
           ? reply->element[0] : NULL;

    if (role
        && (role->type == REDIS_REPLY_STRING
            || role->type == REDIS_REPLY_STATUS)
        && role->len == 6 && ngx_strncmp(role->str, "master", 6) == 0)
    {
        return NGX_OK;
    }

    /* a replica, or a sentinel that is not yet told of the failover */

    p = ngx_slprintf(buf, buf + len - 1, "%V is not a master (ROLE: %*s); "
                     "the sentinels are asked again", &s->master.name,
                     (role && role->type == REDIS_REPLY_STRING)
                     ? ngx_min(role->len, 16) : 7,
                     (role && role->type == REDIS_REPLY_STRING)
                     ? role->str : "unknown");
    *p = '\0';

    return NGX_DECLINED;
}


ngx_uint_t
ngx_edge_auth_redis_sentinel_readonly(redisReply *reply)
{
    return reply->type == REDIS_REPLY_ERROR && reply->len >= 8
           && ngx_strncmp(reply->str, "READONLY", 8) == 0;
}


void
ngx_edge_auth_redis_sentinel_close(ngx_edge_auth_redis_sentinel_t *s)
{
    ngx_edge_auth_redis_sentinel_disconnect(s);

    s->busy = 0;

    if (s->out.data) {
        ngx_explicit_memzero(s->out.data, s->out.len);
    }
}


static ngx_int_t
ngx_edge_auth_redis_sentinel_format(ngx_pool_t *pool, ngx_str_t *out,
    ngx_uint_t argc, ngx_str_t *argv)
{
    int          len;
    char        *cmd;
    u_char      *p;
    size_t       lens[3];
    const char  *args[3];
    ngx_uint_t   i;

    for (i = 0; i < argc; i++) {
        args[i] = (const char *) argv[i].data;
        lens[i] = argv[i].len;
    }

    len = redisFormatCommandArgv(&cmd, (int) argc, args, lens);
    if (len < 0) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(pool, out->len + len);
    if (p == NULL) {
        redisFreeCommand(cmd);
        return NGX_ERROR;
    }

    ngx_memcpy(p, out->data, out->len);
    ngx_memcpy(p + out->len, cmd, len);

    /* AUTH carries the password */
    ngx_explicit_memzero(cmd, len);
    redisFreeCommand(cmd);

    if (out->data) {
        ngx_explicit_memzero(out->data, out->len);
    }

    out->data = p;
    out->len += len;

    return NGX_OK;
}


/* arrays are checked before hiredis allocates them, as the client does */

static redisReader *
ngx_edge_auth_redis_sentinel_reader(void)
{
    redisReader  *reader;

    reader = redisReaderCreate();
    if (reader == NULL) {
        return NULL;
    }

    if (ngx_edge_auth_redis_sentinel_create_array == NULL) {
        ngx_edge_auth_redis_sentinel_functions = *reader->fn;
        ngx_edge_auth_redis_sentinel_create_array = reader->fn->createArray;
        ngx_edge_auth_redis_sentinel_functions.createArray =
                                        ngx_edge_auth_redis_sentinel_array;
    }

    reader->fn = &ngx_edge_auth_redis_sentinel_functions;

    return reader;
}


static void *
ngx_edge_auth_redis_sentinel_array(const redisReadTask *task,
    ngx_edge_auth_redis_sentinel_elements_t elements)
{
    if (elements > NGX_EDGE_AUTH_REDIS_SENTINEL_ELEMENTS_MAX) {
        return NULL;
    }

    return ngx_edge_auth_redis_sentinel_create_array(task, elements);
}
