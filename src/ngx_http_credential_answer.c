
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The partner's answer codes (Octamile: HTTP 200 always, "exctnFdbck.id"
 * 75 ok, 55 bad credential, 35 at capacity).  A retry needs the request
 * again, and the upstream module cannot send one twice, so the main
 * request sends each attempt as a subrequest in its own location, from
 * the content phase (the body it read is shared).  Filters hold the
 * attempt's answer back, in one buffer per request that grows up to
 * answer_max_size as the answer comes; when the attempt ends, the code
 * decides: retry after a timer, or hand the answer to the main request,
 * which sends it.  A larger answer, one that is not a 200, or one in a
 * file goes on to the client as it comes, uninspected.  The directives
 * (answer_code, answer_retry, answer_fail, answer_max_size) fill the
 * credential's ngx_http_credential_answer_conf_t.
 */


#include "ngx_http_credential_answer.h"
#include "ngx_http_credential_ctx.h"
#include "ngx_http_credential_login.h"
#include "ngx_edge_auth_json.h"
#include "ngx_edge_auth_store.h"


#define NGX_HTTP_CREDENTIAL_ANSWER_RUNNING  0
#define NGX_HTTP_CREDENTIAL_ANSWER_WAITING  1
#define NGX_HTTP_CREDENTIAL_ANSWER_DELIVER  2    /* held back: main sends */
#define NGX_HTTP_CREDENTIAL_ANSWER_SENT     3    /* streamed by the attempt */
#define NGX_HTTP_CREDENTIAL_ANSWER_FAILED   4

#define NGX_HTTP_CREDENTIAL_CODE_LEN  32

/* an answer of unknown length starts with this, and doubles */
#define NGX_HTTP_CREDENTIAL_ANSWER_FIRST  4096

/* without answer_max_size */
#define NGX_HTTP_CREDENTIAL_ANSWER_MAX_SIZE  (64 * 1024)


struct ngx_http_credential_answer_s {
    ngx_http_credential_t          *cred;
    ngx_http_request_t             *sr;         /* the attempt */
    ngx_http_post_subrequest_t      ps;
    ngx_event_t                     timer;
    ngx_msec_t                      delay;
    ngx_uint_t                      retries;    /* done so far */
    ngx_uint_t                      state;
    ngx_int_t                       status;     /* FAILED: for the client */
    u_char                         *start;      /* up to answer_max_size */
    u_char                         *last;
    u_char                         *end;
    unsigned                        streaming:1;
    unsigned                        exhausted:1;
    unsigned                        cut:1;      /* SENT, but not whole */
};


