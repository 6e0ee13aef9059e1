
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * Redis Cluster's hash slot of a key: CRC16 (XMODEM: polynomial 0x1021,
 * initial value 0) of the key, or of its hash tag, modulo 16384.  The
 * hash tag is what lies between the first "{" and the first "}" after
 * it, when that is not empty: keys with the same tag share a slot.  Pure
 * C, so that it can be unit tested without nginx.
 */


#ifndef _NGX_EDGE_AUTH_REDIS_SLOT_H_INCLUDED_
#define _NGX_EDGE_AUTH_REDIS_SLOT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_EDGE_AUTH_REDIS_SLOTS  16384


uint16_t ngx_edge_auth_redis_crc16(const unsigned char *p, size_t len);
unsigned ngx_edge_auth_redis_slot(const unsigned char *key, size_t len);


#endif /* _NGX_EDGE_AUTH_REDIS_SLOT_H_INCLUDED_ */
