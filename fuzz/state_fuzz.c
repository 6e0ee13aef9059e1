
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * libFuzzer target for the OAuth state codec.  The input is read three
 * ways at once:
 *
 *   - as text and as bytes: base64url decoding is canonical (what it
 *     accepts encodes back to the same text) and encoding round trips;
 *   - as  cookie length % 32, state length % 64, now (8 bytes), cookie,
 *     state: a check under a fixed key never reads past them and accepts
 *     only what make writes for that nonce and issue time;
 *   - as  issued, now, lifetime, skew (8 bytes each), nonce (16), a
 *     position, an xor byte, name: make and check agree with the time
 *     rules computed here in 128 bits, and the changed byte is caught.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_edge_auth_state.h"


#define KEY  "fuzz-state-key-0123456789abcdef!"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void state_text(const uint8_t *data, size_t size);
static void state_any(const uint8_t *data, size_t size);
static void state_made(const uint8_t *data, size_t size);
static uint64_t rd64(const uint8_t *p);
static u_char *fuzz_dup(const uint8_t *p, size_t n);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    state_text(data, size);
    state_any(data, size);
    state_made(data, size);

    return 0;
}


static void
state_text(const uint8_t *data, size_t size)
{
    size_t   n, t;
    u_char  *src, *text, *back;

    /* exact sizes: ASan sees one byte too far */

    src = fuzz_dup(data, size);
    back = malloc(size ? size : 1);
    text = malloc(NGX_EDGE_AUTH_B64URL_LEN(size) + 1);

    if (src == NULL || back == NULL || text == NULL) {
        abort();
    }

    if (ngx_edge_auth_b64url_decode(back, size, src, size, &n) == 0) {
        t = ngx_edge_auth_b64url_encode(text, back, n);

        if (t != size || memcmp(text, src, size) != 0) {
            abort();
        }
    }

    t = ngx_edge_auth_b64url_encode(text, src, size);

    if (t != NGX_EDGE_AUTH_B64URL_LEN(size)
        || ngx_edge_auth_b64url_decode(back, size, text, t, &n) != 0
        || n != size || memcmp(back, src, size) != 0)
    {
        abort();
    }

    if (size && ngx_edge_auth_b64url_decode(back, size - 1, text, t, &n)
                != -1)
    {
        abort();
    }

    free(src);
    free(back);
    free(text);
}


static void
state_any(const uint8_t *data, size_t size)
{
    size_t                    clen, slen, n;
    u_char                   *cookie, *state;
    u_char                    nonce[NGX_EDGE_AUTH_STATE_NONCE];
    u_char                    s2[NGX_EDGE_AUTH_STATE_TEXT_LEN];
    u_char                    c2[NGX_EDGE_AUTH_STATE_COOKIE_LEN];
    int64_t                   now, issued;
    ngx_edge_auth_state_rc_e  rc;

    if (size < 10) {
        return;
    }

    clen = data[0] % 32;
    slen = data[1] % 64;
    now = (int64_t) rd64(data + 2);

    data += 10;
    size -= 10;

    clen = clen < size ? clen : size;
    cookie = fuzz_dup(data, clen);
    data += clen;
    size -= clen;

    slen = slen < size ? slen : size;
    state = fuzz_dup(data, slen);

    if (cookie == NULL || state == NULL) {
        abort();
    }

    rc = ngx_edge_auth_state_check((u_char *) KEY, sizeof(KEY) - 1,
                                   (u_char *) "fuzz", 4, state, slen,
                                   cookie, clen, now, 600000, 60000,
                                   &issued);

    switch (rc) {

    case NGX_EDGE_AUTH_STATE_MALFORMED_COOKIE:
    case NGX_EDGE_AUTH_STATE_MALFORMED_STATE:
    case NGX_EDGE_AUTH_STATE_BAD_MAC:
        break;

    case NGX_EDGE_AUTH_STATE_OK:
    case NGX_EDGE_AUTH_STATE_FUTURE:
    case NGX_EDGE_AUTH_STATE_EXPIRED:

        /* a matching MAC: exactly the texts make writes */

        if (clen != sizeof(c2) || slen != sizeof(s2)
            || ngx_edge_auth_b64url_decode(nonce, sizeof(nonce), cookie,
                                           clen, &n)
               != 0
            || ngx_edge_auth_state_make((u_char *) KEY, sizeof(KEY) - 1,
                                        (u_char *) "fuzz", 4, issued, nonce,
                                        s2, c2)
               != 0
            || memcmp(s2, state, slen) != 0 || memcmp(c2, cookie, clen) != 0)
        {
            abort();
        }

        break;

    default:
        abort();
    }

    free(cookie);
    free(state);
}


