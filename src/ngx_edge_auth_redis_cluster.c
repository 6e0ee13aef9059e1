
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#include "ngx_edge_auth_redis_cluster.h"


/* a node index fits the slot map's bytes; more is a hostile answer */
#define NGX_EDGE_AUTH_REDIS_CLUSTER_NODES      64
#define NGX_EDGE_AUTH_REDIS_CLUSTER_REDIRECTS  5

/* a lost node has the map asked again at most this often */
#define NGX_EDGE_AUTH_REDIS_CLUSTER_REFRESH    1000

/* no node gave the map: calls are refused for this long */
#define NGX_EDGE_AUTH_REDIS_CLUSTER_PAUSE      1000


typedef struct {
    ngx_edge_auth_redis_conf_t   conf;       /* the cluster's, one address */
    ngx_addr_t                   addr;
    ngx_uint_t                   index;      /* in the cluster's nodes */
    ngx_edge_auth_redis_t       *rd;         /* made when first needed */
} ngx_edge_auth_redis_cluster_node_t;


typedef struct {
    ngx_edge_auth_redis_conf_t          *conf;
    ngx_cycle_t                         *cycle;
    ngx_log_t                           *log;
    ngx_atomic_t                        *down;
    ngx_edge_auth_redis_route_t          route;

    ngx_edge_auth_redis_cluster_node_t  *nodes[
                                        NGX_EDGE_AUTH_REDIS_CLUSTER_NODES];
    ngx_uint_t                           nnodes;

    /* the node owning each slot, plus one; 0: none known */
    u_char                               slots[NGX_EDGE_AUTH_REDIS_SLOTS];
    ngx_uint_t                           mapped;

    ngx_uint_t                           refreshing;
    ngx_edge_auth_redis_cluster_node_t  *asked;
    ngx_uint_t                           next;   /* the node asked next */
    ngx_uint_t                           tries;
    int64_t                              refreshed;
    int64_t                              pause_until;

    u_char                               error[256];

    ngx_queue_t                          waiting;    /* for the map */
    ngx_queue_t                          failed;
    ngx_event_t                          posted;     /* fails them */
    ngx_event_t                          start;      /* the first map */
    ngx_uint_t                           closed;
} ngx_edge_auth_redis_cluster_t;


/* a routed call's, in its pool; a redirection's, with the original call */

typedef struct {
    ngx_edge_auth_redis_cluster_t       *cl;
    ngx_edge_auth_redis_done_pt          done;
    void                                *data;
    ngx_edge_auth_redis_cluster_node_t  *node;
    ngx_uint_t                           redirects;
    ngx_uint_t                           lost;

    ngx_edge_auth_redis_call_t          *orig;
    ngx_uint_t                           which[
                                        NGX_EDGE_AUTH_REDIS_MAX_COMMANDS];
    ngx_uint_t                           n;
    ngx_uint_t                           asking;
} ngx_edge_auth_redis_cluster_ctx_t;


static void ngx_edge_auth_redis_cluster_send(void *data,
    ngx_edge_auth_redis_call_t *call);
static ngx_uint_t ngx_edge_auth_redis_cluster_usable(void *data);
static void ngx_edge_auth_redis_cluster_close(void *data);
static void ngx_edge_auth_redis_cluster_dispatch(
    ngx_edge_auth_redis_cluster_t *cl, ngx_edge_auth_redis_call_t *call);
static void ngx_edge_auth_redis_cluster_to(ngx_edge_auth_redis_cluster_t *cl,
    ngx_edge_auth_redis_cluster_node_t *node,
    ngx_edge_auth_redis_call_t *call);
static void ngx_edge_auth_redis_cluster_done(
    ngx_edge_auth_redis_call_t *call);
static ngx_int_t ngx_edge_auth_redis_cluster_redirect(
    ngx_edge_auth_redis_cluster_t *cl, ngx_edge_auth_redis_call_t *call);
static void ngx_edge_auth_redis_cluster_redirected(
    ngx_edge_auth_redis_call_t *r);
static void ngx_edge_auth_redis_cluster_refresh(
    ngx_edge_auth_redis_cluster_t *cl,
    ngx_edge_auth_redis_cluster_node_t *avoid);
static void ngx_edge_auth_redis_cluster_slots(
    ngx_edge_auth_redis_call_t *call);
static ngx_int_t ngx_edge_auth_redis_cluster_map(
    ngx_edge_auth_redis_cluster_t *cl, redisReply *reply);
static ngx_edge_auth_redis_cluster_node_t *ngx_edge_auth_redis_cluster_node(
    ngx_edge_auth_redis_cluster_t *cl, u_char *ip, size_t len,
    ngx_int_t port, ngx_edge_auth_redis_cluster_node_t *from);
