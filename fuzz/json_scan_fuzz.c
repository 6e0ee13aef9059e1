
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * libFuzzer target for the JSON checker: no input may read past its end,
 * and the member spans of an object are in order, inside the input, each
 * a key string followed by its value; a key folds into no more than its
 * length and never past the room given.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_edge_auth_json_scan.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


typedef struct {
    const u_char  *start;
    const u_char  *end;
    const u_char  *last;     /* the end of the previous member */
} ngx_edge_auth_json_fuzz_t;


static void
member(void *data, const u_char *key, size_t key_len, const u_char *end)
{
    ngx_edge_auth_json_fuzz_t  *f = data;

    u_char  fold[16];
    size_t  n;

    if (key < f->last || key + key_len > end || end > f->end
        || key_len < 2 || key[0] != '"' || key[key_len - 1] != '"')
    {
        abort();
    }

    f->last = end;

    /* the folded key: never longer than the key, nothing past size */

    memset(fold, 0xa5, sizeof(fold));

    n = ngx_edge_auth_json_key_fold(key, key_len, fold, 8);

    if (n > key_len || fold[8] != 0xa5) {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                     *buf;
    ngx_edge_auth_json_fuzz_t   f;

    buf = malloc(size ? size : 1);
    if (buf == NULL) {
        return 0;
    }

    memcpy(buf, data, size);

    f.start = buf;
    f.end = buf + size;
    f.last = buf;

    (void) ngx_edge_auth_json_scan(buf, size, member, &f);

    free(buf);

    return 0;
}
