
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "ngx_edge_auth_state.h"


#define NGX_EDGE_AUTH_STATE_LABEL    "credential-state"
#define NGX_EDGE_AUTH_CONNECT_LABEL  "credential-connect"
#define NGX_EDGE_AUTH_PKCE_LABEL     "credential-pkce"


static int ngx_edge_auth_state_mac_label(const char *label, size_t label_len,
    const u_char *key, size_t key_len, const u_char *name, size_t name_len,
    const u_char *issued, const u_char *nonce, u_char *mac);
static int ngx_edge_auth_state_make_label(const char *label,
    size_t label_len, const u_char *key, size_t key_len, const u_char *name,
    size_t name_len, int64_t issued_msec, const u_char *nonce, u_char *state,
    u_char *cookie);
static ngx_edge_auth_state_rc_e ngx_edge_auth_state_check_label(
    const char *label, size_t label_len, const u_char *key, size_t key_len,
    const u_char *name, size_t name_len, const u_char *state,
    size_t state_len, const u_char *cookie, size_t cookie_len,
    int64_t now_msec, uint64_t lifetime_msec, uint64_t skew_msec,
    int64_t *issued_msec);
static int ngx_edge_auth_b64url_value(u_char c);
static int ngx_edge_auth_state_future(int64_t issued, int64_t now,
    uint64_t skew);
static int ngx_edge_auth_state_expired(int64_t issued, int64_t now,
    uint64_t lifetime);


