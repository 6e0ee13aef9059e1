
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "ngx_edge_auth_cidr.h"


static ngx_edge_auth_cidr_rc_e ngx_edge_auth_cidr_parse4(const u_char *p,
    size_t len, u_char *addr);
static ngx_edge_auth_cidr_rc_e ngx_edge_auth_cidr_parse_prefix(
    const u_char *p, size_t len, unsigned max, unsigned *prefix);


static const u_char  ngx_edge_auth_v4mapped[12] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};


ngx_edge_auth_cidr_rc_e
ngx_edge_auth_cidr_parse(const u_char *text, size_t len,
    ngx_edge_auth_cidr_t *cidr)
{
    char                     buf[64];
    size_t                   alen;
    unsigned                 i, prefix, max, bits;
    const u_char            *slash;
    ngx_edge_auth_cidr_rc_e  rc;

    memset(cidr, 0, sizeof(ngx_edge_auth_cidr_t));

    if (len == 0) {
        return NGX_EDGE_AUTH_CIDR_EMPTY;
    }

    slash = memchr(text, '/', len);
    alen = slash ? (size_t) (slash - text) : len;

    if (alen == 0) {
        return NGX_EDGE_AUTH_CIDR_EMPTY;
    }

    if (memchr(text, ':', alen) == NULL) {
        rc = ngx_edge_auth_cidr_parse4(text, alen, cidr->addr);
        if (rc != NGX_EDGE_AUTH_CIDR_OK) {
            return rc;
        }

        cidr->family = 4;
        max = 32;

    } else {
        if (alen >= sizeof(buf)) {
            return NGX_EDGE_AUTH_CIDR_BAD_IPV6;
        }

        /* inet_pton() wants a NUL-terminated string */
        memcpy(buf, text, alen);
        buf[alen] = '\0';

        if (inet_pton(AF_INET6, buf, cidr->addr) != 1) {
            return NGX_EDGE_AUTH_CIDR_BAD_IPV6;
        }

        cidr->family = 6;
        max = 128;
    }

    prefix = max;

    if (slash) {
        rc = ngx_edge_auth_cidr_parse_prefix(slash + 1, len - alen - 1, max,
                                             &prefix);
        if (rc != NGX_EDGE_AUTH_CIDR_OK) {
            return rc;
        }
    }

    if (cidr->family == 6 && ngx_edge_auth_addr_is_v4mapped(cidr->addr)) {

        /* shorter prefixes would cover non-mapped space as well */
        if (prefix < 96) {
            return NGX_EDGE_AUTH_CIDR_MAPPED_PREFIX;
        }

        memmove(cidr->addr, cidr->addr + 12, 4);
        memset(cidr->addr + 4, 0, 12);
        cidr->family = 4;
        prefix -= 96;
    }

    cidr->prefix = (u_char) prefix;

    rc = NGX_EDGE_AUTH_CIDR_OK;

    for (i = 0; i < 16; i++) {
        bits = (prefix > i * 8) ? prefix - i * 8 : 0;

        if (bits >= 8) {
            continue;
        }

        if (cidr->addr[i] & (0xff >> bits)) {
            cidr->addr[i] &= (u_char) ~(0xff >> bits);
            rc = NGX_EDGE_AUTH_CIDR_HOST_BITS;
        }
    }

    return rc;
}


ngx_edge_auth_cidr_rc_e
ngx_edge_auth_cidr_parse4_fast(const u_char *p, size_t len, uint32_t *addr,
    unsigned *prefix)
{
    unsigned       i, d, c, v, bits;
    uint32_t       a;
    const u_char  *end;

    end = p + len;
    a = 0;

    for (i = 0; i < 4; i++) {
        if (i && (p == end || *p++ != '.')) {
            return NGX_EDGE_AUTH_CIDR_BAD_CHAR;
        }

        if (p == end || (v = (unsigned) *p - '0') > 9) {
            return NGX_EDGE_AUTH_CIDR_BAD_CHAR;
        }

        p++;

        /* "0" stands alone: "01" is left to the full parser, which says */

        for (d = 1; v && d < 3 && p < end && (c = (unsigned) *p - '0') <= 9;
             d++)
        {
            v = v * 10 + c;
            p++;
        }

        if (v > 255) {
            return NGX_EDGE_AUTH_CIDR_BAD_CHAR;
        }

        a = a << 8 | v;
    }

    bits = 32;

    if (p < end) {
        if (*p++ != '/' || p == end || (bits = (unsigned) *p++ - '0') > 9) {
            return NGX_EDGE_AUTH_CIDR_BAD_CHAR;
        }

        if (p < end) {
            if (bits == 0 || (c = (unsigned) *p++ - '0') > 9) {
                return NGX_EDGE_AUTH_CIDR_BAD_CHAR;
            }

            bits = bits * 10 + c;
        }

        if (p != end || bits > 32
            || (bits < 32 && (a & (0xffffffff >> bits))))
        {
            return NGX_EDGE_AUTH_CIDR_BAD_CHAR;
        }
    }

    *addr = a;
    *prefix = bits;

    return NGX_EDGE_AUTH_CIDR_OK;
}


