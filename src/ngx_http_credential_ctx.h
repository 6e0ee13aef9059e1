
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * What a request keeps: its context, the stash, and waiting with a timer.
 */


#ifndef _NGX_HTTP_CREDENTIAL_CTX_H_INCLUDED_
#define _NGX_HTTP_CREDENTIAL_CTX_H_INCLUDED_


#include "ngx_http_credential_conf.h"
#include "ngx_http_credential_token.h"


#define NGX_HTTP_CREDENTIAL_BODY_READING  1
#define NGX_HTTP_CREDENTIAL_BODY_READ     2
#define NGX_HTTP_CREDENTIAL_BODY_PASS     3    /* injected: on to proxy */
#define NGX_HTTP_CREDENTIAL_BODY_ANSWER   4    /* answer.c sends it */
#define NGX_HTTP_CREDENTIAL_BODY_AT_ONCE  5    /* read in the handler's call */


typedef struct ngx_http_credential_answer_s  ngx_http_credential_answer_t;

/* a request whose body is read: body.c reads it, answer.c sends it */

typedef struct {
    ngx_uint_t                    state;
    ngx_http_credential_answer_t *answer;
} ngx_http_credential_body_ctx_t;


/*
 * What the request looked like before and after the credential went in:
 * variables, filters and logs read the request, so the client's view is
 * put back once the upstream module has built its request from the other.
 */

typedef struct {
    ngx_list_t                       headers;
    ngx_table_elt_t                 *authorization;
    ngx_http_request_body_t         *body;
    off_t                            content_length_n;
    ngx_uint_t                       chunked;   /* a word: copied often */
} ngx_http_credential_view_t;


typedef struct {
    ngx_http_credential_t           *cred;
    ngx_atomic_uint_t                generation; /* of the injected token */
    int64_t                          deadline;   /* waiting for a token */
    ngx_atomic_uint_t                refused;    /* a retry: its renewal */
    ngx_http_credential_body_ctx_t  *body;
    struct ngx_http_credential_stash_s  *stash; /* the main request's */

    ngx_http_handler_pt              content_handler;   /* the location's */
    ngx_http_handler_pt              create_request;    /* the upstream's */
    u_char                          *payload;    /* sigv4.c: its hash */
    ngx_uint_t                       body_read;  /* upstream.c: reading */
    unsigned                         attempt:1;  /* answer.c's subrequest */
    unsigned                         saved:1;    /* client: set */
    unsigned                         injected:1; /* client: not put back */
    unsigned                         sent_saved:1;

    /*
     * The stash's part is after the client's in the client's list
     * (headers.c appended): client keeps only the list's nalloc, and sent
     * is not a copy, a clone builds it (handler.c)
     */
    unsigned                         linked:1;

    /*
     * Last, and read only once saved or sent_saved says they are set: a
     * recycled context is zeroed up to here (ctx.c, field by field)
     */
    ngx_http_credential_view_t       client;     /* before injection */
    ngx_http_credential_view_t       sent;       /* for answer attempts */

    /* what body points to once body.c reads: no allocation of its own */
    ngx_http_credential_body_ctx_t   body_state;
} ngx_http_credential_ctx_t;


/* injected headers that fit in the stash: the client's list is not copied */
#define NGX_HTTP_CREDENTIAL_STASH_HEADERS  4


/*
 * What the request sent last, kept with the main request because internal
 * redirects wipe module contexts: an "error_page 401" retry must know
 * which token the partner refused; another location must get the
 * client's body, not one with an earlier location's secrets in it.
 *
 * The stash lives in a block that the worker recycles from request to
 * request (ctx.c), linked into the main request's cleanups: injecting a
 * credential takes nothing from the request's pool, which a proxied
 * request nearly fills already (one more 4 KB block per request cost a
 * third of the injection's instructions).
 */

typedef struct ngx_http_credential_stash_s {
    ngx_http_credential_t       *cred;
    ngx_atomic_uint_t            generation;

    ngx_http_request_body_t     *body;          /* the client's */

    /* injected and not put back yet: the context a redirect wipes */
    ngx_http_credential_ctx_t   *injected;

    ngx_uint_t                   retried;

    /* the token's headers this request points at (token.c) */
    ngx_http_credential_values_t  *values;

    /* handler.c's: puts the client's view back when the request ends */
    ngx_http_cleanup_pt          restore;

    /*
     * A recycled stash is zeroed up to here (ctx.c, field by field); the
     * rest is read only once body or the list says it is set
     */
    off_t                        content_length_n;
    ngx_str_t                    content_length;
    unsigned                     chunked:1;

    /* headers.c: the injected headers, a part after the client's list */
    ngx_list_part_t              part;
    ngx_table_elt_t              headers[NGX_HTTP_CREDENTIAL_STASH_HEADERS];
} ngx_http_credential_stash_t;


/* the view the request has now, as its upstream request is built from it */

static ngx_inline void
ngx_http_credential_view_get(ngx_http_request_t *r,
    ngx_http_credential_view_t *view)
{
    view->headers = r->headers_in.headers;
    view->authorization = r->headers_in.authorization;
    view->body = r->request_body;
    view->content_length_n = r->headers_in.content_length_n;
    view->chunked = r->headers_in.chunked;
}


ngx_http_credential_ctx_t *ngx_http_credential_ctx(ngx_http_request_t *r);
ngx_http_credential_ctx_t *ngx_http_credential_ctx_first(
    ngx_http_request_t *r);
ngx_http_credential_stash_t *ngx_http_credential_stash(ngx_http_request_t *r,
    ngx_uint_t create);
void ngx_http_credential_poll(ngx_http_request_t *r,
    ngx_http_event_handler_pt handler, ngx_msec_t delay);
ngx_int_t ngx_http_credential_polled(ngx_http_request_t *r);


#endif /* _NGX_HTTP_CREDENTIAL_CTX_H_INCLUDED_ */
