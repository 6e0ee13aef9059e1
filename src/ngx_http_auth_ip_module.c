
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
#include "ngx_edge_auth_huge.h"

#if (NGX_LINUX && defined __GLIBC__)
#include <malloc.h>
#endif


/* once this many entries were parsed, freed parse memory is handed back */
#define NGX_HTTP_AUTH_IP_TRIM   65536

/* the parsed IPv4 records: blocks of 256 records, doubling up to 8 MB */
#define NGX_HTTP_AUTH_IP_BLOCK  256
#define NGX_HTTP_AUTH_IP_PART   (8 * 1024 * 1024)

/*
 * The value of a range in a list's tables: the length of the prefix that
 * wins there and whether it denies, 0 where no prefix covers.  A list
 * keeps no entry per prefix: the one that denied a client, for the log,
 * is the client's address cut to that length.  8 bits per IPv4 range.
 */
#define NGX_HTTP_AUTH_IP_VALUE(prefix, deny)                                  \
    NGX_EDGE_AUTH_LPM4_VALUE(prefix, deny)
#define NGX_HTTP_AUTH_IP_ALLOWS(v)            ((v) != 0 && ((v) - 1) % 2 == 0)
#define NGX_HTTP_AUTH_IP_PREFIX(v)            (((v) - 1) >> 1)


typedef struct {
    ngx_str_t                    name;      /* first: ngx_edge_auth_find() */
    ngx_edge_auth_lpm4_t         lpm4;      /* NGX_HTTP_AUTH_IP_VALUE() */
    ngx_edge_auth_lpm6_t         lpm6;
    ngx_uint_t                   nentries;
    ngx_edge_auth_stats_set_t   *stats;     /* shared, for credential_status */
    u_char                      *file;
    ngx_uint_t                   line;
} ngx_http_auth_ip_list_t;


/* an entry while the list is parsed, with where it was written */

typedef struct {
    ngx_edge_auth_lpm4_entry_t   entry;     /* first: ngx_edge_auth_lpm4_* */
    uint32_t                     file;
    uint32_t                     line;
} ngx_http_auth_ip_parsed4_t;


typedef struct {
    ngx_edge_auth_lpm6_entry_t   entry;
    uint32_t                     file;
    uint32_t                     line;
} ngx_http_auth_ip_parsed6_t;


typedef struct {
    ngx_http_auth_ip_list_t     *list;
    ngx_pool_t                  *pool;      /* the parse pool */
    ngx_list_t                   parsed4;   /* ngx_http_auth_ip_parsed4_t */
    ngx_list_t                   parsed6;   /* ngx_http_auth_ip_parsed6_t */
    ngx_uint_t                   nparsed;
    ngx_array_t                  files;     /* ngx_str_t */
} ngx_http_auth_ip_build_t;


typedef struct {
    ngx_array_t                  lists;     /* ngx_http_auth_ip_list_t * */
    ngx_edge_auth_names_t        names;     /* the lists */
    ngx_uint_t                   untrimmed; /* entries parsed since a trim */
    ngx_uint_t                   prefetch;  /* a server prefetches */
} ngx_http_auth_ip_main_conf_t;


/* tables in slots that a server's locations check, for the prefetch */

#define NGX_HTTP_AUTH_IP_PREFETCH  2

typedef struct {
    ngx_edge_auth_lpm4_t         lpm4[NGX_HTTP_AUTH_IP_PREFETCH];
    ngx_uint_t                   n;
} ngx_http_auth_ip_srv_conf_t;


typedef struct {
    ngx_edge_auth_ref_t          ref;       /* first: $auth_ip_list */
    ngx_edge_auth_lpm4_t         lpm4;      /* the list's, copied: its
                                               table is found without
                                               a load of the list */
} ngx_http_auth_ip_loc_conf_t;


/* what the request passed: that list, with that address */

typedef struct {
    ngx_http_auth_ip_list_t     *list;
    struct sockaddr             *sockaddr;
} ngx_http_auth_ip_ctx_t;


static ngx_int_t ngx_http_auth_ip_prefetch(ngx_http_request_t *r);
static ngx_inline ngx_uint_t ngx_http_auth_ip_addr(ngx_connection_t *c,
    uint32_t *addr4, u_char **addr6);
