
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * proxy_cache and credentials.  An answer the proxy caches is served to
 * every request with the same key; the stock key ($scheme$proxy_host
 * $request_uri) does not say which credential fetched it, so one tenant's
 * answer reaches another tenant's location, or one without a credential.
 * nginx -t warns where a location injects a credential into a cached
 * proxy whose key does not vary by $credential_name, and fails where the
 * key holds the injected secret: the key is made after the credential is
 * injected, and written into every cache file.
 *
 * The proxy module's location configuration is private to it: its layout
 * changes between versions and builds.  So the module records what
 * proxy_pass, proxy_cache and proxy_cache_key said, in its own location
 * configuration, by wrapping their handlers in the proxy module's command
 * table before the http block is read (docs/design.md, "proxy_cache").
 */


#include "ngx_http_credential_cache.h"
#include "ngx_http_credential_body.h"
#include "ngx_http_credential_login.h"


typedef char *(*ngx_http_credential_set_pt)(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

typedef struct {
    ngx_str_t                    name;
    ngx_command_t               *cmd;   /* in the proxy module's table */
    ngx_http_credential_set_pt   set;   /* the proxy module's handler */
} ngx_http_credential_wrap_t;


#define NGX_HTTP_CREDENTIAL_PROXY_PASS   0
#define NGX_HTTP_CREDENTIAL_PROXY_CACHE  1
#define NGX_HTTP_CREDENTIAL_PROXY_KEY    2
#define NGX_HTTP_CREDENTIAL_PROXY_HEAD   3


static char *ngx_http_credential_cache_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static void ngx_http_credential_cache_unwrap(void *data);
static ngx_int_t ngx_http_credential_cache_check(ngx_conf_t *cf,
    ngx_http_credential_loc_conf_t *conf);
static u_char *ngx_http_credential_cache_var(u_char *p, u_char *last,
    ngx_str_t *name);
static ngx_int_t ngx_http_credential_cache_secret(ngx_conf_t *cf,
    ngx_http_credential_t *cred, ngx_str_t *var);


/*
 * Static, as the command table is: "nginx -s reload" reads the new
 * configuration in the same process, and finds the handlers wrapped.
 */

static ngx_http_credential_wrap_t  ngx_http_credential_wraps[] = {
    { ngx_string("proxy_pass"), NULL, NULL },
    { ngx_string("proxy_cache"), NULL, NULL },
    { ngx_string("proxy_cache_key"), NULL, NULL },
    /* a cached HEAD goes upstream as GET: the signatures must say so */
    { ngx_string("proxy_cache_convert_head"), NULL, NULL },
    { ngx_null_string, NULL, NULL }
};


ngx_int_t
ngx_http_credential_cache_init(ngx_conf_t *cf)
{
    ngx_uint_t                   i;
    ngx_module_t                *proxy;
    ngx_command_t               *cmd;
    ngx_pool_cleanup_t          *cln;
    ngx_http_credential_wrap_t  *w;

    /* by name: an nginx built without the proxy module still loads us */

    proxy = NULL;

    for (i = 0; cf->cycle->modules[i]; i++) {
        if (ngx_strcmp(cf->cycle->modules[i]->name, "ngx_http_proxy_module")
            == 0)
        {
            proxy = cf->cycle->modules[i];
            break;
        }
    }

    if (proxy == NULL || proxy->commands == NULL) {
        return NGX_OK;
    }

    /*
     * The table outlives this module's shared object when a reload drops
     * load_module: the handlers go back when the cycle that wrapped them
     * goes, before its dlclose() (cleanups run last added first).  The
     * next configuration read wraps them again.
     */

    cln = ngx_pool_cleanup_add(cf->cycle->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_credential_cache_unwrap;
    cln->data = NULL;

    for (w = ngx_http_credential_wraps; w->name.len; w++) {

        for (cmd = proxy->commands; cmd->name.len; cmd++) {
            if (cmd->name.len == w->name.len
                && ngx_strncmp(cmd->name.data, w->name.data, w->name.len)
                   == 0)
            {
                break;
            }
        }

        if (cmd->name.len == 0) {
            continue;
        }

        /* wrapped by the cycle before this one: not twice */

        if (cmd->set != ngx_http_credential_cache_directive) {
            w->set = cmd->set;
            cmd->set = ngx_http_credential_cache_directive;
        }

        w->cmd = cmd;
    }

    return NGX_OK;
}


static void
ngx_http_credential_cache_unwrap(void *data)
{
    ngx_http_credential_wrap_t  *w;

    for (w = ngx_http_credential_wraps; w->name.len; w++) {
        if (w->cmd && w->cmd->set == ngx_http_credential_cache_directive) {
            w->cmd->set = w->set;
        }
    }
}


/* the proxy module's handler first: what it refuses is not recorded */

static char *
ngx_http_credential_cache_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char                            *rv;
    u_char                          *file;
    ngx_str_t                       *value;
    ngx_uint_t                       i, line;
    ngx_http_credential_wrap_t      *w;
    ngx_http_credential_proxy_t     *p;
    ngx_http_credential_loc_conf_t  *clcf;

    for (w = ngx_http_credential_wraps; w->name.len; w++) {
        if (w->cmd == cmd) {
            break;
        }
    }

    if (w->set == NULL) {
        return "is not known to ngx_http_credential_module";
    }

    rv = w->set(cf, cmd, conf);

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /*
     * A reload that drops load_module reads its configuration before the
     * old cycle unwraps: this module has no configuration in the new
     * cycle, and its ctx_index is the old cycle's.
     */

    for (i = 0; cf->cycle->modules[i]; i++) {
        if (cf->cycle->modules[i] == &ngx_http_credential_module) {
            break;
        }
    }

    if (cf->cycle->modules[i] == NULL) {
        return NGX_CONF_OK;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_credential_module);
    p = &clcf->proxy;

    value = cf->args->elts;
    file = cf->conf_file->file.name.data;
    line = cf->conf_file->line;

    switch (w - ngx_http_credential_wraps) {

    case NGX_HTTP_CREDENTIAL_PROXY_PASS:
        p->pass_file = file;
        p->pass_line = line;
        break;

    case NGX_HTTP_CREDENTIAL_PROXY_CACHE:
        p->cache = (ngx_strcmp(value[1].data, "off") != 0);
        p->cache_file = file;
        p->cache_line = line;
        break;

    case NGX_HTTP_CREDENTIAL_PROXY_KEY:
        p->key = value[1];
        p->key_file = file;
        p->key_line = line;
        break;

    default: /* NGX_HTTP_CREDENTIAL_PROXY_HEAD */
        p->convert_head = (ngx_strcmp(value[1].data, "off") != 0);
        break;
    }

    return NGX_CONF_OK;
}


/*
 * Inherited as the proxy module inherits them; proxy_pass is not (an "if"
 * block without one proxies as its location, which is checked).
 */

char *
ngx_http_credential_cache_merge(ngx_conf_t *cf,
    ngx_http_credential_loc_conf_t *prev, ngx_http_credential_loc_conf_t *conf)
{
    ngx_http_credential_proxy_t  *p, *pp;

    p = &conf->proxy;
    pp = &prev->proxy;

    if (p->cache == NGX_CONF_UNSET) {
        p->cache = pp->cache;
        p->cache_file = pp->cache_file;
        p->cache_line = pp->cache_line;
    }

    if (p->convert_head == NGX_CONF_UNSET) {
        p->convert_head = pp->convert_head;
    }

    if (p->key_file == NULL) {
        p->key = pp->key;
        p->key_file = pp->key_file;
        p->key_line = pp->key_line;
    }

    if (p->pass_file == NULL || p->cache != 1 || conf->ref.target == NULL) {
        return NGX_CONF_OK;
    }

    if (ngx_http_credential_cache_check(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* a location that injects a credential and caches what it proxies */

static ngx_int_t
ngx_http_credential_cache_check(ngx_conf_t *cf,
    ngx_http_credential_loc_conf_t *conf)
{
    u_char                       *p, *last;
    ngx_int_t                     rc;
    ngx_str_t                     var;
    ngx_uint_t                    varies;
    ngx_http_credential_t        *cred;
    ngx_http_core_loc_conf_t     *core;
    ngx_http_credential_proxy_t  *proxy;

    proxy = &conf->proxy;
    cred = conf->ref.target;
    core = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    varies = 0;

    /* the default key, $scheme$proxy_host$request_uri, has neither */

    p = proxy->key.data;
    last = p + proxy->key.len;

    while (p < last) {
        p = ngx_http_credential_cache_var(p, last, &var);

        if (var.len == 0) {
            continue;
        }

        if (var.len == sizeof("credential_name") - 1
            && ngx_strncasecmp(var.data, (u_char *) "credential_name",
                               var.len)
               == 0)
        {
            varies = 1;
            continue;
        }

        rc = ngx_http_credential_cache_secret(cf, cred, &var);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "proxy_cache_key \"%V\" in %s:%ui: \"$%V\" would "
                          "write a secret into cache files (location "
                          "\"%V\" injects credential \"%V\" before the "
                          "key is made); use $credential_name instead",
                          &proxy->key, proxy->key_file, proxy->key_line,
                          &var, &core->name, &cred->name);
            return NGX_ERROR;
        }
    }

    if (!varies) {
        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "location \"%V\" in %s:%ui injects credential \"%V\" "
                      "and caches its answers (proxy_cache in %s:%ui) "
                      "under a key that does not vary by credential: "
                      "another credential's location, or one without, "
                      "can be served them; add $credential_name to %s, "
                      "as in \"proxy_cache_key $credential_name$scheme"
                      "$proxy_host$request_uri;\"",
                      &core->name, proxy->pass_file, proxy->pass_line,
                      &cred->name, proxy->cache_file, proxy->cache_line,
                      proxy->key_file ? "the proxy_cache_key"
                                      : "a proxy_cache_key");
    }

    return NGX_OK;
}


/*
 * The next variable of a complex value's text, as nginx's script compiler
 * reads it: "$name" or "${name}"; an empty name where there is none.
 */

static u_char *
ngx_http_credential_cache_var(u_char *p, u_char *last, ngx_str_t *name)
{
    u_char  *start;

    ngx_str_null(name);

    if (*p++ != '$' || p == last) {
        return p;
    }

    if (*p == '{') {
        start = ++p;

        while (p < last && *p != '}') {
            p++;
        }

        name->data = start;
        name->len = p - start;

        return (p < last) ? p + 1 : p;
    }

    start = p;

    while (p < last
           && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
               || (*p >= '0' && *p <= '9') || *p == '_'))
    {
        p++;
    }

    name->data = start;
    name->len = p - start;

    return p;
}


