
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Tokens in nginx shared memory, shared by every worker and kept across
 * reloads.  One entry per token credential, found by a fingerprint of
 * everything that identifies the token (name, login URL and request, the
 * secrets in it), so a reload with the same configuration finds its token
 * again and a changed client secret starts afresh.
 *
 * Every field is written under the slab mutex.  Requests read only
 * "generation" without the lock; when it moved they take the lock once
 * to copy the token into their worker.
 */


#ifndef _NGX_EDGE_AUTH_STORE_H_INCLUDED_
#define _NGX_EDGE_AUTH_STORE_H_INCLUDED_


#include "ngx_edge_auth.h"


#define NGX_EDGE_AUTH_KEY_LEN     20
#define NGX_EDGE_AUTH_TOKEN_MAX   8192
/* names one issued token across nodes */
#define NGX_EDGE_AUTH_VERSION_LEN 16
/* the last changed entries the zone remembers (sh->changed) */
#define NGX_EDGE_AUTH_STORE_CHANGED  256


typedef enum {
    NGX_EDGE_AUTH_TOKEN_NONE = 0,
    NGX_EDGE_AUTH_TOKEN_VALID,
    NGX_EDGE_AUTH_TOKEN_INVALID,   /* unused: a refused token stays valid */
    /* no token and nothing to renew with: an operator must connect again */
    NGX_EDGE_AUTH_TOKEN_NEEDS_AUTH
} ngx_edge_auth_token_state_e;


/*
 * Counters of an entry (credential_status): only ever added to, with
 * ngx_atomic_fetch_add() and no lock, so the request path pays one
 * atomic add; kept across reloads with the entry.
 */

typedef enum {
    NGX_EDGE_AUTH_STAT_INJECTED = 0,
    NGX_EDGE_AUTH_STAT_LOGIN_OK,
    NGX_EDGE_AUTH_STAT_LOGIN_CONNECT,     /* resolve, connect, send, read */
    NGX_EDGE_AUTH_STAT_LOGIN_TIMEOUT,
    NGX_EDGE_AUTH_STAT_LOGIN_TLS,
    NGX_EDGE_AUTH_STAT_LOGIN_STATUS,      /* an answer that is not 2xx */
    NGX_EDGE_AUTH_STAT_LOGIN_PARSE,       /* no usable token in the answer */
    NGX_EDGE_AUTH_STAT_LOGIN_REFUSED,     /* the refresh token refused */
    NGX_EDGE_AUTH_STAT_LOGIN_OTHER,       /* out of memory, zone full */
    NGX_EDGE_AUTH_STAT_REFRESH_OK,
    NGX_EDGE_AUTH_STAT_REFRESH_FAILED,
    NGX_EDGE_AUTH_STAT_UPSTREAM_REFUSED,  /* any token_refused_status */
    NGX_EDGE_AUTH_STAT_RENEW_REFUSED,     /* the refusals that renewed */
    NGX_EDGE_AUTH_STAT_UNAVAILABLE,       /* 503 credential-unavailable */
    NGX_EDGE_AUTH_STAT_NEEDS_AUTH,        /* 503 ...-needs-authorization */
    NGX_EDGE_AUTH_STAT_ANSWER_RETRY,
    NGX_EDGE_AUTH_STAT_ANSWER_EXHAUSTED,
    NGX_EDGE_AUTH_STAT_ANSWER_FAIL,
    NGX_EDGE_AUTH_STAT_LEASE_BUSY,        /* the fleet's lease held elsewhere */
    NGX_EDGE_AUTH_STAT_N
} ngx_edge_auth_stat_e;


