
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * What a request keeps: its context; the stash, which outlives the
 * internal redirects that wipe module contexts; and waiting with a timer
 * on the write event, as limit_req delays a request.
 */


#include "ngx_http_credential_ctx.h"


/*
 * A main request's stash and first context, in one block that the worker
 * recycles: none of it comes from the request's pool.  It is linked into
 * the main request's cleanups, which survive internal redirects and run
 * when the request ends, before it is logged.
 */

typedef struct ngx_http_credential_state_s  ngx_http_credential_state_t;

struct ngx_http_credential_state_s {
    ngx_http_cleanup_t            cln;
    ngx_http_request_t           *r;
    ngx_http_credential_state_t  *next;         /* recycled */
    ngx_uint_t                    ctx_used;
    ngx_http_credential_stash_t   stash;
    ngx_http_credential_ctx_t     ctx;
};


/*
 * The fields of a stash or context before its member m are n words: a
 * type of negative size when they are not.  Counted for 64-bit words, on
 * which it is built and tested: on a 32-bit platform an int64_t is two
 * words and an off_t may be aligned to two, and "Architecture: any" must
 * still build there.
 */
#define ngx_http_credential_zeroed(t, m, n)                                   \
    typedef char ngx_http_credential_##t##_zeroed[                           \
        offsetof(ngx_http_credential_##t##_t, m)                             \
        == (n) * sizeof(void *) ? 1 : -1]

#if (NGX_PTR_SIZE == 8)
ngx_http_credential_zeroed(stash, content_length_n, 7);
ngx_http_credential_zeroed(ctx, client, 11);
#endif


/* recycled blocks a worker keeps: about 700 bytes each */
#define NGX_HTTP_CREDENTIAL_STATES_KEPT  1024


static ngx_inline ngx_http_credential_state_t *ngx_http_credential_state(
    ngx_http_request_t *r, ngx_uint_t create);
static ngx_inline ngx_http_credential_state_t *
    ngx_http_credential_state_new(ngx_http_request_t *r);
static void ngx_http_credential_state_cleanup(void *data);


static ngx_http_credential_state_t  *ngx_http_credential_states;
static ngx_uint_t                    ngx_http_credential_nstates;

/* the one looked up last: a request looks its own up a few times in a row */
static ngx_http_credential_state_t  *ngx_http_credential_last;


/*
 * The request's context, created on first use: a main request's first in
 * its stash, the others (subrequests, after a redirect) in the pool.
 */

ngx_http_credential_ctx_t *
ngx_http_credential_ctx(ngx_http_request_t *r)
{
    ngx_http_credential_ctx_t    *ctx;
    ngx_http_credential_stash_t  *stash;
    ngx_http_credential_state_t  *state;

    ctx = ngx_http_get_module_ctx(r, ngx_http_credential_module);

    if (ctx) {
        return ctx;
    }

    stash = NULL;

    if (r == r->main) {
        state = ngx_http_credential_state(r, 1);
        if (state == NULL) {
            return NULL;
        }

        stash = &state->stash;

        if (!state->ctx_used) {
            state->ctx_used = 1;
            ctx = &state->ctx;
        }
    }

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_credential_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }
    }

    /* the main request's: a subrequest looks it up when it needs it */

    ctx->stash = stash;

    ngx_http_set_ctx(r, ctx, ngx_http_credential_module);

    return ctx;
}


/*
 * A main request's first context, with its stash, when the request has
 * none of the module's state yet: not redirected (a redirect wipes the
 * context, not the stash) and no context (every stash is made after the
 * request's first context).  handler.c's common case: nothing looked up.
 */

ngx_http_credential_ctx_t *
ngx_http_credential_ctx_first(ngx_http_request_t *r)
{
    ngx_http_credential_state_t  *state;

    state = ngx_http_credential_state_new(r);
    if (state == NULL) {
        return NULL;
    }

    state->ctx_used = 1;
    state->ctx.stash = &state->stash;

    ngx_http_set_ctx(r, &state->ctx, ngx_http_credential_module);

    return &state->ctx;
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
    ngx_http_credential_state_t  *state;

    state = ngx_http_credential_state(r->main, create);

    return state ? &state->stash : NULL;
}


static ngx_inline ngx_http_credential_state_t *
ngx_http_credential_state(ngx_http_request_t *r, ngx_uint_t create)
{
    ngx_http_cleanup_t           *cln;
    ngx_http_credential_state_t  *state;

    /* a block's r is that of the request it is with, NULL when recycled */

    state = ngx_http_credential_last;

    if (state && state->r == r) {
        return state;
    }

    for (cln = r->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_credential_state_cleanup) {
            state = cln->data;
            ngx_http_credential_last = state;
            return state;
        }
    }

    if (!create) {
        return NULL;
    }

    return ngx_http_credential_state_new(r);
}


