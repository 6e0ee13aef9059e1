
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#include "ngx_edge_auth_sigv4.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>


static size_t ngx_edge_auth_sigv4_decode(u_char *dst, const u_char *src,
    size_t len);
static size_t ngx_edge_auth_sigv4_segment(u_char *dst, const u_char *seg,
    size_t len, u_char *work, int twice);
static int ngx_edge_auth_sigv4_pair_cmp(const void *one, const void *two);
static int ngx_edge_auth_sigv4_bytes_cmp(const u_char *a, size_t alen,
    const u_char *b, size_t blen);
static int ngx_edge_auth_sigv4_hmac(u_char *out, const u_char *key,
    size_t key_len, const u_char *data, size_t len);
static void ngx_edge_auth_sigv4_hex(u_char *dst, const u_char *src,
    size_t len);


static const char  ngx_edge_auth_sigv4_digits[] = "0123456789ABCDEF";


size_t
ngx_edge_auth_sigv4_encode(u_char *dst, const u_char *src, size_t len,
    int keep_slash)
{
    u_char  *p, c;
    size_t   i;

    p = dst;

    for (i = 0; i < len; i++) {
        c = src[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9')
            || c == '-' || c == '_' || c == '.' || c == '~'
            || (c == '/' && keep_slash))
        {
            *p++ = c;
            continue;
        }

        *p++ = '%';
        *p++ = ngx_edge_auth_sigv4_digits[c >> 4];
        *p++ = ngx_edge_auth_sigv4_digits[c & 0xf];
    }

    return p - dst;
}


size_t
ngx_edge_auth_sigv4_path(u_char *dst, const u_char *path, size_t len,
    u_char *work, int s3)
{
    u_char        *p, *start;
    size_t         n, seg;
    const u_char  *q, *end, *last;

    p = dst;
    end = path + len;

    if (s3) {
        /* every segment, empty ones too: "//" is part of an S3 key */

        for (q = path; q < end; q = last + 1) {
            last = memchr(q, '/', end - q);
            if (last == NULL) {
                last = end;
            }

            p += ngx_edge_auth_sigv4_segment(p, q, last - q, work, 0);

            if (last < end) {
                *p++ = '/';
            }
        }

        if (p == dst) {
            *p++ = '/';
        }

        return p - dst;
    }

    /*
     * RFC 3986 5.2.4 on the segments as sent, as the SDKs do, and the
     * consecutive slashes that AWS services fold; then each segment twice.
     */

    start = dst;
    *p++ = '/';
    n = 0;

    for (q = path; q < end; q = last + 1) {
        last = memchr(q, '/', end - q);
        if (last == NULL) {
            last = end;
        }

        seg = last - q;

        if (seg == 0 || (seg == 1 && q[0] == '.')) {
            continue;
        }

        if (seg == 2 && q[0] == '.' && q[1] == '.') {
            if (n) {
                /* back to just after the "/" before the last segment */
                p--;
                while (p[-1] != '/') {
                    p--;
                }

                n--;
            }

            continue;
        }

        p += ngx_edge_auth_sigv4_segment(p, q, seg, work, 1);
        *p++ = '/';
        n++;
    }

    /* a trailing slash only if the path had one */

    if (n && !(len && path[len - 1] == '/')) {
        p--;
    }

    return p - start;
}


/* one segment decoded, then encoded once or twice, "/" included */

static size_t
ngx_edge_auth_sigv4_segment(u_char *dst, const u_char *seg, size_t len,
    u_char *work, int twice)
{
    size_t  n;

    n = ngx_edge_auth_sigv4_decode(work, seg, len);

    if (!twice) {
        return ngx_edge_auth_sigv4_encode(dst, work, n, 0);
    }

    n = ngx_edge_auth_sigv4_encode(work + len, work, n, 0);

    return ngx_edge_auth_sigv4_encode(dst, work + len, n, 0);
}


