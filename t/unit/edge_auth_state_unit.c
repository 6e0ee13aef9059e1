
/*
 * Unit tests, printing TAP, for the OAuth state codec: base64url, the
 * issue time, the MAC against values computed elsewhere, and every
 * answer of the check.
 */


#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "ngx_edge_auth_state.h"


#define KEY1     "0123456789abcdef0123456789abcdef"
#define T1       1700000000000LL
#define SKEW     60000
#define LIFE     600000


static int  test_no;
static int  failed;


static void
ok(int cond, const char *fmt, ...)
{
    va_list  args;

    test_no++;

    if (!cond) {
        failed++;
    }

    printf("%s %d - ", cond ? "ok" : "not ok", test_no);

    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);

    printf("\n");
}


static const char *
rc_name(ngx_edge_auth_state_rc_e rc)
{
    static const char  *names[] = {
        "OK", "MALFORMED_COOKIE", "MALFORMED_STATE", "BAD_MAC", "FUTURE",
        "EXPIRED", "ERROR"
    };

    return (unsigned) rc < sizeof(names) / sizeof(names[0])
           ? names[rc] : "?";
}


/* a text for a test's name: bytes outside ASCII as \xNN */

static const char *
printable(const char *s)
{
    char        *p;
    static char  buf[128];

    for (p = buf; *s && p < buf + sizeof(buf) - 5; s++) {
        if (*s >= 0x20 && *s < 0x7f) {
            *p++ = *s;

        } else {
            p += sprintf(p, "\\x%02x", (unsigned) (u_char) *s);
        }
    }

    *p = '\0';

    return buf;
}


/* a fixed, portable generator: the same cases on every run */

static uint32_t  rnd_state = 2463534242u;

static uint32_t
rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;

    return rnd_state;
}


static void
rnd_bytes(u_char *p, size_t n)
{
    while (n--) {
        *p++ = (u_char) rnd();
    }
}


static void
hex(u_char *dst, const char *src)
{
    unsigned  v;

    while (*src) {
        sscanf(src, "%2x", &v);
        *dst++ = (u_char) v;
        src += 2;
    }
}


static ngx_edge_auth_state_rc_e
check(const char *key, const char *name, const u_char *state,
    size_t state_len, const u_char *cookie, size_t cookie_len, int64_t now,
    int64_t *issued)
{
    return ngx_edge_auth_state_check((const u_char *) key, strlen(key),
                                     (const u_char *) name, strlen(name),
                                     state, state_len, cookie, cookie_len,
                                     now, LIFE, SKEW, issued);
}


/* RFC 4648 section 10, without padding, and the two url characters */

static void
test_b64url_vectors(void)
{
    size_t   i, n;
    u_char   buf[64];
    size_t   len;

    static const struct {
        const char  *bytes;
        size_t       len;
        const char  *text;
    } v[] = {
        { "", 0, "" },
        { "f", 1, "Zg" },
        { "fo", 2, "Zm8" },
        { "foo", 3, "Zm9v" },
        { "foob", 4, "Zm9vYg" },
        { "fooba", 5, "Zm9vYmE" },
        { "foobar", 6, "Zm9vYmFy" },
        { "\xfb\xff", 2, "-_8" },               /* "+/8=" in base64 */
        { "\xfb\xef\xbe", 3, "----" },
        { "\xff\xff\xff", 3, "____" },
        { "\x00", 1, "AA" },
    };

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        memset(buf, 0xaa, sizeof(buf));
        len = ngx_edge_auth_b64url_encode(buf, (const u_char *) v[i].bytes,
                                          v[i].len);

        ok(len == strlen(v[i].text)
           && len == NGX_EDGE_AUTH_B64URL_LEN(v[i].len)
           && memcmp(buf, v[i].text, len) == 0 && buf[len] == 0xaa,
           "encode \"%s\"", v[i].text);

        memset(buf, 0xaa, sizeof(buf));
        n = 99;

        ok(ngx_edge_auth_b64url_decode(buf, v[i].len, (u_char *) v[i].text,
                                       strlen(v[i].text), &n)
           == 0 && n == v[i].len && memcmp(buf, v[i].bytes, n) == 0
           && buf[n] == 0xaa,
           "decode \"%s\" into a buffer of just its size", v[i].text);
    }
}


