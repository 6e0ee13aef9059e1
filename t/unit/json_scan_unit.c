
/*
 * ngx_edge_auth_json_scan() against jansson: a table of edge cases, then
 * random texts (tokens glued together, and mutations of valid documents)
 * that must get the same verdict from both: object, other JSON, invalid.
 * For objects, the member spans glued back together must be the same
 * value.  Each text is also scanned cut into parts, and by the other
 * paths (the module's choice; SSE2; the 64-bit word one,
 * fuzz/json_scan_scalar.c; the one-pass AVX2 build, the block checker for
 * AVX2 and for AVX-512BW, where the processor has them): the same verdict
 * and the same members.  Then the edges of the fast loops (16 and 32
 * bytes): each byte that stops them at each offset, with every cut; long
 * random documents; the bench's body.  Prints TAP.
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


/* a scan's verdict and what it reported, to compare scans */

#define MAX_SPANS  64

typedef struct {
    const char  *text;          /* the parts are slices of it */
    char         buf[8192];     /* the members glued back: {...} */
    size_t       len;
    size_t       span[MAX_SPANS][3];    /* start, key_len, end */
    int          n;
    int          bad;           /* a span or key pointer is wrong */
    const size_t  *cut;         /* where the parts start, when cut */
    size_t       ncut;
} glue_t;


/* does start..end cross from one part into another */

static int
crosses(glue_t *g, size_t start, size_t end)
{
    size_t  i;

    for (i = 0; i < g->ncut; i++) {
        if (g->cut[i] > start && g->cut[i] < end) {
            return 1;
        }
    }

    return 0;
}


static void
glue(void *data, const u_char *key, size_t key_len, size_t start, size_t end)
{
    glue_t  *g = data;
    size_t   n;

    if (start + key_len > end || (g->n && start < g->span[g->n - 1][2])
        || (key == NULL) != crosses(g, start, start + key_len)
        || (key != NULL && memcmp(key, g->text + start, key_len) != 0)
        || g->text[start] != '"' || g->text[start + key_len - 1] != '"')
    {
        g->bad = 1;
    }

    if (g->n < MAX_SPANS) {
        g->span[g->n][0] = start;
        g->span[g->n][1] = key_len;
        g->span[g->n][2] = end;
    }

    g->n++;

    n = end - start;

    if (g->len + n + 2 < sizeof(g->buf)) {
        if (g->len > 1) {
            g->buf[g->len++] = ',';
        }

        memcpy(g->buf + g->len, g->text + start, n);
        g->len += n;
    }
}


typedef int (*scan_pt)(const ngx_edge_auth_json_part_t *part, size_t n,
    ngx_edge_auth_json_member_pt member, void *data);

int ngx_edge_auth_json_scan_scalar(const ngx_edge_auth_json_part_t *part,
    size_t n, ngx_edge_auth_json_member_pt member, void *data);
extern const char  ngx_edge_auth_json_scan_path_scalar[];

/* the SSE2 build, where the processor would run the AVX2 one */

static int
scan_sse2(const ngx_edge_auth_json_part_t *part, size_t n,
    ngx_edge_auth_json_member_pt member, void *data)
{
    int  rc, was;

    was = ngx_edge_auth_json_scan_avx2;
    ngx_edge_auth_json_scan_avx2 = 0;
    rc = ngx_edge_auth_json_scan(part, n, member, data);
    ngx_edge_auth_json_scan_avx2 = was;

    return rc;
}

/*
 * The other builds where the processor has them: mode as
 * ngx_edge_auth_json_scan_avx2 takes it (1 the one-pass AVX2 build, 2 the
 * block checker for AVX2, 3 for AVX-512BW), else the module's own.
 */

static int  has_mode[4];

static int
scan_mode(int mode, const ngx_edge_auth_json_part_t *part, size_t n,
    ngx_edge_auth_json_member_pt member, void *data)
{
    int  rc, was;

    was = ngx_edge_auth_json_scan_avx2;

    if (has_mode[mode]) {
        ngx_edge_auth_json_scan_avx2 = mode;
    }

    rc = ngx_edge_auth_json_scan(part, n, member, data);
    ngx_edge_auth_json_scan_avx2 = was;

    return rc;
}

