
/*
 * ngx_edge_auth_json_scan() against jansson: a table of edge cases, then
 * random texts (tokens glued together, and mutations of valid documents)
 * that must get the same verdict from both: object, other JSON, invalid.
 * For objects, the member spans glued back together must be the same
 * value.  Prints TAP.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "ngx_edge_auth_json_scan.h"


static int  tests, failed;


static void
ok(int cond, const char *name, const char *text, size_t len)
{
    size_t  i;

    tests++;

    if (!cond && failed++ < 20) {
        printf("# differs (%s):", name);

        for (i = 0; i < len; i++) {
            printf(" %02x", (unsigned char) text[i]);
        }

        printf("\n");
    }
}


typedef struct {
    char    buf[8192];
    size_t  len;
} glue_t;


static void
glue(void *data, const u_char *key, size_t key_len, const u_char *end)
{
    glue_t  *g = data;
    size_t   n;

    n = end - key;

    if (g->len + n + 2 < sizeof(g->buf)) {
        if (g->len > 1) {
            g->buf[g->len++] = ',';
        }

        memcpy(g->buf + g->len, key, n);
        g->len += n;
    }

    (void) key_len;
}


/* jansson's verdict; -1: jansson refuses a number we accept by design */

static int
reference(const char *text, size_t len)
{
    json_t        *root;
    json_error_t   err;
    int            v;

    root = json_loadb(text, len, JSON_DECODE_ANY|JSON_ALLOW_NUL
                                 |JSON_DECODE_INT_AS_REAL, &err);

    if (root == NULL) {
        return strstr(err.text, "overflow") ? -1
                                            : NGX_EDGE_AUTH_JSON_INVALID;
    }

    v = json_is_object(root) ? NGX_EDGE_AUTH_JSON_OBJECT
                             : NGX_EDGE_AUTH_JSON_NOT_OBJECT;
    json_decref(root);

    /* jansson ends a number at a NUL byte ("1\0" passes); RFC 8259 not */

    if (v == NGX_EDGE_AUTH_JSON_NOT_OBJECT && memchr(text, 0, len)) {
        v = NGX_EDGE_AUTH_JSON_INVALID;
    }

    return v;
}


static void
compare(const char *text, size_t len, const char *name)
{
    int      want, got;
    json_t  *a, *b;
    glue_t   g;

    want = reference(text, len);

    if (want < 0) {
        return;
    }

    g.buf[0] = '{';
    g.len = 1;

    got = ngx_edge_auth_json_scan((const u_char *) text, len, glue, &g);

    ok(got == want, name, text, len);

    if (got != NGX_EDGE_AUTH_JSON_OBJECT || want != got) {
        return;
    }

    g.buf[g.len++] = '}';

    a = json_loadb(text, len, JSON_ALLOW_NUL|JSON_DECODE_INT_AS_REAL, NULL);
    b = json_loadb(g.buf, g.len, JSON_ALLOW_NUL|JSON_DECODE_INT_AS_REAL,
                   NULL);

    ok(a && b && json_equal(a, b), "member spans", text, len);

    json_decref(a);
    json_decref(b);
}


static const char  *table[] = {
    "{}", " {} ", "{\"a\":1}", "{\"a\" : [1, 2.5e-3, -0, true, null]}",
    "[]", "[1]", "1", "-1.5E+10", "\"s\"", "true", "null", "false",
    "", " ", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]",
    "{\"a\":1}}", "{} {}", "01", "1.", ".5", "-", "1e", "1e+", "+1",
    "\"\\u0000\"", "\"\\ud834\\udd1e\"", "\"\\ud834\"", "\"\\udd1e\"",
    "\"\\ud834\\u0041\"", "\"\\x\"", "\"\\u12\"", "\"\t\"",
    "\"\xc3\xa9\"", "\"\xc3\"", "\"\xc0\xaf\"", "\"\xe0\x80\xaf\"",
    "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xf0\x9f\x98\x80\"",
    "\"\xff\"", "tru", "nul", "truex", "{\"a\":{\"b\":{}}}", "[[[]]]",
    "{\"a\":1 \"b\":2}", "{1:2}", "{\"a\":1e400}",
    NULL
};


static const char  *tokens[] = {
    "{", "}", "[", "]", ",", ":", " ", "\"a\"", "\"b\\n\"", "\"\\u00e9\"",
    "1", "-0.5", "2e3", "true", "null", "\"\xc3\xa9\"", "\"", "\\", "0",
    "\n", "x"
};


/* a key folded as body_json compares it, against what it must give */

static const char  *fold_table[][2] = {
    { "\"userInfo\"", "userinfo" },
    { "\"USERINFO\"", "userinfo" },
    { "\"user\\u0049nfo\"", "userinfo" },
    { "\"userInfo\\u0000\"", "userinfo" },
    { "\"\\u0001user\\tInfo\\u007f\"", "userinfo" },
    { "\"user\xc2\x85Info\"", "userinfo" },               /* C1, raw */
    { "\"user\xe2\x80\x8bInfo\"", "userinfo" },           /* U+200B */
    { "\"user\\u200dInfo\\u2060\"", "userinfo" },
    { "\"\xef\xbb\xbfuserInfo\\uFEFF\"", "userinfo" },    /* BOM */
    { "\"user\xc2\xadInfo\\u00AD\"", "userinfo" },       /* U+00AD */
    { "\"u\xc5\xbf" "erInfo\"", "userinfo" },                 /* U+017F */
    { "\"u\\u017fERINFO\"", "userinfo" },
    { "\"\xe2\x84\xaa" "elvin\"", "kelvin" },                /* U+212A */
    { "\"\\u212AELVIN\"", "kelvin" },
    { "\"\\udb40\\udc01a\"", "a" },                    /* U+E0001 tag */
    { "\"us\xc3\xa9r\"", "us\xc3\xa9r" },                  /* U+00E9 */
    { "\"us\\u00c9r\"", "us\xc3\x89r" },                  /* not folded */
    { "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80" },           /* U+1F600 */
    { "\"a\\\"b\\\\c\\/\"", "a\"b\\c/" },
    { "\"\"", "" },
    { NULL, NULL }
};