typedef struct {
    ngx_queue_t                  queue;
    u_char                       key[NGX_EDGE_AUTH_KEY_LEN];

    /* the newest configuration (store generation) that wants the entry */
    ngx_uint_t                   used;

    ngx_atomic_t                 stats[NGX_EDGE_AUTH_STAT_N];
    /* milliseconds, epoch; written under the lock */
    int64_t                      last_login;
    int64_t                      last_refresh;
    int64_t                      last_sync;    /* Redis answered a look */
    ngx_atomic_t                 redis_up;     /* Redis's last answer usable */
    ngx_atomic_t                 lease_broken; /* said once for the node */

    ngx_atomic_t                 generation;   /* moves with every change */
    ngx_atomic_t                 last_used;    /* seconds, for idle expiry */

    ngx_uint_t                   state;
    int64_t                      expires;      /* milliseconds, epoch */
    int64_t                      issued;
    int64_t                      renew;        /* log in again from here */
    int64_t                      backoff;      /* no login before this */

    ngx_pid_t                    lock_owner;   /* a login in flight */
    int64_t                      lock_deadline;

    ngx_uint_t                   failures;     /* in the current streak */

    /* an upstream refused generation "refused"; no renewal for it before */
    ngx_atomic_uint_t            refused;
    int64_t                      refusal_next;
    ngx_uint_t                   logins;

    /* authorization-code flow: issue time of the newest state accepted */
    int64_t                      state_used;

    size_t                       token_len;
    u_char                      *token;
    size_t                       refresh_len;
    u_char                      *refresh;

    /* the fleet (Redis) */
    u_char                       version[NGX_EDGE_AUTH_VERSION_LEN];
    int64_t                      synced;       /* last look at Redis */
    ngx_uint_t                   looked;       /* a look was answered */
} ngx_edge_auth_entry_t;


/*
 * A worker of a generation, alive while its pid is: an entry that the
 * newest configuration does not want is freed once no worker of a
 * generation that may still use it is alive.
 */

typedef struct {
    ngx_queue_t                  queue;
    ngx_pid_t                    pid;
    ngx_uint_t                   gen;
} ngx_edge_auth_worker_t;


/*
 * A login host's connections (login_concurrency), counted for the node:
 * a slot is held by a process until its deadline; a slot whose owner died
 * or whose deadline passed is free again.
 */

typedef struct {
    ngx_pid_t                    pid;
    int64_t                      deadline;
} ngx_edge_auth_slot_t;


typedef struct {
    ngx_queue_t                  queue;
    ngx_uint_t                   cap;
    ngx_uint_t                   nslots;       /* >= cap: a reload lowered it */
    ngx_edge_auth_slot_t        *slots;
    /* until then a worker's request waits for a slot: others do not chain */
    int64_t                      urgent;
    size_t                       len;
    u_char                       name[1];      /* host:port */
} ngx_edge_auth_host_t;


typedef struct {
    ngx_queue_t                  entries;
    /* the node's workers share one outage: one log line, not one each */
    ngx_atomic_t                 redis_down;

    ngx_uint_t                   gen;          /* of the newest config */
    ngx_queue_t                  workers;      /* ngx_edge_auth_worker_t */
    /* a worker could not be recorded: no entry of its gen or newer goes */
    ngx_uint_t                   floor;

    /* the fleet (Redis): the node's look at the fleet's change counter */
    int64_t                      fleet_polled; /* ms; one worker a tick */
    int64_t                      fleet_seen;   /* counter; -1 unknown */
    /*
     * fleet_seen before the changes whose tokens the poller reads now: a
     * poller that dies before the answers come leaves them to the next
     * one (-1: none)
     */
    int64_t                      fleet_fetch;
    ngx_uint_t                   fleet_lost;   /* a poll failed */
    ngx_uint_t                   fleet_polls;
    ngx_uint_t                   fleet_sweep;  /* the sweep's next one */

    ngx_queue_t                  hosts;        /* ngx_edge_auth_host_t */
    /* a token could not be stored; said at error once per streak */
    ngx_atomic_t                 full;

    /*
     * The node's view of Redis at its last poll, for every credential:
     * up, and when it last answered (ms).  An entry's own redis_up and
     * last_sync are its own reads.
     */
    ngx_atomic_t                 fleet_up;
    int64_t                      fleet_synced;

    /*
     * The entries whose token changed last, by any process and any way
     * (a login, a token from Redis): the worker that schedules one looks
     * at it again.  "changes" counts them; the ring holds the last ones.
     */
    ngx_atomic_t                 changes;
    ngx_edge_auth_entry_t       *changed[NGX_EDGE_AUTH_STORE_CHANGED];

    /*
     * The one worker of the node that polls the fleet and looks at the
     * changed entries: its pid, its configuration, and until when (ms)
     * it holds the poll without renewing it.  The others sleep.
     */
    ngx_pid_t                    fleet_poller;
    ngx_uint_t                   fleet_poller_gen;
    int64_t                      fleet_poller_until;
} ngx_edge_auth_store_sh_t;