static ngx_edge_auth_cidr_rc_e
ngx_edge_auth_cidr_parse4(const u_char *p, size_t len, u_char *addr)
{
    size_t    i, digits;
    unsigned  octets, value;

    octets = 0;
    value = 0;
    digits = 0;

    for (i = 0; i <= len; i++) {

        if (i == len || p[i] == '.') {
            if (digits == 0) {
                return NGX_EDGE_AUTH_CIDR_EMPTY_OCTET;
            }

            if (octets == 4) {
                return NGX_EDGE_AUTH_CIDR_OCTET_COUNT;
            }

            addr[octets++] = (u_char) value;
            value = 0;
            digits = 0;
            continue;
        }

        if (p[i] < '0' || p[i] > '9') {
            return NGX_EDGE_AUTH_CIDR_BAD_CHAR;
        }

        /* "010" is octal to inet_aton() and decimal to others */
        if (digits == 1 && value == 0) {
            return NGX_EDGE_AUTH_CIDR_LEADING_ZERO;
        }

        value = value * 10 + (p[i] - '0');
        digits++;

        if (value > 255) {
            return NGX_EDGE_AUTH_CIDR_OCTET_RANGE;
        }
    }

    if (octets != 4) {
        return NGX_EDGE_AUTH_CIDR_OCTET_COUNT;
    }

    return NGX_EDGE_AUTH_CIDR_OK;
}


static ngx_edge_auth_cidr_rc_e
ngx_edge_auth_cidr_parse_prefix(const u_char *p, size_t len, unsigned max,
    unsigned *prefix)
{
    size_t    i;
    unsigned  value;

    if (len == 0) {
        return NGX_EDGE_AUTH_CIDR_EMPTY_PREFIX;
    }

    if (len > 3) {
        return NGX_EDGE_AUTH_CIDR_PREFIX_RANGE;
    }

    value = 0;

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return NGX_EDGE_AUTH_CIDR_BAD_PREFIX;
        }

        value = value * 10 + (p[i] - '0');
    }

    if (len > 1 && p[0] == '0') {
        return NGX_EDGE_AUTH_CIDR_PREFIX_ZERO;
    }

    if (value > max) {
        return NGX_EDGE_AUTH_CIDR_PREFIX_RANGE;
    }

    *prefix = value;

    return NGX_EDGE_AUTH_CIDR_OK;
}


const char *
ngx_edge_auth_cidr_strerror(ngx_edge_auth_cidr_rc_e rc)
{
    switch (rc) {

    case NGX_EDGE_AUTH_CIDR_OK:
        return "no error";
    case NGX_EDGE_AUTH_CIDR_EMPTY:
        return "the address is empty";
    case NGX_EDGE_AUTH_CIDR_BAD_CHAR:
        return "an IPv4 address may contain only digits and dots";
    case NGX_EDGE_AUTH_CIDR_EMPTY_OCTET:
        return "an IPv4 address has an empty octet";
    case NGX_EDGE_AUTH_CIDR_OCTET_RANGE:
        return "an IPv4 octet is greater than 255";
    case NGX_EDGE_AUTH_CIDR_LEADING_ZERO:
        return "an IPv4 octet has a leading zero, which some software reads "
               "as octal";
    case NGX_EDGE_AUTH_CIDR_OCTET_COUNT:
        return "an IPv4 address must have exactly four octets";
    case NGX_EDGE_AUTH_CIDR_BAD_IPV6:
        return "the IPv6 address is malformed";
    case NGX_EDGE_AUTH_CIDR_EMPTY_PREFIX:
        return "the prefix length after \"/\" is missing";
    case NGX_EDGE_AUTH_CIDR_BAD_PREFIX:
        return "the prefix length must be a decimal number";
    case NGX_EDGE_AUTH_CIDR_PREFIX_ZERO:
        return "the prefix length has a leading zero";
    case NGX_EDGE_AUTH_CIDR_PREFIX_RANGE:
        return "the prefix length is out of range (0-32 for IPv4, "
               "0-128 for IPv6)";
    case NGX_EDGE_AUTH_CIDR_MAPPED_PREFIX:
        return "an IPv4-mapped IPv6 prefix must be /96 or longer";
    case NGX_EDGE_AUTH_CIDR_HOST_BITS:
        return "the address has host bits set beyond the prefix length";
    }

    return "unknown error";
}


size_t
ngx_edge_auth_cidr_format(const ngx_edge_auth_cidr_t *cidr, u_char *buf,
    size_t size)
{
    int   n;
    char  text[INET6_ADDRSTRLEN];

    if (inet_ntop(cidr->family == 4 ? AF_INET : AF_INET6, cidr->addr, text,
                  sizeof(text))
        == NULL)
    {
        text[0] = '\0';
    }

    n = snprintf((char *) buf, size, "%s/%u", text, (unsigned) cidr->prefix);

    if (n < 0) {
        return 0;
    }

    return ((size_t) n < size) ? (size_t) n : size - 1;
}


int
ngx_edge_auth_addr_is_v4mapped(const u_char *addr16)
{
    return memcmp(addr16, ngx_edge_auth_v4mapped, 12) == 0;
}
