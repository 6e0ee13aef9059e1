
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

    printf("1..1\n%s 1 - %d comparisons with jansson, %d differ\n",
           failed ? "not ok" : "ok", tests, failed);

    return failed ? 1 : 0;
}
