
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The fleet: gateway nodes share one token per credential through Redis.
 * Requests never wait for Redis; they read shared memory as before.  The
 * renewal state machine (ngx_http_credential_renew.c) calls this adapter,
 * which answers a lease through the handler given to fleet_init():
 *
 *   - before a login, a lease (SET NX PX) read together with the stored
 *     token: a fresher token is adopted instead of logging in, and only
 *     the lease holder logs in;
 *   - after a login, the sealed token is stored (TTL: its remaining
 *     lifetime) and the lease released by compare-and-delete;
 *   - a node that starts reads each stored token once, adopts a newer
 *     one and stores its own when Redis lacks it;
 *   - whoever stores a token then counts it in the fleet's change log
 *     (a counter and the names of the last changed keys, one script)
 *     and announces it on the fleet's channel (PUBLISH); one worker per
 *     node (it holds the poll; the others sleep) listens there
 *     (SUBSCRIBE) and reads the counter when told, and every 30 seconds
 *     (the safety poll; every second when it cannot listen), and only
 *     when it moved reads the log and the tokens it names: a node at
 *     rest sends one GET of the counter and three of tokens (a slow sweep
 *     that finds what a node of an older version stored without counting
 *     it) every 30 seconds, whatever the number of credentials.  A
 *     counter that went back (Redis lost its data), a node back from an
 *     outage or a lost subscription reads every token again.
 *
 * When Redis cannot be reached every node carries on alone: one login
 * per node, as without Redis.  Values are AES-256-GCM sealed, bound to
 * their key name; key names are HMACs of the credential's fingerprint.
 */


#include "ngx_http_credential_fleet.h"
#include "ngx_http_credential_login.h"
#include "ngx_edge_auth_jwt.h"
#include "ngx_edge_auth_redis.h"
#include "ngx_edge_auth_redis_cluster.h"
#include "ngx_edge_auth_seal.h"
#include "ngx_edge_auth_secret.h"
#include "ngx_edge_auth_store.h"

#include <openssl/rand.h>


#define NGX_HTTP_CREDENTIAL_BLOB_FORMAT  1
#define NGX_HTTP_CREDENTIAL_BLOB_HEAD    (1 + NGX_EDGE_AUTH_VERSION_LEN + 16)

/* no node asks for a lease this long: one that lasts longer is broken */
#define NGX_HTTP_CREDENTIAL_LEASE_MAX  (600 * 1000)

/*
 * The fleet's change log: how often the node reads its counter without
 * the fleet's channel (not subscribed, or Redis refuses SUBSCRIBE), how
 * often with it (the safety poll: a message lost on a connection that
 * stayed up, a node of an older version that does not publish, and the
 * poll's hold, renewed then), and how many names the log keeps.  30 s: a
 * connection that drops is noticed at once (every token is read again),
 * so the safety poll is for rare cases, and each wake-up of a sleeping
 * process costs 0.2 to 0.8 ms of CPU on a loaded VM; at rest the poller
 * wakes up twice per safety poll (the timer, the answer to the counter
 * and the sweep's tokens, one call; a third time in a cluster), twice
 * the hold's renewal it also is.
 */
#define NGX_HTTP_CREDENTIAL_POLL         1000
#define NGX_HTTP_CREDENTIAL_SAFETY_POLL  (30 * NGX_HTTP_CREDENTIAL_POLL)
/*
 * Tokens the sweep reads each safety poll, in the counter's call (room
 * for the counter's GET in NGX_EDGE_AUTH_REDIS_MAX_COMMANDS): 0.1 a
 * second, as many as 1,000 credentials in about 3 hours.
 */
#define NGX_HTTP_CREDENTIAL_SWEEP        3
/* SUBSCRIBE refused (an ACL without the channel): asked again this late */
#define NGX_HTTP_CREDENTIAL_LISTEN_RETRY (60 * NGX_HTTP_CREDENTIAL_POLL)
/*
 * The node's poller renews its hold each poll (at least every safety
 * poll); past it (a stuck worker), another takes it.  The others wake up
 * every 60 to 90 s (fleet_hold()): each wake-up of a process that slept
 * long costs up to a millisecond or two of CPU on a loaded VM.
 */
#define NGX_HTTP_CREDENTIAL_POLL_HOLD    (60 * NGX_HTTP_CREDENTIAL_POLL)
#define NGX_HTTP_CREDENTIAL_CHANGES_MAX  256

/* a stored refresh token outlives its access token by this much */
#define NGX_HTTP_CREDENTIAL_REFRESH_KEEP  (7 * 86400 * 1000LL)


typedef struct {
    u_char                       version[NGX_EDGE_AUTH_VERSION_LEN];
    int64_t                      issued;
    int64_t                      expires;
    ngx_str_t                    token;
    ngx_str_t                    refresh;
} ngx_http_credential_blob_t;


static ngx_int_t ngx_http_credential_fleet_key(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf, const char *kind, u_char *name,
    ngx_str_t *key);
static void ngx_http_credential_fleet_lease_done(
    ngx_edge_auth_redis_call_t *call);
static void ngx_http_credential_fleet_get(
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred);
static ngx_int_t ngx_http_credential_fleet_get_key(
    ngx_http_credential_main_conf_t *cmcf, ngx_str_t *key,
    ngx_edge_auth_redis_done_pt done, void *data);
static ngx_int_t ngx_http_credential_fleet_call(ngx_edge_auth_redis_t *rd,
    ngx_uint_t argc, ngx_str_t *argv, ngx_edge_auth_redis_done_pt done,
    void *data);
static void ngx_http_credential_fleet_sync_done(
    ngx_edge_auth_redis_call_t *call);
static void ngx_http_credential_fleet_synced(
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_edge_auth_redis_call_t *call, ngx_uint_t i);
static void ngx_http_credential_fleet_poll_sweep(
    ngx_http_credential_main_conf_t *cmcf, ngx_uint_t first,
    ngx_uint_t count);
static void ngx_http_credential_fleet_polled_swept(
    ngx_edge_auth_redis_call_t *call);
static void ngx_http_credential_fleet_tick(ngx_event_t *ev);
static ngx_msec_t ngx_http_credential_fleet_hold(
    ngx_http_credential_main_conf_t *cmcf, int64_t now);
static void ngx_http_credential_fleet_poll(
    ngx_http_credential_main_conf_t *cmcf);
static void ngx_http_credential_fleet_poll_again(
    ngx_http_credential_main_conf_t *cmcf);
static void ngx_http_credential_fleet_listen(
    ngx_http_credential_main_conf_t *cmcf, int64_t now);
static void ngx_http_credential_fleet_subscribed(
    ngx_edge_auth_redis_call_t *call);
static void ngx_http_credential_fleet_message(void *data, redisReply *reply);
static void ngx_http_credential_fleet_unlisten(
    ngx_http_credential_main_conf_t *cmcf);
static void ngx_http_credential_fleet_polled(
    ngx_edge_auth_redis_call_t *call);
static void ngx_http_credential_fleet_counter(
    ngx_edge_auth_redis_call_t *call);
static void ngx_http_credential_fleet_changes(
    ngx_edge_auth_redis_call_t *call);
static void ngx_http_credential_fleet_log(ngx_edge_auth_redis_call_t *call);
static ngx_uint_t ngx_http_credential_fleet_node_refused(
    ngx_edge_auth_redis_call_t *call, const char *command);
static void ngx_http_credential_fleet_up(
    ngx_http_credential_main_conf_t *cmcf, ngx_uint_t up);
static void ngx_http_credential_fleet_resync(
    ngx_http_credential_main_conf_t *cmcf);
static void ngx_http_credential_fleet_notify(
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred);
static void ngx_http_credential_fleet_notified(
    ngx_edge_auth_redis_call_t *call);
static int ngx_libc_cdecl ngx_http_credential_fleet_cmp(const void *one,
    const void *two);
static int ngx_libc_cdecl ngx_http_credential_fleet_entry_cmp(
    const void *one, const void *two);
static void ngx_http_credential_fleet_rearm(
    ngx_http_credential_main_conf_t *cmcf);
static int ngx_libc_cdecl ngx_http_credential_fleet_find(const void *name,
    const void *elt);
static ngx_int_t ngx_http_credential_fleet_changes_key(ngx_pool_t *pool,
    ngx_http_credential_main_conf_t *cmcf, const char *tail,
    ngx_str_t *key);
static void ngx_http_credential_fleet_sent(ngx_edge_auth_redis_call_t *call);
static void ngx_http_credential_fleet_released(
    ngx_edge_auth_redis_call_t *call);
static ngx_uint_t ngx_http_credential_fleet_refused(
    ngx_http_credential_t *cred, ngx_edge_auth_redis_call_t *call,
    const char *command, ngx_uint_t i, ngx_log_t *log);
static ngx_int_t ngx_http_credential_fleet_apply(
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    redisReply *reply, ngx_log_t *log);
static ngx_int_t ngx_http_credential_fleet_store(
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_edge_auth_redis_call_t *call, ngx_uint_t store);
static ngx_int_t ngx_http_credential_fleet_release(
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_edge_auth_redis_call_t *call);
static ngx_int_t ngx_http_credential_fleet_sentinel_param(ngx_conf_t *cf,
    ngx_edge_auth_redis_conf_t *rc, ngx_str_t *name, ngx_str_t *v);
static ngx_int_t ngx_http_credential_fleet_sentinel(ngx_conf_t *cf,
    ngx_edge_auth_redis_conf_t *rc);
static ngx_int_t ngx_http_credential_fleet_tls_param(ngx_conf_t *cf,
    ngx_edge_auth_redis_conf_t *rc, ngx_str_t *name, ngx_str_t *v);
static ngx_int_t ngx_http_credential_fleet_tls(ngx_conf_t *cf,
    ngx_edge_auth_redis_conf_t *rc);
static ngx_int_t ngx_http_credential_fleet_cluster(ngx_conf_t *cf,
    ngx_edge_auth_redis_conf_t *rc, ngx_str_t *v);
static ngx_int_t ngx_http_credential_fleet_cluster_check(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf);
static ngx_int_t ngx_http_credential_blob_decode(u_char *p, size_t len,
    ngx_http_credential_blob_t *blob);
static u_char *ngx_http_credential_put(u_char *p, uint64_t v, ngx_uint_t n);
static uint64_t ngx_http_credential_get(u_char *p, ngx_uint_t n);


/* the renewal state machine's, set by fleet_init(): a lease's answer */
static ngx_http_credential_fleet_leased_pt  ngx_http_credential_fleet_leased;
static ngx_http_credential_fleet_changed_pt  ngx_http_credential_fleet_changed;


static const char  ngx_http_credential_release_script[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) end return 0";


/*
 * KEYS[1] the counter, KEYS[2] "COUNTER NAMES": the names (fixed length)
 * of the last ARGV[2] changed token keys, newest last; ARGV[1] the name.
 * GET and SET only: the ACL the fleet always needed is enough.
 */

static const char  ngx_http_credential_notify_script[] =
    "local n = tonumber(redis.call('get', KEYS[1]) or '0') + 1 "
    "local log = redis.call('get', KEYS[2]) or '' "
    "log = (string.match(log, '^%d+ (.*)$') or '') .. ARGV[1] "
    "local max = tonumber(ARGV[2]) * string.len(ARGV[1]) "
    "if string.len(log) > max then log = string.sub(log, -max) end "
    "redis.call('set', KEYS[2], n .. ' ' .. log) "
    "redis.call('set', KEYS[1], n) "
    "if ARGV[3] then redis.pcall('publish', ARGV[3], n) end "
    "return n";

