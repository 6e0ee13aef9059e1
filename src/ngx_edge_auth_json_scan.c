
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * A strict JSON checker: what jansson accepts, without building a tree
 * (jansson spends about 1 ms on a 64 KB body, mostly in malloc).  Strings
 * are checked for escapes, paired surrogates and shortest-form UTF-8 (no
 * encoded surrogates, nothing above U+10FFFF); numbers for the grammar
 * only, so 1e400 passes where jansson reports an overflow.  Pure C.
 *
 * Most of a body is the inside of strings: it is skipped 16 bytes at a
 * time (SSE2) or 8 (in a 64-bit word) up to the next quote, backslash,
 * control or non-ASCII byte, and so is a run of white space.  The grammar
 * is one loop of labels that looks at each other byte once.  The text
 * comes in parts (a request body is a chain of buffers, not copied into
 * one): the loops run to the end of the current part, then take the next
 * one; an item of a bounded length that crosses from one part into the
 * next (an escape, a UTF-8 sequence, a literal) is checked from a copy of
 * its at most 12 bytes.
 */


#ifndef NGX_EDGE_AUTH_JSON_AVX2_PASS

#include <stdint.h>
#include <string.h>

#include "ngx_edge_auth_json_scan.h"


#if (defined __SSE2__ && defined __GNUC__ && !defined NGX_EDGE_AUTH_JSON_SCALAR)
#define NGX_EDGE_AUTH_JSON_SSE2  1
#include <immintrin.h>
#endif


/* where the checker is: the current part of the text */

typedef struct {
    const ngx_edge_auth_json_part_t  *part;
    const ngx_edge_auth_json_part_t  *last;     /* past the last part */
    size_t                            base;     /* offset of part->pos */
    const u_char                     *pos;      /* p and end, in and out */
    const u_char                     *end;
} ngx_edge_auth_json_cursor_t;


static int ngx_edge_auth_json_next(ngx_edge_auth_json_cursor_t *cur);
static size_t ngx_edge_auth_json_gather(ngx_edge_auth_json_cursor_t *cur,
    u_char *buf, size_t n);
static void ngx_edge_auth_json_skip(ngx_edge_auth_json_cursor_t *cur,
    size_t n);
static size_t ngx_edge_auth_json_escape(const u_char *p, const u_char *end);
static int ngx_edge_auth_json_hex4(const u_char *p, const u_char *end,
    unsigned *u);
static int ngx_edge_auth_json_invisible(unsigned u);
static size_t ngx_edge_auth_json_utf8(const u_char *p, const u_char *end);
static void ngx_edge_auth_json_ignore(void *data, const u_char *key,
    size_t key_len, size_t start, size_t end);


#if (NGX_EDGE_AUTH_JSON_SSE2)

const char  ngx_edge_auth_json_scan_path[] = "sse2";

#define NGX_EDGE_AUTH_JSON_WIDE  16

/*
 * The bytes the AVX2 build compares with, 32 of each, are read from memory
 * by the compares themselves, through a pointer the compiler cannot see
 * through: a constant it built in a register would be built again after
 * calls and branches (nginx builds with -O).  SSE2's are fine as they are.
 */

#define NGX_EDGE_AUTH_JSON_K8(c)  c, c, c, c, c, c, c, c
#define NGX_EDGE_AUTH_JSON_K32(c)                                            \
    { NGX_EDGE_AUTH_JSON_K8(c), NGX_EDGE_AUTH_JSON_K8(c),                    \
      NGX_EDGE_AUTH_JSON_K8(c), NGX_EDGE_AUTH_JSON_K8(c) }

