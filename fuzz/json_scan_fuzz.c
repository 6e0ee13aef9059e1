
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * libFuzzer target for the JSON checker.  The first two bytes of an input
 * say where to cut the rest into three parts (each a copy of its own, so
 * that a read past a part is a read past an allocation); the text is
 * checked by the module's build, by its SSE2 build, its one-pass AVX2
 * build, its block checker for AVX2 and for AVX-512BW (where the processor
 * has them), and by the 64-bit word build (fuzz/json_scan_scalar.c), cut
 * and whole:
 *   - all twelve verdicts are jansson's strict parse of the same bytes
 *     (not for a number jansson cannot hold, where the checker accepts
 *     what the grammar does; a NUL byte, which jansson takes for the end
 *     of a number, is invalid);
 *   - all twelve report the same members, in order, inside the text, each
 *     a key string followed by its value, the key's bytes handed over
 *     where they are in one part and only there;
 *   - a key folds into no more than its length and never past the room
 *     given.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "ngx_edge_auth_json_scan.h"


#define FUZZ_SPANS  256
#define FUZZ_PATHS  6

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int ngx_edge_auth_json_scan_scalar(const ngx_edge_auth_json_part_t *part,
    size_t n, ngx_edge_auth_json_member_pt member, void *data);


typedef struct {
    const u_char  *text;
    size_t         len;
    size_t         cut[2];
    size_t         ncut;
    size_t         span[FUZZ_SPANS][3];
    size_t         n;
} fuzz_scan_t;


static int
crosses(fuzz_scan_t *f, size_t start, size_t end)
{
    size_t  i;

    for (i = 0; i < f->ncut; i++) {
        if (f->cut[i] > start && f->cut[i] < end) {
            return 1;
        }
    }

    return 0;
}


static void
member(void *data, const u_char *key, size_t key_len, size_t start,
    size_t end)
{
    fuzz_scan_t  *f = data;

    u_char  fold[16];
    size_t  n;

    if ((f->n && start < f->span[f->n - 1][2]) || key_len < 2
        || start + key_len > end || end > f->len
        || f->text[start] != '"' || f->text[start + key_len - 1] != '"'
        || (key == NULL) != crosses(f, start, start + key_len)
        || (key && memcmp(key, f->text + start, key_len) != 0))
    {
        abort();
    }

    if (f->n < FUZZ_SPANS) {
        f->span[f->n][0] = start;
        f->span[f->n][1] = key_len;
        f->span[f->n][2] = end;
    }

    f->n++;

    /* the folded key: never longer than the key, nothing past size */

    memset(fold, 0xa5, sizeof(fold));

    n = ngx_edge_auth_json_key_fold(f->text + start, key_len, fold, 8);

    if (n > key_len || fold[8] != 0xa5) {
        abort();
    }
}


/* the builds this processor can run: 1 AVX2, 2 and 3 the block checker */

static int  has_mode[4];


static int
scan(int path, const u_char *text, size_t len, const size_t *cut,
    size_t ncut, fuzz_scan_t *f)
{
    int                         rc, avx2;
    size_t                      i, from, to;
    u_char                     *copy[3];
    ngx_edge_auth_json_part_t   part[3];

    f->text = text;
    f->len = len;
    f->ncut = ncut;
    f->n = 0;

    for (i = 0; i < ncut; i++) {
        f->cut[i] = cut[i];
    }

    for (i = 0, from = 0; i <= ncut; i++, from = to) {
        to = (i < ncut) ? cut[i] : len;

        copy[i] = malloc(to - from ? to - from : 1);
        if (copy[i] == NULL) {
            abort();
        }

        memcpy(copy[i], text + from, to - from);
        part[i].pos = copy[i];
        part[i].last = copy[i] + (to - from);
    }

    /*
     * path: 0 the module's, 1 the word, 2 SSE2, 3 the one-pass AVX2, 4 the
     * block checker for AVX2, 5 for AVX-512BW (each where the processor
     * has it, else the module's)
     */

    if (path == 1) {
        rc = ngx_edge_auth_json_scan_scalar(part, ncut + 1, member, f);

    } else {
        avx2 = ngx_edge_auth_json_scan_avx2;

        if (path == 2) {
            ngx_edge_auth_json_scan_avx2 = 0;

        } else if (path >= 3 && has_mode[path - 2]) {
            ngx_edge_auth_json_scan_avx2 = path - 2;
        }

        rc = ngx_edge_auth_json_scan(part, ncut + 1, member, f);
        ngx_edge_auth_json_scan_avx2 = avx2;
    }

    for (i = 0; i <= ncut; i++) {
        free(copy[i]);
    }

    return rc;
}


/*
 * jansson's verdict; -1 where the checker differs by design: a number
 * jansson cannot hold, a key with "\u0000" (valid JSON, which jansson's
 * objects cannot hold)
 */

static int
reference(const u_char *text, size_t len)
{
    int            v;
    json_t        *root;
    json_error_t   err;

    root = json_loadb((const char *) text, len,
                      JSON_DECODE_ANY|JSON_ALLOW_NUL|JSON_DECODE_INT_AS_REAL,
                      &err);

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
     * NUL byte is never JSON (RFC 8259): outside strings not white space,
     * inside them a control character
     */

    if (memchr(text, 0, len)) {
        return NGX_EDGE_AUTH_JSON_INVALID;
    }

    return v;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 rc[2 * FUZZ_PATHS], want, i;
    size_t              len, cut[2], t;
    const u_char       *text;
    static int          asked;
    static fuzz_scan_t  f[2 * FUZZ_PATHS];

    if (size < 2) {
        return 0;
    }

    if (!asked) {
        asked = 1;
        __builtin_cpu_init();
        has_mode[1] = __builtin_cpu_supports("avx2");
        has_mode[2] = has_mode[1] && __builtin_cpu_supports("pclmul")
                      && __builtin_cpu_supports("bmi")
                      && __builtin_cpu_supports("bmi2");
        has_mode[3] = has_mode[2] && __builtin_cpu_supports("avx512bw");
    }

    text = data + 2;
    len = size - 2;

    cut[0] = data[0] % (len + 1);
    cut[1] = data[1] % (len + 1);

    if (cut[1] < cut[0]) {
        t = cut[0];
        cut[0] = cut[1];
        cut[1] = t;
    }

    for (i = 0; i < FUZZ_PATHS; i++) {
        rc[i] = scan(i, text, len, NULL, 0, &f[i]);
        rc[FUZZ_PATHS + i] = scan(i, text, len, cut, 2, &f[FUZZ_PATHS + i]);
    }

    for (i = 1; i < 2 * FUZZ_PATHS; i++) {
        if (rc[i] != rc[0] || f[i].n != f[0].n
            || memcmp(f[i].span, f[0].span,
                      sizeof(f[0].span[0])
                      * (f[0].n < FUZZ_SPANS ? f[0].n : FUZZ_SPANS))
               != 0)
        {
            abort();
        }
    }

    want = reference(text, len);

    if (want >= 0 && rc[0] != want) {
        abort();
    }

    return 0;
}