static ngx_int_t ngx_http_auth_ip_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_auth_ip_deny(ngx_http_request_t *r,
    ngx_http_auth_ip_list_t *list, uint32_t value, uint32_t addr4,
    u_char *addr6);
static char *ngx_http_auth_ip_list_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_auth_ip_list_entry(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf);
static ngx_int_t ngx_http_auth_ip_list_compile(ngx_conf_t *cf,
    ngx_http_auth_ip_build_t *build);
static void *ngx_http_auth_ip_gather(ngx_pool_t *pool, ngx_list_t *list,
    ngx_uint_t *n);
static void *ngx_http_auth_ip_push4(ngx_list_t *list);
static void *ngx_http_auth_ip_buffer(ngx_pool_t *pool, size_t size,
    ngx_uint_t whole);
static int ngx_http_auth_ip_parsed6_cmp(const void *one, const void *two);
static ngx_int_t ngx_http_auth_ip_list_dedup4(ngx_conf_t *cf,
    ngx_http_auth_ip_build_t *build, ngx_http_auth_ip_parsed4_t *p,
    ngx_uint_t *n);
static ngx_int_t ngx_http_auth_ip_list_dedup6(ngx_conf_t *cf,
    ngx_http_auth_ip_build_t *build, ngx_http_auth_ip_parsed6_t *p,
    ngx_uint_t *n);
static ngx_int_t ngx_http_auth_ip_duplicate(ngx_conf_t *cf,
    ngx_http_auth_ip_build_t *build, ngx_edge_auth_cidr_t *cidr,
    ngx_uint_t conflict, uint32_t file1, uint32_t line1, uint32_t file2,
    uint32_t line2);
static ngx_int_t ngx_http_auth_ip_table4(ngx_conf_t *cf,
    ngx_edge_auth_lpm4_t *lpm, void *entries, ngx_uint_t n, size_t size,
    uint32_t max);
static ngx_int_t ngx_http_auth_ip_table6(ngx_conf_t *cf,
    ngx_edge_auth_lpm6_t *lpm, void *entries, ngx_uint_t n, size_t size,
    uint32_t max);
static char *ngx_http_auth_ip(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static void *ngx_http_auth_ip_find(ngx_conf_t *cf, ngx_str_t *name);
static ngx_int_t ngx_http_auth_ip_add_variables(ngx_conf_t *cf);
static void *ngx_http_auth_ip_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_auth_ip_create_srv_conf(ngx_conf_t *cf);
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

    ngx_http_auth_ip_create_srv_conf,      /* create server configuration */
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
 * The server rewrite phase, first of it: the client's address is final
 * (realip sets it in the post-read phase, or in the preaccess phase from
 * a location's configuration, then the gate checks it again), but which
 * location, and so which list, is not known yet.  The slot of each large
 * table that the server's locations check is fetched into the cache
 * while nginx finds the location, so that the gate, first of the rewrite
 * phase, does not wait for the slot's page walk and line.  Registered
 * only where some list is large enough for slots.
 */

static ngx_int_t
ngx_http_auth_ip_prefetch(ngx_http_request_t *r)
{
    u_char                       *addr6;
    uint32_t                      addr4;
    ngx_uint_t                    i;
    ngx_http_auth_ip_srv_conf_t  *ascf;

    ascf = ngx_http_get_module_srv_conf(r, ngx_http_auth_ip_module);

    if (ascf->n == 0 || !ngx_http_auth_ip_addr(r->connection, &addr4, &addr6))
    {
        return NGX_DECLINED;
    }

    for (i = 0; i < ascf->n; i++) {
        ngx_edge_auth_lpm4_prefetch(&ascf->lpm4[i], addr4);
    }

    return NGX_DECLINED;
}


/*
 * The client's address: 1 and *addr4 for an IPv4 one, IPv4-mapped IPv6
 * included; 0 and *addr6 for another IPv6 one; 0 and no address for a
 * UNIX-domain client
 */

static ngx_inline ngx_uint_t
ngx_http_auth_ip_addr(ngx_connection_t *c, uint32_t *addr4, u_char **addr6)
{
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    u_char               *p;
    struct sockaddr_in6  *sin6;
#endif

    *addr4 = 0;
    *addr6 = NULL;

    switch (c->sockaddr->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) c->sockaddr;
        *addr4 = ntohl(sin->sin_addr.s_addr);
        return 1;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) c->sockaddr;
        p = sin6->sin6_addr.s6_addr;

        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            *addr4 = ((uint32_t) p[12] << 24) | ((uint32_t) p[13] << 16)
                     | ((uint32_t) p[14] << 8) | p[15];
            return 1;
        }

        *addr6 = p;
        return 0;
#endif

    default:
        return 0;
    }
}


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
    u_char                       *addr6;
    uint32_t                      value, addr4;
    ngx_http_auth_ip_ctx_t       *ctx;
    ngx_http_auth_ip_list_t      *list;
    ngx_http_auth_ip_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_auth_ip_module);

    list = alcf->ref.target;

    if (list == NULL) {
        return NGX_DECLINED;
    }

