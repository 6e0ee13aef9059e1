
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The renewal state machine: every way to a token goes through it.
 *
 *   due          a missing, invalid, expiring or idle token, past backoff
 *   node lock    one login per token and host (shared memory, owner and
 *                deadline: a killed worker cannot hold it)
 *   host slot    at most login_concurrency logins per login host and node
 *                (shared memory, owner and deadline); none free: wait in
 *                this worker's queue of the host
 *   fleet lease  one login per token and fleet (Redis, through the fleet
 *                adapter, which answers through a pointer)
 *   login        or refresh with the refresh token; a code exchange of
 *                the authorization-code flow enters here with the lock
 *   finish       store the token, keep the failure streak, give the node
 *                lock back, publish the token and give the lease back
 *
 * Every credential has a cancelable timer, armed in the one worker that
 * looks after it for when something is next due: an idle credential costs
 * nothing.  Failures back off exponentially with jitter; the token in use
 * stays in use until its expiry less token_expiry_margin.
 */


#include "ngx_http_credential_renew.h"
#include "ngx_http_credential_fleet.h"
#include "ngx_http_credential_login.h"
#include "ngx_edge_auth_http.h"
#include "ngx_edge_auth_store.h"


#define NGX_HTTP_CREDENTIAL_TICK   1000

/* a credential with nothing due is looked at again after this anyway */
#define NGX_HTTP_CREDENTIAL_LOOK_MAX    600000

/* a credential that waits for a login slot tries again after this */
#define NGX_HTTP_CREDENTIAL_SLOT_RETRY  100

/* ... and one that a request waits for, sooner */
#define NGX_HTTP_CREDENTIAL_SLOT_URGENT  20


static const char  ngx_http_credential_zone_full[] =
    "the credential store zone is full";


static void ngx_http_credential_renew_at(ngx_http_credential_t *cred,
    ngx_msec_t delay);
static void ngx_http_credential_renew_handler(ngx_event_t *ev);
static void ngx_http_credential_look(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_log_t *log);
static void ngx_http_credential_wait(ngx_http_credential_t *cred);
static void ngx_http_credential_renew_retry(ngx_event_t *ev);
static ngx_int_t ngx_http_credential_check(
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_log_t *log, int64_t *next);
static int64_t ngx_http_credential_next_look(
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_login_t *login,
    int64_t now);
static void ngx_http_credential_renew_release(ngx_http_credential_t *cred);
static void ngx_http_credential_zone_full_log(ngx_http_credential_t *cred,
    ngx_edge_auth_http_t *hc, ngx_http_credential_renewal_t *rn);
static int ngx_libc_cdecl ngx_http_credential_host_cmp(const void *one,
    const void *two);
static ngx_int_t ngx_http_credential_host_key(ngx_conf_t *cf,
    ngx_edge_auth_url_t *url, ngx_str_t *key);
static void ngx_http_credential_unconnected(ngx_http_credential_t *cred,
    int64_t now, ngx_log_t *log);
static ngx_uint_t ngx_http_credential_due(ngx_http_credential_login_t *login,
    int64_t now);
static void ngx_http_credential_renew_leased(ngx_http_credential_t *cred,
    ngx_int_t rc);
static void ngx_http_credential_renew_changed(ngx_http_credential_t *cred);
static void ngx_http_credential_renew_alone(
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_log_t *log);
static void ngx_http_credential_login_now(
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_log_t *log);
static void ngx_http_credential_login_start(
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_str_t *refresh, ngx_log_t *log);
static void ngx_http_credential_login_done(ngx_edge_auth_http_t *hc);
static int64_t ngx_http_credential_backoff(ngx_http_credential_login_t *login,
    ngx_uint_t failures, ngx_edge_auth_http_t *hc);
static void ngx_http_credential_renew_count(ngx_edge_auth_entry_t *e,
    ngx_edge_auth_http_t *hc, ngx_http_credential_renewal_t *rn,
    ngx_uint_t status, ngx_uint_t parsed);


ngx_int_t
ngx_http_credential_renew_init(ngx_cycle_t *cycle)
{
    ngx_uint_t                        i, workers;
    ngx_event_t                      *ev;
    ngx_core_conf_t                  *ccf;
    ngx_http_credential_t           **cred;
    ngx_http_credential_host_t      **host;
    ngx_http_credential_login_t      *login;
    ngx_http_credential_main_conf_t  *cmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    if (cycle->conf_ctx[ngx_http_module.index] == NULL) {
        return NGX_OK;
    }

    cmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_credential_module);

    if (cmcf == NULL || cmcf->logins.nelts == 0) {
        return NGX_OK;
    }

    ev = ngx_pcalloc(cycle->pool, cmcf->logins.nelts * sizeof(ngx_event_t));
    if (ev == NULL) {
        return NGX_ERROR;
    }

    host = cmcf->hosts.elts;

    for (i = 0; i < cmcf->hosts.nelts; i++) {
        ngx_queue_init(&host[i]->waiting);

        host[i]->retry.handler = ngx_http_credential_renew_retry;
        host[i]->retry.data = host[i];
        host[i]->retry.log = cycle->log;
        host[i]->retry.cancelable = 1;
    }

    /*
     * Each credential is scheduled by one worker of the node, so that the
     * idle cost does not grow with the workers: its timer fires when
     * something is due for it, and no sooner.  Another worker looks at it
     * only for a request of its own (a token refused, a request waiting).
     */

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    workers = (ngx_process == NGX_PROCESS_WORKER && ccf->worker_processes > 0)
              ? (ngx_uint_t) ccf->worker_processes : 1;

    cred = cmcf->logins.elts;

    for (i = 0; i < cmcf->logins.nelts; i++) {
        login = cred[i]->login;

        login->ev = &ev[i];
        login->slot = NGX_DECLINED;
        login->scheduled = (i % workers == (ngx_uint_t) ngx_worker % workers);

        ev[i].handler = ngx_http_credential_renew_handler;
        ev[i].data = cred[i];
        ev[i].log = cycle->log;

        /* a pending look must not keep a worker from shutting down */
        ev[i].cancelable = 1;

        /* the first login at start-up, before traffic needs it */
        if (login->scheduled) {
            ngx_add_timer(&ev[i], 1);
        }
    }

    cmcf->timer = ev;

    if (ngx_http_credential_fleet_init(cycle, cmcf,
                                       ngx_http_credential_renew_leased,
                                       ngx_http_credential_renew_changed)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_credential_renew_exit(ngx_cycle_t *cycle)
{
    ngx_uint_t                        i;
    ngx_http_credential_t           **cred;
    ngx_http_credential_main_conf_t  *cmcf;

    if (cycle->conf_ctx[ngx_http_module.index] == NULL) {
        return;
    }

    cmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_credential_module);

    if (cmcf == NULL) {
        return;
    }

    ngx_http_credential_fleet_exit(cmcf);

    cred = cmcf->logins.elts;

    for (i = 0; i < cmcf->logins.nelts; i++) {
        if (cred[i]->login->inflight == NULL) {
            continue;
        }

        ngx_edge_auth_http_abort(cred[i]->login->inflight);
        cred[i]->login->inflight = NULL;

        /* the others need not wait for this lock and slot to time out */
        ngx_http_credential_renew_unlock(cred[i]);
    }
}