static int
fold_tests(void)
{
    int          i, j, bad, ok_all;
    char         raw[256];
    char        *escaped, *plain;
    u_char       out[256], out2[256];
    size_t       n, m, len;
    json_t      *s;

    bad = 0;

    for (i = 0; fold_table[i][0]; i++) {
        n = ngx_edge_auth_json_key_fold((u_char *) fold_table[i][0],
                                        strlen(fold_table[i][0]),
                                        out, sizeof(out));

        if (n != strlen(fold_table[i][1])
            || memcmp(out, fold_table[i][1], n) != 0)
        {
            printf("# fold %s: got %.*s\n", fold_table[i][0], (int) n, out);
            bad++;
        }

        /* too small a buffer: the whole length, nothing past size */

        out[2] = 0x5a;

        if (n > 2
            && (ngx_edge_auth_json_key_fold((u_char *) fold_table[i][0],
                                            strlen(fold_table[i][0]),
                                            out, 2) != n
                || out[2] != 0x5a))
        {
            printf("# fold %s: overran a short buffer\n", fold_table[i][0]);
            bad++;
        }
    }

    /* the same string escaped (\uXXXX) and raw folds the same */

    ok_all = 1;

    for (i = 0; i < 20000; i++) {
        len = 1 + random() % 12;

        raw[0] = '\0';

        for (j = 0; j < (int) len; j++) {
            static const char  *piece[] = {
                "a", "Z", "k", "S", "\xe2\x84\xaa", "\xc5\xbf", "\xc2\xad",
                "\xe2\x80\x8b", "\xef\xbb\xbf", "\x01", "\x7f", "\xc3\xa9",
                "\xf0\x9f\x98\x80", "\"", "\\", "\xf3\xa0\x80\x81"
            };

            strcat(raw, piece[random() % 16]);
        }

        s = json_string(raw);
        if (s == NULL) {
            continue;
        }

        escaped = json_dumps(s, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
        plain = json_dumps(s, JSON_ENCODE_ANY);
        json_decref(s);

        n = ngx_edge_auth_json_key_fold((u_char *) escaped, strlen(escaped),
                                        out, sizeof(out));
        m = ngx_edge_auth_json_key_fold((u_char *) plain, strlen(plain),
                                        out2, sizeof(out2));

        if (n != m || n > sizeof(out) || memcmp(out, out2, n) != 0) {
            if (ok_all) {
                printf("# fold differs: %s / %s\n", escaped, plain);
            }

            ok_all = 0;
        }

        free(escaped);
        free(plain);
    }

    if (!ok_all) {
        bad++;
    }

    printf("%s 2 - key folding: the table, and %d strings escaped and raw "
           "alike\n", bad ? "not ok" : "ok", i);

    return bad;
}


int
main(void)
{
    int          i, j, n, k;
    char         text[512];
    size_t       len;
    const char  *seed;
    static char  deep[2 * NGX_EDGE_AUTH_JSON_DEPTH + 4];

    for (i = 0; table[i]; i++) {
        compare(table[i], strlen(table[i]), "table");
    }

    /* nesting: 2048 levels pass, 2049 do not, as in jansson */

    for (n = NGX_EDGE_AUTH_JSON_DEPTH; n <= NGX_EDGE_AUTH_JSON_DEPTH + 1; n++)
    {
        memset(deep, '[', n);
        memset(deep + n, ']', n);
        compare(deep, 2 * n, "depth");
    }

    srandom(42);

    /* tokens glued at random */

    for (i = 0; i < 200000; i++) {
        len = 0;
        n = 1 + random() % 12;

        for (j = 0; j < n; j++) {
            seed = tokens[random() % (sizeof(tokens) / sizeof(tokens[0]))];
            memcpy(text + len, seed, strlen(seed));
            len += strlen(seed);
        }

        compare(text, len, "random tokens");
    }

    /* mutations of valid documents */

    for (i = 0; i < 200000; i++) {
        seed = table[random() % 12];
        seed = (i % 2) ? "{\"userInfo\":{\"id\":\"x\"},\"c\":[1,{\"d\":"
                         "\"\\u00e9\"}],\"e\":-1.5e3}"
                       : seed;
        len = strlen(seed);
        memcpy(text, seed, len);

        k = 1 + random() % 3;

        for (j = 0; j < k && len; j++) {
            switch (random() % 3) {
            case 0:
                text[random() % len] = (char) (random() % 256);
                break;
            case 1:
                len--;
                memmove(text + random() % (len + 1),
                        text + random() % (len + 1), 0);
                break;
            default:
                n = random() % (len + 1);
                memmove(text + n + 1, text + n, len - n);
                text[n] = "{}[],:\" \\0e.-"[random() % 13];
                len++;
            }
        }

        compare(text, len, "mutation");
    }

    printf("1..2\n%s 1 - %d comparisons with jansson, %d differ\n",
           failed ? "not ok" : "ok", tests, failed);

    if (fold_tests()) {
        failed++;
    }

    return failed ? 1 : 0;
}