typedef struct {
    u_char                       key[NGX_EDGE_AUTH_KEY_LEN];
    ngx_edge_auth_entry_t      **entry;
} ngx_edge_auth_want_t;


typedef struct {
    ngx_str_t                    name;
    ngx_uint_t                   cap;
    ngx_edge_auth_host_t       **host;
} ngx_edge_auth_host_want_t;


/* the slab's size classes up to half a page (8 bytes to 2k) */
#define NGX_EDGE_AUTH_STORE_CLASSES  12

typedef struct {
    ngx_edge_auth_store_sh_t    *sh;
    ngx_slab_pool_t             *shpool;
    ngx_str_t                    name;
    ngx_uint_t                   gen;          /* this configuration's */
    ngx_array_t                  wanted;       /* ngx_edge_auth_want_t */
    ngx_array_t                  hosts;        /* ngx_edge_auth_host_want_t */
    size_t                       size;

    /* what the configured credentials may take: chunks and pages */
    ngx_uint_t                   chunks[NGX_EDGE_AUTH_STORE_CLASSES];
    ngx_uint_t                   pages;
} ngx_edge_auth_store_t;


/* what a worker copied out of an entry */

typedef struct {
    ngx_atomic_uint_t            generation;
    ngx_uint_t                   valid;
    int64_t                      expires;
    int64_t                      issued;
    ngx_str_t                    token;
} ngx_edge_auth_token_t;


ngx_edge_auth_store_t *ngx_edge_auth_store_add(ngx_conf_t *cf,
    ngx_str_t *name, size_t size, void *tag);
/* *entry is set when the zone is initialized */
ngx_int_t ngx_edge_auth_store_want(ngx_conf_t *cf,
    ngx_edge_auth_store_t *store, u_char *key, ngx_edge_auth_entry_t **entry);

/*
 * A worker (init_process) records itself with its configuration's
 * generation, and removes itself at exit_process; a worker that dies
 * without is found by its pid.
 */
ngx_int_t ngx_edge_auth_store_attach(ngx_edge_auth_store_t *store,
    ngx_log_t *log);
void ngx_edge_auth_store_detach(ngx_edge_auth_store_t *store);

/*
 * A login host (host:port) whose logins the node runs at most cap at a
 * time; *host is set when the zone is initialized.
 */
ngx_int_t ngx_edge_auth_store_want_host(ngx_conf_t *cf,
    ngx_edge_auth_store_t *store, ngx_str_t *name, ngx_uint_t cap,
    ngx_edge_auth_host_t **host);

/*
 * Sizing: a value of len bytes that the zone may have to hold, counted
 * as the slab allocates it; need() is the zone size that holds every
 * entry, host and value counted, with the slab's own structures.
 */
void ngx_edge_auth_store_reserve(ngx_edge_auth_store_t *store, size_t len);
size_t ngx_edge_auth_store_need(ngx_edge_auth_store_t *store);
/* what a value of len bytes takes in the zone */
size_t ngx_edge_auth_store_chunk(size_t len);

void ngx_edge_auth_store_lock(ngx_edge_auth_store_t *store);
void ngx_edge_auth_store_unlock(ngx_edge_auth_store_t *store);

/* under the lock */
ngx_int_t ngx_edge_auth_store_set_token(ngx_edge_auth_store_t *store,
    ngx_edge_auth_entry_t *e, ngx_str_t *token, ngx_str_t *refresh,
    int64_t expires);