static const u_char  ngx_edge_auth_json_k[8][32] __attribute__((aligned(32)))
    = {
    NGX_EDGE_AUTH_JSON_K32('"'), NGX_EDGE_AUTH_JSON_K32('\\'),
    NGX_EDGE_AUTH_JSON_K32(' '), NGX_EDGE_AUTH_JSON_K32('\n'),
    NGX_EDGE_AUTH_JSON_K32('\r'), NGX_EDGE_AUTH_JSON_K32('\t'),
    NGX_EDGE_AUTH_JSON_K32('0' - 1), NGX_EDGE_AUTH_JSON_K32('9' + 1)
};

#define ngx_edge_auth_json_vectors                                           \
    int       m;                                                             \
    __m128i   x, quote, backslash, space, lf, cr, tab, below0, above9

#define ngx_edge_auth_json_vectors_init()                                    \
    quote = _mm_set1_epi8('"');                                              \
    backslash = _mm_set1_epi8('\\');                                         \
    space = _mm_set1_epi8(' ');                                              \
    lf = _mm_set1_epi8('\n');                                                \
    cr = _mm_set1_epi8('\r');                                                \
    tab = _mm_set1_epi8('\t');                                               \
    below0 = _mm_set1_epi8('0' - 1);                                         \
    above9 = _mm_set1_epi8('9' + 1)

/*
 * m: a bit for each of the 16 bytes at p that a string does not hold as
 * it is: " \ and, compared as signed, the bytes below ' ' (the controls,
 * and from 0x80 on)
 */

#define ngx_edge_auth_json_plain_mask()                                      \
    x = _mm_loadu_si128((const __m128i *) p);                                \
    m = _mm_movemask_epi8(                                                   \
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote),              \
                                      _mm_cmpeq_epi8(x, backslash)),         \
                         _mm_cmpgt_epi8(space, x)))

/* m: a bit for each of the 16 bytes at p that is not white space */

#define ngx_edge_auth_json_blank_mask()                                      \
    x = _mm_loadu_si128((const __m128i *) p);                                \
    m = _mm_movemask_epi8(                                                   \
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, space),              \
                                      _mm_cmpeq_epi8(x, lf)),                \
                         _mm_or_si128(_mm_cmpeq_epi8(x, cr),                 \
                                      _mm_cmpeq_epi8(x, tab))))              \
        ^ 0xffff

/* m: a bit for each of the 16 bytes at p that is not a digit */

#define ngx_edge_auth_json_digit_mask()                                      \
    x = _mm_loadu_si128((const __m128i *) p);                                \
    m = _mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(x, below0),           \
                                        _mm_cmpgt_epi8(above9, x)))          \
        ^ 0xffff

#define ngx_edge_auth_json_first(m)  ((size_t) __builtin_ctz(m))

#else

/*
 * Eight bytes in a 64-bit word.  Each test leaves 0x80 in exactly the
 * bytes that pass it, 0 in the others (no carry crosses a byte:
 * (x & 0x7f) + 0x7f is at most 0xfe), so the first one is found in
 * either byte order.
 */

const char  ngx_edge_auth_json_scan_path[] = "scalar";

#define NGX_EDGE_AUTH_JSON_WIDE   8
#define NGX_EDGE_AUTH_JSON_LOW    0x0101010101010101ULL
#define NGX_EDGE_AUTH_JSON_SEVEN  0x7f7f7f7f7f7f7f7fULL
#define NGX_EDGE_AUTH_JSON_HIGH   0x8080808080808080ULL

#define ngx_edge_auth_json_vectors                                           \
    uint64_t  x, m

#define ngx_edge_auth_json_vectors_init()

/* 0x80 in the bytes of x equal to c */
#define ngx_edge_auth_json_eq(x, c)                                          \
    ngx_edge_auth_json_zero((x) ^ (NGX_EDGE_AUTH_JSON_LOW * (c)))

#define ngx_edge_auth_json_zero(y)                                           \
    (~((((y) & NGX_EDGE_AUTH_JSON_SEVEN) + NGX_EDGE_AUTH_JSON_SEVEN)         \
       | (y) | NGX_EDGE_AUTH_JSON_SEVEN))