/*
 * A request asks for a look now: it waits for a token, or the upstream
 * refused the one it carried.  One waiting for a login slot goes first.
 */

void
ngx_http_credential_renew_soon(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred)
{
    ngx_http_credential_login_t  *login;

    if (cmcf->timer == NULL || ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    login = cred->login;
    login->urgent = 1;

    if (login->waiting) {
        ngx_queue_remove(&login->queue);
        ngx_queue_insert_head(&login->slot_host->waiting, &login->queue);
        ngx_post_event(&login->slot_host->retry, &ngx_posted_events);
        return;
    }

    ngx_http_credential_renew_at(cred, 1);
}


static void
ngx_http_credential_renew_at(ngx_http_credential_t *cred, ngx_msec_t delay)
{
    ngx_event_t  *ev;

    ev = cred->login->ev;

    if (ev == NULL || ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (ev->timer_set) {
        ngx_del_timer(ev);
    }

    ngx_add_timer(ev, delay);
}


static void
ngx_http_credential_renew_handler(ngx_event_t *ev)
{
    ngx_http_credential_t  *cred = ev->data;

    ngx_http_credential_main_conf_t  *cmcf;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    /* a credential waiting for a slot is the retry's (below) */

    if (cred->login->waiting) {
        return;
    }

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_credential_module);

    ngx_http_credential_look(cmcf, cred, ev->log);
}


static void
ngx_http_credential_look(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_log_t *log)
{
    int64_t                       next, now;
    ngx_int_t                     rc;
    ngx_http_credential_login_t  *login;

    login = cred->login;

    rc = ngx_http_credential_check(cmcf, cred, log, &next);

    if (rc == NGX_BUSY) {
        ngx_http_credential_wait(cred);
        return;
    }

    login->urgent = 0;

    /* NGX_AGAIN: a login or a lease is in flight; its end looks again */

    if (rc != NGX_OK) {
        return;
    }

    now = ngx_edge_auth_now();

    /*
     * A login of this worker's (a refused token, a waiting request) that
     * failed: the scheduling worker's timer does not know, and may not
     * fire for minutes.  The retry after the backoff is this worker's.
     */

    if (!login->scheduled && login->entry->backoff <= now) {
        return;
    }

    next = ngx_min(ngx_max(next - now, 1), NGX_HTTP_CREDENTIAL_LOOK_MAX);

    ngx_http_credential_renew_at(cred, (ngx_msec_t) next);
}


/*
 * No slot for the credential's login host: it waits in this worker's
 * queue for the host, tried again when this worker gives a slot of the
 * host back, and every NGX_HTTP_CREDENTIAL_SLOT_RETRY for the slots the
 * others give back.  One waiting for a request goes first.
 */

static void
ngx_http_credential_wait(ngx_http_credential_t *cred)
{
    ngx_http_credential_host_t   *host;
    ngx_http_credential_login_t  *login;

    login = cred->login;
    host = login->slot_host;

    if (!login->waiting) {
        if (login->urgent) {
            ngx_queue_insert_head(&host->waiting, &login->queue);

        } else {
            ngx_queue_insert_tail(&host->waiting, &login->queue);
        }

        login->waiting = 1;
    }

    if (login->ev->timer_set) {
        ngx_del_timer(login->ev);
    }

    if (login->urgent) {
        /* the retry says so to the other workers, and comes sooner */
        ngx_post_event(&host->retry, &ngx_posted_events);

    } else if (!host->retry.timer_set) {
        ngx_add_timer(&host->retry, NGX_HTTP_CREDENTIAL_SLOT_RETRY);
    }
}


static void
ngx_http_credential_renew_retry(ngx_event_t *ev)
{
    ngx_http_credential_host_t *host = ev->data;

    int64_t                           next, now;
    ngx_int_t                         rc;
    ngx_queue_t                      *q;
    ngx_http_credential_t            *cred;
    ngx_http_credential_login_t      *login;
    ngx_http_credential_main_conf_t  *cmcf;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_credential_module);

    while (!ngx_queue_empty(&host->waiting)) {
        q = ngx_queue_head(&host->waiting);
        login = ngx_queue_data(q, ngx_http_credential_login_t, queue);
        cred = login->ev->data;

        ngx_queue_remove(q);
        login->waiting = 0;

        rc = ngx_http_credential_check(cmcf, cred, ev->log, &next);

        if (rc == NGX_BUSY && login->slot_host == host) {
            /* still none: it stays first */
            ngx_queue_insert_head(&host->waiting, q);
            login->waiting = 1;
            break;
        }

        if (rc == NGX_BUSY) {
            /* its refresh token went: another host now */
            ngx_http_credential_wait(cred);
            continue;
        }

        login->urgent = 0;

        if (rc == NGX_OK && login->scheduled) {
            /* not due any more (another worker renewed it), or locked */
            now = ngx_edge_auth_now();
            next = ngx_min(ngx_max(next - now, 1),
                           NGX_HTTP_CREDENTIAL_LOOK_MAX);
            ngx_http_credential_renew_at(cred, (ngx_msec_t) next);
        }
    }

    if (ngx_queue_empty(&host->waiting)) {
        return;
    }

    /*
     * A request waits for the first: the workers that give slots of the
     * host back leave them for a while rather than start their own next
     * login (see ngx_http_credential_renew_release()).
     */

    login = ngx_queue_data(ngx_queue_head(&host->waiting),
                           ngx_http_credential_login_t, queue);

    if (login->urgent) {
        host->sh->urgent = ngx_edge_auth_now()
                           + 3 * NGX_HTTP_CREDENTIAL_SLOT_URGENT;

        if (ev->timer_set) {
            ngx_del_timer(ev);
        }

        ngx_add_timer(ev, NGX_HTTP_CREDENTIAL_SLOT_URGENT);

    } else if (!ev->timer_set) {
        ngx_add_timer(ev, NGX_HTTP_CREDENTIAL_SLOT_RETRY);
    }
}


