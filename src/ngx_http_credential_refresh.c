
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Renewing tokens in the background.  Every worker runs one cancelable
 * timer; on each tick it looks at every token credential and, when a
 * token is missing, invalid, due for renewal or about to die idle, tries
 * to take the login lock in shared memory.  The lock has an owner and a
 * deadline, so one login runs per token per host and a killed worker
 * cannot hold it.  Failures back off exponentially with jitter; the token
 * in use stays in use until its real expiry.
 */


#include "ngx_http_credential.h"


#define NGX_HTTP_CREDENTIAL_TICK   1000

/* a token refused within this time of its issue counts as a failure */
#define NGX_HTTP_CREDENTIAL_FRESH  10000


static void ngx_http_credential_tick(ngx_event_t *ev);
static void ngx_http_credential_check(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_log_t *log);
static void ngx_http_credential_unconnected(ngx_http_credential_t *cred,
    int64_t now, ngx_log_t *log);
static void ngx_http_credential_login_start(
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_str_t *refresh, ngx_log_t *log);
static void ngx_http_credential_login_done(ngx_edge_auth_http_t *hc);
static void ngx_http_credential_refresh_refused(ngx_http_credential_t *cred,
    ngx_edge_auth_http_t *hc);
static int64_t ngx_http_credential_backoff(ngx_http_credential_login_t *login,
    ngx_uint_t failures, ngx_edge_auth_http_t *hc);
static ngx_int_t ngx_http_credential_build_values(
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_log_t *log);


ngx_int_t
ngx_http_credential_refresh_init(ngx_cycle_t *cycle)
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

    if (ngx_http_credential_redis_init(cycle, cmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the first login at start-up, before traffic needs it */
    ngx_add_timer(ev, 1);

    return NGX_OK;
}


void
ngx_http_credential_refresh_exit(ngx_cycle_t *cycle)
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

    ngx_http_credential_redis_exit(cmcf);

    cred = cmcf->logins.elts;

    for (i = 0; i < cmcf->logins.nelts; i++) {
        if (cred[i]->login->inflight == NULL) {
            continue;
        }

        ngx_edge_auth_http_abort(cred[i]->login->inflight);
        cred[i]->login->inflight = NULL;

        /* the others need not wait for this lock to time out */
        ngx_http_credential_lock_release(cred[i]->login);
    }
}


/* asks for a tick now: a request waits, or a token was refused */

void
ngx_http_credential_refresh_soon(ngx_http_credential_main_conf_t *cmcf)
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

    ngx_uint_t               i;
    ngx_http_credential_t  **cred;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    cred = cmcf->logins.elts;

    for (i = 0; i < cmcf->logins.nelts; i++) {
        ngx_http_credential_check(cmcf, cred[i], ev->log);
    }

    ngx_add_timer(ev, NGX_HTTP_CREDENTIAL_TICK);
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
            && ngx_http_credential_redis_usable(cmcf))
        {
            goto sync;
        }

        ngx_http_credential_unconnected(cred, now, log);
        return;
    }

    if (!ngx_http_credential_due(login, now) || now < e->backoff) {
        goto sync;
    }

    if (!ngx_http_credential_lock_take(login, now, &owner)) {
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

    if (ngx_http_credential_redis_lease(cmcf, cred,
                                        (ngx_msec_t) (e->lock_deadline - now))
        == NGX_OK
        || !ngx_http_credential_redis_alone(cred))
    {
        return;
    }

    ngx_http_credential_login_now(cmcf, cred, log);

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
        ngx_http_credential_redis_sync(cmcf, cred);
    }
}


void
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

        ngx_http_credential_login_cancel(cmcf, cred);
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


/*
 * Under the store lock, which this releases: a credential of the
 * authorization-code flow without a refresh token cannot log in by
 * itself; its token, if any, lives out its life, then it needs the
 * connect step.
 */

