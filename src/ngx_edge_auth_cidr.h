
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Strict parsing of "ADDRESS[/PREFIX]" for IP allow lists.  Pure C, so that
 * it can be unit tested and fuzzed without nginx.
 */


#ifndef _NGX_EDGE_AUTH_CIDR_H_INCLUDED_
#define _NGX_EDGE_AUTH_CIDR_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


#define NGX_EDGE_AUTH_CIDR_TEXT_LEN  (sizeof("ffff:ffff:ffff:ffff:ffff:ffff:" \
                                            "255.255.255.255/128") - 1)


typedef struct {
    u_char      addr[16];   /* network address, IPv4 in addr[0..3] */
    u_char      family;     /* 4 or 6 */
    u_char      prefix;     /* 0..32 or 0..128 */
} ngx_edge_auth_cidr_t;


typedef enum {
    NGX_EDGE_AUTH_CIDR_OK = 0,
    NGX_EDGE_AUTH_CIDR_EMPTY,
    NGX_EDGE_AUTH_CIDR_BAD_CHAR,
    NGX_EDGE_AUTH_CIDR_EMPTY_OCTET,
    NGX_EDGE_AUTH_CIDR_OCTET_RANGE,
    NGX_EDGE_AUTH_CIDR_LEADING_ZERO,
    NGX_EDGE_AUTH_CIDR_OCTET_COUNT,
    NGX_EDGE_AUTH_CIDR_BAD_IPV6,
    NGX_EDGE_AUTH_CIDR_EMPTY_PREFIX,
    NGX_EDGE_AUTH_CIDR_BAD_PREFIX,
    NGX_EDGE_AUTH_CIDR_PREFIX_ZERO,
    NGX_EDGE_AUTH_CIDR_PREFIX_RANGE,
    NGX_EDGE_AUTH_CIDR_MAPPED_PREFIX,
    NGX_EDGE_AUTH_CIDR_HOST_BITS
} ngx_edge_auth_cidr_rc_e;


/*
 * Parses text into *cidr.  On NGX_EDGE_AUTH_CIDR_HOST_BITS, *cidr holds
 * the network address that the operator probably meant.  IPv4-mapped IPv6
 * ("::ffff:a.b.c.d/PREFIX", PREFIX >= 96) is returned as IPv4.
 */
ngx_edge_auth_cidr_rc_e ngx_edge_auth_cidr_parse(const u_char *text,
    size_t len, ngx_edge_auth_cidr_t *cidr);
/*
 * The common case of a long list, fast: "A.B.C.D" or "A.B.C.D/PREFIX" as
 * ngx_edge_auth_cidr_parse() accepts it (no leading zeros, no host bits).
 * Returns NGX_EDGE_AUTH_CIDR_OK with the address in host byte order, or
 * NGX_EDGE_AUTH_CIDR_BAD_CHAR for any other text: ngx_edge_auth_cidr_parse()
 * then gives the result or the error.
 */
ngx_edge_auth_cidr_rc_e ngx_edge_auth_cidr_parse4_fast(const u_char *text,
    size_t len, uint32_t *addr, unsigned *prefix);
const char *ngx_edge_auth_cidr_strerror(ngx_edge_auth_cidr_rc_e rc);
size_t ngx_edge_auth_cidr_format(const ngx_edge_auth_cidr_t *cidr,
    u_char *buf, size_t size);
int ngx_edge_auth_addr_is_v4mapped(const u_char *addr16);


#endif /* _NGX_EDGE_AUTH_CIDR_H_INCLUDED_ */
