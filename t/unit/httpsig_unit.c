
/*
 * Unit tests, printing TAP, for HTTP Message Signatures' pure part
 * against RFC 9421 Appendix B: B.2.5 (hmac-sha256, test-shared-secret)
 * and B.2.6 (ed25519, test-key-ed25519), their "@signature-params" and
 * signatures; and an RFC 9530 Content-Digest.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/sha.h>

#include "ngx_edge_auth_httpsig.h"


#define S(s)  { (const u_char *) s, sizeof(s) - 1 }


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


/* RFC 9421 B.1.5 */
static const char  shared_secret_b64[] =
    "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6"
    "pcl8jsasjlTMtDQ==";

/* RFC 9421 B.1.4 */
static const char  ed25519_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n"
    "-----END PRIVATE KEY-----\n";


static void
b25(void)
{
    int       klen;
    u_char    key[66], params[512], base[1024];
    u_char    sig[NGX_EDGE_AUTH_HTTPSIG_SIG_LEN + 1];
    size_t    n, len, room;

    static const ngx_edge_auth_httpsig_str_t  names[] = {
        S("date"), S("@authority"), S("content-type")
    };
    static const ngx_edge_auth_httpsig_str_t  keyid = S("test-shared-secret");

    static const char  want_params[] =
        "(\"date\" \"@authority\" \"content-type\");created=1618884473"
        ";keyid=\"test-shared-secret\"";

    room = ngx_edge_auth_httpsig_params_len(names, 3, &keyid, NULL);
    ok(room >= sizeof(want_params) - 1, "B.2.5 params room");

    n = ngx_edge_auth_httpsig_params(params, names, 3, 1618884473,
                                     NGX_EDGE_AUTH_HTTPSIG_NO_TIME, &keyid,
                                     NULL);
    is(params, n, want_params, "B.2.5 @signature-params");

    len = (size_t) sprintf((char *) base,
                           "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n"
                           "\"@authority\": example.com\n"
                           "\"content-type\": application/json\n"
                           "\"@signature-params\": %.*s", (int) n, params);

    klen = EVP_DecodeBlock(key, (const u_char *) shared_secret_b64,
                           sizeof(shared_secret_b64) - 1);
    ok(klen == 66, "B.1.5 secret decoded");   /* 64 and "==" padding */

    n = ngx_edge_auth_httpsig_sign(sig, NGX_EDGE_AUTH_HTTPSIG_HMAC_SHA256,
                                   key, 64, NULL, base, len);
    is(sig, n, "pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=",
       "B.2.5 hmac-sha256 signature");
}


static void
b26(void)
{
    BIO       *bio;
    u_char     params[512], base[1024];
    u_char     sig[NGX_EDGE_AUTH_HTTPSIG_SIG_LEN + 1];
    size_t     n, len;
    EVP_PKEY  *pkey;

    static const ngx_edge_auth_httpsig_str_t  names[] = {
        S("date"), S("@method"), S("@path"), S("@authority"),
        S("content-type"), S("content-length")
    };
    static const ngx_edge_auth_httpsig_str_t  keyid = S("test-key-ed25519");

    static const char  want_params[] =
        "(\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" "
        "\"content-length\");created=1618884473;keyid=\"test-key-ed25519\"";

    n = ngx_edge_auth_httpsig_params(params, names, 6, 1618884473,
                                     NGX_EDGE_AUTH_HTTPSIG_NO_TIME, &keyid,
                                     NULL);
    is(params, n, want_params, "B.2.6 @signature-params");

    len = (size_t) sprintf((char *) base,
                           "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n"
                           "\"@method\": POST\n"
                           "\"@path\": /foo\n"
                           "\"@authority\": example.com\n"
                           "\"content-type\": application/json\n"
                           "\"content-length\": 18\n"
                           "\"@signature-params\": %.*s", (int) n, params);

    bio = BIO_new_mem_buf(ed25519_pem, sizeof(ed25519_pem) - 1);
    pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ok(pkey != NULL, "B.1.4 key read");

    n = ngx_edge_auth_httpsig_sign(sig, NGX_EDGE_AUTH_HTTPSIG_ED25519,
                                   NULL, 0, pkey, base, len);
    is(sig, n, "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwU"
               "Piu4A0w6vuQv5lIp5WPpBKRCw==", "B.2.6 ed25519 signature");

    /* hmac-sha256 without its key type, ed25519 without a key: refused */
    ok(ngx_edge_auth_httpsig_sign(sig, NGX_EDGE_AUTH_HTTPSIG_ED25519,
                                  NULL, 0, NULL, base, len) == 0,
       "ed25519 without a key fails");

    EVP_PKEY_free(pkey);
}


static void
others(void)
{
    u_char  d[SHA256_DIGEST_LENGTH], dst[NGX_EDGE_AUTH_HTTPSIG_DIGEST_LEN + 1];
    u_char  params[512];
    size_t  n;

    static const ngx_edge_auth_httpsig_str_t  names[] = { S("@method") };
    static const ngx_edge_auth_httpsig_str_t  keyid = S("k");
    static const ngx_edge_auth_httpsig_str_t  tag = S("app-123");

    /* RFC 9530 B.1: {"hello": "world"} */
    SHA256((const u_char *) "{\"hello\": \"world\"}", 18, d);
    n = ngx_edge_auth_httpsig_digest(dst, d);
    is(dst, n, "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
       "RFC 9530 Content-Digest");

    n = ngx_edge_auth_httpsig_params(params, names, 1, 1700000000,
                                     1700000300, &keyid, &tag);
    is(params, n, "(\"@method\");created=1700000000;expires=1700000300"
                  ";keyid=\"k\";tag=\"app-123\"", "all parameters");

    n = ngx_edge_auth_httpsig_params(params, NULL, 0,
                                     NGX_EDGE_AUTH_HTTPSIG_NO_TIME,
                                     NGX_EDGE_AUTH_HTTPSIG_NO_TIME, NULL,
                                     NULL);
    is(params, n, "()", "no component, no parameter");
}


int
main(void)
{
    b25();
    b26();
    others();

    printf("1..%d\n", test_no);

    return failed ? 1 : 0;
}