/*
 * ARGV[3], the fleet's channel, "PREFIXfleet:changes:DB" (a channel is
 * not a key: one for every database): the pollers of the nodes that
 * listen read the counter at once.  PUBLISH through pcall: an ACL without
 * the channel (Redis 7 grants none by default) still counts the change.
 * In a Redis Cluster a PUBLISH reaches every node.
 */


/* a refusal of the node's poll or notification, said once until it works */
static ngx_uint_t  ngx_http_credential_fleet_poll_error;

/* this worker holds the node's poll (store->sh->fleet_poller) */
static ngx_uint_t  ngx_http_credential_fleet_poller;

/* the sweep's credentials, read in the counter's call (one at a time) */
static ngx_http_credential_t  *ngx_http_credential_fleet_swept[
                                              NGX_HTTP_CREDENTIAL_SWEEP];
static ngx_uint_t              ngx_http_credential_fleet_nswept;


/*
 * The poller's connection that listens on the fleet's channel (its own,
 * as a subscribed connection takes no other command): a message reads
 * the counter at once, and the poll slows down to the safety poll.
 */

typedef enum {
    NGX_HTTP_CREDENTIAL_LISTEN_OFF = 0,
    NGX_HTTP_CREDENTIAL_LISTEN_ASKED,
    NGX_HTTP_CREDENTIAL_LISTEN_ON
} ngx_http_credential_listen_e;

typedef struct {
    ngx_edge_auth_redis_t       *rd;
    ngx_str_t                    channel;
    ngx_http_credential_listen_e state;
    int64_t                      retry;      /* SUBSCRIBE refused: then */
    ngx_uint_t                   refused;    /* said once */
    ngx_uint_t                   again;      /* a message during a poll */
    ngx_uint_t                   message;    /* one came, not yet read */
    ngx_uint_t                   told;       /* the poll reads for one */
} ngx_http_credential_fleet_listen_t;

static ngx_http_credential_fleet_listen_t  ngx_http_credential_fleet_ch;


/* the "redis..." parameters of credential_store */

ngx_int_t
ngx_http_credential_fleet_param(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf, ngx_str_t *value)
{
    u_char                      *eq;
    ngx_int_t                    n;
    ngx_str_t                    name, v;
    ngx_url_t                    u;
    ngx_msec_t                   ms;
    ngx_edge_auth_redis_conf_t  *rc;

    if (value->len < 5 || ngx_strncmp(value->data, "redis", 5) != 0) {
        return NGX_DECLINED;
    }

    eq = (u_char *) ngx_strlchr(value->data, value->data + value->len, '=');
    if (eq == NULL) {
        return NGX_DECLINED;
    }

    name.data = value->data;
    name.len = eq - value->data;
    v.data = eq + 1;
    v.len = value->data + value->len - v.data;

    if (v.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs a value", &name);
        return NGX_ERROR;
    }

    rc = cmcf->redis_conf;

    if (rc == NULL) {
        rc = ngx_pcalloc(cf->pool, sizeof(ngx_edge_auth_redis_conf_t));
        if (rc == NULL) {
            return NGX_ERROR;
        }

        rc->timeout = 1000;
        rc->tls = NGX_CONF_UNSET;
        rc->verify = NGX_CONF_UNSET;
        ngx_str_set(&cmcf->redis_prefix, "nginx:credential:");
        cmcf->redis_conf = rc;
    }

    if (name.len == 13 && ngx_strncmp(name.data, "redis_cluster", 13) == 0) {
        return ngx_http_credential_fleet_cluster(cf, rc, &v);
    }

    if (name.len == 5) {
        if (rc->cluster) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"redis=\" and \"redis_cluster=\" exclude "
                               "each other");
            return NGX_ERROR;
        }

        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url = v;
        u.default_port = 6379;

        /* "tls://host:port", as redis-cli and most clients write it */

        if (v.len > 6 && ngx_strncasecmp(v.data, (u_char *) "tls://", 6) == 0)
        {
            if (rc->tls == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"redis=tls://...\" and \"redis_ssl=off\" "
                                   "contradict each other");
                return NGX_ERROR;
            }

            rc->tls = 1;
            u.url.data += 6;
            u.url.len -= 6;
        }

        if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid Redis address \"%V\": %s", &v,
                               u.err ? u.err : "cannot be parsed");
            return NGX_ERROR;
        }

        if (u.naddrs == 0 || (u.uri.len && u.family != AF_UNIX)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid Redis address \"%V\": expected "
                               "\"host:port\" or \"unix:/path\"", &v);
            return NGX_ERROR;
        }

        if (rc->tls == 1 && u.family == AF_UNIX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid Redis address \"%V\": Redis speaks "
                               "TLS on a TCP port only", &v);
            return NGX_ERROR;
        }

        rc->text = v;
        rc->addrs = u.addrs;
        rc->naddrs = u.naddrs;

        if (u.family != AF_UNIX) {
            rc->host = u.host;
        }

        return NGX_OK;
    }

    if ((name.len >= 14 && ngx_strncmp(name.data, "redis_sentinel", 14) == 0)
        || (name.len == 12 && ngx_strncmp(name.data, "redis_master", 12) == 0))
    {
        return ngx_http_credential_fleet_sentinel_param(cf, rc, &name, &v);
    }

    if (name.len >= 9 && ngx_strncmp(name.data, "redis_ssl", 9) == 0) {
        return ngx_http_credential_fleet_tls_param(cf, rc, &name, &v);
    }

    if (name.len == 10 && ngx_strncmp(name.data, "redis_user", 10) == 0) {
        return ngx_edge_auth_secret(cf, &v, &rc->user, "redis_user");
    }

    if (name.len == 14 && ngx_strncmp(name.data, "redis_password", 14) == 0) {
        return ngx_edge_auth_secret(cf, &v, &rc->password, "redis_password");
    }

    if (name.len == 8 && ngx_strncmp(name.data, "redis_db", 8) == 0) {
        n = ngx_atoi(v.data, v.len);

        if (n == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid Redis database number \"%V\"", &v);
            return NGX_ERROR;
        }

        rc->db = n;
        return NGX_OK;
    }

    if (name.len == 12 && ngx_strncmp(name.data, "redis_prefix", 12) == 0) {
        cmcf->redis_prefix = v;
        return NGX_OK;
    }

    if (name.len == 13 && ngx_strncmp(name.data, "redis_timeout", 13) == 0) {
        ms = ngx_parse_time(&v, 0);

        if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid Redis timeout \"%V\"", &v);
            return NGX_ERROR;
        }

        rc->timeout = ms;
        return NGX_OK;
    }

    if (name.len == 9 && ngx_strncmp(name.data, "redis_key", 9) == 0) {
        if (ngx_edge_auth_seal_key(cf, &v, &cmcf->redis_key, "redis_key")
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        cmcf->redis_key_set = 1;
        return NGX_OK;
    }

    return NGX_DECLINED;
}


/* redis_sentinel=, redis_master=, redis_sentinel_password= */

static ngx_int_t
ngx_http_credential_fleet_sentinel_param(ngx_conf_t *cf,
    ngx_edge_auth_redis_conf_t *rc, ngx_str_t *name, ngx_str_t *v)
{
    ngx_edge_auth_redis_sentinel_conf_t  *sc;

    sc = rc->sentinel;

    if (sc == NULL) {
        sc = ngx_pcalloc(cf->pool, sizeof(ngx_edge_auth_redis_sentinel_conf_t));
        if (sc == NULL) {
            return NGX_ERROR;
        }

        rc->sentinel = sc;
    }

    if (name->len == 14) {
        return ngx_edge_auth_redis_sentinel_parse(cf, v, sc);
    }

    if (name->len == 12) {
        sc->master = *v;
        return NGX_OK;
    }

    if (name->len == 23
        && ngx_strncmp(name->data, "redis_sentinel_password", 23) == 0)
    {
        return ngx_edge_auth_secret(cf, v, &sc->password,
                                    "redis_sentinel_password");
    }

    return NGX_DECLINED;
}


/* the TLS parameters that are a plain string of the Redis client's conf */

typedef struct {
    ngx_str_t                    name;
    size_t                       offset;
} ngx_http_credential_fleet_str_param_t;


static ngx_http_credential_fleet_str_param_t
    ngx_http_credential_fleet_tls_strings[] =
{
    { ngx_string("redis_ssl_name"),
      offsetof(ngx_edge_auth_redis_conf_t, name) },
    { ngx_string("redis_ssl_trusted_certificate"),
      offsetof(ngx_edge_auth_redis_conf_t, trusted_certificate) },
    { ngx_string("redis_ssl_certificate"),
      offsetof(ngx_edge_auth_redis_conf_t, certificate) },
    { ngx_null_string, 0 }
};


/* redis_ssl=, redis_ssl_verify=, redis_ssl_name=, ..._certificate... */