static ngx_edge_auth_redis_cluster_node_t *ngx_edge_auth_redis_cluster_add(
    ngx_edge_auth_redis_cluster_t *cl, struct sockaddr *sa,
    socklen_t socklen);
static void ngx_edge_auth_redis_cluster_fail(
    ngx_edge_auth_redis_cluster_t *cl, ngx_edge_auth_redis_call_t *call,
    const char *error);
static void ngx_edge_auth_redis_cluster_fail_waiting(
    ngx_edge_auth_redis_cluster_t *cl, const char *error);
static void ngx_edge_auth_redis_cluster_posted(ngx_event_t *ev);
static void ngx_edge_auth_redis_cluster_start(ngx_event_t *ev);
static void ngx_edge_auth_redis_cluster_finish(
    ngx_edge_auth_redis_call_t *call);
static void ngx_edge_auth_redis_cluster_reset(
    ngx_edge_auth_redis_call_t *call);
static void ngx_edge_auth_redis_cluster_outage(
    ngx_edge_auth_redis_cluster_t *cl, ngx_edge_auth_redis_call_t *call);
static void ngx_edge_auth_redis_cluster_why(ngx_edge_auth_redis_cluster_t *cl,
    ngx_edge_auth_redis_call_t *call);
static int64_t ngx_edge_auth_redis_cluster_now(void);


static u_char  ngx_edge_auth_redis_cluster_asking[] =
    "*1\r\n$6\r\nASKING\r\n";

#define NGX_EDGE_AUTH_REDIS_ASKING_LEN                                      \
    (sizeof(ngx_edge_auth_redis_cluster_asking) - 1)


ngx_edge_auth_redis_t *
ngx_edge_auth_redis_cluster_create(ngx_cycle_t *cycle,
    ngx_edge_auth_redis_conf_t *conf, ngx_atomic_t *down)
{
    ngx_uint_t                      i;
    ngx_edge_auth_redis_t          *front;
    ngx_edge_auth_redis_cluster_t  *cl;

    front = ngx_edge_auth_redis_create(cycle, conf, down);
    if (front == NULL) {
        return NULL;
    }

    cl = ngx_pcalloc(cycle->pool, sizeof(ngx_edge_auth_redis_cluster_t));
    if (cl == NULL) {
        return NULL;
    }

    cl->conf = conf;
    cl->cycle = cycle;
    cl->log = cycle->log;
    cl->down = down;

    ngx_queue_init(&cl->waiting);
    ngx_queue_init(&cl->failed);

    cl->posted.handler = ngx_edge_auth_redis_cluster_posted;
    cl->posted.data = cl;
    cl->posted.log = cl->log;

    /* the seeds are the first nodes asked for the map */

    for (i = 0; i < conf->naddrs; i++) {
        if (ngx_edge_auth_redis_cluster_add(cl, conf->addrs[i].sockaddr,
                                            conf->addrs[i].socklen)
            == NULL)
        {
            return NULL;
        }
    }

    cl->route.send = ngx_edge_auth_redis_cluster_send;
    cl->route.usable = ngx_edge_auth_redis_cluster_usable;
    cl->route.close = ngx_edge_auth_redis_cluster_close;
    cl->route.data = cl;

    ngx_edge_auth_redis_route(front, &cl->route);

    /*
     * The map as the worker starts, not at its first call: a worker whose
     * first call came after a failover knew its seeds alone, and with the
     * lost master the only seed (or all of them lost) it found no node
     * that served the map and logged in by itself, while its other
     * workers knew the new master.
     */

    cl->start.handler = ngx_edge_auth_redis_cluster_start;
    cl->start.data = cl;
    cl->start.log = cl->log;

    ngx_post_event(&cl->start, &ngx_posted_events);

    return front;
}


static void
ngx_edge_auth_redis_cluster_start(ngx_event_t *ev)
{
    ngx_edge_auth_redis_cluster_t *cl = ev->data;

    if (!cl->mapped && !cl->closed) {
        ngx_edge_auth_redis_cluster_refresh(cl, NULL);
    }
}