#if (defined __GNUC__)
    /*
     * The shared counter's line (and page: a page walk after every system
     * call in some VMs), fetched while the lookup waits for its own
     */
    __builtin_prefetch((void *) (uintptr_t)
                       &list->stats->counters[NGX_EDGE_AUTH_STATS_ALLOWED],
                       1);
#endif

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

    if (ngx_http_auth_ip_addr(r->connection, &addr4, &addr6)) {
        value = ngx_edge_auth_lpm4_find(&alcf->lpm4, addr4);

    } else if (addr6 != NULL) {
        value = ngx_edge_auth_lpm6_find(&list->lpm6, addr6);

    } else {
        /* a UNIX-domain client has no address to match */
        value = 0;
    }

    if (NGX_HTTP_AUTH_IP_ALLOWS(value)) {
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

    return ngx_http_auth_ip_deny(r, list, value, addr4, addr6);
}


/* addr6 NULL: the address is addr4 (IPv4, or IPv4-mapped IPv6) */

static ngx_int_t
ngx_http_auth_ip_deny(ngx_http_request_t *r, ngx_http_auth_ip_list_t *list,
    uint32_t value, uint32_t addr4, u_char *addr6)
{
    size_t                      n;
    ngx_int_t                   rc;
    ngx_uint_t                  i, prefix;
    ngx_edge_auth_cidr_t        cidr;
    ngx_http_err_page_t        *err_page;
    ngx_http_core_loc_conf_t   *clcf;
    u_char                      text[NGX_EDGE_AUTH_CIDR_TEXT_LEN + 1];

    ngx_edge_auth_stats_count(list->stats, NGX_EDGE_AUTH_STATS_DENIED);

    if (value) {
        /* the entry that denied: the address cut to its prefix length */

        prefix = NGX_HTTP_AUTH_IP_PREFIX(value);

        ngx_memzero(&cidr, sizeof(ngx_edge_auth_cidr_t));
        cidr.prefix = (u_char) prefix;

        if (addr6) {
            cidr.family = 6;
            ngx_memcpy(cidr.addr, addr6, 16);

            for (i = prefix; i < 128; i++) {
                cidr.addr[i / 8] &= (u_char) ~(0x80 >> (i % 8));
            }

        } else {
            cidr.family = 4;
            addr4 &= (uint32_t) (0xffffffffULL << (32 - prefix));
            cidr.addr[0] = (u_char) (addr4 >> 24);
            cidr.addr[1] = (u_char) (addr4 >> 16);
            cidr.addr[2] = (u_char) (addr4 >> 8);
            cidr.addr[3] = (u_char) addr4;
        }

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

    build.pool = pool;

    /* in blocks that are never moved, unlike an array's */

    if (ngx_list_init(&build.parsed4, pool, NGX_HTTP_AUTH_IP_BLOCK,
                      sizeof(ngx_http_auth_ip_parsed4_t))
        != NGX_OK
        || ngx_list_init(&build.parsed6, pool, 256,
                         sizeof(ngx_http_auth_ip_parsed6_t))
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
     * Counted over lists: a hundred small lists leave as much behind;
     * what is left is handed back once the http block is read.
     */

    amcf->untrimmed += build.nparsed;

    if (amcf->untrimmed >= NGX_HTTP_AUTH_IP_TRIM) {
        amcf->untrimmed = 0;
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
    ngx_str_t                   *value, *file;
    uint32_t                     addr4;
    unsigned                     family, prefix;
    ngx_uint_t                   deny;
    ngx_edge_auth_cidr_t         cidr;
    ngx_edge_auth_cidr_rc_e      rc;
    ngx_http_auth_ip_parsed4_t  *p4;
    ngx_http_auth_ip_parsed6_t  *p6;

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

    /* most lines of a long list: plain IPv4, parsed at once */

    if (ngx_edge_auth_cidr_parse4_fast(value[0].data, value[0].len, &addr4,
                                       &prefix)
        == NGX_EDGE_AUTH_CIDR_OK)
    {
        family = 4;
        goto parsed;
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

    family = cidr.family;
    prefix = cidr.prefix;
    addr4 = ((uint32_t) cidr.addr[0] << 24) | ((uint32_t) cidr.addr[1] << 16)
            | ((uint32_t) cidr.addr[2] << 8) | cidr.addr[3];

parsed:

    file = build->files.elts;

    if (file[build->files.nelts - 1].data != cf->conf_file->file.name.data) {
        file = ngx_array_push(&build->files);
        if (file == NULL) {
            return NGX_CONF_ERROR;
        }

        *file = cf->conf_file->file.name;
    }

    build->nparsed++;

    if (family == 4) {
        p4 = ngx_http_auth_ip_push4(&build->parsed4);
        if (p4 == NULL) {
            return NGX_CONF_ERROR;
        }

        p4->entry.addr = addr4;
        p4->entry.value = NGX_HTTP_AUTH_IP_VALUE(prefix, deny);
        p4->entry.prefix = (u_char) prefix;
        p4->file = (uint32_t) build->files.nelts - 1;
        p4->line = (uint32_t) cf->conf_file->line;

        return NGX_CONF_OK;
    }

    p6 = ngx_list_push(&build->parsed6);
    if (p6 == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(p6->entry.addr, cidr.addr, 16);
    p6->entry.value = NGX_HTTP_AUTH_IP_VALUE(cidr.prefix, deny);
    p6->entry.prefix = cidr.prefix;
    p6->file = (uint32_t) build->files.nelts - 1;
    p6->line = (uint32_t) cf->conf_file->line;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_auth_ip_list_compile(ngx_conf_t *cf, ngx_http_auth_ip_build_t *build)
{
    ngx_uint_t                   n4, n6, nparts;
    ngx_list_part_t             *part;
    ngx_http_auth_ip_list_t     *list;
    ngx_edge_auth_lpm_part_t    *parts;
    ngx_http_auth_ip_parsed4_t  *p4;
    ngx_http_auth_ip_parsed6_t  *p6;

    list = build->list;

    /*
     * IPv4: a radix sort, stable, so duplicates stay in the order read;
     * its first pass reads the list's blocks
     */

    nparts = 0;
    n4 = 0;

    for (part = &build->parsed4.part; part; part = part->next) {
        nparts++;
        n4 += part->nelts;
    }

    parts = ngx_palloc(build->pool,
                       nparts * sizeof(ngx_edge_auth_lpm_part_t));
    p4 = ngx_http_auth_ip_buffer(build->pool,
                                 2 * n4 * sizeof(ngx_http_auth_ip_parsed4_t)
                                 + 1, 1);
    if (parts == NULL || p4 == NULL) {
        return NGX_ERROR;
    }

    nparts = 0;

    for (part = &build->parsed4.part; part; part = part->next) {
        parts[nparts].elts = part->elts;
        parts[nparts++].n = part->nelts;
    }

    p4 = ngx_edge_auth_lpm4_sort(parts, nparts, p4, p4 + n4,
                                 sizeof(ngx_http_auth_ip_parsed4_t));

    p6 = ngx_http_auth_ip_gather(build->pool, &build->parsed6, &n6);
    if (p6 == NULL) {
        return NGX_ERROR;
    }

    ngx_qsort(p6, n6, sizeof(ngx_http_auth_ip_parsed6_t),
              ngx_http_auth_ip_parsed6_cmp);

    if (ngx_http_auth_ip_list_dedup4(cf, build, p4, &n4) != NGX_OK
        || ngx_http_auth_ip_list_dedup6(cf, build, p6, &n6) != NGX_OK)
    {
        return NGX_ERROR;
    }

    list->nentries = n4 + n6;

    if (list->nentries == 0) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "auth_ip_list \"%V\" is empty and denies every "
                           "client", &list->name);
    }

    if (ngx_http_auth_ip_table4(cf, &list->lpm4, p4, n4,
                                sizeof(ngx_http_auth_ip_parsed4_t),
                                NGX_HTTP_AUTH_IP_VALUE(32, 1))
        != NGX_OK
        || ngx_http_auth_ip_table6(cf, &list->lpm6, p6, n6,
                                   sizeof(ngx_http_auth_ip_parsed6_t),
                                   NGX_HTTP_AUTH_IP_VALUE(128, 1))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_log_debug6(NGX_LOG_DEBUG_HTTP, cf->log, 0,
                   "auth_ip_list \"%V\": %ui entries, %uD IPv4 ranges "
                   "(index bits:%d, key bytes:%d), %uD IPv6 ranges",
                   &list->name, list->nentries, list->lpm4.n,
                   (int) list->lpm4.bits, (int) list->lpm4.kbytes,
                   list->lpm6.n);

    return NGX_OK;
}


/*
 * The parsed records and the sort's two buffers are written once and freed
 * after the list is compiled: in 2 MB pages, a large list's take a few
 * dozen page faults instead of thousands (a fault costs microseconds in a
 * VM; they were a fifth of "nginx -t").  "whole" rounds the huge pages up
 * to cover the buffer's end as well.
 *
 * A large list's table, too: a lookup reads a 128-byte slot of 8 MB (at
 * a million prefixes), and in 4 KB pages it may be a TLB miss besides,
 * whose page walk in a VM reads more lines.  It stays as
 * long as the configuration: only the huge pages that it fills are
 * advised, its end is in 4 KB pages (not up to 2 MB more memory).
 */

static void *
ngx_http_auth_ip_buffer(ngx_pool_t *pool, size_t size, ngx_uint_t whole)
{
    void  *p;

    if (size >= NGX_EDGE_AUTH_HUGE) {
        p = ngx_edge_auth_huge_palloc(pool, size,
                                      whole ? ngx_align(size,
                                                        NGX_EDGE_AUTH_HUGE)
                                            : size);
        if (p != NULL) {
            return p;
        }
    }

    return ngx_palloc(pool, size);
}


/* ngx_list_push() with blocks that grow, so that large ones are huge */

static void *
ngx_http_auth_ip_push4(ngx_list_t *list)
{
    ngx_list_part_t  *last;

    last = list->last;

    if (last->nelts == list->nalloc) {

        last = ngx_palloc(list->pool, sizeof(ngx_list_part_t));
        if (last == NULL) {
            return NULL;
        }

        /* the earlier blocks are full: only the last one's size matters */

        if (list->nalloc * list->size < NGX_HTTP_AUTH_IP_PART) {
            list->nalloc *= 2;
        }

        last->elts = ngx_http_auth_ip_buffer(list->pool,
                                             list->nalloc * list->size, 1);
        if (last->elts == NULL) {
            return NULL;
        }

        last->nelts = 0;
        last->next = NULL;

        list->last->next = last;
        list->last = last;
    }

    return (u_char *) last->elts + list->size * last->nelts++;
}


/* the list's records in one array */

static void *
ngx_http_auth_ip_gather(ngx_pool_t *pool, ngx_list_t *list, ngx_uint_t *n)
{
    u_char           *p, *dst;
    ngx_uint_t        total;
    ngx_list_part_t  *part;

    total = 0;

    for (part = &list->part; part; part = part->next) {
        total += part->nelts;
    }

    p = ngx_palloc(pool, total * list->size + 1);
    if (p == NULL) {
        return NULL;
    }

    dst = p;

    for (part = &list->part; part; part = part->next) {
        dst = ngx_cpymem(dst, part->elts, part->nelts * list->size);
    }

    *n = total;

    return p;
}


static ngx_int_t
ngx_http_auth_ip_table4(ngx_conf_t *cf, ngx_edge_auth_lpm4_t *lpm,
    void *entries, ngx_uint_t n, size_t size, uint32_t max)
{
    void      *mem;
    size_t     len, ranges;
    unsigned   vbits;

    ngx_memzero(lpm, sizeof(ngx_edge_auth_lpm4_t));

    if (n == 0) {
        return NGX_OK;
    }

    /* counted first, so built straight into memory of the right size */

    ranges = ngx_edge_auth_lpm4_count(entries, n, size);
    vbits = ngx_edge_auth_lpm_vbits(max);

    if (ranges >= NGX_EDGE_AUTH_LPM_SLOTS_MIN && vbits <= 8) {
        /* one place per lookup: a slot per /16 */
        len = ngx_edge_auth_lpm4_layout_slots(lpm,
                              ngx_edge_auth_lpm4_nodes(entries, n, size));

    } else {
        len = ngx_edge_auth_lpm4_layout(lpm, ranges, vbits,
                                        NGX_EDGE_AUTH_LPM_AUTO);
    }

    mem = ngx_http_auth_ip_buffer(cf->pool, len, 0);
    if (mem == NULL) {
        return NGX_ERROR;
    }

    ngx_edge_auth_lpm4_build(lpm, entries, n, size, mem);

    return NGX_OK;
}


static ngx_int_t
ngx_http_auth_ip_table6(ngx_conf_t *cf, ngx_edge_auth_lpm6_t *lpm,
    void *entries, ngx_uint_t n, size_t size, uint32_t max)
{
    void    *mem;
    size_t   len;

    ngx_memzero(lpm, sizeof(ngx_edge_auth_lpm6_t));

    if (n == 0) {
        return NGX_OK;
    }

    len = ngx_edge_auth_lpm6_layout(lpm,
                                    ngx_edge_auth_lpm6_count(entries, n, size),
                                    ngx_edge_auth_lpm_vbits(max));

    mem = ngx_palloc(cf->pool, len);
    if (mem == NULL) {
        return NGX_ERROR;
    }

    ngx_edge_auth_lpm6_build(lpm, entries, n, size, mem);

    return NGX_OK;
}


/* by prefix, then where it was written: duplicates name their first line */

static int
ngx_http_auth_ip_parsed6_cmp(const void *one, const void *two)
{
    int                                rc;
    const ngx_http_auth_ip_parsed6_t  *a, *b;

    a = one;
    b = two;

    rc = ngx_edge_auth_lpm6_cmp(&a->entry, &b->entry);
    if (rc != 0) {
        return rc;
    }

    if (a->file != b->file) {
        return (a->file < b->file) ? -1 : 1;
    }

    return (a->line < b->line) ? -1 : (a->line > b->line);
}


static ngx_int_t
ngx_http_auth_ip_list_dedup4(ngx_conf_t *cf, ngx_http_auth_ip_build_t *build,
    ngx_http_auth_ip_parsed4_t *p, ngx_uint_t *n)
{
    ngx_uint_t            i, k;
    ngx_edge_auth_cidr_t  cidr;

    k = 0;

    for (i = 0; i < *n; i++) {

        if (k == 0
            || p[k - 1].entry.addr != p[i].entry.addr
            || p[k - 1].entry.prefix != p[i].entry.prefix)
        {
            p[k++] = p[i];
            continue;
        }

        ngx_memzero(&cidr, sizeof(ngx_edge_auth_cidr_t));
        cidr.addr[0] = (u_char) (p[i].entry.addr >> 24);
        cidr.addr[1] = (u_char) (p[i].entry.addr >> 16);
        cidr.addr[2] = (u_char) (p[i].entry.addr >> 8);
        cidr.addr[3] = (u_char) p[i].entry.addr;
        cidr.family = 4;
        cidr.prefix = p[i].entry.prefix;

        if (ngx_http_auth_ip_duplicate(cf, build, &cidr,
                                       p[k - 1].entry.value
                                       != p[i].entry.value,
                                       p[k - 1].file, p[k - 1].line,
                                       p[i].file, p[i].line)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    *n = k;

    return NGX_OK;
}


static ngx_int_t
ngx_http_auth_ip_list_dedup6(ngx_conf_t *cf, ngx_http_auth_ip_build_t *build,
    ngx_http_auth_ip_parsed6_t *p, ngx_uint_t *n)
{
    ngx_uint_t            i, k;
    ngx_edge_auth_cidr_t  cidr;

    k = 0;

    for (i = 0; i < *n; i++) {

        if (k == 0 || ngx_edge_auth_lpm6_cmp(&p[k - 1].entry, &p[i].entry))
        {
            p[k++] = p[i];
            continue;
        }

        ngx_memcpy(cidr.addr, p[i].entry.addr, 16);
        cidr.family = 6;
        cidr.prefix = p[i].entry.prefix;

        if (ngx_http_auth_ip_duplicate(cf, build, &cidr,
                                       p[k - 1].entry.value
                                       != p[i].entry.value,
                                       p[k - 1].file, p[k - 1].line,
                                       p[i].file, p[i].line)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    *n = k;

    return NGX_OK;
}


/* the same prefix twice: an error if allowed and denied, else a warning */

static ngx_int_t
ngx_http_auth_ip_duplicate(ngx_conf_t *cf, ngx_http_auth_ip_build_t *build,
    ngx_edge_auth_cidr_t *cidr, ngx_uint_t conflict, uint32_t file1,
    uint32_t line1, uint32_t file2, uint32_t line2)
{
    size_t      len;
    ngx_str_t  *files;
    u_char      text[NGX_EDGE_AUTH_CIDR_TEXT_LEN + 1];

    files = build->files.elts;

    len = ngx_edge_auth_cidr_format(cidr, text, sizeof(text));

    if (conflict) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "auth_ip_list \"%V\": \"%*s\" is both allowed and "
                      "denied, in %V:%uD and in %V:%uD",
                      &build->list->name, len, text,
                      &files[file1], line1, &files[file2], line2);
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                  "auth_ip_list \"%V\": duplicate entry \"%*s\" in "
                  "%V:%uD, first in %V:%uD",
                  &build->list->name, len, text,
                  &files[file2], line2, &files[file1], line1);

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
ngx_http_auth_ip_create_srv_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_auth_ip_srv_conf_t));
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

    char                          *rv;
    ngx_uint_t                     i;
    ngx_http_auth_ip_list_t       *list;
    ngx_http_auth_ip_srv_conf_t   *ascf;
    ngx_http_auth_ip_main_conf_t  *amcf;

    rv = ngx_edge_auth_ref_merge(cf, &conf->ref, &prev->ref,
                                 ngx_http_auth_ip_find, "auth_ip_list");
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* lists are compiled at the end of their blocks, before any merge */

    list = conf->ref.target;

    if (list == NULL) {
        return NGX_CONF_OK;
    }

    conf->lpm4 = list->lpm4;

    if (!list->lpm4.slots) {
        return NGX_CONF_OK;
    }

    /* nginx merges a server's locations with its srv_conf in cf->ctx */

    ascf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_auth_ip_module);

    for (i = 0; i < ascf->n; i++) {
        if (ascf->lpm4[i].ranges == list->lpm4.ranges) {
            return NGX_CONF_OK;
        }
    }

    if (ascf->n < NGX_HTTP_AUTH_IP_PREFETCH) {
        ascf->lpm4[ascf->n++] = list->lpm4;

        amcf = ngx_http_conf_get_module_main_conf(cf,
                                                  ngx_http_auth_ip_module);
        amcf->prefetch = 1;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_auth_ip_init(ngx_conf_t *cf)
{
    ngx_uint_t                     i;
    ngx_http_handler_pt           *h;
    ngx_http_core_main_conf_t     *cmcf;
    ngx_http_auth_ip_main_conf_t  *amcf;

    static ngx_uint_t  phases[] = {
        NGX_HTTP_REWRITE_PHASE,
        NGX_HTTP_ACCESS_PHASE,
        NGX_HTTP_PRECONTENT_PHASE
    };

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_auth_ip_module);

#if (NGX_LINUX && defined __GLIBC__)

    if (amcf->untrimmed) {
        amcf->untrimmed = 0;
        (void) malloc_trim(0);
    }

#endif

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    for (i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
        h = ngx_array_push(&cmcf->phases[phases[i]].handlers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ngx_http_auth_ip_handler;
    }

    /* the servers are merged: which of them check tables in slots is known */

    if (amcf->prefetch) {
        h = ngx_array_push(&cmcf->phases[NGX_HTTP_SERVER_REWRITE_PHASE]
                               .handlers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ngx_http_auth_ip_prefetch;
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
