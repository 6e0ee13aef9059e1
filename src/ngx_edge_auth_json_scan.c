
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * A strict JSON checker: what jansson accepts, without building a tree
 * (jansson spends about 1 ms on a 64 KB body, mostly in malloc).  Strings
 * are checked for escapes, paired surrogates and shortest-form UTF-8 (no
 * encoded surrogates, nothing above U+10FFFF); numbers for the grammar
 * only, so 1e400 passes where jansson reports an overflow.  Pure C.
 */


#include <string.h>

#include "ngx_edge_auth_json_scan.h"


#define NGX_EDGE_AUTH_JSON_VALUE  0
#define NGX_EDGE_AUTH_JSON_KEY    1
#define NGX_EDGE_AUTH_JSON_AFTER  2


static const u_char *ngx_edge_auth_json_space(const u_char *p,
    const u_char *end);
static const u_char *ngx_edge_auth_json_string(const u_char *p,
    const u_char *end);
static int ngx_edge_auth_json_hex4(const u_char *p, const u_char *end,
    unsigned *u);
static int ngx_edge_auth_json_invisible(unsigned u);
static size_t ngx_edge_auth_json_utf8(const u_char *p, const u_char *end);
static const u_char *ngx_edge_auth_json_number(const u_char *p,
    const u_char *end);
static const u_char *ngx_edge_auth_json_literal(const u_char *p,
    const u_char *end, const char *word, size_t len);


int
ngx_edge_auth_json_scan(const u_char *p, size_t len,
    ngx_edge_auth_json_member_pt member, void *data)
{
    int            state, object;
    size_t         depth, key_len;
    u_char         stack[NGX_EDGE_AUTH_JSON_DEPTH];
    const u_char  *end, *key, *q;

    end = p + len;
    depth = 0;
    key = NULL;
    key_len = 0;

    p = ngx_edge_auth_json_space(p, end);
    object = (p < end && *p == '{');

    state = NGX_EDGE_AUTH_JSON_VALUE;

    for ( ;; ) {

        switch (state) {

        case NGX_EDGE_AUTH_JSON_VALUE:
            p = ngx_edge_auth_json_space(p, end);

            if (p == end) {
                return NGX_EDGE_AUTH_JSON_INVALID;
            }

            state = NGX_EDGE_AUTH_JSON_AFTER;

            switch (*p) {

            case '{':
            case '[':
                if (depth == NGX_EDGE_AUTH_JSON_DEPTH) {
                    return NGX_EDGE_AUTH_JSON_INVALID;
                }

                stack[depth++] = *p;
                q = ngx_edge_auth_json_space(p + 1, end);

                if (q < end && *q == (*p == '{' ? '}' : ']')) {
                    depth--;
                    p = q + 1;
                    break;
                }

                state = (*p == '{') ? NGX_EDGE_AUTH_JSON_KEY
                                    : NGX_EDGE_AUTH_JSON_VALUE;
                p = q;
                break;

            case '"':
                p = ngx_edge_auth_json_string(p, end);
                break;

            case 't':
                p = ngx_edge_auth_json_literal(p, end, "true", 4);
                break;

            case 'f':
                p = ngx_edge_auth_json_literal(p, end, "false", 5);
                break;

            case 'n':
                p = ngx_edge_auth_json_literal(p, end, "null", 4);
                break;

            default:
                p = ngx_edge_auth_json_number(p, end);
            }

            if (p == NULL) {
                return NGX_EDGE_AUTH_JSON_INVALID;
            }

            break;

        case NGX_EDGE_AUTH_JSON_KEY:
            if (p == end || *p != '"') {
                return NGX_EDGE_AUTH_JSON_INVALID;
            }

            q = ngx_edge_auth_json_string(p, end);
            if (q == NULL) {
                return NGX_EDGE_AUTH_JSON_INVALID;
            }

            if (depth == 1) {
                key = p;
                key_len = q - p;
            }

            p = ngx_edge_auth_json_space(q, end);

            if (p == end || *p != ':') {
                return NGX_EDGE_AUTH_JSON_INVALID;
            }

            p++;
            state = NGX_EDGE_AUTH_JSON_VALUE;
            break;

        default: /* NGX_EDGE_AUTH_JSON_AFTER: a value ended at p */

            if (depth == 1 && stack[0] == '{' && member) {
                member(data, key, key_len, p);
            }

            p = ngx_edge_auth_json_space(p, end);

            if (depth == 0) {
                if (p != end) {
                    return NGX_EDGE_AUTH_JSON_INVALID;
                }

                return object ? NGX_EDGE_AUTH_JSON_OBJECT
                              : NGX_EDGE_AUTH_JSON_NOT_OBJECT;
            }

            if (p == end) {
                return NGX_EDGE_AUTH_JSON_INVALID;
            }

            if (*p == ',') {
                p = ngx_edge_auth_json_space(p + 1, end);
                state = (stack[depth - 1] == '{') ? NGX_EDGE_AUTH_JSON_KEY
                                                  : NGX_EDGE_AUTH_JSON_VALUE;
                break;
            }

            if (*p != (stack[depth - 1] == '{' ? '}' : ']')) {
                return NGX_EDGE_AUTH_JSON_INVALID;
            }

            depth--;
            p++;
        }
    }
}