#define scan_mode_fn(mode)                                                   \
    static int                                                               \
    scan_mode##mode(const ngx_edge_auth_json_part_t *part, size_t n,         \
        ngx_edge_auth_json_member_pt member, void *data)                     \
    {                                                                        \
        return scan_mode(mode, part, n, member, data);                       \
    }

scan_mode_fn(1)
scan_mode_fn(2)
scan_mode_fn(3)

#define NPATHS  6

static scan_pt  paths[NPATHS] = {
    ngx_edge_auth_json_scan, ngx_edge_auth_json_scan_scalar, scan_sse2,
    scan_mode1, scan_mode2, scan_mode3
};

static const char  *path_names[NPATHS] = {
    "module's", "scalar", "sse2", "avx2", "blocks avx2", "blocks avx512"
};


/*
 * The text cut at the offsets cut[0..ncut) (in order, repeats make empty
 * parts), each part a copy of its own in memory of its exact size, so
 * that a read past a part's end is a read past an allocation (ASan).
 */

static int
scan_cut(scan_pt scan, const char *text, size_t len, const size_t *cut,
    size_t ncut, glue_t *g)
{
    int                         rc;
    size_t                      i, from, to;
    u_char                     *copy[16];
    ngx_edge_auth_json_part_t   part[16];

    g->text = text;
    g->buf[0] = '{';
    g->len = 1;
    g->n = 0;
    g->bad = 0;

    for (i = 0, from = 0; i <= ncut; i++, from = to) {
        to = (i < ncut) ? cut[i] : len;
        copy[i] = malloc(to - from ? to - from : 1);
        memcpy(copy[i], text + from, to - from);
        part[i].pos = copy[i];
        part[i].last = copy[i] + (to - from);
    }

    g->cut = cut;
    g->ncut = ncut;
    rc = scan(part, ncut + 1, glue, g);

    for (i = 0; i <= ncut; i++) {
        free(copy[i]);
    }

    return rc;
}


/*
 * jansson's verdict; -1: jansson refuses what we accept by design, a number
 * it cannot hold or a key with "\u0000" (valid JSON, which jansson's
 * objects cannot hold)
 */

static int
reference(const char *text, size_t len)
{
    json_t        *root;
    json_error_t   err;
    int            v;

    root = json_loadb(text, len, JSON_DECODE_ANY|JSON_ALLOW_NUL
                                 |JSON_DECODE_INT_AS_REAL, &err);

    if (root == NULL) {
        return (strstr(err.text, "overflow")
                || strstr(err.text, "NUL byte in object key"))
               ? -1 : NGX_EDGE_AUTH_JSON_INVALID;
    }

    v = json_is_object(root) ? NGX_EDGE_AUTH_JSON_OBJECT
                             : NGX_EDGE_AUTH_JSON_NOT_OBJECT;
    json_decref(root);

    /*
     * jansson ends a number at a NUL byte ("1\0" and {"a":1\0} pass); a
     * NUL byte is never JSON (RFC 8259)
     */

    if (memchr(text, 0, len)) {
        v = NGX_EDGE_AUTH_JSON_INVALID;
    }

    return v;
}


/* a scan of the text cut so, by one path, against the whole text's */

static void
same(int path, const char *text, size_t len, const size_t *cut, size_t ncut,
    int want, glue_t *whole, const char *name)
{
    int     got, cond;
    char    what[96];
    glue_t  g;

    got = scan_cut(paths[path], text, len, cut, ncut, &g);

    cond = (got == want && !g.bad && g.n == whole->n
            && memcmp(g.span, whole->span,
                      sizeof(g.span[0])
                      * (g.n < MAX_SPANS ? g.n : MAX_SPANS)) == 0);

    if (!cond) {
        snprintf(what, sizeof(what), "%s, %s path, %zu cut(s) from %zu",
                 name, path_names[path], ncut, ncut ? cut[0] : 0);
    }

    ok(cond, what, text, len);
}


