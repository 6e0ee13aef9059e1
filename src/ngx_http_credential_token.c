
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * A token as requests see it: this worker's copy of the shared token and
 * the headers built from it (the hot path), and an upstream's refusal of
 * the token a request carried.
 */


#include "ngx_http_credential_token.h"
#include "ngx_http_credential_login.h"
#include "ngx_http_credential_renew.h"
#include "ngx_edge_auth_store.h"


/* a token refused within this time of its issue counts as a failure */
#define NGX_HTTP_CREDENTIAL_FRESH  10000


static ngx_int_t ngx_http_credential_build_values(
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_log_t *log);


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

    ngx_edge_auth_store_count(e, NGX_EDGE_AUTH_STAT_UPSTREAM_401);

    if (!ngx_edge_auth_store_invalidate(login->store, e, generation)) {
        return;
    }

    ngx_edge_auth_store_count(e, NGX_EDGE_AUTH_STAT_RENEW_401);

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

    ngx_http_credential_renew_soon(cmcf);
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

    /* in its last margin the partner may refuse it already */

    if (now >= ngx_http_credential_usable_end(login, login->copy.issued,
                                              login->copy.expires))
    {
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
