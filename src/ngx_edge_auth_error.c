
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Error answers in the style of the partners' own APIs:
 * {"errorCode": "...", "errorMessage": "...", "errors": []}
 */


#include "ngx_edge_auth_error.h"


ngx_int_t
ngx_edge_auth_send_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *code, ngx_str_t *message)
{
    size_t        len;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_str_t     type;

    /* code and message are the module's own constants: nothing to escape */

    len = sizeof("{\"errorCode\":\"\",\"errorMessage\":\"\",\"errors\":[]}")
          - 1 + code->len + message->len + sizeof("\n") - 1;

    /* no "100 Continue" invites a body only to throw it away */
    r->expect_tested = 1;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_sprintf(b->last,
                          "{\"errorCode\":\"%V\",\"errorMessage\":\"%V\","
                          "\"errors\":[]}\n", code, message);

    ngx_str_set(&type, "application/json");

    return ngx_edge_auth_send(r, status, &type, b);
}


ngx_int_t
ngx_edge_auth_send(ngx_http_request_t *r, ngx_uint_t status, ngx_str_t *type,
    ngx_buf_t *b)
{
    ngx_int_t     rc;
    ngx_chain_t   out;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;

    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_type_lowcase = NULL;

    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
