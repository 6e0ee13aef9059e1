
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * What every layer of the credential module shares about configuration:
 * its structures (ngx_http_credential_conf.h) and the checks that more
 * than one directive makes: secrets, header names, JSON paths, bounds,
 * argument counts, key/value lists.
 */


#include "ngx_http_credential_conf.h"
#include "ngx_edge_auth_secret.h"
#include "ngx_edge_auth_huge.h"


/*
 * The credentials' pool (ngx_http_credential_block_pool()): past
 * NGX_HTTP_CREDENTIAL_HUGE_AFTER credentials it reads them into blocks of
 * one 2 MB page each, a new block when less than NGX_HTTP_CREDENTIAL_ROOM
 * is left for the next credential.
 */
#define NGX_HTTP_CREDENTIAL_HUGE_AFTER  64
#define NGX_HTTP_CREDENTIAL_ROOM        (64 * 1024)


/* a 2 MB block of the pool: this header, then what the pool allocates */

struct ngx_http_credential_huge_s {
    ngx_pool_data_t              d;
    ngx_http_credential_huge_t  *next;
};


typedef struct {
    ngx_http_credential_main_conf_t  *cmcf;
    ngx_pool_t                       *parent;
} ngx_http_credential_pool_cln_t;


static ngx_int_t ngx_http_credential_pool_grow(
    ngx_http_credential_main_conf_t *cmcf);
static void ngx_http_credential_pool_destroy(void *data);


/* framing and hop-by-hop headers belong to nginx, not to a credential */

static ngx_str_t  ngx_http_credential_reserved[] = {
    ngx_string("host"),
    ngx_string("content-length"),
    ngx_string("transfer-encoding"),
    ngx_string("connection"),
    ngx_string("keep-alive"),
    ngx_string("proxy-connection"),
    ngx_string("te"),
    ngx_string("trailer"),
    ngx_string("upgrade"),
    ngx_string("expect"),
    ngx_null_string
};


/*
 * The pool a credential block is read into, one of the configuration's
 * own, destroyed with it.  Most of a large "nginx -t" was touching new
 * memory, some 2.5 KB a credential, in page faults that cost microseconds
 * each in a VM; past NGX_HTTP_CREDENTIAL_HUGE_AFTER credentials the pool
 * takes its blocks in 2 MB pages (Linux, MADV_HUGEPAGE): a fault for 2 MB
 * instead of 512.  A small configuration keeps its 4 KB pages, and its
 * resident memory.
 */

ngx_pool_t *
ngx_http_credential_block_pool(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf)
{
    ngx_pool_cleanup_t              *cln;
    ngx_http_credential_pool_cln_t  *pc;

    if (cmcf->pool == NULL) {
        cln = ngx_pool_cleanup_add(cf->pool,
                                   sizeof(ngx_http_credential_pool_cln_t));
        if (cln == NULL) {
            return NULL;
        }

        cmcf->pool = ngx_create_pool(NGX_CYCLE_POOL_SIZE, cf->log);
        if (cmcf->pool == NULL) {
            return NULL;
        }

        pc = cln->data;
        pc->cmcf = cmcf;
        pc->parent = cf->pool;
        cln->handler = ngx_http_credential_pool_destroy;
    }

    /* without a 2 MB block, the pool's own blocks as before */

    if (cmcf->credentials.nelts >= NGX_HTTP_CREDENTIAL_HUGE_AFTER
        && (size_t) (cmcf->pool->current->d.end
                     - cmcf->pool->current->d.last)
           < NGX_HTTP_CREDENTIAL_ROOM)
    {
        (void) ngx_http_credential_pool_grow(cmcf);
    }

    return cmcf->pool;
}