static const u_char *
ngx_edge_auth_json_space(const u_char *p, const u_char *end)
{
    while (p < end
           && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    {
        p++;
    }

    return p;
}


/* p at the opening quote; past the closing one, or NULL */

static const u_char *
ngx_edge_auth_json_string(const u_char *p, const u_char *end)
{
    size_t    n;
    unsigned  u, low;

    for (p++; p < end; /* void */ ) {

        /* most of a body: printable ASCII, one test each */

        while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
            if (++p == end) {
                return NULL;
            }
        }

        if (*p == '"') {
            return p + 1;
        }

        if (*p < 0x20) {
            return NULL;
        }

        if (*p >= 0x80) {
            n = ngx_edge_auth_json_utf8(p, end);

            if (n == 0) {
                return NULL;
            }

            p += n;
            continue;
        }

        if (*p != '\\') {
            p++;
            continue;
        }

        if (++p == end) {
            return NULL;
        }

        switch (*p) {

        case '"': case '\\': case '/':
        case 'b': case 'f': case 'n': case 'r': case 't':
            p++;
            break;

        case 'u':
            if (ngx_edge_auth_json_hex4(p + 1, end, &u) != 0
                || (u >= 0xdc00 && u <= 0xdfff))
            {
                return NULL;
            }

            p += 5;

            /* a high surrogate needs its low half */

            if (u >= 0xd800 && u <= 0xdbff) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u'
                    || ngx_edge_auth_json_hex4(p + 2, end, &low) != 0
                    || low < 0xdc00 || low > 0xdfff)
                {
                    return NULL;
                }

                p += 6;
            }

            break;

        default:
            return NULL;
        }
    }

    return NULL;
}


static int
ngx_edge_auth_json_hex4(const u_char *p, const u_char *end, unsigned *u)
{
    int     i;
    u_char  c;

    if (end - p < 4) {
        return -1;
    }

    *u = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];

        if (c >= '0' && c <= '9') {
            *u = *u * 16 + (c - '0');

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            *u = *u * 16 + ((c | 0x20) - 'a' + 10);

        } else {
            return -1;
        }
    }

    return 0;
}


/* the length of one shortest-form UTF-8 sequence at p, or 0 */

static size_t
ngx_edge_auth_json_utf8(const u_char *p, const u_char *end)
{
    size_t  n, i;
    u_char  c, lo, hi;

    c = p[0];
    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = (c == 0xe0) ? 0xa0 : 0x80;     /* not overlong */
        hi = (c == 0xed) ? 0x9f : 0xbf;     /* no surrogates */

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = (c == 0xf0) ? 0x90 : 0x80;     /* not overlong */
        hi = (c == 0xf4) ? 0x8f : 0xbf;     /* up to U+10FFFF */

    } else {
        return 0;
    }

    if ((size_t) (end - p) < n || p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }

    return n;
}


static const u_char *
ngx_edge_auth_json_number(const u_char *p, const u_char *end)
{
    const u_char  *digits;

    if (p < end && *p == '-') {
        p++;
    }

    if (p == end) {
        return NULL;
    }

    if (*p == '0') {
        p++;

    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }

    } else {
        return NULL;
    }

    if (p < end && *p == '.') {
        digits = ++p;

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }

        if (p == digits) {
            return NULL;
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;

        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }

        digits = p;

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }

        if (p == digits) {
            return NULL;
        }
    }

    return p;
}


