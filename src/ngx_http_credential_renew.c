
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The renewal state machine: every way to a token goes through it.
 *
 *   due          a missing, invalid, expiring or idle token, past backoff
 *   node lock    one login per token and host (shared memory, owner and
 *                deadline: a killed worker cannot hold it)
 *   fleet lease  one login per token and fleet (Redis, through the fleet
 *                adapter, which answers through a pointer)
 *   login        or refresh with the refresh token; a code exchange of
 *                the authorization-code flow enters here with the lock
 *   finish       store the token, keep the failure streak, give the node
 *                lock back, publish the token and give the lease back
 *
 * Every worker runs one cancelable timer.  Failures back off
 * exponentially with jitter; the token in use stays in use until its
 * expiry less token_expiry_margin.
 */


#include "ngx_http_credential_renew.h"
#include "ngx_http_credential_fleet.h"
#include "ngx_http_credential_login.h"
#include "ngx_edge_auth_http.h"
#include "ngx_edge_auth_store.h"


#define NGX_HTTP_CREDENTIAL_TICK   1000


static const char  ngx_http_credential_zone_full[] =
    "the credential store zone is full";


static void ngx_http_credential_tick(ngx_event_t *ev);
static void ngx_http_credential_check(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_log_t *log);
static void ngx_http_credential_unconnected(ngx_http_credential_t *cred,
    int64_t now, ngx_log_t *log);
static ngx_uint_t ngx_http_credential_due(ngx_http_credential_login_t *login,
    int64_t now);
static void ngx_http_credential_renew_leased(ngx_http_credential_t *cred,
    ngx_int_t rc);
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
    ngx_event_t                      *ev;
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

    ev = ngx_pcalloc(cycle->pool, sizeof(ngx_event_t));
    if (ev == NULL) {
        return NGX_ERROR;
    }

    ev->handler = ngx_http_credential_tick;
    ev->data = cmcf;
    ev->log = cycle->log;

    /* a pending tick must not keep a worker from shutting down */
    ev->cancelable = 1;

    cmcf->timer = ev;

    if (ngx_http_credential_fleet_init(cycle, cmcf,
                                       ngx_http_credential_renew_leased)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the first login at start-up, before traffic needs it */
    ngx_add_timer(ev, 1);

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

        /* the others need not wait for this lock to time out */
        ngx_http_credential_renew_unlock(cred[i]);
    }
}


/* asks for a tick now: a request waits, or a token was refused */

void
ngx_http_credential_renew_soon(ngx_http_credential_main_conf_t *cmcf)
{
    if (cmcf->timer == NULL || ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (cmcf->timer->timer_set) {
        ngx_del_timer(cmcf->timer);
    }

    ngx_add_timer(cmcf->timer, 1);
}


static void
ngx_http_credential_tick(ngx_event_t *ev)
{
    ngx_http_credential_main_conf_t *cmcf = ev->data;

    int64_t                  now, next, renew, end;
    ngx_uint_t               i;
    ngx_edge_auth_entry_t   *e;
    ngx_http_credential_t  **cred;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    cred = cmcf->logins.elts;
    next = NGX_HTTP_CREDENTIAL_TICK;
    now = ngx_edge_auth_now();

    for (i = 0; i < cmcf->logins.nelts; i++) {
        ngx_http_credential_check(cmcf, cred[i], ev->log);

        /*
         * A renewal that a tick late would start less than a tick before
         * the end of the token's use (a short token, a small
         * token_renew_before) is started on time.  Torn reads without the
         * lock only move one tick.
         */

        e = cred[i]->login->entry;
        renew = e->renew;
        end = ngx_http_credential_usable_end(cred[i]->login, e->issued,
                                             e->expires);

        if (renew > now && renew - now < next
            && end - renew < NGX_HTTP_CREDENTIAL_TICK)
        {
            next = renew - now;
        }
    }

    ngx_add_timer(ev, (ngx_msec_t) next);
}


static void
ngx_http_credential_check(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_log_t *log)
{
    int64_t                       now;
    ngx_uint_t                    sync;
    ngx_pid_t                     owner;
    ngx_edge_auth_entry_t        *e;
    ngx_http_credential_login_t  *login;

    login = cred->login;
    e = login->entry;

    if (login->inflight || login->redis_busy) {
        return;
    }

    now = ngx_edge_auth_now();

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

        ngx_http_credential_unconnected(cred, now, log);
        return;
    }

    if (!ngx_http_credential_due(login, now) || now < e->backoff) {
        goto sync;
    }

    if (!ngx_http_credential_renew_lock(cred, now, &owner)) {
        ngx_edge_auth_store_unlock(login->store);
        return;
    }

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
        return;
    }

    ngx_http_credential_renew_alone(cmcf, cred, log);

    return;

sync:

    /* one worker per node and tick looks at the fleet's token */

    sync = 0;

    if (cmcf->redis && now - e->synced >= NGX_HTTP_CREDENTIAL_TICK / 2) {
        e->synced = now;
        sync = 1;
    }

    ngx_edge_auth_store_unlock(login->store);

    if (sync) {
        ngx_http_credential_fleet_sync(cmcf, cred);
    }
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
            ngx_edge_auth_store_login_unlock(e);
        }

        ngx_edge_auth_store_unlock(login->store);

        if (alive) {
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


/* the node's login lock back, if this process holds it */

void
ngx_http_credential_renew_unlock(ngx_http_credential_t *cred)
{
    ngx_edge_auth_store_lock(cred->login->store);
    ngx_edge_auth_store_login_unlock(cred->login->entry);
    ngx_edge_auth_store_unlock(cred->login->store);
}


/* a login that does not happen after all: node lock and fleet lease back */

void
ngx_http_credential_renew_cancel(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred)
{
    ngx_http_credential_renew_unlock(cred);
    ngx_http_credential_fleet_publish(cmcf, cred, 0);
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
            (void) ngx_http_credential_login_answer(cred, hc, rn->now,
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
        if (rn->error == NULL
            && ngx_edge_auth_store_set_token(login->store, e, &token,
                                             &refresh, rn->expires)
               != NGX_OK)
        {
            rn->error = ngx_http_credential_zone_full;
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

    /* a process that took over an overrun lock owns it now */
    ngx_edge_auth_store_login_unlock(e);

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

    /* the timer takes it from here, but for a grant that needs its owner */

    if (how != NGX_HTTP_CREDENTIAL_RENEW_EXCHANGE
        && !(rn->refused && login->oauth))
    {
        ngx_http_credential_renew_soon(cmcf);
    }
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
