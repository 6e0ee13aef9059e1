
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * libFuzzer target for ISO-8601 expiry dates: no input may read past its
 * end, and an accepted date lies between 1970 and 10000.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_edge_auth_iso8601.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char   *buf;
    int64_t   msec;

    buf = malloc(size ? size : 1);
    if (buf == NULL) {
        return 0;
    }

    memcpy(buf, data, size);

    if (ngx_edge_auth_iso8601_parse(buf, size, &msec) == 0
        && (msec < -86400000LL || msec > 253402300800000LL + 86400000LL))
    {
        abort();
    }

    free(buf);

    return 0;
}
