
/*
 * Copyright (C) The ngx_http_credential_module authors
 */


#include <string.h>
#include <strings.h>

#include "ngx_edge_auth_http_parse.h"


static ngx_edge_auth_http_rc_e ngx_edge_auth_http_chunked(u_char *p,
    size_t len, int decode, size_t *body_len, const char **error);
static const u_char *ngx_edge_auth_http_find(const u_char *p, size_t len,
    const char *what, size_t wlen);


ngx_edge_auth_http_rc_e
ngx_edge_auth_http_parse(u_char *buf, size_t len, int eof,
    ngx_edge_auth_http_answer_t *a)
{
    size_t                              n, clen, blen;
    u_char                             *p, *end, *line, *eol, *colon, *v;
    const ngx_edge_auth_http_header_t  *te, *cl;
    ngx_edge_auth_http_rc_e             rc;

    memset(a, 0, sizeof(ngx_edge_auth_http_answer_t));

    end = (u_char *) ngx_edge_auth_http_find(buf, len, "\r\n\r\n", 4);

    if (end == NULL) {
        a->error = "the answer ended inside its header";
        return eof ? NGX_EDGE_AUTH_HTTP_INVALID
                   : NGX_EDGE_AUTH_HTTP_INCOMPLETE;
    }

    /* status line: "HTTP/1.x NNN reason" */

    eol = (u_char *) ngx_edge_auth_http_find(buf, end + 2 - buf, "\r\n", 2);

    if (eol - buf < 12
        || memcmp(buf, "HTTP/1.", 7) != 0
        || (buf[7] != '0' && buf[7] != '1')
        || buf[8] != ' '
        || buf[9] < '1' || buf[9] > '5'
        || buf[10] < '0' || buf[10] > '9'
        || buf[11] < '0' || buf[11] > '9'
        || (eol - buf > 12 && buf[12] != ' '))
    {
        a->error = "the answer has no valid HTTP/1.x status line";
        return NGX_EDGE_AUTH_HTTP_INVALID;
    }

    a->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');

    /* header lines */

    for (line = eol + 2; line < end + 2; line = eol + 2) {

        eol = (u_char *) ngx_edge_auth_http_find(line, end + 2 - line,
                                                  "\r\n", 2);

        colon = memchr(line, ':', eol - line);

        if (colon == NULL || colon == line) {
            a->error = "the answer has a malformed header line";
            return NGX_EDGE_AUTH_HTTP_INVALID;
        }

        for (p = line; p < eol; p++) {
            /* bare CR, NUL, other controls: no field may carry them */
            if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
                a->error = "the answer has a control byte in a header";
                return NGX_EDGE_AUTH_HTTP_INVALID;
            }
        }

        for (p = line; p < colon; p++) {
            if (*p == ' ' || *p == '\t') {
                a->error = "the answer has white space in a header name";
                return NGX_EDGE_AUTH_HTTP_INVALID;
            }
        }

        if (a->nheaders == NGX_EDGE_AUTH_HTTP_MAX_HEADERS) {
            a->error = "the answer has too many header lines";
            return NGX_EDGE_AUTH_HTTP_INVALID;
        }

        v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t')) {
            v++;
        }

        n = eol - v;
        while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
            n--;
        }

        a->headers[a->nheaders].name = line;
        a->headers[a->nheaders].name_len = colon - line;
        a->headers[a->nheaders].value = v;
        a->headers[a->nheaders].value_len = n;
        a->nheaders++;
    }

    a->body = end + 4;
    blen = len - (a->body - buf);

    te = ngx_edge_auth_http_header(a, "Transfer-Encoding");
    cl = ngx_edge_auth_http_header(a, "Content-Length");

    if (te) {
        if (te->value_len != 7 || strncasecmp((char *) te->value, "chunked", 7))
        {
            a->error = "the answer has an unsupported Transfer-Encoding";
            return NGX_EDGE_AUTH_HTTP_INVALID;
        }

        /* RFC 9112 6.3: with both, Transfer-Encoding wins; refuse instead */
        if (cl) {
            a->error = "the answer has both Content-Length and "
                       "Transfer-Encoding";
            return NGX_EDGE_AUTH_HTTP_INVALID;
        }

        rc = ngx_edge_auth_http_chunked(a->body, blen, 0, &a->body_len,
                                        &a->error);

        if (rc == NGX_EDGE_AUTH_HTTP_INCOMPLETE && eof) {
            a->error = "the connection closed inside a chunked body";
            return NGX_EDGE_AUTH_HTTP_INVALID;
        }

        if (rc != NGX_EDGE_AUTH_HTTP_COMPLETE) {
            return rc;
        }

        return ngx_edge_auth_http_chunked(a->body, blen, 1, &a->body_len,
                                          &a->error);
    }

    if (cl) {
        if (cl->value_len == 0 || cl->value_len > 9) {
            a->error = "the answer has an invalid Content-Length";
            return NGX_EDGE_AUTH_HTTP_INVALID;
        }

        clen = 0;

        for (n = 0; n < cl->value_len; n++) {
            if (cl->value[n] < '0' || cl->value[n] > '9') {
                a->error = "the answer has an invalid Content-Length";
                return NGX_EDGE_AUTH_HTTP_INVALID;
            }

            clen = clen * 10 + (cl->value[n] - '0');
        }

        if (blen < clen) {
            if (eof) {
                a->error = "the connection closed before Content-Length "
                           "bytes arrived";
                return NGX_EDGE_AUTH_HTTP_INVALID;
            }

            return NGX_EDGE_AUTH_HTTP_INCOMPLETE;
        }

        a->body_len = clen;
        return NGX_EDGE_AUTH_HTTP_COMPLETE;
    }

    if (a->status == 204 || a->status == 304) {
        a->body_len = 0;
        return NGX_EDGE_AUTH_HTTP_COMPLETE;
    }

    /* no framing: the body ends with the connection */

    if (!eof) {
        return NGX_EDGE_AUTH_HTTP_INCOMPLETE;
    }

    a->body_len = blen;

    return NGX_EDGE_AUTH_HTTP_COMPLETE;
}