static ngx_int_t
ngx_http_credential_pool_grow(ngx_http_credential_main_conf_t *cmcf)
{
    ngx_pool_t                  *p;
    ngx_http_credential_huge_t  *h;

    h = ngx_edge_auth_huge_alloc(NGX_EDGE_AUTH_HUGE, NGX_EDGE_AUTH_HUGE);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->d.last = (u_char *) h + sizeof(ngx_http_credential_huge_t);
    h->d.end = (u_char *) h + NGX_EDGE_AUTH_HUGE;
    h->d.next = NULL;
    h->d.failed = 0;

    h->next = cmcf->huge;
    cmcf->huge = h;

    /* the last block of the chain, and the one allocations start from */

    for (p = cmcf->pool; p->d.next; p = p->d.next) { /* void */ }

    p->d.next = (ngx_pool_t *) h;
    cmcf->pool->current = (ngx_pool_t *) h;

    return NGX_OK;
}


static void
ngx_http_credential_pool_destroy(void *data)
{
    ngx_http_credential_pool_cln_t  *pc = data;

    ngx_pool_t                  *p, *pool;
    ngx_http_credential_huge_t  *h;

    pool = pc->cmcf->pool;

    /* the log it was created with may be an earlier cycle's, gone */
    pool->log = pc->parent->log;

    /* the 2 MB blocks leave the chain, so that the pool frees its own */

    for (p = pool; p->d.next; /* void */) {

        for (h = pc->cmcf->huge; h; h = h->next) {
            if ((ngx_pool_t *) h == p->d.next) {
                break;
            }
        }

        if (h) {
            p->d.next = p->d.next->d.next;

        } else {
            p = p->d.next;
        }
    }

    /* its cleanups may read the 2 MB blocks: unmapped after */

    ngx_destroy_pool(pool);

    while (pc->cmcf->huge) {
        h = pc->cmcf->huge;
        pc->cmcf->huge = h->next;
        ngx_edge_auth_huge_free(h, NGX_EDGE_AUTH_HUGE);
    }
}


/* a secret argument, named in messages as: DIRECTIVE "NAME" */

ngx_int_t
ngx_http_credential_secret(ngx_conf_t *cf, ngx_str_t *directive,
    ngx_str_t *name, ngx_str_t *arg, ngx_str_t *secret)
{
    u_char  *what, *p, buf[128];
    size_t   len;

    /* every login_param has one: no ngx_sprintf(), no allocation */

    len = directive->len + name->len + sizeof(" \"\"");

    if (len <= sizeof(buf)) {
        what = buf;

    } else {
        what = ngx_pnalloc(cf->temp_pool, len);
        if (what == NULL) {
            return NGX_ERROR;
        }
    }

    p = ngx_cpymem(what, directive->data, directive->len);
    *p++ = ' '; *p++ = '"';
    p = ngx_cpymem(p, name->data, name->len);
    *p++ = '"'; *p = '\0';

    return ngx_edge_auth_secret(cf, arg, secret, (char *) what);
}


ngx_int_t
ngx_http_credential_check_name(ngx_conf_t *cf, ngx_str_t *name)
{
    u_char      c;
    ngx_uint_t  i;
    ngx_str_t  *r;

    /* RFC 9110 token characters */

    for (i = 0; i < name->len; i++) {
        c = name->data[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9')
            || ngx_strchr("!#$%&'*+-.^_`|~", c) != NULL)
        {
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid header name \"%V\": byte 0x%02Xd at "
                           "offset %ui is not allowed in a header name",
                           name, (ngx_uint_t) c, i);
        return NGX_ERROR;
    }

    for (r = ngx_http_credential_reserved; r->len; r++) {
        if (r->len == name->len
            && ngx_strncasecmp(r->data, name->data, name->len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "header \"%V\" cannot be injected: nginx "
                               "manages it for the upstream connection",
                               name);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* posts of stock slots: the value within the bounds, else the message */

char *
ngx_http_credential_size_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_http_credential_bounds_t *bounds = post;
    size_t                       *sp = data;

    ngx_str_t  *value;

    if (*sp >= bounds->low && (bounds->high == 0 || *sp <= bounds->high)) {
        return NGX_CONF_OK;
    }

    value = cf->args->elts;

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, bounds->message, &value[1]);

    return NGX_CONF_ERROR;
}


char *
ngx_http_credential_msec_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_http_credential_bounds_t *bounds = post;
    ngx_msec_t                   *mp = data;

    ngx_str_t  *value;

    if (*mp >= bounds->low && (bounds->high == 0 || *mp <= bounds->high)) {
        return NGX_CONF_OK;
    }

    value = cf->args->elts;

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, bounds->message, &value[1]);

    return NGX_CONF_ERROR;
}


