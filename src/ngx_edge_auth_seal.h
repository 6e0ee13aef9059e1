
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Tokens at rest outside nginx (Redis): AES-256-GCM with a random nonce,
 * the value's key name bound as associated data, so a value copied under
 * another name does not open.  Key names are HMACs under the same key:
 * they reveal nothing of what they name.
 */


#ifndef _NGX_EDGE_AUTH_SEAL_H_INCLUDED_
#define _NGX_EDGE_AUTH_SEAL_H_INCLUDED_


#include "ngx_edge_auth.h"


#define NGX_EDGE_AUTH_SEAL_KEY_LEN   32
#define NGX_EDGE_AUTH_SEAL_NONCE     12
#define NGX_EDGE_AUTH_SEAL_TAG       16
#define NGX_EDGE_AUTH_SEAL_OVERHEAD  (NGX_EDGE_AUTH_SEAL_NONCE               \
                                      + NGX_EDGE_AUTH_SEAL_TAG)
/* hex characters of a key name */
#define NGX_EDGE_AUTH_SEAL_NAME_LEN  32


/* two keys derived from the configured one: one use each */

typedef struct {
    u_char                       seal[NGX_EDGE_AUTH_SEAL_KEY_LEN];
    u_char                       name[NGX_EDGE_AUTH_SEAL_KEY_LEN];
} ngx_edge_auth_seal_keys_t;


/*
 * "file:/path" or "env:NAME": 32 bytes as they are, or written as 64 hex
 * digits or in base64 ("openssl rand -hex 32").
 */
ngx_int_t ngx_edge_auth_seal_key(ngx_conf_t *cf, ngx_str_t *arg,
    ngx_edge_auth_seal_keys_t *keys, const char *what);

/* out has room for plain->len + NGX_EDGE_AUTH_SEAL_OVERHEAD */
ngx_int_t ngx_edge_auth_seal(u_char *key, ngx_str_t *aad, ngx_str_t *plain,
    u_char *out);
/* out has room for sealed->len; NGX_DECLINED: forged, damaged or another key */
ngx_int_t ngx_edge_auth_unseal(u_char *key, ngx_str_t *aad,
    ngx_str_t *sealed, u_char *out, size_t *len);

/* NGX_EDGE_AUTH_SEAL_NAME_LEN hex digits of HMAC-SHA256(key, data) */
ngx_int_t ngx_edge_auth_seal_name(u_char *key, u_char *data, size_t len,
    u_char *out);


#endif /* _NGX_EDGE_AUTH_SEAL_H_INCLUDED_ */