/*
 * A request's block, from the recycled ones; its context not used yet.
 * Inline: in ngx_http_credential_ctx_first(), the request path's common
 * case, a call less.
 */

static ngx_inline ngx_http_credential_state_t *
ngx_http_credential_state_new(ngx_http_request_t *r)
{
    ngx_http_credential_ctx_t    *ctx;
    ngx_http_credential_state_t  *state;

    state = ngx_http_credential_states;

    if (state) {
        ngx_http_credential_states = state->next;
        ngx_http_credential_nstates--;

    } else {
        state = ngx_alloc(sizeof(ngx_http_credential_state_t),
                          r->connection->log);
        if (state == NULL) {
            return NULL;
        }
    }

    /*
     * Field by field: ngx_memzero() of the two costs a third of what
     * finding, linking and returning the block costs (rep stos).  A field
     * added before content_length_n or client must be zeroed here: the
     * sizes checked above break the build until it is.
     */

    state->stash.cred = NULL;
    state->stash.generation = 0;
    state->stash.body = NULL;
    state->stash.injected = NULL;
    state->stash.retried = 0;
    state->stash.values = NULL;
    state->stash.restore = NULL;

    ctx = &state->ctx;
    ctx->cred = NULL;
    ctx->generation = 0;
    ctx->deadline = 0;
    ctx->refused = 0;
    ctx->body = NULL;
    ctx->stash = NULL;
    ctx->content_handler = NULL;
    ctx->create_request = NULL;
    ctx->payload = NULL;
    ctx->body_read = 0;

    /*
     * The flags as the bytes between body_read and client: one store, and
     * a flag added among them is zeroed without a line here
     */

    ngx_memzero((u_char *) &ctx->body_read + sizeof(ctx->body_read),
                offsetof(ngx_http_credential_ctx_t, client)
                - offsetof(ngx_http_credential_ctx_t, body_read)
                - sizeof(ctx->body_read));

    state->r = r;
    state->ctx_used = 0;
    ngx_http_credential_last = state;

    /* as ngx_http_cleanup_add() links it, without the allocation */

    state->cln.handler = ngx_http_credential_state_cleanup;
    state->cln.data = state;
    state->cln.next = r->cleanup;
    r->cleanup = &state->cln;

    return state;
}


/*
 * The request ends (or is terminated, and may go on a little: it must not
 * see the block once another request has it).  The block cannot be freed
 * here: nginx reads cln->next after this handler.
 */

static void
ngx_http_credential_state_cleanup(void *data)
{
    ngx_http_credential_state_t *state = data;

    ngx_http_credential_ctx_t     *ctx, *injected;
    ngx_http_credential_state_t   *old;
    ngx_http_credential_values_t  *v;

    ctx = ngx_http_get_module_ctx(state->r, ngx_http_credential_module);

    if (ctx && ctx->injected && state->stash.restore) {
        state->stash.restore(state->r);
    }

    /*
     * Redirected, and no location's rewrite phase put the client's headers
     * back (a server-level "return"): the contexts are wiped, the stash
     * still knows.  Else the log sees the secret, and the list points
     * into this block and at token headers that may be freed below.
     */

    injected = state->stash.injected;

    if (ctx == NULL && injected && injected->injected
        && state->stash.restore)
    {
        ngx_http_set_ctx(state->r, injected, ngx_http_credential_module);
        state->stash.restore(state->r);
        ngx_http_set_ctx(state->r, NULL, ngx_http_credential_module);
    }

    if (ctx == &state->ctx) {
        ngx_http_set_ctx(state->r, NULL, ngx_http_credential_module);

    } else if (ctx && ctx->stash == &state->stash) {
        ctx->stash = NULL;
    }

    state->r = NULL;

    v = state->stash.values;

    if (v && --v->refs == 0 && v->retired) {
        ngx_http_credential_values_free(v);
    }

    if (ngx_http_credential_nstates >= NGX_HTTP_CREDENTIAL_STATES_KEPT) {
        old = ngx_http_credential_states;
        ngx_http_credential_states = old->next;
        ngx_http_credential_nstates--;

        if (ngx_http_credential_last == old) {
            ngx_http_credential_last = NULL;
        }

        ngx_free(old);
    }

    state->next = ngx_http_credential_states;
    ngx_http_credential_states = state;
    ngx_http_credential_nstates++;
}