/*
 * A look at one credential: NGX_OK with the time of the next look,
 * NGX_BUSY when it is due but its login host has no slot free
 * (login_concurrency), NGX_AGAIN when a login or a lease is in flight.
 */

static ngx_int_t
ngx_http_credential_check(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_log_t *log, int64_t *next)
{
    int64_t                       now;
    ngx_int_t                     slot;
    ngx_uint_t                    sync;
    ngx_pid_t                     owner;
    ngx_edge_auth_entry_t        *e;
    ngx_http_credential_host_t   *host;
    ngx_http_credential_login_t  *login;

    login = cred->login;
    e = login->entry;
    now = ngx_edge_auth_now();

    if (login->inflight) {
        return NGX_AGAIN;
    }

    if (login->redis_busy) {
        *next = now + NGX_HTTP_CREDENTIAL_TICK;
        return NGX_OK;
    }

    ngx_edge_auth_store_lock(login->store);

    /*
     * Only an operator's connect step helps, here or on another node of
     * the fleet: no login, no loop.
     */

    if (e->state == NGX_EDGE_AUTH_TOKEN_NEEDS_AUTH) {
        goto sync;
    }

    if (login->oauth && e->refresh_len == 0) {

        /* a node that starts looks at the fleet's token first */

        if (login->fleet && !e->looked
            && ngx_http_credential_fleet_usable(cmcf))
        {
            goto sync;
        }

        *next = ngx_http_credential_next_look(cmcf, login, now);

        ngx_http_credential_unconnected(cred, now, log);
        return NGX_OK;
    }

    if (!ngx_http_credential_due(login, now) || now < e->backoff) {
        goto sync;
    }

    if (!ngx_http_credential_renew_lock(cred, now, &owner)) {

        /* another process logs in: its end looks again, this a fallback */

        ngx_edge_auth_store_unlock(login->store);

        *next = now + NGX_HTTP_CREDENTIAL_TICK;
        return NGX_OK;
    }

    /* login_concurrency: a slot of the host this login goes to */

    host = (login->refresh_url.text.len && e->refresh_len)
           ? login->refresh_host : login->host;

    login->slot_host = host;

    slot = ngx_edge_auth_store_slot_take(host->sh, now, e->lock_deadline);

    if (slot == NGX_DECLINED) {
        ngx_edge_auth_store_login_unlock(e);
        ngx_edge_auth_store_unlock(login->store);
        return NGX_BUSY;
    }

    login->slot = slot;

    ngx_edge_auth_store_unlock(login->store);

    if (owner && owner != ngx_pid) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "credential \"%V\": took over the login lock of "
                      "process %P", &cred->name, owner);
    }

    /* the fleet's lease first, for as long as this node's lock */

    if (ngx_http_credential_fleet_lease(cmcf, cred,
                                        (ngx_msec_t) (e->lock_deadline - now))
        == NGX_OK)
    {
        /* the answer comes to ngx_http_credential_renew_leased() */
        return NGX_AGAIN;
    }

    ngx_http_credential_renew_alone(cmcf, cred, log);

    return NGX_AGAIN;

sync:

    /* one worker per node and tick looks at the fleet's token */

    sync = 0;

    if (cmcf->redis && now - e->synced >= NGX_HTTP_CREDENTIAL_TICK / 2) {
        e->synced = now;
        sync = 1;
    }

    *next = ngx_http_credential_next_look(cmcf, login, now);

    ngx_edge_auth_store_unlock(login->store);

    if (sync) {
        ngx_http_credential_fleet_sync(cmcf, cred);
    }

    return NGX_OK;
}


/*
 * Under the lock: when something may be due for the credential next.  A
 * look that finds nothing due costs little; one that comes late delays a
 * renewal, so the change that makes a credential due sooner (a refused
 * token, a waiting request) asks for a look itself.
 */

static int64_t
ngx_http_credential_next_look(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_login_t *login, int64_t now)
{
    int64_t                 next, idle;
    ngx_edge_auth_entry_t  *e;

    e = login->entry;

    if (e->state == NGX_EDGE_AUTH_TOKEN_NEEDS_AUTH
        || (login->oauth && e->refresh_len == 0
            && e->state != NGX_EDGE_AUTH_TOKEN_VALID))
    {
        /* an operator's connect step, in any worker */
        next = now + NGX_HTTP_CREDENTIAL_TICK;

    } else if (login->oauth && e->refresh_len == 0) {
        /* a grant without a refresh token ends: needs an operator then */
        next = ngx_http_credential_usable_end(login, e->issued, e->expires);

    } else if (e->state == NGX_EDGE_AUTH_TOKEN_VALID) {
        next = e->renew;

        if (login->idle_timeout && !login->fleet) {
            idle = (int64_t) e->last_used * 1000 + login->idle_timeout
                   - (int64_t) ngx_min(login->renew_before,
                                       login->idle_timeout / 2);
            next = ngx_min(next, idle);
        }

        next = ngx_max(next, e->backoff);

    } else {
        next = ngx_max(now, e->backoff);
    }

    /*
     * A token that another node (through the change log) or another
     * worker (a login, a code exchange) stores moves the renewal: with a
     * fleet the zone names it, and the scheduling worker looks at that
     * one again (ngx_http_credential_renew_changed()); no credential is
     * looked at every tick for it.
     */

    return ngx_max(next, now);
}


/*
 * The credential's token changed in another process or came from Redis
 * (once a poll period, see ngx_http_credential_fleet_hold()): the node's
 * poller looks at it again, which arms its timer for the new renewal, and
 * schedules it from then on; the worker that scheduled it keeps its own
 * timer, which at worst fires early and looks again.  One waiting for a
 * login slot, or logging in, is looked at by the end of that.
 */

