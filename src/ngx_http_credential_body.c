
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Credentials written into a JSON request body (Octamile's "userInfo"):
 * "body_json PATH VALUE [uuid]" inside a credential block.  The members
 * to write are built once, at configuration time, with jansson.  A request
 * body is checked in one pass by the pure C checker (json_scan), without
 * building a tree, where nginx read it (its buffers in memory, its
 * temporary file mapped), and then spliced as text: the top-level members
 * the credential owns are dropped wherever the client put them, the
 * credential's come first, and every other member follows byte for byte,
 * in the client's order (a re-encoded 0.1 would become
 * 0.10000000000000001).  The new body is a chain of buffers that refer to
 * the client's bytes: nothing is copied.
 */


#include "ngx_http_credential_body.h"
#include "ngx_http_credential_answer.h"
#include "ngx_http_credential_ctx.h"
#include "ngx_edge_auth_error.h"
#include "ngx_edge_auth_json_scan.h"


/* without body_json_max_size */
#define NGX_HTTP_CREDENTIAL_BODY_MAX  (1024 * 1024)

/*
 * The new body refers to this many ranges of the client's at most; a body
 * that drops the credential's keys between more of its members has the
 * rest copied into one buffer (two chain links per member would cost ten
 * times the body).
 */
#define NGX_HTTP_CREDENTIAL_BODY_RANGES  64

/*
 * The client's body in up to this many parts is described on the stack
 * (a body read with the request header is two: the header's buffer and
 * the rest)
 */
#define NGX_HTTP_CREDENTIAL_BODY_PARTS  8


/* a buffer of the new body, in its chain */

typedef struct {
    ngx_buf_t                    buf;
    ngx_chain_t                  cl;
} ngx_http_credential_link_t;


/* the new body as the checker walks the client's */

typedef struct {
    ngx_http_request_t          *r;
    ngx_http_credential_body_t  *body;
    ngx_edge_auth_json_part_t   *parts;     /* the client's body, in order */
    ngx_uint_t                   nparts;
    ngx_uint_t                   part;      /* where the last range was */
    size_t                       part_start;    /* its offset */
    size_t                       len;       /* of the client's body */
    ngx_chain_t                **last;
    size_t                       start;     /* kept, not yet in the chain */
    size_t                       end;
    ngx_buf_t                   *head;      /* "{" and the members */
    ngx_buf_t                   *tail;      /* past the ranges: copies */
    ngx_http_credential_link_t  *links;     /* allocated, not yet used */
    ngx_uint_t                   nlinks;
    ngx_http_request_body_t     *rb;        /* the new one, with digits */
    ngx_uint_t                   ranges;
    off_t                        size;
    unsigned                     pending:1; /* start..end is kept */
    unsigned                     gap:1;     /* dropped since start */
    unsigned                     error:1;
} ngx_http_credential_splice_t;


typedef struct {
    void                        *addr;
    size_t                       size;
} ngx_http_credential_map_t;