static ngx_int_t
ngx_http_credential_fleet_tls_param(ngx_conf_t *cf,
    ngx_edge_auth_redis_conf_t *rc, ngx_str_t *name, ngx_str_t *v)
{
    ngx_str_t                                *str, pem;
    ngx_flag_t                               *flag, on;
    ngx_http_credential_fleet_str_param_t    *sp;

    flag = NULL;

    if (name->len == 9) {
        flag = &rc->tls;

    } else if (name->len == 16
               && ngx_strncmp(name->data, "redis_ssl_verify", 16) == 0)
    {
        flag = &rc->verify;
    }

    if (flag) {
        if (v->len == 2 && ngx_strncmp(v->data, "on", 2) == 0) {
            on = 1;

        } else if (v->len == 3 && ngx_strncmp(v->data, "off", 3) == 0) {
            on = 0;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" takes \"on\" or \"off\", not \"%V\"",
                               name, v);
            return NGX_ERROR;
        }

        /* "tls://" set it already: only "off" is wrong */

        if (*flag != NGX_CONF_UNSET && (flag == &rc->verify || *flag != on)) {
            if (flag == &rc->verify) {
                goto duplicate;
            }

            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"redis=tls://...\" and \"redis_ssl=off\" "
                               "contradict each other");
            return NGX_ERROR;
        }

        *flag = on;

        if (flag == &rc->verify && rc->tls_param == NULL) {
            rc->tls_param = "redis_ssl_verify";
        }

        return NGX_OK;
    }

    for (sp = ngx_http_credential_fleet_tls_strings; sp->name.len; sp++) {

        if (name->len != sp->name.len
            || ngx_strncmp(name->data, sp->name.data, name->len) != 0)
        {
            continue;
        }

        str = (ngx_str_t *) ((u_char *) rc + sp->offset);

        if (str->len) {
            goto duplicate;
        }

        *str = *v;

        if (rc->tls_param == NULL) {
            rc->tls_param = (char *) sp->name.data;
        }

        return NGX_OK;
    }

    if (name->len == 25
        && ngx_strncmp(name->data, "redis_ssl_certificate_key", 25) == 0)
    {
        if (rc->certificate_key_set) {
            goto duplicate;
        }

        rc->certificate_key_set = 1;

        if (rc->tls_param == NULL) {
            rc->tls_param = "redis_ssl_certificate_key";
        }

        /* a secret: "file:" or "env:", read from memory, never logged */

        if (ngx_edge_auth_secret_bytes(cf, v, &pem,
                                       "redis_ssl_certificate_key")
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* "nginx -s reload" reads no key (see ngx_edge_auth_secret) */

        if (ngx_process != NGX_PROCESS_SIGNALLER
            && ngx_edge_auth_private_key(cf, &pem,
                                         "redis_ssl_certificate_key",
                                         &rc->certificate_key)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    return NGX_DECLINED;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "duplicate \"%V\"", name);
    return NGX_ERROR;
}


/* after every parameter of credential_store was read */

ngx_int_t
ngx_http_credential_fleet_check(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf)
{
    if (cmcf->redis_conf == NULL) {
        return NGX_OK;
    }

    if (cmcf->redis_conf->sentinel) {
        if (ngx_http_credential_fleet_sentinel(cf, cmcf->redis_conf)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (cmcf->redis_conf->naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "Redis parameters need \"redis=ADDRESS\" (or "
                           "\"redis_sentinel=HOST:PORT,... "
                           "redis_master=NAME\")");
        return NGX_ERROR;
    }

    if (cmcf->redis_conf->user.len && cmcf->redis_conf->password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"redis_user=\" needs \"redis_password=\"");
        return NGX_ERROR;
    }

    if (!cmcf->redis_key_set) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"redis=\" needs \"redis_key=file:PATH\": tokens "
                           "are stored in Redis encrypted with that key");
        return NGX_ERROR;
    }

    if (cmcf->redis_conf->cluster
        && ngx_http_credential_fleet_cluster_check(cf, cmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_credential_fleet_tls(cf, cmcf->redis_conf);
}


/* the master comes from the sentinels, never from redis= as well */

static ngx_int_t
ngx_http_credential_fleet_sentinel(ngx_conf_t *cf,
    ngx_edge_auth_redis_conf_t *rc)
{
    u_char                               *p;
    ngx_edge_auth_redis_sentinel_conf_t  *sc;

    sc = rc->sentinel;

    if (sc->naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s=\" needs \"redis_sentinel=HOST:PORT,...\"",
                           sc->master.len ? "redis_master"
                                          : "redis_sentinel_password");
        return NGX_ERROR;
    }

    if (rc->cluster) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"redis_cluster=\" and \"redis_sentinel=\" "
                           "exclude each other: a cluster fails over by "
                           "itself");
        return NGX_ERROR;
    }

    if (rc->naddrs) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"redis=\" and \"redis_sentinel=\" exclude each "
                           "other: with Sentinel, the sentinels name the "
                           "master");
        return NGX_ERROR;
    }

    if (sc->master.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"redis_sentinel=\" needs \"redis_master=NAME\": "
                           "the name the sentinels monitor the master under");
        return NGX_ERROR;
    }

    if (rc->tls == 1 || rc->tls_param) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "TLS with \"redis_sentinel=\" is not supported");
        return NGX_ERROR;
    }

    sc->timeout = rc->timeout;

    /* for the log lines: the master's name, not an address */

    p = ngx_pnalloc(cf->pool, sc->master.len + sizeof("master \"\""));
    if (p == NULL) {
        return NGX_ERROR;
    }

    rc->text.data = p;
    rc->text.len = ngx_sprintf(p, "master \"%V\"", &sc->master) - p;

    return NGX_OK;
}


/* TLS to Redis: checked like a login endpoint's, by default */

static ngx_int_t
ngx_http_credential_fleet_tls(ngx_conf_t *cf, ngx_edge_auth_redis_conf_t *rc)
{
    ngx_fd_t  fd;

    if (rc->tls != 1) {
        if (rc->tls_param) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%s=\" needs TLS: \"redis=tls://HOST:PORT\" "
                               "or \"redis_ssl=on\"", rc->tls_param);
            return NGX_ERROR;
        }

        rc->tls = 0;
        return NGX_OK;
    }

#if (NGX_HTTP_SSL)

    if (rc->addrs[0].sockaddr->sa_family == AF_UNIX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid Redis address \"%V\": Redis speaks TLS "
                           "on a TCP port only", &rc->text);
        return NGX_ERROR;
    }

    if (rc->verify == NGX_CONF_UNSET) {
        rc->verify = 1;
    }

    if (rc->name.len == 0) {
        rc->name = rc->host;
    }

    if ((rc->certificate.len != 0) != (rc->certificate_key_set != 0)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"redis_ssl_certificate=\" and "
                           "\"redis_ssl_certificate_key=\" go together");
        return NGX_ERROR;
    }

    /* nginx's own loader says which file, but not which line */

    if (rc->trusted_certificate.len) {
        if (ngx_conf_full_name(cf->cycle, &rc->trusted_certificate, 1)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        fd = ngx_open_file(rc->trusted_certificate.data, NGX_FILE_RDONLY,
                           NGX_FILE_OPEN, 0);

        if (fd == NGX_INVALID_FILE) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "cannot read redis_ssl_trusted_certificate "
                               "\"%V\"", &rc->trusted_certificate);
            return NGX_ERROR;
        }

        (void) ngx_close_file(fd);
    }

    rc->ssl = ngx_edge_auth_tls_create(cf, "redis_ssl",
                                       &rc->trusted_certificate,
                                       &rc->certificate, rc->certificate_key,
                                       NULL, 0);

    return rc->ssl ? NGX_OK : NGX_ERROR;

#else

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "TLS to Redis needs nginx built with the ssl module");
    return NGX_ERROR;

#endif
}


/*
 * redis_cluster=HOST:PORT,HOST:PORT,...: the seed nodes, asked for the
 * slot map; "tls://" on any of them is TLS to every node.
 */

static ngx_int_t
ngx_http_credential_fleet_cluster(ngx_conf_t *cf,
    ngx_edge_auth_redis_conf_t *rc, ngx_str_t *v)
{
    u_char       *p, *last, *comma;
    ngx_url_t     u;
    ngx_addr_t   *addr;
    ngx_array_t  *seeds;

    if (rc->naddrs) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           rc->cluster ? "\"redis_cluster=\" is duplicate"
                                       : "\"redis=\" and \"redis_cluster=\" "
                                         "exclude each other");
        return NGX_ERROR;
    }

    seeds = ngx_array_create(cf->pool, 3, sizeof(ngx_addr_t));
    if (seeds == NULL) {
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
        u.default_port = 6379;

        p = comma + 1;

        if (u.url.len > 6
            && ngx_strncasecmp(u.url.data, (u_char *) "tls://", 6) == 0)
        {
            if (rc->tls == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"redis_cluster=tls://...\" and "
                                   "\"redis_ssl=off\" contradict each other");
                return NGX_ERROR;
            }

            rc->tls = 1;
            u.url.data += 6;
            u.url.len -= 6;
        }

        if (u.url.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid Redis Cluster seeds \"%V\": an empty "
                               "address", v);
            return NGX_ERROR;
        }

        if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid Redis Cluster seed \"%V\": %s",
                               &u.url, u.err ? u.err : "cannot be parsed");
            return NGX_ERROR;
        }

        /* the nodes name each other by IP address and port */

        if (u.naddrs == 0 || u.uri.len || u.family == AF_UNIX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid Redis Cluster seed \"%V\": expected "
                               "\"host:port\"", &u.url);
            return NGX_ERROR;
        }

        if (seeds->nelts == 0) {
            rc->host = u.host;
        }

        addr = ngx_array_push_n(seeds, u.naddrs);
        if (addr == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(addr, u.addrs, u.naddrs * sizeof(ngx_addr_t));
    }

    if (seeds->nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid Redis Cluster seeds \"%V\"", v);
        return NGX_ERROR;
    }

    rc->text = *v;
    rc->addrs = seeds->elts;
    rc->naddrs = seeds->nelts;
    rc->cluster = 1;

    return NGX_OK;
}


/*
 * A cluster keeps a credential's token and lease in one slot (one call
 * goes to one node, the release script sees both): the names carry the
 * fingerprint's HMAC as a hash tag, which a brace in the prefix would end
 * early.  Database 0 is a cluster's only one.
 */

static ngx_int_t
ngx_http_credential_fleet_cluster_check(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf)
{
    ngx_str_t  *prefix;

    if (cmcf->redis_conf->db != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"redis_db=\" cannot be used with "
                           "\"redis_cluster=\": a Redis Cluster has "
                           "database 0 only");
        return NGX_ERROR;
    }

    prefix = &cmcf->redis_prefix;

    if (ngx_strlchr(prefix->data, prefix->data + prefix->len, '{')
        || ngx_strlchr(prefix->data, prefix->data + prefix->len, '}'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"redis_prefix=\" cannot contain \"{\" or \"}\" "
                           "with \"redis_cluster=\": the key names' hash "
                           "tags keep a credential's keys in one slot");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Key names from the credential's fingerprint (its name, login request
 * and secrets), so they say nothing of the client and change with its
 * secret; every node with the same credential block finds the same keys.
 */

