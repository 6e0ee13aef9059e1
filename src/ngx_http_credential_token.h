
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The token as requests see it: this worker's copy, refusals.
 */


#ifndef _NGX_HTTP_CREDENTIAL_TOKEN_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_TOKEN_H_INCLUDED_


#include "ngx_http_credential_conf.h"
#include "ngx_http_credential_login.h"


/*
 * The headers of one token generation, built once per worker when the
 * generation moves.  A request points at them instead of copying them,
 * and holds them until it ends (it may wait for its body while the token
 * is renewed): a replaced set is freed by the last request holding it.
 */

typedef struct ngx_http_credential_values_s  ngx_http_credential_values_t;

struct ngx_http_credential_values_s {
    ngx_uint_t                   refs;      /* requests holding it */
    ngx_uint_t                   retired;   /* replaced by a newer one */
    int64_t                      usable;    /* the end of the token's use */
    ngx_uint_t                   n;
    ngx_table_elt_t             *h;         /* n; their values follow */
    size_t                       size;      /* all of it, to wipe */
};


ngx_int_t ngx_http_credential_refused(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_atomic_uint_t generation,
    ngx_uint_t status, ngx_log_t *log);
ngx_int_t ngx_http_credential_token_read(
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred,
    ngx_log_t *log);
void ngx_http_credential_values_free(ngx_http_credential_values_t *v);


/*
 * The hot path: NGX_OK when this worker's copy of the token is current
 * and usable, NGX_DECLINED when no token is, NGX_ERROR.  Inline, the
 * usual case: the shared generation did not move, the token is before
 * its usable end, no idle timeout to note.
 */

static ngx_inline ngx_int_t
ngx_http_credential_token_current(ngx_http_credential_main_conf_t *cmcf,
    ngx_http_credential_t *cred, ngx_log_t *log)
{
    ngx_time_t                   *tp;
    ngx_http_credential_login_t  *login;

    login = cred->login;

    if (login->copy.generation == login->entry->generation
        && login->copy.valid && login->values && login->idle_timeout == 0)
    {
        tp = ngx_timeofday();

        /* in its last margin the partner may refuse it already */

        if ((int64_t) tp->sec * 1000 + (int64_t) tp->msec
            < login->values->usable)
        {
            return NGX_OK;
        }
    }

    return ngx_http_credential_token_read(cmcf, cred, log);
}


/* one of the credential's token_refused_status codes (401 by default) */

static ngx_inline ngx_uint_t
ngx_http_credential_token_refusal(ngx_http_credential_t *cred,
    ngx_uint_t status)
{
    ngx_uint_t  i, *codes;

    /* inline: the header filter asks it of every answer */

    codes = cred->login->refused_status.elts;

    for (i = 0; i < cred->login->refused_status.nelts; i++) {
        if (codes[i] == status) {
            return 1;
        }
    }

    return 0;
}


#endif /* _NGX_HTTP_CREDENTIAL_TOKEN_H_INCLUDED_ */