/*
 * Both paths, on the text whole and cut into parts, must give jansson's
 * verdict and report the same members; glued back together, the members
 * must be the same value as the text.  cuts: how many random cuts.
 */

static void
compare(const char *text, size_t len, const char *name, int cuts)
{
    int      want, got, i, j, k;
    size_t   cut[15], t;
    json_t  *a, *b;
    glue_t   whole;

    want = reference(text, len);

    if (want < 0) {
        return;
    }

    got = scan_cut(paths[0], text, len, NULL, 0, &whole);

    ok(got == want && !whole.bad, name, text, len);

    if (got != want) {
        return;
    }

    same(1, text, len, NULL, 0, want, &whole, name);
    same(2, text, len, NULL, 0, want, &whole, name);
    for (i = 3; i < NPATHS; i++) {
        if (ngx_edge_auth_json_scan_avx2 != i - 2) {
            same(i, text, len, NULL, 0, want, &whole, name);
        }
    }

    for (i = 0; i < cuts; i++) {
        k = (len > 200) ? 1 + i % 15 : 1 + i % 3;

        for (j = 0; j < k; j++) {
            cut[j] = random() % (len + 1);
        }

        for (j = 1; j < k; j++) {               /* in order */
            if (cut[j] < cut[j - 1]) {
                t = cut[j];
                cut[j] = cut[j - 1];
                cut[j - 1] = t;
                j = 0;
            }
        }

        same(0, text, len, cut, k, want, &whole, name);
        same(1 + i % (NPATHS - 1), text, len, cut, k, want, &whole, name);
    }

    if (got != NGX_EDGE_AUTH_JSON_OBJECT) {
        return;
    }

    whole.buf[whole.len++] = '}';

    a = json_loadb(text, len, JSON_ALLOW_NUL|JSON_DECODE_INT_AS_REAL, NULL);
    b = json_loadb(whole.buf, whole.len,
                   JSON_ALLOW_NUL|JSON_DECODE_INT_AS_REAL, NULL);

    ok(a && b && json_equal(a, b), "member spans", text, len);

    json_decref(a);
    json_decref(b);
}


/*
 * Every cut of the text: at each offset, and around a part of one byte
 * there, so that each item crosses one boundary and two.
 */

static void
every_cut(const char *text, size_t len, const char *name)
{
    int     want, got, path;
    size_t  c, cut[2];
    glue_t  whole;

    want = reference(text, len);

    if (want < 0) {
        return;
    }

    got = scan_cut(paths[0], text, len, NULL, 0, &whole);
    ok(got == want && !whole.bad, name, text, len);

    for (path = 0; path < NPATHS; path++) {
        if (path >= 3 && ngx_edge_auth_json_scan_avx2 == path - 2) {
            continue;           /* the module's path again */
        }

        for (c = 0; c <= len; c++) {
            cut[0] = c;
            same(path, text, len, cut, 1, want, &whole, name);

            if (c < len) {
                cut[1] = c + 1;
                same(path, text, len, cut, 2, want, &whole, name);
            }
        }
    }
}


/*
 * The edges of the 16-byte and 8-byte loops: in a string, each byte that
 * ends a run of plain ones (the quote, a backslash, a control, the first
 * byte of UTF-8, good or bad) at each offset from 0 to 32, cut at every
 * offset; runs of white space of each length from 0 to 40, with a byte
 * that is not white space (form feed, vertical tab) at each place.
 */

