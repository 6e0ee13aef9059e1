
/*
 * Unit tests, printing TAP, for the token engine's pure C parsers: HTTP
 * answers of login endpoints and ISO-8601 expiry dates.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_edge_auth_http_parse.h"
#include "ngx_edge_auth_iso8601.h"


static int  test_no;
static int  failed;


static void
ok(int cond, const char *name)
{
    test_no++;

    if (!cond) {
        failed++;
    }

    printf("%s %d - %s\n", cond ? "ok" : "not ok", test_no, name);
}


typedef struct {
    const char               *name;
    const char               *text;
    int                       eof;
    ngx_edge_auth_http_rc_e   rc;
    unsigned                  status;
    const char               *body;
} http_case_t;


static const http_case_t  http_cases[] = {
    { "content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
      0, NGX_EDGE_AUTH_HTTP_COMPLETE, 200, "hello" },
    { "content-length, more to come",
      "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello",
      0, NGX_EDGE_AUTH_HTTP_INCOMPLETE, 0, NULL },
    { "content-length, closed early",
      "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello",
      1, NGX_EDGE_AUTH_HTTP_INVALID, 0, NULL },
    { "chunked, two chunks and a trailer",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nhel\r\n2;ext=1\r\nlo\r\n0\r\nX-T: 1\r\n\r\n",
      0, NGX_EDGE_AUTH_HTTP_COMPLETE, 200, "hello" },
    { "chunked, upper-case hex",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
      "A\r\n0123456789\r\n0\r\n\r\n",
      0, NGX_EDGE_AUTH_HTTP_COMPLETE, 200, "0123456789" },
    { "chunked, incomplete", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
      "\r\n\r\n5\r\nhel", 0, NGX_EDGE_AUTH_HTTP_INCOMPLETE, 0, NULL },
    { "chunked, closed inside", "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
      "chunked\r\n\r\n5\r\nhel", 1, NGX_EDGE_AUTH_HTTP_INVALID, 0, NULL },
    { "chunked, bad size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
      "\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 0, NGX_EDGE_AUTH_HTTP_INVALID,
      0, NULL },
    { "chunked, huge size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
      "\r\n\r\nfffffffff\r\n", 0, NGX_EDGE_AUTH_HTTP_INVALID, 0, NULL },
    { "chunked, missing CRLF after data", "HTTP/1.1 200 OK\r\n"
      "Transfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n", 0,
      NGX_EDGE_AUTH_HTTP_INVALID, 0, NULL },
    { "both framings refused", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0,
      NGX_EDGE_AUTH_HTTP_INVALID, 0, NULL },
    { "gzip transfer coding refused", "HTTP/1.1 200 OK\r\n"
      "Transfer-Encoding: gzip\r\n\r\n", 1, NGX_EDGE_AUTH_HTTP_INVALID,
      0, NULL },
    { "close-delimited", "HTTP/1.0 200 OK\r\nX: y\r\n\r\nuntil close", 1,
      NGX_EDGE_AUTH_HTTP_COMPLETE, 200, "until close" },
    { "close-delimited, open", "HTTP/1.0 200 OK\r\n\r\nuntil", 0,
      NGX_EDGE_AUTH_HTTP_INCOMPLETE, 0, NULL },
    { "no reason phrase", "HTTP/1.1 429\r\nRetry-After: 3\r\n"
      "Content-Length: 0\r\n\r\n", 0, NGX_EDGE_AUTH_HTTP_COMPLETE, 429, "" },
    { "garbage", "<html>hello</html>\r\n\r\n", 1,
      NGX_EDGE_AUTH_HTTP_INVALID, 0, NULL },
    { "bad status", "HTTP/1.1 2000 OK\r\n\r\n", 1,
      NGX_EDGE_AUTH_HTTP_INVALID, 0, NULL },
    { "header without colon", "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", 1,
      NGX_EDGE_AUTH_HTTP_INVALID, 0, NULL },
    { "bare CR in a header", "HTTP/1.1 200 OK\r\nX-Token: a\rb\r\n"
      "Content-Length: 0\r\n\r\n", 0, NGX_EDGE_AUTH_HTTP_INVALID, 0, NULL },
    { "space before colon", "HTTP/1.1 200 OK\r\nX-Token : a\r\n"
      "Content-Length: 0\r\n\r\n", 0, NGX_EDGE_AUTH_HTTP_INVALID, 0, NULL },
    { "header cut", "HTTP/1.1 200 OK\r\nContent-Le", 0,
      NGX_EDGE_AUTH_HTTP_INCOMPLETE, 0, NULL },
    { "header cut by close", "HTTP/1.1 200 OK\r\nContent-Le", 1,
      NGX_EDGE_AUTH_HTTP_INVALID, 0, NULL },
    { "signed content-length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n"
      "\r\n", 0, NGX_EDGE_AUTH_HTTP_INVALID, 0, NULL },
    { NULL, NULL, 0, 0, 0, NULL }
};


static void
test_http(void)
{
    char                                name[160];
    u_char                              buf[512];
    size_t                              len;
    const http_case_t                  *c;
    ngx_edge_auth_http_rc_e             rc;
    ngx_edge_auth_http_answer_t         a;
    const ngx_edge_auth_http_header_t  *h;

    for (c = http_cases; c->name; c++) {
        len = strlen(c->text);
        memcpy(buf, c->text, len);

        rc = ngx_edge_auth_http_parse(buf, len, c->eof, &a);

        snprintf(name, sizeof(name), "http: %s (%s)", c->name,
                 a.error ? a.error : "no error");
        ok(rc == c->rc, name);

        if (c->body) {
            snprintf(name, sizeof(name), "http: %s: status and body",
                     c->name);
            ok(a.status == c->status && a.body_len == strlen(c->body)
               && memcmp(a.body, c->body, a.body_len) == 0, name);
        }
    }

    len = strlen("HTTP/1.1 200 OK\r\nauthToken:  abc \r\nContent-Length: 0"
                 "\r\n\r\n");
    memcpy(buf, "HTTP/1.1 200 OK\r\nauthToken:  abc \r\nContent-Length: 0"
           "\r\n\r\n", len);
    ngx_edge_auth_http_parse(buf, len, 0, &a);
    h = ngx_edge_auth_http_header(&a, "AUTHTOKEN");
    ok(h && h->value_len == 3 && memcmp(h->value, "abc", 3) == 0,
       "http: header lookup ignores case, value trimmed");
}


typedef struct {
    const char  *text;
    int          rc;
    long long    msec;
} iso_case_t;


static const iso_case_t  iso_cases[] = {
    { "2020-03-17T17:41:51.178Z", 0, 1584466911178LL },
    { "2020-03-17T17:41:51Z", 0, 1584466911000LL },
    { "2020-03-17T19:41:51+02:00", 0, 1584466911000LL },
    { "2020-03-17T12:41:51-0500", 0, 1584466911000LL },
    { "2020-03-17T17:41:51.1Z", 0, 1584466911100LL },
    { "2020-03-17T17:41:51.123456Z", 0, 1584466911123LL },
    { "2020-03-17T17:41:51", 0, 1584466911000LL },
    { "1970-01-01T00:00:00Z", 0, 0 },
    { "2024-02-29T00:00:00Z", 0, 1709164800000LL },
    { "2023-02-29T00:00:00Z", -1, 0 },
    { "2020-13-01T00:00:00Z", -1, 0 },
    { "2020-04-31T00:00:00Z", -1, 0 },
    { "2020-03-17T24:00:00Z", 0, 1584489600000LL },
    { "2020-03-17T24:00:01Z", -1, 0 },
    { "2020-03-17T24:01:00Z", -1, 0 },
    { "2020-03-17T24:00:00.5Z", -1, 0 },
    { "2020-03-17T25:00:00Z", -1, 0 },
    { "2020-03-17T19:41:51+02", 0, 1584466911000LL },
    { "2020-03-17T12:41:51-05", 0, 1584466911000LL },
    { "2020-03-17T19:41:51+02:", -1, 0 },
    { "2020-03-17T19:41:51+24", -1, 0 },
    { "20200317T174151Z", 0, 1584466911000LL },
    { "20200317T174151.178Z", 0, 1584466911178LL },
    { "20200317T194151+0200", 0, 1584466911000LL },
    { "20300101T000000Z", 0, 1893456000000LL },
    { "20200317174151Z", -1, 0 },
    { "2020031T174151Z", -1, 0 },
    { "9999-12-31T23:59:59Z", 0, 253402300799000LL },
    { "2020-03-17", -1, 0 },
    { "2020-03-17T17:41:51.Z", -1, 0 },
    { "2020-03-17T17:41:51Zjunk", -1, 0 },
    { "2020-03-17T17:41:51+2", -1, 0 },
    { "1584466911", -1, 0 },
    { "", -1, 0 },
    { NULL, 0, 0 }
};


static void
test_iso8601(void)
{
    char              name[128];
    int64_t           msec;
    const iso_case_t  *c;

    for (c = iso_cases; c->text; c++) {
        msec = -7;
        snprintf(name, sizeof(name), "iso8601: \"%s\"", c->text);
        ok(ngx_edge_auth_iso8601_parse((const u_char *) c->text,
                                       strlen(c->text), &msec) == c->rc
           && (c->rc != 0 || msec == c->msec), name);
    }
}


int
main(void)
{
    test_http();
    test_iso8601();

    printf("1..%d\n", test_no);

    return failed ? 1 : 0;
}