size_t
ngx_edge_auth_sigv4_query(u_char *dst, const u_char *query, size_t len,
    u_char *work, ngx_edge_auth_sigv4_pair_t *pairs)
{
    u_char        *p, *w;
    size_t         n, i;
    const u_char  *q, *end, *last, *eq;

    n = 0;
    w = work;
    end = query + len;

    for (q = query; q < end; q = last + 1) {
        last = memchr(q, '&', end - q);
        if (last == NULL) {
            last = end;
        }

        if (last == q) {
            continue;
        }

        eq = memchr(q, '=', last - q);
        if (eq == NULL) {
            eq = last;
        }

        /* decoded into the output buffer, encoded into work */

        pairs[n].key = w;
        pairs[n].key_len = ngx_edge_auth_sigv4_encode(w, dst,
                                   ngx_edge_auth_sigv4_decode(dst, q, eq - q),
                                   0);
        w += pairs[n].key_len;

        pairs[n].value = w;
        pairs[n].value_len = (eq == last) ? 0
                             : ngx_edge_auth_sigv4_encode(w, dst,
                                   ngx_edge_auth_sigv4_decode(dst, eq + 1,
                                                       last - eq - 1),
                                   0);
        w += pairs[n].value_len;

        n++;
    }

    qsort(pairs, n, sizeof(ngx_edge_auth_sigv4_pair_t),
          ngx_edge_auth_sigv4_pair_cmp);

    p = dst;

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = '&';
        }

        memcpy(p, pairs[i].key, pairs[i].key_len);
        p += pairs[i].key_len;
        *p++ = '=';
        memcpy(p, pairs[i].value, pairs[i].value_len);
        p += pairs[i].value_len;
    }

    return p - dst;
}


static int
ngx_edge_auth_sigv4_pair_cmp(const void *one, const void *two)
{
    int                                rc;
    const ngx_edge_auth_sigv4_pair_t  *a, *b;

    a = one;
    b = two;

    rc = ngx_edge_auth_sigv4_bytes_cmp(a->key, a->key_len, b->key,
                                       b->key_len);
    if (rc) {
        return rc;
    }

    return ngx_edge_auth_sigv4_bytes_cmp(a->value, a->value_len, b->value,
                                         b->value_len);
}


static int
ngx_edge_auth_sigv4_bytes_cmp(const u_char *a, size_t alen, const u_char *b,
    size_t blen)
{
    int  rc;

    rc = memcmp(a, b, alen < blen ? alen : blen);

    if (rc) {
        return rc;
    }

    return (alen > blen) - (alen < blen);
}


/* "%XX" to its byte; a "%" without two hex digits stays a "%" */

static size_t
ngx_edge_auth_sigv4_decode(u_char *dst, const u_char *src, size_t len)
{
    int      hi, lo;
    u_char  *p, c;
    size_t   i;

    p = dst;

    for (i = 0; i < len; i++) {
        c = src[i];

        if (c == '%' && i + 2 < len) {
            hi = (src[i + 1] >= '0' && src[i + 1] <= '9') ? src[i + 1] - '0'
                 : ((src[i + 1] | 0x20) >= 'a' && (src[i + 1] | 0x20) <= 'f')
                   ? (src[i + 1] | 0x20) - 'a' + 10 : -1;
            lo = (src[i + 2] >= '0' && src[i + 2] <= '9') ? src[i + 2] - '0'
                 : ((src[i + 2] | 0x20) >= 'a' && (src[i + 2] | 0x20) <= 'f')
                   ? (src[i + 2] | 0x20) - 'a' + 10 : -1;

            if (hi >= 0 && lo >= 0) {
                *p++ = (u_char) (hi * 16 + lo);
                i += 2;
                continue;
            }
        }

        *p++ = c;
    }

    return p - dst;
}


void
ngx_edge_auth_sigv4_date(u_char *dst, time_t t)
{
    struct tm  tm;
    char       buf[NGX_EDGE_AUTH_SIGV4_DATE_LEN + 1];

    gmtime_r(&t, &tm);

    strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
    memcpy(dst, buf, NGX_EDGE_AUTH_SIGV4_DATE_LEN);
}


int
ngx_edge_auth_sigv4_sha256_hex(u_char *hex, const u_char *data, size_t len)
{
    void  *hash;

    hash = ngx_edge_auth_sigv4_hash_new();

    if (hash == NULL
        || ngx_edge_auth_sigv4_hash_update(hash, data, len) != 0)
    {
        ngx_edge_auth_sigv4_hash_free(hash);
        return -1;
    }

    return ngx_edge_auth_sigv4_hash_hex(hash, hex);
}


void *
ngx_edge_auth_sigv4_hash_new(void)
{
    EVP_MD_CTX  *md;

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return NULL;
    }

    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return NULL;
    }

    return md;
}


int
ngx_edge_auth_sigv4_hash_update(void *hash, const u_char *data, size_t len)
{
    return EVP_DigestUpdate(hash, data, len) == 1 ? 0 : -1;
}


int
ngx_edge_auth_sigv4_hash_hex(void *hash, u_char *hex)
{
    u_char  md[NGX_EDGE_AUTH_SIGV4_KEY_LEN];

    if (ngx_edge_auth_sigv4_hash_final(hash, md) != 0) {
        return -1;
    }

    ngx_edge_auth_sigv4_hex(hex, md, NGX_EDGE_AUTH_SIGV4_KEY_LEN);

    return 0;
}