static void
ngx_http_credential_unconnected(ngx_http_credential_t *cred, int64_t now,
    ngx_log_t *log)
{
    ngx_edge_auth_entry_t        *e;
    ngx_http_credential_login_t  *login;

    login = cred->login;
    e = login->entry;

    if (e->state == NGX_EDGE_AUTH_TOKEN_VALID && now < e->expires) {
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
 * Under the store lock: takes the login lock unless another process holds
 * it, alive and within its deadline (a killed worker cannot hold it).
 */

ngx_uint_t
ngx_http_credential_lock_take(ngx_http_credential_login_t *login,
    int64_t now, ngx_pid_t *owner)
{
    ngx_edge_auth_entry_t            *e;
    ngx_http_credential_main_conf_t  *cmcf;

    e = login->entry;
    *owner = e->lock_owner;

    if (*owner && now < e->lock_deadline
        && (kill(*owner, 0) == 0 || ngx_errno != NGX_ESRCH))
    {
        return 0;
    }

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_credential_module);

    /* every address may take its three timeouts; Redis its round trips */

    e->lock_owner = ngx_pid;
    e->lock_deadline = now + 3 * (int64_t) login->http.timeout
                             * ngx_max(login->url.naddrs, 1)
                       + 1000
                       + (login->http.resolver ? login->http.resolver_timeout
                                               : 0)
                       + (cmcf->redis_conf ? 2 * cmcf->redis_conf->timeout
                                           : 0);

    return 1;
}


/* gives the node's login lock back, if this process holds it */

void
ngx_http_credential_lock_release(ngx_http_credential_login_t *login)
{
    ngx_edge_auth_store_lock(login->store);

    if (login->entry->lock_owner == ngx_pid) {
        login->entry->lock_owner = 0;
    }

    ngx_edge_auth_store_unlock(login->store);
}


/* a login that does not happen after all: node lock and fleet lease back */

void
ngx_http_credential_login_cancel(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred)
{
    ngx_http_credential_lock_release(cred->login);
    ngx_http_credential_redis_publish(cmcf, cred, 0);
}


/*
 * Reads the token of a successful answer (error NULL so far) and stores
 * it, as every way to a token must, so that what the store does with it
 * covers them all.  Takes the store lock and leaves it held for the
 * caller's bookkeeping; the login lock is released.  Returns the error,
 * if any.
 */

const char *
ngx_http_credential_token_store(ngx_http_credential_t *cred,
    ngx_edge_auth_http_t *hc, const char *error, int64_t now,
    int64_t *expires, ngx_uint_t *refreshed)
{
    ngx_str_t                     token, refresh;
    ngx_edge_auth_entry_t        *e;
    ngx_http_credential_login_t  *login;

    login = cred->login;
    e = login->entry;

    ngx_str_null(&token);
    ngx_str_null(&refresh);

    if (error == NULL) {
        (void) ngx_http_credential_login_answer(cred, hc, now, &token,
                                                &refresh, expires, &error);
    }

    ngx_edge_auth_store_lock(login->store);

    if (error == NULL
        && ngx_edge_auth_store_set_token(login->store, e, &token, &refresh,
                                         *expires)
           != NGX_OK)
    {
        error = "the credential store zone is full";
    }

    /* a process that took over an overrun lock owns it now */
    if (e->lock_owner == ngx_pid) {
        e->lock_owner = 0;
    }

    e->logins++;

    *refreshed = (refresh.len != 0);

    if (token.data) {
        ngx_explicit_memzero(token.data, token.len);
    }

    if (refresh.data) {
        ngx_explicit_memzero(refresh.data, refresh.len);
    }

    return error;
}


/*
 * Under the store lock, after a new token was stored: the failure streak
 * ends and the next renewal is planned ahead of expiry (a short-lived
 * token at half its life).  Returns the failures that preceded it.
 */

ngx_uint_t
ngx_http_credential_login_ok(ngx_http_credential_login_t *login, int64_t now,
    int64_t expires)
{
    ngx_uint_t              failures;
    ngx_edge_auth_entry_t  *e;

    e = login->entry;

    failures = e->failures;
    e->failures = 0;
    e->backoff = 0;

    e->renew = expires - ngx_min((int64_t) login->renew_before,
                                 (expires - now) / 2);

    return failures;
}


/* under the store lock */

ngx_uint_t
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
        ngx_http_credential_login_cancel(cmcf, cred);
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
            ngx_http_credential_login_cancel(cmcf, cred);
            return;

        } else {
            hc->request = login->request;
        }
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

    int64_t                           now, expires, delay, valid;
    ngx_uint_t                        refreshing, refreshed;
    u_char                           *p, *last;
    ngx_uint_t                        failures, status, level;
    const char                       *error;
    u_char                            detail[160];
    ngx_edge_auth_entry_t            *e;
    ngx_http_credential_login_t      *login;
    ngx_http_credential_main_conf_t  *cmcf;

    login = cred->login;
    e = login->entry;
    login->inflight = NULL;

    refreshing = cred->refreshing;
    cred->refreshing = 0;

    if (refreshing) {
        /* built for this call in its pool: it carries the refresh token */
        ngx_explicit_memzero(hc->request.data, hc->request.len);
    }

    now = ngx_edge_auth_now();
    error = hc->error;
    status = hc->answer.status;
    expires = 0;

    if (refreshing && error == NULL && (status == 400 || status == 401)
        && login->oauth)
    {
        ngx_http_credential_refresh_refused(cred, hc);
        return;
    }

    if (refreshing && error == NULL && (status == 400 || status == 401)) {

        /* revoked or rotated elsewhere: a full login, right away */

        ngx_edge_auth_store_lock(login->store);
        ngx_edge_auth_store_drop_refresh(login->store, e);

        if (e->lock_owner == ngx_pid) {
            e->lock_owner = 0;
        }

        e->backoff = 0;
        ngx_edge_auth_store_unlock(login->store);

        ngx_log_error(NGX_LOG_WARN, hc->log, 0,
                      "credential \"%V\": %V refused the refresh token "
                      "with HTTP status %ui; logging in again",
                      &cred->name, &login->refresh_url.text, status);

        ngx_edge_auth_http_free(hc);

        cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                                   ngx_http_credential_module);

        /* the lease goes back: the full login takes it again */
        ngx_http_credential_redis_publish(cmcf, cred, 0);
        ngx_http_credential_refresh_soon(cmcf);
        return;
    }

    if (error == NULL && (status < 200 || status > 299)) {
        error = "the endpoint refused the login";
    }

    error = ngx_http_credential_token_store(cred, hc, error, now, &expires,
                                            &refreshed);

    if (error == NULL) {
        failures = ngx_http_credential_login_ok(login, now, expires);
        delay = 0;

    } else {
        failures = ++e->failures;
        delay = ngx_http_credential_backoff(login, failures, hc);
        e->backoff = now + delay;
    }

    valid = (e->state == NGX_EDGE_AUTH_TOKEN_VALID) ? e->expires - now : 0;

    ngx_edge_auth_store_unlock(login->store);

    /* one line per failure streak; the rest at info */

    if (error == NULL) {
        if (failures) {
            ngx_log_error(NGX_LOG_NOTICE, hc->log, 0,
                          "credential \"%V\": login to %V succeeded after "
                          "%ui failures", &cred->name, &login->url.text,
                          failures);
        } else {
            ngx_log_error(NGX_LOG_INFO, hc->log, 0,
                          "credential \"%V\": %s %V, token valid for %Ls",
                          &cred->name,
                          refreshing ? "renewed with its refresh token at"
                                     : "logged in to",
                          refreshing ? &login->refresh_url.text
                                     : &login->url.text,
                          (expires - now) / 1000);
        }

    } else {
        level = (failures == 1) ? NGX_LOG_ERR : NGX_LOG_INFO;

        p = detail;
        last = detail + sizeof(detail);

        if (status) {
            p = ngx_slprintf(p, last, ", HTTP status %ui", status);
        }

        p = ngx_slprintf(p, last, "; next try in %Lms; ", delay);

        if (valid > 0) {
            p = ngx_slprintf(p, last, "the current token stays in use for "
                             "%Ls", valid / 1000);
        } else {
            p = ngx_slprintf(p, last, "no valid token");
        }

        ngx_log_error(level, hc->log, hc->err,
                      "credential \"%V\": login to %V failed (failure %ui "
                      "in a row): %s%*s",
                      &cred->name, hc->url ? &hc->url->text
                                           : &login->url.text,
                      failures, error, p - detail, detail);
    }

    ngx_edge_auth_http_free(hc);

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_credential_module);

    /* the new token to the fleet, and the lease back */
    ngx_http_credential_redis_publish(cmcf, cred, error == NULL);
    ngx_http_credential_refresh_soon(cmcf);
}