static void
test_b64url_rejects(void)
{
    int     c, valid;
    size_t  i, n, m;
    u_char  buf[64], text[4];

    static const char  *bad[] = {
        "Zg==", "Zg=", "Zm8=", "Zm9v====", "=", "Zm9v=", "Zm9vYg==",
        "Z", "Zm9vY", "Zm9vYmFyZ",                        /* 4k + 1 */
        "Zm+v", "Zm/v", "Zm9 ", " Zm9", "Zm9v\n", "Zm.v", "Zm%v", "Zm9\x80",
        "Zh", "Zj", "Zv", "Zm9", "Zm-", "Zm_",          /* bits left over */
        "AB", "AAB", "___"
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ok(ngx_edge_auth_b64url_decode(buf, sizeof(buf), (u_char *) bad[i],
                                       strlen(bad[i]), &n)
           == -1, "decode rejects \"%s\"", printable(bad[i]));
    }

    /* a NUL inside, which a C string would have hidden */

    ok(ngx_edge_auth_b64url_decode(buf, sizeof(buf), (u_char *) "Zm\0v", 4,
                                   &n)
       == -1, "decode rejects a NUL");

    /* every byte outside the alphabet, at every position of a group */

    for (i = 0, n = 0; i < 256 * 4; i++) {
        memcpy(text, "QQQQ", 4);
        c = (int) (i / 4);
        text[i % 4] = (u_char) c;
        valid = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                || (c >= '0' && c <= '9') || c == '-' || c == '_';

        if ((ngx_edge_auth_b64url_decode(buf, sizeof(buf), text, 4, &m) == 0)
            != valid)
        {
            n++;
        }
    }

    ok(n == 0, "decode accepts exactly the 64 characters (%zu wrong)", n);

    ok(ngx_edge_auth_b64url_decode(buf, 2, (u_char *) "Zm9v", 4, &n) == -1,
       "decode refuses a buffer one byte short");
    ok(ngx_edge_auth_b64url_decode(buf, 0, (u_char *) "", 0, &n) == 0
       && n == 0, "decode of nothing into nothing");
}


/*
 * Each byte string has exactly one text: of all 64^2 and 64^3 texts,
 * 256 and 65536 decode, and they encode back to themselves.
 */

static void
test_b64url_canonical(void)
{
    size_t        i, len, n, accepted, wrong;
    u_char        text[3], back[4], buf[4];
    const u_char  *a;

    a = (const u_char *)
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    for (len = 2; len <= 3; len++) {
        accepted = 0;
        wrong = 0;

        for (i = 0; i < (len == 2 ? 64u * 64 : 64u * 64 * 64); i++) {
            text[0] = a[i % 64];
            text[1] = a[i / 64 % 64];
            text[2] = a[i / 4096 % 64];

            if (ngx_edge_auth_b64url_decode(buf, sizeof(buf), text, len, &n)
                != 0)
            {
                continue;
            }

            accepted++;

            if (n != len - 1
                || ngx_edge_auth_b64url_encode(back, buf, n) != len
                || memcmp(back, text, len) != 0)
            {
                wrong++;
            }
        }

        ok(accepted == (len == 2 ? 256u : 65536u) && wrong == 0,
           "%zu-character texts: %zu decode, %zu do not encode back", len,
           accepted, wrong);
    }

    /* all one- and two-byte strings */

    for (i = 0, wrong = 0; i < 256 + 65536; i++) {
        len = i < 256 ? 1 : 2;
        buf[0] = (u_char) i;
        buf[1] = (u_char) (i >> 8);

        n = ngx_edge_auth_b64url_encode(text, buf, len);

        if (n != len + 1
            || ngx_edge_auth_b64url_decode(back, len, text, n, &n) != 0
            || n != len || memcmp(back, buf, len) != 0)
        {
            wrong++;
        }
    }

    ok(wrong == 0, "every 1- and 2-byte string round trips (%zu wrong)",
       wrong);
}


static void
test_b64url_random(void)
{
    size_t  i, len, n, t, wrong;
    u_char  src[300], text[400], back[300];

    wrong = 0;

    for (i = 0; i < 3000; i++) {
        len = rnd() % sizeof(src);
        rnd_bytes(src, len);

        t = ngx_edge_auth_b64url_encode(text, src, len);

        if (t != NGX_EDGE_AUTH_B64URL_LEN(len)
            || ngx_edge_auth_b64url_decode(back, sizeof(back), text, t, &n)
               != 0
            || n != len || memcmp(back, src, len) != 0)
        {
            wrong++;
        }
    }

    ok(wrong == 0, "3000 random strings of 0-299 bytes round trip "
       "(%zu wrong)", wrong);
}


