
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * ISO-8601 / RFC 3339 date-times, as token endpoints write expiry dates:
 * "2020-03-17T17:41:51.178Z", "2020-03-17T19:41:51+02:00", "...+02",
 * "2020-03-17T24:00:00Z" (the next midnight), and the basic format
 * "20200317T174151Z".  Pure C.
 */


#ifndef _NGX_EDGE_AUTH_ISO8601_H_INCLUDED_
#define _NGX_EDGE_AUTH_ISO8601_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


/* returns 0 and the time in milliseconds since the epoch, or -1 */
int ngx_edge_auth_iso8601_parse(const u_char *p, size_t len,
    int64_t *msec);


#endif /* _NGX_EDGE_AUTH_ISO8601_H_INCLUDED_ */
