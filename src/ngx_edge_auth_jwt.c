
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * JWT client assertions (RFC 7523 2.2): a JOSE header built once from the
 * configuration, claims and a signature for each request.  HS256 is an
 * HMAC under a shared secret; RS256 is RSASSA-PKCS1-v1_5 with SHA-256;
 * ES256 is ECDSA on P-256, whose signature JWS wants as R || S, 32 bytes
 * each (RFC 7518 3.4), not OpenSSL's DER.
 */


/* nginx's headers first: they set the feature macros system headers see */
#include "ngx_edge_auth_jwt.h"
#include "ngx_edge_auth_secret.h"

#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>


/* 16 random bytes: a jti nobody guesses or repeats */
#define NGX_EDGE_AUTH_JWT_JTI  16


static ngx_int_t ngx_edge_auth_jwt_check_key(ngx_conf_t *cf,
    ngx_str_t *name, ngx_edge_auth_jwt_key_t *jk);
static ngx_int_t ngx_edge_auth_jwt_header(ngx_conf_t *cf,
    ngx_edge_auth_jwt_key_t *jk, ngx_str_t *kid);
static ngx_int_t ngx_edge_auth_jwt_b64_json(ngx_pool_t *pool, json_t *obj,
    ngx_str_t *out);
static ngx_int_t ngx_edge_auth_jwt_sign(ngx_edge_auth_jwt_key_t *jk,
    u_char *data, size_t len, u_char *sig, size_t *siglen, ngx_log_t *log);
static int ngx_edge_auth_no_password(char *buf, int size, int rwflag,
    void *data);
static void ngx_edge_auth_pkey_free(void *data);


static ngx_str_t  ngx_edge_auth_jwt_algs[] = {
    ngx_string("HS256"),
    ngx_string("RS256"),
    ngx_string("ES256")
};