/* 1MORE and 2MORE have no upper bound: a setter that has one checks it */

ngx_int_t
ngx_http_credential_args_max(ngx_conf_t *cf, ngx_uint_t max)
{
    ngx_str_t              *value;
    ngx_http_credential_t  *cred;

    if (cf->args->nelts - 1 <= max) {
        return NGX_OK;
    }

    /* the credential whose block is being read */
    cred = (ngx_http_credential_t *) cf->handler_conf;
    value = cf->args->elts;

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid number of arguments in \"%V\" directive "
                       "of credential \"%V\"", &value[0], &cred->name);

    return NGX_ERROR;
}


/*
 * login_param, refresh_param, authorize_param: NAME VALUE pairs pushed to
 * the array at cmd->offset; the value may be a secret, so messages name
 * the directive and the key only.
 */

char *
ngx_http_credential_keyval_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t     *value;
    ngx_array_t   *a;
    ngx_keyval_t  *kv;

    a = (ngx_array_t *) (p + cmd->offset);
    value = cf->args->elts;

    /* an array left empty until its first directive */

    if (a->elts == NULL
        && ngx_array_init(a, cf->pool, 2, sizeof(ngx_keyval_t)) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    kv = ngx_array_push(a);
    if (kv == NULL) {
        return NGX_CONF_ERROR;
    }

    kv->key = value[1];

    if (ngx_http_credential_secret(cf, &value[0], &value[1], &value[2],
                                   &kv->value)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * A dotted path of object keys.  Keys are kept to visible ASCII without
 * quotes and backslashes: the partner's names, written as they are sent.
 */

ngx_int_t
ngx_http_credential_check_path(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *directive)
{
    u_char      c, prev;
    ngx_uint_t  i;

    prev = '.';

    for (i = 0; i < path->len; i++) {
        c = path->data[i];

        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\'
            || (c == '.' && prev == '.'))
        {
            break;
        }

        prev = c;
    }

    if (path->len == 0 || i < path->len || prev == '.') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid JSON path \"%V\" in \"%V\": expected "
                           "keys of visible ASCII separated by dots, such "
                           "as \"userInfo.athrzt.id\"", path, directive);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * NAME VALUE ...: up to 8 values into the ngx_str_t array at cmd->offset,
 * given once; cmd->post, if any, checks each value.
 */

char *
ngx_http_credential_list_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    char             *rv;
    ngx_str_t        *value, *s;
    ngx_uint_t        i;
    ngx_array_t      *a;
    ngx_conf_post_t  *post;

    a = (ngx_array_t *) (p + cmd->offset);

    if (a->nelts) {
        return "is duplicate";
    }

    if (ngx_http_credential_args_max(cf, 8) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;
    post = cmd->post;

    if (a->elts == NULL
        && ngx_array_init(a, cf->pool, cf->args->nelts - 1, sizeof(ngx_str_t))
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (post) {
            rv = post->post_handler(cf, post, &value[i]);

            if (rv != NGX_CONF_OK) {
                return rv;
            }
        }

        s = ngx_array_push(a);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    return NGX_CONF_OK;
}


/*
 * Two lower-case header names of one length that an upstream takes for
 * one: "_" equal to "-", as CGI-style upstreams turn both into "_".  The
 * request path compares the client's headers with it too.
 */

ngx_uint_t
ngx_http_credential_same_name(u_char *a, u_char *b, size_t len)
{
    ngx_uint_t  i;

    for (i = 0; i < len; i++) {
        if (a[i] == b[i]) {
            continue;
        }

        if ((a[i] == '_' || a[i] == '-') && (b[i] == '_' || b[i] == '-')) {
            continue;
        }

        return 0;
    }

    return 1;
}
