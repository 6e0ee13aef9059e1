
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#include "ngx_edge_auth_seal.h"
#include "ngx_edge_auth_secret.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>


static ngx_int_t ngx_edge_auth_seal_derive(u_char *key,
    ngx_edge_auth_seal_keys_t *keys);


ngx_int_t
ngx_edge_auth_seal_key(ngx_conf_t *cf, ngx_str_t *arg,
    ngx_edge_auth_seal_keys_t *keys, const char *what)
{
    size_t      len;
    ngx_int_t   rc, n;
    ngx_str_t   v, decoded;
    ngx_uint_t  i;
    u_char      buf[64];
    u_char      key[NGX_EDGE_AUTH_SEAL_KEY_LEN];

    if (ngx_strncmp(arg->data, "file:", 5) != 0
        && ngx_strncmp(arg->data, "env:", 4) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s: the key must come from \"file:\" or \"env:\", "
                           "never from the configuration itself", what);
        return NGX_ERROR;
    }

    if (ngx_edge_auth_secret_bytes(cf, arg, &v, what) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_process == NGX_PROCESS_SIGNALLER) {
        ngx_memzero(keys, sizeof(ngx_edge_auth_seal_keys_t));
        ngx_explicit_memzero(v.data, v.len);
        return NGX_OK;
    }

    rc = NGX_ERROR;
    len = v.len;

    if (v.len == NGX_EDGE_AUTH_SEAL_KEY_LEN) {
        ngx_memcpy(key, v.data, NGX_EDGE_AUTH_SEAL_KEY_LEN);
        rc = NGX_OK;
        goto done;
    }

    /* text forms, as "openssl rand" writes them, with their newline */

    while (v.len && (v.data[v.len - 1] == LF || v.data[v.len - 1] == CR
                     || v.data[v.len - 1] == ' '))
    {
        v.len--;
    }

    if (v.len == 2 * NGX_EDGE_AUTH_SEAL_KEY_LEN) {
        for (i = 0; i < NGX_EDGE_AUTH_SEAL_KEY_LEN; i++) {
            n = ngx_hextoi(v.data + 2 * i, 2);

            if (n == NGX_ERROR) {
                break;
            }

            key[i] = (u_char) n;
        }

        if (i == NGX_EDGE_AUTH_SEAL_KEY_LEN) {
            rc = NGX_OK;
            goto done;
        }
    }

    if (v.len <= 48) {
        decoded.data = buf;

        if (ngx_decode_base64(&decoded, &v) == NGX_OK
            && decoded.len == NGX_EDGE_AUTH_SEAL_KEY_LEN)
        {
            ngx_memcpy(key, buf, NGX_EDGE_AUTH_SEAL_KEY_LEN);
            rc = NGX_OK;
        }

        ngx_explicit_memzero(buf, sizeof(buf));
    }

done:

    ngx_explicit_memzero(v.data, len);

    if (rc != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s: the key must be 32 bytes, or 64 hex digits, "
                           "or 32 bytes in base64 (\"openssl rand -hex 32\")",
                           what);
        return NGX_ERROR;
    }

    rc = ngx_edge_auth_seal_derive(key, keys);
    ngx_explicit_memzero(key, sizeof(key));

    return rc;
}


/* HKDF-Expand (RFC 5869) with one block each: the key is already random */

static ngx_int_t
ngx_edge_auth_seal_derive(u_char *key, ngx_edge_auth_seal_keys_t *keys)
{
    static u_char  seal[] = "ngx_http_credential seal\x01";
    static u_char  name[] = "ngx_http_credential name\x01";

    unsigned int  n;

    if (HMAC(EVP_sha256(), key, NGX_EDGE_AUTH_SEAL_KEY_LEN, seal,
             sizeof(seal) - 1, keys->seal, &n)
        == NULL
        || HMAC(EVP_sha256(), key, NGX_EDGE_AUTH_SEAL_KEY_LEN, name,
                sizeof(name) - 1, keys->name, &n)
           == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_edge_auth_seal(u_char *key, ngx_str_t *aad, ngx_str_t *plain,
    u_char *out)
{
    int              n;
    ngx_int_t        rc;
    EVP_CIPHER_CTX  *ctx;

    if (RAND_bytes(out, NGX_EDGE_AUTH_SEAL_NONCE) != 1) {
        return NGX_ERROR;
    }

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, out) != 1
        || EVP_EncryptUpdate(ctx, NULL, &n, aad->data, (int) aad->len) != 1
        || EVP_EncryptUpdate(ctx, out + NGX_EDGE_AUTH_SEAL_NONCE, &n,
                             plain->data, (int) plain->len)
           != 1
        || EVP_EncryptFinal_ex(ctx, out + NGX_EDGE_AUTH_SEAL_NONCE + n, &n)
           != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG,
                               NGX_EDGE_AUTH_SEAL_TAG,
                               out + NGX_EDGE_AUTH_SEAL_NONCE + plain->len)
           != 1)
    {
        goto done;
    }

    rc = NGX_OK;

done:

    EVP_CIPHER_CTX_free(ctx);

    return rc;
}


ngx_int_t
ngx_edge_auth_unseal(u_char *key, ngx_str_t *aad, ngx_str_t *sealed,
    u_char *out, size_t *len)
{
    int              n;
    size_t           clen;
    ngx_int_t        rc;
    EVP_CIPHER_CTX  *ctx;

    if (sealed->len < NGX_EDGE_AUTH_SEAL_OVERHEAD) {
        return NGX_DECLINED;
    }

    clen = sealed->len - NGX_EDGE_AUTH_SEAL_OVERHEAD;

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_DECLINED;

    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, sealed->data)
           != 1
        || EVP_DecryptUpdate(ctx, NULL, &n, aad->data, (int) aad->len) != 1
        || EVP_DecryptUpdate(ctx, out, &n,
                             sealed->data + NGX_EDGE_AUTH_SEAL_NONCE,
                             (int) clen)
           != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
                               NGX_EDGE_AUTH_SEAL_TAG,
                               sealed->data + NGX_EDGE_AUTH_SEAL_NONCE + clen)
           != 1
        || EVP_DecryptFinal_ex(ctx, out + n, &n) != 1)
    {
        /* nothing of a value that failed its tag is kept */
        ngx_explicit_memzero(out, clen);
        goto done;
    }

    *len = clen;
    rc = NGX_OK;

done:

    EVP_CIPHER_CTX_free(ctx);

    return rc;
}


ngx_int_t
ngx_edge_auth_seal_name(u_char *key, u_char *data, size_t len, u_char *out)
{
    u_char        mac[EVP_MAX_MD_SIZE];
    unsigned int  n;

    if (HMAC(EVP_sha256(), key, NGX_EDGE_AUTH_SEAL_KEY_LEN, data, len, mac,
             &n)
        == NULL)
    {
        return NGX_ERROR;
    }

    ngx_hex_dump(out, mac, NGX_EDGE_AUTH_SEAL_NAME_LEN / 2);

    return NGX_OK;
}