/*
 * Under the lock: a new refresh token alone, the access token kept (an
 * answer whose access token was refused); a new version, so that the
 * fleet takes it.
 */
ngx_int_t ngx_edge_auth_store_set_refresh(ngx_edge_auth_store_t *store,
    ngx_edge_auth_entry_t *e, ngx_str_t *refresh);

/*
 * Under the lock: a token another node obtained, with its issue time and
 * version; set_token() makes a new version.
 */
ngx_int_t ngx_edge_auth_store_adopt(ngx_edge_auth_store_t *store,
    ngx_edge_auth_entry_t *e, ngx_str_t *token, ngx_str_t *refresh,
    int64_t expires, int64_t issued, u_char *version);

/*
 * The entries whose token changed since *seen (the caller's count, moved
 * on): NGX_OK and up to NGX_EDGE_AUTH_STORE_CHANGED of them in changed[]
 * (*n), NGX_DECLINED when more changed than the zone remembers (look at
 * every one).  Without the lock; the lock is taken only when the count
 * moved.
 */
ngx_int_t ngx_edge_auth_store_changes(ngx_edge_auth_store_t *store,
    ngx_atomic_uint_t *seen, ngx_edge_auth_entry_t **changed, ngx_uint_t *n);

/*
 * Under the lock: the node's login lock (owner pid and deadline), taken
 * unless a live process holds it within its deadline; *owner is the
 * previous owner.  Released only by its owner.
 */
ngx_uint_t ngx_edge_auth_store_login_lock(ngx_edge_auth_entry_t *e,
    int64_t now, int64_t deadline, ngx_pid_t *owner);
void ngx_edge_auth_store_login_unlock(ngx_edge_auth_entry_t *e);

/*
 * Under the lock: one of the host's cap slots for this process until the
 * deadline (a slot's index), or NGX_DECLINED when all are held.
 */
ngx_int_t ngx_edge_auth_store_slot_take(ngx_edge_auth_host_t *host,
    int64_t now, int64_t deadline);
/* under the lock: the slot back, if this process holds it */
void ngx_edge_auth_store_slot_free(ngx_edge_auth_host_t *host,
    ngx_int_t slot);

/* under the lock: forgets a refresh token that the partner refused */
void ngx_edge_auth_store_drop_refresh(ngx_edge_auth_store_t *store,
    ngx_edge_auth_entry_t *e);

/*
 * Under the lock: drops the token and the refresh token; requests get
 * "credential-needs-authorization" and the renewal timer leaves the entry
 * alone until a token is set again.
 */
void ngx_edge_auth_store_needs_auth(ngx_edge_auth_store_t *store,
    ngx_edge_auth_entry_t *e);

/*
 * An upstream refused the token of that generation: compare-and-renew.
 * The token stays in use.  NGX_OK: it is due for renewal now, and no
 * refusal renews again within "interval"; NGX_DONE: a refusal made it due
 * already; NGX_BUSY: a refusal renewed within the interval, nothing done;
 * NGX_DECLINED: it is not the current token any more.
 */
ngx_int_t ngx_edge_auth_store_refused(ngx_edge_auth_store_t *store,
    ngx_edge_auth_entry_t *e, ngx_atomic_uint_t generation, int64_t now,
    ngx_msec_t interval);

/*
 * Copies the entry into *copy (reusing its buffer) if the generation
 * moved; returns NGX_ERROR only when out of memory.
 */
ngx_int_t ngx_edge_auth_store_read(ngx_edge_auth_store_t *store,
    ngx_edge_auth_entry_t *e, ngx_edge_auth_token_t *copy, ngx_log_t *log);

int64_t ngx_edge_auth_now(void);

#define ngx_edge_auth_store_count(e, stat)                                  \
    (void) ngx_atomic_fetch_add(&(e)->stats[stat], 1)


#endif /* _NGX_EDGE_AUTH_STORE_H_INCLUDED_ */