/*
 * Only the owner of the grant can renew it: the credential needs the
 * connect step again.  One line says so; the timer leaves the entry alone
 * from now on, so nothing retries in a loop.
 */

static void
ngx_http_credential_refresh_refused(ngx_http_credential_t *cred,
    ngx_edge_auth_http_t *hc)
{
    ngx_edge_auth_entry_t        *e;
    ngx_http_credential_login_t  *login;

    login = cred->login;
    e = login->entry;

    ngx_edge_auth_store_lock(login->store);

    ngx_edge_auth_store_needs_auth(login->store, e);

    if (e->lock_owner == ngx_pid) {
        e->lock_owner = 0;
    }

    e->logins++;

    ngx_edge_auth_store_unlock(login->store);

    ngx_log_error(NGX_LOG_ERR, hc->log, 0,
                  "credential \"%V\": %V refused the refresh token with "
                  "HTTP status %ui (revoked?); the credential needs "
                  "authorization: run its connect step (credential_connect) "
                  "again in a browser", &cred->name,
                  &login->refresh_url.text, hc->answer.status);

    ngx_edge_auth_http_free(hc);

    /* the fleet's lease goes back; the other nodes find the same answer */
    ngx_http_credential_redis_publish(
        ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                            ngx_http_credential_module),
        cred, 0);
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

    /* a partner that says when to come back is obeyed, within reason */

    if (hc->error == NULL
        && (hc->answer.status == 429 || hc->answer.status == 503))
    {
        h = ngx_edge_auth_http_header(&hc->answer, "Retry-After");

        if (h) {
            after = ngx_atoi((u_char *) h->value, h->value_len);

            if (after > 0 && after <= 86400) {
                delay = ngx_max(delay, after * 1000);
            }
        }
    }

    return delay;
}