static void ngx_http_credential_body_free(void *data);
static char *ngx_http_credential_body_json(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static const char *ngx_http_credential_uuid_v4(ngx_str_t *s,
    ngx_uint_t *offset);
static ngx_int_t ngx_http_credential_body_set(ngx_conf_t *cf,
    ngx_http_credential_body_t *body, ngx_str_t *path, ngx_str_t *secret);
static void ngx_http_credential_body_read(ngx_http_request_t *r);
static ngx_int_t ngx_http_credential_body_inject(ngx_http_request_t *r,
    ngx_http_credential_body_t *body, ngx_str_t *message);
static ngx_int_t ngx_http_credential_body_parts(ngx_http_request_t *r,
    ngx_http_credential_splice_t *splice, ngx_uint_t nbufs);
static ngx_int_t ngx_http_credential_body_map(ngx_http_request_t *r,
    ngx_buf_t *b, ngx_edge_auth_json_part_t *part);
static void ngx_http_credential_body_unmap(void *data);
static ngx_inline ngx_buf_t *ngx_http_credential_body_memory(
    ngx_http_credential_splice_t *splice, u_char *data, size_t len);
static ngx_int_t ngx_http_credential_body_flush(
    ngx_http_credential_splice_t *splice);
static ngx_int_t ngx_http_credential_body_range(
    ngx_http_credential_splice_t *splice, size_t start, size_t end);
static void ngx_http_credential_body_copy(ngx_http_credential_splice_t *splice,
    u_char *dst, size_t start, size_t len);
static ngx_int_t ngx_http_credential_body_replace(ngx_http_request_t *r,
    ngx_http_request_body_t *rb, ngx_chain_t *out, off_t len);
static void ngx_http_credential_body_member(void *data, const u_char *key,
    size_t key_len, size_t start, size_t end);
static ngx_uint_t ngx_http_credential_body_owned(
    ngx_http_credential_body_t *body, const u_char *key, size_t len);


static ngx_str_t  ngx_http_credential_invalid_body =
    ngx_string("invalid-json-body");
static ngx_str_t  ngx_http_credential_large_body =
    ngx_string("body-too-large");



/* a list: one body_json per path */

ngx_command_t  ngx_http_credential_body_commands[] = {

    { ngx_string("body_json"),
      NGX_CONF_TAKE23,
      ngx_http_credential_body_json,
      0,
      0,
      NULL },

    { ngx_string("body_json_max_size"),
      NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      0,
      offsetof(ngx_http_credential_body_t, max_size),
      NULL },

      ngx_null_command
};


/* configuration */

void *
ngx_http_credential_get_body(ngx_conf_t *cf, ngx_http_credential_t *cred)
{
    ngx_pool_cleanup_t          *cln;
    ngx_http_credential_body_t  *body;

    if (cred->body) {
        return cred->body;
    }

    body = ngx_pcalloc(cf->pool, sizeof(ngx_http_credential_body_t));
    if (body == NULL) {
        return NULL;
    }

    if (ngx_array_init(&body->names, cf->pool, 1, sizeof(ngx_str_t))
        != NGX_OK
        || ngx_array_init(&body->folded, cf->pool, 1, sizeof(ngx_str_t))
           != NGX_OK)
    {
        return NULL;
    }

    body->max_size = NGX_CONF_UNSET_SIZE;

    /* the tree is jansson's memory: freed also when the block fails */

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_credential_body_free;
    cln->data = body;

    cred->body = body;

    return body;
}


static void
ngx_http_credential_body_free(void *data)
{
    ngx_http_credential_body_t *body = data;

    if (body->tree) {
        json_decref(body->tree);
        body->tree = NULL;
    }
}


static char *
ngx_http_credential_body_json(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_credential_body_t *body = conf;

    ngx_str_t                        *value, secret, *s;
    ngx_uint_t                        uuid, offset;
    const char                       *error;
    ngx_http_credential_main_conf_t  *cmcf;

    value = cf->args->elts;

    if (ngx_http_credential_check_path(cf, &value[1], &value[0]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    uuid = 0;

    if (cf->args->nelts == 4) {
        if (ngx_strcmp(value[3].data, "uuid") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"body_json\": "
                               "the only one is \"uuid\"", &value[3]);
            return NGX_CONF_ERROR;
        }

        uuid = 1;
    }

    if (ngx_http_credential_secret(cf, &value[0], &value[1], &value[2],
                                   &secret)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* the signaller resolves no secret: there is nothing to check */

    if (uuid && ngx_process != NGX_PROCESS_SIGNALLER) {
        error = ngx_http_credential_uuid_v4(&secret, &offset);

        if (error) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "body_json \"%V\": the value is not a "
                               "UUID v4: %s (offset %ui)",
                               &value[1], error, offset);
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_credential_body_set(cf, body, &value[1], &secret)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_credential_module);

    s = ngx_array_push(&cmcf->secrets);
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    *s = secret;

    return NGX_CONF_OK;
}


/*
 * RFC 4122 version 4: 8-4-4-4-12 hex digits, or the 32 digits alone;
 * version nibble 4, variant bits 10 (8, 9, a or b).  Returns why not.
 */

static const char *
ngx_http_credential_uuid_v4(ngx_str_t *s, ngx_uint_t *offset)
{
    u_char      c, hex[32];
    ngx_uint_t  i, n;

    *offset = 0;

    if (s->len != 36 && s->len != 32) {
        *offset = s->len;
        return "it is neither 36 characters (8-4-4-4-12) nor 32 hex digits";
    }

    n = 0;

    for (i = 0; i < s->len; i++) {
        c = s->data[i];
        *offset = i;

        if (s->len == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (c != '-') {
                return "a hyphen is expected";
            }

            continue;
        }

        c |= 0x20;

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return "a hex digit is expected";
        }

        hex[n++] = c;
    }

    *offset = (s->len == 36) ? 14 : 12;

    if (hex[12] != '4') {
        return "the version is not 4";
    }

    *offset = (s->len == 36) ? 19 : 16;

    if (hex[16] != '8' && hex[16] != '9' && hex[16] != 'a' && hex[16] != 'b')
    {
        return "the variant is not RFC 4122's (8, 9, a or b)";
    }

    return NULL;
}


/* into the tree: objects on the way are created, nothing is set twice */

static ngx_int_t
ngx_http_credential_body_set(ngx_conf_t *cf, ngx_http_credential_body_t *body,
    ngx_str_t *path, ngx_str_t *secret)
{
    u_char  *p, *dot, *end;
    json_t  *obj, *v;

    if (body->tree == NULL) {
        body->tree = json_object();
        if (body->tree == NULL) {
            return NGX_ERROR;
        }
    }

    obj = body->tree;
    p = path->data;
    end = path->data + path->len;

    for ( ;; ) {
        dot = ngx_strlchr(p, end, '.');

        v = json_object_getn(obj, (char *) p, (dot ? dot : end) - p);

        if (dot == NULL) {
            break;
        }

        if (v == NULL) {
            v = json_object();

            if (v == NULL
                || json_object_setn_new(obj, (char *) p, dot - p, v) != 0)
            {
                return NGX_ERROR;
            }

        } else if (!json_is_object(v)) {
            goto conflict;
        }

        obj = v;
        p = dot + 1;
    }

    if (v != NULL) {
        goto conflict;
    }

    v = json_stringn((char *) secret->data, secret->len);

    if (v == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "body_json \"%V\": the value is not UTF-8", path);
        return NGX_ERROR;
    }

    if (json_object_setn_new(obj, (char *) p, end - p, v) != 0) {
        return NGX_ERROR;
    }

    return NGX_OK;

conflict:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "body_json \"%V\" is set twice, or inside another "
                       "\"body_json\" value", path);
    return NGX_ERROR;
}


