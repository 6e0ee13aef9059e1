
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * libFuzzer target for the address parser and the longest-prefix table:
 * every accepted address must format, parse back to itself, and be found
 * by a table built from it.
 *
 *   make fuzz        (clang -fsanitize=fuzzer,address,undefined)
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_edge_auth_cidr.h"
#include "ngx_edge_auth_lpm.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                     n;
    u_char                     text[NGX_EDGE_AUTH_CIDR_TEXT_LEN + 1];
    uint32_t                   start4[3], value4[3], v, addr;
    uint64_t                   start6[6];
    ngx_edge_auth_lpm_t        lpm;
    ngx_edge_auth_cidr_t       cidr, again;
    ngx_edge_auth_lpm_entry_t  e;

    if (ngx_edge_auth_cidr_parse(data, size, &cidr) != NGX_EDGE_AUTH_CIDR_OK) {
        return 0;
    }

    n = ngx_edge_auth_cidr_format(&cidr, text, sizeof(text));

    if (ngx_edge_auth_cidr_parse(text, n, &again) != NGX_EDGE_AUTH_CIDR_OK
        || memcmp(&cidr, &again, sizeof(cidr)) != 0)
    {
        abort();
    }

    memset(&e, 0, sizeof(e));
    memcpy(e.addr, cidr.addr, 16);
    e.family = cidr.family;
    e.prefix = cidr.prefix;
    e.deny = 1;

    memset(&lpm, 0, sizeof(lpm));

    if (cidr.family == 4) {
        lpm.start4 = start4;
        lpm.value4 = value4;
        lpm.n4 = ngx_edge_auth_lpm_build4(&e, 1, 0, start4, value4);

        addr = ((uint32_t) cidr.addr[0] << 24) | ((uint32_t) cidr.addr[1] << 16)
               | ((uint32_t) cidr.addr[2] << 8) | cidr.addr[3];
        v = ngx_edge_auth_lpm_find4(&lpm, addr);

    } else {
        lpm.start6 = start6;
        lpm.value6 = value4;
        lpm.n6 = ngx_edge_auth_lpm_build6(&e, 1, 0, start6, value4);

        v = ngx_edge_auth_lpm_find6(&lpm, cidr.addr);
    }

    if (v != (1 | NGX_EDGE_AUTH_LPM_DENY)) {
        abort();
    }

    return 0;
}