static void
ngx_http_credential_renew_changed(ngx_http_credential_t *cred)
{
    ngx_http_credential_login_t  *login;

    login = cred->login;

    if (login->ev == NULL) {
        return;
    }

    login->scheduled = 1;

    if (login->waiting || login->inflight) {
        return;
    }

    ngx_http_credential_renew_at(cred, 1);
}


/*
 * The fleet's answer to a lease (see ngx_http_credential_fleet_lease()),
 * with this node's login lock held.
 */

static void
ngx_http_credential_renew_leased(ngx_http_credential_t *cred, ngx_int_t rc)
{
    int64_t                           now;
    ngx_log_t                        *log;
    ngx_uint_t                        due;
    ngx_http_credential_login_t      *login;
    ngx_http_credential_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_credential_module);
    login = cred->login;
    log = ngx_cycle->log;

    if (rc == NGX_ABORT) {
        ngx_http_credential_renew_unlock(cred);
        return;
    }

    if (rc == NGX_DECLINED) {
        ngx_http_credential_renew_alone(cmcf, cred, log);
        return;
    }

    /* a token another node stored may have made it not due any more */

    now = ngx_edge_auth_now();

    ngx_edge_auth_store_lock(login->store);
    due = ngx_http_credential_due(login, now);
    ngx_edge_auth_store_unlock(login->store);

    if (rc == NGX_OK && due) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                       "credential \"%V\": took the fleet's lease",
                       &cred->name);

        ngx_http_credential_login_now(cmcf, cred, log);
        return;
    }

    /* a fresher token was there, or another node logs in */
    ngx_http_credential_renew_cancel(cmcf, cred);

    if (rc == NGX_OK) {
        return;
    }

    /* another node logs in; its token is taken at a next tick */

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "credential \"%V\": another node holds the lease%s",
                   &cred->name, due ? "" : ", its token adopted");
}


/*
 * With the node's login lock but without the fleet's lease (no Redis, or
 * Redis refusing): this node renews alone, but for a grant of the
 * authorization-code flow whose access token lives: with rotating
 * refresh tokens two nodes renewing alone would burn the grant for all.
 * That one gives the node's lock back and waits for Redis.
 */

static void
ngx_http_credential_renew_alone(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_log_t *log)
{
    ngx_uint_t                    alive;
    ngx_edge_auth_entry_t        *e;
    ngx_http_credential_login_t  *login;

    login = cred->login;
    e = login->entry;

    if (login->fleet && login->oauth) {
        ngx_edge_auth_store_lock(login->store);

        alive = (e->state == NGX_EDGE_AUTH_TOKEN_VALID
                 && ngx_edge_auth_now()
                    < ngx_http_credential_usable_end(login, e->issued,
                                                     e->expires));

        if (alive) {
            ngx_http_credential_renew_release(cred);
        }

        ngx_edge_auth_store_unlock(login->store);

        if (alive) {
            ngx_http_credential_renew_at(cred, NGX_HTTP_CREDENTIAL_TICK);
            return;
        }
    }

    ngx_http_credential_login_now(cmcf, cred, log);
}


static void
ngx_http_credential_login_now(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_log_t *log)
{
    ngx_str_t                     refresh;
    ngx_edge_auth_entry_t        *e;
    ngx_http_credential_login_t  *login;

    login = cred->login;
    e = login->entry;

    ngx_str_null(&refresh);

    /* renew with the refresh token where there is one */

    ngx_edge_auth_store_lock(login->store);

    if (login->refresh_url.text.len && e->refresh_len) {
        refresh.data = ngx_alloc(e->refresh_len, log);

        if (refresh.data) {
            ngx_memcpy(refresh.data, e->refresh, e->refresh_len);
            refresh.len = e->refresh_len;
        }
    }

    if (login->oauth && refresh.data == NULL) {
        /*
         * Out of memory, or the fleet's token just lost its refresh
         * token: never the code request without a code.
         */
        ngx_edge_auth_store_unlock(login->store);

        ngx_http_credential_renew_cancel(cmcf, cred);
        return;
    }

    ngx_edge_auth_store_unlock(login->store);

    ngx_http_credential_login_start(cmcf, cred, refresh.data ? &refresh : NULL,
                                    log);

    if (refresh.data) {
        ngx_explicit_memzero(refresh.data, refresh.len);
        ngx_free(refresh.data);
    }
}


static void
ngx_http_credential_unconnected(ngx_http_credential_t *cred, int64_t now,
    ngx_log_t *log)
{
    ngx_edge_auth_entry_t        *e;
    ngx_http_credential_login_t  *login;

    login = cred->login;
    e = login->entry;

    if (e->state == NGX_EDGE_AUTH_TOKEN_VALID
        && now < ngx_http_credential_usable_end(login, e->issued, e->expires))
    {
        ngx_edge_auth_store_unlock(login->store);
        return;
    }

    ngx_edge_auth_store_needs_auth(login->store, e);
    ngx_edge_auth_store_unlock(login->store);

    /* once per host: the state changed under the lock */

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "credential \"%V\" has no token and no refresh token: "
                  "run its connect step (credential_connect) in a browser",
                  &cred->name);
}


/*
 * Under the store lock: takes the node's login lock, for as long as a
 * login may take: every address its three timeouts, Redis its round
 * trips.  The code exchange takes it too.
 */

ngx_uint_t
ngx_http_credential_renew_lock(ngx_http_credential_t *cred, int64_t now,
    ngx_pid_t *owner)
{
    int64_t                           deadline;
    ngx_http_credential_login_t      *login;
    ngx_http_credential_main_conf_t  *cmcf;

    login = cred->login;

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_credential_module);

    deadline = now + 3 * (int64_t) login->http.timeout
                     * ngx_max(login->url.naddrs, 1)
               + 1000
               + (login->http.resolver ? login->http.resolver_timeout : 0)
               + (cmcf->redis_conf ? 2 * cmcf->redis_conf->timeout : 0);

    return ngx_edge_auth_store_login_lock(login->entry, now, deadline, owner);
}


/* the node's login lock and the host's slot back, if this process has them */

void
ngx_http_credential_renew_unlock(ngx_http_credential_t *cred)
{
    ngx_edge_auth_store_lock(cred->login->store);
    ngx_http_credential_renew_release(cred);
    ngx_edge_auth_store_unlock(cred->login->store);
}


/*
 * Under the lock: the login lock and the slot back; this worker's next
 * credential waiting for the host's slot is tried once the current event
 * is done (posted: a login that fails at once does not recurse).
 */

