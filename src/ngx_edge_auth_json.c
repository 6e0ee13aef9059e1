
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * A JSON path in a jansson tree: where a login answer keeps its token and
 * a partner's answer its code.
 */


#include "ngx_edge_auth_json.h"


json_t *
ngx_edge_auth_json_path(json_t *root, ngx_str_t *path)
{
    u_char  *p, *dot, *end;
    json_t  *v;

    if (root == NULL) {
        return NULL;
    }

    v = root;
    p = path->data;
    end = path->data + path->len;

    /* "a.b.c": nested objects; a key with a dot cannot be reached */

    while (v && p < end) {
        dot = ngx_strlchr(p, end, '.');

        if (dot == NULL) {
            dot = end;
        }

        if (!json_is_object(v)) {
            return NULL;
        }

        v = json_object_getn(v, (char *) p, dot - p);
        p = dot + 1;
    }

    return v;
}