/* from 0x20 to 0x7f: bit 7 clear, and (x & 0x7f) + 0x60 sets it */

#define ngx_edge_auth_json_plain_mask()                                      \
    memcpy(&x, p, 8);                                                        \
    m = (~((((x) & NGX_EDGE_AUTH_JSON_SEVEN) + NGX_EDGE_AUTH_JSON_LOW * 0x60)\
           & ~x)                                                             \
         | ngx_edge_auth_json_eq(x, '"') | ngx_edge_auth_json_eq(x, '\\'))   \
        & NGX_EDGE_AUTH_JSON_HIGH

#define ngx_edge_auth_json_blank_mask()                                      \
    memcpy(&x, p, 8);                                                        \
    m = ~(ngx_edge_auth_json_eq(x, ' ') | ngx_edge_auth_json_eq(x, '\n')     \
          | ngx_edge_auth_json_eq(x, '\r') | ngx_edge_auth_json_eq(x, '\t')) \
        & NGX_EDGE_AUTH_JSON_HIGH

/* from '0' to '9': bit 7 clear, (x & 0x7f) + 0x50 sets it, + 0x46 not */

#define ngx_edge_auth_json_digit_mask()                                      \
    memcpy(&x, p, 8);                                                        \
    m = (x | ~((x & NGX_EDGE_AUTH_JSON_SEVEN) + NGX_EDGE_AUTH_JSON_LOW * 0x50)\
         | ((x & NGX_EDGE_AUTH_JSON_SEVEN) + NGX_EDGE_AUTH_JSON_LOW * 0x46))  \
        & NGX_EDGE_AUTH_JSON_HIGH

#if (defined __GNUC__ && defined __BYTE_ORDER__                              \
     && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
#define ngx_edge_auth_json_first(m)  ((size_t) __builtin_clzll(m) / 8)
#elif (defined __GNUC__ && defined __BYTE_ORDER__                            \
       && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
#define ngx_edge_auth_json_first(m)  ((size_t) __builtin_ctzll(m) / 8)
#else
#define ngx_edge_auth_json_first(m)  ngx_edge_auth_json_first_byte(m)

/* the first byte of m in memory order that is not 0 */

static size_t
ngx_edge_auth_json_first_byte(uint64_t m)
{
    size_t  i;
    u_char  b[8];

    memcpy(b, &m, 8);

    for (i = 0; b[i] == 0; i++) { /* void */ }

    return i;
}
#endif

#endif


/*
 * The loops keep p and end (the current part) in registers; wide is the
 * last address a whole load of WIDE bytes may start at, or 0 when fewer
 * are left in the part.
 */

#define ngx_edge_auth_json_wide()                                            \
    wide = ((size_t) (end - p) >= NGX_EDGE_AUTH_JSON_WIDE)                   \
           ? (uintptr_t) (end - NGX_EDGE_AUTH_JSON_WIDE) : 0

/* at the end of the part: the next one that is not empty, or 0 */

#define ngx_edge_auth_json_more()                                            \
    (cur.pos = p, cur.end = end, ngx_edge_auth_json_next(&cur)               \
     ? (p = cur.pos, end = cur.end, ngx_edge_auth_json_wide(), 1) : 0)

/* the byte at p, -1 at the end of the text */

#define ngx_edge_auth_json_peek()                                            \
    ((p < end || ngx_edge_auth_json_more()) ? *p : -1)

/* p past the bytes a string holds as they are, in this part */

#define ngx_edge_auth_json_plain()                                           \
    for ( ;; ) {                                                             \
        if ((uintptr_t) p > wide) {                                          \
            while (p < end && *p >= 0x20 && *p < 0x80                        \
                   && *p != '"' && *p != '\\')                               \
            {                                                                \
                p++;                                                         \
            }                                                                \
            break;                                                           \
        }                                                                    \
        ngx_edge_auth_json_plain_mask();                                     \
        if (m) {                                                             \
            p += ngx_edge_auth_json_first(m);                                \
            break;                                                           \
        }                                                                    \
        p += NGX_EDGE_AUTH_JSON_WIDE;                                        \
    }

