
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Inbound IP authentication: named allow lists of addresses and CIDR
 * blocks ("auth_ip_list NAME { ... }"), checked per location by
 * "auth_ip NAME".  Matching is by longest prefix, so entry order does not
 * matter; an address that matches nothing is denied.
 *
 * The gate runs first in the rewrite phase, for main requests and
 * subrequests alike, so "return" and "rewrite" are behind it and a
 * subrequest (SSI, auth_request, mirror), which skips the access phase,
 * is too.  It runs again in the access and precontent phases, but only
 * checks an address it has not checked yet in this location: one that the
 * realip module set in the preaccess phase.
 */


#include "ngx_edge_auth_error.h"
#include "ngx_edge_auth_ref.h"
#include "ngx_edge_auth_cidr.h"
#include "ngx_edge_auth_lpm.h"
#include "ngx_edge_auth_stats.h"

#if (NGX_LINUX && defined __GLIBC__)
#include <malloc.h>
#endif


/* from this size on, freed parse memory is handed back at once */
#define NGX_HTTP_AUTH_IP_TRIM  65536


typedef struct {
    ngx_str_t                    name;      /* first: ngx_edge_auth_find() */
    ngx_edge_auth_lpm_t          lpm;
    ngx_edge_auth_lpm_entry_t   *entries;
    ngx_uint_t                   nentries;
    ngx_edge_auth_stats_set_t   *stats;     /* shared, for credential_status */
    u_char                      *file;
    ngx_uint_t                   line;
} ngx_http_auth_ip_list_t;


/* an entry while the list is parsed, with where it was written */

typedef struct {
    ngx_edge_auth_lpm_entry_t    entry;
    uint32_t                     file;
    uint32_t                     line;
} ngx_http_auth_ip_parsed_t;


typedef struct {
    ngx_http_auth_ip_list_t     *list;
    ngx_array_t                  parsed;    /* ngx_http_auth_ip_parsed_t */
    ngx_array_t                  files;     /* ngx_str_t */
} ngx_http_auth_ip_build_t;


typedef struct {
    ngx_array_t                  lists;     /* ngx_http_auth_ip_list_t * */
    ngx_edge_auth_names_t        names;     /* the lists */
} ngx_http_auth_ip_main_conf_t;


typedef struct {
    ngx_edge_auth_ref_t          ref;       /* first: $auth_ip_list */
} ngx_http_auth_ip_loc_conf_t;


/* what the request passed: that list, with that address */

typedef struct {
    ngx_http_auth_ip_list_t     *list;
    struct sockaddr             *sockaddr;
} ngx_http_auth_ip_ctx_t;


static ngx_int_t ngx_http_auth_ip_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_auth_ip_deny(ngx_http_request_t *r,
    ngx_http_auth_ip_list_t *list, uint32_t value);
static char *ngx_http_auth_ip_list_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_auth_ip_list_entry(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf);
static ngx_int_t ngx_http_auth_ip_list_compile(ngx_conf_t *cf,
    ngx_http_auth_ip_build_t *build);
static int ngx_http_auth_ip_parsed_cmp(const void *one, const void *two);
static ngx_int_t ngx_http_auth_ip_list_dedup(ngx_conf_t *cf,
    ngx_http_auth_ip_build_t *build, ngx_uint_t *n);
