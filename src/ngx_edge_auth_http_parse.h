
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Parser for the HTTP/1.x answers of login and token endpoints.  It works
 * on the whole answer received so far: small answers, read to the end,
 * then parsed once more in place.  Pure C, for unit tests and fuzzing.
 */


#ifndef _NGX_EDGE_AUTH_HTTP_PARSE_H_INCLUDED_
#define _NGX_EDGE_AUTH_HTTP_PARSE_H_INCLUDED_


#include <stddef.h>
#include <sys/types.h>


#define NGX_EDGE_AUTH_HTTP_MAX_HEADERS  64


typedef enum {
    NGX_EDGE_AUTH_HTTP_COMPLETE = 0,
    NGX_EDGE_AUTH_HTTP_INCOMPLETE,
    NGX_EDGE_AUTH_HTTP_INVALID
} ngx_edge_auth_http_rc_e;


typedef struct {
    const u_char   *name;
    size_t          name_len;
    const u_char   *value;
    size_t          value_len;
} ngx_edge_auth_http_header_t;


typedef struct {
    unsigned                     status;
    ngx_edge_auth_http_header_t  headers[NGX_EDGE_AUTH_HTTP_MAX_HEADERS];
    size_t                       nheaders;
    u_char                      *body;       /* decoded in place */
    size_t                       body_len;
    const char                  *error;      /* why INVALID */
} ngx_edge_auth_http_answer_t;


/*
 * Parses buf[0..len).  "eof" says the peer closed the connection, which
 * completes an answer without Content-Length or chunked framing.  On
 * COMPLETE a chunked body has been decoded in place inside buf.
 */
ngx_edge_auth_http_rc_e ngx_edge_auth_http_parse(u_char *buf, size_t len,
    int eof, ngx_edge_auth_http_answer_t *a);

/* a header's value by name, case-insensitive; NULL if absent */
const ngx_edge_auth_http_header_t *ngx_edge_auth_http_header(
    const ngx_edge_auth_http_answer_t *a, const char *name);


#endif /* _NGX_EDGE_AUTH_HTTP_PARSE_H_INCLUDED_ */