static void
test_issued(void)
{
    u_char  b[8];

    static const u_char  t1[8] = { 0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0 };
    static const u_char  seq[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    static const u_char  ones[8] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
    };
    static const u_char  min[8] = { 0x80, 0, 0, 0, 0, 0, 0, 0 };

    ngx_edge_auth_state_issued_put(b, T1);
    ok(memcmp(b, t1, 8) == 0 && ngx_edge_auth_state_issued_get(b) == T1,
       "issue time 1700000000000 is 00 00 01 8b cf e5 68 00");

    ngx_edge_auth_state_issued_put(b, 0x0102030405060708LL);
    ok(memcmp(b, seq, 8) == 0, "issue time is big-endian");

    ngx_edge_auth_state_issued_put(b, -1);
    ok(memcmp(b, ones, 8) == 0 && ngx_edge_auth_state_issued_get(b) == -1,
       "issue time -1 is eight ff bytes and back");

    ngx_edge_auth_state_issued_put(b, INT64_MIN);
    ok(memcmp(b, min, 8) == 0
       && ngx_edge_auth_state_issued_get(b) == INT64_MIN,
       "the smallest issue time and back");

    ngx_edge_auth_state_issued_put(b, INT64_MAX);
    ok(ngx_edge_auth_state_issued_get(b) == INT64_MAX,
       "the largest issue time and back");
}


/*
 * States computed outside this code, with
 *   openssl dgst -sha256 -mac HMAC -macopt key:KEY1 < data
 * and basenc --base64url, where data is
 *   "credential-state" NUL name NUL issued nonce.
 */

static void
test_mac_vectors(void)
{
    int      i;
    u_char   nonce[16], key[32], mac[32], want[32], issued[8];
    u_char   state[NGX_EDGE_AUTH_STATE_TEXT_LEN + 1];
    u_char   cookie[NGX_EDGE_AUTH_STATE_COOKIE_LEN + 1];
    int64_t  t;
    char     name[271];

    for (i = 0; i < 16; i++) {
        nonce[i] = (u_char) i;
    }

    hex(want, "ebf4b6fc39ab92e1f6b88ded12163f94"
              "bb632863fc5637fd8bea17992c3c93c0");

    ngx_edge_auth_state_issued_put(issued, T1);

    ok(ngx_edge_auth_state_mac((u_char *) KEY1, 32, (u_char *) "octorate",
                               8, issued, nonce, mac)
       == 0 && memcmp(mac, want, 32) == 0,
       "MAC of octorate's state as openssl dgst computes it");

    state[NGX_EDGE_AUTH_STATE_TEXT_LEN] = '!';
    cookie[NGX_EDGE_AUTH_STATE_COOKIE_LEN] = '!';

    ok(ngx_edge_auth_state_make((u_char *) KEY1, 32, (u_char *) "octorate",
                                8, T1, nonce, state, cookie)
       == 0
       && memcmp(state, "AAABi8_laADr9Lb8OauS4fa4je0SFj-Uu2MoY_xWN_2L6heZLDy"
                 "TwA", 54) == 0
       && state[54] == '!',
       "state of octorate as openssl and basenc make it");

    ok(memcmp(cookie, "AAECAwQFBgcICQoLDA0ODw", 22) == 0 && cookie[22] == '!',
       "cookie of nonce 00..0f");

    t = 0;
    ok(check(KEY1, "octorate", state, 54, cookie, 22, T1, &t)
       == NGX_EDGE_AUTH_STATE_OK && t == T1,
       "the openssl-made state checks, issued at 1700000000000");

    /* a 270-byte name: the MAC takes its first 192 bytes */

    for (i = 0; i < 30; i++) {
        snprintf(name + 9 * i, 10, "name-%04u", (unsigned) i % 10000);
    }

    for (i = 0; i < 32; i++) {
        key[i] = (u_char) i;
        nonce[i % 16] = (u_char) (255 - i % 16);
    }

    ok(ngx_edge_auth_state_make(key, 32, (u_char *) name, 270,
                                1234567890123LL, nonce, state, cookie)
       == 0
       && memcmp(state, "AAABH3H7BMsAmG95ZBQsfHxaEsIxwOumxs9SP3fh00VvXQMMF-G"
                 "3ow", 54) == 0
       && memcmp(cookie, "__79_Pv6-fj39vX08_Lx8A", 22) == 0,
       "state of a 270-byte name, cut at 192 bytes, as openssl makes it");
}


