
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


/*
 * A key (a JSON string, quotes included, as the checker hands it over) as a
 * partner that matches keys loosely may read it: escapes decoded; NUL, the
 * other C0 and C1 controls, DEL and the invisible characters (soft hyphen,
 * U+034F, U+115F, U+1160, U+17B4, U+17B5, U+180E, U+200B to U+200F,
 * U+202A to U+202E, U+2060 to U+206F, U+3164, U+FE00 to U+FE0F, U+FEFF,
 * U+FFA0, U+E0000 to U+E0FFF) dropped; ASCII letters, the Kelvin sign
 * (U+212A) and the long s (U+017F) folded to lowercase ASCII, as Go's
 * encoding/json (bytes.EqualFold) matches them.  Other characters stay as
 * they are (UTF-8).  Writes at most size bytes into out and returns the
 * length of the whole folded key: more than size when it did not fit.
 */
size_t ngx_edge_auth_json_key_fold(const u_char *key, size_t len,
    u_char *out, size_t size);


#endif /* _NGX_EDGE_AUTH_JSON_SCAN_H_INCLUDED_ */