ngx_int_t
ngx_http_credential_fleet_names(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred)
{
    ngx_http_credential_login_t  *login;

    login = cred->login;
    login->fleet = 1;

    if (ngx_http_credential_fleet_key(cf, cmcf, "token:", login->key,
                                      &login->redis_token)
        != NGX_OK
        || ngx_http_credential_fleet_key(cf, cmcf, "lease:", login->key,
                                         &login->redis_lease)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_credential_fleet_key(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf, const char *kind, u_char *name,
    ngx_str_t *key)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   tag;

    /* in a cluster "prefix:token:{HMAC}": the same slot as the lease */
    tag = cmcf->redis_conf->cluster;

    len = cmcf->redis_prefix.len + ngx_strlen(kind)
          + NGX_EDGE_AUTH_SEAL_NAME_LEN + (tag ? 2 : 0);

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    key->data = p;
    key->len = len;

    p = ngx_cpymem(p, cmcf->redis_prefix.data, cmcf->redis_prefix.len);
    p = ngx_cpymem(p, kind, ngx_strlen(kind));

    if (tag) {
        *p++ = '{';
        p[NGX_EDGE_AUTH_SEAL_NAME_LEN] = '}';
    }

    return ngx_edge_auth_seal_name(cmcf->redis_key.name, name,
                                   NGX_EDGE_AUTH_KEY_LEN, p);
}


ngx_int_t
ngx_http_credential_fleet_init(ngx_cycle_t *cycle,
    ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_fleet_leased_pt leased,
    ngx_http_credential_fleet_changed_pt changed)
{
    u_char       *p;
    u_char        id[8];
    ngx_uint_t    n;
    ngx_event_t  *ev;

    if (cmcf->redis_conf == NULL) {
        return NGX_OK;
    }

    ngx_http_credential_fleet_leased = leased;
    ngx_http_credential_fleet_changed = changed;

    cmcf->redis = cmcf->redis_conf->cluster
                  ? ngx_edge_auth_redis_cluster_create(cycle,
                                                cmcf->redis_conf,
                                                &cmcf->store->sh->redis_down)
                  : ngx_edge_auth_redis_create(cycle, cmcf->redis_conf,
                                               &cmcf->store->sh->redis_down);
    if (cmcf->redis == NULL) {
        return NGX_ERROR;
    }

    /* the lease's owner: this worker, unique across the fleet */

    p = ngx_pnalloc(cycle->pool, 2 * sizeof(id) + 1 + NGX_INT64_LEN);
    if (p == NULL || RAND_bytes(id, sizeof(id)) != 1) {
        return NGX_ERROR;
    }

    cmcf->redis_owner.data = p;
    p = ngx_hex_dump(p, id, sizeof(id));
    p = ngx_sprintf(p, ":%P", ngx_pid);
    cmcf->redis_owner.len = p - cmcf->redis_owner.data;

    /*
     * The change log's two keys share a hash tag: one Redis Cluster slot
     * for the script that writes both.
     */

    if (ngx_http_credential_fleet_changes_key(cycle->pool, cmcf,
                                              "fleet:{changes}",
                                              &cmcf->redis_changes)
        != NGX_OK
        || ngx_http_credential_fleet_changes_key(cycle->pool, cmcf,
                                                 "fleet:{changes}:log",
                                                 &cmcf->redis_changes_log)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /*
     * The poller's listening connection, to any node of a cluster (a
     * PUBLISH reaches them all): its seeds, in turn, like a standalone
     * Redis's addresses; a Sentinel's master, asked at each connection.
     */

    ngx_http_credential_fleet_ch.rd = ngx_edge_auth_redis_create(cycle,
                                          cmcf->redis_conf,
                                          &cmcf->store->sh->redis_down);
    if (ngx_http_credential_fleet_ch.rd == NULL) {
        return NGX_ERROR;
    }

    ngx_edge_auth_redis_listen(ngx_http_credential_fleet_ch.rd,
                               ngx_http_credential_fleet_message, cmcf);

    p = ngx_pnalloc(cycle->pool, cmcf->redis_prefix.len
                                 + sizeof("fleet:changes:") - 1
                                 + NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_http_credential_fleet_ch.channel.data = p;
    p = ngx_cpymem(p, cmcf->redis_prefix.data, cmcf->redis_prefix.len);
    p = ngx_sprintf(p, "fleet:changes:%ui", cmcf->redis_conf->db);
    ngx_http_credential_fleet_ch.channel.len =
                                p - ngx_http_credential_fleet_ch.channel.data;
    ngx_http_credential_fleet_ch.state = NGX_HTTP_CREDENTIAL_LISTEN_OFF;

    /* the credentials by the names the change log holds */

    n = cmcf->logins.nelts;

    cmcf->redis_sorted = ngx_palloc(cycle->pool,
                                    ngx_max(n, 1)
                                    * sizeof(ngx_http_credential_t *));
    if (cmcf->redis_sorted == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(cmcf->redis_sorted, cmcf->logins.elts,
               n * sizeof(ngx_http_credential_t *));
    ngx_qsort(cmcf->redis_sorted, n, sizeof(ngx_http_credential_t *),
              ngx_http_credential_fleet_cmp);

    /* ... and by their entries, which the zone's changes name */

    cmcf->redis_by_entry = ngx_palloc(cycle->pool,
                                      ngx_max(n, 1)
                                      * sizeof(ngx_http_credential_t *));
    if (cmcf->redis_by_entry == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(cmcf->redis_by_entry, cmcf->logins.elts,
               n * sizeof(ngx_http_credential_t *));
    ngx_qsort(cmcf->redis_by_entry, n, sizeof(ngx_http_credential_t *),
              ngx_http_credential_fleet_entry_cmp);

    /* the worker's first looks, just armed, see every earlier change */
    cmcf->redis_changes_seen = cmcf->store->sh->changes;

    ev = ngx_pcalloc(cycle->pool, sizeof(ngx_event_t));
    if (ev == NULL) {
        return NGX_ERROR;
    }

    ev->handler = ngx_http_credential_fleet_tick;
    ev->data = cmcf;
    ev->log = cycle->log;
    ev->cancelable = 1;

    cmcf->redis_timer = ev;

    ngx_add_timer(ev, NGX_HTTP_CREDENTIAL_POLL);

    return NGX_OK;
}


static ngx_int_t
ngx_http_credential_fleet_changes_key(ngx_pool_t *pool,
    ngx_http_credential_main_conf_t *cmcf, const char *tail, ngx_str_t *key)
{
    size_t  len;

    len = ngx_strlen(tail);

    key->data = ngx_pnalloc(pool, cmcf->redis_prefix.len + len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    key->len = ngx_cpymem(ngx_cpymem(key->data, cmcf->redis_prefix.data,
                                     cmcf->redis_prefix.len),
                          tail, len)
               - key->data;

    return NGX_OK;
}


/*
 * The name part of a token key: what the change log holds (in a cluster,
 * the hash tag, before its "}": a hex name never ends with one).
 */

#define ngx_http_credential_fleet_name(cred)                                 \
    ((cred)->login->redis_token.data + (cred)->login->redis_token.len        \
     - NGX_EDGE_AUTH_SEAL_NAME_LEN                                           \
     - ((cred)->login->redis_token.data[(cred)->login->redis_token.len - 1]  \
        == '}'))


static int ngx_libc_cdecl
ngx_http_credential_fleet_cmp(const void *one, const void *two)
{
    ngx_http_credential_t * const  *a = one;
    ngx_http_credential_t * const  *b = two;

    return ngx_memcmp(ngx_http_credential_fleet_name(*a),
                      ngx_http_credential_fleet_name(*b),
                      NGX_EDGE_AUTH_SEAL_NAME_LEN);
}


void
ngx_http_credential_fleet_exit(ngx_http_credential_main_conf_t *cmcf)
{
    ngx_edge_auth_redis_t  *rd;

    rd = cmcf->redis;

    if (rd == NULL) {
        return;
    }

    /* callbacks see no client and only release what they hold */
    cmcf->redis = NULL;
    ngx_edge_auth_redis_close(rd);

    rd = ngx_http_credential_fleet_ch.rd;

    if (rd) {
        ngx_http_credential_fleet_ch.rd = NULL;
        ngx_http_credential_fleet_ch.state = NGX_HTTP_CREDENTIAL_LISTEN_OFF;
        ngx_edge_auth_redis_close(rd);
    }
}


ngx_uint_t
ngx_http_credential_fleet_usable(ngx_http_credential_main_conf_t *cmcf)
{
    return cmcf->redis && ngx_edge_auth_redis_usable(cmcf->redis);
}


/*
 * This worker holds the node's login lock for a token that is due: ask
 * Redis for the fleet's lease and its token in one round trip; the
 * answer goes to the handler given to fleet_init(): NGX_OK the lease is
 * ours, NGX_BUSY another node's, NGX_DECLINED Redis is away or refuses,
 * NGX_ABORT the worker is exiting.  Returns NGX_DECLINED at once when
 * Redis is not usable now.
 */

ngx_int_t
ngx_http_credential_fleet_lease(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_msec_t ttl)
{
    u_char                       *p;
    ngx_str_t                     argv[6];
    ngx_edge_auth_redis_call_t   *call;
    ngx_http_credential_login_t  *login;

    login = cred->login;

    if (!ngx_http_credential_fleet_usable(cmcf)) {
        return NGX_DECLINED;
    }

    call = ngx_edge_auth_redis_call_create(cmcf->redis);
    if (call == NULL) {
        return NGX_DECLINED;
    }

    p = ngx_pnalloc(call->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        goto failed;
    }

    ngx_str_set(&argv[0], "SET");
    argv[1] = login->redis_lease;
    argv[2] = cmcf->redis_owner;
    ngx_str_set(&argv[3], "NX");
    ngx_str_set(&argv[4], "PX");
    argv[5].data = p;
    argv[5].len = ngx_sprintf(p, "%M", ttl) - p;

    if (ngx_edge_auth_redis_command(call, 6, argv) != NGX_OK) {
        goto failed;
    }

    ngx_str_set(&argv[0], "GET");
    argv[1] = login->redis_token;

    if (ngx_edge_auth_redis_command(call, 2, argv) != NGX_OK) {
        goto failed;
    }

    /* a lease held elsewhere must still be one that ends */

    ngx_str_set(&argv[0], "PTTL");
    argv[1] = login->redis_lease;

    if (ngx_edge_auth_redis_command(call, 2, argv) != NGX_OK) {
        goto failed;
    }

    call->done = ngx_http_credential_fleet_lease_done;
    call->data = cred;

    login->redis_busy = 1;
    ngx_edge_auth_redis_send(cmcf->redis, call);

    return NGX_OK;

failed:

    ngx_edge_auth_redis_call_free(call);
    return NGX_DECLINED;
}


static void
ngx_http_credential_fleet_lease_done(ngx_edge_auth_redis_call_t *call)
{
    ngx_http_credential_t *cred = call->data;

    ngx_log_t                        *log;
    ngx_uint_t                        leased;
    ngx_http_credential_login_t      *login;
    ngx_http_credential_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_credential_module);
    login = cred->login;
    log = ngx_cycle->log;

    login->redis_busy = 0;

    if (cmcf->redis == NULL || ngx_exiting || ngx_terminate || ngx_quit) {
        ngx_edge_auth_redis_call_free(call);
        ngx_http_credential_fleet_leased(cred, NGX_ABORT);
        return;
    }

    /*
     * Redis away, or refusing the lease (READONLY after a failover, OOM,
     * NOPERM, ...): this node is on its own.  Only a nil answer means
     * that another node holds the lease.
     */

    if (call->error
        || ngx_http_credential_fleet_refused(cred, call, "SET lease", 0, log)
        || ngx_http_credential_fleet_refused(cred, call, "GET", 1, log)
        || ngx_http_credential_fleet_refused(cred, call, "PTTL", 2, log))
    {
        login->entry->redis_up = 0;
        login->store->sh->fleet_up = 0;
        ngx_edge_auth_redis_call_free(call);
        ngx_http_credential_fleet_leased(cred, NGX_DECLINED);
        return;
    }

    login->entry->redis_up = 1;
    login->redis_error = 0;
    leased = (call->replies[0]->type == REDIS_REPLY_STATUS);

    /*
     * A lease held elsewhere without an expiry, or longer than any node
     * asks for (a restore, a migration, a hostile or buggy server), would
     * stop renewals for the whole fleet: it counts as an outage.
     */

    if (!leased
        && call->replies[2]->type == REDIS_REPLY_INTEGER
        && (call->replies[2]->integer == -1
            || call->replies[2]->integer
               > NGX_HTTP_CREDENTIAL_LEASE_MAX))
    {
        /* once for the node: its workers meet the lease each in turn */

        if (ngx_atomic_cmp_set(&login->entry->lease_broken, 0, 1)) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "credential \"%V\": the fleet's lease \"%V\" in "
                          "Redis %s; this node logs in for itself until it "
                          "is gone", &cred->name, &login->redis_lease,
                          call->replies[2]->integer == -1
                          ? "has no expiry" : "lasts more than 10 minutes");
        }

        ngx_edge_auth_redis_call_free(call);
        ngx_http_credential_fleet_leased(cred, NGX_DECLINED);
        return;
    }

    login->entry->lease_broken = 0;

    if (!leased) {
        ngx_edge_auth_store_count(login->entry,
                                  NGX_EDGE_AUTH_STAT_LEASE_BUSY);
    }

    /* a fresher stored token is adopted whoever holds the lease */

    (void) ngx_http_credential_fleet_apply(cmcf, cred, call->replies[1],
                                           log);

    ngx_edge_auth_redis_call_free(call);

    login->leased = leased;

    ngx_http_credential_fleet_leased(cred, leased ? NGX_OK : NGX_BUSY);
}


/*
 * Called for each credential at rest, by one worker per node and tick: a
 * node reads each token once (a starting node takes the fleet's); after
 * that the node's poll of the change log says which ones to read again.
 */

void
ngx_http_credential_fleet_sync(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred)
{
    ngx_http_credential_login_t  *login;

    login = cred->login;

    if (!ngx_http_credential_fleet_usable(cmcf)) {
        /* what this node knows of Redis, for credential_status */
        ngx_edge_auth_store_lock(login->store);
        login->entry->redis_up = 0;
        login->store->sh->fleet_up = 0;
        ngx_edge_auth_store_unlock(login->store);
        return;
    }

    if (!login->entry->looked) {
        ngx_http_credential_fleet_get(cmcf, cred);
    }
}


/* one GET, answered to done */

static ngx_int_t
ngx_http_credential_fleet_get_key(ngx_http_credential_main_conf_t *cmcf,
    ngx_str_t *key, ngx_edge_auth_redis_done_pt done, void *data)
{
    ngx_str_t  argv[2];

    ngx_str_set(&argv[0], "GET");
    argv[1] = *key;

    return ngx_http_credential_fleet_call(cmcf->redis, 2, argv, done, data);
}


/* one command on its own, done() with its answer */

static ngx_int_t
ngx_http_credential_fleet_call(ngx_edge_auth_redis_t *rd, ngx_uint_t argc,
    ngx_str_t *argv, ngx_edge_auth_redis_done_pt done, void *data)
{
    ngx_edge_auth_redis_call_t  *call;

    call = ngx_edge_auth_redis_call_create(rd);
    if (call == NULL) {
        return NGX_ERROR;
    }

    if (ngx_edge_auth_redis_command(call, argc, argv) != NGX_OK) {
        ngx_edge_auth_redis_call_free(call);
        return NGX_ERROR;
    }

    call->done = done;
    call->data = data;

    ngx_edge_auth_redis_send(rd, call);

    return NGX_OK;
}


/* is there a newer token in Redis? */

static void
ngx_http_credential_fleet_get(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred)
{
    ngx_http_credential_login_t  *login;

    login = cred->login;

    if (login->redis_busy || !ngx_http_credential_fleet_usable(cmcf)) {
        return;
    }

    if (ngx_http_credential_fleet_get_key(cmcf, &login->redis_token,
                                          ngx_http_credential_fleet_sync_done,
                                          cred)
        == NGX_OK)
    {
        login->redis_busy = 1;
    }
}


static void
ngx_http_credential_fleet_sync_done(ngx_edge_auth_redis_call_t *call)
{
    ngx_http_credential_t *cred = call->data;

    ngx_http_credential_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_credential_module);

    ngx_http_credential_fleet_synced(cmcf, cred, call, 0);
    ngx_edge_auth_redis_call_free(call);
}


/* the answer i of a call to GET the credential's token */

static void
ngx_http_credential_fleet_synced(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_edge_auth_redis_call_t *call,
    ngx_uint_t i)
{
    ngx_int_t  rc;

    cred->login->redis_busy = 0;

    if (call->error || cmcf->redis == NULL || i >= call->nreplies
        || ngx_http_credential_fleet_refused(cred, call, "GET", i,
                                             ngx_cycle->log))
    {
        rc = NGX_ERROR;

    } else {
        rc = ngx_http_credential_fleet_apply(cmcf, cred, call->replies[i],
                                             ngx_cycle->log);
    }

    /* answered or not: a starting node may now conclude from what it has */

    ngx_edge_auth_store_lock(cred->login->store);

    cred->login->entry->looked = 1;

    if (rc != NGX_ERROR) {
        cred->login->entry->last_sync = ngx_edge_auth_now();
    }

    /* what this node knows of Redis, for credential_status */
    cred->login->entry->redis_up = (rc != NGX_ERROR);

    if (rc == NGX_ERROR) {
        /* the next good poll sets every credential's flag again */
        cred->login->store->sh->fleet_up = 0;
    }

    ngx_edge_auth_store_unlock(cred->login->store);

    /*
     * Redis lost it (a restart): ours goes there, unless another node's
     * came first; Redis holds an older one: ours replaces it.
     */

    if (rc == NGX_DECLINED) {
        ngx_http_credential_fleet_publish(cmcf, cred,
                                          NGX_HTTP_CREDENTIAL_STORE_NEW);

    } else if (rc == NGX_ABORT) {
        ngx_http_credential_fleet_publish(cmcf, cred,
                                          NGX_HTTP_CREDENTIAL_STORE);
    }
}


/*
 * An error answer to a command: logged once until Redis answers again
 * (login->redis_error), with the command's name and Redis's words.
 */

static ngx_uint_t
ngx_http_credential_fleet_refused(ngx_http_credential_t *cred,
    ngx_edge_auth_redis_call_t *call, const char *command, ngx_uint_t i,
    ngx_log_t *log)
{
    redisReply  *reply;

    if (i >= call->nreplies) {
        return 0;
    }

    reply = call->replies[i];

    if (reply->type != REDIS_REPLY_ERROR) {
        return 0;
    }

    if (!cred->login->redis_error) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "credential \"%V\": Redis refused %s: %*s; this node "
                      "goes on with its own token", &cred->name, command,
                      ngx_min(reply->len, 80), reply->str);
        cred->login->redis_error = 1;
    }

    return 1;
}