static char *ngx_http_auth_ip(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static void *ngx_http_auth_ip_find(ngx_conf_t *cf, ngx_str_t *name);
static ngx_int_t ngx_http_auth_ip_add_variables(ngx_conf_t *cf);
static void *ngx_http_auth_ip_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_auth_ip_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_auth_ip_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_auth_ip_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_auth_ip_init_module(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_auth_ip_commands[] = {

    { ngx_string("auth_ip_list"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_auth_ip_list_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("auth_ip"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_auth_ip,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_auth_ip_module_ctx = {
    ngx_http_auth_ip_add_variables,        /* preconfiguration */
    ngx_http_auth_ip_init,                 /* postconfiguration */

    ngx_http_auth_ip_create_main_conf,     /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_auth_ip_create_loc_conf,      /* create location configuration */
    ngx_http_auth_ip_merge_loc_conf        /* merge location configuration */
};


ngx_module_t  ngx_http_auth_ip_module = {
    NGX_MODULE_V1,
    &ngx_http_auth_ip_module_ctx,          /* module context */
    ngx_http_auth_ip_commands,             /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_auth_ip_init_module,          /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_auth_ip_error_code =
    ngx_string("ip-not-allowed");
static ngx_str_t  ngx_http_auth_ip_error_message =
    ngx_string("The client address is not allowed to access this resource");


static ngx_http_variable_t  ngx_http_auth_ip_vars[] = {

    { ngx_string("auth_ip_list"), NULL, ngx_edge_auth_ref_variable,
      (uintptr_t) &ngx_http_auth_ip_module, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/*
 * The same handler in three phases:
 *
 * rewrite     first of the phase, for every request: main requests and
 *             subrequests (which skip the access phase), before "return",
 *             "rewrite" and "set".  The address is the connection's, or
 *             the one realip set in the post-read phase from its http or
 *             server level configuration.
 * access      main requests: realip's location level configuration sets
 *             the address in the preaccess phase, after the rewrite phase.
 * precontent  an access module that runs first under "satisfy any" and
 *             allows the request ends the access phase (a dynamic module
 *             loaded after this one does); and subrequests whose address
 *             realip set in the preaccess phase.
 *
 * An address already checked against the location's list is not checked
 * again: one request, one count, one log line.  A denied request is
 * finalized at once, in every phase, so "satisfy any" cannot let it in.
 */

static ngx_int_t
ngx_http_auth_ip_handler(ngx_http_request_t *r)
{
    uint32_t                      value;
    ngx_http_auth_ip_ctx_t       *ctx;
    ngx_http_auth_ip_list_t      *list;
    ngx_http_auth_ip_loc_conf_t  *alcf;
    struct sockaddr_in           *sin;
#if (NGX_HAVE_INET6)
    u_char                       *p;
    struct sockaddr_in6          *sin6;
#endif

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_auth_ip_module);

    list = alcf->ref.target;

    if (list == NULL) {
        return NGX_DECLINED;
    }

    /*
     * realip gives the connection a new sockaddr, never changes one in
     * place; "rewrite ... last" changes the location, not the context
     */

    ctx = ngx_http_get_module_ctx(r, ngx_http_auth_ip_module);

    if (ctx != NULL
        && ctx->list == list
        && ctx->sockaddr == r->connection->sockaddr)
    {
        return NGX_DECLINED;
    }

    switch (r->connection->sockaddr->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) r->connection->sockaddr;
        value = ngx_edge_auth_lpm_find4(&list->lpm,
                                        ntohl(sin->sin_addr.s_addr));
        break;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) r->connection->sockaddr;
        p = sin6->sin6_addr.s6_addr;

        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            value = ngx_edge_auth_lpm_find4(&list->lpm,
                                            ((uint32_t) p[12] << 24)
                                            | ((uint32_t) p[13] << 16)
                                            | ((uint32_t) p[14] << 8)
                                            | p[15]);
        } else {
            value = ngx_edge_auth_lpm_find6(&list->lpm, p);
        }

        break;
#endif

    default:
        /* a UNIX-domain client has no address to match */
        value = 0;
        break;
    }

    if (value && !(value & NGX_EDGE_AUTH_LPM_DENY)) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "auth_ip: %V allowed by list \"%V\"",
                       &r->connection->addr_text, &list->name);

        if (ctx == NULL) {
            ctx = ngx_palloc(r->pool, sizeof(ngx_http_auth_ip_ctx_t));
            if (ctx == NULL) {
                return NGX_ERROR;
            }

            ngx_http_set_ctx(r, ctx, ngx_http_auth_ip_module);
        }

        ctx->list = list;
        ctx->sockaddr = r->connection->sockaddr;

        ngx_edge_auth_stats_count(list->stats, NGX_EDGE_AUTH_STATS_ALLOWED);

        /* a gate, not a grant: other access checks still apply */
        return NGX_DECLINED;
    }

    return ngx_http_auth_ip_deny(r, list, value);
}


static ngx_int_t
ngx_http_auth_ip_deny(ngx_http_request_t *r, ngx_http_auth_ip_list_t *list,
    uint32_t value)
{
    size_t                      n;
    ngx_int_t                   rc;
    ngx_uint_t                  i;
    ngx_edge_auth_cidr_t        cidr;
    ngx_http_err_page_t        *err_page;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_edge_auth_lpm_entry_t  *e;
    u_char                      text[NGX_EDGE_AUTH_CIDR_TEXT_LEN + 1];

    ngx_edge_auth_stats_count(list->stats, NGX_EDGE_AUTH_STATS_DENIED);

    if (value) {
        e = &list->entries[NGX_EDGE_AUTH_LPM_INDEX(value) - 1];

        ngx_memcpy(cidr.addr, e->addr, 16);
        cidr.family = e->family;
        cidr.prefix = e->prefix;

        n = ngx_edge_auth_cidr_format(&cidr, text, sizeof(text));

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "auth_ip: client %V denied by list \"%V\", "
                      "entry \"%*s deny\"",
                      &r->connection->addr_text, &list->name, n, text);

    } else {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "auth_ip: client %V denied by list \"%V\", "
                      "no entry matches",
                      &r->connection->addr_text, &list->name);
    }

    /*
     * Under "satisfy any" a 403 returned from here could be overridden by
     * another access module; the list is a hard gate, so the request is
     * finalized here.  An operator's own "error_page 403" still wins.
     */

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->error_pages) {
        err_page = clcf->error_pages->elts;

        for (i = 0; i < clcf->error_pages->nelts; i++) {
            if (err_page[i].status == NGX_HTTP_FORBIDDEN) {
                ngx_http_finalize_request(r, NGX_HTTP_FORBIDDEN);
                return NGX_DONE;
            }
        }
    }

    rc = ngx_edge_auth_send_error(r, NGX_HTTP_FORBIDDEN,
                                  &ngx_http_auth_ip_error_code,
                                  &ngx_http_auth_ip_error_message);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


static char *
ngx_http_auth_ip_list_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_ip_main_conf_t *amcf = conf;

    char                      *rv;
    ngx_str_t                 *value, *file;
    ngx_pool_t                *pool;
    ngx_conf_t                 save;
    ngx_http_auth_ip_list_t   *list, **listp;
    ngx_http_auth_ip_build_t   build;

    value = cf->args->elts;

    if (ngx_http_auth_ip_find(cf, &value[1]) != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate auth_ip_list \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    list = ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_ip_list_t));
    if (list == NULL) {
        return NGX_CONF_ERROR;
    }

    list->name = value[1];
    list->file = cf->conf_file->file.name.data;
    list->line = cf->conf_file->line;

    listp = ngx_array_push(&amcf->lists);
    if (listp == NULL
        || ngx_edge_auth_names_add(cf, &amcf->names, list) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    *listp = list;

    ngx_memzero(&build, sizeof(ngx_http_auth_ip_build_t));
    build.list = list;

    /*
     * The parser keeps every token it reads in cf->pool; a list of a
     * million lines is parsed in a pool of its own, destroyed once the
     * list is compiled, as the geo module does.
     */

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, cf->log);
    if (pool == NULL) {
        return NGX_CONF_ERROR;
    }

    rv = NGX_CONF_ERROR;

    if (ngx_array_init(&build.parsed, pool, 64,
                       sizeof(ngx_http_auth_ip_parsed_t))
        != NGX_OK
        || ngx_array_init(&build.files, pool, 4, sizeof(ngx_str_t))
           != NGX_OK)
    {
        goto done;
    }

    file = ngx_array_push(&build.files);
    if (file == NULL) {
        goto done;
    }

    *file = cf->conf_file->file.name;

    save = *cf;
    cf->pool = pool;
    cf->handler = ngx_http_auth_ip_list_entry;
    cf->handler_conf = (char *) &build;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv == NGX_CONF_OK
        && (ngx_http_auth_ip_list_compile(cf, &build) != NGX_OK
            || ngx_edge_auth_stats_register(cf, NGX_EDGE_AUTH_STATS_IP_LIST,
                                            &build.list->name,
                                            build.list->nentries,
                                            &build.list->stats)
               != NGX_OK))
    {
        rv = NGX_CONF_ERROR;
    }

