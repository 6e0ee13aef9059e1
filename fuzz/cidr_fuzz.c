
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
    size_t                      n;
    u_char                      text[NGX_EDGE_AUTH_CIDR_TEXT_LEN + 1];
    unsigned                    p4;
    uint32_t                    v, a4, mem4[8];
    uint64_t                    mem6[8];
    ngx_edge_auth_cidr_t        cidr, again;
    ngx_edge_auth_lpm4_t        lpm4;
    ngx_edge_auth_lpm6_t        lpm6;
    ngx_edge_auth_lpm4_entry_t  e4;
    ngx_edge_auth_lpm6_entry_t  e6;

    /* the fast path accepts only what the full parser does, alike */

    if (ngx_edge_auth_cidr_parse4_fast(data, size, &a4, &p4)
        == NGX_EDGE_AUTH_CIDR_OK)
    {
        if (ngx_edge_auth_cidr_parse(data, size, &cidr)
            != NGX_EDGE_AUTH_CIDR_OK
            || cidr.family != 4 || cidr.prefix != p4
            || cidr.addr[0] != (a4 >> 24)
            || cidr.addr[1] != ((a4 >> 16) & 0xff)
            || cidr.addr[2] != ((a4 >> 8) & 0xff)
            || cidr.addr[3] != (a4 & 0xff))
        {
            abort();
        }
    }

    if (ngx_edge_auth_cidr_parse(data, size, &cidr) != NGX_EDGE_AUTH_CIDR_OK) {
        return 0;
    }

    n = ngx_edge_auth_cidr_format(&cidr, text, sizeof(text));

    if (ngx_edge_auth_cidr_parse(text, n, &again) != NGX_EDGE_AUTH_CIDR_OK
        || memcmp(&cidr, &again, sizeof(cidr)) != 0)
    {
        abort();
    }

    /* a table of that one prefix finds it (fuzz/lpm_fuzz.c: many) */

    if (cidr.family == 4) {
        memset(&e4, 0, sizeof(e4));
        e4.addr = ((uint32_t) cidr.addr[0] << 24)
                  | ((uint32_t) cidr.addr[1] << 16)
                  | ((uint32_t) cidr.addr[2] << 8) | cidr.addr[3];
        e4.prefix = cidr.prefix;
        e4.value = NGX_EDGE_AUTH_LPM4_VALUE(cidr.prefix, 1);

        n = ngx_edge_auth_lpm4_count(&e4, 1, sizeof(e4));

        if (n > 3
            || ngx_edge_auth_lpm4_layout(&lpm4, n, 8, 0) > sizeof(mem4))
        {
            abort();
        }

        ngx_edge_auth_lpm4_build(&lpm4, &e4, 1, sizeof(e4), mem4);
        v = ngx_edge_auth_lpm4_find(&lpm4, e4.addr);

        if (v != e4.value) {
            abort();
        }

        v = 2;

    } else {
        memset(&e6, 0, sizeof(e6));
        memcpy(e6.addr, cidr.addr, 16);
        e6.prefix = cidr.prefix;
        e6.value = 2;

        n = ngx_edge_auth_lpm6_count(&e6, 1, sizeof(e6));

        if (n > 3 || ngx_edge_auth_lpm6_layout(&lpm6, n, 2) > sizeof(mem6))
        {
            abort();
        }

        ngx_edge_auth_lpm6_build(&lpm6, &e6, 1, sizeof(e6), mem6);
        v = ngx_edge_auth_lpm6_find(&lpm6, cidr.addr);
    }

    if (v != 2) {
        abort();
    }

    return 0;
}