/*
 * After a login, or when Redis lacks this node's token: stores the token
 * (with "store", when it is valid) and releases the lease (when this
 * worker holds it), in one round trip.  A paused client sends nothing:
 * the lease then runs out by itself.
 */

void
ngx_http_credential_fleet_publish(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_uint_t store)
{
    ngx_int_t                     rc;
    ngx_uint_t                    leased;
    ngx_edge_auth_redis_call_t   *call;
    ngx_http_credential_login_t  *login;

    login = cred->login;
    leased = login->leased;
    login->leased = 0;

    if ((!store && !leased) || !ngx_http_credential_fleet_usable(cmcf)) {
        return;
    }

    call = ngx_edge_auth_redis_call_create(cmcf->redis);
    if (call == NULL) {
        return;
    }

    rc = store ? ngx_http_credential_fleet_store(cmcf, cred, call, store)
               : NGX_DECLINED;

    if (rc == NGX_ERROR
        || (leased
            && ngx_http_credential_fleet_release(cmcf, cred, call) != NGX_OK)
        || call->ncommands == 0)
    {
        ngx_edge_auth_redis_call_free(call);
        return;
    }

    call->done = (rc == NGX_OK) ? ngx_http_credential_fleet_sent
                                : ngx_http_credential_fleet_released;
    call->data = cred;

    ngx_edge_auth_redis_send(cmcf->redis, call);
}


static void
ngx_http_credential_fleet_sent(ngx_edge_auth_redis_call_t *call)
{
    ngx_http_credential_t *cred = call->data;

    ngx_uint_t                        stored;
    ngx_http_credential_main_conf_t  *cmcf;

    (void) ngx_http_credential_fleet_refused(cred, call, "SET token", 0,
                                             ngx_cycle->log);
    (void) ngx_http_credential_fleet_refused(cred, call,
                                             "EVAL (lease release)", 1,
                                             ngx_cycle->log);

    /* "OK": stored (a nil answer to SET NX: another node's came first) */

    stored = (call->error == NULL && call->nreplies > 0
              && call->replies[0]->type == REDIS_REPLY_STATUS);

    ngx_edge_auth_redis_call_free(call);

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_credential_module);

    /*
     * Counted only once stored, so that a node that reads the change
     * finds the token, wherever Redis Cluster keeps either key.
     */

    if (stored && cmcf->redis && !ngx_exiting && !ngx_terminate) {
        ngx_http_credential_fleet_notify(cmcf, cred);
    }
}


static void
ngx_http_credential_fleet_notify(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred)
{
    ngx_str_t  argv[8];

    ngx_str_set(&argv[0], "EVAL");
    argv[1].data = (u_char *) ngx_http_credential_notify_script;
    argv[1].len = sizeof(ngx_http_credential_notify_script) - 1;
    ngx_str_set(&argv[2], "2");
    argv[3] = cmcf->redis_changes;
    argv[4] = cmcf->redis_changes_log;
    argv[5].data = ngx_http_credential_fleet_name(cred);
    argv[5].len = NGX_EDGE_AUTH_SEAL_NAME_LEN;
    argv[6].data = (u_char *) ngx_value(NGX_HTTP_CREDENTIAL_CHANGES_MAX);
    argv[6].len = ngx_strlen(argv[6].data);
    argv[7] = ngx_http_credential_fleet_ch.channel;

    (void) ngx_http_credential_fleet_call(cmcf->redis, 8, argv,
                                          ngx_http_credential_fleet_notified,
                                          cmcf);
}


static void
ngx_http_credential_fleet_notified(ngx_edge_auth_redis_call_t *call)
{
    (void) ngx_http_credential_fleet_node_refused(call,
                                                  "EVAL (change log)");

    ngx_edge_auth_redis_call_free(call);
}


/*
 * The node's poller (one worker, see fleet_hold()) listens on the fleet's
 * channel and reads the change counter when a message comes, and at each
 * safety poll (every 30 seconds); without the channel, every second.
 * Each poll also reads one token, in turn: the sweep (every other poll
 * without the channel).  The other workers sleep: the idle cost of a node
 * does not grow with its workers, nor with its credentials.
 */

static void
ngx_http_credential_fleet_tick(ngx_event_t *ev)
{
    ngx_http_credential_main_conf_t *cmcf = ev->data;

    int64_t                      now;
    ngx_msec_t                   delay;
    ngx_uint_t                   first, count, n, listening;
    ngx_edge_auth_store_t       *store;

    store = cmcf->store;

    if (ngx_exiting || ngx_terminate || ngx_quit || cmcf->redis == NULL) {

        /* the next poller need not wait until the hold lapses */

        ngx_edge_auth_store_lock(store);

        if (store->sh->fleet_poller == ngx_pid) {
            store->sh->fleet_poller = 0;
        }

        ngx_edge_auth_store_unlock(store);

        ngx_http_credential_fleet_unlisten(cmcf);
        return;
    }

    now = ngx_edge_auth_now();
    delay = ngx_http_credential_fleet_hold(cmcf, now);

    if (delay) {
        /* another worker polls: look again when its hold would lapse */
        ngx_http_credential_fleet_unlisten(cmcf);
        ngx_add_timer(ev, delay);
        return;
    }

    /* the credentials whose token another process changed */
    ngx_http_credential_fleet_rearm(cmcf);

    if (!ngx_http_credential_fleet_usable(cmcf)) {
        /* changes may pass unseen: read every token once it is back */
        ngx_edge_auth_store_lock(store);
        store->sh->fleet_lost = 1;
        ngx_edge_auth_store_unlock(store);

        ngx_http_credential_fleet_unlisten(cmcf);
        ngx_add_timer(ev, NGX_HTTP_CREDENTIAL_POLL);
        return;
    }

    ngx_http_credential_fleet_listen(cmcf, now);

    listening = (ngx_http_credential_fleet_ch.state
                 == NGX_HTTP_CREDENTIAL_LISTEN_ON);

    ngx_add_timer(ev, listening ? NGX_HTTP_CREDENTIAL_SAFETY_POLL
                                : NGX_HTTP_CREDENTIAL_POLL);

    if (cmcf->redis_polling) {
        return;
    }

    n = cmcf->logins.nelts;

    ngx_edge_auth_store_lock(store);

    /* a tenth of a period early: workers out of phase poll once, not twice */

    if (now - store->sh->fleet_polled
        < NGX_HTTP_CREDENTIAL_POLL - NGX_HTTP_CREDENTIAL_POLL / 10)
    {
        ngx_edge_auth_store_unlock(store);
        return;
    }

    store->sh->fleet_polled = now;
    /* the sweep: one token every other poll, or a few each safety poll */

    first = store->sh->fleet_sweep;
    count = (n == 0) ? 0
            : !listening ? (++store->sh->fleet_polls % 2 == 0)
            : cmcf->redis_conf->cluster ? 1 : NGX_HTTP_CREDENTIAL_SWEEP;
    store->sh->fleet_sweep += count;

    ngx_edge_auth_store_unlock(store);

    ngx_http_credential_fleet_poll_sweep(cmcf, first, count);
}