ngx_int_t
ngx_edge_auth_jwt_key(ngx_conf_t *cf, ngx_str_t *alg, ngx_str_t *key,
    ngx_str_t *kid, ngx_edge_auth_jwt_key_t *jk)
{
    ngx_str_t   *name, secret;
    ngx_uint_t   i;

    name = cf->args->elts;

    for (i = 0; i < 3; i++) {
        if (alg->len == ngx_edge_auth_jwt_algs[i].len
            && ngx_strncasecmp(alg->data, ngx_edge_auth_jwt_algs[i].data,
                               alg->len) == 0)
        {
            break;
        }
    }

    if (i == 3) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %V algorithm \"%V\": expected \"hs256\", "
                           "\"rs256\" or \"es256\"", &name[0], alg);
        return NGX_ERROR;
    }

    jk->alg = i;

    if (kid && (kid->len == 0 || kid->len > 256)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%V: the key id must have 1 to 256 characters",
                           &name[0]);
        return NGX_ERROR;
    }

    if (jk->alg == NGX_EDGE_AUTH_JWT_HS256) {

        /* a client_secret: a string, a file's trailing newline cut */

        if (ngx_edge_auth_secret(cf, key, &jk->secret,
                                 "login_client_assertion hs256 secret")
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* RFC 7518 3.2: a key at least as long as the hash's output */

        if (ngx_process != NGX_PROCESS_SIGNALLER && jk->secret.len < 32) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%V: an hs256 secret needs at least 32 "
                               "bytes (RFC 7518), this one has %uz",
                               &name[0], jk->secret.len);
            return NGX_ERROR;
        }

    } else {
        if (ngx_edge_auth_secret_bytes(cf, key, &secret,
                                       "login_client_assertion key")
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* "nginx -s reload" reads no key (see ngx_edge_auth_secret) */

        if (ngx_process != NGX_PROCESS_SIGNALLER) {
            if (ngx_edge_auth_private_key(cf, &secret,
                                          "login_client_assertion key",
                                          &jk->pkey)
                != NGX_OK
                || ngx_edge_auth_jwt_check_key(cf, &name[0], jk) != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return ngx_edge_auth_jwt_header(cf, jk, kid);
}


/* RFC 7518 3.3: RSA keys of 2048 bits or more; 3.4: ES256 is P-256 */

static ngx_int_t
ngx_edge_auth_jwt_check_key(ngx_conf_t *cf, ngx_str_t *name,
    ngx_edge_auth_jwt_key_t *jk)
{
    int  type, nid;

    type = EVP_PKEY_base_id(jk->pkey);

    if (jk->alg == NGX_EDGE_AUTH_JWT_RS256) {
        if (type != EVP_PKEY_RSA) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%V rs256: the key is not an RSA private key",
                               name);
            return NGX_ERROR;
        }

        if (EVP_PKEY_bits(jk->pkey) < 2048) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%V rs256: the RSA key has %d bits, RS256 "
                               "needs 2048 or more", name,
                               EVP_PKEY_bits(jk->pkey));
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    nid = NID_undef;

    if (type == EVP_PKEY_EC) {
#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
        char    group[64];
        size_t  len;

        if (EVP_PKEY_get_group_name(jk->pkey, group, sizeof(group), &len)
            == 1)
        {
            nid = OBJ_sn2nid(group);

            if (nid == NID_undef) {
                nid = EC_curve_nist2nid(group);
            }
        }
#else
        const EC_KEY  *ec;

        ec = EVP_PKEY_get0_EC_KEY(jk->pkey);

        if (ec) {
            nid = EC_GROUP_get_curve_name(EC_KEY_get0_group(ec));
        }
#endif
    }

    ERR_clear_error();

    if (nid != NID_X9_62_prime256v1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%V es256: the key is not an EC private key on "
                           "the P-256 curve", name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_edge_auth_jwt_header(ngx_conf_t *cf, ngx_edge_auth_jwt_key_t *jk,
    ngx_str_t *kid)
{
    json_t     *h;
    ngx_int_t   rc;

    h = json_object();
    if (h == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (json_object_set_new(h, "alg",
                            json_stringn((char *)
                                         ngx_edge_auth_jwt_algs[jk->alg].data,
                                         ngx_edge_auth_jwt_algs[jk->alg].len))
        != 0
        || json_object_set_new(h, "typ", json_string("JWT")) != 0)
    {
        goto done;
    }

    if (kid) {
        if (json_object_set_new(h, "kid",
                                json_stringn((char *) kid->data, kid->len))
            != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "login_client_assertion: the key id must be "
                               "UTF-8");
            goto done;
        }
    }

    rc = ngx_edge_auth_jwt_b64_json(cf->pool, h, &jk->header);

done:

    json_decref(h);

    return rc;
}


ngx_int_t
ngx_edge_auth_private_key(ngx_conf_t *cf, ngx_str_t *pem, const char *what,
    EVP_PKEY **pkey)
{
    BIO                 *bio;
    EVP_PKEY            *k;
    ngx_uint_t           encrypted;
    ngx_pool_cleanup_t  *cln;

    *pkey = NULL;

    if (pem->len > NGX_EDGE_AUTH_SECRET_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s: larger than %d bytes", what,
                           NGX_EDGE_AUTH_SECRET_MAX);
        return NGX_ERROR;
    }

    encrypted = ngx_strlcasestrn(pem->data, pem->data + pem->len,
                                 (u_char *) "ENCRYPTED",
                                 sizeof("ENCRYPTED") - 2)
                != NULL;

    k = NULL;
    bio = BIO_new_mem_buf(pem->data, (int) pem->len);

    if (bio) {
        /* never a password prompt on the terminal of "nginx -t" */
        k = PEM_read_bio_PrivateKey(bio, NULL, ngx_edge_auth_no_password,
                                    NULL);
        BIO_free(bio);
    }

    ngx_explicit_memzero(pem->data, pem->len);

    /* OpenSSL's reasons are about the format: they are not shown either */
    ERR_clear_error();

    if (k == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           encrypted ? "%s: the private key is encrypted; "
                                       "give it unencrypted, protected by "
                                       "the file's permissions"
                                     : "%s: not a PEM private key", what);
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        EVP_PKEY_free(k);
        return NGX_ERROR;
    }

    cln->handler = ngx_edge_auth_pkey_free;
    cln->data = k;

    *pkey = k;

    return NGX_OK;
}


static int
ngx_edge_auth_no_password(char *buf, int size, int rwflag, void *data)
{
    return -1;
}


static void
ngx_edge_auth_pkey_free(void *data)
{
    EVP_PKEY_free(data);
}


ngx_int_t
ngx_edge_auth_jwt_assertion(ngx_edge_auth_jwt_key_t *jk, ngx_pool_t *pool,
    ngx_str_t *client_id, ngx_str_t *aud, time_t now, ngx_str_t *jwt,
    ngx_log_t *log)
{
    u_char     *p, *sig, rnd[NGX_EDGE_AUTH_JWT_JTI];
    u_char      jti[ngx_base64_encoded_length(NGX_EDGE_AUTH_JWT_JTI)];
    size_t      len, siglen;
    json_t     *c;
    ngx_int_t   rc;
    ngx_str_t   src, dst, payload;

    if (RAND_bytes(rnd, NGX_EDGE_AUTH_JWT_JTI) != 1) {
        ERR_clear_error();
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "client assertion: RAND_bytes() failed");
        return NGX_ERROR;
    }

    src.data = rnd;
    src.len = NGX_EDGE_AUTH_JWT_JTI;
    dst.data = jti;
    ngx_encode_base64url(&dst, &src);

    c = json_object();
    if (c == NULL) {
        return NGX_ERROR;
    }

    if (json_object_set_new(c, "iss", json_stringn((char *) client_id->data,
                                                   client_id->len))
        != 0
        || json_object_set_new(c, "sub",
                               json_stringn((char *) client_id->data,
                                            client_id->len))
           != 0
        || json_object_set_new(c, "aud", json_stringn((char *) aud->data,
                                                      aud->len))
           != 0
        || json_object_set_new(c, "jti", json_stringn((char *) dst.data,
                                                      dst.len))
           != 0
        || json_object_set_new(c, "iat", json_integer(now)) != 0
        || json_object_set_new(c, "exp",
                               json_integer(now + NGX_EDGE_AUTH_JWT_LIFETIME))
           != 0)
    {
        json_decref(c);
        return NGX_ERROR;
    }

    rc = ngx_edge_auth_jwt_b64_json(pool, c, &payload);

    json_decref(c);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    siglen = jk->pkey ? (size_t) EVP_PKEY_size(jk->pkey) : EVP_MAX_MD_SIZE;

    sig = ngx_pnalloc(pool, siglen);
    if (sig == NULL) {
        return NGX_ERROR;
    }

    len = jk->header.len + 1 + payload.len + 1
          + ngx_base64_encoded_length(siglen);

    jwt->data = ngx_pnalloc(pool, len);
    if (jwt->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(jwt->data, jk->header.data, jk->header.len);
    *p++ = '.';
    p = ngx_cpymem(p, payload.data, payload.len);

    if (ngx_edge_auth_jwt_sign(jk, jwt->data, p - jwt->data, sig, &siglen,
                               log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    *p++ = '.';

    src.data = sig;
    src.len = siglen;
    dst.data = p;
    ngx_encode_base64url(&dst, &src);

    /* with the header and the claims, the signature is a usable assertion */
    ngx_explicit_memzero(sig, siglen);

    jwt->len = p + dst.len - jwt->data;

    return NGX_OK;
}


static ngx_int_t
ngx_edge_auth_jwt_b64_json(ngx_pool_t *pool, json_t *obj, ngx_str_t *out)
{
    char       *text;
    ngx_str_t   src;

    text = json_dumps(obj, JSON_COMPACT|JSON_PRESERVE_ORDER);
    if (text == NULL) {
        return NGX_ERROR;
    }

    src.data = (u_char *) text;
    src.len = ngx_strlen(text);

    out->data = ngx_pnalloc(pool, ngx_base64_encoded_length(src.len));
    if (out->data == NULL) {
        free(text);
        return NGX_ERROR;
    }

    ngx_encode_base64url(out, &src);

    free(text);

    return NGX_OK;
}


/* *siglen: the room in sig, then the signature's length */

static ngx_int_t
ngx_edge_auth_jwt_sign(ngx_edge_auth_jwt_key_t *jk, u_char *data, size_t len,
    u_char *sig, size_t *siglen, ngx_log_t *log)
{
    size_t           n;
    u_char          *der;
    ngx_int_t        rc;
    unsigned int     mdlen;
    ECDSA_SIG       *es;
    EVP_MD_CTX      *md;
    const BIGNUM    *r, *s;
    const u_char    *q;

    if (jk->alg == NGX_EDGE_AUTH_JWT_HS256) {
        if (HMAC(EVP_sha256(), jk->secret.data, (int) jk->secret.len,
                 data, len, sig, &mdlen)
            == NULL)
        {
            goto failed;
        }

        *siglen = mdlen;
        return NGX_OK;
    }

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        goto failed;
    }

    rc = NGX_ERROR;
    der = NULL;
    n = *siglen;

    if (jk->alg == NGX_EDGE_AUTH_JWT_ES256) {
        der = ngx_alloc(n, log);
        if (der == NULL) {
            EVP_MD_CTX_free(md);
            return NGX_ERROR;
        }
    }

    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, jk->pkey) != 1
        || EVP_DigestSign(md, der ? der : sig, &n, data, len) != 1)
    {
        goto done;
    }

    if (der == NULL) {
        /* RS256: the PKCS #1 v1.5 signature as it is */
        *siglen = n;
        rc = NGX_OK;
        goto done;
    }

    q = der;
    es = d2i_ECDSA_SIG(NULL, &q, (long) n);

    if (es == NULL) {
        goto done;
    }

    ECDSA_SIG_get0(es, &r, &s);

    if (*siglen >= 64
        && BN_bn2binpad(r, sig, 32) == 32
        && BN_bn2binpad(s, sig + 32, 32) == 32)
    {
        *siglen = 64;
        rc = NGX_OK;
    }

    ECDSA_SIG_free(es);

done:

    EVP_MD_CTX_free(md);

    if (der) {
        ngx_free(der);
    }

    if (rc == NGX_OK) {
        return NGX_OK;
    }

failed:

    ERR_clear_error();

    ngx_log_error(NGX_LOG_ALERT, log, 0,
                  "client assertion: signing with %V failed",
                  &ngx_edge_auth_jwt_algs[jk->alg]);

    return NGX_ERROR;
}