static void
ngx_edge_auth_redis_cluster_send(void *data, ngx_edge_auth_redis_call_t *call)
{
    ngx_edge_auth_redis_cluster_t *cl = data;

    ngx_edge_auth_redis_cluster_ctx_t  *ctx;

    ctx = ngx_pcalloc(call->pool, sizeof(ngx_edge_auth_redis_cluster_ctx_t));
    if (ctx == NULL) {
        /* done() must not run inside send(): the posted event calls it */
        call->error = "out of memory";
        ngx_queue_insert_tail(&cl->failed, &call->queue);

        if (!cl->posted.posted) {
            ngx_post_event(&cl->posted, &ngx_posted_events);
        }

        return;
    }

    ctx->cl = cl;
    ctx->done = call->done;
    ctx->data = call->data;

    call->done = ngx_edge_auth_redis_cluster_done;
    call->data = ctx;

    if (cl->closed) {
        ngx_edge_auth_redis_cluster_fail(cl, call, "the worker is exiting");
        return;
    }

    ngx_edge_auth_redis_cluster_dispatch(cl, call);
}


static ngx_uint_t
ngx_edge_auth_redis_cluster_usable(void *data)
{
    ngx_edge_auth_redis_cluster_t *cl = data;

    return ngx_edge_auth_redis_cluster_now() >= cl->pause_until;
}


/* the slot's master, or the map first */

static void
ngx_edge_auth_redis_cluster_dispatch(ngx_edge_auth_redis_cluster_t *cl,
    ngx_edge_auth_redis_call_t *call)
{
    ngx_uint_t                          n;
    ngx_edge_auth_redis_cluster_ctx_t  *ctx;

    ctx = call->data;
    n = cl->slots[call->slot];

    if (n == 0) {
        if (cl->mapped && !cl->refreshing
            && ngx_edge_auth_redis_cluster_now() - cl->refreshed
               < NGX_EDGE_AUTH_REDIS_CLUSTER_REFRESH)
        {
            ngx_edge_auth_redis_cluster_fail(cl, call,
                                "no Redis Cluster node serves the key's slot");
            return;
        }

        ngx_queue_insert_tail(&cl->waiting, &call->queue);
        ngx_edge_auth_redis_cluster_refresh(cl, NULL);
        return;
    }

    ctx->node = cl->nodes[n - 1];

    ngx_edge_auth_redis_cluster_to(cl, ctx->node, call);
}