int
ngx_edge_auth_sigv4_hash_final(void *hash, u_char *digest)
{
    int           rc;
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  n;

    rc = (EVP_DigestFinal_ex(hash, md, &n) == 1 && n == 32) ? 0 : -1;

    EVP_MD_CTX_free(hash);

    if (rc == 0) {
        memcpy(digest, md, n);
    }

    return rc;
}


void
ngx_edge_auth_sigv4_hash_free(void *hash)
{
    if (hash) {
        EVP_MD_CTX_free(hash);
    }
}


int
ngx_edge_auth_sigv4_key(u_char *key, const u_char *secret, size_t secret_len,
    const u_char *date, const u_char *region, size_t region_len,
    const u_char *service, size_t service_len)
{
    int      rc;
    u_char  *k;

    k = malloc(secret_len + 4);
    if (k == NULL) {
        return -1;
    }

    memcpy(k, "AWS4", 4);
    memcpy(k + 4, secret, secret_len);

    rc = ngx_edge_auth_sigv4_hmac(key, k, secret_len + 4, date, 8);

    /* the secret leaves no copy behind */
    OPENSSL_cleanse(k, secret_len + 4);
    free(k);

    if (rc != 0
        || ngx_edge_auth_sigv4_hmac(key, key, NGX_EDGE_AUTH_SIGV4_KEY_LEN,
                                    region, region_len) != 0
        || ngx_edge_auth_sigv4_hmac(key, key, NGX_EDGE_AUTH_SIGV4_KEY_LEN,
                                    service, service_len) != 0
        || ngx_edge_auth_sigv4_hmac(key, key, NGX_EDGE_AUTH_SIGV4_KEY_LEN,
                                    (u_char *) "aws4_request",
                                    sizeof("aws4_request") - 1) != 0)
    {
        return -1;
    }

    return 0;
}


int
ngx_edge_auth_sigv4_signature(u_char *hex, const u_char *key,
    const u_char *date, const u_char *scope, size_t scope_len,
    const u_char *creq, size_t creq_len)
{
    u_char  *p;
    u_char   sts[sizeof("AWS4-HMAC-SHA256\n") - 1
                 + NGX_EDGE_AUTH_SIGV4_DATE_LEN + 1
                 + 8 + 2 * NGX_EDGE_AUTH_SIGV4_NAME_MAX
                 + sizeof("///aws4_request\n") - 1
                 + NGX_EDGE_AUTH_SIGV4_HEX_LEN];
    u_char   mac[NGX_EDGE_AUTH_SIGV4_KEY_LEN];

    if (scope_len > 8 + 2 * NGX_EDGE_AUTH_SIGV4_NAME_MAX
                    + sizeof("///aws4_request") - 1)
    {
        return -1;
    }

    p = sts;
    memcpy(p, "AWS4-HMAC-SHA256\n", sizeof("AWS4-HMAC-SHA256\n") - 1);
    p += sizeof("AWS4-HMAC-SHA256\n") - 1;
    memcpy(p, date, NGX_EDGE_AUTH_SIGV4_DATE_LEN);
    p += NGX_EDGE_AUTH_SIGV4_DATE_LEN;
    *p++ = '\n';
    memcpy(p, scope, scope_len);
    p += scope_len;
    *p++ = '\n';

    if (ngx_edge_auth_sigv4_sha256_hex(p, creq, creq_len) != 0) {
        return -1;
    }

    p += NGX_EDGE_AUTH_SIGV4_HEX_LEN;

    if (ngx_edge_auth_sigv4_hmac(mac, key, NGX_EDGE_AUTH_SIGV4_KEY_LEN, sts,
                                 p - sts)
        != 0)
    {
        return -1;
    }

    ngx_edge_auth_sigv4_hex(hex, mac, sizeof(mac));

    return 0;
}


static int
ngx_edge_auth_sigv4_hmac(u_char *out, const u_char *key, size_t key_len,
    const u_char *data, size_t len)
{
    u_char        tmp[EVP_MAX_MD_SIZE];
    unsigned int  n;

    /* out may be key: the result goes through tmp */

    if (HMAC(EVP_sha256(), key, (int) key_len, data, len, tmp, &n) == NULL
        || n != NGX_EDGE_AUTH_SIGV4_KEY_LEN)
    {
        return -1;
    }

    memcpy(out, tmp, n);
    OPENSSL_cleanse(tmp, sizeof(tmp));

    return 0;
}


/* lower-case hex, as AWS writes hashes and signatures */

static void
ngx_edge_auth_sigv4_hex(u_char *dst, const u_char *src, size_t len)
{
    size_t  i;

    static const char  hex[] = "0123456789abcdef";

    for (i = 0; i < len; i++) {
        *dst++ = hex[src[i] >> 4];
        *dst++ = hex[src[i] & 0xf];
    }
}