/*
 * The upstream refused token generation G with 401: invalidate G only.
 * A token refused right after it was issued (a wrong scope, say) counts
 * as a failed login, so a partner that refuses every token is not logged
 * in to once per request.
 */

void
ngx_http_credential_refused(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_atomic_uint_t generation,
    ngx_log_t *log)
{
    int64_t                       now, delay, age;
    ngx_uint_t                    refusals, level;
    ngx_edge_auth_entry_t        *e;
    ngx_http_credential_login_t  *login;

    login = cred->login;
    e = login->entry;

    if (!ngx_edge_auth_store_invalidate(login->store, e, generation)) {
        return;
    }

    now = ngx_edge_auth_now();
    delay = 0;

    ngx_edge_auth_store_lock(login->store);

    age = now - e->issued;

    if (age < NGX_HTTP_CREDENTIAL_FRESH) {
        refusals = ++e->refusals;

        if (refusals > 1) {
            delay = (int64_t) login->backoff_min
                    << ngx_min(refusals - 2, 20);
            delay = ngx_min(delay, (int64_t) login->backoff_max);
            e->backoff = now + delay;
        }

    } else {
        refusals = 0;
        e->refusals = 0;
    }

    ngx_edge_auth_store_unlock(login->store);

    if (refusals > 1) {
        level = (refusals == 2) ? NGX_LOG_ERR : NGX_LOG_INFO;

        ngx_log_error(level, log, 0,
                      "credential \"%V\": the upstream refused a token "
                      "issued %Lms ago with 401 (%ui in a row); next login "
                      "in %Lms", &cred->name, age, refusals, delay);

    } else {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "credential \"%V\": the upstream refused the token "
                      "with 401; logging in again", &cred->name);
    }

    ngx_http_credential_refresh_soon(cmcf);
}