static void
ngx_edge_auth_redis_cluster_to(ngx_edge_auth_redis_cluster_t *cl,
    ngx_edge_auth_redis_cluster_node_t *node, ngx_edge_auth_redis_call_t *call)
{
    if (node->rd == NULL) {
        node->rd = ngx_edge_auth_redis_create(cl->cycle, &node->conf,
                                              cl->down);
        if (node->rd == NULL) {
            ngx_edge_auth_redis_cluster_fail(cl, call, "out of memory");
            return;
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, cl->log, 0,
                   "redis cluster: slot %ui to %V", call->slot,
                   &node->addr.name);

    ngx_edge_auth_redis_send(node->rd, call);
}


/* a node's answer, or its failure */

static void
ngx_edge_auth_redis_cluster_done(ngx_edge_auth_redis_call_t *call)
{
    ngx_edge_auth_redis_cluster_ctx_t *ctx = call->data;

    ngx_uint_t                      n;
    ngx_edge_auth_redis_cluster_t  *cl;

    cl = ctx->cl;

    if (ctx->orig) {
        ngx_edge_auth_redis_cluster_redirected(call);
        return;
    }

    if (call->error) {
        if (cl->closed || ctx->lost || ngx_exiting || ngx_terminate
            || ngx_quit)
        {
            ngx_edge_auth_redis_cluster_finish(call);
            return;
        }

        /*
         * Sent with an older map: since, the map was asked again (another
         * call lost the node, a MOVED) and names another master for the
         * slot.  The call goes there, once, however recent the map: the
         * once-a-second limit below is for asking the map, and failing it
         * would have this worker log in by itself after a failover that
         * its map already knows.
         */

        n = cl->slots[call->slot];

        if (n != 0 && cl->nodes[n - 1] != ctx->node) {
            ctx->lost = 1;
            ngx_edge_auth_redis_cluster_reset(call);
            ngx_edge_auth_redis_cluster_dispatch(cl, call);
            return;
        }

        /*
         * The node is lost (a failover?): once, the map from another node
         * and the call to whichever master it names.  Not more often than
         * once a second: until then the map is what another node said.
         */

        if (!cl->refreshing
            && ngx_edge_auth_redis_cluster_now() - cl->refreshed
               < NGX_EDGE_AUTH_REDIS_CLUSTER_REFRESH)
        {
            ngx_edge_auth_redis_cluster_finish(call);
            return;
        }

        ctx->lost = 1;
        ngx_edge_auth_redis_cluster_reset(call);

        ngx_queue_insert_tail(&cl->waiting, &call->queue);
        ngx_edge_auth_redis_cluster_refresh(cl, ctx->node);
        return;
    }

    if (ngx_edge_auth_redis_cluster_redirect(cl, call) == NGX_DECLINED) {
        ngx_edge_auth_redis_cluster_finish(call);
    }
}


/*
 * "-MOVED 3999 127.0.0.1:6381" or "-ASK 3999 127.0.0.1:6381" to some of
 * the call's commands: those go to that node, the others' answers stay.
 * NGX_DECLINED: none was redirected.
 */

static ngx_int_t
ngx_edge_auth_redis_cluster_redirect(ngx_edge_auth_redis_cluster_t *cl,
    ngx_edge_auth_redis_call_t *call)
{
    u_char                              *p, *last, *colon, *host;
    size_t                               skip;
    ngx_int_t                            slot, port;
    ngx_uint_t                           i, n, asking;
    redisReply                          *reply;
    ngx_edge_auth_redis_call_t          *r;
    ngx_edge_auth_redis_cluster_ctx_t   *ctx, *rctx;
    ngx_edge_auth_redis_cluster_node_t  *node;

    ctx = call->data;
    r = NULL;
    rctx = NULL;
    node = NULL;
    asking = 0;
    slot = 0;
    n = 0;

    for (i = 0; i < call->nreplies; i++) {
        reply = call->replies[i];

        if (reply->type != REDIS_REPLY_ERROR) {
            continue;
        }

        if (reply->len > 6 && ngx_strncmp(reply->str, "MOVED ", 6) == 0) {
            skip = 6;

        } else if (reply->len > 4 && ngx_strncmp(reply->str, "ASK ", 4) == 0)
        {
            skip = 4;

        } else {
            continue;
        }

        if (n == 0) {
            /* the first one decides where all go; a wrong guess redirects */

            if (++ctx->redirects > NGX_EDGE_AUTH_REDIS_CLUSTER_REDIRECTS) {
                call->error = "too many Redis Cluster redirections";
                return NGX_DECLINED;
            }

            asking = (skip == 4);

            p = (u_char *) reply->str + skip;
            last = (u_char *) reply->str + reply->len;

            host = ngx_strlchr(p, last, ' ');
            colon = NULL;

            if (host) {
                slot = ngx_atoi(p, host - p);
                host++;

                for (p = last; p > host; p--) {
                    if (p[-1] == ':') {
                        colon = p - 1;
                        break;
                    }
                }
            }

            if (colon == NULL || slot < 0
                || slot >= NGX_EDGE_AUTH_REDIS_SLOTS)
            {
                call->error = "an invalid Redis Cluster redirection";
                return NGX_DECLINED;
            }

            port = ngx_atoi(colon + 1, last - colon - 1);

            if (colon - host >= 2 && *host == '[' && colon[-1] == ']') {
                host++;
                colon--;
            }

            node = ngx_edge_auth_redis_cluster_node(cl, host, colon - host,
                                                    port, ctx->node);
            if (node == NULL) {
                call->error = "an invalid Redis Cluster redirection";
                return NGX_DECLINED;
            }

            ngx_log_error(NGX_LOG_INFO, cl->log, 0,
                          "redis cluster: slot %i %s %V (%s)", slot,
                          asking ? "is moving to" : "moved to",
                          &node->addr.name, asking ? "ASK" : "MOVED");

            if (!asking) {
                /* at once for what follows; the whole map is asked again */
                cl->slots[slot] = (u_char) (node->index + 1);
                ngx_edge_auth_redis_cluster_refresh(cl, NULL);
            }

            if (node->rd == NULL) {
                node->rd = ngx_edge_auth_redis_create(cl->cycle, &node->conf,
                                                      cl->down);
                if (node->rd == NULL) {
                    call->error = "out of memory";
                    return NGX_DECLINED;
                }
            }

            r = ngx_edge_auth_redis_call_create(node->rd);
            if (r == NULL) {
                call->error = "out of memory";
                return NGX_DECLINED;
            }

            rctx = ngx_pcalloc(r->pool,
                               sizeof(ngx_edge_auth_redis_cluster_ctx_t));
            p = ngx_pnalloc(r->pool,
                            call->ncommands * NGX_EDGE_AUTH_REDIS_ASKING_LEN
                            + call->out.len);

            if (rctx == NULL || p == NULL) {
                ngx_edge_auth_redis_call_free(r);
                call->error = "out of memory";
                return NGX_DECLINED;
            }

            rctx->cl = cl;
            rctx->orig = call;
            rctx->node = node;
            rctx->asking = asking;

            r->out.data = p;
            r->slot = call->slot;
            r->done = ngx_edge_auth_redis_cluster_done;
            r->data = rctx;
        }

        /* the command again, after an ASKING when asked */

        p = r->out.data + r->out.len;

        if (asking) {
            p = ngx_cpymem(p, ngx_edge_auth_redis_cluster_asking,
                           NGX_EDGE_AUTH_REDIS_ASKING_LEN);
            r->ncommands++;
        }

        skip = i ? call->ends[i - 1] : 0;
        p = ngx_cpymem(p, call->out.data + skip, call->ends[i] - skip);

        r->out.len = p - r->out.data;
        r->ncommands++;

        rctx->which[rctx->n++] = i;
        n++;
    }

    if (n == 0) {
        return NGX_DECLINED;
    }

    ngx_edge_auth_redis_send(node->rd, r);

    return NGX_OK;
}


/* a redirection's answers take the place of the redirections */

static void
ngx_edge_auth_redis_cluster_redirected(ngx_edge_auth_redis_call_t *r)
{
    ngx_edge_auth_redis_cluster_ctx_t *rctx = r->data;

    ngx_uint_t                          k, j;
    ngx_edge_auth_redis_call_t         *call;
    ngx_edge_auth_redis_cluster_ctx_t  *ctx;

    call = rctx->orig;
    ctx = call->data;

    if (r->error) {
        /* as if the call itself had lost its node: that one */
        call->error = r->error;
        ctx->node = rctx->node;

    } else {
        for (k = 0; k < rctx->n; k++) {
            j = rctx->asking ? 2 * k + 1 : k;

            freeReplyObject(call->replies[rctx->which[k]]);
            call->replies[rctx->which[k]] = r->replies[j];
            r->replies[j] = NULL;
        }
    }

    ngx_edge_auth_redis_call_free(r);

    /* redirected again, or done */
    ngx_edge_auth_redis_cluster_done(call);
}


/* CLUSTER SLOTS, asked of the next node that may answer */

static void
ngx_edge_auth_redis_cluster_refresh(ngx_edge_auth_redis_cluster_t *cl,
    ngx_edge_auth_redis_cluster_node_t *avoid)
{
    ngx_str_t                            argv[2];
    ngx_uint_t                           k;
    ngx_edge_auth_redis_call_t          *call;
    ngx_edge_auth_redis_cluster_node_t  *node;

    if (cl->refreshing || cl->closed) {
        return;
    }

    node = NULL;

    for (k = 0; k < cl->nnodes; k++) {
        node = cl->nodes[(cl->next + k) % cl->nnodes];

        if (node != avoid
            && (node->rd == NULL || ngx_edge_auth_redis_usable(node->rd)))
        {
            break;
        }
    }

    if (k == cl->nnodes) {
        cl->tries = 0;
        cl->pause_until = ngx_edge_auth_redis_cluster_now()
                          + NGX_EDGE_AUTH_REDIS_CLUSTER_PAUSE;
        ngx_edge_auth_redis_cluster_fail_waiting(cl,
                                      "no Redis Cluster node can be reached");
        return;
    }

    cl->next = node->index + 1;

    if (node->rd == NULL) {
        node->rd = ngx_edge_auth_redis_create(cl->cycle, &node->conf,
                                              cl->down);
        if (node->rd == NULL) {
            ngx_edge_auth_redis_cluster_fail_waiting(cl, "out of memory");
            return;
        }
    }

    call = ngx_edge_auth_redis_call_create(node->rd);
    if (call == NULL) {
        ngx_edge_auth_redis_cluster_fail_waiting(cl, "out of memory");
        return;
    }

    ngx_str_set(&argv[0], "CLUSTER");
    ngx_str_set(&argv[1], "SLOTS");

    if (ngx_edge_auth_redis_command(call, 2, argv) != NGX_OK) {
        ngx_edge_auth_redis_call_free(call);
        ngx_edge_auth_redis_cluster_fail_waiting(cl, "out of memory");
        return;
    }

    call->done = ngx_edge_auth_redis_cluster_slots;
    call->data = cl;

    cl->refreshing = 1;
    cl->asked = node;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, cl->log, 0,
                   "redis cluster: CLUSTER SLOTS to %V", &node->addr.name);

    ngx_edge_auth_redis_send(node->rd, call);
}


