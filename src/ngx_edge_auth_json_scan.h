
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * A strict JSON checker (RFC 8259, UTF-8) that builds nothing: one pass,
 * no allocation, no copy of the text, which may be in several parts (the
 * buffers of a request body), and the spans of the top-level members of
 * an object for whoever rewrites the text.  Pure C.
 *
 * Strings and white space are scanned 16 bytes at a time with SSE2 where
 * the compiler targets it (all of x86-64), or 32 with AVX2 where the
 * processor has it (asked at run time), else 8 bytes at a time in a
 * 64-bit word; -DNGX_EDGE_AUTH_JSON_SCALAR forces the word path.  Where
 * the processor has AVX-512BW, a block checker (64 bytes at a time into
 * bitmasks) runs first and hands the texts it does not decide on.
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


/* one part of the text: the parts glued in order are the text */
typedef struct {
    const u_char  *pos;
    const u_char  *last;
} ngx_edge_auth_json_part_t;


/*
 * A top-level member: its key (with its quotes) starts at offset start of
 * the glued text and is key_len bytes long; its value ends at offset end.
 * key points to the key's bytes when they are in one part, else it is
 * NULL (the key crosses from one part into the next).
 */
typedef void (*ngx_edge_auth_json_member_pt)(void *data, const u_char *key,
    size_t key_len, size_t start, size_t end);


/*
 * Checks the n parts as one JSON text with optional white space around
 * it; empty parts are allowed.  When it is an object, member() is called
 * for each top-level member in order, possibly before a later byte turns
 * out to be invalid.
 */
int ngx_edge_auth_json_scan(const ngx_edge_auth_json_part_t *part, size_t n,
    ngx_edge_auth_json_member_pt member, void *data);


/*
 * "scalar" or "sse2": the way this build scans strings and white space
 * (the unit test and the fuzzer build both, and compare them).
 */
extern const char  ngx_edge_auth_json_scan_path[];

/*
 * Where SSE2 is, the checker is also built for AVX2 (32 bytes at a time)
 * and as a block checker (64 bytes at a time into bitmasks, with
 * PCLMULQDQ, BMI1 and BMI2) for AVX2 and for AVX-512BW.  The processor
 * is asked at the first call: 3 then runs the AVX-512BW block checker, 2
 * the AVX2 one (each with the one-pass AVX2 build on what it leaves
 * undecided), 1 the one-pass AVX2 build alone, 0 the SSE2 one; -1 is not
 * asked yet.  The unit test and the fuzzer set it to compare them.
 * Always 0 in the word build.  ngx_edge_auth_json_blocks_undecided counts
 * the texts the block checker handed on: errors, and an escape or a UTF-8
 * sequence cut where one part ends.  ngx_edge_auth_json_blocks_compact
 * counts the 64-byte blocks the block checker did in its compact loop
 * (no white space outside strings, no escape, no byte from 0x80, numbers
 * of digits, deeper than the top-level members).
 */
extern int     ngx_edge_auth_json_scan_avx2;
extern size_t  ngx_edge_auth_json_blocks_undecided;
extern size_t  ngx_edge_auth_json_blocks_compact;


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
 * The folded key of a key the checker passed is never longer than it.
 */
size_t ngx_edge_auth_json_key_fold(const u_char *key, size_t len,
    u_char *out, size_t size);


#endif /* _NGX_EDGE_AUTH_JSON_SCAN_H_INCLUDED_ */