done:

    ngx_destroy_pool(pool);

#if (NGX_LINUX && defined __GLIBC__)

    /*
     * The pool's blocks are free but sit below memory that stays, so
     * glibc keeps them resident: in the master and in every worker.
     */

    if (build.parsed.nelts >= NGX_HTTP_AUTH_IP_TRIM) {
        (void) malloc_trim(0);
    }

#endif

    return rv;
}


static char *
ngx_http_auth_ip_list_entry(ngx_conf_t *cf, ngx_command_t *dummy, void *conf)
{
    ngx_http_auth_ip_build_t *build = (ngx_http_auth_ip_build_t *) conf;

    u_char                      text[NGX_EDGE_AUTH_CIDR_TEXT_LEN + 1];
    size_t                      n;
    ngx_str_t                  *value, *file;
    ngx_uint_t                  deny;
    ngx_edge_auth_cidr_t        cidr;
    ngx_edge_auth_cidr_rc_e     rc;
    ngx_http_auth_ip_parsed_t  *parsed;

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[0].data, "include") == 0) {
        /* ngx_conf_include() keeps our handler for the included lines */
        return ngx_conf_include(cf, dummy, conf);
    }

    if (cf->args->nelts > 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid auth_ip_list entry: expected "
                           "\"ADDRESS[/PREFIX] [allow|deny];\" or "
                           "\"include FILE;\"");
        return NGX_CONF_ERROR;
    }

    deny = 0;

    if (cf->args->nelts == 2) {
        if (ngx_strcmp(value[1].data, "deny") == 0) {
            deny = 1;

        } else if (ngx_strcmp(value[1].data, "allow") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid action \"%V\" for \"%V\" in "
                               "auth_ip_list: expected \"allow\" or \"deny\"",
                               &value[1], &value[0]);
            return NGX_CONF_ERROR;
        }
    }

    rc = ngx_edge_auth_cidr_parse(value[0].data, value[0].len, &cidr);

    if (rc == NGX_EDGE_AUTH_CIDR_HOST_BITS) {
        n = ngx_edge_auth_cidr_format(&cidr, text, sizeof(text));

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid address \"%V\" in auth_ip_list: %s; "
                           "the network address is \"%*s\"",
                           &value[0], ngx_edge_auth_cidr_strerror(rc),
                           n, text);
        return NGX_CONF_ERROR;
    }

    if (rc != NGX_EDGE_AUTH_CIDR_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid address \"%V\" in auth_ip_list: %s",
                           &value[0], ngx_edge_auth_cidr_strerror(rc));
        return NGX_CONF_ERROR;
    }

    file = build->files.elts;

    if (file[build->files.nelts - 1].data != cf->conf_file->file.name.data) {
        file = ngx_array_push(&build->files);
        if (file == NULL) {
            return NGX_CONF_ERROR;
        }

        *file = cf->conf_file->file.name;
    }

    parsed = ngx_array_push(&build->parsed);
    if (parsed == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(parsed->entry.addr, cidr.addr, 16);
    parsed->entry.family = cidr.family;
    parsed->entry.prefix = cidr.prefix;
    parsed->entry.deny = (u_char) deny;
    parsed->file = (uint32_t) build->files.nelts - 1;
    parsed->line = (uint32_t) cf->conf_file->line;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_auth_ip_list_compile(ngx_conf_t *cf, ngx_http_auth_ip_build_t *build)
{
    uint32_t                   *index4;
    ngx_uint_t                  i, n, n4;
    ngx_edge_auth_lpm_t        *lpm;
    ngx_http_auth_ip_list_t    *list;
    ngx_http_auth_ip_parsed_t  *parsed;

    list = build->list;
    lpm = &list->lpm;

    parsed = build->parsed.elts;

    ngx_qsort(parsed, build->parsed.nelts, sizeof(ngx_http_auth_ip_parsed_t),
              ngx_http_auth_ip_parsed_cmp);

    if (ngx_http_auth_ip_list_dedup(cf, build, &n) != NGX_OK) {
        return NGX_ERROR;
    }

    if (n == 0) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "auth_ip_list \"%V\" is empty and denies every "
                           "client", &list->name);
    }

    list->entries = ngx_palloc(cf->pool,
                               n * sizeof(ngx_edge_auth_lpm_entry_t) + 1);
    if (list->entries == NULL) {
        return NGX_ERROR;
    }

    n4 = 0;

    for (i = 0; i < n; i++) {
        list->entries[i] = parsed[i].entry;

        if (parsed[i].entry.family == 4) {
            n4++;
        }
    }

    list->nentries = n;

    /* sorted by family: IPv4 entries come first */

    lpm->n4 = ngx_edge_auth_lpm_build4(list->entries, n4, 0, NULL, NULL);
    lpm->n6 = ngx_edge_auth_lpm_build6(list->entries + n4, n - n4,
                                       (uint32_t) n4, NULL, NULL);

    /* counted first, so built straight into arrays of the right size */

    lpm->start4 = ngx_palloc(cf->pool, lpm->n4 * sizeof(uint32_t));
    lpm->value4 = ngx_palloc(cf->pool, lpm->n4 * sizeof(uint32_t));
    lpm->start6 = ngx_palloc(cf->pool, 2 * lpm->n6 * sizeof(uint64_t) + 1);
    lpm->value6 = ngx_palloc(cf->pool, lpm->n6 * sizeof(uint32_t) + 1);

    if (lpm->start4 == NULL || lpm->value4 == NULL
        || lpm->start6 == NULL || lpm->value6 == NULL)
    {
        return NGX_ERROR;
    }

    (void) ngx_edge_auth_lpm_build4(list->entries, n4, 0, lpm->start4,
                                    lpm->value4);
    (void) ngx_edge_auth_lpm_build6(list->entries + n4, n - n4,
                                    (uint32_t) n4, lpm->start6, lpm->value6);

    if (lpm->n4 >= NGX_EDGE_AUTH_LPM_INDEX4_MIN) {
        index4 = ngx_palloc(cf->pool, 65537 * sizeof(uint32_t));
        if (index4 == NULL) {
            return NGX_ERROR;
        }

        ngx_edge_auth_lpm_index4(lpm, index4);
    }

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, cf->log, 0,
                   "auth_ip_list \"%V\": %ui entries, %uz IPv4 ranges, "
                   "%uz IPv6 ranges, index:%d",
                   &list->name, n, lpm->n4, lpm->n6, lpm->index4 != NULL);

    return NGX_OK;
}