#define ngx_edge_auth_json_is_blank(c)                                       \
    ((c) <= ' ' && ((c) == ' ' || (c) == '\n' || (c) == '\r' || (c) == '\t'))

/*
 * c: the first byte from p on that is not white space, -1 at the end; a
 * blank alone (after a colon) is looked past at once, a run (a line break
 * and an indent) 16 bytes at a time
 */

#define ngx_edge_auth_json_space()                                           \
    for ( ;; ) {                                                             \
        if (p == end && !ngx_edge_auth_json_more()) {                        \
            c = -1;                                                          \
            break;                                                           \
        }                                                                    \
        c = *p;                                                              \
        if (!ngx_edge_auth_json_is_blank(c)) {                               \
            break;                                                           \
        }                                                                    \
        if (++p < end && *p > ' ') {                                         \
            c = *p;                                                          \
            break;                                                           \
        }                                                                    \
        for (m = 0; (uintptr_t) p <= wide; p += NGX_EDGE_AUTH_JSON_WIDE) {   \
            ngx_edge_auth_json_blank_mask();                                 \
            if (m) {                                                         \
                p += ngx_edge_auth_json_first(m);                            \
                break;                                                       \
            }                                                                \
        }                                                                    \
        if (m) {                                                             \
            c = *p;                                                          \
            break;                                                           \
        }                                                                    \
        while (p < end && ngx_edge_auth_json_is_blank(*p)) {                 \
            p++;                                                             \
        }                                                                    \
    }

/* past digits; c: the byte after them, -1 at the end */

#define ngx_edge_auth_json_digits()                                          \
    for ( ;; ) {                                                             \
        if ((uintptr_t) p <= wide) {                                         \
            ngx_edge_auth_json_digit_mask();                                 \
            if (m) {                                                         \
                p += ngx_edge_auth_json_first(m);                            \
                break;                                                       \
            }                                                                \
            p += NGX_EDGE_AUTH_JSON_WIDE;                                    \
            continue;                                                        \
        }                                                                    \
        while (p < end && (unsigned) (*p - '0') < 10) {                      \
            p++;                                                             \
        }                                                                    \
        if (p < end || !ngx_edge_auth_json_more()) {                         \
            break;                                                           \
        }                                                                    \
    }                                                                        \
    c = (p < end) ? *p : -1

/*
 * An item of at most max bytes at p, its length from check(): in place,
 * or from a copy when fewer than max bytes are left in the part.
 */

#define ngx_edge_auth_json_item(check, max)                                  \
    if ((size_t) (end - p) >= max) {                                         \
        k = check(p, end);                                                   \
        if (k == 0) {                                                        \
            goto invalid;                                                    \
        }                                                                    \
        p += k;                                                              \
    } else {                                                                 \
        cur.pos = p;                                                         \
        cur.end = end;                                                       \
        k = check(tmp, tmp + ngx_edge_auth_json_gather(&cur, tmp, max));     \
        if (k == 0) {                                                        \
            goto invalid;                                                    \
        }                                                                    \
        ngx_edge_auth_json_skip(&cur, k);                                    \
        p = cur.pos;                                                         \
        end = cur.end;                                                       \
        ngx_edge_auth_json_wide();                                           \
    }

#define ngx_edge_auth_json_offset(p)  (cur.base + ((p) - cur.part->pos))

/* at the bottom of the stack */
#define NGX_EDGE_AUTH_JSON_NOTHING  0xfe


/* the SSE2 build of the checker, or the only one */

#if (NGX_EDGE_AUTH_JSON_SSE2)
#define NGX_EDGE_AUTH_JSON_SCOPE  static
#define NGX_EDGE_AUTH_JSON_FN     ngx_edge_auth_json_scan_sse2
#else
#define NGX_EDGE_AUTH_JSON_SCOPE
#define NGX_EDGE_AUTH_JSON_FN     ngx_edge_auth_json_scan
#endif

