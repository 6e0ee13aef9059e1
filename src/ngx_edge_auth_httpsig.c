
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#include "ngx_edge_auth_httpsig.h"

#include <stdio.h>
#include <string.h>

#include <openssl/hmac.h>


/* the most digits of a time_t, with its sign */
#define NGX_EDGE_AUTH_HTTPSIG_TIME_LEN  21


static u_char *ngx_edge_auth_httpsig_time(u_char *p, const char *name,
    time_t t);
static u_char *ngx_edge_auth_httpsig_string(u_char *p, const char *name,
    const ngx_edge_auth_httpsig_str_t *s);


size_t
ngx_edge_auth_httpsig_params_len(const ngx_edge_auth_httpsig_str_t *names,
    size_t n, const ngx_edge_auth_httpsig_str_t *keyid,
    const ngx_edge_auth_httpsig_str_t *tag)
{
    size_t  i, len;

    len = 2 + 2 * (sizeof(";expires=") - 1 + NGX_EDGE_AUTH_HTTPSIG_TIME_LEN);

    for (i = 0; i < n; i++) {
        len += names[i].len + 3;
    }

    if (keyid) {
        len += sizeof(";keyid=\"\"") - 1 + keyid->len;
    }

    if (tag) {
        len += sizeof(";tag=\"\"") - 1 + tag->len;
    }

    return len;
}


size_t
ngx_edge_auth_httpsig_params(u_char *dst,
    const ngx_edge_auth_httpsig_str_t *names, size_t n, time_t created,
    time_t expires, const ngx_edge_auth_httpsig_str_t *keyid,
    const ngx_edge_auth_httpsig_str_t *tag)
{
    size_t   i;
    u_char  *p;

    p = dst;
    *p++ = '(';

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ' ';
        }

        *p++ = '"';
        memcpy(p, names[i].data, names[i].len);
        p += names[i].len;
        *p++ = '"';
    }

    *p++ = ')';

    p = ngx_edge_auth_httpsig_time(p, "created", created);
    p = ngx_edge_auth_httpsig_time(p, "expires", expires);
    p = ngx_edge_auth_httpsig_string(p, "keyid", keyid);
    p = ngx_edge_auth_httpsig_string(p, "tag", tag);

    return p - dst;
}


static u_char *
ngx_edge_auth_httpsig_time(u_char *p, const char *name, time_t t)
{
    char  buf[sizeof(";expires=") + NGX_EDGE_AUTH_HTTPSIG_TIME_LEN];
    int   n;

    if (t == NGX_EDGE_AUTH_HTTPSIG_NO_TIME) {
        return p;
    }

    n = snprintf(buf, sizeof(buf), ";%s=%lld", name, (long long) t);

    if (n < 0 || (size_t) n >= sizeof(buf)) {
        return p;
    }

    memcpy(p, buf, n);

    return p + n;
}


static u_char *
ngx_edge_auth_httpsig_string(u_char *p, const char *name,
    const ngx_edge_auth_httpsig_str_t *s)
{
    size_t  len;

    if (s == NULL) {
        return p;
    }

    len = strlen(name);

    *p++ = ';';
    memcpy(p, name, len);
    p += len;
    *p++ = '=';
    *p++ = '"';
    memcpy(p, s->data, s->len);
    p += s->len;
    *p++ = '"';

    return p;
}


size_t
ngx_edge_auth_httpsig_sign(u_char *b64, int alg, const u_char *key,
    size_t key_len, EVP_PKEY *pkey, const u_char *base, size_t len)
{
    int           ok;
    size_t        siglen;
    EVP_MD_CTX   *md;
    unsigned int  hlen;
    u_char        sig[EVP_MAX_MD_SIZE > 64 ? EVP_MAX_MD_SIZE : 64];

    if (alg == NGX_EDGE_AUTH_HTTPSIG_HMAC_SHA256) {
        if (HMAC(EVP_sha256(), key, (int) key_len, base, len, sig, &hlen)
            == NULL || hlen != 32)
        {
            return 0;
        }

        siglen = hlen;

    } else if (alg == NGX_EDGE_AUTH_HTTPSIG_ED25519 && pkey) {
        md = EVP_MD_CTX_new();
        if (md == NULL) {
            return 0;
        }

        /* Ed25519 hashes itself: no digest, one shot */
        siglen = sizeof(sig);
        ok = EVP_DigestSignInit(md, NULL, NULL, NULL, pkey) == 1
             && EVP_DigestSign(md, sig, &siglen, base, len) == 1
             && siglen == 64;

        EVP_MD_CTX_free(md);

        if (!ok) {
            return 0;
        }

    } else {
        return 0;
    }

    return (size_t) EVP_EncodeBlock(b64, sig, (int) siglen);
}


size_t
ngx_edge_auth_httpsig_digest(u_char *dst, const u_char *sha256)
{
    int  n;

    memcpy(dst, "sha-256=:", sizeof("sha-256=:") - 1);

    n = EVP_EncodeBlock(dst + sizeof("sha-256=:") - 1, sha256, 32);

    dst[sizeof("sha-256=:") - 1 + n] = ':';

    return sizeof("sha-256=::") - 1 + n;
}
