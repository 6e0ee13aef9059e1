
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Upstream credential injection: "credential NAME { ... }" says what to
 * add to a proxied request, "credential_inject NAME" says where.  This
 * file is the module itself: its directives, the life of its
 * configuration, and the credential block, whose directives are the
 * command tables of the feature files.  The request path is in
 * ngx_http_credential_handler.c.
 */


#include "ngx_http_credential_conf.h"
#include "ngx_http_credential_answer.h"
#include "ngx_http_credential_cache.h"
#include "ngx_http_credential_body.h"
#include "ngx_http_credential_fleet.h"
#include "ngx_http_credential_handler.h"
#include "ngx_http_credential_httpsig.h"
#include "ngx_http_credential_login.h"
#include "ngx_http_credential_login_conf.h"
#include "ngx_http_credential_oauth_conf.h"
#include "ngx_http_credential_renew.h"
#include "ngx_http_credential_sigv4.h"
#include "ngx_http_credential_status.h"
#include "ngx_edge_auth_http.h"
#include "ngx_edge_auth_ref.h"
#include "ngx_edge_auth_secret.h"
#include "ngx_edge_auth_store.h"


/* a feature's directives inside a credential block, and their part */

typedef struct {
    ngx_command_t                *commands;
    ngx_http_credential_part_pt   part;
} ngx_http_credential_table_t;