/*
 * The counter and the sweep's tokens: one call, one answer to wake up
 * for, where one node holds them all (not a cluster: a token's slot is
 * its own; there each token is a call of its own, and one a poll).
 */

static void
ngx_http_credential_fleet_poll_sweep(ngx_http_credential_main_conf_t *cmcf,
    ngx_uint_t first, ngx_uint_t count)
{
    ngx_str_t                    argv[2];
    ngx_uint_t                   i, n;
    ngx_http_credential_t      **cred, *c;
    ngx_edge_auth_redis_call_t  *call;

    cred = cmcf->logins.elts;
    n = cmcf->logins.nelts;

    if (cmcf->redis_conf->cluster || cmcf->redis_polling) {
        ngx_http_credential_fleet_poll(cmcf);

        if (count) {
            ngx_http_credential_fleet_get(cmcf, cred[first % n]);
        }

        return;
    }

    call = ngx_edge_auth_redis_call_create(cmcf->redis);
    if (call == NULL) {
        return;
    }

    ngx_str_set(&argv[0], "GET");
    argv[1] = cmcf->redis_changes;

    if (ngx_edge_auth_redis_command(call, 2, argv) != NGX_OK) {
        goto failed;
    }

    ngx_http_credential_fleet_nswept = 0;

    for (i = 0; i < count && i < n; i++) {
        c = cred[(first + i) % n];

        if (c->login->redis_busy) {
            continue;
        }

        argv[1] = c->login->redis_token;

        if (ngx_edge_auth_redis_command(call, 2, argv) != NGX_OK) {
            goto failed;
        }

        c->login->redis_busy = 1;
        ngx_http_credential_fleet_swept[ngx_http_credential_fleet_nswept++] =
                                                                          c;
    }

    call->done = ngx_http_credential_fleet_polled_swept;
    call->data = cmcf;

    cmcf->redis_polling = 1;

    ngx_http_credential_fleet_ch.again = 0;
    ngx_http_credential_fleet_ch.told = ngx_http_credential_fleet_ch.message;
    ngx_http_credential_fleet_ch.message = 0;

    ngx_edge_auth_redis_send(cmcf->redis, call);

    return;

failed:

    for (i = 0; i < ngx_http_credential_fleet_nswept; i++) {
        ngx_http_credential_fleet_swept[i]->login->redis_busy = 0;
    }

    ngx_http_credential_fleet_nswept = 0;
    ngx_edge_auth_redis_call_free(call);
}


static void
ngx_http_credential_fleet_polled_swept(ngx_edge_auth_redis_call_t *call)
{
    ngx_http_credential_main_conf_t *cmcf = call->data;

    ngx_uint_t  i, n;

    n = ngx_http_credential_fleet_nswept;
    ngx_http_credential_fleet_nswept = 0;

    for (i = 0; i < n; i++) {
        ngx_http_credential_fleet_synced(cmcf,
                                         ngx_http_credential_fleet_swept[i],
                                         call, i + 1);
    }

    ngx_http_credential_fleet_polled(call);
}


/* a read of the change counter, unless one is under way */

static void
ngx_http_credential_fleet_poll(ngx_http_credential_main_conf_t *cmcf)
{
    if (cmcf->redis_polling) {
        /* what it reads may be older than the message: once more after */
        ngx_http_credential_fleet_ch.again = 1;
        return;
    }

    ngx_http_credential_fleet_ch.again = 0;

    if (ngx_http_credential_fleet_get_key(cmcf, &cmcf->redis_changes,
                                          ngx_http_credential_fleet_polled,
                                          cmcf)
        == NGX_OK)
    {
        cmcf->redis_polling = 1;

        ngx_http_credential_fleet_ch.told =
                                       ngx_http_credential_fleet_ch.message;
        ngx_http_credential_fleet_ch.message = 0;
    }
}


/* a read of the counter or the log is over: one asked for meanwhile */

static void
ngx_http_credential_fleet_poll_again(ngx_http_credential_main_conf_t *cmcf)
{
    if (ngx_http_credential_fleet_ch.again && !cmcf->redis_polling
        && cmcf->redis && !ngx_exiting && !ngx_terminate && !ngx_quit
        && ngx_http_credential_fleet_poller
        && ngx_http_credential_fleet_usable(cmcf))
    {
        ngx_http_credential_fleet_poll(cmcf);
    }
}


/*
 * The poller subscribes to the fleet's channel (a connection of its own,
 * with the same address, TLS, AUTH and database as the others).
 */

static void
ngx_http_credential_fleet_listen(ngx_http_credential_main_conf_t *cmcf,
    int64_t now)
{
    ngx_str_t                            argv[2];
    ngx_http_credential_fleet_listen_t  *ch;

    ch = &ngx_http_credential_fleet_ch;

    if (ch->rd == NULL || ch->state != NGX_HTTP_CREDENTIAL_LISTEN_OFF
        || now < ch->retry || !ngx_edge_auth_redis_usable(ch->rd))
    {
        return;
    }

    ngx_str_set(&argv[0], "SUBSCRIBE");
    argv[1] = ch->channel;

    ch->state = NGX_HTTP_CREDENTIAL_LISTEN_ASKED;

    if (ngx_http_credential_fleet_call(ch->rd, 2, argv,
                                       ngx_http_credential_fleet_subscribed,
                                       cmcf)
        != NGX_OK)
    {
        ch->state = NGX_HTTP_CREDENTIAL_LISTEN_OFF;
    }
}


static void
ngx_http_credential_fleet_subscribed(ngx_edge_auth_redis_call_t *call)
{
    ngx_http_credential_main_conf_t *cmcf = call->data;

    redisReply                          *reply;
    ngx_http_credential_fleet_listen_t  *ch;

    ch = &ngx_http_credential_fleet_ch;

    if (cmcf->redis == NULL || ch->state != NGX_HTTP_CREDENTIAL_LISTEN_ASKED)
    {
        /* the worker exits, or stopped listening meanwhile */
        ngx_edge_auth_redis_call_free(call);
        return;
    }

    reply = call->error ? NULL : call->replies[0];

    if (reply == NULL) {
        /* Redis away: the client pauses, the next tick asks again */
        ch->state = NGX_HTTP_CREDENTIAL_LISTEN_OFF;
        ngx_edge_auth_redis_call_free(call);
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY) {
        if (!ch->refused) {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "credential store: Redis refused SUBSCRIBE "
                          "\"%V\": %*s; this node reads the fleet's change "
                          "counter every second instead",
                          &ch->channel,
                          reply->type == REDIS_REPLY_ERROR
                          ? ngx_min(reply->len, 80) : 0,
                          reply->type == REDIS_REPLY_ERROR ? reply->str : "");
            ch->refused = 1;
        }

        ch->state = NGX_HTTP_CREDENTIAL_LISTEN_OFF;
        ch->retry = ngx_edge_auth_now() + NGX_HTTP_CREDENTIAL_LISTEN_RETRY;
        ngx_edge_auth_redis_call_free(call);
        ngx_edge_auth_redis_drop(ch->rd);
        return;
    }

    ngx_edge_auth_redis_call_free(call);

    ch->state = NGX_HTTP_CREDENTIAL_LISTEN_ON;
    ch->refused = 0;

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "credential store: this worker listens on the fleet's "
                  "channel \"%V\"", &ch->channel);

    /*
     * What changed before the subscription is in the counter: read now
     * (everything, after a lost subscription: fleet_lost).
     */

    ngx_http_credential_fleet_poll(cmcf);
}


/* a message on the fleet's channel, or NULL: the subscription is lost */

static void
ngx_http_credential_fleet_message(void *data, redisReply *reply)
{
    ngx_http_credential_main_conf_t *cmcf = data;

    ngx_edge_auth_store_t               *store;
    ngx_http_credential_fleet_listen_t  *ch;

    ch = &ngx_http_credential_fleet_ch;

    if (cmcf->redis == NULL || ngx_exiting || ngx_terminate || ngx_quit) {
        ch->state = NGX_HTTP_CREDENTIAL_LISTEN_OFF;
        return;
    }

    if (reply == NULL) {
        if (ch->state != NGX_HTTP_CREDENTIAL_LISTEN_ON) {
            return;
        }

        ch->state = NGX_HTTP_CREDENTIAL_LISTEN_OFF;

        /* what was published meanwhile is lost: every token is read */

        store = cmcf->store;

        ngx_edge_auth_store_lock(store);
        store->sh->fleet_lost = 1;
        ngx_edge_auth_store_unlock(store);

        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "credential store: the fleet's channel is lost; "
                      "this worker listens again and reads every token");

        /* polls every second until it listens again */

        if (cmcf->redis_timer && ngx_http_credential_fleet_poller) {
            ngx_add_timer(cmcf->redis_timer, NGX_HTTP_CREDENTIAL_POLL);
        }

        return;
    }

    if (!ngx_http_credential_fleet_poller) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "credential store: a message on \"%V\"", &ch->channel);

    /*
     * The counter is read rather than taken from the message: anyone may
     * publish on a channel.  And the changes this node's workers made.
     */

    ngx_http_credential_fleet_ch.message = 1;

    ngx_http_credential_fleet_rearm(cmcf);
    ngx_http_credential_fleet_poll(cmcf);
}


/* the poll moved to another worker, or Redis failed: not listening */

static void
ngx_http_credential_fleet_unlisten(ngx_http_credential_main_conf_t *cmcf)
{
    ngx_http_credential_fleet_listen_t  *ch;

    ch = &ngx_http_credential_fleet_ch;

    if (ch->rd == NULL || ch->state == NGX_HTTP_CREDENTIAL_LISTEN_OFF) {
        return;
    }

    ch->state = NGX_HTTP_CREDENTIAL_LISTEN_OFF;
    ngx_edge_auth_redis_drop(ch->rd);
}


/*
 * The node's poll: one worker holds it (pid, configuration, deadline in
 * the zone, like the login slots), and renews the hold at each tick.
 * Another takes it over when the holder is gone, of an older
 * configuration (a reload) or past its hold (stuck).  0: this worker
 * polls; else when to look again.
 */

static ngx_msec_t
ngx_http_credential_fleet_hold(ngx_http_credential_main_conf_t *cmcf,
    int64_t now)
{
    ngx_int_t                   take;
    ngx_uint_t                  i;
    ngx_pid_t                   pid;
    ngx_edge_auth_store_t      *store;
    ngx_http_credential_t     **cred;
    ngx_edge_auth_store_sh_t   *sh;

    store = cmcf->store;
    sh = store->sh;

    ngx_edge_auth_store_lock(store);

    pid = sh->fleet_poller;

    take = (pid == ngx_pid
            || pid == 0
            || sh->fleet_poller_gen < store->gen
            || now >= sh->fleet_poller_until
            || (kill(pid, 0) == -1 && ngx_errno == NGX_ESRCH));

    if (!take) {
        /*
         * Half a hold past its end: a poller that renews every safety
         * poll (30 s) has renewed it by then, so this worker sleeps 60
         * to 90 s, not 30; a stuck one is taken over within 90 s.
         */
        now = sh->fleet_poller_until - now + NGX_HTTP_CREDENTIAL_POLL_HOLD / 2;
        ngx_edge_auth_store_unlock(store);

        ngx_http_credential_fleet_poller = 0;

        return (ngx_msec_t) ngx_min(now, 3 * NGX_HTTP_CREDENTIAL_POLL_HOLD
                                         / 2);
    }

    /*
     * Taken over: the poller before may have died (a crash, a reload's
     * exit) between moving fleet_seen on and the changed tokens' answers,
     * which then never came.  Its last changes are read again: a look at
     * a credential does not read Redis (fleet_sync()).
     */

    if (pid != ngx_pid && sh->fleet_fetch >= 0
        && sh->fleet_fetch < sh->fleet_seen)
    {
        sh->fleet_seen = sh->fleet_fetch;
    }

    sh->fleet_poller = ngx_pid;
    sh->fleet_poller_gen = store->gen;
    sh->fleet_poller_until = now + NGX_HTTP_CREDENTIAL_POLL_HOLD;

    ngx_edge_auth_store_unlock(store);

    if (pid == ngx_pid && ngx_http_credential_fleet_poller) {
        return 0;
    }

    ngx_http_credential_fleet_poller = 1;

    /* the changes from now on are this worker's to look at */
    cmcf->redis_changes_seen = sh->changes;

    if (pid == 0) {
        return 0;
    }

    /*
     * The poller before may have looked after credentials that changed
     * (below, fleet_rearm()); this one now looks at every one once.
     */

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "credential store: this worker polls the fleet for the "
                  "node, after process %P", pid);

    cred = cmcf->logins.elts;

    for (i = 0; i < cmcf->logins.nelts; i++) {
        ngx_http_credential_fleet_changed(cred[i]);
    }

    return 0;
}