/* at the end of the block: the members as text, and what they replace */

ngx_int_t
ngx_http_credential_body_finish(ngx_conf_t *cf, ngx_http_credential_t *cred)
{
    char                        *text;
    u_char                      *quoted;
    size_t                       len;
    json_t                      *v;
    ngx_str_t                   *name, *folded;
    const char                  *key;
    ngx_http_credential_body_t  *body;

    body = cred->body;

    if (body == NULL) {
        return NGX_OK;
    }

    ngx_conf_init_size_value(body->max_size, NGX_HTTP_CREDENTIAL_BODY_MAX);

    if (body->tree == NULL) {
        return NGX_OK;
    }

    json_object_foreach(body->tree, key, v) {
        name = ngx_array_push(&body->names);
        if (name == NULL) {
            return NGX_ERROR;
        }

        name->len = ngx_strlen(key);
        name->data = ngx_pnalloc(cf->pool, name->len);
        if (name->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(name->data, key, name->len);

        /* as a client's keys are compared: folded */

        folded = ngx_array_push(&body->folded);
        quoted = ngx_pnalloc(cf->pool, name->len + 2);

        if (folded == NULL || quoted == NULL) {
            return NGX_ERROR;
        }

        quoted[0] = '"';
        ngx_memcpy(quoted + 1, name->data, name->len);
        quoted[name->len + 1] = '"';

        folded->data = quoted;
        folded->len = ngx_edge_auth_json_key_fold(quoted, name->len + 2,
                                                  quoted, name->len + 2);

        if (folded->len > body->fold_size) {
            body->fold_size = folded->len;
        }
    }

    body->fold = ngx_pnalloc(cf->pool, body->fold_size + 1);
    if (body->fold == NULL) {
        return NGX_ERROR;
    }

    text = json_dumps(body->tree, JSON_COMPACT|JSON_PRESERVE_ORDER);
    if (text == NULL) {
        return NGX_ERROR;
    }

    /*
     * "{...," : the start of every body, the comma for when a member of
     * the client's follows
     */

    len = ngx_strlen(text);

    body->members.len = len;
    body->members.data = ngx_pnalloc(cf->pool, len);

    if (body->members.data) {
        ngx_memcpy(body->members.data, text, len - 1);
        body->members.data[len - 1] = ',';
    }

    ngx_explicit_memzero(text, len);
    free(text);

    json_decref(body->tree);
    body->tree = NULL;

    return body->members.data ? NGX_OK : NGX_ERROR;
}


/* requests */

ngx_int_t
ngx_http_credential_body_handler(ngx_http_request_t *r,
    ngx_http_credential_t *cred)
{
    ngx_int_t                        rc;
    ngx_str_t                        message;
    ngx_http_credential_ctx_t       *ctx;
    ngx_http_credential_body_ctx_t  *bctx;

    /* answer codes alone read the body too: each attempt sends it */

    if (cred == NULL || (cred->body == NULL && cred->answer == NULL)) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_credential_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    bctx = ctx->body;

    if (bctx == NULL) {
        bctx = &ctx->body_state;
        bctx->answer = NULL;

        ctx->body = bctx;

        /* a subrequest has whatever body its main request read */

        bctx->state = NGX_HTTP_CREDENTIAL_BODY_READ;

        /* an announced length over the cap is not read at all */

        if (r == r->main && cred->body && cred->body->members.len
            && r->headers_in.content_length_n > (off_t) cred->body->max_size)
        {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "credential: the request body (%O bytes) is over "
                          "body_json_max_size %uz; answering 413",
                          r->headers_in.content_length_n,
                          cred->body->max_size);

            ngx_str_set(&message, "The request body is over "
                                  "body_json_max_size");

            bctx->state = NGX_HTTP_CREDENTIAL_BODY_PASS;

            rc = ngx_edge_auth_send_error(r,
                                          NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                          &ngx_http_credential_large_body,
                                          &message);
            ngx_http_finalize_request(r, rc);
            return NGX_DONE;
        }

        if (r == r->main) {

            /*
             * answer codes start their attempts from the phases run again
             * (answer.c), as nginx's mirror does; body_json alone goes on
             * here when the body is read at once
             */

            bctx->state = (cred->answer && cred->answer->code.len)
                          ? NGX_HTTP_CREDENTIAL_BODY_READING
                          : NGX_HTTP_CREDENTIAL_BODY_AT_ONCE;

            rc = ngx_http_read_client_request_body(r,
                                             ngx_http_credential_body_read);

            if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
                if (bctx->state == NGX_HTTP_CREDENTIAL_BODY_AT_ONCE) {
                    bctx->state = NGX_HTTP_CREDENTIAL_BODY_READING;
                }

                return rc;
            }

            if (bctx->state == NGX_HTTP_CREDENTIAL_BODY_AT_ONCE) {
                bctx->state = NGX_HTTP_CREDENTIAL_BODY_READING;
            }

            if (bctx->state != NGX_HTTP_CREDENTIAL_BODY_READ
                || (cred->answer && cred->answer->code.len))
            {
                /* as mirror does: the body handler runs the phases again */
                ngx_http_finalize_request(r, NGX_DONE);
                return NGX_DONE;
            }

            /*
             * read at once (it came with the request header, or all of it
             * was there to read): on with it here, rather than through the
             * phases and this module's handler once more; the reference
             * the reading took is given back
             */

            r->main->count--;
        }
    }

    switch (bctx->state) {

    case NGX_HTTP_CREDENTIAL_BODY_READING:
        return NGX_AGAIN;

    case NGX_HTTP_CREDENTIAL_BODY_ANSWER:
        return ngx_http_credential_answer_resume(r, bctx);

    case NGX_HTTP_CREDENTIAL_BODY_PASS:
        return NGX_DECLINED;
    }

    if (cred->body && cred->body->members.len) {
        rc = ngx_http_credential_body_inject(r, cred->body, &message);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc != NGX_OK) {
            rc = ngx_edge_auth_send_error(r, rc,
                                 (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE)
                                 ? &ngx_http_credential_large_body
                                 : &ngx_http_credential_invalid_body,
                                 &message);
            ngx_http_finalize_request(r, rc);
            return NGX_DONE;
        }
    }

    if (r == r->main && cred->answer && cred->answer->code.len) {
        bctx->state = NGX_HTTP_CREDENTIAL_BODY_ANSWER;
        return ngx_http_credential_answer_start(r, cred, bctx);
    }

    bctx->state = NGX_HTTP_CREDENTIAL_BODY_PASS;

    return NGX_DECLINED;
}