static char *ngx_http_credential_answer_path(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_credential_answer_retry(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_credential_answer_fail(ngx_conf_t *cf, void *post,
    void *data);
static ngx_int_t ngx_http_credential_check_code(ngx_conf_t *cf,
    ngx_str_t *code, ngx_str_t *directive);
static ngx_int_t ngx_http_credential_answer_send(ngx_http_request_t *r,
    ngx_http_credential_answer_t *a);
static ngx_int_t ngx_http_credential_answer_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static ngx_uint_t ngx_http_credential_answer_cut(ngx_http_request_t *sr);
static void ngx_http_credential_answer_inspect(
    ngx_http_credential_answer_t *a, ngx_log_t *log);
static void ngx_http_credential_answer_count(ngx_http_credential_t *cred,
    ngx_uint_t stat);
static void ngx_http_credential_answer_timer(ngx_event_t *ev);
static void ngx_http_credential_answer_cleanup(void *data);
static ngx_int_t ngx_http_credential_answer_deliver(ngx_http_request_t *r,
    ngx_http_credential_answer_t *a);
static ngx_int_t ngx_http_credential_answer_header(ngx_http_request_t *r,
    ngx_http_request_t *sr, off_t length);
static ngx_http_credential_answer_t *ngx_http_credential_answer_get(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_credential_answer_header_filter(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_credential_answer_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_credential_answer_stream(ngx_http_request_t *sr,
    ngx_http_credential_answer_t *a, ngx_chain_t *in);
static ngx_int_t ngx_http_credential_answer_grow(ngx_http_request_t *sr,
    ngx_http_credential_answer_t *a, size_t size);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_conf_post_t  ngx_http_credential_answer_path_post = {
    ngx_http_credential_answer_path
};


static ngx_http_credential_bounds_t  ngx_http_credential_answer_max_size = {
    ngx_http_credential_size_bounds, 1, 16 * 1024 * 1024,
    "invalid size \"%V\" in \"answer_max_size\": expected 1 to 16m"
};


/* answer_fail CODE ...: up to 8 codes, each checked */

static ngx_conf_post_t  ngx_http_credential_answer_fail_post = {
    ngx_http_credential_answer_fail
};


ngx_command_t  ngx_http_credential_answer_commands[] = {

    { ngx_string("answer_code"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_http_credential_answer_conf_t, code),
      &ngx_http_credential_answer_path_post },

    { ngx_string("answer_retry"),
      NGX_CONF_2MORE,
      ngx_http_credential_answer_retry,
      0,
      0,
      NULL },

    { ngx_string("answer_fail"),
      NGX_CONF_1MORE,
      ngx_http_credential_list_slot,
      0,
      offsetof(ngx_http_credential_answer_conf_t, fail),
      &ngx_http_credential_answer_fail_post },

    { ngx_string("answer_max_size"),
      NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      0,
      offsetof(ngx_http_credential_answer_conf_t, max_size),
      &ngx_http_credential_answer_max_size },

      ngx_null_command
};


/* configuration */

void *
ngx_http_credential_get_answer(ngx_conf_t *cf, ngx_http_credential_t *cred)
{
    ngx_http_credential_answer_conf_t  *acf;

    if (cred->answer) {
        return cred->answer;
    }

    acf = ngx_pcalloc(cf->pool, sizeof(ngx_http_credential_answer_conf_t));
    if (acf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&acf->delays, cf->pool, 4, sizeof(ngx_msec_t))
        != NGX_OK
        || ngx_array_init(&acf->fail, cf->pool, 2, sizeof(ngx_str_t))
           != NGX_OK)
    {
        return NULL;
    }

    acf->max_size = NGX_CONF_UNSET_SIZE;

    cred->answer = acf;

    return acf;
}


/* post of answer_code's str slot: a JSON path, as body_json's */

static char *
ngx_http_credential_answer_path(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *path = data;

    ngx_str_t  *value;

    value = cf->args->elts;

    if (ngx_http_credential_check_path(cf, path, &value[0]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* answer_retry CODE DELAY ...: 1 to 8 delays, each from 1ms to 1h */

static char *
ngx_http_credential_answer_retry(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_credential_answer_conf_t *acf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;
    ngx_msec_t  *delay;

    if (acf->retry.data) {
        return "is duplicate";
    }

    if (ngx_http_credential_args_max(cf, 9) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    if (ngx_http_credential_check_code(cf, &value[1], &value[0]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    acf->retry = value[1];

    for (i = 2; i < cf->args->nelts; i++) {
        delay = ngx_array_push(&acf->delays);
        if (delay == NULL) {
            return NGX_CONF_ERROR;
        }

        *delay = ngx_parse_time(&value[i], 0);

        if (*delay == (ngx_msec_t) NGX_ERROR || *delay == 0
            || *delay > 3600 * 1000)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid delay \"%V\" in \"answer_retry\": "
                               "expected a time from 1ms to 1h", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_credential_answer_fail(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *code = data;

    ngx_str_t  *value;

    value = cf->args->elts;

    if (ngx_http_credential_check_code(cf, code, &value[0]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_credential_check_code(ngx_conf_t *cf, ngx_str_t *code,
    ngx_str_t *directive)
{
    ngx_uint_t  i;

    for (i = 0; i < code->len; i++) {
        if (code->data[i] <= 0x20 || code->data[i] >= 0x7f
            || code->data[i] == '"' || code->data[i] == '\\')
        {
            break;
        }
    }

    if (code->len == 0 || i < code->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid answer code \"%V\" in \"%V\"",
                           code, directive);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* at the end of a block with answer directives: they make one whole */

ngx_int_t
ngx_http_credential_answer_finish(ngx_conf_t *cf, ngx_http_credential_t *cred)
{
    ngx_str_t                          *code;
    ngx_uint_t                          i;
    ngx_http_credential_answer_conf_t  *acf;

    acf = cred->answer;

    if (acf == NULL) {
        return NGX_OK;
    }

    ngx_conf_init_size_value(acf->max_size,
                             NGX_HTTP_CREDENTIAL_ANSWER_MAX_SIZE);

    if (acf->code.len == 0 && (acf->retry.len || acf->fail.nelts)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credential \"%V\": \"answer_retry\" and "
                           "\"answer_fail\" need \"answer_code\"",
                           &cred->name);
        return NGX_ERROR;
    }

    if (acf->code.len && acf->retry.len == 0 && acf->fail.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credential \"%V\": \"answer_code\" does nothing "
                           "without \"answer_retry\" or \"answer_fail\"",
                           &cred->name);
        return NGX_ERROR;
    }

    code = acf->fail.elts;

    for (i = 0; i < acf->fail.nelts; i++) {
        if (code[i].len == acf->retry.len
            && ngx_strncmp(code[i].data, acf->retry.data, code[i].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "credential \"%V\": code \"%V\" is both "
                               "retried and failed", &cred->name, &code[i]);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* requests */


ngx_int_t
ngx_http_credential_answer_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_credential_answer_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_credential_answer_body_filter;

    return NGX_OK;
}


/* the body is read and injected: the first attempt */

ngx_int_t
ngx_http_credential_answer_start(ngx_http_request_t *r,
    ngx_http_credential_t *cred, ngx_http_credential_body_ctx_t *bctx)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_credential_answer_t  *a;

    a = ngx_pcalloc(r->pool, sizeof(ngx_http_credential_answer_t));
    if (a == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a client that goes away while a retry waits takes the timer along */

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_credential_answer_cleanup;
    cln->data = a;

    a->cred = cred;
    a->ps.handler = ngx_http_credential_answer_done;
    a->ps.data = a;

    a->timer.handler = ngx_http_credential_answer_timer;
    a->timer.data = r;
    a->timer.log = r->connection->log;

    bctx->answer = a;

    if (ngx_http_credential_answer_send(r, a) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/* the main request is woken when an attempt ends */

ngx_int_t
ngx_http_credential_answer_resume(ngx_http_request_t *r,
    ngx_http_credential_body_ctx_t *bctx)
{
    ngx_int_t                      rc;
    ngx_http_credential_answer_t  *a;

    a = bctx->answer;

    switch (a->state) {

    case NGX_HTTP_CREDENTIAL_ANSWER_RUNNING:
        return NGX_AGAIN;

    case NGX_HTTP_CREDENTIAL_ANSWER_WAITING:
        if (!a->timer.timer_set) {
            ngx_add_timer(&a->timer, a->delay);
        }

        /* as limit_req delays: notice a client that closes */
        r->read_event_handler = ngx_http_test_reading;

        return NGX_AGAIN;

    case NGX_HTTP_CREDENTIAL_ANSWER_DELIVER:
        rc = ngx_http_credential_answer_deliver(r, a);
        break;

    case NGX_HTTP_CREDENTIAL_ANSWER_SENT:

        /*
         * As the upstream module ends a cut-short answer: no last buffer
         * (no chunked terminator), and the connection is closed, so the
         * client never takes what it got for the whole answer.
         */

        if (a->cut) {
            r->keepalive = 0;
            rc = ngx_http_send_special(r, NGX_HTTP_FLUSH);
            break;
        }

        rc = ngx_http_send_special(r, NGX_HTTP_LAST);
        break;

    default: /* NGX_HTTP_CREDENTIAL_ANSWER_FAILED */
        rc = a->status;
        break;
    }

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


static ngx_int_t
ngx_http_credential_answer_send(ngx_http_request_t *r,
    ngx_http_credential_answer_t *a)
{
    ngx_uint_t                       i;
    ngx_http_request_t              *sr;
    ngx_http_phase_handler_t        *ph;
    ngx_http_core_main_conf_t       *cmcf;
    ngx_http_credential_ctx_t       *ctx, *mctx;
    ngx_http_credential_body_ctx_t  *bctx;

    mctx = ngx_http_get_module_ctx(r, ngx_http_credential_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_credential_ctx_t));
    bctx = ngx_pcalloc(r->pool, sizeof(ngx_http_credential_body_ctx_t));

    if (ctx == NULL || bctx == NULL) {
        return NGX_ERROR;
    }

    /*
     * A clone runs in the main request's location: a fresh lookup of the
     * URI would miss a "rewrite ... break", a named location reached by
     * error_page or try_files, and could take the secrets elsewhere.
     */

    if (ngx_http_subrequest(r, &r->uri, &r->args, &sr, &a->ps,
                            NGX_HTTP_SUBREQUEST_CLONE)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* and it starts at the content phase: the rest was done for main */

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);
    ph = cmcf->phase_engine.handlers;

    for (i = r->phase_handler; ph[i].checker; i++) {
        if (ph[i].checker == ngx_http_core_content_phase) {
            sr->phase_handler = i;
            break;
        }
    }

    /* the body is in place already: the attempt goes straight upstream */

    bctx->state = NGX_HTTP_CREDENTIAL_BODY_PASS;
    ctx->body = bctx;

    /* a 401 to the attempt refuses the token the main request set */

    ctx->cred = mctx->cred;
    ctx->generation = mctx->generation;
    ctx->attempt = 1;

    /*
     * The main request has the client's headers and body again once the
     * first attempt is made: each attempt gets what was injected, and the
     * client's back after its upstream request is built (handler.c).
     */

    if (!mctx->sent_saved) {
        ngx_http_credential_view_get(r, &mctx->sent);
        mctx->sent_saved = 1;
    }

    sr->headers_in.headers = mctx->sent.headers;
    sr->headers_in.authorization = mctx->sent.authorization;
    sr->request_body = mctx->sent.body;
    sr->headers_in.content_length_n = mctx->sent.content_length_n;
    sr->headers_in.chunked = mctx->sent.chunked;

    ctx->client = mctx->client;
    ctx->content_handler = mctx->content_handler;
    ctx->saved = mctx->saved;
    ctx->injected = mctx->saved;

    ngx_http_set_ctx(sr, ctx, ngx_http_credential_module);

    a->sr = sr;
    a->state = NGX_HTTP_CREDENTIAL_ANSWER_RUNNING;
    a->last = a->start;
    a->streaming = 0;
    a->cut = 0;

    return NGX_OK;
}


/* post_subrequest: may run more than once for one attempt */

static ngx_int_t
ngx_http_credential_answer_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_http_credential_answer_t *a = data;

    if (a->sr != sr || a->state != NGX_HTTP_CREDENTIAL_ANSWER_RUNNING) {
        return rc;
    }

    /*
     * An answer cut short after its header ends as a whole one would
     * (the upstream module finalizes the subrequest with 0 and only
     * clears the subrequest's keepalive): the pipe's flags tell.
     */

    if (rc == NGX_OK && ngx_http_credential_answer_cut(sr)) {
        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "credential \"%V\": the partner's answer was cut "
                      "short; %s", &a->cred->name,
                      a->streaming ? "closing the client connection"
                                   : "answering 502");

        if (a->streaming) {
            a->cut = 1;

        } else {
            a->state = NGX_HTTP_CREDENTIAL_ANSWER_FAILED;
            a->status = NGX_HTTP_BAD_GATEWAY;
            return rc;
        }
    }

    if (a->streaming) {
        a->state = NGX_HTTP_CREDENTIAL_ANSWER_SENT;
        return rc;
    }

    if (rc == NGX_ERROR || rc >= NGX_HTTP_SPECIAL_RESPONSE) {

        if (sr->connection->error) {
            a->state = NGX_HTTP_CREDENTIAL_ANSWER_FAILED;
            a->status = NGX_ERROR;
            return rc;
        }

        /*
         * Nothing has gone to the client: the main request answers with
         * the status (its own error_page applies), not the subrequest.
         */

        a->state = NGX_HTTP_CREDENTIAL_ANSWER_FAILED;
        a->status = (rc == NGX_ERROR) ? NGX_HTTP_BAD_GATEWAY : rc;

        return NGX_OK;
    }

    a->state = NGX_HTTP_CREDENTIAL_ANSWER_DELIVER;

    ngx_http_credential_answer_inspect(a, sr->connection->log);

    return rc;
}


/*
 * Did the attempt's upstream stop before the end of its answer: a length
 * or chunked framing not completed at a close, a read error, a timeout.
 * An answer that ends with the connection (no length) is whole at a close.
 */

static ngx_uint_t
ngx_http_credential_answer_cut(ngx_http_request_t *sr)
{
    ngx_event_pipe_t     *p;
    ngx_http_upstream_t  *u;

    u = sr->upstream;

    if (u == NULL || sr->header_only) {
        return 0;
    }

    if (!u->buffering) {
        return u->length > 0;
    }

    p = u->pipe;

    if (p == NULL || p->upstream_done) {
        return 0;
    }

    return p->upstream_error || (p->upstream_eof && p->length > 0);
}


static void
ngx_http_credential_answer_inspect(ngx_http_credential_answer_t *a,
    ngx_log_t *log)
{
    u_char                              buf[NGX_HTTP_CREDENTIAL_CODE_LEN];
    json_t                             *root, *v;
    ngx_str_t                           code, *fail;
    ngx_uint_t                          i;
    ngx_msec_t                         *delay;
    ngx_http_credential_t              *cred;
    ngx_http_credential_answer_conf_t  *acf;

    cred = a->cred;
    acf = cred->answer;

    root = json_loadb((char *) a->start, a->last - a->start, 0, NULL);

    if (root == NULL) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                       "credential \"%V\": the answer is not JSON, "
                       "passed on", &cred->name);
        return;
    }

    v = ngx_edge_auth_json_path(root, &acf->code);

    code.len = 0;
    code.data = buf;

    if (v && json_is_integer(v)) {
        code.len = ngx_sprintf(buf, "%L", (int64_t) json_integer_value(v))
                   - buf;

    } else if (v && json_is_string(v)
               && json_string_length(v) <= NGX_HTTP_CREDENTIAL_CODE_LEN)
    {
        code.len = json_string_length(v);
        ngx_memcpy(buf, json_string_value(v), code.len);
    }

    json_decref(root);

    if (code.len == 0) {
        return;
    }

    if (code.len == acf->retry.len
        && ngx_strncmp(code.data, acf->retry.data, code.len) == 0)
    {
        if (a->retries < acf->delays.nelts) {
            delay = acf->delays.elts;

            a->delay = delay[a->retries++];
            a->state = NGX_HTTP_CREDENTIAL_ANSWER_WAITING;

            ngx_http_credential_answer_count(cred,
                                            NGX_EDGE_AUTH_STAT_ANSWER_RETRY);

            ngx_log_error(NGX_LOG_INFO, log, 0,
                          "credential \"%V\": answer %V %V, retry %ui of "
                          "%ui in %Mms", &cred->name, &acf->code, &code,
                          a->retries, acf->delays.nelts, a->delay);
            return;
        }

        a->exhausted = 1;

        ngx_http_credential_answer_count(cred,
                                        NGX_EDGE_AUTH_STAT_ANSWER_EXHAUSTED);

        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "credential \"%V\": answer %V %V after %ui retries, "
                      "retries ran out; passing the answer on", &cred->name,
                      &acf->code, &code, a->retries);
        return;
    }

    fail = acf->fail.elts;

    for (i = 0; i < acf->fail.nelts; i++) {
        if (code.len == fail[i].len
            && ngx_strncmp(code.data, fail[i].data, code.len) == 0)
        {
            acf->refused++;

            ngx_http_credential_answer_count(cred,
                                            NGX_EDGE_AUTH_STAT_ANSWER_FAIL);

            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "credential \"%V\": the partner refused it "
                          "(answer %V %V), %ui times in this worker; "
                          "not retried", &cred->name, &acf->code, &code,
                          acf->refused);
            return;
        }
    }
}


/* a static credential has no entry to count in */

static void
ngx_http_credential_answer_count(ngx_http_credential_t *cred, ngx_uint_t stat)
{
    if (cred->login) {
        ngx_edge_auth_store_count(cred->login->entry, stat);
    }
}


static void
ngx_http_credential_answer_timer(ngx_event_t *ev)
{
    ngx_connection_t                *c;
    ngx_http_request_t              *r;
    ngx_http_credential_ctx_t       *ctx;
    ngx_http_credential_body_ctx_t  *bctx;

    r = ev->data;
    c = r->connection;

    ctx = ngx_http_get_module_ctx(r, ngx_http_credential_module);
    bctx = ctx->body;

    r->read_event_handler = ngx_http_block_reading;

    if (ngx_http_credential_answer_send(r, bctx->answer) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_credential_answer_cleanup(void *data)
{
    ngx_http_credential_answer_t *a = data;

    if (a->timer.timer_set) {
        ngx_del_timer(&a->timer);
    }
}


static ngx_int_t
ngx_http_credential_answer_deliver(ngx_http_request_t *r,
    ngx_http_credential_answer_t *a)
{
    off_t             length;
    ngx_int_t         rc;
    ngx_buf_t        *b;
    ngx_chain_t       out;
    ngx_table_elt_t  *h;

    if (a->exhausted) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "X-Credential-Retries-Exhausted");

        h->value.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (h->value.data == NULL) {
            return NGX_ERROR;
        }

        h->value.len = ngx_sprintf(h->value.data, "%ui", a->retries)
                       - h->value.data;
    }

    /* nothing held (HEAD, say): the length is the attempt's */

    length = a->last - a->start;

    if (length == 0) {
        length = a->sr->headers_out.content_length_n;
    }

    rc = ngx_http_credential_answer_header(r, a->sr, length);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (a->last == a->start) {
        return ngx_http_send_special(r, NGX_HTTP_LAST);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = a->start;
    b->last = a->last;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * Headers filters look at by pointer, as ngx_http_upstream_process_headers
 * sets them: without content_encoding, gzip would compress twice.
 */

static size_t  ngx_http_credential_answer_typed[] = {
    offsetof(ngx_http_headers_out_t, server),
    offsetof(ngx_http_headers_out_t, date),
    offsetof(ngx_http_headers_out_t, content_encoding),
    offsetof(ngx_http_headers_out_t, location),
    offsetof(ngx_http_headers_out_t, refresh),
    offsetof(ngx_http_headers_out_t, last_modified),
    offsetof(ngx_http_headers_out_t, content_range),
    offsetof(ngx_http_headers_out_t, accept_ranges),
    offsetof(ngx_http_headers_out_t, www_authenticate),
    offsetof(ngx_http_headers_out_t, expires),
    offsetof(ngx_http_headers_out_t, etag)
};


/* the attempt's status and headers become the main request's */

static ngx_int_t
ngx_http_credential_answer_header(ngx_http_request_t *r,
    ngx_http_request_t *sr, off_t length)
{
    ngx_uint_t        i, k;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *ho, **typed;

    r->headers_out.status = sr->headers_out.status;
    r->headers_out.status_line = sr->headers_out.status_line;
    r->headers_out.content_type = sr->headers_out.content_type;
    r->headers_out.content_type_len = sr->headers_out.content_type_len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset = sr->headers_out.charset;
    r->headers_out.content_length_n = length;
    r->headers_out.last_modified_time = sr->headers_out.last_modified_time;

    part = &sr->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        /* the length is the main request's, set above */

        if (h[i].hash == 0
            || (h[i].key.len == sizeof("Content-Length") - 1
                && ngx_strncasecmp(h[i].key.data, (u_char *) "Content-Length",
                                   sizeof("Content-Length") - 1) == 0))
        {
            continue;
        }

        ho = ngx_list_push(&r->headers_out.headers);
        if (ho == NULL) {
            return NGX_ERROR;
        }

        *ho = h[i];

        for (k = 0; k < sizeof(ngx_http_credential_answer_typed)
                        / sizeof(size_t); k++)
        {
            typed = (ngx_table_elt_t **) ((u_char *) &sr->headers_out
                                         + ngx_http_credential_answer_typed[k]);

            if (*typed == &h[i]) {
                *(ngx_table_elt_t **) ((u_char *) &r->headers_out
                                       + ngx_http_credential_answer_typed[k])
                    = ho;
            }
        }
    }

    return ngx_http_send_header(r);
}


/* the attempt in flight, when r is it */

static ngx_http_credential_answer_t *
ngx_http_credential_answer_get(ngx_http_request_t *r)
{
    ngx_http_credential_ctx_t       *ctx;
    ngx_http_credential_body_ctx_t  *bctx;

    if (r == r->main) {
        return NULL;
    }

    /* the main request's context: an attempt's own may be wiped */

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_credential_module);

    if (ctx == NULL || ctx->body == NULL) {
        return NULL;
    }

    bctx = ctx->body;

    if (bctx->answer == NULL || bctx->answer->sr != r) {
        return NULL;
    }

    return bctx->answer;
}


static ngx_int_t
ngx_http_credential_answer_header_filter(ngx_http_request_t *r)
{
    ngx_http_credential_answer_t  *a;

    a = ngx_http_credential_answer_get(r);

    if (a == NULL || a->streaming) {
        return ngx_http_next_header_filter(r);
    }

    if (a->state == NGX_HTTP_CREDENTIAL_ANSWER_RUNNING
        && (r->headers_out.status != NGX_HTTP_OK
            || r->headers_out.content_length_n
               > (off_t) a->cred->answer->max_size))
    {
        if (ngx_http_credential_answer_stream(r, a, NULL) == NGX_ERROR) {
            return NGX_ERROR;
        }

        return ngx_http_next_header_filter(r);
    }

    /* held back until the code is known */

    return NGX_OK;
}


static ngx_int_t
ngx_http_credential_answer_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in)
{
    size_t                         size;
    ngx_int_t                      rc;
    ngx_buf_t                     *b;
    ngx_chain_t                   *cl;
    ngx_http_credential_answer_t  *a;

    a = ngx_http_credential_answer_get(r);

    if (a == NULL || a->streaming) {
        return ngx_http_next_body_filter(r, in);
    }

    if (a->state != NGX_HTTP_CREDENTIAL_ANSWER_RUNNING) {
        /* an attempt that failed: its error page is not the client's */
        for (cl = in; cl; cl = cl->next) {
            cl->buf->pos = cl->buf->last;
            cl->buf->file_pos = cl->buf->file_last;
        }

        return NGX_OK;
    }

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;
        size = (size_t) ngx_buf_size(b);

        if (size == 0) {
            continue;
        }

        if (!ngx_buf_in_memory(b)) {
            return ngx_http_credential_answer_stream(r, a, cl);
        }

        if (size > (size_t) (a->end - a->last)) {
            rc = ngx_http_credential_answer_grow(r, a, size);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc == NGX_DECLINED) {
                return ngx_http_credential_answer_stream(r, a, cl);
            }
        }

        a->last = ngx_cpymem(a->last, b->pos, size);
        b->pos = b->last;
    }

    return NGX_OK;
}


/*
 * Too large, or not inspectable: what is held goes out first, then the
 * rest of the attempt's answer as it comes.
 */

static ngx_int_t
ngx_http_credential_answer_stream(ngx_http_request_t *sr,
    ngx_http_credential_answer_t *a, ngx_chain_t *in)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, sr->connection->log, 0,
                   "credential \"%V\": answer passed on uninspected",
                   &a->cred->name);

    a->streaming = 1;

    rc = ngx_http_credential_answer_header(sr->main, sr,
                                           sr->headers_out.content_length_n);

    if (rc == NGX_ERROR || rc > NGX_OK) {
        return NGX_ERROR;
    }

    if (in == NULL) {
        return NGX_OK;
    }

    if (a->last > a->start) {
        b = ngx_calloc_buf(sr->pool);
        cl = ngx_alloc_chain_link(sr->pool);

        if (b == NULL || cl == NULL) {
            return NGX_ERROR;
        }

        b->pos = a->start;
        b->last = a->last;
        b->memory = 1;

        cl->buf = b;
        cl->next = in;
        in = cl;
    }

    return ngx_http_next_body_filter(sr, in);
}


/*
 * Room for size more bytes, allocated as the answer comes: the announced
 * length at once, else doubling; NGX_DECLINED past answer_max_size.
 */

static ngx_int_t
ngx_http_credential_answer_grow(ngx_http_request_t *sr,
    ngx_http_credential_answer_t *a, size_t size)
{
    off_t    length;
    size_t   held, need, cap, max;
    u_char  *p;

    max = a->cred->answer->max_size;
    held = a->last - a->start;
    need = held + size;

    if (need > max) {
        return NGX_DECLINED;
    }

    length = sr->headers_out.content_length_n;

    if (length >= (off_t) need && length <= (off_t) max) {
        cap = (size_t) length;

    } else {
        cap = ngx_max(2 * (size_t) (a->end - a->start), need);
        cap = ngx_max(cap, NGX_HTTP_CREDENTIAL_ANSWER_FIRST);
        cap = ngx_min(cap, max);
    }

    p = ngx_pnalloc(sr->pool, cap);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, sr->connection->log, 0,
                   "credential \"%V\": answer buffer %uz bytes",
                   &a->cred->name, cap);

    if (held) {
        ngx_memcpy(p, a->start, held);
    }

    a->start = p;
    a->last = p + held;
    a->end = p + cap;

    return NGX_OK;
}