/* HMAC over the documented layout, written out again here */

static void
reference_mac(const u_char *key, size_t key_len, const u_char *name,
    size_t name_len, int64_t issued, const u_char *nonce, u_char *mac)
{
    int           i;
    u_char        data[17 + 192 + 1 + 8 + 16], *p;
    unsigned int  len;

    p = data;
    memcpy(p, "credential-state", 17);
    p += 17;

    if (name_len > 192) {
        name_len = 192;
    }

    memcpy(p, name, name_len);
    p += name_len;
    *p++ = 0;

    for (i = 7; i >= 0; i--) {
        *p++ = (u_char) ((uint64_t) issued >> (8 * i));
    }

    memcpy(p, nonce, 16);
    p += 16;

    HMAC(EVP_sha256(), key, (int) key_len, data, p - data, mac, &len);
}


static void
test_mac_reference(void)
{
    size_t   i, k, key_len, name_len, n, wrong;
    u_char   key[64], name[400], nonce[16], mac[32], raw[40];
    u_char   state[54], cookie[22], s1[54], s2[54];
    int64_t  issued;

    static const size_t  lens[] = { 0, 1, 8, 63, 191, 192, 193, 255, 256,
                                    399 };

    wrong = 0;

    for (i = 0; i < 400; i++) {
        key_len = 1 + rnd() % sizeof(key);
        name_len = i < 100 ? lens[i % 10] : rnd() % sizeof(name);
        issued = (int64_t) (((uint64_t) rnd() << 32) | rnd());

        rnd_bytes(key, key_len);
        rnd_bytes(name, name_len);
        rnd_bytes(nonce, sizeof(nonce));

        reference_mac(key, key_len, name, name_len, issued, nonce, mac);

        if (ngx_edge_auth_state_make(key, key_len, name, name_len, issued,
                                     nonce, state, cookie)
            != 0
            || ngx_edge_auth_b64url_decode(raw, sizeof(raw), state, 54, &n)
               != 0
            || ngx_edge_auth_state_issued_get(raw) != issued
            || memcmp(raw + 8, mac, 32) != 0)
        {
            wrong++;
        }
    }

    ok(wrong == 0, "400 states against HMAC of the layout written out "
       "here, names of 0-399 bytes (%zu wrong)", wrong);

    /* the cap: past 192 bytes, the name no longer counts */

    memset(name, 'a', sizeof(name));
    rnd_bytes(nonce, sizeof(nonce));

    for (k = 191; k <= 193; k++) {
        name[k] = 'X';
        ngx_edge_auth_state_make(key, 32, name, 300, T1, nonce, s1, cookie);
        name[k] = 'Y';
        ngx_edge_auth_state_make(key, 32, name, 300, T1, nonce, s2, cookie);
        name[k] = 'a';

        ok((memcmp(s1, s2, 54) == 0) == (k >= 192),
           "names differing at byte %zu: %s states", k,
           k >= 192 ? "the same" : "different");
    }

    ngx_edge_auth_state_make(key, 32, name, 300, T1, nonce, state, cookie);

    ok(ngx_edge_auth_state_check(key, 32, name, 192, state, 54, cookie, 22,
                                 T1, LIFE, SKEW, &issued)
       == NGX_EDGE_AUTH_STATE_OK,
       "a state of a 300-byte name checks with its first 192 bytes");

    ok(ngx_edge_auth_state_check(key, 32, name, 191, state, 54, cookie, 22,
                                 T1, LIFE, SKEW, &issued)
       == NGX_EDGE_AUTH_STATE_BAD_MAC, "but not with its first 191");

    /* an empty name and a key of one byte are still keyed and named */

    reference_mac((u_char *) "k", 1, (u_char *) "", 0, T1, nonce, mac);
    ngx_edge_auth_state_issued_put(raw, T1);
    ok(ngx_edge_auth_state_mac((u_char *) "k", 1, NULL, 0, raw, nonce,
                               raw + 8) == 0
       && memcmp(raw + 8, mac, 32) == 0,
       "a key of one byte, an empty name given as NULL");
}