static void
ngx_http_credential_body_read(ngx_http_request_t *r)
{
    ngx_http_credential_ctx_t       *ctx;
    ngx_http_credential_body_ctx_t  *bctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_credential_module);
    bctx = ctx->body;

    /* error_page and retries send the same body again */
    r->preserve_body = 1;

    if (bctx->state == NGX_HTTP_CREDENTIAL_BODY_AT_ONCE) {
        bctx->state = NGX_HTTP_CREDENTIAL_BODY_READ;
        return;
    }

    bctx->state = NGX_HTTP_CREDENTIAL_BODY_READ;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


/*
 * NGX_OK with r->request_body replaced, an HTTP status with a message for
 * the client, or NGX_ERROR.  The client's body is read where it is: its
 * buffers in memory as they are, its temporary file through a read-only
 * map; the new body is a chain that refers to it.
 */

static ngx_int_t
ngx_http_credential_body_inject(ngx_http_request_t *r,
    ngx_http_credential_body_t *body, ngx_str_t *message)
{
    size_t                         len, size;
    u_char                        *p;
    ngx_int_t                      rc;
    ngx_uint_t                     nbufs;
    ngx_chain_t                   *cl, *out;
    ngx_edge_auth_json_part_t     *last;
    ngx_edge_auth_json_part_t      parts[NGX_HTTP_CREDENTIAL_BODY_PARTS];
    ngx_http_credential_splice_t   splice;

    ngx_memzero(&splice, sizeof(ngx_http_credential_splice_t));

    len = 0;
    nbufs = 0;

    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            len += ngx_buf_size(cl->buf);
            nbufs++;
        }
    }

    if (len > body->max_size) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "credential: the request body (%uz bytes) is over "
                      "body_json_max_size %uz; answering 413",
                      len, body->max_size);

        ngx_str_set(message, "The request body is over body_json_max_size");
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    if (len == 0) {
        ngx_str_set(message, "The request body must be a JSON object; "
                             "it is empty");
        return NGX_HTTP_BAD_REQUEST;
    }

    splice.r = r;
    splice.body = body;
    splice.len = len;
    splice.parts = parts;

    if (ngx_http_credential_body_parts(r, &splice, nbufs) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * The new body's links and its request body structure, with room for
     * the new Content-Length's digits, in one allocation: a link for the
     * members, one for each part kept whole, one for the closing brace.
     * A body that drops members between others gets more, eight at a time.
     */

    splice.nlinks = splice.nparts + 2;

    size = splice.nlinks * sizeof(ngx_http_credential_link_t)
           + sizeof(ngx_http_request_body_t) + NGX_OFF_T_LEN;

    p = ngx_palloc(r->pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    splice.links = (ngx_http_credential_link_t *) p;
    splice.rb = (ngx_http_request_body_t *)
                    (p + splice.nlinks * sizeof(ngx_http_credential_link_t));

    /* the credential's members first, then the client's that remain */

    splice.last = &out;

    splice.head = ngx_http_credential_body_memory(&splice,
                                                  body->members.data,
                                                  body->members.len - 1);
    if (splice.head == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_edge_auth_json_scan(splice.parts, splice.nparts,
                                 ngx_http_credential_body_member, &splice);

    if (splice.error) {
        return NGX_ERROR;
    }

    /*
     * the client's closing brace right after its last member kept: the
     * range takes it, one buffer less for the proxy to send
     */

    last = &splice.parts[splice.nparts - 1];

    if (rc == NGX_EDGE_AUTH_JSON_OBJECT && splice.pending
        && splice.tail == NULL && splice.end + 1 == splice.len
        && last->last[-1] == '}')
    {
        splice.end = splice.len;

        if (ngx_http_credential_body_flush(&splice) != NGX_OK) {
            return NGX_ERROR;
        }

    } else if (ngx_http_credential_body_flush(&splice) != NGX_OK
               || ngx_http_credential_body_memory(&splice, (u_char *) "}", 1)
                  == NULL)
    {
        return NGX_ERROR;
    }

    if (rc != NGX_EDGE_AUTH_JSON_OBJECT) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "credential: the request body is %s; answering 400",
                      rc == NGX_EDGE_AUTH_JSON_INVALID
                      ? "not JSON" : "JSON but not an object");

        if (rc == NGX_EDGE_AUTH_JSON_INVALID) {
            ngx_str_set(message, "The request body must be a JSON object; "
                                 "it is not JSON");
        } else {
            ngx_str_set(message, "The request body must be a JSON object");
        }

        return NGX_HTTP_BAD_REQUEST;
    }

    *splice.last = NULL;

    for (cl = out; cl->next; cl = cl->next) { /* void */ }

    cl->buf->last_buf = 1;
    cl->buf->last_in_chain = 1;

    return ngx_http_credential_body_replace(r, splice.rb, out, splice.size);
}