static const u_char *
ngx_edge_auth_json_literal(const u_char *p, const u_char *end,
    const char *word, size_t len)
{
    size_t  i;

    if ((size_t) (end - p) < len) {
        return NULL;
    }

    for (i = 0; i < len; i++) {
        if (p[i] != (u_char) word[i]) {
            return NULL;
        }
    }

    return p + len;
}


static int
ngx_edge_auth_json_invisible(unsigned u)
{
    return u < 0x20 || (u >= 0x7f && u <= 0x9f) || u == 0xad
           || u == 0x34f || u == 0x115f || u == 0x1160
           || u == 0x17b4 || u == 0x17b5 || u == 0x180e
           || (u >= 0x200b && u <= 0x200f) || (u >= 0x202a && u <= 0x202e)
           || (u >= 0x2060 && u <= 0x206f) || u == 0x3164
           || (u >= 0xfe00 && u <= 0xfe0f) || u == 0xfeff || u == 0xffa0
           || (u >= 0xe0000 && u <= 0xe0fff);
}


size_t
ngx_edge_auth_json_key_fold(const u_char *key, size_t len, u_char *out,
    size_t size)
{
    size_t         n, k;
    unsigned       u, lo;
    u_char         c, enc[4];
    const u_char  *p, *end;

    n = 0;

    if (len < 2) {
        return 0;
    }

    p = key + 1;
    end = key + len - 1;

    while (p < end) {
        c = *p;

        if (c == '\\' && p + 1 < end) {
            c = p[1];
            p += 2;

            switch (c) {
            case 'b': u = '\b'; break;
            case 'f': u = '\f'; break;
            case 'n': u = '\n'; break;
            case 'r': u = '\r'; break;
            case 't': u = '\t'; break;

            case 'u':
                if (ngx_edge_auth_json_hex4(p, end, &u) != 0) {
                    return n;
                }

                p += 4;

                if (u >= 0xd800 && u <= 0xdbff && p + 6 <= end
                    && p[0] == '\\' && p[1] == 'u'
                    && ngx_edge_auth_json_hex4(p + 2, end, &lo) == 0
                    && lo >= 0xdc00 && lo <= 0xdfff)
                {
                    u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;
                }

                break;

            default:    /* " \ / */
                u = c;
            }

        } else if (c < 0x80) {
            u = c;
            p++;

        } else {
            k = ngx_edge_auth_json_utf8(p, end);

            if (k == 0) {
                /* not UTF-8: the checker refuses it; byte by byte */
                u = 0xfffd;
                k = 1;

            } else if (k == 2) {
                u = ((p[0] & 0x1f) << 6) | (p[1] & 0x3f);

            } else if (k == 3) {
                u = ((p[0] & 0x0f) << 12) | ((p[1] & 0x3f) << 6)
                    | (p[2] & 0x3f);

            } else {
                u = ((p[0] & 0x07) << 18) | ((p[1] & 0x3f) << 12)
                    | ((p[2] & 0x3f) << 6) | (p[3] & 0x3f);
            }

            p += k;
        }

        if (ngx_edge_auth_json_invisible(u)) {
            continue;
        }

        if (u >= 'A' && u <= 'Z') {
            u |= 0x20;

        } else if (u == 0x212a) {
            u = 'k';

        } else if (u == 0x17f) {
            u = 's';
        }

        if (u < 0x80) {
            enc[0] = (u_char) u;
            k = 1;

        } else if (u < 0x800) {
            enc[0] = (u_char) (0xc0 | (u >> 6));
            enc[1] = (u_char) (0x80 | (u & 0x3f));
            k = 2;

        } else if (u < 0x10000) {
            enc[0] = (u_char) (0xe0 | (u >> 12));
            enc[1] = (u_char) (0x80 | ((u >> 6) & 0x3f));
            enc[2] = (u_char) (0x80 | (u & 0x3f));
            k = 3;

        } else {
            enc[0] = (u_char) (0xf0 | (u >> 18));
            enc[1] = (u_char) (0x80 | ((u >> 12) & 0x3f));
            enc[2] = (u_char) (0x80 | ((u >> 6) & 0x3f));
            enc[3] = (u_char) (0x80 | (u & 0x3f));
            k = 4;
        }

        if (n + k <= size) {
            memcpy(out + n, enc, k);
        }

        n += k;
    }

    return n;
}