#else /* NGX_EDGE_AUTH_JSON_AVX2_PASS */

/*
 * The same loops, built again for AVX2 (32 bytes at a time) by this
 * file's own second inclusion at its end; the processor is asked at the
 * first call which of the two builds runs.
 */

#undef NGX_EDGE_AUTH_JSON_WIDE
#undef ngx_edge_auth_json_vectors
#undef ngx_edge_auth_json_vectors_init
#undef ngx_edge_auth_json_plain_mask
#undef ngx_edge_auth_json_blank_mask
#undef ngx_edge_auth_json_digit_mask
#undef ngx_edge_auth_json_first
#undef NGX_EDGE_AUTH_JSON_SCOPE
#undef NGX_EDGE_AUTH_JSON_FN

#define NGX_EDGE_AUTH_JSON_WIDE  32

#define ngx_edge_auth_json_vectors                                           \
    unsigned       m;                                                        \
    __m256i        x;                                                        \
    const u_char  *kv

/* the constant i */
#define ngx_edge_auth_json_c(i)  (*(const __m256i *) (kv + 32 * (i)))

#define ngx_edge_auth_json_vectors_init()                                    \
    kv = &ngx_edge_auth_json_k[0][0];                                        \
    __asm__ ("" : "+r" (kv))

#define ngx_edge_auth_json_eq(i)                                             \
    _mm256_cmpeq_epi8(x, ngx_edge_auth_json_c(i))

#define ngx_edge_auth_json_plain_mask()                                      \
    x = _mm256_loadu_si256((const __m256i *) p);                             \
    m = (unsigned) _mm256_movemask_epi8(                                     \
        _mm256_or_si256(_mm256_or_si256(ngx_edge_auth_json_eq(0),            \
                                        ngx_edge_auth_json_eq(1)),           \
                        _mm256_cmpgt_epi8(ngx_edge_auth_json_c(2), x)))

#define ngx_edge_auth_json_blank_mask()                                      \
    x = _mm256_loadu_si256((const __m256i *) p);                             \
    m = ~(unsigned) _mm256_movemask_epi8(                                    \
        _mm256_or_si256(_mm256_or_si256(ngx_edge_auth_json_eq(2),            \
                                        ngx_edge_auth_json_eq(3)),           \
                        _mm256_or_si256(ngx_edge_auth_json_eq(4),            \
                                        ngx_edge_auth_json_eq(5))))

#define ngx_edge_auth_json_digit_mask()                                      \
    x = _mm256_loadu_si256((const __m256i *) p);                             \
    m = ~(unsigned) _mm256_movemask_epi8(                                    \
        _mm256_and_si256(_mm256_cmpgt_epi8(x, ngx_edge_auth_json_c(6)),      \
                         _mm256_cmpgt_epi8(ngx_edge_auth_json_c(7), x)))

#define ngx_edge_auth_json_first(m)  ((size_t) __builtin_ctz(m))

#define NGX_EDGE_AUTH_JSON_SCOPE  static __attribute__((target("avx2")))
#define NGX_EDGE_AUTH_JSON_FN     ngx_edge_auth_json_scan_avx2_build

#endif /* NGX_EDGE_AUTH_JSON_AVX2_PASS */


