
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Signed JWTs for client authentication at a token endpoint (RFC 7523
 * 2.2, OpenID Connect client_secret_jwt and private_key_jwt), and private
 * keys read from memory, so that a key may come from "env:".
 */


#ifndef _NGX_EDGE_AUTH_JWT_H_INCLUDED_
#define _NGX_EDGE_AUTH_JWT_H_INCLUDED_


#include "ngx_edge_auth.h"

#include <openssl/evp.h>


#define NGX_EDGE_AUTH_JWT_HS256  0
#define NGX_EDGE_AUTH_JWT_RS256  1
#define NGX_EDGE_AUTH_JWT_ES256  2

/* the lifetime of an assertion: exp = iat + this */
#define NGX_EDGE_AUTH_JWT_LIFETIME  60


typedef struct {
    ngx_uint_t                   alg;       /* NGX_EDGE_AUTH_JWT_* */
    ngx_str_t                    secret;    /* hs256 */
    EVP_PKEY                    *pkey;      /* rs256, es256 */
    ngx_str_t                    header;    /* base64url of the JOSE header */
} ngx_edge_auth_jwt_key_t;


/*
 * "hs256|rs256|es256" and a secret argument (env:, file: or a literal):
 * the HMAC key, or a PEM private key of the algorithm's type (RSA of 2048
 * bits or more; EC on P-256); kid, when not NULL, goes in the header.
 * Errors name the directive, never the key.
 */
ngx_int_t ngx_edge_auth_jwt_key(ngx_conf_t *cf, ngx_str_t *alg,
    ngx_str_t *key, ngx_str_t *kid, ngx_edge_auth_jwt_key_t *jk);

/*
 * A PEM private key read from memory, freed with cf->pool; an encrypted
 * key is refused, never asked a password for.  The PEM text is zeroed.
 */
ngx_int_t ngx_edge_auth_private_key(ngx_conf_t *cf, ngx_str_t *pem,
    const char *what, EVP_PKEY **pkey);

/*
 * A fresh assertion in pool: iss = sub = client_id, aud, a random jti,
 * iat = now, exp = now + NGX_EDGE_AUTH_JWT_LIFETIME.
 */
ngx_int_t ngx_edge_auth_jwt_assertion(ngx_edge_auth_jwt_key_t *jk,
    ngx_pool_t *pool, ngx_str_t *client_id, ngx_str_t *aud, time_t now,
    ngx_str_t *jwt, ngx_log_t *log);


#endif /* _NGX_EDGE_AUTH_JWT_H_INCLUDED_ */
