
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * A strict JSON checker (RFC 8259, UTF-8) that builds nothing: one pass,
 * no allocation, and the spans of the top-level members of an object for
 * whoever rewrites the text.  Pure C.
 */


#ifndef _NGX_EDGE_AUTH_JSON_SCAN_H_INCLUDED_
#define _NGX_EDGE_AUTH_JSON_SCAN_H_INCLUDED_


#include <stddef.h>
#include <sys/types.h>


#define NGX_EDGE_AUTH_JSON_OBJECT      0    /* valid, an object */
#define NGX_EDGE_AUTH_JSON_NOT_OBJECT  1    /* valid, something else */
#define NGX_EDGE_AUTH_JSON_INVALID     2

/* nesting deeper than this is refused, as jansson does */
#define NGX_EDGE_AUTH_JSON_DEPTH       2048


/* a top-level member: key (with its quotes) up to the end of its value */
typedef void (*ngx_edge_auth_json_member_pt)(void *data, const u_char *key,
    size_t key_len, const u_char *end);


/*
 * Checks p[0..len) as one JSON text with optional white space around it.
 * When it is an object, member() is called for each top-level member in
 * order, possibly before a later byte turns out to be invalid.
 */
int ngx_edge_auth_json_scan(const u_char *p, size_t len,
    ngx_edge_auth_json_member_pt member, void *data);


#endif /* _NGX_EDGE_AUTH_JSON_SCAN_H_INCLUDED_ */
