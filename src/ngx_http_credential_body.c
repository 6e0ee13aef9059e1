
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Credentials written into a JSON request body (Octamile's "userInfo"):
 * "body_json PATH VALUE [uuid]" inside a credential block.  The members
 * to write are built once, at configuration time, with jansson.  A request
 * body is checked in one pass by the pure C checker (json_scan), without
 * building a tree, and then spliced as text: the top-level
 * members the credential owns are dropped wherever the client put them,
 * the credential's come first, and every other member follows byte for
 * byte, in the client's order (a re-encoded 0.1 would become
 * 0.10000000000000001).
 */


#include "ngx_http_credential_body.h"
#include "ngx_http_credential_answer.h"
#include "ngx_http_credential_ctx.h"
#include "ngx_edge_auth_error.h"
#include "ngx_edge_auth_json_scan.h"


/* without client_max_body_size ("0"), a body read into memory stops here */
#define NGX_HTTP_CREDENTIAL_BODY_MAX  (1024 * 1024)


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
static ngx_int_t ngx_http_credential_body_replace(ngx_http_request_t *r,
    u_char *data, size_t len);
static void ngx_http_credential_body_member(void *data, const u_char *key,
    size_t key_len, const u_char *end);
static ngx_uint_t ngx_http_credential_body_owned(
    ngx_http_credential_body_t *body, const u_char *key, size_t len);
static void ngx_http_credential_body_zero(void *data);


/* the new body as the checker walks the client's */

typedef struct {
    ngx_http_credential_body_t  *body;
    u_char                      *out;
} ngx_http_credential_splice_t;


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
        != NGX_OK)
    {
        return NULL;
    }

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
    size_t                       len;
    json_t                      *v;
    ngx_str_t                   *name;
    const char                  *key;
    ngx_http_credential_body_t  *body;

    body = cred->body;

    if (body == NULL) {
        return NGX_OK;
    }

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
    }

    text = json_dumps(body->tree, JSON_COMPACT|JSON_PRESERVE_ORDER);
    if (text == NULL) {
        return NGX_ERROR;
    }

    /* "{...}" without its braces: members to put first in every body */

    len = ngx_strlen(text);

    body->members.len = len - 2;
    body->members.data = ngx_pnalloc(cf->pool, len - 2);

    if (body->members.data) {
        ngx_memcpy(body->members.data, text + 1, len - 2);
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
        bctx = ngx_pcalloc(r->pool, sizeof(ngx_http_credential_body_ctx_t));
        if (bctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->body = bctx;

        /* a subrequest has whatever body its main request read */

        bctx->state = NGX_HTTP_CREDENTIAL_BODY_READ;

        if (r == r->main) {
            bctx->state = NGX_HTTP_CREDENTIAL_BODY_READING;

            rc = ngx_http_read_client_request_body(r,
                                             ngx_http_credential_body_read);

            if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
                return rc;
            }

            /* as mirror does: the body handler runs the phases again */
            ngx_http_finalize_request(r, NGX_DONE);
            return NGX_DONE;
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

    bctx->state = NGX_HTTP_CREDENTIAL_BODY_READ;

    /* error_page and retries send the same body again */
    r->preserve_body = 1;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


/*
 * NGX_OK with r->request_body replaced, an HTTP status with a message for
 * the client, or NGX_ERROR.
 */

static ngx_int_t
ngx_http_credential_body_inject(ngx_http_request_t *r,
    ngx_http_credential_body_t *body, ngx_str_t *message)
{
    u_char                        *text, *p, *out, *last;
    off_t                          limit;
    size_t                         len, size;
    ssize_t                        n;
    ngx_int_t                      rc;
    ngx_buf_t                     *b;
    ngx_chain_t                   *cl;
    ngx_pool_cleanup_t            *cln;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_credential_splice_t   splice;

    len = 0;

    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            len += ngx_buf_size(cl->buf);
        }
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    limit = clcf->client_max_body_size ? clcf->client_max_body_size
                                       : NGX_HTTP_CREDENTIAL_BODY_MAX;

    if ((off_t) len > limit) {
        ngx_str_set(message, "The request body is too large to carry "
                             "the credential");
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    if (len == 0) {
        ngx_str_set(message, "The request body must be a JSON object; "
                             "it is empty");
        return NGX_HTTP_BAD_REQUEST;
    }

    cl = r->request_body->bufs;

    /* one buffer in memory (client_body_buffer_size): read in place */

    if (cl->next == NULL && ngx_buf_in_memory(cl->buf)) {
        text = cl->buf->pos;
        cl = NULL;

    } else {
        text = ngx_pnalloc(r->pool, len);
        if (text == NULL) {
            return NGX_ERROR;
        }
    }

    p = text;

    for ( /* void */ ; cl; cl = cl->next) {
        b = cl->buf;
        size = (size_t) ngx_buf_size(b);

        /* a chunked body read into memory ends with an empty buffer */

        if (size == 0) {
            continue;
        }

        if (ngx_buf_in_memory(b)) {
            p = ngx_cpymem(p, b->pos, size);
            continue;
        }

        /* a large body is in client_body_temp_path */

        if (!b->in_file || b->file == NULL) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "credential: a request body buffer is neither "
                          "in memory nor in a file");
            return NGX_ERROR;
        }

        n = ngx_read_file(b->file, p, size, b->file_pos);

        if (n != (ssize_t) size) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "credential: read %z of %uz bytes of the request "
                          "body from \"%V\"", n, size, &b->file->name);
            return NGX_ERROR;
        }

        p += size;
    }

    out = ngx_pnalloc(r->pool, len + body->members.len + 2);
    if (out == NULL) {
        return NGX_ERROR;
    }

    /* the new body holds secrets: zeroed when the request ends */

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_str_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    /* the credential's members first, then the client's that remain */

    splice.body = body;
    splice.out = ngx_cpymem(out, "{", 1);
    splice.out = ngx_cpymem(splice.out, body->members.data,
                            body->members.len);

    rc = ngx_edge_auth_json_scan(text, len, ngx_http_credential_body_member,
                                 &splice);

    last = ngx_cpymem(splice.out, "}", 1);

    ((ngx_str_t *) cln->data)->data = out;
    ((ngx_str_t *) cln->data)->len = last - out;
    cln->handler = ngx_http_credential_body_zero;

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

    return ngx_http_credential_body_replace(r, out, last - out);
}