static void
vector_tests(void)
{
    int          i, j;
    char         text[1024], run[128];
    size_t       n, off, len;
    static const char  *special[] = {
        "", "\\n", "\\\"", "\\\\", "\\u00e9", "\\ud834\\udd1e", "\\ud834",
        "\\x", "\\u12", "\x01", "\x1f", "\x7f", "\t", "\n",
        "\xc3\xa9", "\xc3", "\x80", "\xe2\x82\xac", "\xe2\x82",
        "\xf0\x9f\x98\x80", "\xf0\x9f\x98", "\xed\xa0\x80", "\xc0\xaf",
        "\xf4\x90\x80\x80", "\xff", "\"", "/", "\x20", "\x21", "\x5b",
        "\x5d", "\x5c", NULL
    };

    for (i = 0; special[i]; i++) {
        for (off = 0; off < 41; off++) {

            /* in a value, and in a key of the top object */

            memset(run, 'a', off);
            run[off] = '\0';

            len = snprintf(text, sizeof(text),
                           "{\"k\":\"%s%sbcdefghijklmnopq\"}",
                           run, special[i]);
            every_cut(text, len, "a string's edge");

            len = snprintf(text, sizeof(text), "{\"%s%s\":1}",
                           run, special[i]);
            every_cut(text, len, "a key's edge");
        }
    }

    for (n = 0; n <= 40; n++) {
        for (j = -1; j < (int) n; j++) {
            for (off = 0; off < n; off++) {
                run[off] = " \n\t\r"[(off * 7 + n) % 4];
            }

            if (j >= 0) {
                run[j] = (j % 2) ? '\f' : '\v';
            }

            run[n] = '\0';

            len = snprintf(text, sizeof(text), "%s{%s\"a\"%s:%s[%s1%s,%strue"
                           "%s]%s,\"b\":{}%s}%s", run, run, run, run, run,
                           run, run, run, run, run, run);

            /* the cuts of every length take long: a few of them */

            if (n % 16 == 7 && j % 4 == 0) {
                every_cut(text, len, "white space");

            } else {
                compare(text, len, "white space", 8);
            }
        }
    }

    /* numbers and literals cut everywhere */

    every_cut("[-12.5e+3,0,-0,1E9,2.0e-1,true,false,null,{}]", 46, "scalars");
    every_cut("[-12.5e+3,0,-0,1E9,2.0e-1,true,false,nul]", 41, "scalars");
    every_cut("[1.e3]", 6, "scalars");
    every_cut("[01]", 4, "scalars");
    every_cut("123456789012345678901234567890", 30, "a number alone");
    every_cut("  \"abc\"  ", 9, "a string alone");
}


/*
 * Random JSON of up to about size bytes for the block checker's carries
 * across its 64-byte blocks: nesting, long and short strings (escapes and
 * UTF-8 at times), numbers of every form, compact or with white space.
 */

static size_t
gen_value(char *out, size_t size, int depth, int blank)
{
    int           i, n, r;
    size_t        len, k;
    static const char  *num[] = {
        "0", "-0", "7", "123", "-45", "0.5", "-1.25e+3", "6E-2", "1e9",
        "1234567890123", "true", "false", "null"
    };
    static const char  *str[] = {
        "x", "ab", "\\n", "\\\"", "\xc3\xa9", "\\u00e9", "0123456789",
        ",:{}[]", " ", "abcdefghijklmnopqrstuvwxyz"
    };

#define GEN_BLANK()                                                          \
    if (blank && len < size && random() % 3 == 0) {                          \
        out[len++] = " \n\t\r"[random() % 4];                                \
    }

    len = 0;
    r = random() % 10;

    if (size < 16 || depth > 6 || r < 3) {
        if (r % 2) {
            i = random() % 13;
            k = strlen(num[i]);
            memcpy(out, num[i], k);
            return k;
        }

        out[len++] = '"';
        n = random() % 8;

        for (i = 0; i < n; i++) {
            r = random() % 10;

            if (!(blank & 2) && r >= 2 && r <= 5) {
                r = 9;                  /* ASCII without escapes */
            }

            k = strlen(str[r]);

            if (len + k + 2 >= size) {
                break;
            }

            memcpy(out + len, str[r], k);
            len += k;
        }

        out[len++] = '"';
        return len;
    }

    out[len++] = (r < 7) ? '{' : '[';
    n = random() % 6;

    for (i = 0; i < n && len + 24 < size; i++) {
        if (i) {
            out[len++] = ',';
        }

        GEN_BLANK();

        if (r < 7) {
            k = snprintf(out + len, size - len, "\"k%d\"", i);
            len += k;
            GEN_BLANK();
            out[len++] = ':';
            GEN_BLANK();
        }

        len += gen_value(out + len, (size - len - 4) / (n - i),
                         depth + 1, blank);
        GEN_BLANK();
    }

    out[len++] = (r < 7) ? '}' : ']';

    return len;
}


