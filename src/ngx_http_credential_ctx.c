
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * What a request keeps: its context; the stash, which outlives the
 * internal redirects that wipe module contexts; and waiting with a timer
 * on the write event, as limit_req delays a request.
 */


#include "ngx_http_credential_ctx.h"


static void ngx_http_credential_stash_cleanup(void *data);


/* the request's context, created on first use */

ngx_http_credential_ctx_t *
ngx_http_credential_ctx(ngx_http_request_t *r)
{
    ngx_http_credential_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_credential_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_credential_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_credential_module);
    }

    return ctx;
}


/*
 * A request waits with a timer on its write event, as limit_req delays:
 * nothing is blocked, and a client that leaves is noticed.
 */

void
ngx_http_credential_poll(ngx_http_request_t *r,
    ngx_http_event_handler_pt handler, ngx_msec_t delay)
{
    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = handler;

    r->connection->write->delayed = 1;
    ngx_add_timer(r->connection->write, delay);
}


/* in the handler: NGX_OK once the timer fired; else the event is handled */

ngx_int_t
ngx_http_credential_polled(ngx_http_request_t *r)
{
    ngx_event_t  *wev;

    wev = r->connection->write;

    if (wev->delayed) {
        if (ngx_handle_write_event(wev, 0) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        }

        return NGX_AGAIN;
    }

    if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_ERROR;
    }

    r->read_event_handler = ngx_http_block_reading;

    return NGX_OK;
}


ngx_http_credential_stash_t *
ngx_http_credential_stash(ngx_http_request_t *r, ngx_uint_t create)
{
    ngx_pool_cleanup_t           *cln;
    ngx_http_credential_stash_t  *stash;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_credential_stash_cleanup) {
            return cln->data;
        }
    }

    if (!create) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_credential_stash_t));
    if (cln == NULL) {
        return NULL;
    }

    stash = cln->data;
    ngx_memzero(stash, sizeof(ngx_http_credential_stash_t));

    cln->handler = ngx_http_credential_stash_cleanup;

    return stash;
}


static void
ngx_http_credential_stash_cleanup(void *data)
{
    /* nothing to free: the handler only marks the stash */
}