NGX_EDGE_AUTH_JSON_SCOPE int
NGX_EDGE_AUTH_JSON_FN(const ngx_edge_auth_json_part_t *part, size_t n,
    ngx_edge_auth_json_member_pt member, void *data)
{
    int                               c, object, in_key;
    size_t                            depth, limit, i, k, start, key_len;
    u_char                            open, tmp[12];
    u_char                            stack[NGX_EDGE_AUTH_JSON_DEPTH + 3];
    uintptr_t                         wide;
    const char                       *word;
    const u_char                     *p, *end, *key;
    ngx_edge_auth_json_cursor_t       cur;
    const ngx_edge_auth_json_part_t  *key_part;
    ngx_edge_auth_json_vectors;

    if (n == 0) {
        return NGX_EDGE_AUTH_JSON_INVALID;
    }

    ngx_edge_auth_json_vectors_init();

    cur.part = part;
    cur.last = part + n;
    cur.base = 0;

    p = part->pos;
    end = part->last;
    ngx_edge_auth_json_wide();

    in_key = 0;
    key = NULL;
    key_part = NULL;
    key_len = 0;
    start = 0;

    if (member == NULL) {
        member = ngx_edge_auth_json_ignore;
    }

    ngx_edge_auth_json_space();

    /*
     * stack[depth]: what is open, and open the top of it.  Members are
     * reported at depth 1: the stack of a text that is not an object
     * starts at 2, so that it never is at 1.  At the bottom is nothing,
     * which nothing closes ('{' + 2 is '}', '[' + 2 is ']', nothing + 2 is
     * no byte).
     */

    object = (c == '{');
    depth = object ? 0 : 2;
    limit = depth + NGX_EDGE_AUTH_JSON_DEPTH;
    stack[depth] = NGX_EDGE_AUTH_JSON_NOTHING;
    open = NGX_EDGE_AUTH_JSON_NOTHING;

    goto value_c;

value:          /* a value is expected at p */

    c = ngx_edge_auth_json_peek();

value_c:        /* c == *p; white space is tested last */

    if (c == '"') {
        p++;
        ngx_edge_auth_json_plain();

        if (p < end && *p == '"') {
            p++;
            goto after;
        }

        in_key = 0;
        goto string;
    }

    if ((unsigned) (c - '0') < 10) {
        goto number;
    }

    if (c == '{') {
        if (depth == limit) {
            goto invalid;
        }

        stack[++depth] = '{';
        open = '{';
        p++;

        c = ngx_edge_auth_json_peek();

        if (c == '"') {
            goto key_quote;
        }

        if (ngx_edge_auth_json_is_blank(c)) {
            ngx_edge_auth_json_space();
        }

        if (c == '}') {
            open = stack[--depth];
            p++;
            goto after;
        }

        goto key_c;
    }

    if (c == '[') {
        if (depth == limit) {
            goto invalid;
        }

        stack[++depth] = '[';
        open = '[';
        p++;

        c = ngx_edge_auth_json_peek();

        if (ngx_edge_auth_json_is_blank(c)) {
            ngx_edge_auth_json_space();
        }

        if (c == ']') {
            open = stack[--depth];
            p++;
            goto after;
        }

        goto value_c;
    }

    switch (c) {

    case '-':
        p++;
        c = ngx_edge_auth_json_peek();

        if (c < '0' || c > '9') {
            goto invalid;
        }

        goto number;

    case 't':
        word = "true";
        k = 4;
        goto literal;

    case 'f':
        word = "false";
        k = 5;
        goto literal;

    case 'n':
        word = "null";
        k = 4;
        goto literal;

    case ' ': case '\n': case '\r': case '\t':
        ngx_edge_auth_json_space();
        goto value_c;

    default:
        goto invalid;
    }

key:            /* after a comma in an object */

    c = ngx_edge_auth_json_peek();

key_c:          /* c == *p */

    if (c != '"') {
        if (!ngx_edge_auth_json_is_blank(c)) {
            goto invalid;
        }

        ngx_edge_auth_json_space();

        if (c != '"') {
            goto invalid;
        }
    }

key_quote:      /* c == *p == '"' */

    if (depth == 1) {
        key = p;
        key_part = cur.part;
        start = ngx_edge_auth_json_offset(p);
    }

    p++;
    ngx_edge_auth_json_plain();

    if (p < end && *p == '"') {
        p++;
        goto colon;
    }

    in_key = 1;

    /* fall through */

string:         /* inside a string, up to p checked */

    ngx_edge_auth_json_plain();

    if (p == end) {
        if (!ngx_edge_auth_json_more()) {
            goto invalid;
        }

        goto string;
    }

    c = *p;

    if (c == '"') {
        p++;

        if (in_key) {
            goto colon;
        }

        goto after;
    }

    if (c >= 0x80) {

        /* a run of other than ASCII: sequence after sequence */

        do {
            ngx_edge_auth_json_item(ngx_edge_auth_json_utf8, 4);
        } while (p < end && *p >= 0x80);

        goto string;
    }

    if (c != '\\') {
        goto invalid;   /* a control character */
    }

    ngx_edge_auth_json_item(ngx_edge_auth_json_escape, 12);

    goto string;

colon:          /* after a key */

    if (depth == 1) {
        key_len = ngx_edge_auth_json_offset(p) - start;

        if (cur.part != key_part) {
            key = NULL;
        }
    }

    if (p < end && *p == ':') {
        p++;
        goto value;
    }

    ngx_edge_auth_json_space();

    if (c != ':') {
        goto invalid;
    }

    p++;
    goto value;

number:         /* c == *p, a digit */

    p++;

    if (c == '0') {
        c = ngx_edge_auth_json_peek();

    } else {
        ngx_edge_auth_json_digits();
    }

    if (c == '.') {
        p++;
        c = ngx_edge_auth_json_peek();

        if (c < '0' || c > '9') {
            goto invalid;
        }

        ngx_edge_auth_json_digits();
    }

    if ((c | 0x20) == 'e') {
        p++;
        c = ngx_edge_auth_json_peek();

        if (c == '+' || c == '-') {
            p++;
            c = ngx_edge_auth_json_peek();
        }

        if (c < '0' || c > '9') {
            goto invalid;
        }

        ngx_edge_auth_json_digits();
    }

    goto after;

literal:        /* word, k bytes */

    if ((size_t) (end - p) >= k) {
        for (i = 0; i < k; i++) {
            if (p[i] != (u_char) word[i]) {
                goto invalid;
            }
        }

        p += k;

    } else {
        cur.pos = p;
        cur.end = end;

        if (ngx_edge_auth_json_gather(&cur, tmp, k) != k
            || memcmp(tmp, word, k) != 0)
        {
            goto invalid;
        }

        ngx_edge_auth_json_skip(&cur, k);
        p = cur.pos;
        end = cur.end;
        ngx_edge_auth_json_wide();
    }

    /* fall through */

after:          /* a value ended at p */

    if (depth == 1) {
        member(data, key, key_len, start, ngx_edge_auth_json_offset(p));
    }

    c = ngx_edge_auth_json_peek();

after_c:        /* c == *p; white space is tested last */

    if (c == ',') {
        p++;

        if (open == '{') {
            goto key;
        }

        if (open == '[') {
            goto value;
        }

        goto invalid;
    }

    if (c == open + 2) {
        open = stack[--depth];
        p++;
        goto after;
    }

    if (ngx_edge_auth_json_is_blank(c)) {
        ngx_edge_auth_json_space();
        goto after_c;
    }

    if (c == -1 && open == NGX_EDGE_AUTH_JSON_NOTHING) {
        return object ? NGX_EDGE_AUTH_JSON_OBJECT
                      : NGX_EDGE_AUTH_JSON_NOT_OBJECT;
    }

invalid:

    return NGX_EDGE_AUTH_JSON_INVALID;
}