static void
long_tests(void)
{
    int          i, j, k, n;
    size_t       len, was;
    glue_t       g;
    static char  text[4200];

    for (i = 0; i < 3000; i++) {
        len = gen_value(text, 64 + random() % 4000, 0, i % 4);

        if (i % 2) {
            k = 1 + random() % 3;

            for (j = 0; j < k && len; j++) {
                n = random() % len;

                switch (random() % 3) {
                case 0:
                    text[n] = "{}[],:\" \\0e.-x\x80\x01"[random() % 16];
                    break;
                case 1:
                    memmove(text + n, text + n + 1, len - n - 1);
                    len--;
                    break;
                default:
                    memmove(text + n + 1, text + n, len - n);
                    text[n] = "{}[],:\" \\0e.-"[random() % 13];
                    len++;
                }
            }
        }

        compare(text, len, "long text", 2);

        /* valid and in one part: the block checkers decide it themselves */

        for (j = 4; i % 2 == 0 && j < NPATHS; j++) {
            if (has_mode[j - 2]) {
                was = ngx_edge_auth_json_blocks_undecided;
                scan_cut(paths[j], text, len, NULL, 0, &g);
                ok(ngx_edge_auth_json_blocks_undecided == was,
                   "a valid document, decided by the block checker", text,
                   len);
            }
        }
    }
}


/*
 * The bench's body (bench/body_bench.py): the block checker decides it
 * itself, whole and cut, and reports what the others do.
 */

