
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The credential module's filters, as a module of their own.  nginx calls
 * the modules' postconfiguration in the order of its module list, and a
 * filter is put on top of the ones registered before it.  nginx's own
 * header and write filters do not call a next one: a filter registered
 * before theirs is never called.  Built in (--add-module), an HTTP
 * module's postconfiguration runs before every filter module's, so the
 * filters are here, in a module that "config" declares an HTTP_FILTER:
 * statically it is listed after nginx's filter modules up to the headers
 * filter and before the copy filter, and in the shared object its
 * ngx_module_order puts it at the same place, before the copy filter.
 *
 * The order of the two calls is the one the filters always had: the
 * answer-code filters are called first, then the 401 header filter.
 */


#include "ngx_http_credential_answer.h"
#include "ngx_http_credential_handler.h"


static ngx_int_t ngx_http_credential_filter_init(ngx_conf_t *cf);


static ngx_http_module_t  ngx_http_credential_filter_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_credential_filter_init,       /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_credential_filter_module = {
    NGX_MODULE_V1,
    &ngx_http_credential_filter_module_ctx, /* module context */
    NULL,                                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_credential_filter_init(ngx_conf_t *cf)
{
    if (ngx_http_credential_handler_filter_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_credential_answer_init(cf);
}