static void
ngx_http_credential_fleet_polled(ngx_edge_auth_redis_call_t *call)
{
    ngx_http_credential_main_conf_t *cmcf = call->data;

    ngx_http_credential_fleet_counter(call);
    ngx_http_credential_fleet_poll_again(cmcf);
}


static void
ngx_http_credential_fleet_counter(ngx_edge_auth_redis_call_t *call)
{
    ngx_http_credential_main_conf_t *cmcf = call->data;

    int64_t                  seen;
    ngx_int_t                v;
    ngx_uint_t               lost, action;
    redisReply              *reply;
    ngx_edge_auth_store_t   *store;

    enum { NONE, CHANGES, RESYNC };

    cmcf->redis_polling = 0;
    store = cmcf->store;

    if (cmcf->redis == NULL || ngx_exiting || ngx_terminate || ngx_quit) {
        ngx_edge_auth_redis_call_free(call);
        return;
    }

    reply = call->error ? NULL : call->replies[0];

    if (reply == NULL
        || ngx_http_credential_fleet_node_refused(call, "GET (change "
                                                  "counter)")
        || (reply->type != REDIS_REPLY_STRING
            && reply->type != REDIS_REPLY_NIL))
    {
        ngx_edge_auth_redis_call_free(call);

        /* back from an outage, the node reads every token again */

        ngx_edge_auth_store_lock(store);
        store->sh->fleet_lost = 1;
        ngx_edge_auth_store_unlock(store);

        ngx_http_credential_fleet_up(cmcf, 0);

        /* a listening connection that may be as dead: made again */
        ngx_http_credential_fleet_unlisten(cmcf);

        if (cmcf->redis_timer && ngx_http_credential_fleet_poller) {
            ngx_add_timer(cmcf->redis_timer, NGX_HTTP_CREDENTIAL_POLL);
        }

        return;
    }

    v = 0;

    if (reply->type == REDIS_REPLY_STRING) {
        v = ngx_atoi((u_char *) reply->str, reply->len);

        if (v == NGX_ERROR) {
            v = 0;
        }
    }

    ngx_edge_auth_redis_call_free(call);

    ngx_edge_auth_store_lock(store);

    lost = store->sh->fleet_lost;
    store->sh->fleet_lost = 0;
    seen = store->sh->fleet_seen;
    action = NONE;

    if (seen < 0) {
        /* the node's first poll: its first looks read every token */
        store->sh->fleet_seen = v;
        action = lost ? RESYNC : NONE;

    } else if (v < seen || lost) {
        /* Redis lost its data (a restart), or this node lost Redis */
        store->sh->fleet_seen = v;
        action = RESYNC;

    } else if (v > seen) {
        action = CHANGES;
    }

    ngx_edge_auth_store_unlock(store);

    ngx_http_credential_fleet_up(cmcf, 1);

    if (action == RESYNC) {
        ngx_http_credential_fleet_resync(cmcf);
        return;
    }

    if (action == NONE) {
        return;
    }

    if (action == CHANGES && ngx_http_credential_fleet_ch.told) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "credential store: change %L announced on the fleet's "
                      "channel, the change log is read", (int64_t) v);
    }

    if (ngx_http_credential_fleet_get_key(cmcf, &cmcf->redis_changes_log,
                                          ngx_http_credential_fleet_changes,
                                          cmcf)
        == NGX_OK)
    {
        cmcf->redis_polling = 1;
    }
}


/* the change log: "COUNTER NAMES", the names of the newest changes last */

static void
ngx_http_credential_fleet_changes(ngx_edge_auth_redis_call_t *call)
{
    ngx_http_credential_main_conf_t *cmcf = call->data;

    ngx_http_credential_fleet_log(call);
    ngx_http_credential_fleet_poll_again(cmcf);
}


static void
ngx_http_credential_fleet_log(ngx_edge_auth_redis_call_t *call)
{
    ngx_http_credential_main_conf_t *cmcf = call->data;

    u_char                  *p, *last, *names;
    int64_t                  seen, v;
    ngx_uint_t               i, n, count, resync;
    redisReply              *reply;
    ngx_edge_auth_store_t   *store;
    ngx_http_credential_t   *key, **found, **changed;

    cmcf->redis_polling = 0;
    store = cmcf->store;

    if (cmcf->redis == NULL || ngx_exiting || ngx_terminate || ngx_quit) {
        ngx_edge_auth_redis_call_free(call);
        return;
    }

    reply = call->error ? NULL : call->replies[0];

    if (reply == NULL
        || ngx_http_credential_fleet_node_refused(call, "GET (change log)"))
    {
        /* read again at the next poll */
        ngx_edge_auth_redis_call_free(call);
        return;
    }

    /* the log's own counter: the changes it names end there */

    v = -1;
    names = NULL;
    last = NULL;

    if (reply->type == REDIS_REPLY_STRING) {
        p = (u_char *) reply->str;
        last = p + reply->len;
        names = ngx_strlchr(p, last, ' ');

        if (names) {
            v = ngx_atoi(p, names - p);
            names++;
        }
    }

    ngx_edge_auth_store_lock(store);

    seen = store->sh->fleet_seen;

    if (v != NGX_ERROR && v >= 0 && v <= seen) {
        /* another worker of the node read it first */
        ngx_edge_auth_store_unlock(store);
        ngx_edge_auth_redis_call_free(call);
        return;
    }

    /* no log, or fewer names than changes: read every token */

    count = (v > seen) ? (ngx_uint_t) (v - seen) : 0;
    n = names ? (ngx_uint_t) (last - names) / NGX_EDGE_AUTH_SEAL_NAME_LEN
              : 0;
    resync = (v < 0 || seen < 0 || count > n);

    /* unknown until the next poll says where the counter is */
    store->sh->fleet_seen = (v < 0) ? -1 : v;
    store->sh->fleet_fetch = resync ? -1 : seen;

    ngx_edge_auth_store_unlock(store);

    if (resync) {
        ngx_edge_auth_redis_call_free(call);
        ngx_http_credential_fleet_resync(cmcf);
        return;
    }

    changed = cmcf->redis_sorted;
    names = last - count * NGX_EDGE_AUTH_SEAL_NAME_LEN;

    for (i = 0; i < count; i++) {
        p = names + i * NGX_EDGE_AUTH_SEAL_NAME_LEN;

        found = bsearch(p, changed, cmcf->logins.nelts,
                        sizeof(ngx_http_credential_t *),
                        ngx_http_credential_fleet_find);

        if (found) {
            key = *found;
            ngx_http_credential_fleet_get(cmcf, key);
        }
    }

    ngx_edge_auth_redis_call_free(call);
}


/*
 * The entries whose token changed since the poller last looked (a token
 * from Redis, a login or a code exchange in another worker): the poller
 * looks at them again and schedules them from then on (besides the worker
 * that scheduled them, which is not woken up), so that a timer follows
 * the new renewal time.  At rest nothing changed: one read of the zone's
 * count, no credential visited.
 */

static void
ngx_http_credential_fleet_rearm(ngx_http_credential_main_conf_t *cmcf)
{
    ngx_int_t                     rc;
    ngx_uint_t                    i, j, n, nlogins;
    ngx_edge_auth_entry_t        *changed[NGX_EDGE_AUTH_STORE_CHANGED];
    ngx_http_credential_t       **cred, **found, key, *kp;
    ngx_http_credential_login_t   login;

    rc = ngx_edge_auth_store_changes(cmcf->store, &cmcf->redis_changes_seen,
                                     changed, &n);

    cred = cmcf->redis_by_entry;
    nlogins = cmcf->logins.nelts;

    if (rc == NGX_DECLINED) {
        /* more than the zone remembers: every one (a resync, a start) */

        for (i = 0; i < nlogins; i++) {
            ngx_http_credential_fleet_changed(cred[i]);
        }

        return;
    }

    key.login = &login;
    kp = &key;

    for (i = 0; i < n; i++) {
        login.entry = changed[i];

        found = bsearch(&kp, cred, nlogins,
                        sizeof(ngx_http_credential_t *),
                        ngx_http_credential_fleet_entry_cmp);

        if (found == NULL) {
            /* another configuration's (a reload's old workers) */
            continue;
        }

        /* two credentials of one fingerprint share their entry */

        j = found - cred;

        while (j > 0 && cred[j - 1]->login->entry == changed[i]) {
            j--;
        }

        for ( /* void */ ;
             j < nlogins && cred[j]->login->entry == changed[i];
             j++)
        {
            ngx_http_credential_fleet_changed(cred[j]);
        }
    }
}


static int ngx_libc_cdecl
ngx_http_credential_fleet_entry_cmp(const void *one, const void *two)
{
    ngx_http_credential_t * const  *a = one;
    ngx_http_credential_t * const  *b = two;

    uintptr_t  x, y;

    x = (uintptr_t) (*a)->login->entry;
    y = (uintptr_t) (*b)->login->entry;

    return (x > y) - (x < y);
}


/* bsearch(): a name of the change log against a credential's */

static int ngx_libc_cdecl
ngx_http_credential_fleet_find(const void *name, const void *elt)
{
    ngx_http_credential_t * const  *cred = elt;

    return ngx_memcmp(name, ngx_http_credential_fleet_name(*cred),
                      NGX_EDGE_AUTH_SEAL_NAME_LEN);
}


/* every token of this worker's configuration, read again */

static void
ngx_http_credential_fleet_resync(ngx_http_credential_main_conf_t *cmcf)
{
    ngx_uint_t               i;
    ngx_http_credential_t  **cred;

    cred = cmcf->logins.elts;

    for (i = 0; i < cmcf->logins.nelts; i++) {
        ngx_http_credential_fleet_get(cmcf, cred[i]);
    }
}


/*
 * What this node knows of Redis, for credential_status: the poll answers
 * for every credential.
 */