static void
ngx_http_credential_renew_release(ngx_http_credential_t *cred)
{
    ngx_http_credential_host_t   *host;
    ngx_http_credential_login_t  *login, *first;

    login = cred->login;

    /* a process that took over an overrun lock owns it now */
    ngx_edge_auth_store_login_unlock(login->entry);

    if (login->slot == NGX_DECLINED) {
        return;
    }

    host = login->slot_host;

    ngx_edge_auth_store_slot_free(host->sh, login->slot);
    login->slot = NGX_DECLINED;

    if (ngx_queue_empty(&host->waiting) || ngx_exiting) {
        return;
    }

    /* another worker's request waits for a slot of the host: its turn */

    first = ngx_queue_data(ngx_queue_head(&host->waiting),
                           ngx_http_credential_login_t, queue);

    if (ngx_edge_auth_now() < host->sh->urgent && !first->urgent) {
        if (!host->retry.timer_set) {
            ngx_add_timer(&host->retry, NGX_HTTP_CREDENTIAL_SLOT_RETRY);
        }

        return;
    }

    ngx_post_event(&host->retry, &ngx_posted_events);
}


/*
 * A login that does not happen after all: node lock, slot and fleet lease
 * back; a look again after a tick.
 */

void
ngx_http_credential_renew_cancel(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred)
{
    ngx_http_credential_renew_unlock(cred);
    ngx_http_credential_fleet_publish(cmcf, cred, 0);
    ngx_http_credential_renew_at(cred, NGX_HTTP_CREDENTIAL_TICK);
}


static ngx_uint_t
ngx_http_credential_due(ngx_http_credential_login_t *login, int64_t now)
{
    int64_t                 idle_end;
    ngx_edge_auth_entry_t  *e;

    e = login->entry;

    if (e->state != NGX_EDGE_AUTH_TOKEN_VALID || now >= e->renew) {
        return 1;
    }

    /*
     * In a fleet one node's idle clock says nothing of the others' use:
     * the session is kept alive by the nodes that use it, and a partner
     * that ended it anyway answers 401.
     */

    if (login->idle_timeout && !login->fleet) {
        /* renew before the partner ends the idle session, at half of it */
        idle_end = (int64_t) e->last_used * 1000 + login->idle_timeout;

        if (now >= idle_end - (int64_t) ngx_min(login->renew_before,
                                                login->idle_timeout / 2))
        {
            return 1;
        }
    }

    return 0;
}


static void
ngx_http_credential_login_start(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_str_t *refresh, ngx_log_t *log)
{
    ngx_edge_auth_http_t         *hc;
    ngx_http_credential_login_t  *login;

    login = cred->login;

    hc = ngx_edge_auth_http_create(log);
    if (hc == NULL) {
        ngx_http_credential_renew_cancel(cmcf, cred);
        return;
    }

    hc->log->action = "logging in to a credential's login endpoint";
    hc->url = &login->url;
    hc->conf = &login->http;
    hc->request = login->request;
    hc->done = ngx_http_credential_login_done;
    hc->data = cred;

    cred->refreshing = 0;

    if (refresh) {
        if (ngx_http_credential_refresh_request(cred, hc->pool, refresh,
                                                &hc->request)
            == NGX_OK)
        {
            hc->log->action = "renewing a credential with its refresh token";
            hc->url = &login->refresh_url;
            cred->refreshing = 1;

        } else if (login->oauth) {

            /* out of memory: never the code request without a code */

            ngx_edge_auth_http_free(hc);
            ngx_http_credential_renew_cancel(cmcf, cred);
            return;

        } else {
            hc->request = login->request;
        }
    }

    /* a signed client assertion is good for one request only */

    if (login->assertion && !cred->refreshing
        && ngx_http_credential_login_signed(login, hc->pool, &hc->request)
           != NGX_OK)
    {
        ngx_edge_auth_http_free(hc);
        ngx_http_credential_renew_cancel(cmcf, cred);
        return;
    }

    login->inflight = hc;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "credential \"%V\": login to %V", &cred->name,
                   &login->url.text);

    ngx_edge_auth_http_start(hc);
}


static void
ngx_http_credential_login_done(ngx_edge_auth_http_t *hc)
{
    ngx_http_credential_t *cred = hc->data;

    u_char                        *p, *last;
    u_char                         detail[160];
    ngx_uint_t                     level, how;
    ngx_http_credential_login_t   *login;
    ngx_http_credential_renewal_t  rn;

    login = cred->login;
    login->inflight = NULL;

    how = cred->refreshing ? NGX_HTTP_CREDENTIAL_RENEW_REFRESH
                           : NGX_HTTP_CREDENTIAL_RENEW_LOGIN;
    cred->refreshing = 0;

    ngx_http_credential_renew_finish(cred, hc, how, &rn);

    if (rn.refused && login->oauth) {
        ngx_log_error(NGX_LOG_ERR, hc->log, 0,
                      "credential \"%V\": %V refused the refresh token with "
                      "HTTP status %ui (revoked?); the credential needs "
                      "authorization: run its connect step "
                      "(credential_connect) again in a browser", &cred->name,
                      &login->refresh_url.text, hc->answer.status);

    } else if (rn.refused) {
        ngx_log_error(NGX_LOG_WARN, hc->log, 0,
                      "credential \"%V\": %V refused the refresh token "
                      "with HTTP status %ui; logging in again",
                      &cred->name, &login->refresh_url.text,
                      hc->answer.status);

    } else if (rn.error == ngx_http_credential_zone_full) {
        ngx_http_credential_zone_full_log(cred, hc, &rn);

    /* one line per failure streak; the rest at info */

    } else if (rn.error == NULL) {
        if (rn.failures) {
            ngx_log_error(NGX_LOG_NOTICE, hc->log, 0,
                          "credential \"%V\": login to %V succeeded after "
                          "%ui failures", &cred->name, &login->url.text,
                          rn.failures);
        } else {
            ngx_log_error(NGX_LOG_INFO, hc->log, 0,
                          "credential \"%V\": %s %V, token valid for %Ls",
                          &cred->name,
                          rn.how == NGX_HTTP_CREDENTIAL_RENEW_REFRESH
                          ? "renewed with its refresh token at"
                          : "logged in to",
                          rn.how == NGX_HTTP_CREDENTIAL_RENEW_REFRESH
                          ? &login->refresh_url.text : &login->url.text,
                          (rn.expires - rn.now) / 1000);
        }

    } else {
        level = (rn.failures == 1) ? NGX_LOG_ERR : NGX_LOG_INFO;

        p = detail;
        last = detail + sizeof(detail);

        if (hc->answer.status) {
            p = ngx_slprintf(p, last, ", HTTP status %ui", hc->answer.status);
        }

        p = ngx_slprintf(p, last, "; next try in %Lms; ", rn.delay);

        if (rn.valid > 0) {
            p = ngx_slprintf(p, last, "the current token stays in use for "
                             "%Ls", rn.valid / 1000);
        } else {
            p = ngx_slprintf(p, last, "no valid token");
        }

        ngx_log_error(level, hc->log, hc->err,
                      "credential \"%V\": login to %V failed (failure %ui "
                      "in a row): %s%*s",
                      &cred->name, hc->url ? &hc->url->text
                                           : &login->url.text,
                      rn.failures, rn.error, p - detail, detail);
    }

    ngx_edge_auth_http_free(hc);
}