static void
ngx_edge_auth_redis_cluster_slots(ngx_edge_auth_redis_call_t *call)
{
    ngx_edge_auth_redis_cluster_t *cl = call->data;

    ngx_queue_t                  *q, waiting;
    ngx_edge_auth_redis_call_t   *c;

    cl->refreshing = 0;

    if (cl->closed) {
        ngx_edge_auth_redis_call_free(call);
        return;
    }

    if (call->error || call->nreplies != 1
        || ngx_edge_auth_redis_cluster_map(cl, call->replies[0]) != NGX_OK)
    {
        ngx_edge_auth_redis_cluster_why(cl, call);
        ngx_edge_auth_redis_call_free(call);

        /* the next node, until each was asked */

        if (++cl->tries < cl->nnodes) {
            ngx_edge_auth_redis_cluster_refresh(cl, cl->asked);
            return;
        }

        cl->tries = 0;
        cl->pause_until = ngx_edge_auth_redis_cluster_now()
                          + NGX_EDGE_AUTH_REDIS_CLUSTER_PAUSE;
        ngx_edge_auth_redis_cluster_fail_waiting(cl, (char *) cl->error);
        return;
    }

    ngx_edge_auth_redis_call_free(call);

    cl->tries = 0;
    cl->mapped = 1;
    cl->refreshed = ngx_edge_auth_redis_cluster_now();

    /* what waited for the map goes out (or fails: a slot nobody serves) */

    ngx_queue_init(&waiting);
    ngx_queue_add(&waiting, &cl->waiting);
    ngx_queue_init(&cl->waiting);

    while (!ngx_queue_empty(&waiting)) {
        q = ngx_queue_head(&waiting);
        ngx_queue_remove(q);

        c = ngx_queue_data(q, ngx_edge_auth_redis_call_t, queue);
        ngx_edge_auth_redis_cluster_dispatch(cl, c);
    }
}


