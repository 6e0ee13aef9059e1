
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#include "ngx_edge_auth_redis_slot.h"


/* bit by bit: a few dozen bytes per command, no table needed */

uint16_t
ngx_edge_auth_redis_crc16(const unsigned char *p, size_t len)
{
    size_t    i;
    unsigned  b;
    uint16_t  crc;

    crc = 0;

    for (i = 0; i < len; i++) {
        crc ^= (uint16_t) (p[i] << 8);

        for (b = 0; b < 8; b++) {
            crc = (crc & 0x8000) ? (uint16_t) ((crc << 1) ^ 0x1021)
                                 : (uint16_t) (crc << 1);
        }
    }

    return crc;
}


unsigned
ngx_edge_auth_redis_slot(const unsigned char *key, size_t len)
{
    size_t  s, e;

    for (s = 0; s < len; s++) {
        if (key[s] == '{') {
            break;
        }
    }

    if (s < len) {
        for (e = s + 1; e < len; e++) {
            if (key[e] == '}') {
                break;
            }
        }

        /* "{}" or no "}": the whole key, as Redis does */

        if (e < len && e != s + 1) {
            key += s + 1;
            len = e - s - 1;
        }
    }

    return ngx_edge_auth_redis_crc16(key, len)
           & (NGX_EDGE_AUTH_REDIS_SLOTS - 1);
}