static ngx_edge_auth_http_rc_e
ngx_edge_auth_http_chunked(u_char *p, size_t len, int decode,
    size_t *body_len, const char **error)
{
    size_t         i, size, out, digits;
    u_char         c;
    const u_char  *eol;

    i = 0;
    out = 0;

    for ( ;; ) {

        /* chunk size in hex, optional extensions, CRLF */

        size = 0;
        digits = 0;

        while (i < len) {
            c = p[i];

            if (c >= '0' && c <= '9') {
                c -= '0';

            } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
                c = (c | 0x20) - 'a' + 10;

            } else {
                break;
            }

            if (++digits > 8) {
                *error = "the answer has a chunk size that is too large";
                return NGX_EDGE_AUTH_HTTP_INVALID;
            }

            size = size * 16 + c;
            i++;
        }

        if (i == len) {
            return NGX_EDGE_AUTH_HTTP_INCOMPLETE;
        }

        if (digits == 0) {
            *error = "the answer has an invalid chunk size";
            return NGX_EDGE_AUTH_HTTP_INVALID;
        }

        eol = ngx_edge_auth_http_find(&p[i], len - i, "\r\n", 2);

        if (eol == NULL) {
            return NGX_EDGE_AUTH_HTTP_INCOMPLETE;
        }

        if (p[i] != '\r' && p[i] != ';') {
            *error = "the answer has an invalid chunk size";
            return NGX_EDGE_AUTH_HTTP_INVALID;
        }

        i = eol - p + 2;

        if (size == 0) {
            /* trailer section: lines up to an empty one */

            for ( ;; ) {
                eol = ngx_edge_auth_http_find(&p[i], len - i, "\r\n", 2);

                if (eol == NULL) {
                    return NGX_EDGE_AUTH_HTTP_INCOMPLETE;
                }

                if (eol == &p[i]) {
                    *body_len = out;
                    return NGX_EDGE_AUTH_HTTP_COMPLETE;
                }

                i = eol - p + 2;
            }
        }

        if (len - i < size + 2) {
            return NGX_EDGE_AUTH_HTTP_INCOMPLETE;
        }

        if (p[i + size] != '\r' || p[i + size + 1] != '\n') {
            *error = "the answer has a chunk without its CRLF";
            return NGX_EDGE_AUTH_HTTP_INVALID;
        }

        if (decode) {
            /* the decoded body never outruns the encoded one */
            memmove(&p[out], &p[i], size);
        }

        out += size;
        i += size + 2;
    }
}


static const u_char *
ngx_edge_auth_http_find(const u_char *p, size_t len, const char *what,
    size_t wlen)
{
    size_t  i;

    if (len < wlen) {
        return NULL;
    }

    for (i = 0; i + wlen <= len; i++) {
        if (p[i] == (u_char) what[0] && memcmp(&p[i], what, wlen) == 0) {
            return &p[i];
        }
    }

    return NULL;
}


const ngx_edge_auth_http_header_t *
ngx_edge_auth_http_header(const ngx_edge_auth_http_answer_t *a,
    const char *name)
{
    size_t  i, len;

    len = strlen(name);

    for (i = 0; i < a->nheaders; i++) {
        if (a->headers[i].name_len == len
            && strncasecmp((const char *) a->headers[i].name, name, len) == 0)
        {
            return &a->headers[i];
        }
    }

    return NULL;
}