/*
 * CLUSTER SLOTS: [[start, end, [ip, port, id, ...], replicas...], ...];
 * the masters alone are used.  An empty ip is the node that answered.
 */

static ngx_int_t
ngx_edge_auth_redis_cluster_map(ngx_edge_auth_redis_cluster_t *cl,
    redisReply *reply)
{
    long long                            start, end;
    ngx_uint_t                           i, ranges;
    redisReply                          *e, *m;
    ngx_edge_auth_redis_cluster_node_t  *node;
    u_char                               map[NGX_EDGE_AUTH_REDIS_SLOTS];

    if (reply->type != REDIS_REPLY_ARRAY) {
        return NGX_ERROR;
    }

    ngx_memzero(map, sizeof(map));
    ranges = 0;

    for (i = 0; i < reply->elements; i++) {
        e = reply->element[i];

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3
            || e->element[0]->type != REDIS_REPLY_INTEGER
            || e->element[1]->type != REDIS_REPLY_INTEGER
            || e->element[2]->type != REDIS_REPLY_ARRAY)
        {
            return NGX_ERROR;
        }

        start = e->element[0]->integer;
        end = e->element[1]->integer;
        m = e->element[2];

        if (start < 0 || end < start || end >= NGX_EDGE_AUTH_REDIS_SLOTS
            || m->elements < 2
            || m->element[0]->type != REDIS_REPLY_STRING
            || m->element[1]->type != REDIS_REPLY_INTEGER
            || m->element[1]->integer <= 0
            || m->element[1]->integer > 65535)
        {
            return NGX_ERROR;
        }

        node = ngx_edge_auth_redis_cluster_node(cl,
                                           (u_char *) m->element[0]->str,
                                           m->element[0]->len,
                                           (ngx_int_t) m->element[1]->integer,
                                           cl->asked);
        if (node == NULL) {
            return NGX_ERROR;
        }

        ngx_memset(map + start, (int) (node->index + 1), end - start + 1);
        ranges++;
    }

    if (ranges == 0) {
        return NGX_ERROR;
    }

    ngx_memcpy(cl->slots, map, sizeof(map));

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, cl->log, 0,
                   "redis cluster: %ui slot ranges from %V, %ui nodes known",
                   ranges, &cl->asked->addr.name, cl->nnodes);

    return NGX_OK;
}


/* the node at ip:port, known or new; NULL: not an address, or too many */

static ngx_edge_auth_redis_cluster_node_t *
ngx_edge_auth_redis_cluster_node(ngx_edge_auth_redis_cluster_t *cl,
    u_char *ip, size_t len, ngx_int_t port,
    ngx_edge_auth_redis_cluster_node_t *from)
{
    in_addr_t       in;
    socklen_t       socklen;
    ngx_uint_t      i;
    ngx_sockaddr_t  sa;

    if (port <= 0 || port > 65535) {
        return NULL;
    }

    ngx_memzero(&sa, sizeof(ngx_sockaddr_t));

    if (len == 0 || (len == 1 && ip[0] == '?')) {
        /* "the address you reached me at" */
        if (from == NULL) {
            return NULL;
        }

        socklen = from->addr.socklen;
        ngx_memcpy(&sa, from->addr.sockaddr, socklen);

    } else {
        in = ngx_inet_addr(ip, len);

        if (in != INADDR_NONE) {
            sa.sockaddr_in.sin_family = AF_INET;
            sa.sockaddr_in.sin_addr.s_addr = in;
            socklen = sizeof(struct sockaddr_in);

#if (NGX_HAVE_INET6)
        } else if (ngx_inet6_addr(ip, len,
                                  sa.sockaddr_in6.sin6_addr.s6_addr)
                   == NGX_OK)
        {
            sa.sockaddr_in6.sin6_family = AF_INET6;
            socklen = sizeof(struct sockaddr_in6);
#endif

        } else {
            return NULL;
        }
    }

    ngx_inet_set_port(&sa.sockaddr, (in_port_t) port);

    for (i = 0; i < cl->nnodes; i++) {
        if (ngx_cmp_sockaddr(&sa.sockaddr, socklen,
                             cl->nodes[i]->addr.sockaddr,
                             cl->nodes[i]->addr.socklen, 1)
            == NGX_OK)
        {
            return cl->nodes[i];
        }
    }

    return ngx_edge_auth_redis_cluster_add(cl, &sa.sockaddr, socklen);
}