static void
state_made(const uint8_t *data, size_t size)
{
    size_t                    name_len, pos;
    u_char                   *name, x;
    u_char                    s[NGX_EDGE_AUTH_STATE_TEXT_LEN];
    u_char                    c[NGX_EDGE_AUTH_STATE_COOKIE_LEN];
    int64_t                   issued, now, got;
    uint64_t                  lifetime, skew;
    const uint8_t            *nonce;
    ngx_edge_auth_state_rc_e  rc, want;

    if (size < 50) {
        return;
    }

    issued = (int64_t) rd64(data);
    now = (int64_t) rd64(data + 8);
    lifetime = rd64(data + 16);
    skew = rd64(data + 24);
    nonce = data + 32;
    pos = data[48];
    x = data[49];
    name_len = size - 50;
    name = fuzz_dup(data + 50, name_len);

    if (name == NULL
        || ngx_edge_auth_state_make((u_char *) KEY, sizeof(KEY) - 1, name,
                                    name_len, issued, nonce, s, c)
           != 0)
    {
        abort();
    }

    /* the time rules, in integers wide enough for any difference */

    if ((__int128) issued > (__int128) now + (__int128) skew) {
        want = NGX_EDGE_AUTH_STATE_FUTURE;

    } else if ((__int128) now - (__int128) issued >= (__int128) lifetime) {
        want = NGX_EDGE_AUTH_STATE_EXPIRED;

    } else {
        want = NGX_EDGE_AUTH_STATE_OK;
    }

    got = issued + 1;

    rc = ngx_edge_auth_state_check((u_char *) KEY, sizeof(KEY) - 1, name,
                                   name_len, s, sizeof(s), c, sizeof(c), now,
                                   lifetime, skew, &got);

    if (rc != want || got != issued) {
        abort();
    }

    /* a name one byte shorter, while it still counts in full */

    if (name_len > 0 && name_len <= NGX_EDGE_AUTH_STATE_NAME_MAX
        && ngx_edge_auth_state_check((u_char *) KEY, sizeof(KEY) - 1, name,
                                     name_len - 1, s, sizeof(s), c,
                                     sizeof(c), now, lifetime, skew, &got)
           != NGX_EDGE_AUTH_STATE_BAD_MAC)
    {
        abort();
    }

    /* one byte changed in the state or the cookie */

    if (x != 0) {
        if (pos & 0x80) {
            c[pos % sizeof(c)] ^= x;
            want = NGX_EDGE_AUTH_STATE_MALFORMED_COOKIE;

        } else {
            s[pos % sizeof(s)] ^= x;
            want = NGX_EDGE_AUTH_STATE_MALFORMED_STATE;
        }

        rc = ngx_edge_auth_state_check((u_char *) KEY, sizeof(KEY) - 1, name,
                                       name_len, s, sizeof(s), c, sizeof(c),
                                       now, lifetime, skew, &got);

        if (rc != want && rc != NGX_EDGE_AUTH_STATE_BAD_MAC) {
            abort();
        }
    }

    free(name);
}


static uint64_t
rd64(const uint8_t *p)
{
    int       i;
    uint64_t  u;

    u = 0;

    for (i = 0; i < 8; i++) {
        u = (u << 8) | p[i];
    }

    return u;
}


static u_char *
fuzz_dup(const uint8_t *p, size_t n)
{
    u_char  *d;

    d = malloc(n ? n : 1);

    if (d != NULL && n) {
        memcpy(d, p, n);
    }

    return d;
}
