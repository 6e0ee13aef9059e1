
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The signed "state" of the OAuth 2.0 authorization-code flow and its
 * cookie, as text.  Pure C with OpenSSL's libcrypto, so that it can be
 * unit tested and fuzzed without nginx.
 *
 *   state  = base64url(issued || mac), 54 characters
 *   cookie = base64url(nonce), 22 characters
 *   issued = milliseconds since the epoch, 8 bytes big-endian
 *   mac    = HMAC-SHA256(key, "credential-state" NUL name NUL issued nonce)
 *
 * base64url is RFC 4648 section 5 without padding.  The name in the MAC
 * is cut at NGX_EDGE_AUTH_STATE_NAME_MAX bytes, as it always was: states
 * already handed out stay valid.
 */


#ifndef _NGX_EDGE_AUTH_STATE_H_INCLUDED_
#define _NGX_EDGE_AUTH_STATE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


#define NGX_EDGE_AUTH_STATE_ISSUED      8
#define NGX_EDGE_AUTH_STATE_NONCE       16
#define NGX_EDGE_AUTH_STATE_MAC         32
#define NGX_EDGE_AUTH_STATE_RAW                                              \
    (NGX_EDGE_AUTH_STATE_ISSUED + NGX_EDGE_AUTH_STATE_MAC)

/* of a 256-byte MAC input, 64 bytes are kept for the rest */
#define NGX_EDGE_AUTH_STATE_NAME_MAX    (256 - 64)

/* characters of n bytes in base64url without padding */
#define NGX_EDGE_AUTH_B64URL_LEN(n)     (((n) * 4 + 2) / 3)

#define NGX_EDGE_AUTH_STATE_TEXT_LEN                                         \
    NGX_EDGE_AUTH_B64URL_LEN(NGX_EDGE_AUTH_STATE_RAW)         /* 54 */
#define NGX_EDGE_AUTH_STATE_COOKIE_LEN                                       \
    NGX_EDGE_AUTH_B64URL_LEN(NGX_EDGE_AUTH_STATE_NONCE)       /* 22 */

/* a PKCE code verifier and its S256 challenge, RFC 7636 */
#define NGX_EDGE_AUTH_PKCE_LEN                                               \
    NGX_EDGE_AUTH_B64URL_LEN(NGX_EDGE_AUTH_STATE_MAC)         /* 43 */


/* in the order the checks run: the first that fails is the answer */

typedef enum {
    NGX_EDGE_AUTH_STATE_OK = 0,
    NGX_EDGE_AUTH_STATE_MALFORMED_COOKIE,
    NGX_EDGE_AUTH_STATE_MALFORMED_STATE,
    NGX_EDGE_AUTH_STATE_BAD_MAC,
    NGX_EDGE_AUTH_STATE_FUTURE,         /* issued > now + skew */
    NGX_EDGE_AUTH_STATE_EXPIRED,        /* now - issued >= lifetime */
    NGX_EDGE_AUTH_STATE_ERROR           /* HMAC failed, or a key too long */
} ngx_edge_auth_state_rc_e;


/* writes NGX_EDGE_AUTH_B64URL_LEN(len) characters, returns that number */
size_t ngx_edge_auth_b64url_encode(u_char *dst, const u_char *src,
    size_t len);

/*
 * Strict: no padding, only A-Z a-z 0-9 - _, no length of 4k + 1 and no
 * bits set past the last byte, so that each byte string has one text.
 * Returns 0 and the byte count in *n, or -1 (dst then holds garbage);
 * at most size bytes are written.
 */
int ngx_edge_auth_b64url_decode(u_char *dst, size_t size, const u_char *src,
    size_t len, size_t *n);

void ngx_edge_auth_state_issued_put(u_char *p, int64_t msec);
int64_t ngx_edge_auth_state_issued_get(const u_char *p);

/* issued: 8 bytes, nonce: 16, mac: 32 written; returns 0 or -1 */
int ngx_edge_auth_state_mac(const u_char *key, size_t key_len,
    const u_char *name, size_t name_len, const u_char *issued,
    const u_char *nonce, u_char *mac);

/* 1 when equal, in a time that does not depend on where they differ */
int ngx_edge_auth_state_equal(const u_char *a, const u_char *b, size_t n);

/*
 * Writes NGX_EDGE_AUTH_STATE_TEXT_LEN characters to state and
 * NGX_EDGE_AUTH_STATE_COOKIE_LEN to cookie, no NUL.  The nonce stays the
 * caller's to wipe.  Returns 0, or -1 when HMAC fails.
 */
int ngx_edge_auth_state_make(const u_char *key, size_t key_len,
    const u_char *name, size_t name_len, int64_t issued_msec,
    const u_char *nonce, u_char *state, u_char *cookie);

/*
 * The state against the browser's cookie, then its age: a state issued
 * more than skew_msec ahead of now_msec is FUTURE, one lifetime_msec old
 * or older EXPIRED.  *issued_msec is set when the MAC matched (OK, FUTURE,
 * EXPIRED): it is what makes a state single use.
 */
ngx_edge_auth_state_rc_e ngx_edge_auth_state_check(const u_char *key,
    size_t key_len, const u_char *name, size_t name_len,
    const u_char *state, size_t state_len, const u_char *cookie,
    size_t cookie_len, int64_t now_msec, uint64_t lifetime_msec,
    uint64_t skew_msec, int64_t *issued_msec);


/*
 * The token of the connect page's form and its cookie: the same codec
 * as the state, with another label in the MAC, so that neither can stand
 * for the other.  The check is the state's, without the issue time.
 */
int ngx_edge_auth_connect_make(const u_char *key, size_t key_len,
    const u_char *name, size_t name_len, int64_t issued_msec,
    const u_char *nonce, u_char *token, u_char *cookie);
ngx_edge_auth_state_rc_e ngx_edge_auth_connect_check(const u_char *key,
    size_t key_len, const u_char *name, size_t name_len,
    const u_char *token, size_t token_len, const u_char *cookie,
    size_t cookie_len, int64_t now_msec, uint64_t lifetime_msec,
    uint64_t skew_msec);

/*
 * The PKCE verifier of a state cookie (its text) and its S256 challenge:
 * NGX_EDGE_AUTH_PKCE_LEN characters each, no NUL.  Returns 0, or -1 for
 * a malformed cookie or when HMAC or SHA-256 fails.
 */
int ngx_edge_auth_state_pkce(const u_char *key, size_t key_len,
    const u_char *name, size_t name_len, const u_char *cookie,
    size_t cookie_len, u_char *verifier, u_char *challenge);


#endif /* _NGX_EDGE_AUTH_STATE_H_INCLUDED_ */