static ngx_edge_auth_redis_cluster_node_t *
ngx_edge_auth_redis_cluster_add(ngx_edge_auth_redis_cluster_t *cl,
    struct sockaddr *sa, socklen_t socklen)
{
    u_char                              *p;
    ngx_edge_auth_redis_cluster_node_t  *node;

    if (cl->nnodes == NGX_EDGE_AUTH_REDIS_CLUSTER_NODES) {
        ngx_log_error(NGX_LOG_ERR, cl->log, 0,
                      "redis cluster %V: more than %d nodes, the others "
                      "are not used", &cl->conf->text,
                      NGX_EDGE_AUTH_REDIS_CLUSTER_NODES);
        return NULL;
    }

    node = ngx_pcalloc(cl->cycle->pool,
                       sizeof(ngx_edge_auth_redis_cluster_node_t));
    p = ngx_pnalloc(cl->cycle->pool, socklen + NGX_SOCKADDR_STRLEN);

    if (node == NULL || p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, sa, socklen);

    node->addr.sockaddr = (struct sockaddr *) p;
    node->addr.socklen = socklen;
    node->addr.name.data = p + socklen;
    node->addr.name.len = ngx_sock_ntop(sa, socklen, p + socklen,
                                        NGX_SOCKADDR_STRLEN, 1);

    /* the cluster's password, TLS and timeout; this node's address */

    node->conf = *cl->conf;
    node->conf.addrs = &node->addr;
    node->conf.naddrs = 1;
    node->conf.text = node->addr.name;

    node->index = cl->nnodes;
    cl->nodes[cl->nnodes++] = node;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, cl->log, 0,
                   "redis cluster: node %V", &node->addr.name);

    return node;
}


/* a call fails out of line: never inside a caller's send() */

static void
ngx_edge_auth_redis_cluster_fail(ngx_edge_auth_redis_cluster_t *cl,
    ngx_edge_auth_redis_call_t *call, const char *error)
{
    call->error = error;
    ngx_queue_insert_tail(&cl->failed, &call->queue);

    if (!cl->posted.posted) {
        ngx_post_event(&cl->posted, &ngx_posted_events);
    }
}


static void
ngx_edge_auth_redis_cluster_fail_waiting(ngx_edge_auth_redis_cluster_t *cl,
    const char *error)
{
    ngx_queue_t                 *q;
    ngx_edge_auth_redis_call_t  *call;

    while (!ngx_queue_empty(&cl->waiting)) {
        q = ngx_queue_head(&cl->waiting);
        ngx_queue_remove(q);

        call = ngx_queue_data(q, ngx_edge_auth_redis_call_t, queue);
        ngx_edge_auth_redis_cluster_fail(cl, call, error);
    }
}


static void
ngx_edge_auth_redis_cluster_posted(ngx_event_t *ev)
{
    ngx_edge_auth_redis_cluster_t *cl = ev->data;

    ngx_queue_t                 *q;
    ngx_edge_auth_redis_call_t  *call;

    while (!ngx_queue_empty(&cl->failed)) {
        q = ngx_queue_head(&cl->failed);
        ngx_queue_remove(q);

        call = ngx_queue_data(q, ngx_edge_auth_redis_call_t, queue);
        ngx_edge_auth_redis_cluster_finish(call);
    }
}


/* the caller's done() at last */

static void
ngx_edge_auth_redis_cluster_finish(ngx_edge_auth_redis_call_t *call)
{
    ngx_edge_auth_redis_cluster_ctx_t *ctx = call->data;

    ngx_edge_auth_redis_cluster_t  *cl;

    cl = ctx->cl;

    if (!cl->closed) {
        ngx_edge_auth_redis_cluster_outage(cl, call);
    }

    call->done = ctx->done;
    call->data = ctx->data;

    call->done(call);
}


