
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


static ngx_int_t ngx_http_credential_build_values(
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_log_t *log);


/* one of the credential's token_refused_status codes (401 by default) */

ngx_uint_t
ngx_http_credential_token_refusal(ngx_http_credential_t *cred,
    ngx_uint_t status)
{
    ngx_uint_t  i, *codes;

    codes = cred->login->refused_status.elts;

    for (i = 0; i < cred->login->refused_status.nelts; i++) {
        if (codes[i] == status) {
            return 1;
        }
    }

    return 0;
}


/*
 * The upstream refused token generation G.  A path may refuse any token
 * (a resource the account may not see, a client's own access_token):
 * a refusal must never make the requests that the partner accepts fail.
 * So G stays in use: it is only due for renewal now, once per G, and at
 * most once per token_refused_interval (other refusals are counted and
 * do nothing); a token refused right after its issue is not a failed
 * login.  Returns what the store did (see ngx_edge_auth_store_refused()).
 */

ngx_int_t
ngx_http_credential_refused(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_atomic_uint_t generation,
    ngx_uint_t status, ngx_log_t *log)
{
    ngx_int_t                     rc;
    ngx_edge_auth_entry_t        *e;
    ngx_http_credential_login_t  *login;

    login = cred->login;
    e = login->entry;

    ngx_edge_auth_store_count(e, NGX_EDGE_AUTH_STAT_UPSTREAM_REFUSED);

    rc = ngx_edge_auth_store_refused(login->store, e, generation,
                                     ngx_edge_auth_now(),
                                     login->refused_interval);

    if (rc != NGX_OK) {
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                       "credential \"%V\": the upstream refused the token "
                       "with %ui; %s", &cred->name, status,
                       (rc == NGX_DECLINED) ? "a newer one is in use"
                       : (rc == NGX_DONE) ? "its renewal is due already"
                       : "renewed within token_refused_interval");
        return rc;
    }

    ngx_edge_auth_store_count(e, NGX_EDGE_AUTH_STAT_RENEW_REFUSED);

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "credential \"%V\": the upstream refused the token with "
                  "%ui; renewing it, it stays in use meanwhile",
                  &cred->name, status);

    ngx_http_credential_renew_soon(cmcf, cred);

    return NGX_OK;
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