/*
 * The hot path: brings this worker's copy of the token up to date (a
 * lock only when the generation moved) and says whether it is usable.
 */

ngx_int_t
ngx_http_credential_token_current(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_log_t *log)
{
    int64_t                       now;
    ngx_edge_auth_entry_t        *e;
    ngx_atomic_uint_t             generation;
    ngx_http_credential_login_t  *login;

    login = cred->login;
    e = login->entry;

    generation = login->copy.generation;

    if (ngx_edge_auth_store_read(login->store, e, &login->copy, log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (generation != login->copy.generation && login->copy.valid) {
        if (ngx_http_credential_build_values(cmcf, cred, log) != NGX_OK) {
            login->copy.generation = 0;
            return NGX_ERROR;
        }
    }

    if (!login->copy.valid || login->values == NULL) {
        return NGX_DECLINED;
    }

    now = ngx_edge_auth_now();

    if (now >= login->copy.expires) {
        return NGX_DECLINED;
    }

    if (login->idle_timeout && !login->fleet) {
        if ((now - (int64_t) e->last_used * 1000)
            >= (int64_t) login->idle_timeout)
        {
            return NGX_DECLINED;
        }

        /* a plain store: a lost race only shortens the idle window */
        if (e->last_used != (ngx_atomic_uint_t) ngx_time()) {
            e->last_used = ngx_time();
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_credential_build_values(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_log_t *log)
{
    u_char                       *p;
    ngx_str_t                    *slots;
    ngx_uint_t                    i, n;
    ngx_table_elt_t              *values, *h;
    ngx_http_credential_tmpl_t   *t;
    ngx_http_credential_login_t  *login;

    login = cred->login;
    n = login->inject.nelts;
    t = login->inject.elts;

    values = ngx_alloc(n * sizeof(ngx_table_elt_t), log);
    if (values == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        h = &values[i];
        ngx_memzero(h, sizeof(ngx_table_elt_t));

        h->key = t[i].name;
        h->lowcase_key = t[i].lowcase;
        h->hash = t[i].hash;
        h->value.len = t[i].prefix.len + login->copy.token.len
                       + t[i].suffix.len;

        p = ngx_alloc(h->value.len, log);
        if (p == NULL) {
            while (i--) {
                ngx_free(values[i].value.data);
            }

            ngx_free(values);
            return NGX_ERROR;
        }

        h->value.data = p;
        p = ngx_cpymem(p, t[i].prefix.data, t[i].prefix.len);
        p = ngx_cpymem(p, login->copy.token.data, login->copy.token.len);
        ngx_memcpy(p, t[i].suffix.data, t[i].suffix.len);
    }

    /* the previous headers are no longer handed out */

    if (login->values) {
        for (i = 0; i < n; i++) {
            ngx_explicit_memzero(login->values[i].value.data,
                                 login->values[i].value.len);
            ngx_free(login->values[i].value.data);
        }

        ngx_free(login->values);
    }

    /*
     * Debug logs mask the current token (slot 0) and the previous one
     * (slot 1): a request that was slow to read its body may still send
     * the previous one.
     */

    slots = cmcf->secrets.elts;
    slots += login->secret;

    if (slots[1].data) {
        ngx_explicit_memzero(slots[1].data, slots[1].len);
        ngx_free(slots[1].data);
    }

    slots[1] = slots[0];

    slots[0].data = ngx_alloc(login->copy.token.len, log);
    slots[0].len = slots[0].data ? login->copy.token.len : 0;

    if (slots[0].data) {
        ngx_memcpy(slots[0].data, login->copy.token.data, slots[0].len);
    }

    login->values = values;

    return NGX_OK;
}