/*
 * The client's body as the checker's parts, in place: each buffer in
 * memory (nginx reads into one block, one buffer per read: those next to
 * each other are one part; a part read with the request header is
 * elsewhere), each range of the temporary file mapped.
 */

static ngx_int_t
ngx_http_credential_body_parts(ngx_http_request_t *r,
    ngx_http_credential_splice_t *splice, ngx_uint_t nbufs)
{
    ssize_t                     n;
    ngx_int_t                   rc;
    ngx_buf_t                  *b;
    ngx_chain_t                *cl;
    ngx_edge_auth_json_part_t  *part;

    /* more buffers than the stack's parts: only while the body is checked */

    if (nbufs > NGX_HTTP_CREDENTIAL_BODY_PARTS) {
        splice->parts = ngx_palloc(r->pool,
                                   nbufs * sizeof(ngx_edge_auth_json_part_t));
        if (splice->parts == NULL) {
            return NGX_ERROR;
        }
    }

    part = NULL;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        /* a chunked body read into memory ends with an empty buffer */

        if (ngx_buf_size(b) == 0) {
            continue;
        }

        if (ngx_buf_in_memory(b)) {
            if (part && part->last == b->pos) {
                part->last = b->last;
                continue;
            }

            part = &splice->parts[splice->nparts++];
            part->pos = b->pos;
            part->last = b->last;
            continue;
        }

        if (!b->in_file || b->file == NULL) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "credential: a request body buffer is neither "
                          "in memory nor in a file");
            return NGX_ERROR;
        }

        part = &splice->parts[splice->nparts++];

        rc = ngx_http_credential_body_map(r, b, part);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            continue;
        }

        /* not mapped: read, the one copy */

        part->pos = ngx_pnalloc(r->pool, (size_t) ngx_buf_size(b));
        if (part->pos == NULL) {
            return NGX_ERROR;
        }

        n = ngx_read_file(b->file, (u_char *) part->pos,
                          (size_t) ngx_buf_size(b), b->file_pos);

        if (n != (ssize_t) ngx_buf_size(b)) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "credential: read %z of %O bytes of the "
                          "request body from \"%V\"",
                          n, ngx_buf_size(b), &b->file->name);
            return NGX_ERROR;
        }

        part->last = part->pos + n;
    }

    return NGX_OK;
}