static void
test_check(void)
{
    int                       x;
    size_t                    i, bit, mal, bad, other;
    u_char                    nonce[16], raw[40], n2[16];
    u_char                    state[60], cookie[30], s2[60], c2[30];
    int64_t                   t;
    ngx_edge_auth_state_rc_e  rc;

    rnd_bytes(nonce, sizeof(nonce));

    ok(ngx_edge_auth_state_make((u_char *) KEY1, 32, (u_char *) "octorate",
                                8, T1, nonce, state, cookie)
       == 0, "make");

    t = 0;
    rc = check(KEY1, "octorate", state, 54, cookie, 22, T1 + 1000, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_OK && t == T1, "round trip: %s",
       rc_name(rc));

    /* every bit of the state text and of the cookie text */

    mal = 0;
    bad = 0;
    other = 0;

    for (i = 0; i < 54 * 8; i++) {
        memcpy(s2, state, 54);
        s2[i / 8] ^= (u_char) (1 << (i % 8));

        rc = check(KEY1, "octorate", s2, 54, cookie, 22, T1, &t);

        if (rc == NGX_EDGE_AUTH_STATE_MALFORMED_STATE) {
            mal++;

        } else if (rc == NGX_EDGE_AUTH_STATE_BAD_MAC) {
            bad++;

        } else {
            other++;
        }
    }

    ok(other == 0 && mal > 0 && bad > 0, "432 flipped bits of the state "
       "text: %zu malformed, %zu bad MAC, %zu else", mal, bad, other);

    mal = 0;
    bad = 0;
    other = 0;

    for (i = 0; i < 22 * 8; i++) {
        memcpy(c2, cookie, 22);
        c2[i / 8] ^= (u_char) (1 << (i % 8));

        rc = check(KEY1, "octorate", state, 54, c2, 22, T1, &t);

        if (rc == NGX_EDGE_AUTH_STATE_MALFORMED_COOKIE) {
            mal++;

        } else if (rc == NGX_EDGE_AUTH_STATE_BAD_MAC) {
            bad++;

        } else {
            other++;
        }
    }

    ok(other == 0 && mal > 0 && bad > 0, "176 flipped bits of the cookie "
       "text: %zu malformed, %zu bad MAC, %zu else", mal, bad, other);

    /* the same in the bytes: issue time, MAC and nonce are all covered */

    ngx_edge_auth_b64url_decode(raw, sizeof(raw), state, 54, &i);
    other = 0;

    for (bit = 0; bit < 40 * 8; bit++) {
        raw[bit / 8] ^= (u_char) (1 << (bit % 8));
        ngx_edge_auth_b64url_encode(s2, raw, 40);
        raw[bit / 8] ^= (u_char) (1 << (bit % 8));

        if (check(KEY1, "octorate", s2, 54, cookie, 22, T1, &t)
            != NGX_EDGE_AUTH_STATE_BAD_MAC)
        {
            other++;
        }
    }

    ok(other == 0, "320 flipped bits of the issue time and MAC: all bad "
       "MAC (%zu not)", other);

    other = 0;

    for (bit = 0; bit < 16 * 8; bit++) {
        memcpy(n2, nonce, 16);
        n2[bit / 8] ^= (u_char) (1 << (bit % 8));
        ngx_edge_auth_b64url_encode(c2, n2, 16);

        if (check(KEY1, "octorate", state, 54, c2, 22, T1, &t)
            != NGX_EDGE_AUTH_STATE_BAD_MAC)
        {
            other++;
        }
    }

    ok(other == 0, "128 flipped bits of the nonce: all bad MAC (%zu not)",
       other);

    /* bound to key, name and browser */

    rc = check("0123456789abcdef0123456789abcdeF", "octorate", state, 54,
               cookie, 22, T1, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_BAD_MAC, "another key: %s", rc_name(rc));

    rc = check(KEY1, "octorat", state, 54, cookie, 22, T1, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_BAD_MAC, "another name: %s", rc_name(rc));

    rc = ngx_edge_auth_state_check((u_char *) KEY1, 32,
                                   (u_char *) "octorate", 9, state, 54,
                                   cookie, 22, T1, LIFE, SKEW, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_BAD_MAC, "the name with a NUL more: %s",
       rc_name(rc));

    rnd_bytes(n2, sizeof(n2));
    ngx_edge_auth_state_make((u_char *) KEY1, 32, (u_char *) "octorate", 8,
                             T1, n2, s2, c2);
    ok(check(KEY1, "octorate", state, 54, c2, 22, T1, &t)
       == NGX_EDGE_AUTH_STATE_BAD_MAC
       && check(KEY1, "octorate", s2, 54, cookie, 22, T1, &t)
          == NGX_EDGE_AUTH_STATE_BAD_MAC
       && check(KEY1, "octorate", s2, 54, c2, 22, T1, &t)
          == NGX_EDGE_AUTH_STATE_OK,
       "the cookie of another browser's connect step: bad MAC");

    /* lengths and padding */

    rc = check(KEY1, "octorate", state, 53, cookie, 22, T1, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_MALFORMED_STATE, "state of 53: %s",
       rc_name(rc));

    memcpy(s2, state, 54);
    s2[54] = 'A';
    rc = check(KEY1, "octorate", s2, 55, cookie, 22, T1, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_MALFORMED_STATE, "state of 55: %s",
       rc_name(rc));

    s2[54] = '=';
    s2[55] = '=';
    rc = check(KEY1, "octorate", s2, 56, cookie, 22, T1, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_MALFORMED_STATE, "state padded: %s",
       rc_name(rc));

    rc = check(KEY1, "octorate", state, 0, cookie, 22, T1, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_MALFORMED_STATE, "empty state: %s",
       rc_name(rc));

    memcpy(s2, state, 52);
    s2[52] = '=';
    s2[53] = '=';
    rc = check(KEY1, "octorate", s2, 54, cookie, 22, T1, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_MALFORMED_STATE,
       "state of 54 ending in padding: %s", rc_name(rc));

    rc = check(KEY1, "octorate", state, 54, cookie, 21, T1, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_MALFORMED_COOKIE, "cookie of 21: %s",
       rc_name(rc));

    memcpy(c2, cookie, 22);
    c2[22] = '=';
    c2[23] = '=';
    rc = check(KEY1, "octorate", state, 54, c2, 24, T1, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_MALFORMED_COOKIE, "cookie padded: %s",
       rc_name(rc));

    rc = check(KEY1, "octorate", state, 54, cookie, 0, T1, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_MALFORMED_COOKIE, "empty cookie: %s",
       rc_name(rc));

    /*
     * The last character of either text carries 4 bits that are no
     * byte's: the next character decodes to the same bytes for nginx's
     * decoder, here it is malformed.
     */

    memcpy(s2, state, 54);
    s2[53] = (u_char) (s2[53] == 'z' ? '0' : s2[53] + 1);
    rc = check(KEY1, "octorate", s2, 54, cookie, 22, T1, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_MALFORMED_STATE,
       "state with its last character's spare bits set: %s", rc_name(rc));

    memcpy(c2, cookie, 22);
    c2[21] = (u_char) (c2[21] == 'z' ? '0' : c2[21] + 1);
    rc = check(KEY1, "octorate", state, 54, c2, 22, T1, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_MALFORMED_COOKIE,
       "cookie with its last character's spare bits set: %s", rc_name(rc));

    /* a text of the right length in the other alphabet */

    memcpy(s2, state, 54);
    s2[10] = '+';
    rc = check(KEY1, "octorate", s2, 54, cookie, 22, T1, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_MALFORMED_STATE, "state with \"+\": %s",
       rc_name(rc));

    memcpy(c2, cookie, 22);
    c2[3] = '/';
    rc = check(KEY1, "octorate", state, 54, c2, 22, T1, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_MALFORMED_COOKIE, "cookie with \"/\": %s",
       rc_name(rc));

    /* the order of the checks */

    rc = check(KEY1, "octorate", state, 53, cookie, 21, T1, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_MALFORMED_COOKIE,
       "both malformed: the cookie first, %s", rc_name(rc));

    rc = check(KEY1, "octorat", state, 54, cookie, 22, T1 + 10 * LIFE, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_BAD_MAC,
       "a bad MAC before the time, %s", rc_name(rc));

    rc = check(KEY1, "octorat", state, 54, cookie, 22, T1 - 10 * SKEW, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_BAD_MAC,
       "a bad MAC before the future, %s", rc_name(rc));

    /* time: skew and lifetime at their edges */

    for (x = 0; x < 7; x++) {
        static const struct {
            int64_t                   now;
            ngx_edge_auth_state_rc_e  rc;
            const char               *what;
        } c[] = {
            { T1 - SKEW, NGX_EDGE_AUTH_STATE_OK, "issued skew ahead" },
            { T1 - SKEW - 1, NGX_EDGE_AUTH_STATE_FUTURE,
              "issued skew + 1 ms ahead" },
            { T1 - 365LL * 86400000, NGX_EDGE_AUTH_STATE_FUTURE,
              "issued a year ahead" },
            { T1, NGX_EDGE_AUTH_STATE_OK, "just issued" },
            { T1 + LIFE - 1, NGX_EDGE_AUTH_STATE_OK, "lifetime - 1 ms old" },
            { T1 + LIFE, NGX_EDGE_AUTH_STATE_EXPIRED, "lifetime old" },
            { INT64_MAX, NGX_EDGE_AUTH_STATE_EXPIRED, "checked at the end "
              "of time" },
        };

        t = 0;
        rc = check(KEY1, "octorate", state, 54, cookie, 22, c[x].now, &t);
        ok(rc == c[x].rc && t == T1, "%s: %s", c[x].what, rc_name(rc));
    }

    rc = check(KEY1, "octorate", state, 54, cookie, 22, INT64_MIN, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_FUTURE, "checked at the start of time: %s",
       rc_name(rc));

    /* extremes: no int64_t overflow (UBSan would stop here) */

    ngx_edge_auth_state_make((u_char *) KEY1, 32, (u_char *) "o", 1,
                             INT64_MAX, nonce, s2, c2);
    rc = ngx_edge_auth_state_check((u_char *) KEY1, 32, (u_char *) "o", 1,
                                   s2, 54, c2, 22, INT64_MIN, LIFE, SKEW,
                                   &t);
    ok(rc == NGX_EDGE_AUTH_STATE_FUTURE && t == INT64_MAX,
       "issued at the end of time, checked at its start: %s", rc_name(rc));

    rc = ngx_edge_auth_state_check((u_char *) KEY1, 32, (u_char *) "o", 1,
                                   s2, 54, c2, 22, INT64_MIN, LIFE,
                                   UINT64_MAX, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_OK,
       "the same with an unbounded skew: %s", rc_name(rc));

    ngx_edge_auth_state_make((u_char *) KEY1, 32, (u_char *) "o", 1,
                             INT64_MIN, nonce, s2, c2);
    rc = ngx_edge_auth_state_check((u_char *) KEY1, 32, (u_char *) "o", 1,
                                   s2, 54, c2, 22, INT64_MAX, LIFE, SKEW,
                                   &t);
    ok(rc == NGX_EDGE_AUTH_STATE_EXPIRED && t == INT64_MIN,
       "issued at the start of time, checked at its end: %s", rc_name(rc));

    /* 2^64 - 1 ms apart: expired at exactly the lifetime here too */

    rc = ngx_edge_auth_state_check((u_char *) KEY1, 32, (u_char *) "o", 1,
                                   s2, 54, c2, 22, INT64_MAX, UINT64_MAX,
                                   SKEW, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_EXPIRED,
       "the same with the largest lifetime: %s", rc_name(rc));

    rc = ngx_edge_auth_state_check((u_char *) KEY1, 32, (u_char *) "o", 1,
                                   s2, 54, c2, 22, INT64_MAX - 1, UINT64_MAX,
                                   SKEW, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_OK,
       "and 1 ms earlier: %s", rc_name(rc));

    /* *issued_msec is left alone until the MAC matched */

    t = 42;
    check(KEY1, "octorat", state, 54, cookie, 22, T1, &t);
    check(KEY1, "octorate", state, 53, cookie, 22, T1, &t);
    ok(t == 42, "issue time not set without a matching MAC");

    /* a key HMAC cannot take */

    rc = ngx_edge_auth_state_check((u_char *) KEY1, (size_t) INT_MAX + 1,
                                   (u_char *) "o", 1, state, 54, cookie, 22,
                                   T1, LIFE, SKEW, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_ERROR
       && ngx_edge_auth_state_make((u_char *) KEY1, (size_t) INT_MAX + 1,
                                   (u_char *) "o", 1, T1, nonce, s2, c2)
          == -1,
       "a key over INT_MAX bytes: ERROR, and make fails: %s", rc_name(rc));
}