static ngx_int_t ngx_http_credential_block_finish(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred);
static char *ngx_http_credential_store(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_credential_init_main_conf(ngx_conf_t *cf, void *conf);
static ngx_int_t ngx_http_credential_init_process(ngx_cycle_t *cycle);
static void ngx_http_credential_exit_process(ngx_cycle_t *cycle);
static ngx_http_credential_main_conf_t *ngx_http_credential_cycle_conf(
    ngx_cycle_t *cycle);
static char *ngx_http_credential_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_credential_block_read(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_credential_directive(ngx_conf_t *cf,
    ngx_command_t *dummy, void *conf);
static ngx_uint_t ngx_http_credential_nargs(ngx_command_t *cmd,
    ngx_uint_t nelts);
static char *ngx_http_credential_invalid(ngx_conf_t *cf,
    ngx_command_t *cmd);
static void *ngx_http_credential_self(ngx_conf_t *cf,
    ngx_http_credential_t *cred);
static char *ngx_http_credential_basic(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_credential_header(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_credential_add_header(ngx_conf_t *cf,
    ngx_http_credential_t *cred, ngx_str_t *name, ngx_str_t *value);
static char *ngx_http_credential_inject(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void *ngx_http_credential_find(ngx_conf_t *cf, ngx_str_t *name);
static ngx_int_t ngx_http_credential_preconfiguration(ngx_conf_t *cf);
static void *ngx_http_credential_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_credential_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_credential_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_credential_init(ngx_conf_t *cf);


static ngx_conf_num_bounds_t  ngx_http_credential_login_concurrency = {
    ngx_conf_check_num_bounds, 1, 1024
};


static ngx_command_t  ngx_http_credential_commands[] = {

    { ngx_string("credential"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_credential_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("credential_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_credential_store,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("login_concurrency"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_credential_main_conf_t, login_concurrency),
      &ngx_http_credential_login_concurrency },

    { ngx_string("credential_inject"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_credential_inject,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("credential_connect"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_credential_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("credential_callback"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_credential_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("credential_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_credential_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("credential_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_ANY,
      ngx_http_credential_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_credential_module_ctx = {
    ngx_http_credential_preconfiguration,  /* preconfiguration */
    ngx_http_credential_init,              /* postconfiguration */

    ngx_http_credential_create_main_conf,  /* create main configuration */
    ngx_http_credential_init_main_conf,    /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_credential_create_loc_conf,   /* create location configuration */
    ngx_http_credential_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_credential_module = {
    NGX_MODULE_V1,
    &ngx_http_credential_module_ctx,       /* module context */
    ngx_http_credential_commands,          /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_credential_init_process,      /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_credential_exit_process,      /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* the credential's own directives: static headers */

static ngx_command_t  ngx_http_credential_block_commands[] = {

    { ngx_string("basic"),
      NGX_CONF_TAKE2,
      ngx_http_credential_basic,
      0,
      0,
      NULL },

    { ngx_string("header"),
      NGX_CONF_TAKE2,
      ngx_http_credential_header,
      0,
      0,
      NULL },

      ngx_null_command
};


/* the directives of a credential block, walked in this order */

static ngx_http_credential_table_t  ngx_http_credential_tables[] = {
    { ngx_http_credential_block_commands, ngx_http_credential_self },
    { ngx_http_credential_body_commands, ngx_http_credential_get_body },
    { ngx_http_credential_answer_commands, ngx_http_credential_get_answer },
    { ngx_http_credential_login_commands, ngx_http_credential_get_login },
    { ngx_http_credential_oauth_commands, ngx_http_credential_get_oauth },
    { ngx_http_credential_sigv4_commands, ngx_http_credential_get_sigv4 },
    { ngx_http_credential_httpsig_commands,
      ngx_http_credential_get_httpsig },
    { NULL, NULL }
};


/* as ngx_conf_handler() counts arguments: the directive's name too */

static ngx_uint_t  ngx_http_credential_argument_number[] = {
    NGX_CONF_NOARGS,
    NGX_CONF_TAKE1,
    NGX_CONF_TAKE2,
    NGX_CONF_TAKE3,
    NGX_CONF_TAKE4,
    NGX_CONF_TAKE5,
    NGX_CONF_TAKE6,
    NGX_CONF_TAKE7
};


static ngx_http_variable_t  ngx_http_credential_vars[] = {

    { ngx_string("credential_name"), NULL,
      ngx_edge_auth_ref_variable, (uintptr_t) &ngx_http_credential_module,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* a credential block is read into the credentials' pool (conf.c) */

static char *
ngx_http_credential_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char        *rv;
    ngx_pool_t  *pool;

    pool = cf->pool;

    cf->pool = ngx_http_credential_block_pool(cf, conf);
    if (cf->pool == NULL) {
        cf->pool = pool;
        return NGX_CONF_ERROR;
    }

    rv = ngx_http_credential_block_read(cf, cmd, conf);

    cf->pool = pool;

    return rv;
}


static char *
ngx_http_credential_block_read(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_credential_main_conf_t *cmcf = conf;

    char                    *rv;
    u_char                 **lc;
    ngx_str_t               *value, *secret;
    ngx_uint_t               i;
    ngx_conf_t               save;
    ngx_table_elt_t         *h;
    ngx_http_credential_t   *cred, **credp;

    value = cf->args->elts;

    if (ngx_http_credential_find(cf, &value[1]) != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate credential \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    cred = ngx_pcalloc(cf->pool, sizeof(ngx_http_credential_t));
    if (cred == NULL) {
        return NGX_CONF_ERROR;
    }

    cred->name = value[1];
    cred->file = cf->conf_file->file.name.data;
    cred->line = cf->conf_file->line;

    /* cred->headers: created by the first header (a token one has none) */

    /* setters that name the credential find it in cf->handler_conf */

    save = *cf;
    cf->handler = ngx_http_credential_directive;
    cf->handler_conf = (char *) cred;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (cred->headers.nelts == 0 && cred->login == NULL
        && cred->body == NULL && cred->answer == NULL && cred->sigv4 == NULL
        && cred->httpsig == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credential \"%V\" injects nothing: add \"basic\", "
                           "\"header\", \"body_json\", \"aws_sigv4\" or "
                           "\"http_signature\"", &cred->name);
        return NGX_CONF_ERROR;
    }

    if (cred->sigv4
        && ngx_http_credential_sigv4_finish(cf, cmcf, cred) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (cred->httpsig
        && ngx_http_credential_httpsig_finish(cf, cmcf, cred) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_credential_answer_finish(cf, cred) != NGX_OK
        || ngx_http_credential_body_finish(cf, cred) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (cred->login
        && ngx_http_credential_block_finish(cf, cmcf, cred) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    credp = ngx_array_push(&cmcf->credentials);
    if (credp == NULL
        || ngx_edge_auth_names_add(cf, &cmcf->names, cred) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    *credp = cred;

    h = cred->headers.elts;

    for (i = 0; i < cred->headers.nelts; i++) {
        lc = ngx_array_push(&cmcf->injected);
        secret = ngx_array_push(&cmcf->secrets);

        if (lc == NULL || secret == NULL) {
            return NGX_CONF_ERROR;
        }

        *lc = h[i].lowcase_key;
        *secret = h[i].value;

        /* "Basic <base64>": the base64 part alone may be logged too */
        if (h[i].value.len > sizeof("Basic ") - 1
            && ngx_strncmp(h[i].value.data, "Basic ", sizeof("Basic ") - 1)
               == 0)
        {
            secret->data += sizeof("Basic ") - 1;
            secret->len -= sizeof("Basic ") - 1;
        }
    }

    return NGX_CONF_OK;
}


/*
 * One directive inside a credential block, found in the feature tables and
 * run as ngx_conf_handler() runs a module's: the arguments counted from
 * cmd->type, the setter given the part its offsets point into, and a
 * string it returns logged as "NAME" directive STRING.
 */

static char *
ngx_http_credential_directive(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf)
{
    ngx_http_credential_t *cred = conf;

    char                         *rv;
    void                         *part;
    ngx_str_t                    *value;
    ngx_command_t                *cmd;
    ngx_http_credential_table_t  *t;

    value = cf->args->elts;

    for (t = ngx_http_credential_tables; t->commands; t++) {
        for (cmd = t->commands; cmd->name.len; cmd++) {

            if (cmd->name.len == value[0].len
                && ngx_strcmp(cmd->name.data, value[0].data) == 0)
            {
                goto found;
            }
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown directive \"%V\" in credential \"%V\"",
                       &value[0], &cred->name);

    return NGX_CONF_ERROR;

found:

    if (!ngx_http_credential_nargs(cmd, cf->args->nelts)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of arguments in \"%V\" "
                           "directive of credential \"%V\"",
                           &value[0], &cred->name);
        return NGX_CONF_ERROR;
    }

    part = t->part(cf, cred);
    if (part == NULL) {
        return NGX_CONF_ERROR;
    }

    rv = cmd->set(cf, cmd, part);

    if (rv == NGX_CONF_OK || rv == NGX_CONF_ERROR) {
        return rv;
    }

    if (ngx_strcmp(rv, "invalid value") == 0) {
        return ngx_http_credential_invalid(cf, cmd);
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%s\" directive %s", value[0].data, rv);

    return NGX_CONF_ERROR;
}


static ngx_uint_t
ngx_http_credential_nargs(ngx_command_t *cmd, ngx_uint_t nelts)
{
    if (cmd->type & NGX_CONF_ANY) {
        return 1;
    }

    if (cmd->type & NGX_CONF_FLAG) {
        return nelts == 2;
    }

    if (cmd->type & NGX_CONF_1MORE) {
        return nelts >= 2;
    }

    if (cmd->type & NGX_CONF_2MORE) {
        return nelts >= 3;
    }

    if (nelts > NGX_CONF_MAX_ARGS) {
        return 0;
    }

    return (cmd->type & ngx_http_credential_argument_number[nelts - 1]) != 0;
}


/*
 * A stock slot that cannot parse its value says "invalid value" only:
 * the block's messages name the value and what it should be, as
 * "invalid time "soon" in "token_lifetime"" always did.
 */

static char *
ngx_http_credential_invalid(ngx_conf_t *cf, ngx_command_t *cmd)
{
    ngx_str_t                     *value;
    ngx_conf_post_t               *post;
    ngx_http_credential_bounds_t  *bounds;

    value = cf->args->elts;
    post = cmd->post;

    if (post
        && (post->post_handler == ngx_http_credential_size_bounds
            || post->post_handler == ngx_http_credential_msec_bounds))
    {
        bounds = cmd->post;
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, bounds->message, &value[1]);
        return NGX_CONF_ERROR;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid %s \"%V\" in \"%V\"",
                       (cmd->set == ngx_conf_set_msec_slot) ? "time"
                       : (cmd->set == ngx_conf_set_size_slot) ? "size"
                       : "value",
                       &value[1], &value[0]);

    return NGX_CONF_ERROR;
}


/* basic and header write into the credential itself */

static void *
ngx_http_credential_self(ngx_conf_t *cf, ngx_http_credential_t *cred)
{
    return cred;
}


static char *
ngx_http_credential_basic(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_credential_t *cred = conf;

    ngx_str_t  *value, user, password, header, name;

    if (cred->basic) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_edge_auth_secret(cf, &value[1], &user, "basic user") != NGX_OK
        || ngx_edge_auth_secret(cf, &value[2], &password, "basic password")
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* RFC 7617: the user-id cannot contain a colon */

    if (ngx_strlchr(user.data, user.data + user.len, ':') != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "basic user must not contain \":\" (RFC 7617)");
        return NGX_CONF_ERROR;
    }

    if (ngx_edge_auth_basic(cf, &user, &password, 0, &header) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&name, "Authorization");

    cred->basic = 1;

    if (ngx_http_credential_add_header(cf, cred, &name, &header) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* a list: one header per name */

static char *
ngx_http_credential_header(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_credential_t *cred = conf;

    ngx_str_t  *value, secret;

    value = cf->args->elts;

    if (ngx_http_credential_check_name(cf, &value[1]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_credential_secret(cf, &value[0], &value[1], &value[2],
                                   &secret)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_credential_add_header(cf, cred, &value[1], &secret)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_credential_add_header(ngx_conf_t *cf, ngx_http_credential_t *cred,
    ngx_str_t *name, ngx_str_t *value)
{
    u_char           *lowcase;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    lowcase = ngx_pnalloc(cf->pool, name->len);
    if (lowcase == NULL) {
        return NGX_ERROR;
    }

    ngx_strlow(lowcase, name->data, name->len);

    h = cred->headers.elts;

    for (i = 0; i < cred->headers.nelts; i++) {
        if (h[i].key.len == name->len
            && ngx_http_credential_same_name(h[i].lowcase_key, lowcase,
                                             name->len))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "credential \"%V\" sets header \"%V\" twice%s",
                               &cred->name, name,
                               cred->basic ? " (\"basic\" sets "
                                             "\"Authorization\")"
                                           : "");
            return NGX_ERROR;
        }
    }

    if (cred->headers.elts == NULL
        && ngx_array_init(&cred->headers, cf->pool, 2, sizeof(ngx_table_elt_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    h = ngx_array_push(&cred->headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(h, sizeof(ngx_table_elt_t));

    h->key = *name;
    h->lowcase_key = lowcase;
    h->hash = ngx_hash_key(lowcase, name->len);
    h->value = *value;

    return NGX_OK;
}


static char *
ngx_http_credential_inject(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_credential_loc_conf_t *clcf = conf;

    return ngx_edge_auth_ref_set(cf, &clcf->ref);
}


static void *
ngx_http_credential_find(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_http_credential_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_credential_module);

    return ngx_edge_auth_names_find(&mcf->names, name);
}


/* before the http block is read: proxy_cache's directives are recorded */

static ngx_int_t
ngx_http_credential_preconfiguration(ngx_conf_t *cf)
{
    if (ngx_http_credential_cache_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_edge_auth_add_variables(cf, ngx_http_credential_vars);
}


static void *
ngx_http_credential_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_credential_main_conf_t  *cmcf;

    cmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_credential_main_conf_t));
    if (cmcf == NULL) {
        return NULL;
    }

    ngx_edge_auth_names_init(&cmcf->names);

    if (ngx_array_init(&cmcf->credentials, cf->pool, 4,
                       sizeof(ngx_http_credential_t *))
        != NGX_OK
        || ngx_array_init(&cmcf->injected, cf->pool, 4, sizeof(u_char *))
           != NGX_OK
        || ngx_array_init(&cmcf->secrets, cf->pool, 4, sizeof(ngx_str_t))
           != NGX_OK
        || ngx_array_init(&cmcf->logins, cf->pool, 4,
                          sizeof(ngx_http_credential_t *))
           != NGX_OK
        || ngx_array_init(&cmcf->endpoints, cf->pool, 2,
                          sizeof(ngx_http_credential_endpoint_t *))
           != NGX_OK
        || ngx_array_init(&cmcf->statuses, cf->pool, 1,
                          sizeof(ngx_http_credential_status_t *))
           != NGX_OK
        || ngx_array_init(&cmcf->hosts, cf->pool, 1,
                          sizeof(ngx_http_credential_host_t *))
           != NGX_OK)
    {
        return NULL;
    }

    cmcf->login_concurrency = NGX_CONF_UNSET;

    return cmcf;
}


static void *
ngx_http_credential_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_credential_loc_conf_t  *clcf;

    /* ref zeroed: not set */
    clcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_credential_loc_conf_t));
    if (clcf == NULL) {
        return NULL;
    }

    clcf->proxy.cache = NGX_CONF_UNSET;
    clcf->proxy.convert_head = NGX_CONF_UNSET;

    return clcf;
}


static char *
ngx_http_credential_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_credential_loc_conf_t *prev = parent;
    ngx_http_credential_loc_conf_t *conf = child;

    char  *rv;

    rv = ngx_edge_auth_ref_merge(cf, &conf->ref, &prev->ref,
                                 ngx_http_credential_find, "credential");
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    ngx_http_credential_handler_wrap(cf, conf);

    /* the credential is known now: its headers, cookie and body */

    return ngx_http_credential_cache_merge(cf, prev, conf);
}


/*
 * The phase handlers only: the filters are registered by
 * ngx_http_credential_filter_module (ngx_http_credential_filter_module.c),
 * which the build orders among nginx's filter modules.
 */

static ngx_int_t
ngx_http_credential_init(ngx_conf_t *cf)
{
    return ngx_http_credential_handler_init(cf);
}


/* the parts of a credential block's end that concern its token */

static ngx_int_t
ngx_http_credential_block_finish(ngx_conf_t *cf,
    ngx_http_credential_main_conf_t *cmcf, ngx_http_credential_t *cred)
{
    u_char                       **lc, *low;
    ngx_str_t                     *slots, *name;
    ngx_uint_t                     i, j;
    ngx_table_elt_t               *h;
    ngx_http_credential_t        **credp;
    ngx_http_credential_tmpl_t    *t;
    ngx_http_credential_login_t   *login;

    login = cred->login;

    /* the flow's fields become login fields before the request is built */

    if (login->oauth && ngx_http_credential_oauth_finish(cf, cred) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_credential_login_finish(cf, cred) != NGX_OK) {
        return NGX_ERROR;
    }

    t = login->inject.elts;
    h = cred->headers.elts;

    for (i = 0; i < login->inject.nelts; i++) {

        if (ngx_http_credential_check_name(cf, &t[i].name) != NGX_OK) {
            return NGX_ERROR;
        }

        t[i].lowcase = ngx_pnalloc(cf->pool, t[i].name.len);
        if (t[i].lowcase == NULL) {
            return NGX_ERROR;
        }

        ngx_strlow(t[i].lowcase, t[i].name.data, t[i].name.len);
        t[i].hash = ngx_hash_key(t[i].lowcase, t[i].name.len);

        for (j = 0; j < cred->headers.nelts + i; j++) {
            if (j < cred->headers.nelts) {
                name = &h[j].key;
                low = h[j].lowcase_key;

            } else {
                name = &t[j - cred->headers.nelts].name;
                low = t[j - cred->headers.nelts].lowcase;
            }

            if (name->len == t[i].name.len
                && ngx_http_credential_same_name(low, t[i].lowcase,
                                                 name->len))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "credential \"%V\" sets header \"%V\" "
                                   "twice", &cred->name, &t[i].name);
                return NGX_ERROR;
            }
        }

        lc = ngx_array_push(&cmcf->injected);
        if (lc == NULL) {
            return NGX_ERROR;
        }

        *lc = t[i].lowcase;
    }

    /* two slots for this worker's current and previous token */

    login->secret = cmcf->secrets.nelts;

    slots = ngx_array_push_n(&cmcf->secrets, 2);
    if (slots == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(slots, 2 * sizeof(ngx_str_t));

    credp = ngx_array_push(&cmcf->logins);
    if (credp == NULL) {
        return NGX_ERROR;
    }

    *credp = cred;

    return NGX_OK;
}


static char *
ngx_http_credential_store(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_credential_main_conf_t *cmcf = conf;

    u_char      *p;
    ssize_t      size;
    ngx_int_t    rc;
    ngx_str_t   *value, s;
    ngx_uint_t   i;

    if (cmcf->store_name.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* zone=NAME:SIZE */

    if (ngx_strncmp(value[1].data, "zone=", 5) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\": expected "
                           "\"zone=NAME:SIZE\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    cmcf->store_name.data = value[1].data + 5;

    p = (u_char *) ngx_strchr(cmcf->store_name.data, ':');

    if (p == NULL || p == cmcf->store_name.data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size in \"%V\": expected "
                           "\"zone=NAME:SIZE\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    cmcf->store_name.len = p - cmcf->store_name.data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\": at least %uzk",
                           &s, 8 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    cmcf->store_size = size;
    cmcf->store_file = cf->conf_file->file.name.data;
    cmcf->store_line = cf->conf_file->line;

    /* Redis, for a fleet of gateways */

    for (i = 2; i < cf->args->nelts; i++) {
        rc = ngx_http_credential_fleet_param(cf, cmcf, &value[i]);

        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_DECLINED) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_credential_fleet_check(cf, cmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* after the http block: the store exists as soon as a token needs it */

static char *
ngx_http_credential_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_credential_main_conf_t *cmcf = conf;

    ngx_uint_t                     i;
    ngx_resolver_t                *resolver;
    ngx_http_credential_t        **cred;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_credential_login_t   *login;

    if (ngx_http_credential_endpoints_resolve(cf, cmcf) != NGX_OK
        || ngx_http_credential_status_resolve(cf, cmcf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* a static credential has no store entry: its counters go there */

    cred = cmcf->credentials.elts;

    for (i = 0; i < cmcf->credentials.nelts; i++) {
        if (cred[i]->login == NULL
            && ngx_edge_auth_stats_register(cf, NGX_EDGE_AUTH_STATS_STATIC,
                                            &cred[i]->name, 0,
                                            &cred[i]->stats)
               != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    ngx_conf_init_value(cmcf->login_concurrency, 8);

    if (cmcf->logins.nelts == 0) {
        return NGX_CONF_OK;
    }

    /*
     * With a "resolver" in the http block login hosts are resolved for
     * every login; without one, now, as proxy_pass does.
     */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    /* without "resolver" the core module leaves one with no name servers */
    resolver = clcf->resolver;

    if (resolver && resolver->connections.nelts == 0) {
        resolver = NULL;
    }

    if (cmcf->store_name.len == 0) {
        ngx_str_set(&cmcf->store_name, "credential_store");
        cmcf->store_size = 1024 * 1024;
    }

    cmcf->store = ngx_edge_auth_store_add(cf, &cmcf->store_name,
                                          cmcf->store_size,
                                          &ngx_http_credential_module);
    if (cmcf->store == NULL) {
        return NGX_CONF_ERROR;
    }

    cred = cmcf->logins.elts;

    for (i = 0; i < cmcf->logins.nelts; i++) {
        login = cred[i]->login;
        login->store = cmcf->store;

        login->http.resolver = resolver;
        login->http.resolver_timeout =
                          (clcf->resolver_timeout == NGX_CONF_UNSET_MSEC)
                          ? 30000 : clcf->resolver_timeout;

        /* address literals need no resolver; nginx's takes no IPv6 ones */

        if (resolver == NULL
            || login->url.host.data[0] == '['
            || ngx_inet_addr(login->url.host.data, login->url.host.len)
               != INADDR_NONE)
        {
            if (ngx_edge_auth_url_resolve(cf, &login->url, cred[i]->file,
                                          cred[i]->line)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }
        }

        if (login->refresh_url.text.len
            && (resolver == NULL
                || login->refresh_url.host.data[0] == '['
                || ngx_inet_addr(login->refresh_url.host.data,
                                 login->refresh_url.host.len)
                   != INADDR_NONE)
            && ngx_edge_auth_url_resolve(cf, &login->refresh_url,
                                         cred[i]->file, cred[i]->line)
               != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        if (ngx_edge_auth_store_want(cf, cmcf->store, login->key,
                                     &login->entry)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        if (cmcf->redis_conf
            && ngx_http_credential_fleet_names(cf, cmcf, cred[i]) != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    /* login_concurrency's hosts, and a zone that holds every token */

    if (ngx_http_credential_renew_hosts(cf, cmcf) != NGX_OK
        || ngx_http_credential_renew_sizing(cf, cmcf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * A worker records itself in the store with its configuration's
 * generation: entries of retired credentials are freed once no worker
 * that may use them is alive (ngx_edge_auth_store.c).
 */

static ngx_int_t
ngx_http_credential_init_process(ngx_cycle_t *cycle)
{
    ngx_http_credential_main_conf_t  *cmcf;

    cmcf = ngx_http_credential_cycle_conf(cycle);

    if (cmcf && cmcf->store
        && (ngx_process == NGX_PROCESS_WORKER
            || ngx_process == NGX_PROCESS_SINGLE)
        && ngx_edge_auth_store_attach(cmcf->store, cycle->log) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_credential_renew_init(cycle);
}


static void
ngx_http_credential_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_credential_main_conf_t  *cmcf;

    ngx_http_credential_renew_exit(cycle);

    cmcf = ngx_http_credential_cycle_conf(cycle);

    if (cmcf && cmcf->store) {
        ngx_edge_auth_store_detach(cmcf->store);
    }
}


static ngx_http_credential_main_conf_t *
ngx_http_credential_cycle_conf(ngx_cycle_t *cycle)
{
    if (cycle->conf_ctx[ngx_http_module.index] == NULL) {
        return NULL;
    }

    return ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_credential_module);
}