/* by prefix, then where it was written: duplicates name their first line */

static int
ngx_http_auth_ip_parsed_cmp(const void *one, const void *two)
{
    int                               rc;
    const ngx_http_auth_ip_parsed_t  *a, *b;

    a = one;
    b = two;

    rc = ngx_edge_auth_lpm_entry_cmp(&a->entry, &b->entry);
    if (rc != 0) {
        return rc;
    }

    if (a->file != b->file) {
        return (a->file < b->file) ? -1 : 1;
    }

    return (a->line < b->line) ? -1 : (a->line > b->line);
}


static ngx_int_t
ngx_http_auth_ip_list_dedup(ngx_conf_t *cf, ngx_http_auth_ip_build_t *build,
    ngx_uint_t *n)
{
    size_t                      len;
    ngx_str_t                  *files;
    ngx_uint_t                  i, k;
    ngx_edge_auth_cidr_t        cidr;
    ngx_http_auth_ip_parsed_t  *p, *first;
    u_char                      text[NGX_EDGE_AUTH_CIDR_TEXT_LEN + 1];

    p = build->parsed.elts;
    files = build->files.elts;

    k = 0;

    for (i = 0; i < build->parsed.nelts; i++) {

        if (k == 0
            || ngx_edge_auth_lpm_entry_cmp(&p[k - 1].entry, &p[i].entry) != 0)
        {
            p[k++] = p[i];
            continue;
        }

        first = &p[k - 1];

        ngx_memcpy(cidr.addr, p[i].entry.addr, 16);
        cidr.family = p[i].entry.family;
        cidr.prefix = p[i].entry.prefix;

        len = ngx_edge_auth_cidr_format(&cidr, text, sizeof(text));

        if (first->entry.deny != p[i].entry.deny) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "auth_ip_list \"%V\": \"%*s\" is both allowed and "
                          "denied, in %V:%uD and in %V:%uD",
                          &build->list->name, len, text,
                          &files[first->file], first->line,
                          &files[p[i].file], p[i].line);
            return NGX_ERROR;
        }

        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "auth_ip_list \"%V\": duplicate entry \"%*s\" in "
                      "%V:%uD, first in %V:%uD",
                      &build->list->name, len, text,
                      &files[p[i].file], p[i].line,
                      &files[first->file], first->line);
    }

    *n = k;

    return NGX_OK;
}