static void
bench_body_tests(void)
{
    int          i;
    size_t       len, size, was;
    static char  text[8192];
    static const char  head[] =
        "{\"cmmnd\":{\"cmmnd\":\"dump ipck_vhcl-tprt-1111*PRMM\",\"seed\":"
        "{\"insrncDrtn\":\"1y\",\"premium\":0.1}},\"rows\":[";

    for (size = 1024; size <= 8000; size += 6976) {
        memcpy(text, head, sizeof(head) - 1);
        len = sizeof(head) - 1;

        for (i = 0; len + 2 < size; i++) {
            len += snprintf(text + len, sizeof(text) - len,
                            "%s{\"n\":%d,\"v\":\"%s\"}", i ? "," : "", i,
                            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        }

        text[len++] = ']';
        text[len++] = '}';

        was = ngx_edge_auth_json_blocks_undecided;

        compare(text, len, "the bench's body", 16);

        if (has_mode[2]) {
            ok(ngx_edge_auth_json_blocks_undecided == was,
               "the bench's body, decided by the block checker", text, len);
        }
    }
}


/*
 * The block checker's compact loop (brackets, colons, commas, digits and
 * strings, deep in the nesting): rows like the bench's, objects and
 * arrays in turn, a value in two rows something it leaves to the general
 * loop (white space, a literal, a fraction, an escape, UTF-8) or an error
 * (a leading zero, a bracket that does not match, a missing comma), at
 * each offset in its block, after a "},[" or a "],{" (a push over a pop
 * the general loop must not see).  Each text is
 * compared as the others; the valid ones are decided by the block checker
 * itself, and most of its blocks by the compact loop.
 */

static void
compact_tests(void)
{
    int          i, j, b;
    char         text[2048];
    size_t       len, blocks, undecided;
    glue_t       g;
    static const char  *odd[] = {
        "1", "true", " 7", "0.5", "-2", "\"\\n\"", "\"\xc3\xa9\"", "[]",
        "{}", "[1,2]", "01", "[}", "1}", "\"a\":1", "1,", "\"x\"\"y\"", "\"",
        "0", "00", "{\"k\":1}"
    };

    blocks = ngx_edge_auth_json_blocks_compact;

    for (b = 0; b < (int) (sizeof(odd) / sizeof(odd[0])); b++) {
        for (i = 0; i < 64; i++) {
            len = snprintf(text, sizeof(text),
                           "{\"a\":{\"b\":[{\"p\":\"%.*s\"}", i,
                           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");

            for (j = 0; j < 12; j++) {
                len += snprintf(text + len, sizeof(text) - len,
                                (j & 1)
                                ? ",[%s,\"xxxxxxxxxxxxxxxxxxxxxxxxxx\"]"
                                : ",{\"n\":%s,\"v\":\"xxxxxxxxxxxxxxxxxx\"}",
                                (j == 6 || j == 7) ? odd[b] : "123");
            }

            len += snprintf(text + len, sizeof(text) - len, "]},\"c\":1}");

            compare(text, len, "compact blocks", i % 4 == 0);

            if (has_mode[2]
                && reference(text, len) != NGX_EDGE_AUTH_JSON_INVALID)
            {
                undecided = ngx_edge_auth_json_blocks_undecided;
                scan_cut(paths[4], text, len, NULL, 0, &g);

                ok(ngx_edge_auth_json_blocks_undecided == undecided,
                   "compact blocks, decided by the block checker", text,
                   len);
            }
        }
    }

    if (has_mode[2]) {
        ok(ngx_edge_auth_json_blocks_compact - blocks > 10000,
           "the compact loop ran", "", 0);
    }
}


/*
 * The lane (values below the top-level members, read while the part has
 * room): a value or a key, valid or not, in one row of many, in an object
 * and in an array, in a text that is an object and in one that is not,
 * well inside the lane's room; then some of them moved byte by byte
 * across the end of the room (a string after them, of each length up to
 * more than the room of every build).  Each text compared as the others.
 */

static void
lane_tests(void)
{
    int          k, form, pad;
    char         text[4096];
    size_t       len, v, nodd, nkey;
    static const char  *odd[] = {
        "1.5e3", "12345678901234567890123456789012345",
        "0.12345678901234567890123456789012345",
        "1e000000000000000000000000000000000007", "\n\n   [\n  1\n]\n",
        "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxx\"", "\"x\\\"y\"", "1 .5",
        /*
         * the longest reach between two looks at the room, for each WIDE
         * (an exponent jansson takes: it refuses what overflows a double)
         */
        "{\"xxxxxxx\":1234567.1234567e+0000007}",
        "{\"xxxxxxxxxxxxxxx\":123456789012345.123456789012345"
        "e+000000000000007}",
        "{\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\": \t"
        "1234567890123456789012345678901.1234567890123456789012345678901"
        "e+0000000000000000000000000000007}",
        /* those above also across the end of the room */
        "1e", "[ ]", "tru", "1.5.3", "1e5.3", "\"a\".5", "true.5", "[1].5",
        "{}e1", "1.e5",
        "1.", "1e+", "1E-7", "-", "-0", "-01", "-a", "-7.25", "0.0", "00",
        "1. 5", "1 e5", "0e0", "fals", "nul", "truex", "nullx", "false",
        "true", "null", "{ }", "[ 1 , 2 ]", "{ \"a\" : 1 }", "{\"a\" 1}",
        "{\"a\":1,}", "[1,]", "[,1]", "{,}", "{\"a\":1 ,\"b\":[]}", "[]]",
        "{}}", "\"\xc3\xa9\"", "\"\x01\"", "\"\x7f\"", "[[[[[[]]]]]]",
        "{\"a\":{\"b\":{\"c\":[]}}}", "]", "}", ",", ":", "\"k\":1", "1 2",
        "\t1\n", "\"", "[\"a\",\"b\\u00e9\",3]"
    };
    static const char  *key[] = {
        "\"a\\n\"", "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"",
        /* those above also across the end of the room */
        "\"k\" ", " \"k\"",
        "\"\xc3\xa9\"", "a", "\"k\"\t", "\"a\":1,\"b\"", "1", "\"k\"::",
        "\"k\" :", "}", "\"k\"", "\"\""
    };

    nodd = sizeof(odd) / sizeof(odd[0]);
    nkey = sizeof(key) / sizeof(key[0]);

    for (k = 0; k < (int) (nodd + nkey); k++) {
        for (pad = -1; pad < 4 * 32 + 48; pad++) {
            for (form = 0; form < 3; form++) {

                if (pad >= 0
                    && (form != 0 || (k >= 11 && k < (int) nodd)
                        || k >= (int) nodd + 2))
                {
                    continue;
                }

                len = snprintf(text, sizeof(text), "%s",
                               form == 2 ? "[[\"\"" : "{\"a\":{\"b\":[\"\"");

                for (v = 0; v < 4; v++) {
                    len += snprintf(text + len, sizeof(text) - len,
                                    ",{\"n\":%zu,\"v\":\"xxxxxxxxxxxxxxxx\"}",
                                    v);
                }

                if (k >= (int) nodd) {
                    len += snprintf(text + len, sizeof(text) - len,
                                    ",{\"n\":1,%s:2}", key[k - nodd]);

                } else if (form == 1) {
                    len += snprintf(text + len, sizeof(text) - len,
                                    ",[%s,\"x\"]", odd[k]);

                } else {
                    len += snprintf(text + len, sizeof(text) - len,
                                    ",{\"n\":%s,\"v\":\"x\"}", odd[k]);
                }

                /* well inside the room, or pad bytes before its end */

                if (pad < 0) {
                    for (v = 0; v < 8; v++) {
                        len += snprintf(text + len, sizeof(text) - len,
                                        ",{\"n\":%zu,\"v\":[true,null]}", v);
                    }

                } else {
                    memset(text + len, 'y', pad + 3);
                    text[len] = ',';
                    text[len + 1] = '"';
                    text[len + pad + 2] = '"';
                    len += pad + 3;
                    len += snprintf(text + len, sizeof(text) - len, "%s",
                                    ",1,2,3,4,5,6,7,8,9,0,[],{},7,8,9,0");
                }

                len += snprintf(text + len, sizeof(text) - len, "%s",
                                form == 2 ? "]]" : "]},\"c\":1}");

                if (pad == 70 && k == 10) {
                    every_cut(text, len, "lane, cut everywhere");
                }

                compare(text, len, "lane", pad % 16 == 0);
            }
        }
    }

    /*
     * the longest reach between two looks at the room, cut everywhere: the
     * room asked in a run of blanks, a key of one load, blanks around the
     * colon, then a negative number with a fraction and an exponent, each
     * of one load less a digit, the exponent small enough for jansson (the
     * review found the AVX2 lane reading 6 bytes past a part here when
     * only brackets, commas, blanks and long strings asked)
     */

    for (v = 8; v <= 32; v *= 2) {
        len = snprintf(text, sizeof(text), "{\"a\":{\"b\":0,%32s\"%.*s\" : -1"
                       "%.*s.%.*se+%.*s}}", "", (int) v - 1,
                       "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", (int) v - 1,
                       "22222222222222222222222222222222", (int) v - 1,
                       "33333333333333333333333333333333", (int) v - 1,
                       "00000000000000000000000000000007" + 33 - v);
        every_cut(text, len, "lane, its longest reach");
    }

    /*
     * the bracket the lane leaves to the loop, of a text that is not an
     * object, and of a top-level member's value, and what may follow it
     * (the fuzzer found "[ ] ,2" taken for valid)
     */

    for (k = 0; k < 12; k++) {
        len = snprintf(text, sizeof(text), "%s", (k & 1) ? "{\"a\":[" : "[");

        for (v = 0; v < 12; v++) {
            len += snprintf(text + len, sizeof(text) - len, "%s%zu,\"%s\"",
                            v ? "," : "", v, "xxxxxxxxxxxxxxxxxxxx");
        }

        /* with white space after it: the lane has room there */

        len += snprintf(text + len, sizeof(text) - len, "]%s%s%200s",
                        (const char *[]) { "", ",2", "]", " ,[]", "}", "\t2"
                        }[k / 2], (k & 1) ? "}" : "", "");

        compare(text, len, "lane, the bracket at its bottom", 4);
    }

    /*
     * long runs of commas and of long strings with no bracket between,
     * cut everywhere: the lane must look at its room at each
     */

    len = snprintf(text, sizeof(text), "{\"a\":[[0");

    for (v = 1; v < 120; v++) {
        len += snprintf(text + len, sizeof(text) - len, ",%zu", v % 10);
    }

    len += snprintf(text + len, sizeof(text) - len, "],[\"");

    for (v = 0; v < 6; v++) {
        len += snprintf(text + len, sizeof(text) - len, "%s%.*s\"",
                        v ? ",\"" : "", (int) (33 + v),
                        "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy");
    }

    /*
     * and one longer than the room whose quote the last load of each
     * build finds in its last byte (32k + 31 bytes): it may end where
     * the part does
     */

    memset(text + len, 'y', 193);
    memcpy(text + len, ",\"", 2);
    len += 193;
    text[len++] = '"';

    len += snprintf(text + len, sizeof(text) - len, "]]}");

    every_cut(text, len, "lane, commas and long strings, cut everywhere");
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

    printf("%s 3 - key folding: the table, and %d strings escaped and raw "
           "alike\n", bad ? "not ok" : "ok", i);

    return bad;
}


int
main(void)
{
    int          i, j, n, k, all;
    char         text[512];
    size_t       len;
    const char  *seed;
    static char  deep[2 * NGX_EDGE_AUTH_JSON_DEPTH + 4];

    __builtin_cpu_init();
    has_mode[1] = __builtin_cpu_supports("avx2");
    has_mode[2] = has_mode[1] && __builtin_cpu_supports("pclmul")
                  && __builtin_cpu_supports("bmi")
                  && __builtin_cpu_supports("bmi2");
    has_mode[3] = has_mode[2] && __builtin_cpu_supports("avx512bw");

    for (i = 0; table[i]; i++) {
        compare(table[i], strlen(table[i]), "table", 8);
    }

    /* nesting: 2048 levels pass, 2049 do not, as in jansson */

    for (n = NGX_EDGE_AUTH_JSON_DEPTH; n <= NGX_EDGE_AUTH_JSON_DEPTH + 1; n++)
    {
        memset(deep, '[', n);
        memset(deep + n, ']', n);
        compare(deep, 2 * n, "depth", 2);
    }

    srandom(42);

    /* tokens glued at random */

    for (i = 0; i < 50000; i++) {
        len = 0;
        n = 1 + random() % 12;

        for (j = 0; j < n; j++) {
            seed = tokens[random() % (sizeof(tokens) / sizeof(tokens[0]))];
            memcpy(text + len, seed, strlen(seed));
            len += strlen(seed);
        }

        compare(text, len, "random tokens", i % 3 == 0);
    }

    /* mutations of valid documents */

    for (i = 0; i < 50000; i++) {
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

        compare(text, len, "mutation", i % 3 == 0);
    }

    printf("1..3\n# paths: the module's (%d), sse2, %s, avx2 %s, blocks avx2 "
           "%s, blocks avx512 %s\n%s 1 - %d scans against "
           "jansson and each other, %d differ\n",
           ngx_edge_auth_json_scan_avx2, ngx_edge_auth_json_scan_path_scalar,
           has_mode[1] ? "yes" : "no (the module's)",
           has_mode[2] ? "yes" : "no (the module's)",
           has_mode[3] ? "yes" : "no (the module's)",
           failed ? "not ok" : "ok",
           tests, failed);

    all = failed;
    tests = 0;
    failed = 0;

    vector_tests();
    long_tests();
    bench_body_tests();
    compact_tests();
    lane_tests();

    printf("%s 2 - the edges of the fast paths, long texts: %d scans, "
           "%d differ\n# the block checker handed on %zu texts\n",
           failed ? "not ok" : "ok", tests, failed,
           ngx_edge_auth_json_blocks_undecided);

    all += failed;

    if (fold_tests()) {
        all++;
    }

    return all ? 1 : 0;
}