/*
 * The end of every way to a token: a login, a refresh and a code
 * exchange (how).  Reads the token of a successful answer and stores it,
 * ends or extends the failure streak, gives the node's login lock back,
 * hands a new token to the fleet and gives the fleet's lease back.  What
 * came of it is in *rn, for the caller's log line and page; hc is the
 * caller's to free.
 */

void
ngx_http_credential_renew_finish(ngx_http_credential_t *cred,
    ngx_edge_auth_http_t *hc, ngx_uint_t how,
    ngx_http_credential_renewal_t *rn)
{
    int64_t                           sent;
    ngx_str_t                         token, refresh;
    ngx_uint_t                        status, kept, parsed;
    ngx_edge_auth_entry_t            *e;
    ngx_http_credential_login_t      *login;
    ngx_http_credential_main_conf_t  *cmcf;

    login = cred->login;
    e = login->entry;

    ngx_memzero(rn, sizeof(ngx_http_credential_renewal_t));

    rn->how = how;
    rn->now = ngx_edge_auth_now();
    rn->error = hc->error;
    status = hc->answer.status;

    if (how != NGX_HTTP_CREDENTIAL_RENEW_LOGIN || login->assertion) {
        /* built for this call in its pool: a refresh token, a code or an
         * assertion */
        ngx_explicit_memzero(hc->request.data, hc->request.len);
    }

    ngx_str_null(&token);
    ngx_str_null(&refresh);
    kept = 0;
    parsed = 0;

    if (rn->error == NULL) {
        if (how == NGX_HTTP_CREDENTIAL_RENEW_REFRESH
            && (status == 400 || status == 401))
        {
            rn->refused = 1;

        } else if (status < 200 || status > 299) {
            rn->error = (how == NGX_HTTP_CREDENTIAL_RENEW_EXCHANGE)
                        ? "the token endpoint refused the code"
                        : "the endpoint refused the login";

        } else {
            /*
             * The token's life counts from the request, not the answer
             * (an answer that came before the request was all sent: from
             * the answer)
             */

            sent = (hc->sent_at && hc->sent_at < rn->now) ? hc->sent_at
                                                          : rn->now;

            (void) ngx_http_credential_login_answer(cred, hc, sent,
                                                    &token, &refresh,
                                                    &rn->expires, &rn->error);
            parsed = 1;
        }
    }

    ngx_edge_auth_store_lock(login->store);

    if (rn->refused && login->oauth) {

        /* only the owner of the grant can renew it: connect again */

        ngx_edge_auth_store_needs_auth(login->store, e);
        e->logins++;

    } else if (rn->refused) {

        /* revoked or rotated elsewhere: a full login, right away */

        ngx_edge_auth_store_drop_refresh(login->store, e);
        e->backoff = 0;

    } else {
        if (rn->error == NULL) {

            /* the node's streak of tokens the zone could not hold */

            if (ngx_edge_auth_store_set_token(login->store, e, &token,
                                              &refresh, rn->expires)
                == NGX_OK)
            {
                login->store->sh->full = 0;

            } else {
                rn->error = ngx_http_credential_zone_full;
                rn->stored = ngx_edge_auth_store_chunk(token.len)
                             + ngx_edge_auth_store_chunk(refresh.len);
                rn->full_first = (login->store->sh->full == 0);
                login->store->sh->full = 1;
            }
        }

        /*
         * The access token refused, the rotated refresh token kept: the
         * old one is revoked, and sending it again may revoke the grant.
         */

        if (rn->error && refresh.len
            && how == NGX_HTTP_CREDENTIAL_RENEW_REFRESH
            && ngx_edge_auth_store_set_refresh(login->store, e, &refresh)
               == NGX_OK)
        {
            kept = 1;
        }

        e->logins++;
        rn->refreshed = (refresh.len != 0);

        if (rn->error == NULL) {

            /* renewed ahead of the end of its use (expiry less margin) */

            rn->failures = e->failures;
            e->failures = 0;
            e->backoff = 0;
            e->renew = ngx_http_credential_renew_time(login, e->issued,
                                                      e->expires);

            if (how == NGX_HTTP_CREDENTIAL_RENEW_EXCHANGE) {
                /* an operator connected: refusals of the old grant */
                e->refusal_next = 0;

                /*
                 * A new grant: the previous grant's refresh token must not
                 * renew it (another account, or a property the owner no
                 * longer grants).
                 */

                if (!rn->refreshed) {
                    ngx_edge_auth_store_drop_refresh(login->store, e);
                }
            }

        } else if (how != NGX_HTTP_CREDENTIAL_RENEW_EXCHANGE) {
            rn->failures = ++e->failures;
            rn->delay = ngx_http_credential_backoff(login, rn->failures, hc);
            e->backoff = rn->now + rn->delay;
        }

        if (e->state == NGX_EDGE_AUTH_TOKEN_VALID) {
            rn->valid = ngx_http_credential_usable_end(login, e->issued,
                                                       e->expires)
                        - rn->now;
        }
    }

    ngx_http_credential_renew_count(e, hc, rn, status, parsed);

    ngx_http_credential_renew_release(cred);

    ngx_edge_auth_store_unlock(login->store);

    if (token.data) {
        ngx_explicit_memzero(token.data, token.len);
    }

    if (refresh.data) {
        ngx_explicit_memzero(refresh.data, refresh.len);
    }

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_credential_module);

    /*
     * The new token to the fleet, and the lease back.  An exchange holds
     * no lease: a failed one leaves the fleet alone (a lease this worker
     * holds is a refresh's, which gives it back itself).
     */

    if (how != NGX_HTTP_CREDENTIAL_RENEW_EXCHANGE
        || (rn->error == NULL && !rn->refused))
    {
        ngx_http_credential_fleet_publish(cmcf, cred,
                                          ((rn->error == NULL && !rn->refused)
                                           || kept)
                                          ? NGX_HTTP_CREDENTIAL_STORE : 0);
    }

    /* a look at what is due next */

    ngx_http_credential_renew_at(cred, 1);
}


