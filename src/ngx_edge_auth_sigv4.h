
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * AWS Signature Version 4, strings in, strings out: URI encoding, the
 * canonical path and query, the signing key, the signature.  Pure C on
 * libcrypto: no request, no pool, so AWS's published vectors can test it.
 */


#ifndef _NGX_EDGE_AUTH_SIGV4_H_INCLUDED_
#define _NGX_EDGE_AUTH_SIGV4_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>


#define NGX_EDGE_AUTH_SIGV4_KEY_LEN   32    /* HMAC-SHA256 */
#define NGX_EDGE_AUTH_SIGV4_HEX_LEN   64    /* a hash or a signature in hex */
#define NGX_EDGE_AUTH_SIGV4_DATE_LEN  16    /* "20150830T123600Z" */

/* the most a scope's region or service may have, which the caller checks */
#define NGX_EDGE_AUTH_SIGV4_NAME_MAX  64

/* room for what a path or a query of len bytes becomes */
#define NGX_EDGE_AUTH_SIGV4_PATH_ROOM(len)   (5 * (len) + 2)
#define NGX_EDGE_AUTH_SIGV4_PATH_WORK(len)   (4 * (len) + 1)
#define NGX_EDGE_AUTH_SIGV4_QUERY_ROOM(len)  (4 * (len) + 1)
#define NGX_EDGE_AUTH_SIGV4_QUERY_PAIRS(len) ((len) / 2 + 1)


typedef struct {
    u_char   *key;
    size_t    key_len;
    u_char   *value;
    size_t    value_len;
} ngx_edge_auth_sigv4_pair_t;


/*
 * RFC 3986 unreserved bytes as they are, every other byte as %XX with
 * upper-case hex; "/" as it is when keep_slash.  dst: 3 * len bytes.
 */
size_t ngx_edge_auth_sigv4_encode(u_char *dst, const u_char *src, size_t len,
    int keep_slash);

/*
 * The canonical URI of a path as sent (percent-encoded or not), segment
 * by segment, each decoded and encoded once.  S3 (s3 != 0) stops there:
 * no normalisation.  Other services first drop empty and "." segments and
 * let ".." remove the one before, then encode each segment once more.
 * work: 4 * len bytes.
 */
size_t ngx_edge_auth_sigv4_path(u_char *dst, const u_char *path, size_t len,
    u_char *work, int s3);

/*
 * The canonical query of a query string as sent: pairs split at "&" and
 * the first "=", each side decoded and encoded once ("+" is a plus),
 * sorted by key, then by value.  work: 3 * len bytes; pairs:
 * NGX_EDGE_AUTH_SIGV4_QUERY_PAIRS(len) elements.
 */
size_t ngx_edge_auth_sigv4_query(u_char *dst, const u_char *query,
    size_t len, u_char *work, ngx_edge_auth_sigv4_pair_t *pairs);

/* "YYYYMMDDTHHMMSSZ" of t, in UTC */
void ngx_edge_auth_sigv4_date(u_char *dst, time_t t);

/* the hex SHA-256 of data; 0, or -1 if libcrypto fails */
int ngx_edge_auth_sigv4_sha256_hex(u_char *hex, const u_char *data,
    size_t len);

/* a SHA-256 over pieces (a body in buffers and files) */
void *ngx_edge_auth_sigv4_hash_new(void);
int ngx_edge_auth_sigv4_hash_update(void *hash, const u_char *data,
    size_t len);
/* the hex digest; frees the hash, as does hash_free */
int ngx_edge_auth_sigv4_hash_hex(void *hash, u_char *hex);
/* the 32 bytes of the digest (RFC 9530's Content-Digest wants them) */
int ngx_edge_auth_sigv4_hash_final(void *hash, u_char *digest);
void ngx_edge_auth_sigv4_hash_free(void *hash);

/*
 * The signing key of a day ("YYYYMMDD"), a region and a service:
 * HMAC("AWS4" secret, date) -> region -> service -> "aws4_request".
 */
int ngx_edge_auth_sigv4_key(u_char *key, const u_char *secret,
    size_t secret_len, const u_char *date, const u_char *region,
    size_t region_len, const u_char *service, size_t service_len);

/*
 * The hex signature of a canonical request:
 * HMAC(key, "AWS4-HMAC-SHA256\n" date "\n" scope "\n" hex(SHA-256(creq))),
 * scope being "YYYYMMDD/region/service/aws4_request".
 */
int ngx_edge_auth_sigv4_signature(u_char *hex, const u_char *key,
    const u_char *date, const u_char *scope, size_t scope_len,
    const u_char *creq, size_t creq_len);


#endif /* _NGX_EDGE_AUTH_SIGV4_H_INCLUDED_ */