#ifndef NGX_EDGE_AUTH_JSON_AVX2_PASS


static void
ngx_edge_auth_json_ignore(void *data, const u_char *key, size_t key_len,
    size_t start, size_t end)
{
    (void) data;
    (void) key;
    (void) key_len;
    (void) start;
    (void) end;
}


/* cur->pos is at the end of its part: the next part that is not empty */

static int
ngx_edge_auth_json_next(ngx_edge_auth_json_cursor_t *cur)
{
    const ngx_edge_auth_json_part_t  *part;

    for (part = cur->part + 1; part < cur->last; part++) {

        if (part->last > part->pos) {
            cur->base += cur->part->last - cur->part->pos;
            cur->part = part;
            cur->pos = part->pos;
            cur->end = part->last;
            return 1;
        }
    }

    return 0;
}


/* up to n bytes from cur->pos on, across parts, into buf; how many */

static size_t
ngx_edge_auth_json_gather(ngx_edge_auth_json_cursor_t *cur, u_char *buf,
    size_t n)
{
    size_t                            got, k;
    const u_char                     *p, *end;
    const ngx_edge_auth_json_part_t  *part;

    got = 0;
    part = cur->part;
    p = cur->pos;
    end = cur->end;

    for ( ;; ) {
        k = end - p;

        if (k > n - got) {
            k = n - got;
        }

        memcpy(buf + got, p, k);
        got += k;

        if (got == n || ++part == cur->last) {
            return got;
        }

        p = part->pos;
        end = part->last;
    }
}