/*
 * Under the lock: the renewal's counters.  A refresh is ok or failed; a
 * login (or code exchange) ok or failed for one reason: the client's
 * failure, "refused" for 401 and 403 (the partner refused the
 * credentials), "status" for any other answer that is not 2xx, "parse"
 * for a 2xx answer without a usable token.
 */

static void
ngx_http_credential_renew_count(ngx_edge_auth_entry_t *e,
    ngx_edge_auth_http_t *hc, ngx_http_credential_renewal_t *rn,
    ngx_uint_t status, ngx_uint_t parsed)
{
    ngx_uint_t  stat;

    if (rn->how == NGX_HTTP_CREDENTIAL_RENEW_REFRESH) {
        if (rn->error == NULL && !rn->refused) {
            ngx_edge_auth_store_count(e, NGX_EDGE_AUTH_STAT_REFRESH_OK);
            e->last_refresh = rn->now;

        } else {
            ngx_edge_auth_store_count(e, NGX_EDGE_AUTH_STAT_REFRESH_FAILED);
        }

        return;
    }

    if (rn->error == NULL) {
        ngx_edge_auth_store_count(e, NGX_EDGE_AUTH_STAT_LOGIN_OK);
        e->last_login = rn->now;
        return;
    }

    switch (ngx_edge_auth_http_failure(hc)) {

    case NGX_EDGE_AUTH_HTTP_FAIL_NONE:
        if (status == 401 || status == 403) {
            stat = NGX_EDGE_AUTH_STAT_LOGIN_REFUSED;

        } else if (status < 200 || status > 299) {
            stat = NGX_EDGE_AUTH_STAT_LOGIN_STATUS;

        } else if (parsed) {
            stat = NGX_EDGE_AUTH_STAT_LOGIN_PARSE;

        } else {
            stat = NGX_EDGE_AUTH_STAT_LOGIN_OTHER;
        }

        /* a token read but not stored */
        if (rn->error == ngx_http_credential_zone_full) {
            stat = NGX_EDGE_AUTH_STAT_LOGIN_OTHER;
        }

        break;

    case NGX_EDGE_AUTH_HTTP_FAIL_TIMEOUT:
        stat = NGX_EDGE_AUTH_STAT_LOGIN_TIMEOUT;
        break;

    case NGX_EDGE_AUTH_HTTP_FAIL_TLS:
        stat = NGX_EDGE_AUTH_STAT_LOGIN_TLS;
        break;

    case NGX_EDGE_AUTH_HTTP_FAIL_PARSE:
        stat = NGX_EDGE_AUTH_STAT_LOGIN_PARSE;
        break;

    case NGX_EDGE_AUTH_HTTP_FAIL_OTHER:
        stat = NGX_EDGE_AUTH_STAT_LOGIN_OTHER;
        break;

    default:
        stat = NGX_EDGE_AUTH_STAT_LOGIN_CONNECT;
        break;
    }

    ngx_edge_auth_store_count(e, stat);
}


static int64_t
ngx_http_credential_backoff(ngx_http_credential_login_t *login,
    ngx_uint_t failures, ngx_edge_auth_http_t *hc)
{
    int64_t                             delay, after;
    ngx_uint_t                          shift;
    const ngx_edge_auth_http_header_t  *h;

    shift = ngx_min(failures - 1, 20);
    delay = (int64_t) login->backoff_min << shift;

    if (delay > (int64_t) login->backoff_max) {
        delay = login->backoff_max;
    }

    /* jitter: between half and all of it, so nodes do not march together */
    delay = delay / 2 + (int64_t) (ngx_random() % (delay / 2 + 1));

    /*
     * A partner that says when to come back is obeyed, in seconds or as
     * an HTTP-date (RFC 9110 10.2.3), up to login_backoff's maximum.
     */

    if (hc->error == NULL
        && (hc->answer.status == 429 || hc->answer.status == 503))
    {
        h = ngx_edge_auth_http_header(&hc->answer, "Retry-After");

        if (h) {
            after = ngx_atoi((u_char *) h->value, h->value_len);

            if (after == NGX_ERROR) {
                after = ngx_parse_http_time((u_char *) h->value,
                                            h->value_len);
                after = (after == NGX_ERROR) ? 0 : after - ngx_time();
            }

            if (after > 0) {
                after = (after > (int64_t) login->backoff_max / 1000)
                        ? (int64_t) login->backoff_max : after * 1000;
                delay = ngx_max(delay, after);
            }
        }
    }

    return delay;
}


/*
 * The zone could not hold a token: once per streak of the node at error
 * (the others at info), with what to set.  The estimate of nginx -t holds
 * every configured credential's largest token; what it does not hold is a
 * reload's old tokens, kept until they expire for the old workers, and a
 * fleet's token from a node with a larger login_max_size.  The size given
 * leaves room for one more token of this size per credential.
 */

static void
ngx_http_credential_zone_full_log(ngx_http_credential_t *cred,
    ngx_edge_auth_http_t *hc, ngx_http_credential_renewal_t *rn)
{
    size_t                  size;
    ngx_uint_t              level;
    ngx_edge_auth_store_t  *store;

    store = cred->login->store;
    level = rn->full_first ? NGX_LOG_ERR : NGX_LOG_INFO;

    size = ngx_max(ngx_edge_auth_store_need(store), store->size)
           + store->wanted.nelts * rn->stored;

    ngx_log_error(level, hc->log, 0,
                  "credential \"%V\": the token from %V could not be "
                  "stored: the credential store zone \"%V\" (%uzk) is full; "
                  "set its size to at least %uzk (credential_store "
                  "zone=%V:%uzk); next try in %Lms",
                  &cred->name, hc->url ? &hc->url->text
                                       : &cred->login->url.text,
                  &store->name, store->size / 1024, (size + 1023) / 1024,
                  &store->name, (size + 1023) / 1024, rn->delay);
}