static char *
ngx_http_auth_ip(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_auth_ip_loc_conf_t *alcf = conf;

    return ngx_edge_auth_ref_set(cf, &alcf->ref);
}


static void *
ngx_http_auth_ip_find(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_http_auth_ip_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_auth_ip_module);

    return ngx_edge_auth_names_find(&mcf->names, name);
}


static ngx_int_t
ngx_http_auth_ip_add_variables(ngx_conf_t *cf)
{
    return ngx_edge_auth_add_variables(cf, ngx_http_auth_ip_vars);
}


static void *
ngx_http_auth_ip_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_auth_ip_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_ip_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

    ngx_edge_auth_names_init(&amcf->names);

    if (ngx_array_init(&amcf->lists, cf->pool, 4,
                       sizeof(ngx_http_auth_ip_list_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return amcf;
}


static void *
ngx_http_auth_ip_create_loc_conf(ngx_conf_t *cf)
{
    /* ref zeroed: not set */
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_ip_loc_conf_t));
}


static char *
ngx_http_auth_ip_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_auth_ip_loc_conf_t *prev = parent;
    ngx_http_auth_ip_loc_conf_t *conf = child;

    return ngx_edge_auth_ref_merge(cf, &conf->ref, &prev->ref,
                                   ngx_http_auth_ip_find, "auth_ip_list");
}


