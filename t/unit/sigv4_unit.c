
/*
 * Unit tests, printing TAP, for AWS Signature Version 4's pure part:
 * AWS's published signing-key example and test-suite vectors
 * (get-vanilla, get-vanilla-query-order-key-case), and the canonical
 * path and query as S3 and the other services want them.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_edge_auth_sigv4.h"


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


static void
is(const u_char *got, size_t len, const char *want, const char *name)
{
    int  same;

    same = (len == strlen(want) && memcmp(got, want, len) == 0);

    ok(same, name);

    if (!same) {
        printf("#   got:  '%.*s'\n#   want: '%s'\n", (int) len, got, want);
    }
}


static void
path(const char *in, int s3, const char *want)
{
    u_char  *dst, *work;
    size_t   len, n;
    char     name[256];

    len = strlen(in);
    dst = malloc(NGX_EDGE_AUTH_SIGV4_PATH_ROOM(len));
    work = malloc(NGX_EDGE_AUTH_SIGV4_PATH_WORK(len));

    n = ngx_edge_auth_sigv4_path(dst, (u_char *) in, len, work, s3);

    snprintf(name, sizeof(name), "%s path \"%s\"", s3 ? "s3" : "service", in);
    is(dst, n, want, name);

    free(dst);
    free(work);
}


static void
query(const char *in, const char *want)
{
    u_char                      *dst, *work;
    size_t                       len, n;
    char                         name[256];
    ngx_edge_auth_sigv4_pair_t  *pairs;

    len = strlen(in);
    dst = malloc(NGX_EDGE_AUTH_SIGV4_QUERY_ROOM(len));
    work = malloc(3 * len + 1);
    pairs = malloc(NGX_EDGE_AUTH_SIGV4_QUERY_PAIRS(len) * sizeof(*pairs));

    n = ngx_edge_auth_sigv4_query(dst, (u_char *) in, len, work, pairs);

    snprintf(name, sizeof(name), "query \"%s\"", in);
    is(dst, n, want, name);

    free(dst);
    free(work);
    free(pairs);
}


static void
vector(const char *creq, const char *want, const char *name)
{
    u_char  key[NGX_EDGE_AUTH_SIGV4_KEY_LEN];
    u_char  hex[NGX_EDGE_AUTH_SIGV4_HEX_LEN];

    static const char  secret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    static const char  scope[] = "20150830/us-east-1/service/aws4_request";

    ok(ngx_edge_auth_sigv4_key(key, (u_char *) secret, strlen(secret),
                               (u_char *) "20150830",
                               (u_char *) "us-east-1", 9,
                               (u_char *) "service", 7) == 0
       && ngx_edge_auth_sigv4_signature(hex, key,
                                        (u_char *) "20150830T123600Z",
                                        (u_char *) scope, strlen(scope),
                                        (u_char *) creq, strlen(creq)) == 0,
       "signs");

    is(hex, sizeof(hex), want, name);
}


static int
stress(void)
{
    int                          i, s3, bad;
    u_char                      *in, *dst, *work;
    size_t                       len, j, n;
    ngx_edge_auth_sigv4_pair_t  *pairs;

    static const char  alphabet[] = "/%.a~+= &2F\xe2\x80" "E";

    bad = 0;
    srand(15);

    for (i = 0; i < 20000; i++) {
        len = rand() % 40;
        in = malloc(len + 1);

        for (j = 0; j < len; j++) {
            in[j] = alphabet[rand() % (sizeof(alphabet) - 1)];
        }

        for (s3 = 0; s3 < 2; s3++) {
            dst = malloc(NGX_EDGE_AUTH_SIGV4_PATH_ROOM(len));
            work = malloc(NGX_EDGE_AUTH_SIGV4_PATH_WORK(len));

            n = ngx_edge_auth_sigv4_path(dst, in, len, work, s3);

            /* S3 keeps a path that does not start with "/" as it is */

            if (n > NGX_EDGE_AUTH_SIGV4_PATH_ROOM(len) || n == 0
                || (dst[0] != '/' && !(s3 && len && in[0] != '/')))
            {
                bad++;
            }

            free(dst);
            free(work);
        }

        dst = malloc(NGX_EDGE_AUTH_SIGV4_QUERY_ROOM(len));
        work = malloc(3 * len + 1);
        pairs = malloc(NGX_EDGE_AUTH_SIGV4_QUERY_PAIRS(len) * sizeof(*pairs));

        n = ngx_edge_auth_sigv4_query(dst, in, len, work, pairs);

        if (n > NGX_EDGE_AUTH_SIGV4_QUERY_ROOM(len)) {
            bad++;
        }

        free(dst);
        free(work);
        free(pairs);
        free(in);
    }

    return bad == 0;
}