typedef struct {
    ngx_str_t                     name;
    ngx_http_credential_host_t  **host;
} ngx_http_credential_host_ref_t;


static int ngx_libc_cdecl
ngx_http_credential_host_cmp(const void *one, const void *two)
{
    const ngx_http_credential_host_ref_t  *a = one, *b = two;

    int  rc;

    rc = ngx_memcmp(a->name.data, b->name.data,
                    ngx_min(a->name.len, b->name.len));

    if (rc) {
        return rc;
    }

    return (a->name.len > b->name.len) - (a->name.len < b->name.len);
}


static ngx_int_t
ngx_http_credential_host_key(ngx_conf_t *cf, ngx_edge_auth_url_t *url,
    ngx_str_t *key)
{
    u_char  *p;

    p = ngx_pnalloc(cf->pool, url->host.len + 1 + NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_strlow(p, url->host.data, url->host.len);

    key->data = p;
    key->len = ngx_sprintf(p + url->host.len, ":%d", (int) url->port) - p;

    return NGX_OK;
}


/*
 * The login hosts, as host:port of the login and refresh URLs: every
 * credential's login counts against its host's login_concurrency.
 * Sorted, not searched: ten thousand credentials are not a quadratic
 * start.
 */

ngx_int_t
ngx_http_credential_renew_hosts(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf)
{
    ngx_uint_t                        i, n;
    ngx_http_credential_t           **cred;
    ngx_http_credential_host_t       *host, **hostp;
    ngx_http_credential_login_t      *login;
    ngx_http_credential_host_ref_t   *refs;

    cred = cmcf->logins.elts;

    refs = ngx_palloc(cf->temp_pool, 2 * cmcf->logins.nelts
                                     * sizeof(ngx_http_credential_host_ref_t));
    if (refs == NULL) {
        return NGX_ERROR;
    }

    n = 0;

    for (i = 0; i < cmcf->logins.nelts; i++) {
        login = cred[i]->login;

        if (ngx_http_credential_host_key(cf, &login->url, &refs[n].name)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        refs[n++].host = &login->host;

        if (login->refresh_url.text.len) {
            if (ngx_http_credential_host_key(cf, &login->refresh_url,
                                             &refs[n].name)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            refs[n++].host = &login->refresh_host;
        }
    }

    ngx_qsort(refs, n, sizeof(ngx_http_credential_host_ref_t),
              ngx_http_credential_host_cmp);

    host = NULL;

    for (i = 0; i < n; i++) {
        if (host == NULL
            || ngx_http_credential_host_cmp(&refs[i], &refs[i - 1]) != 0)
        {
            host = ngx_pcalloc(cf->pool, sizeof(ngx_http_credential_host_t));
            if (host == NULL) {
                return NGX_ERROR;
            }

            host->name = refs[i].name;

            hostp = ngx_array_push(&cmcf->hosts);
            if (hostp == NULL) {
                return NGX_ERROR;
            }

            *hostp = host;

            if (ngx_edge_auth_store_want_host(cf, cmcf->store, &host->name,
                                              cmcf->login_concurrency,
                                              &host->sh)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        *refs[i].host = host;
    }

    for (i = 0; i < cmcf->logins.nelts; i++) {
        login = cred[i]->login;

        if (login->refresh_host == NULL) {
            login->refresh_host = login->host;
        }
    }

    return NGX_OK;
}


/*
 * nginx -t: the zone must hold every credential's entry and its largest
 * token: the access token and the refresh token come in one answer of at
 * most login_max_size bytes, each at most 8192, and take what the slab
 * allocates for them (a power of two up to 2k, whole pages above).
 */

ngx_int_t
ngx_http_credential_renew_sizing(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf)
{
    size_t                         max, last, a, b, tmax, cost, best, need;
    size_t                         best_a, best_b;
    ngx_uint_t                     i;
    ngx_edge_auth_store_t         *store;
    ngx_http_credential_t        **cred;
    ngx_http_credential_login_t   *login;

    store = cmcf->store;
    cred = cmcf->logins.elts;

    last = 0;
    best_a = 0;
    best_b = 0;

    for (i = 0; i < cmcf->logins.nelts; i++) {
        login = cred[i]->login;

        max = login->http.max_size;
        tmax = ngx_min(max, NGX_EDGE_AUTH_TOKEN_MAX);

        if (login->refresh_url.text.len == 0) {
            ngx_edge_auth_store_reserve(store, tmax);
            continue;
        }

        if (max != last) {
            best = 0;

            for (a = 1; a <= tmax; a++) {
                b = ngx_min(max - a, NGX_EDGE_AUTH_TOKEN_MAX);
                cost = ngx_edge_auth_store_chunk(a)
                       + ngx_edge_auth_store_chunk(b);

                if (cost > best) {
                    best = cost;
                    best_a = a;
                    best_b = b;
                }
            }

            last = max;
        }

        ngx_edge_auth_store_reserve(store, best_a);
        ngx_edge_auth_store_reserve(store, best_b);
    }

    need = ngx_edge_auth_store_need(store);

    if (need <= cmcf->store_size) {
        return NGX_OK;
    }

    if (cmcf->store_file) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "credential_store zone \"%V\" in %s:%ui is too small "
                      "for %ui credentials that log in, each with a token "
                      "of up to login_max_size: set its size to at least "
                      "%uzk (zone=%V:%uzk), or lower login_max_size; see "
                      "\"Sizing\" in the README",
                      &cmcf->store_name, cmcf->store_file, cmcf->store_line,
                      cmcf->logins.nelts, need / 1024, &cmcf->store_name,
                      need / 1024);

    } else {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "the default credential store zone (%uzk) is too "
                      "small for %ui credentials that log in (the first in "
                      "%s:%ui), each with a token of up to login_max_size: "
                      "add \"credential_store zone=credential_store:%uzk;\" "
                      "to the http block, or lower login_max_size; see "
                      "\"Sizing\" in the README",
                      cmcf->store_size / 1024, cmcf->logins.nelts,
                      cred[0]->file, cred[0]->line, need / 1024);
    }

    return NGX_ERROR;
}