/* a call to be sent again */

static void
ngx_edge_auth_redis_cluster_reset(ngx_edge_auth_redis_call_t *call)
{
    ngx_uint_t  i;

    for (i = 0; i < call->nreplies; i++) {
        freeReplyObject(call->replies[i]);
        call->replies[i] = NULL;
    }

    call->nreplies = 0;
    call->error = NULL;
}


/*
 * A call that failed after what the cluster could do (another node, a
 * new map) is an outage, said as with one Redis: one line per outage and
 * gateway node.  The flag its workers share holds the slot that failed
 * (plus one), and the outage ends when a call for that slot is answered,
 * in any worker: while a master is down with no replica to take over,
 * answers from the others end nothing.
 */

static void
ngx_edge_auth_redis_cluster_outage(ngx_edge_auth_redis_cluster_t *cl,
    ngx_edge_auth_redis_call_t *call)
{
    ngx_uint_t                          level;
    ngx_edge_auth_redis_cluster_ctx_t  *ctx;

    ctx = call->data;

    if (call->error == NULL) {
        if (*cl->down == call->slot + 1
            && ngx_atomic_cmp_set(cl->down, call->slot + 1, 0))
        {
            ngx_log_error(NGX_LOG_NOTICE, cl->log, 0,
                          "redis cluster %V: answering again",
                          &cl->conf->text);
        }

        return;
    }

    level = ngx_atomic_cmp_set(cl->down, 0, call->slot + 1) ? NGX_LOG_ERR
                                                            : NGX_LOG_INFO;

    if (ctx->node) {
        ngx_log_error(level, cl->log, 0,
                      "redis cluster %V: %V: %s; tokens stay in shared "
                      "memory and each node logs in for itself until Redis "
                      "is back", &cl->conf->text, &ctx->node->addr.name,
                      call->error);

    } else {
        ngx_log_error(level, cl->log, 0,
                      "redis cluster %V: %s; tokens stay in shared memory "
                      "and each node logs in for itself until Redis is back",
                      &cl->conf->text, call->error);
    }
}


/* why the map could not be had from a node, for the outage line */

static void
ngx_edge_auth_redis_cluster_why(ngx_edge_auth_redis_cluster_t *cl,
    ngx_edge_auth_redis_call_t *call)
{
    u_char      *p, *last;
    redisReply  *reply;

    p = cl->error;
    last = cl->error + sizeof(cl->error) - 1;

    reply = call->nreplies ? call->replies[0] : NULL;

    if (call->error) {
        p = ngx_slprintf(p, last, "no node gave the slot map (%V: %s)",
                         &cl->asked->addr.name, call->error);

    } else if (reply && reply->type == REDIS_REPLY_ERROR) {
        /* Redis's own words; they never echo a key's value */
        p = ngx_slprintf(p, last, "no node gave the slot map (%V refused "
                         "CLUSTER SLOTS: %*s)", &cl->asked->addr.name,
                         ngx_min(reply->len, 80), reply->str);

    } else {
        p = ngx_slprintf(p, last, "no node gave the slot map (%V: not a "
                         "usable CLUSTER SLOTS answer)",
                         &cl->asked->addr.name);
    }

    *p = '\0';
}


static int64_t
ngx_edge_auth_redis_cluster_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + tp->msec;
}


/*
 * At worker exit: the nodes fail what they have (their done() sees the
 * cluster closed and fails the call), then what waits here.
 */

static void
ngx_edge_auth_redis_cluster_close(void *data)
{
    ngx_edge_auth_redis_cluster_t *cl = data;

    ngx_uint_t                   i;
    ngx_queue_t                 *q;
    ngx_edge_auth_redis_call_t  *call;

    cl->closed = 1;

    if (cl->posted.posted) {
        ngx_delete_posted_event(&cl->posted);
    }

    if (cl->start.posted) {
        ngx_delete_posted_event(&cl->start);
    }

    for (i = 0; i < cl->nnodes; i++) {
        if (cl->nodes[i]->rd) {
            ngx_edge_auth_redis_close(cl->nodes[i]->rd);
        }
    }

    ngx_queue_add(&cl->failed, &cl->waiting);
    ngx_queue_init(&cl->waiting);

    while (!ngx_queue_empty(&cl->failed)) {
        q = ngx_queue_head(&cl->failed);
        ngx_queue_remove(q);

        call = ngx_queue_data(q, ngx_edge_auth_redis_call_t, queue);
        call->error = "the worker is exiting";
        ngx_edge_auth_redis_cluster_finish(call);
    }
}
