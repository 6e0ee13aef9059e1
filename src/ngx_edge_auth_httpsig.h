
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * HTTP Message Signatures (RFC 9421), strings in, strings out: the
 * signature parameters, the signature of a signature base with
 * hmac-sha256 or ed25519.  Pure C on libcrypto: no request, no pool, so
 * the RFC's Appendix B vectors can test it.
 */


#ifndef _NGX_EDGE_AUTH_HTTPSIG_H_INCLUDED_
#define _NGX_EDGE_AUTH_HTTPSIG_H_INCLUDED_


#include <stddef.h>
#include <time.h>
#include <sys/types.h>

#include <openssl/evp.h>


#define NGX_EDGE_AUTH_HTTPSIG_HMAC_SHA256  1
#define NGX_EDGE_AUTH_HTTPSIG_ED25519      2

/* a signature in base64: 32 bytes (HMAC-SHA256) or 64 (Ed25519) */
#define NGX_EDGE_AUTH_HTTPSIG_SIG_LEN      88

/* "sha-256=:" base64(32 bytes) ":" (RFC 9530) */
#define NGX_EDGE_AUTH_HTTPSIG_DIGEST_LEN   (sizeof("sha-256=::") - 1 + 44)

/* no "created" or "expires" parameter */
#define NGX_EDGE_AUTH_HTTPSIG_NO_TIME      ((time_t) -1)


typedef struct {
    const u_char  *data;
    size_t         len;
} ngx_edge_auth_httpsig_str_t;


/*
 * The value of "@signature-params" (RFC 9421 2.3), which is also the
 * member of Signature-Input: ("c1" "c2" ...);created=N;expires=N;
 * keyid="...";tag="...", each parameter only when given (keyid and tag
 * not NULL, the times not NGX_EDGE_AUTH_HTTPSIG_NO_TIME).  Component
 * names are lower case already; keyid and tag are sf-strings without
 * '"' or '\\' (the caller checks).  dst: ngx_edge_auth_httpsig_params_len
 * bytes.
 */
size_t ngx_edge_auth_httpsig_params_len(const ngx_edge_auth_httpsig_str_t
    *names, size_t n, const ngx_edge_auth_httpsig_str_t *keyid,
    const ngx_edge_auth_httpsig_str_t *tag);
size_t ngx_edge_auth_httpsig_params(u_char *dst,
    const ngx_edge_auth_httpsig_str_t *names, size_t n, time_t created,
    time_t expires, const ngx_edge_auth_httpsig_str_t *keyid,
    const ngx_edge_auth_httpsig_str_t *tag);

/*
 * The base64 signature of a signature base: HMAC-SHA256 with key, or
 * Ed25519 with pkey.  b64: NGX_EDGE_AUTH_HTTPSIG_SIG_LEN + 1 bytes; its
 * length, or 0 if libcrypto fails.
 */
size_t ngx_edge_auth_httpsig_sign(u_char *b64, int alg, const u_char *key,
    size_t key_len, EVP_PKEY *pkey, const u_char *base, size_t len);

/* "sha-256=:base64:" of a SHA-256 digest; its length */
size_t ngx_edge_auth_httpsig_digest(u_char *dst, const u_char *sha256);


#endif /* _NGX_EDGE_AUTH_HTTPSIG_H_INCLUDED_ */