/*
 * A variable that holds what the credential injects: any request header
 * it sets ($http_NAME, "_" for "-"), its token cookie, the body it writes
 * into; and $http_authorization always, the client's or ours.  1: a
 * secret, 0: not one.
 */

static ngx_int_t
ngx_http_credential_cache_secret(ngx_conf_t *cf, ngx_http_credential_t *cred,
    ngx_str_t *var)
{
    u_char                      *low;
    size_t                       len;
    ngx_str_t                    name;
    ngx_uint_t                   i;
    ngx_table_elt_t             *h;
    ngx_http_credential_tmpl_t  *t;

    low = ngx_pnalloc(cf->temp_pool, var->len);
    if (low == NULL) {
        return NGX_ERROR;
    }

    ngx_strlow(low, var->data, var->len);
    len = var->len;

    if (len == sizeof("http_authorization") - 1
        && ngx_strncmp(low, "http_authorization", len) == 0)
    {
        return 1;
    }

    if (len == sizeof("request_body") - 1
        && ngx_strncmp(low, "request_body", len) == 0)
    {
        return cred->body != NULL;
    }

    if (len > sizeof("cookie_") - 1
        && ngx_strncmp(low, "cookie_", sizeof("cookie_") - 1) == 0)
    {
        name.data = var->data + sizeof("cookie_") - 1;
        name.len = len - (sizeof("cookie_") - 1);

        /* nginx looks cookies up in any letter case */

        return cred->login && cred->login->cookie.len == name.len
               && ngx_strncasecmp(cred->login->cookie.data, name.data,
                                  name.len)
                  == 0;
    }

    if (len <= sizeof("http_") - 1
        || ngx_strncmp(low, "http_", sizeof("http_") - 1) != 0)
    {
        return 0;
    }

    name.data = low + sizeof("http_") - 1;
    name.len = len - (sizeof("http_") - 1);

    h = cred->headers.elts;

    for (i = 0; i < cred->headers.nelts; i++) {
        if (h[i].key.len == name.len
            && ngx_http_credential_same_name(h[i].lowcase_key, name.data,
                                             name.len))
        {
            return 1;
        }
    }

    if (cred->login == NULL) {
        return 0;
    }

    t = cred->login->inject.elts;

    for (i = 0; i < cred->login->inject.nelts; i++) {
        if (t[i].name.len == name.len
            && ngx_http_credential_same_name(t[i].lowcase, name.data,
                                             name.len))
        {
            return 1;
        }
    }

    return 0;
}