/*
 * A range of the temporary file, mapped read-only (the pages are the
 * file's, shared with the page cache) and unmapped with the request;
 * NGX_DECLINED when mmap() fails.
 */

static ngx_int_t
ngx_http_credential_body_map(ngx_http_request_t *r, ngx_buf_t *b,
    ngx_edge_auth_json_part_t *part)
{
    off_t                       aligned;
    u_char                     *map;
    size_t                      size;
    ngx_pool_cleanup_t         *cln;
    ngx_http_credential_map_t  *m;

    aligned = b->file_pos - b->file_pos % (off_t) ngx_pagesize;
    size = (size_t) (b->file_last - aligned);

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_credential_map_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, b->file->fd, aligned);

    if (map == MAP_FAILED) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, ngx_errno,
                      "credential: mmap(\"%V\") of the request body "
                      "failed; reading it into memory", &b->file->name);
        return NGX_DECLINED;
    }

    m = cln->data;
    m->addr = map;
    m->size = size;
    cln->handler = ngx_http_credential_body_unmap;

    part->pos = map + (b->file_pos - aligned);
    part->last = map + size;

    return NGX_OK;
}


static void
ngx_http_credential_body_unmap(void *data)
{
    ngx_http_credential_map_t  *m = data;

    if (m->addr) {
        (void) munmap(m->addr, m->size);
        m->addr = NULL;
    }
}


/* a part of the new body from memory that outlives the request */