/* cur->pos n bytes on, across parts: there are that many */

static void
ngx_edge_auth_json_skip(ngx_edge_auth_json_cursor_t *cur, size_t n)
{
    while ((size_t) (cur->end - cur->pos) < n) {
        n -= cur->end - cur->pos;
        cur->pos = cur->end;

        if (!ngx_edge_auth_json_next(cur)) {
            return;
        }
    }

    cur->pos += n;
}


/* p at a backslash: the length of the escape, or 0 */

static size_t
ngx_edge_auth_json_escape(const u_char *p, const u_char *end)
{
    unsigned  u, low;

    if (end - p < 2) {
        return 0;
    }

    switch (p[1]) {

    case '"': case '\\': case '/':
    case 'b': case 'f': case 'n': case 'r': case 't':
        return 2;

    case 'u':
        if (ngx_edge_auth_json_hex4(p + 2, end, &u) != 0
            || (u >= 0xdc00 && u <= 0xdfff))
        {
            return 0;
        }

        if (u < 0xd800 || u > 0xdbff) {
            return 6;
        }

        /* a high surrogate needs its low half */

        if (end - p < 12 || p[6] != '\\' || p[7] != 'u'
            || ngx_edge_auth_json_hex4(p + 8, end, &low) != 0
            || low < 0xdc00 || low > 0xdfff)
        {
            return 0;
        }

        return 12;
    }

    return 0;
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

        /* printable ASCII but the backslash: as it is, letters folded */

        if (c >= 0x20 && c < 0x7f && c != '\\') {
            if (n < size) {
                out[n] = (c >= 'A' && c <= 'Z') ? (c | 0x20) : c;
            }

            n++;
            p++;
            continue;
        }

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


#if (NGX_EDGE_AUTH_JSON_SSE2)

/* the AVX2 build: this file again, its checker alone */

#define NGX_EDGE_AUTH_JSON_AVX2_PASS  1
#include "ngx_edge_auth_json_scan.c"


int  ngx_edge_auth_json_scan_avx2 = -1;


int
ngx_edge_auth_json_scan(const ngx_edge_auth_json_part_t *part, size_t n,
    ngx_edge_auth_json_member_pt member, void *data)
{
    if (ngx_edge_auth_json_scan_avx2 < 0) {
        __builtin_cpu_init();
        ngx_edge_auth_json_scan_avx2 = __builtin_cpu_supports("avx2") != 0;
    }

    if (ngx_edge_auth_json_scan_avx2) {
        return ngx_edge_auth_json_scan_avx2_build(part, n, member, data);
    }

    return ngx_edge_auth_json_scan_sse2(part, n, member, data);
}

#else

int  ngx_edge_auth_json_scan_avx2 = 0;

#endif

#endif /* NGX_EDGE_AUTH_JSON_AVX2_PASS */