static const u_char  ngx_edge_auth_b64url_basis[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


size_t
ngx_edge_auth_b64url_encode(u_char *dst, const u_char *src, size_t len)
{
    u_char        *d;
    const u_char  *b;

    d = dst;
    b = ngx_edge_auth_b64url_basis;

    while (len > 2) {
        *d++ = b[src[0] >> 2];
        *d++ = b[((src[0] & 3) << 4) | (src[1] >> 4)];
        *d++ = b[((src[1] & 0x0f) << 2) | (src[2] >> 6)];
        *d++ = b[src[2] & 0x3f];

        src += 3;
        len -= 3;
    }

    if (len == 1) {
        *d++ = b[src[0] >> 2];
        *d++ = b[(src[0] & 3) << 4];

    } else if (len == 2) {
        *d++ = b[src[0] >> 2];
        *d++ = b[((src[0] & 3) << 4) | (src[1] >> 4)];
        *d++ = b[(src[1] & 0x0f) << 2];
    }

    return d - dst;
}


int
ngx_edge_auth_b64url_decode(u_char *dst, size_t size, const u_char *src,
    size_t len, size_t *n)
{
    int       v, bits;
    size_t    i, out;
    uint32_t  acc;

    /* 4k + 1 characters carry 6 bits too few for one more byte */

    if (len % 4 == 1) {
        return -1;
    }

    out = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);

    if (out > size) {
        return -1;
    }

    acc = 0;
    bits = 0;
    out = 0;

    for (i = 0; i < len; i++) {
        v = ngx_edge_auth_b64url_value(src[i]);

        if (v < 0) {
            return -1;
        }

        acc = (acc << 6) | (uint32_t) v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            dst[out++] = (u_char) (acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }

    /*
     * The 2 or 4 bits left over must be zero: nginx's decoder ignores
     * them, and then four texts decode to the same state.
     */

    if (acc != 0) {
        return -1;
    }

    *n = out;

    return 0;
}


void
ngx_edge_auth_state_issued_put(u_char *p, int64_t msec)
{
    int       i;
    uint64_t  u;

    u = (uint64_t) msec;

    for (i = 0; i < NGX_EDGE_AUTH_STATE_ISSUED; i++) {
        p[i] = (u_char) (u >> (56 - 8 * i));
    }
}


int64_t
ngx_edge_auth_state_issued_get(const u_char *p)
{
    int       i;
    uint64_t  u;

    u = 0;

    for (i = 0; i < NGX_EDGE_AUTH_STATE_ISSUED; i++) {
        u = (u << 8) | p[i];
    }

    /* two's complement, without the implementation-defined conversion */

    if (u > (uint64_t) INT64_MAX) {
        return -(int64_t) (~u) - 1;
    }

    return (int64_t) u;
}


int
ngx_edge_auth_state_mac(const u_char *key, size_t key_len,
    const u_char *name, size_t name_len, const u_char *issued,
    const u_char *nonce, u_char *mac)
{
    return ngx_edge_auth_state_mac_label(NGX_EDGE_AUTH_STATE_LABEL,
                                         sizeof(NGX_EDGE_AUTH_STATE_LABEL),
                                         key, key_len, name, name_len,
                                         issued, nonce, mac);
}


/*
 * The label (with its NUL) keeps the MACs of the state, of the connect
 * page's token and of the PKCE verifier apart: one is never another.
 */

static int
ngx_edge_auth_state_mac_label(const char *label, size_t label_len,
    const u_char *key, size_t key_len, const u_char *name, size_t name_len,
    const u_char *issued, const u_char *nonce, u_char *mac)
{
    int            rc;
    u_char        *p;
    u_char         data[256];
    unsigned int   len;

    static const u_char  empty[1];

    if (key_len > INT_MAX) {
        return -1;
    }

    /* bound to the credential: a state of another one does not fit */

    p = data;

    memcpy(p, label, label_len);
    p += label_len;

    if (name_len > NGX_EDGE_AUTH_STATE_NAME_MAX) {
        name_len = NGX_EDGE_AUTH_STATE_NAME_MAX;
    }

    if (name_len) {
        memcpy(p, name, name_len);
        p += name_len;
    }

    *p++ = '\0';

    memcpy(p, issued, NGX_EDGE_AUTH_STATE_ISSUED);
    p += NGX_EDGE_AUTH_STATE_ISSUED;

    memcpy(p, nonce, NGX_EDGE_AUTH_STATE_NONCE);
    p += NGX_EDGE_AUTH_STATE_NONCE;

    rc = (HMAC(EVP_sha256(), key ? key : empty, (int) key_len, data,
               p - data, mac, &len)
          == NULL || len != NGX_EDGE_AUTH_STATE_MAC) ? -1 : 0;

    /* the nonce is the cookie's secret */

    OPENSSL_cleanse(data, sizeof(data));

    return rc;
}


int
ngx_edge_auth_state_equal(const u_char *a, const u_char *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}


int
ngx_edge_auth_state_make(const u_char *key, size_t key_len,
    const u_char *name, size_t name_len, int64_t issued_msec,
    const u_char *nonce, u_char *state, u_char *cookie)
{
    return ngx_edge_auth_state_make_label(NGX_EDGE_AUTH_STATE_LABEL,
                                          sizeof(NGX_EDGE_AUTH_STATE_LABEL),
                                          key, key_len, name, name_len,
                                          issued_msec, nonce, state, cookie);
}


int
ngx_edge_auth_connect_make(const u_char *key, size_t key_len,
    const u_char *name, size_t name_len, int64_t issued_msec,
    const u_char *nonce, u_char *token, u_char *cookie)
{
    return ngx_edge_auth_state_make_label(NGX_EDGE_AUTH_CONNECT_LABEL,
                                          sizeof(NGX_EDGE_AUTH_CONNECT_LABEL),
                                          key, key_len, name, name_len,
                                          issued_msec, nonce, token, cookie);
}


static int
ngx_edge_auth_state_make_label(const char *label, size_t label_len,
    const u_char *key, size_t key_len, const u_char *name, size_t name_len,
    int64_t issued_msec, const u_char *nonce, u_char *state, u_char *cookie)
{
    int     rc;
    u_char  raw[NGX_EDGE_AUTH_STATE_RAW];

    /* milliseconds, big-endian: also what makes a state single use */

    ngx_edge_auth_state_issued_put(raw, issued_msec);

    rc = ngx_edge_auth_state_mac_label(label, label_len, key, key_len, name,
                                       name_len, raw, nonce,
                                       raw + NGX_EDGE_AUTH_STATE_ISSUED);

    if (rc == 0) {
        ngx_edge_auth_b64url_encode(state, raw, sizeof(raw));
        ngx_edge_auth_b64url_encode(cookie, nonce, NGX_EDGE_AUTH_STATE_NONCE);
    }

    OPENSSL_cleanse(raw, sizeof(raw));

    return rc;
}


ngx_edge_auth_state_rc_e
ngx_edge_auth_state_check(const u_char *key, size_t key_len,
    const u_char *name, size_t name_len, const u_char *state,
    size_t state_len, const u_char *cookie, size_t cookie_len,
    int64_t now_msec, uint64_t lifetime_msec, uint64_t skew_msec,
    int64_t *issued_msec)
{
    return ngx_edge_auth_state_check_label(NGX_EDGE_AUTH_STATE_LABEL,
               sizeof(NGX_EDGE_AUTH_STATE_LABEL), key, key_len, name,
               name_len, state, state_len, cookie, cookie_len, now_msec,
               lifetime_msec, skew_msec, issued_msec);
}


ngx_edge_auth_state_rc_e
ngx_edge_auth_connect_check(const u_char *key, size_t key_len,
    const u_char *name, size_t name_len, const u_char *token,
    size_t token_len, const u_char *cookie, size_t cookie_len,
    int64_t now_msec, uint64_t lifetime_msec, uint64_t skew_msec)
{
    int64_t  issued;

    return ngx_edge_auth_state_check_label(NGX_EDGE_AUTH_CONNECT_LABEL,
               sizeof(NGX_EDGE_AUTH_CONNECT_LABEL), key, key_len, name,
               name_len, token, token_len, cookie, cookie_len, now_msec,
               lifetime_msec, skew_msec, &issued);
}


/*
 * The PKCE verifier is a MAC of the state cookie's nonce: fresh for each
 * connect step (the nonce is), bound to the browser that began it (no
 * cookie, no verifier), and nothing more to keep: the callback derives it
 * again from the cookie it checks anyway.  Without the key, the nonce
 * alone does not give it.
 */

int
ngx_edge_auth_state_pkce(const u_char *key, size_t key_len,
    const u_char *name, size_t name_len, const u_char *cookie,
    size_t cookie_len, u_char *verifier, u_char *challenge)
{
    int            rc;
    size_t         n;
    u_char         nonce[NGX_EDGE_AUTH_STATE_NONCE];
    u_char         mac[NGX_EDGE_AUTH_STATE_MAC];
    u_char         issued[NGX_EDGE_AUTH_STATE_ISSUED];
    u_char         digest[SHA256_DIGEST_LENGTH];

    rc = -1;

    if (cookie_len != NGX_EDGE_AUTH_STATE_COOKIE_LEN
        || ngx_edge_auth_b64url_decode(nonce, sizeof(nonce), cookie,
                                       cookie_len, &n)
           != 0
        || n != sizeof(nonce))
    {
        goto done;
    }

    memset(issued, 0, sizeof(issued));

    if (ngx_edge_auth_state_mac_label(NGX_EDGE_AUTH_PKCE_LABEL,
                                      sizeof(NGX_EDGE_AUTH_PKCE_LABEL),
                                      key, key_len, name, name_len, issued,
                                      nonce, mac)
        != 0)
    {
        goto done;
    }

    /* RFC 7636 4.1: 43 characters of base64url, 256 bits */

    ngx_edge_auth_b64url_encode(verifier, mac, sizeof(mac));

    /* 4.2: S256, the SHA-256 of the verifier's text */

    if (SHA256(verifier, NGX_EDGE_AUTH_PKCE_LEN, digest) == NULL) {
        goto done;
    }

    ngx_edge_auth_b64url_encode(challenge, digest, sizeof(digest));

    rc = 0;

done:

    OPENSSL_cleanse(nonce, sizeof(nonce));
    OPENSSL_cleanse(mac, sizeof(mac));

    return rc;
}


static ngx_edge_auth_state_rc_e
ngx_edge_auth_state_check_label(const char *label, size_t label_len,
    const u_char *key, size_t key_len, const u_char *name, size_t name_len,
    const u_char *state, size_t state_len, const u_char *cookie,
    size_t cookie_len, int64_t now_msec, uint64_t lifetime_msec,
    uint64_t skew_msec, int64_t *issued_msec)
{
    size_t                    n;
    u_char                    raw[NGX_EDGE_AUTH_STATE_RAW];
    u_char                    nonce[NGX_EDGE_AUTH_STATE_NONCE];
    u_char                    mac[NGX_EDGE_AUTH_STATE_MAC];
    int64_t                   issued;
    ngx_edge_auth_state_rc_e  rc;

    if (cookie_len != NGX_EDGE_AUTH_STATE_COOKIE_LEN
        || ngx_edge_auth_b64url_decode(nonce, sizeof(nonce), cookie,
                                       cookie_len, &n)
           != 0
        || n != sizeof(nonce))
    {
        rc = NGX_EDGE_AUTH_STATE_MALFORMED_COOKIE;
        goto done;
    }

    if (state_len != NGX_EDGE_AUTH_STATE_TEXT_LEN
        || ngx_edge_auth_b64url_decode(raw, sizeof(raw), state, state_len,
                                       &n)
           != 0
        || n != sizeof(raw))
    {
        rc = NGX_EDGE_AUTH_STATE_MALFORMED_STATE;
        goto done;
    }

    if (ngx_edge_auth_state_mac_label(label, label_len, key, key_len, name,
                                      name_len, raw, nonce, mac)
        != 0)
    {
        rc = NGX_EDGE_AUTH_STATE_ERROR;
        goto done;
    }

    if (!ngx_edge_auth_state_equal(mac, raw + NGX_EDGE_AUTH_STATE_ISSUED,
                                   NGX_EDGE_AUTH_STATE_MAC))
    {
        rc = NGX_EDGE_AUTH_STATE_BAD_MAC;
        goto done;
    }

    issued = ngx_edge_auth_state_issued_get(raw);
    *issued_msec = issued;

    if (ngx_edge_auth_state_future(issued, now_msec, skew_msec)) {
        rc = NGX_EDGE_AUTH_STATE_FUTURE;

    } else if (ngx_edge_auth_state_expired(issued, now_msec, lifetime_msec)) {
        rc = NGX_EDGE_AUTH_STATE_EXPIRED;

    } else {
        rc = NGX_EDGE_AUTH_STATE_OK;
    }

done:

    OPENSSL_cleanse(nonce, sizeof(nonce));
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(mac, sizeof(mac));

    return rc;
}


static int
ngx_edge_auth_b64url_value(u_char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == '-') {
        return 62;
    }

    if (c == '_') {
        return 63;
    }

    return -1;
}


/*
 * issued > now + skew and now - issued >= lifetime, exactly: as unsigned
 * differences, which cannot overflow, where int64_t sums could.
 */

static int
ngx_edge_auth_state_future(int64_t issued, int64_t now, uint64_t skew)
{
    if (issued <= now) {
        return 0;
    }

    return (uint64_t) issued - (uint64_t) now > skew;
}


static int
ngx_edge_auth_state_expired(int64_t issued, int64_t now, uint64_t lifetime)
{
    if (issued > now) {
        return 0;
    }

    return (uint64_t) now - (uint64_t) issued >= lifetime;
}