static ngx_inline ngx_buf_t *
ngx_http_credential_body_memory(ngx_http_credential_splice_t *splice,
    u_char *data, size_t len)
{
    ngx_buf_t                   *b;
    ngx_chain_t                 *cl;
    ngx_http_credential_link_t  *link;

    /* buffers and links eight at a time: a body has a few of them */

    if (splice->nlinks == 0) {
        splice->links = ngx_palloc(splice->r->pool,
                                   8 * sizeof(ngx_http_credential_link_t));
        if (splice->links == NULL) {
            return NULL;
        }

        splice->nlinks = 8;
    }

    link = splice->links++;
    splice->nlinks--;

    b = &link->buf;
    cl = &link->cl;

    ngx_memzero(b, sizeof(ngx_buf_t));

    /* a retry (proxy_next_upstream) sends the buffer again from start */

    b->start = data;
    b->pos = data;
    b->last = data + len;
    b->end = b->last;
    b->memory = 1;

    cl->buf = b;
    *splice->last = cl;
    splice->last = &cl->next;
    splice->size += len;

    return b;
}


/*
 * The pending range of the client's body, where it is: in memory, or in
 * the map of its temporary file, which lives as long as the request.  Not
 * as a range of the file: a retry (proxy_next_upstream) sends the request
 * again from each buffer's start, and nginx puts the one file buffer it
 * expects back to the start of the file, with the client's own members.
 */

static ngx_int_t
ngx_http_credential_body_flush(ngx_http_credential_splice_t *splice)
{
    if (!splice->pending) {
        return NGX_OK;
    }

    splice->pending = 0;

    return ngx_http_credential_body_range(splice, splice->start, splice->end);
}


/* bytes start to end of the client's body: referred to, or copied */

static ngx_int_t
ngx_http_credential_body_range(ngx_http_credential_splice_t *splice,
    size_t start, size_t end)
{
    size_t                      n, part_end;
    const u_char               *pos;
    ngx_edge_auth_json_part_t  *part;

    part = &splice->parts[splice->part];
    part_end = splice->part_start + (part->last - part->pos);

    while (start < end) {

        /* ranges come in order: the parts before them are done */

        while (start >= part_end) {
            splice->part_start = part_end;
            part = &splice->parts[++splice->part];
            part_end += part->last - part->pos;
        }

        pos = part->pos + (start - splice->part_start);
        n = ngx_min(end, part_end) - start;

        if (splice->tail) {
            splice->tail->last = ngx_cpymem(splice->tail->last, pos, n);
            splice->size += n;

        } else if (ngx_http_credential_body_memory(splice, (u_char *) pos, n)
                   == NULL)
        {
            return NGX_ERROR;
        }

        start += n;
    }

    return NGX_OK;
}


/* len bytes from start, across parts (a key split between two) */

static void
ngx_http_credential_body_copy(ngx_http_credential_splice_t *splice,
    u_char *dst, size_t start, size_t len)
{
    size_t                      n, part_start;
    ngx_edge_auth_json_part_t  *part;

    part = splice->parts;
    part_start = 0;

    while (len) {
        n = part->last - part->pos;

        if (start < part_start + n) {
            n = ngx_min(len, part_start + n - start);
            dst = ngx_cpymem(dst, part->pos + (start - part_start), n);
            start += n;
            len -= n;
        }

        part_start += part->last - part->pos;
        part++;
    }
}


static ngx_int_t
ngx_http_credential_body_replace(ngx_http_request_t *r,
    ngx_http_request_body_t *rb, ngx_chain_t *out, off_t len)
{
    u_char                       *p;
    ngx_table_elt_t              *h;
    ngx_http_credential_stash_t  *stash;

    /* the client's body, for a location the request goes to next */

    if (r == r->main) {
        stash = ngx_http_credential_stash(r, 1);
        if (stash == NULL) {
            return NGX_ERROR;
        }

        if (stash->body == NULL) {
            stash->body = r->request_body;
            stash->content_length_n = r->headers_in.content_length_n;
            stash->chunked = r->headers_in.chunked;

            if (r->headers_in.content_length) {
                stash->content_length = r->headers_in.content_length->value;
            }
        }
    }

    /* a copy: a subrequest shares its main request's; the file stays */

    *rb = *r->request_body;
    rb->bufs = out;
    rb->buf = NULL;

    r->request_body = rb;

    /* proxy sends Content-Length from content_length_n, never chunked */

    r->headers_in.content_length_n = len;
    r->headers_in.chunked = 0;

    if (r->headers_in.content_length) {
        h = r->headers_in.content_length;

        if (r != r->main) {
            h = ngx_palloc(r->pool, sizeof(ngx_table_elt_t));
            if (h == NULL) {
                return NGX_ERROR;
            }

            *h = *r->headers_in.content_length;
            r->headers_in.content_length = h;
        }

        /* the digits in the room after rb (body_inject()) */

        p = (u_char *) (rb + 1);
        h->value.data = p;
        h->value.len = ngx_sprintf(p, "%O", len) - p;
    }

    return NGX_OK;
}