/* the connect page's token, and the PKCE verifier: apart from the state */

static void
test_connect_pkce(void)
{
    u_char                    nonce[16], digest[32];
    u_char                    token[60], cookie[30], state[60], c2[30];
    u_char                    v[43], ch[43], v2[43], ch2[43], want[43];
    int64_t                   t;
    ngx_edge_auth_state_rc_e  rc;

    rnd_bytes(nonce, sizeof(nonce));

    ok(ngx_edge_auth_connect_make((u_char *) KEY1, 32, (u_char *) "octorate",
                                  8, T1, nonce, token, cookie)
       == 0
       && ngx_edge_auth_state_make((u_char *) KEY1, 32,
                                   (u_char *) "octorate", 8, T1, nonce,
                                   state, c2)
          == 0
       && memcmp(cookie, c2, 22) == 0,
       "connect token: made, the same cookie text as a state's");

    rc = ngx_edge_auth_connect_check((u_char *) KEY1, 32,
                                     (u_char *) "octorate", 8, token, 54,
                                     cookie, 22, T1 + 1000, LIFE, SKEW);
    ok(rc == NGX_EDGE_AUTH_STATE_OK, "connect token: round trip: %s",
       rc_name(rc));

    ok(memcmp(token, state, 54) != 0, "connect token: not the state");

    rc = ngx_edge_auth_connect_check((u_char *) KEY1, 32,
                                     (u_char *) "octorate", 8, state, 54,
                                     cookie, 22, T1 + 1000, LIFE, SKEW);
    ok(rc == NGX_EDGE_AUTH_STATE_BAD_MAC, "a state is no connect token: %s",
       rc_name(rc));

    rc = check(KEY1, "octorate", token, 54, cookie, 22, T1 + 1000, &t);
    ok(rc == NGX_EDGE_AUTH_STATE_BAD_MAC, "a connect token is no state: %s",
       rc_name(rc));

    rc = ngx_edge_auth_connect_check((u_char *) KEY1, 32,
                                     (u_char *) "octorate", 8, token, 54,
                                     cookie, 22, T1 + LIFE, LIFE, SKEW);
    ok(rc == NGX_EDGE_AUTH_STATE_EXPIRED, "connect token: expires: %s",
       rc_name(rc));

    ok(ngx_edge_auth_state_pkce((u_char *) KEY1, 32, (u_char *) "octorate",
                                8, cookie, 22, v, ch)
       == 0, "pkce: made");

    SHA256(v, 43, digest);
    ngx_edge_auth_b64url_encode(want, digest, 32);

    ok(memcmp(ch, want, 43) == 0,
       "pkce: challenge = b64url(SHA256(verifier))");

    ok(ngx_edge_auth_state_pkce((u_char *) KEY1, 32, (u_char *) "octorate",
                                8, cookie, 22, v2, ch2)
       == 0 && memcmp(v, v2, 43) == 0,
       "pkce: the same cookie gives the same verifier");

    ok(ngx_edge_auth_state_pkce((u_char *) KEY1, 32, (u_char *) "other", 5,
                                cookie, 22, v2, ch2)
       == 0 && memcmp(v, v2, 43) != 0,
       "pkce: another credential, another verifier");

    nonce[0] ^= 1;
    ngx_edge_auth_b64url_encode(c2, nonce, 16);

    ok(ngx_edge_auth_state_pkce((u_char *) KEY1, 32, (u_char *) "octorate",
                                8, c2, 22, v2, ch2)
       == 0 && memcmp(v, v2, 43) != 0,
       "pkce: another nonce, another verifier");

    ok(ngx_edge_auth_state_pkce((u_char *) KEY1, 32, (u_char *) "octorate",
                                8, c2, 21, v2, ch2)
       == -1, "pkce: a malformed cookie: -1");
}


int
main(void)
{
    test_b64url_vectors();
    test_b64url_rejects();
    test_b64url_canonical();
    test_b64url_random();
    test_issued();
    test_mac_vectors();
    test_mac_reference();
    test_check();
    test_connect_pkce();

    printf("1..%d\n", test_no);

    return failed ? 1 : 0;
}