static ngx_int_t
ngx_http_auth_ip_init(ngx_conf_t *cf)
{
    ngx_uint_t                  i;
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    static ngx_uint_t  phases[] = {
        NGX_HTTP_REWRITE_PHASE,
        NGX_HTTP_ACCESS_PHASE,
        NGX_HTTP_PRECONTENT_PHASE
    };

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    for (i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
        h = ngx_array_push(&cmcf->phases[phases[i]].handlers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ngx_http_auth_ip_handler;
    }

    return NGX_OK;
}


/*
 * Within a phase, nginx runs the handlers registered last first: this one
 * runs before the rewrite module's, but a module loaded after this one
 * could answer in the rewrite phase before the gate.  Once the phase
 * engine is built, the gate is moved to the start of the location's
 * rewrite phase (its handlers share one checker and one "next").
 */

static ngx_int_t
ngx_http_auth_ip_init_module(ngx_cycle_t *cycle)
{
    ngx_uint_t                  k, start;
    ngx_http_phase_handler_t    gate, *ph;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_core_module);

    if (cmcf == NULL
        || cmcf->phase_engine.location_rewrite_index == (ngx_uint_t) -1)
    {
        return NGX_OK;
    }

    ph = cmcf->phase_engine.handlers;
    start = cmcf->phase_engine.location_rewrite_index;

    for (k = start;
         ph[k].checker == ngx_http_core_rewrite_phase
         && ph[k].handler != ngx_http_auth_ip_handler;
         k++)
    {
        /* void */
    }

    if (ph[k].checker != ngx_http_core_rewrite_phase) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "auth_ip: the rewrite phase handler is missing");
        return NGX_ERROR;
    }

    gate = ph[k];

    ngx_memmove(&ph[start + 1], &ph[start],
                (k - start) * sizeof(ngx_http_phase_handler_t));

    ph[start] = gate;

    return NGX_OK;
}