static void
ngx_http_credential_fleet_up(ngx_http_credential_main_conf_t *cmcf,
    ngx_uint_t up)
{
    int64_t                     now;
    ngx_uint_t                  i;
    ngx_edge_auth_entry_t      *e;
    ngx_http_credential_t     **cred;
    ngx_edge_auth_store_sh_t   *sh;

    sh = cmcf->store->sh;
    now = ngx_edge_auth_now();

    ngx_edge_auth_store_lock(cmcf->store);

    if (up) {
        sh->fleet_synced = now;
    }

    /*
     * The credentials' own flags only when the node's view changed (or
     * one of them saw Redis fail since, which clears sh->fleet_up): a
     * poll at rest visits none.
     */

    if (sh->fleet_up != up) {
        sh->fleet_up = up;

        cred = cmcf->logins.elts;

        for (i = 0; i < cmcf->logins.nelts; i++) {
            e = cred[i]->login->entry;
            e->redis_up = up;
        }
    }

    ngx_edge_auth_store_unlock(cmcf->store);
}


/* an error answer to the node's own commands: said once until it works */

static ngx_uint_t
ngx_http_credential_fleet_node_refused(ngx_edge_auth_redis_call_t *call,
    const char *command)
{
    redisReply  *reply;

    if (call->error || call->nreplies == 0) {
        return 0;
    }

    reply = call->replies[0];

    if (reply->type != REDIS_REPLY_ERROR) {
        ngx_http_credential_fleet_poll_error = 0;
        return 0;
    }

    if (!ngx_http_credential_fleet_poll_error) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "credential store: Redis refused %s: %*s; the "
                      "fleet's new tokens reach this node by its slow sweep "
                      "or at their renewal",
                      command,
                      ngx_min(reply->len, 80), reply->str);
        ngx_http_credential_fleet_poll_error = 1;
    }

    return 1;
}


static void
ngx_http_credential_fleet_released(ngx_edge_auth_redis_call_t *call)
{
    ngx_http_credential_t *cred = call->data;

    (void) ngx_http_credential_fleet_refused(cred, call,
                                             "EVAL (lease release)", 0,
                                             ngx_cycle->log);

    ngx_edge_auth_redis_call_free(call);
}


/* SET token-key sealed-value PX remaining-lifetime; NGX_DECLINED: none */

static ngx_int_t
ngx_http_credential_fleet_store(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_edge_auth_redis_call_t *call,
    ngx_uint_t store)
{
    u_char                       *p, *plain;
    int64_t                       now, ttl;
    ngx_int_t                     rc;
    ngx_str_t                     argv[6], text;
    ngx_edge_auth_entry_t        *e;
    ngx_http_credential_login_t  *login;

    login = cred->login;
    e = login->entry;
    now = ngx_edge_auth_now();
    plain = NULL;

    ngx_edge_auth_store_lock(login->store);

    if (e->state != NGX_EDGE_AUTH_TOKEN_VALID || e->token == NULL) {
        ngx_edge_auth_store_unlock(login->store);
        return NGX_DECLINED;
    }

    ttl = e->expires - now;

    if (e->refresh_len) {
        ttl = ngx_max(ttl, NGX_HTTP_CREDENTIAL_REFRESH_KEEP);
    }

    if (ttl <= 0) {
        ngx_edge_auth_store_unlock(login->store);
        return NGX_DECLINED;
    }

    text.len = NGX_HTTP_CREDENTIAL_BLOB_HEAD + 8 + e->token_len
               + e->refresh_len;

    plain = ngx_alloc(text.len, ngx_cycle->log);
    if (plain == NULL) {
        ngx_edge_auth_store_unlock(login->store);
        return NGX_ERROR;
    }

    /* format, version, issued, expires, then each string with its length */

    p = plain;
    *p++ = NGX_HTTP_CREDENTIAL_BLOB_FORMAT;
    p = ngx_cpymem(p, e->version, NGX_EDGE_AUTH_VERSION_LEN);
    p = ngx_http_credential_put(p, (uint64_t) e->issued, 8);
    p = ngx_http_credential_put(p, (uint64_t) e->expires, 8);
    p = ngx_http_credential_put(p, e->token_len, 4);
    p = ngx_cpymem(p, e->token, e->token_len);
    p = ngx_http_credential_put(p, e->refresh_len, 4);
    ngx_memcpy(p, e->refresh, e->refresh_len);

    ngx_edge_auth_store_unlock(login->store);

    text.data = plain;
    rc = NGX_ERROR;

    argv[2].len = text.len + NGX_EDGE_AUTH_SEAL_OVERHEAD;
    argv[2].data = ngx_pnalloc(call->pool, argv[2].len);
    argv[4].data = ngx_pnalloc(call->pool, NGX_INT64_LEN);

    if (argv[2].data == NULL || argv[4].data == NULL
        || ngx_edge_auth_seal(cmcf->redis_key.seal, &login->redis_token, &text,
                              argv[2].data)
           != NGX_OK)
    {
        goto done;
    }

    ngx_str_set(&argv[0], "SET");
    argv[1] = login->redis_token;
    ngx_str_set(&argv[3], "PX");
    argv[4].len = ngx_sprintf(argv[4].data, "%L", ttl) - argv[4].data;
    ngx_str_set(&argv[5], "NX");

    rc = ngx_edge_auth_redis_command(call,
                                     store == NGX_HTTP_CREDENTIAL_STORE_NEW
                                     ? 6 : 5, argv);

done:

    ngx_explicit_memzero(plain, text.len);
    ngx_free(plain);

    return rc;
}


static ngx_int_t
ngx_http_credential_fleet_release(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_edge_auth_redis_call_t *call)
{
    ngx_str_t  argv[5];

    ngx_str_set(&argv[0], "EVAL");
    argv[1].data = (u_char *) ngx_http_credential_release_script;
    argv[1].len = sizeof(ngx_http_credential_release_script) - 1;
    ngx_str_set(&argv[2], "1");
    argv[3] = cred->login->redis_lease;
    argv[4] = cmcf->redis_owner;

    return ngx_edge_auth_redis_command(call, 5, argv);
}


/*
 * A stored token: adopted when it is newer than this node's (the later
 * issue, then the larger version: every node decides alike).  NGX_OK
 * adopted, NGX_DONE the same token, NGX_ABORT this node's is newer and
 * alive, NGX_DECLINED none usable on either side, NGX_ERROR unusable.
 */

static ngx_int_t
ngx_http_credential_fleet_apply(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, redisReply *reply, ngx_log_t *log)
{
    int                           cmp;
    u_char                       *plain;
    size_t                        len;
    int64_t                       now;
    ngx_int_t                     rc;
    ngx_str_t                     sealed;
    ngx_uint_t                    mine;
    ngx_edge_auth_entry_t        *e;
    ngx_http_credential_blob_t    blob;
    ngx_http_credential_login_t  *login;

    login = cred->login;
    e = login->entry;

    if (reply->type == REDIS_REPLY_NIL) {
        return NGX_DECLINED;
    }

    /* error answers were reported by the caller */

    if (reply->type != REDIS_REPLY_STRING) {
        if (!login->redis_bad) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "credential \"%V\": Redis answered GET with "
                          "type %d, not a string; it is not used",
                          &cred->name, reply->type);
            login->redis_bad = 1;
        }

        return NGX_ERROR;
    }

    sealed.data = (u_char *) reply->str;
    sealed.len = reply->len;

    plain = ngx_alloc(sealed.len, log);
    if (plain == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_edge_auth_unseal(cmcf->redis_key.seal, &login->redis_token,
                              &sealed, plain, &len);

    if (rc != NGX_OK
        || ngx_http_credential_blob_decode(plain, len, &blob) != NGX_OK)
    {
        if (!login->redis_bad) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "credential \"%V\": the token in Redis cannot be "
                          "opened with this node's redis_key (another key, "
                          "or a damaged value); it is not used",
                          &cred->name);
            login->redis_bad = 1;
        }

        ngx_explicit_memzero(plain, sealed.len);
        ngx_free(plain);
        return NGX_ERROR;
    }

    login->redis_bad = 0;
    now = ngx_edge_auth_now();

    ngx_edge_auth_store_lock(login->store);

    cmp = ngx_memcmp(blob.version, e->version, NGX_EDGE_AUTH_VERSION_LEN);

    mine = (e->state == NGX_EDGE_AUTH_TOKEN_VALID && e->expires > now);

    if (cmp == 0) {
        rc = NGX_DONE;

    } else if (blob.expires <= now && (mine || blob.refresh.len == 0)) {

        /* a dead token never replaces a live one */
        rc = mine ? NGX_ABORT : NGX_DECLINED;

    } else if ((e->state == NGX_EDGE_AUTH_TOKEN_NONE && e->refresh == NULL)
               || blob.issued > e->issued
               || (blob.issued == e->issued && cmp > 0))
    {
        rc = ngx_edge_auth_store_adopt(login->store, e, &blob.token,
                                       &blob.refresh, blob.expires,
                                       blob.issued, blob.version);

        if (rc == NGX_OK) {
            /* every node renews at the same moment: one of them logs in */
            e->renew = ngx_http_credential_renew_time(login, blob.issued,
                                                      blob.expires);
            e->failures = 0;
            e->backoff = 0;

            /*
             * Another node's new token counts as a renewal for refusals:
             * a path that refuses every token renews it once per
             * token_refused_interval for the fleet, not once per node.
             */
            e->refusal_next = ngx_max(e->refusal_next,
                                      blob.issued
                                      + (int64_t) login->refused_interval);
        }

    } else {
        /* ours is newer: it replaces the stored one, if it is usable */
        rc = mine ? NGX_ABORT : NGX_DECLINED;
    }

    ngx_edge_auth_store_unlock(login->store);

    ngx_explicit_memzero(plain, sealed.len);
    ngx_free(plain);

    if (rc == NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "credential \"%V\": took the token another node "
                      "stored in Redis, valid for %Ls", &cred->name,
                      (blob.expires - now) / 1000);
    }

    return rc;
}


static ngx_int_t
ngx_http_credential_blob_decode(u_char *p, size_t len,
    ngx_http_credential_blob_t *blob)
{
    u_char  *last;

    last = p + len;

    if (len < NGX_HTTP_CREDENTIAL_BLOB_HEAD + 8
        || p[0] != NGX_HTTP_CREDENTIAL_BLOB_FORMAT)
    {
        return NGX_ERROR;
    }

    p++;
    ngx_memcpy(blob->version, p, NGX_EDGE_AUTH_VERSION_LEN);
    p += NGX_EDGE_AUTH_VERSION_LEN;

    blob->issued = (int64_t) ngx_http_credential_get(p, 8);
    blob->expires = (int64_t) ngx_http_credential_get(p + 8, 8);
    p += 16;

    blob->token.len = ngx_http_credential_get(p, 4);
    p += 4;

    if (blob->token.len == 0 || blob->token.len > NGX_EDGE_AUTH_TOKEN_MAX
        || (size_t) (last - p) < blob->token.len + 4)
    {
        return NGX_ERROR;
    }

    blob->token.data = p;
    p += blob->token.len;

    blob->refresh.len = ngx_http_credential_get(p, 4);
    p += 4;

    if (blob->refresh.len > NGX_EDGE_AUTH_TOKEN_MAX
        || (size_t) (last - p) != blob->refresh.len)
    {
        return NGX_ERROR;
    }

    blob->refresh.data = p;

    return NGX_OK;
}


/* integers in the sealed value: n bytes, big-endian */

static u_char *
ngx_http_credential_put(u_char *p, uint64_t v, ngx_uint_t n)
{
    ngx_uint_t  i;

    for (i = n; i--; /* void */) {
        p[i] = (u_char) v;
        v >>= 8;
    }

    return p + n;
}


static uint64_t
ngx_http_credential_get(u_char *p, ngx_uint_t n)
{
    uint64_t    v;
    ngx_uint_t  i;

    v = 0;

    for (i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }

    return v;
}
