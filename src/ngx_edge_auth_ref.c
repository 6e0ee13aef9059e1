
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * "NAME | off" arguments that refer to blocks defined anywhere in the
 * http block, resolved and inherited when location configurations merge.
 */


#include "ngx_edge_auth.h"


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
    ngx_edge_auth_ref_t  *ref;

    if (!conf->set) {
        /* the http level is never merged into anything: resolve it here */
        ref = prev;

    } else {
        ref = conf;
    }

    if (ref->set && !ref->resolved) {
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