/*
 * In the rewrite phase of an internal request (a redirect, a named
 * location, a subrequest): the client's body again, so that only this
 * location's credential, if any, is written into it.  The stash is the
 * main request's, which the caller has looked up.
 */

ngx_int_t
ngx_http_credential_body_restore(ngx_http_request_t *r,
    ngx_http_credential_stash_t *stash)
{
    ngx_table_elt_t  *h;

    if (stash == NULL || stash->body == NULL
        || r->request_body == stash->body)
    {
        return NGX_OK;
    }

    r->request_body = stash->body;
    r->headers_in.content_length_n = stash->content_length_n;
    r->headers_in.chunked = stash->chunked;

    h = r->headers_in.content_length;

    if (h == NULL) {
        return NGX_OK;
    }

    /* a subrequest's header may be its main request's */

    if (r != r->main) {
        h = ngx_palloc(r->pool, sizeof(ngx_table_elt_t));
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = *r->headers_in.content_length;
        r->headers_in.content_length = h;
    }

    h->value = stash->content_length;

    return NGX_OK;
}


static void
ngx_http_credential_body_member(void *data, const u_char *key,
    size_t key_len, size_t start, size_t end)
{
    ngx_http_credential_splice_t *splice = data;

    u_char  *p;
    size_t   size;

    if (splice->error) {
        return;
    }

    if (key == NULL) {
        p = ngx_pnalloc(splice->r->pool, key_len);
        if (p == NULL) {
            splice->error = 1;
            return;
        }

        ngx_http_credential_body_copy(splice, p, start, key_len);
        key = p;
    }

    if (ngx_http_credential_body_owned(splice->body, key, key_len)) {
        splice->gap = 1;
        return;
    }

    /* next to the previous one kept: the text between is ", " */

    if (splice->pending && !splice->gap) {
        splice->end = end;
        return;
    }

    if (ngx_http_credential_body_flush(splice) != NGX_OK) {
        splice->error = 1;
        return;
    }

    if (splice->tail == NULL
        && splice->ranges == NGX_HTTP_CREDENTIAL_BODY_RANGES)
    {
        /* each comma replaces at least a dropped member: the rest fits */

        size = splice->len - start + 1;

        p = ngx_pnalloc(splice->r->pool, size);
        if (p == NULL) {
            splice->error = 1;
            return;
        }

        splice->tail = ngx_http_credential_body_memory(splice, p, 0);
        if (splice->tail == NULL) {
            splice->error = 1;
            return;
        }

        splice->tail->end = p + size;
    }

    if (splice->ranges == 0) {
        splice->head->last++;       /* the comma after the members */
        splice->head->end++;
        splice->size++;

    } else if (splice->tail) {
        *splice->tail->last++ = ',';
        splice->size++;

    } else if (ngx_http_credential_body_memory(splice, (u_char *) ",", 1)
               == NULL)
    {
        splice->error = 1;
        return;
    }

    splice->start = start;
    splice->end = end;
    splice->pending = 1;
    splice->gap = 0;
    splice->ranges++;
}


/*
 * Is this key (a JSON string, quotes included) one the credential writes,
 * as a partner may read it: escapes decoded, invisible characters gone,
 * case folded (Go's encoding/json matches keys so, the last one winning).
 */

static ngx_uint_t
ngx_http_credential_body_owned(ngx_http_credential_body_t *body,
    const u_char *key, size_t len)
{
    size_t      n;
    ngx_str_t  *name;
    ngx_uint_t  i;

    name = body->folded.elts;

    /* folding never lengthens a key: one shorter than every name is none */

    for (i = 0; i < body->folded.nelts; i++) {
        if (len >= name[i].len) {
            break;
        }
    }

    if (i == body->folded.nelts) {
        return 0;
    }

    n = ngx_edge_auth_json_key_fold(key, len, body->fold, body->fold_size);

    if (n > body->fold_size) {
        return 0;
    }

    for (i = 0; i < body->folded.nelts; i++) {
        if (name[i].len == n && ngx_memcmp(name[i].data, body->fold, n) == 0)
        {
            return 1;
        }
    }

    return 0;
}