static ngx_int_t
ngx_http_credential_body_replace(ngx_http_request_t *r, u_char *data,
    size_t len)
{
    ngx_buf_t                    *b;
    ngx_chain_t                  *cl;
    ngx_table_elt_t              *h;
    ngx_http_request_body_t      *rb;
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

    b = ngx_calloc_buf(r->pool);
    cl = ngx_alloc_chain_link(r->pool);
    rb = ngx_palloc(r->pool, sizeof(ngx_http_request_body_t));

    if (b == NULL || cl == NULL || rb == NULL) {
        return NGX_ERROR;
    }

    b->start = data;
    b->pos = data;
    b->last = data + len;
    b->end = data + len;
    b->temporary = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    cl->buf = b;
    cl->next = NULL;

    /* a copy: a subrequest shares its main request's */

    *rb = *r->request_body;
    rb->bufs = cl;
    rb->buf = NULL;
    rb->temp_file = NULL;

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

        h->value.data = ngx_pnalloc(r->pool, NGX_OFF_T_LEN);
        if (h->value.data == NULL) {
            return NGX_ERROR;
        }

        h->value.len = ngx_sprintf(h->value.data, "%uz", len)
                       - h->value.data;
    }

    return NGX_OK;
}


/*
 * In the rewrite phase of an internal request (a redirect, a named
 * location, a subrequest): the client's body again, so that only this
 * location's credential, if any, is written into it.
 */

ngx_int_t
ngx_http_credential_body_restore(ngx_http_request_t *r)
{
    ngx_table_elt_t              *h;
    ngx_http_credential_stash_t  *stash;

    stash = ngx_http_credential_stash(r->main, 0);

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
    size_t key_len, const u_char *end)
{
    ngx_http_credential_splice_t *splice = data;

    if (!ngx_http_credential_body_owned(splice->body, key, key_len)) {
        *splice->out++ = ',';
        splice->out = ngx_cpymem(splice->out, key, end - key);
    }
}


/* is this key (a JSON string, quotes included) one the credential writes */

static ngx_uint_t
ngx_http_credential_body_owned(ngx_http_credential_body_t *body,
    const u_char *key, size_t len)
{
    json_t      *decoded;
    ngx_str_t    k, *name;
    ngx_uint_t   i, owned;

    k.data = (u_char *) key + 1;
    k.len = len - 2;

    decoded = NULL;

    /* "user\u0049nfo" is "userInfo" too */

    if (ngx_strlchr(k.data, k.data + k.len, '\\') != NULL) {
        decoded = json_loadb((char *) key, len,
                             JSON_DECODE_ANY|JSON_ALLOW_NUL, NULL);

        if (decoded == NULL || !json_is_string(decoded)) {
            if (decoded) {
                json_decref(decoded);
            }

            return 1;
        }

        k.data = (u_char *) json_string_value(decoded);
        k.len = json_string_length(decoded);
    }

    owned = 0;
    name = body->names.elts;

    for (i = 0; i < body->names.nelts; i++) {
        if (name[i].len == k.len
            && ngx_memcmp(name[i].data, k.data, k.len) == 0)
        {
            owned = 1;
            break;
        }
    }

    if (decoded) {
        json_decref(decoded);
    }

    return owned;
}


static void
ngx_http_credential_body_zero(void *data)
{
    ngx_str_t  *s = data;

    ngx_explicit_memzero(s->data, s->len);
}