int
main(void)
{
    u_char  key[NGX_EDGE_AUTH_SIGV4_KEY_LEN];
    u_char  hex[NGX_EDGE_AUTH_SIGV4_HEX_LEN];
    u_char  date[NGX_EDGE_AUTH_SIGV4_DATE_LEN];
    size_t  i;

    static const char  secret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    static const char  hexd[] = "0123456789abcdef";

    /* the signing key example of AWS's SigV4 documentation */

    ok(ngx_edge_auth_sigv4_key(key, (u_char *) secret, strlen(secret),
                               (u_char *) "20120215",
                               (u_char *) "us-east-1", 9,
                               (u_char *) "iam", 3) == 0, "key derived");

    for (i = 0; i < sizeof(key); i++) {
        hex[2 * i] = hexd[key[i] >> 4];
        hex[2 * i + 1] = hexd[key[i] & 0xf];
    }

    is(hex, sizeof(hex),
       "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d",
       "signing key of AWS's example");

    /* AWS's test suite: get-vanilla, get-vanilla-query-order-key-case */

    vector("GET\n/\n\n"
           "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
           "host;x-amz-date\n"
           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
           "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
           "get-vanilla");

    vector("GET\n/\nParam1=value1&Param2=value2\n"
           "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
           "host;x-amz-date\n"
           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
           "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
           "get-vanilla-query-order-key-case");

    ok(ngx_edge_auth_sigv4_sha256_hex(hex, (u_char *) "", 0) == 0, "hash");
    is(hex, sizeof(hex),
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "SHA-256 of nothing");

    ngx_edge_auth_sigv4_date(date, 1440938160);
    is(date, sizeof(date), "20150830T123600Z", "x-amz-date");

    /* the query: decoded, encoded once, sorted by key then value */

    query("Param2=value2&Param1=value1", "Param1=value1&Param2=value2");
    query("b=2&a=z&a=y&A=x", "A=x&a=y&a=z&b=2");
    query("k=a b&k2=%7e%2f:+", "k=a%20b&k2=~%2F%3A%2B");
    query("flag&&x=", "flag=&x=");
    query("%zz=100%", "%25zz=100%25");
    query("", "");

    /* S3: each segment once, nothing folded */

    path("/", 1, "/");
    path("", 1, "/");
    path("/bucket/a b/%E2%9C%93+c", 1, "/bucket/a%20b/%E2%9C%93%2Bc");
    path("/a//b/./../c/", 1, "/a//b/./../c/");
    path("/k%2Fey", 1, "/k%2Fey");
    path("/\xe2\x9c\x93~", 1, "/%E2%9C%93~");

    /* the other services: dot segments and "//" gone, each one twice */

    path("/", 0, "/");
    path("/a b/%E2%9C%93+c", 0, "/a%2520b/%25E2%259C%2593%252Bc");
    path("/a//b/./../c/", 0, "/a/c/");
    path("/a/b/..", 0, "/a");
    path("/../..", 0, "/");
    path("/x-_.~", 0, "/x-_.~");

    /*
     * Random paths and queries into buffers of exactly the documented
     * room, under AddressSanitizer: no write beyond it.
     */

    ok(stress(), "20,000 random paths and queries stay in their room");

    printf("1..%d\n", test_no);

    return failed ? 1 : 0;
}
