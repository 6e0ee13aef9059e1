
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * libFuzzer target for the login answer parser: any input, complete or
 * not, closed or not, must parse without reading or writing outside the
 * buffer, and a complete answer's body must lie inside it.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_edge_auth_http_parse.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                          eof;
    u_char                      *buf;
    ngx_edge_auth_http_rc_e      rc;
    ngx_edge_auth_http_answer_t  a;

    /* an exact-size copy: ASan sees any read past the end */
    buf = malloc(size ? size : 1);
    if (buf == NULL) {
        return 0;
    }

    for (eof = 0; eof <= 1; eof++) {
        memcpy(buf, data, size);

        rc = ngx_edge_auth_http_parse(buf, size, eof, &a);

        if (rc == NGX_EDGE_AUTH_HTTP_COMPLETE
            && (a.body < buf || a.body + a.body_len > buf + size
                || a.status < 100 || a.status > 599))
        {
            abort();
        }
    }

    free(buf);

    return 0;
}
