
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


#if (NGX_EDGE_AUTH_JSON_BLOCKS_PASS)

#if (NGX_EDGE_AUTH_JSON_COMPACT_BUILD)

/*
 * The compact blocks, in a loop of their own (at nginx's -O the general
 * loop below keeps some 35 values and spills them around every block):
 * blocks in place, nothing but brackets, colons, commas, digits and
 * strings outside strings (white space only inside them), no control, no
 * byte from 0x80, no backslash, not near the top of the nesting (no
 * member to report).  It stops before the first block that is not so, or
 * that it finds an error in, and leaves that block to the general loop:
 * the carries it keeps are the general loop's, with no white space.
 */

NGX_EDGE_AUTH_JSON_BLOCKS_SCOPE __attribute__((noinline)) size_t
NGX_EDGE_AUTH_JSON_FAST_FN(const u_char *p, const u_char *end,
    ngx_edge_auth_json_fast_t *f)
{
    int                 st;
    unsigned            i;
    unsigned char       carry;
    uint64_t            q, w, sp, open, close, colon, comma, instr, s, sh;
    uint64_t            as, t, m, x, objm, obj_c, n1, n2, n3, n4, n5, x5;
    uint64_t            keyexp, kq, err, in_c, s_c, c1, c2, c3, c4, c5, v_c;
    unsigned long long  kq_c, sum;
    u_char              c, *stk, *bstk, *low, *stk_limit, *top1;
    const u_char       *start, *kb;
    ngx_edge_auth_json_class_vectors;

    kb = &ngx_edge_auth_json_bk[0][0];
    __asm__ ("" : "+r" (kb));
    ngx_edge_auth_json_class_init();

    in_c = f->in_c;
    s_c = f->s_c;
    st = f->st;
    c1 = f->c1;
    c2 = f->c2;
    c3 = f->c3;
    c4 = f->c4;
    c5 = f->c5;
    v_c = f->v_c;
    kq_c = f->kq_c;
    obj_c = f->obj_c;
    stk = f->stk;
    stk_limit = f->stk_limit;
    top1 = f->top1;

    start = p;

    while ((size_t) (end - p) >= 64) {

        ngx_edge_auth_json_classify(p);

        if (sp) {
            break;
        }

        if (q == 0 && in_c) {

            /* inside a long string, as in the general loop */

            do {
                p += 64;
            } while ((size_t) (end - p) >= 64
                     && !ngx_edge_auth_json_special(p));

            continue;
        }

        instr = (uint64_t) _mm_cvtsi128_si64(_mm_clmulepi64_si128(
                    _mm_cvtsi64_si128((long long) q),
                    _mm_set1_epi8((char) 0xff), 0))
                ^ in_c;

        if (w & ~instr) {
            break;
        }

        open = ngx_edge_auth_json_class(2) & ~instr;
        close = ngx_edge_auth_json_class(3) & ~instr;
        colon = ngx_edge_auth_json_class(4) & ~instr;
        comma = ngx_edge_auth_json_class(5) & ~instr;

        /* scalars: digits only, no leading zero */

        s = ~(open | close | colon | comma | q | instr);
        sh = (s << 1) | s_c;
        as = sh & ~s;

        if (s) {
            if (s & ~ngx_edge_auth_json_class(6)) {
                break;
            }

            if (s & s_c & (st == NGX_EDGE_AUTH_JSON_S_ZERO)) {
                break;
            }

            for (m = s & ~sh; m; m &= m - 1) {
                i = __builtin_ctzll(m);

                if (p[i] == '0' && (s >> i >> 1 & 1)) {
                    goto done;
                }
            }
        }

        /* the brackets: nesting, matching, and each byte's context */

        m = open | close;
        objm = obj_c;
        x = obj_c;
        bstk = stk;

        for (t = m; t; t &= t - 1) {
            i = __builtin_ctzll(t);
            c = p[i];

            if (c & 2) {
                if (bstk == stk_limit) {
                    m &= ~t;
                    goto undo;
                }

                *++bstk = c;

            } else {
                if (c != *bstk + 2 || bstk - 1 <= top1) {
                    m &= ~t;
                    goto undo;
                }

                bstk--;
            }

            sum = 0 - (uint64_t) (*bstk >> 5 & 1);
            objm ^= (sum ^ x) & (~0ULL << i);
            x = sum;
        }

        /* the grammar, as in the general loop with no white space */

        n1 = (open << 1) | c1;
        n2 = ((comma | colon) << 1) | c2;
        n3 = (((open | comma) & objm) << 1) | c3;

        keyexp = n3 & q;
        carry = _addcarry_u64((unsigned char) kq_c, instr, keyexp, &sum);
        kq = sum & ~instr;

        x5 = close | (q & ~instr & ~kq);
        n4 = (kq << 1) | c4;
        n5 = (x5 << 1) | v_c | as | c5;

        err = (n1 & ~(q | s | open | close))
              | (n2 & ~(q | s | open))
              | (n3 & ~(q | close))
              | (n4 & ~colon)
              | (n5 & ~(comma | close));

        if (err) {
            goto undo;
        }

        /* the block is good: its carries */

        kq_c = carry;
        in_c = (uint64_t) ((int64_t) instr >> 63);
        st = (s >> 63 == 0) ? NGX_EDGE_AUTH_JSON_S_START
             : (p[63] == '0' && !(sh >> 63)) ? NGX_EDGE_AUTH_JSON_S_ZERO
             : NGX_EDGE_AUTH_JSON_S_INT;
        s_c = s >> 63;
        c1 = open >> 63;
        c2 = (comma | colon) >> 63;
        c3 = ((open | comma) & objm) >> 63;
        c4 = kq >> 63;
        c5 = 0;
        v_c = x5 >> 63;
        obj_c = x;
        stk = bstk;
        p += 64;
    }

    goto done;

undo:

    /*
     * The general loop does the block again from the stack as it was: a
     * push after a pop may have overwritten what was popped, which was
     * the opening bracket of the closing one, each slot from its first pop
     */

    bstk = stk;
    low = stk;

    for (t = m; t; t &= t - 1) {
        i = __builtin_ctzll(t);
        c = p[i];

        if (c & 2) {
            bstk++;
            continue;
        }

        if (bstk == low) {
            *low-- = c - 2;
        }

        bstk--;
    }

done:

    f->in_c = in_c;
    f->s_c = s_c;
    f->st = st;
    f->c1 = c1;
    f->c2 = c2;
    f->c3 = c3;
    f->c4 = c4;
    f->c5 = c5;
    f->v_c = v_c;
    f->kq_c = kq_c;
    f->obj_c = obj_c;
    f->stk = stk;

    return p - start;
}

#endif

NGX_EDGE_AUTH_JSON_BLOCKS_SCOPE int
NGX_EDGE_AUTH_JSON_BLOCKS_FN(const ngx_edge_auth_json_part_t *part,
    size_t n, ngx_edge_auth_json_member_pt member, void *data,
    size_t *reported)
{
    int                               st, object, first, compact;
    u_char                            c, buf[64];
    u_char                            stack[NGX_EDGE_AUTH_JSON_DEPTH + 3];
    size_t                            base, off, k, got;
    size_t                            key_start, key_len, members;
    unsigned                          i, cover;
    uint64_t                          q, w, sp, open, close, colon, comma;
    uint64_t                          digit, instr, s, sh, as, t, err;
    uint64_t                          x1, x2, x3, x4, x5, n1, n2, n3, n4, n5;
    uint64_t                          keyexp, kq, cq, m, ev, v, near, bs;
    uint64_t                          in_c, s_c, c1, c2, c3, c4, c5, v_c;
    uint64_t                          esc_c;
    uint64_t                          obj_c, d1_c, out_c, objm, d1m, outm;
    unsigned long long                kq_c, sum;
    ngx_edge_auth_json_class_vectors;
    const u_char                     *p, *end, *blk, *kb, *lim;
    u_char                           *stk, *stk_limit, *stk_start, *top1, *d;
    const ngx_edge_auth_json_part_t  *last;
    ngx_edge_auth_json_fast_t         fast;

    kb = &ngx_edge_auth_json_bk[0][0];
    __asm__ ("" : "+r" (kb));
    ngx_edge_auth_json_class_init();

    last = part + n;
    p = part->pos;
    end = part->last;

    /* the first byte that is not white space: is it an object */

    object = 0;

    for ( ;; ) {
        while (p < end && ngx_edge_auth_json_is_blank(*p)) {
            p++;
        }

        if (p < end) {
            object = (*p == '{');
            break;
        }

        if (++part == last) {
            break;
        }

        p = part->pos;
        end = part->last;
    }

    part = last - n;
    p = part->pos;
    end = part->last;

    /* as in the one-pass checker: members at depth 1 of an object only */

    base = object ? 0 : 2;
    stk = stack + base;
    stk_limit = stk + NGX_EDGE_AUTH_JSON_DEPTH;
    stk_start = stk;
    top1 = stk + 1;
    *stk = NGX_EDGE_AUTH_JSON_BOTTOM;

    st = NGX_EDGE_AUTH_JSON_S_START;
    in_c = 0;
    s_c = 0;
    c1 = 0;
    c2 = 1;         /* a value first */
    c3 = 0;
    c4 = 0;
    c5 = 0;
    v_c = 0;
    kq_c = 0;
    esc_c = 0;
    cover = 0;
    obj_c = 0;
    d1_c = 0;
    out_c = ~0ULL;
    key_start = 0;
    key_len = 0;
    members = 0;
    off = 0;
    first = 1;
    got = 64;
    compact = 1;

    for ( ;; ) {

        /* compact blocks deep in the nesting: the loop of their own */

        if (compact && (size_t) (end - p) >= 64
            && (esc_c | cover | d1_c | out_c) == 0 && stk > top1
            && (s_c == 0 || st == NGX_EDGE_AUTH_JSON_S_ZERO
                || st == NGX_EDGE_AUTH_JSON_S_INT))
        {
            fast.in_c = in_c;
            fast.s_c = s_c;
            fast.st = st;
            fast.c1 = c1;
            fast.c2 = c2;
            fast.c3 = c3;
            fast.c4 = c4;
            fast.c5 = c5;
            fast.v_c = v_c;
            fast.kq_c = kq_c;
            fast.obj_c = obj_c;
            fast.stk = stk;
            fast.stk_limit = stk_limit;
            fast.top1 = top1;

            k = NGX_EDGE_AUTH_JSON_FAST_FN(p, end, &fast);

            if (k) {
                in_c = fast.in_c;
                s_c = fast.s_c;
                st = fast.st;
                c1 = fast.c1;
                c2 = fast.c2;
                c3 = fast.c3;
                c4 = fast.c4;
                c5 = fast.c5;
                v_c = fast.v_c;
                kq_c = fast.kq_c;
                obj_c = fast.obj_c;
                stk = fast.stk;
                stk_start = stk;
                p += k;
                off += k;
                first = 0;
                ngx_edge_auth_json_blocks_compact += k / 64;
            }
        }

        /* the next 64 bytes: in place, or gathered across parts */

        while (p == end && part + 1 < last) {
            part++;
            p = part->pos;
            end = part->last;
        }

        if ((size_t) (end - p) >= 64) {
            blk = p;
            lim = end;
            p += 64;

        } else {
            got = 0;

            for ( ;; ) {
                k = end - p;

                if (k > 64 - got) {
                    k = 64 - got;
                }

                memcpy(buf + got, p, k);
                got += k;
                p += k;

                if (got == 64 || part + 1 == last) {
                    break;
                }

                part++;
                p = part->pos;
                end = part->last;
            }

            if (got == 0 && !first) {
                break;
            }

            memset(buf + got, ' ', 64 - got);
            blk = buf;
            lim = buf + 64;
        }

        first = 0;

        /* classes */

        ngx_edge_auth_json_classify(blk);

        if ((q | sp | esc_c | cover) == 0 && in_c) {

            /*
             * inside a long string: nothing changes, in this block and in
             * the next ones of the part without a quote, a control, a
             * byte from 0x80 or a backslash, looked at with fewer tests
             */

            while ((size_t) (end - p) >= 64
                   && !ngx_edge_auth_json_special(p))
            {
                p += 64;
                off += 64;
            }

            goto next;
        }

        bs = 0;

        if (sp | esc_c) {
            bs = ngx_edge_auth_json_class_backslash();

            if (bs | esc_c) {

                /*
                 * The escaped bytes: those after an odd run of
                 * backslashes (simdjson's subtraction); bs: the escapes
                 */

                t = bs & ~esc_c;
                x1 = (((t << 1) | NGX_EDGE_AUTH_JSON_ODD) - t)
                     ^ NGX_EDGE_AUTH_JSON_ODD;
                q &= ~(x1 ^ (bs | esc_c));
                bs &= x1;
                esc_c = bs >> 63;
            }

            w |= ngx_edge_auth_json_class_ctrlw();
        }

        /* inside strings: from an opening quote to before its closing one */

        instr = (uint64_t) _mm_cvtsi128_si64(_mm_clmulepi64_si128(
                    _mm_cvtsi64_si128((long long) q),
                    _mm_set1_epi8((char) 0xff), 0))
                ^ in_c;
        in_c = (uint64_t) ((int64_t) instr >> 63);

        if (sp | cover) {
            m = ngx_edge_auth_json_class_high();

            /*
             * outside strings only white space; inside no control; each
             * escape and each UTF-8 sequence checked in place (from the
             * part, or from the block when it was gathered), and the bytes
             * of one that ran into the next block not looked at again
             */

            if (sp & ~instr & ~w) {
                goto undecided;
            }

            if (sp & instr & ~m & ~ngx_edge_auth_json_class_backslash()) {
                goto undecided;
            }

            m = (m | bs) & instr & (~0ULL << cover);
            cover = 0;

            while (m) {
                i = __builtin_ctzll(m);

                k = (blk[i] == '\\')
                    ? ngx_edge_auth_json_escape(blk + i, lim)
                    : ngx_edge_auth_json_utf8(blk + i, lim);

                if (k == 0) {
                    goto undecided;
                }

                if (i + k >= 64) {
                    cover = i + k - 64;
                    break;
                }

                m &= ~0ULL << (i + k);
            }
        }

        open = ngx_edge_auth_json_class(2) & ~instr;
        close = ngx_edge_auth_json_class(3) & ~instr;
        colon = ngx_edge_auth_json_class(4) & ~instr;
        comma = ngx_edge_auth_json_class(5) & ~instr;
        w &= ~instr;
        cq = q & ~instr;

        /* the compact loop for the next block, unless white space is near */

        compact = ((w | sp) == 0);

        /* scalars: the other bytes outside strings */

        s = ~(w | open | close | colon | comma | q | instr);
        sh = (s << 1) | s_c;
        as = sh & ~s;

        if (s) {
            digit = ngx_edge_auth_json_class(6);

            if ((s & ~digit) == 0
                && (s_c == 0 || st == NGX_EDGE_AUTH_JSON_S_INT))
            {
                /* digits only: no leading zero */

                for (m = s & ~sh; m; m &= m - 1) {
                    i = __builtin_ctzll(m);

                    if (blk[i] == '0' && i < 63 && (s >> (i + 1) & 1)) {
                        goto undecided;
                    }
                }

                st = (s >> 63 == 0) ? NGX_EDGE_AUTH_JSON_S_START
                     : (blk[63] == '0' && !(sh >> 63))
                       ? NGX_EDGE_AUTH_JSON_S_ZERO : NGX_EDGE_AUTH_JSON_S_INT;

            } else if (ngx_edge_auth_json_scalars(blk, s, s_c, &st) != 0) {
                goto undecided;
            }

        } else if (s_c) {
            if (!ngx_edge_auth_json_s_accepts(st)) {
                goto undecided;
            }

            st = NGX_EDGE_AUTH_JSON_S_START;
        }

        s_c = s >> 63;

        /*
         * The brackets, one by one: nesting and its limit; v gets a bit at
         * each bracket after which an object is open.  The comma's
         * context is then the bit of the last bracket before it: v packed
         * to the brackets' order (pext), its changes, put back (pdep) and
         * summed by prefix xor.
         */

        m = open | close;
        v = 0;
        near = (stk <= top1);

        for (t = m; t; t &= t - 1) {
            i = __builtin_ctzll(t);
            c = blk[i];

            if (c & 2) {
                if (stk == stk_limit) {
                    goto undecided;
                }

                *++stk = c;

            } else {
                if (c != *stk + 2) {
                    goto undecided;
                }

                stk--;
                near |= (stk <= top1);
            }

            v |= (uint64_t) (*stk >> 5 & 1) << i;
        }

        objm = obj_c;

        if (m) {
            v = _pext_u64(v, m);
            v ^= (v << 1) | (obj_c & 1);
            objm ^= (uint64_t) _mm_cvtsi128_si64(_mm_clmulepi64_si128(
                        _mm_cvtsi64_si128((long long) _pdep_u64(v, m)),
                        _mm_set1_epi8((char) 0xff), 0));
            obj_c = (uint64_t) 0 - (*stk >> 5 & 1);
        }

        d1m = d1_c;
        outm = out_c;

        if (near) {

            /* near the top: depth 1 and the outside, from the next byte */

            d = stk_start;

            for (t = m; t; t &= t - 1) {
                i = __builtin_ctzll(t);
                d += (blk[i] & 2) ? 1 : -1;
                x1 = (d == stack + 1) ? ~0ULL : 0;
                x2 = (d == stack + base) ? ~0ULL : 0;
                d1m ^= (x1 ^ d1_c) & ((~0ULL << i) << 1);
                outm ^= (x2 ^ out_c) & ((~0ULL << i) << 1);
                d1_c = x1;
                out_c = x2;
            }
        }

        stk_start = stk;

        /* the grammar */

        x1 = open;
        x2 = comma | colon;
        x3 = (open | comma) & objm;

        n1 = ngx_edge_auth_json_after(x1, c1);
        n2 = ngx_edge_auth_json_after(x2, c2);
        n3 = ngx_edge_auth_json_after(x3, c3);

        if (w) {
            n1 = ngx_edge_auth_json_past_space(n1, c1);
            n2 = ngx_edge_auth_json_past_space(n2, c2);
            n3 = ngx_edge_auth_json_past_space(n3, c3);
        }

        keyexp = n3 & q;
        kq_c = _addcarry_u64((unsigned char) kq_c, instr, keyexp, &sum);
        kq = sum & ~instr;

        x4 = kq;
        x5 = close | (cq & ~kq);

        /* a value's end: a white space run's carry is no value's end */

        n4 = ngx_edge_auth_json_after(x4, c4);
        sh = ngx_edge_auth_json_after(x5, v_c) | as;
        n5 = sh | c5;
        c5 = 0;

        if (w) {
            n4 = ngx_edge_auth_json_past_space(n4, c4);
            n5 = ngx_edge_auth_json_past_space(n5, c5);
        }

        err = (n1 & ~(q | s | open | close))
              | (n2 & ~(q | s | open))
              | (n3 & ~(q | close))
              | (n4 & ~colon)
              | (n5 & ~(comma | close))
              | ((comma | colon) & outm);

        if (err) {
            goto undecided;
        }

        /* the members: a key at depth 1, its end, its value's end */

        ev = (keyexp | kq | sh) & d1m;

        while (ev) {
            i = __builtin_ctzll(ev);
            m = 1ULL << i;

            if (sh & m) {
                member(data,
                       ngx_edge_auth_json_key_at(last - n, last, key_start,
                                                 key_len),
                       key_len, key_start, off + i);
                members++;
            }

            if (keyexp & m) {
                key_start = off + i;
            }

            if (kq & m) {
                key_len = off + i + 1 - key_start;
            }

            ev &= ev - 1;
        }

    next:

        off += 64;

        if (blk == buf && got < 64) {
            break;
        }
    }

    /* the end: one value, nothing open, nothing expected */

    if (stk != stack + base || in_c || c1 || c2 || c3 || c4 || !(c5 | v_c)
        || (s_c && !ngx_edge_auth_json_s_accepts(st)))
    {
        goto undecided;
    }

    return object ? NGX_EDGE_AUTH_JSON_OBJECT : NGX_EDGE_AUTH_JSON_NOT_OBJECT;

undecided:

    *reported = members;

    return NGX_EDGE_AUTH_JSON_UNDECIDED;
}


#else /* !NGX_EDGE_AUTH_JSON_BLOCKS_PASS */

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

#define ngx_edge_auth_json_first(m)  ((size_t) (unsigned) __builtin_ctz(m))

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


/*
 * The lane: the loop below for what most of a large body is, values under
 * the top-level members (no member to report), with no end of a part in
 * sight.  It runs while at least NGX_EDGE_AUTH_JSON_ROOM bytes are left in
 * the part, which it asks at each bracket opened or closed, comma, run of
 * white space, string longer than one load and a number's fraction or
 * exponent, and reads the bytes between without asking: a key and a value
 * of one load each (an integer of less than WIDE digits), a colon, a few
 * blanks, at most 3 WIDE + 5 bytes past where it last asked, whose room
 * is 4 WIDE + 32.  Its grammar is the loop's (the code it runs in says which
 * token may come next), on the loop's stack; anything else (an escape,
 * a byte from 0x80, a long number, an error, the bracket that closes a
 * top-level member's value, the end of its room) it leaves to the loop
 * at the start of that token, with the state the loop takes it up in.
 * What the loop would do at the byte after a value the lane does on the
 * cold side of its branches: a fraction or an exponent is taken where a
 * digit precedes them.
 */

#define NGX_EDGE_AUTH_JSON_ROOM  (4 * NGX_EDGE_AUTH_JSON_WIDE + 32)

/* p at a blank: past the run, or to leave when the room ends in it */

#define ngx_edge_auth_json_lane_blanks(leave)                                \
    if (*++p > ' ') {                                                        \
        /* void */                                                           \
    } else {                                                                 \
        for ( ;; ) {                                                         \
            if (p > safe) {                                                  \
                goto leave;                                                  \
            }                                                                \
            ngx_edge_auth_json_blank_mask();                                 \
            if (m) {                                                         \
                p += ngx_edge_auth_json_first(m);                            \
                break;                                                       \
            }                                                                \
            p += NGX_EDGE_AUTH_JSON_WIDE;                                    \
        }                                                                    \
    }

/*
 * p at the first byte inside a string: past its closing quote, or to
 * plain when a byte in it is not plain, or to leave when the room ends
 * in it (long: the string was longer than one load)
 */

#define ngx_edge_auth_json_lane_string(plain, leave)                         \
    ngx_edge_auth_json_plain_mask();                                         \
    if (m == 0) {                                                            \
        do {                                                                 \
            p += NGX_EDGE_AUTH_JSON_WIDE;                                    \
            if (p > wide) {                                                  \
                goto plain;                                                  \
            }                                                                \
            ngx_edge_auth_json_plain_mask();                                 \
        } while (m == 0);                                                    \
        p += ngx_edge_auth_json_first(m);                                    \
        if (*p != '"') {                                                     \
            goto plain;                                                      \
        }                                                                    \
        if (++p > safe) {                                                    \
            goto leave;                                                      \
        }                                                                    \
    } else {                                                                 \
        p += ngx_edge_auth_json_first(m);                                    \
        if (*p != '"') {                                                     \
            goto plain;                                                      \
        }                                                                    \
        p++;                                                                 \
    }

/* p past the digits from p on, or to back when there are WIDE of them */

#define ngx_edge_auth_json_lane_digits(back)                                 \
    ngx_edge_auth_json_digit_mask();                                         \
    if (m == 0) {                                                            \
        goto back;                                                           \
    }                                                                        \
    p += ngx_edge_auth_json_first(m)

/* where the lane leaves the text to the loop: the state to take it up in */

#define NGX_EDGE_AUTH_JSON_L_VALUE   0   /* a value is expected at p */
#define NGX_EDGE_AUTH_JSON_L_KEY     1   /* a key, after a comma */
#define NGX_EDGE_AUTH_JSON_L_OBJECT  2   /* a key or '}', after '{' */
#define NGX_EDGE_AUTH_JSON_L_ARRAY   3   /* a value or ']', after '[' */
#define NGX_EDGE_AUTH_JSON_L_COLON   4   /* a colon, after a key */
#define NGX_EDGE_AUTH_JSON_L_AFTER   5   /* a value ended at p */


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

#define NGX_EDGE_AUTH_JSON_LANE_SCOPE  static
#define NGX_EDGE_AUTH_JSON_LANE_FN     ngx_edge_auth_json_lane

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
#undef NGX_EDGE_AUTH_JSON_LANE_SCOPE
#undef NGX_EDGE_AUTH_JSON_LANE_FN

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

#define ngx_edge_auth_json_first(m)  ((size_t) (unsigned) __builtin_ctz(m))

#define NGX_EDGE_AUTH_JSON_SCOPE  static __attribute__((target("avx2")))
#define NGX_EDGE_AUTH_JSON_FN     ngx_edge_auth_json_scan_avx2_build

#define NGX_EDGE_AUTH_JSON_LANE_SCOPE                                        \
    static __attribute__((target("avx2")))
#define NGX_EDGE_AUTH_JSON_LANE_FN     ngx_edge_auth_json_lane_avx2

#endif /* NGX_EDGE_AUTH_JSON_AVX2_PASS */


/*
 * *pos at a token the loop would take in state st, at depth *depth_p of
 * its stack; at least NGX_EDGE_AUTH_JSON_ROOM bytes from *pos to end.
 * Returns the state the loop takes the text up in at the new *pos, with
 * the new depth.  Not inlined: at -O the loop's registers would be its.
 */

NGX_EDGE_AUTH_JSON_LANE_SCOPE __attribute__((noinline)) int
NGX_EDGE_AUTH_JSON_LANE_FN(const u_char **pos, const u_char *end, int st,
    u_char *stack, size_t *depth_p, size_t limit)
{
    u_char         c, *top, *full, *bottom;
    const u_char  *p, *safe, *wide;
    ngx_edge_auth_json_vectors;

    ngx_edge_auth_json_vectors_init();

    p = *pos;
    safe = end - NGX_EDGE_AUTH_JSON_ROOM;
    wide = end - NGX_EDGE_AUTH_JSON_WIDE;
    top = stack + *depth_p;
    full = stack + limit;

    /*
     * The bracket at bottom it leaves to the loop, which reports a member
     * after it or ends the text there: the loop's stack starts at 0 for
     * an object (the text at 1, the top-level members' values at 2), at 2
     * for any other text (its own bracket at 3), see below.
     */

    bottom = stack + ((limit == NGX_EDGE_AUTH_JSON_DEPTH) ? 2 : 3);

    switch (st) {

    case NGX_EDGE_AUTH_JSON_L_KEY:
        goto key;

    case NGX_EDGE_AUTH_JSON_L_OBJECT:
        goto object;

    case NGX_EDGE_AUTH_JSON_L_ARRAY:
        goto array;

    default: /* NGX_EDGE_AUTH_JSON_L_VALUE */
        goto value;
    }

value:          /* a value is expected at p */

    /* the usual ones first: gcc makes a search tree of a switch */

    c = *p;

    if (c == '"') {
        p++;
        ngx_edge_auth_json_lane_string(value_string, leave_after);
        goto after;
    }

    if ((u_char) (c - '1') < 9) {
        p++;
        ngx_edge_auth_json_lane_digits(number_back);
        goto after;
    }

    if (c == '{') {
        if (top == full || p > safe) {
            goto leave_value;
        }

        *++top = '{';
        p++;
        goto object;
    }

    switch (c) {

    case '0':
        p++;
        goto after;

    case '-':
        c = p[1];

        if (c == '0') {
            p += 2;
            goto after;
        }

        if ((u_char) (c - '1') < 9) {
            p += 2;
            ngx_edge_auth_json_lane_digits(number_back);
            goto after;
        }

        goto leave_value;

    case '[':
        if (top == full || p > safe) {
            goto leave_value;
        }

        *++top = '[';
        p++;
        goto array;

    case 't':
        if (p[1] != 'r' || p[2] != 'u' || p[3] != 'e') {
            goto leave_value;
        }

        p += 4;
        goto after;

    case 'f':
        if (p[1] != 'a' || p[2] != 'l' || p[3] != 's' || p[4] != 'e') {
            goto leave_value;
        }

        p += 5;
        goto after;

    case 'n':
        if (p[1] != 'u' || p[2] != 'l' || p[3] != 'l') {
            goto leave_value;
        }

        p += 4;
        goto after;

    default:
        if (ngx_edge_auth_json_is_blank(c)) {
            ngx_edge_auth_json_lane_blanks(leave_value);
            goto value;
        }

        goto leave_value;
    }

array:          /* after '[': a value or ']' */

    c = *p;

    if (c == ']') {
        goto close;
    }

    if (ngx_edge_auth_json_is_blank(c)) {
        ngx_edge_auth_json_lane_blanks(leave_array);

        if (*p == ']') {
            goto close;
        }
    }

    goto value;

object:         /* after '{': a key or '}' */

    c = *p;

    if (c == '"') {
        goto key_quote;
    }

    if (c == '}') {
        goto close;
    }

    if (!ngx_edge_auth_json_is_blank(c)) {
        goto leave_object;
    }

    ngx_edge_auth_json_lane_blanks(leave_object);

    if (*p == '}') {
        goto close;
    }

    /* fall through */

key:            /* after a comma in an object */

    if (*p != '"') {
        c = *p;

        if (!ngx_edge_auth_json_is_blank(c)) {
            goto leave_key;
        }

        ngx_edge_auth_json_lane_blanks(leave_key);

        if (*p != '"') {
            goto leave_key;
        }
    }

key_quote:      /* *p == '"' */

    p++;
    ngx_edge_auth_json_lane_string(key_string, leave_colon);

    if (*p != ':') {
        c = *p;

        if (!ngx_edge_auth_json_is_blank(c)) {
            goto leave_colon;
        }

        ngx_edge_auth_json_lane_blanks(leave_colon);

        if (*p != ':') {
            goto leave_colon;
        }
    }

    p++;
    goto value;

after:          /* a value ended at p */

    c = *p;

    if (c == ',') {
        if (p > safe) {
            goto leave_after;
        }

        p++;

        if (*top == '{') {
            goto key;
        }

        goto value;
    }

    if (c == *top + 2) {

close:          /* *p closes the open bracket */

        if (top == bottom || p > safe) {
            goto leave_close;
        }

        top--;
        p++;
        goto after;
    }

    if (ngx_edge_auth_json_is_blank(c)) {
        ngx_edge_auth_json_lane_blanks(leave_after);
        goto after;
    }

    switch (c) {

    case '.':
        if ((u_char) (p[-1] - '0') >= 10) {
            goto leave_after;
        }

        if (p > safe) {
            goto number_back;   /* the room may end in the fraction */
        }

        p++;
        ngx_edge_auth_json_lane_digits(number_back);

        if (ngx_edge_auth_json_first(m) == 0) {
            goto number_back;   /* no digit after the dot */
        }

        if ((*p | 0x20) != 'e') {
            goto after_number;
        }

        /* fall through */

    case 'e': case 'E':
        if ((u_char) (p[-1] - '0') >= 10) {
            goto leave_after;
        }

        if (p > safe) {
            goto number_back;
        }

        c = *++p;

        if (c == '+' || c == '-') {
            p++;
        }

        ngx_edge_auth_json_lane_digits(number_back);

        if (ngx_edge_auth_json_first(m) == 0) {
            goto number_back;   /* no digit in the exponent */
        }

        goto after_number;

    default:
        goto leave_after;
    }

after_number:   /* after a fraction or an exponent: no other one */

    c = *p;

    if (c == ',' || c == *top + 2) {
        goto after;
    }

    if (!ngx_edge_auth_json_is_blank(c)) {
        goto leave_after;
    }

    goto after;

number_back:    /* WIDE digits, or none where one must be: the loop takes
                   the number again from its start */

    while (p[-1] == '.' || p[-1] == 'e' || p[-1] == 'E' || p[-1] == '+'
           || p[-1] == '-' || (u_char) (p[-1] - '0') < 10)
    {
        p--;
    }

    goto leave_value;

value_string:   /* a byte the lane leaves to the loop: the opening quote */

    while (*--p != '"') { /* void */ }

    goto leave_value;

key_string:

    while (*--p != '"') { /* void */ }

    goto leave_key;

leave_value:
    st = NGX_EDGE_AUTH_JSON_L_VALUE;
    goto leave;

leave_key:
    st = NGX_EDGE_AUTH_JSON_L_KEY;
    goto leave;

leave_object:
    st = NGX_EDGE_AUTH_JSON_L_OBJECT;
    goto leave;

leave_array:
    st = NGX_EDGE_AUTH_JSON_L_ARRAY;
    goto leave;

leave_colon:
    st = NGX_EDGE_AUTH_JSON_L_COLON;
    goto leave;

leave_close:
leave_after:
    st = NGX_EDGE_AUTH_JSON_L_AFTER;

leave:

    *pos = p;
    *depth_p = top - stack;

    return st;
}


NGX_EDGE_AUTH_JSON_SCOPE int
NGX_EDGE_AUTH_JSON_FN(const ngx_edge_auth_json_part_t *part, size_t n,
    ngx_edge_auth_json_member_pt member, void *data)
{
    int                               c, object, in_key, st;
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

        if (depth >= 2 && (size_t) (end - p) >= NGX_EDGE_AUTH_JSON_ROOM) {
            st = NGX_EDGE_AUTH_JSON_L_OBJECT;
            goto lane;
        }

object_open:    /* after '{' */

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

        if (depth >= 2 && (size_t) (end - p) >= NGX_EDGE_AUTH_JSON_ROOM) {
            st = NGX_EDGE_AUTH_JSON_L_ARRAY;
            goto lane;
        }

array_open:     /* after '[' */

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

        if (depth < 2 || (size_t) (end - p) < NGX_EDGE_AUTH_JSON_ROOM) {
            if (open == '{') {
                goto key;
            }

            if (open == '[') {
                goto value;
            }

            goto invalid;
        }

        if (open == '{') {
            st = NGX_EDGE_AUTH_JSON_L_KEY;
            goto lane;
        }

        if (open == '[') {
            st = NGX_EDGE_AUTH_JSON_L_VALUE;
            goto lane;
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

    goto invalid;

lane:           /* below the top-level members, in the part's room */

    st = NGX_EDGE_AUTH_JSON_LANE_FN(&p, end, st, stack, &depth, limit);
    open = stack[depth];

    switch (st) {

    case NGX_EDGE_AUTH_JSON_L_VALUE:
        goto value;

    case NGX_EDGE_AUTH_JSON_L_KEY:
        goto key;

    case NGX_EDGE_AUTH_JSON_L_OBJECT:
        goto object_open;

    case NGX_EDGE_AUTH_JSON_L_ARRAY:
        goto array_open;

    case NGX_EDGE_AUTH_JSON_L_COLON:
        goto colon;

    default: /* NGX_EDGE_AUTH_JSON_L_AFTER */
        goto after;
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


/*
 * The block checker (AVX2 or AVX-512BW, with PCLMULQDQ and BMI1/2): the
 * text in 64-byte blocks, each classified at once into bitmasks, one bit
 * a byte: quotes, white space, brackets, colons, commas, digits, and the
 * controls, bytes from 0x80 and backslashes.  The escaped bytes come from
 * the backslashes by a subtraction (as simdjson does), the inside of
 * strings is the prefix xor of the other quotes (a carry-less multiply);
 * the grammar is a few mask inclusions: the token after X is X shifted by
 * one, moved past a run of white space by an addition, and must fall
 * within what may follow X; the keys' closing quotes are their opening
 * quotes carried through the string by an addition.  Only the brackets
 * are walked one by one (the nesting, its limit, whether a comma is in an
 * object, the depth-1 spans of the members); numbers made of digits only
 * are checked by mask, other scalars byte by byte, each escape and UTF-8
 * sequence by the one-pass checker's functions.  A text it does not accept
 * (an error, or an escape or a UTF-8 sequence cut by the end of a block
 * gathered across parts) it hands back undecided, with the number of
 * members it reported, and the one-pass checker does the text again from
 * its start, skipping those members: every "invalid" is the one-pass
 * checker's.  Compact blocks below the top-level members run in a loop of
 * their own (the first function in this file).
 */

#define NGX_EDGE_AUTH_JSON_UNDECIDED  -1
#define NGX_EDGE_AUTH_JSON_ODD        0xaaaaaaaaaaaaaaaaULL

/* at the bottom of its stack: bit 5 clear (not '{'), nothing closes it */
#define NGX_EDGE_AUTH_JSON_BOTTOM     0xc0

/* the class bits of a byte: two nibble lookups, anded */
#define NGX_EDGE_AUTH_JSON_C_QUOTE    0x80
#define NGX_EDGE_AUTH_JSON_C_SPACE    0x40
#define NGX_EDGE_AUTH_JSON_C_OPEN     0x20
#define NGX_EDGE_AUTH_JSON_C_CLOSE    0x10
#define NGX_EDGE_AUTH_JSON_C_COLON    0x08
#define NGX_EDGE_AUTH_JSON_C_COMMA    0x04
#define NGX_EDGE_AUTH_JSON_C_DIGIT    0x02
#define NGX_EDGE_AUTH_JSON_C_CTRLW    0x01    /* tab, line feed, return */

#define NGX_EDGE_AUTH_JSON_LO16                                              \
    0x42, 0x02, 0x82, 0x02, 0x02, 0x02, 0x02, 0x02,                          \
    0x02, 0x03, 0x09, 0x20, 0x04, 0x11, 0x00, 0x00
#define NGX_EDGE_AUTH_JSON_HI16                                              \
    0x01, 0x00, 0xc4, 0x0a, 0x00, 0x30, 0x00, 0x30,                          \
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00

static const u_char  ngx_edge_auth_json_bk[6][32] __attribute__((aligned(32)))
    = {
    { NGX_EDGE_AUTH_JSON_LO16, NGX_EDGE_AUTH_JSON_LO16 },
    { NGX_EDGE_AUTH_JSON_HI16, NGX_EDGE_AUTH_JSON_HI16 },
    NGX_EDGE_AUTH_JSON_K32(0x0f),
    NGX_EDGE_AUTH_JSON_K32(' '),
    NGX_EDGE_AUTH_JSON_K32('\\'),
    NGX_EDGE_AUTH_JSON_K32('"')
};

/* the scalar states: a number's grammar, or where in a literal */
#define NGX_EDGE_AUTH_JSON_S_START   0
#define NGX_EDGE_AUTH_JSON_S_MINUS   1
#define NGX_EDGE_AUTH_JSON_S_ZERO    2
#define NGX_EDGE_AUTH_JSON_S_INT     3
#define NGX_EDGE_AUTH_JSON_S_DOT     4
#define NGX_EDGE_AUTH_JSON_S_FRAC    5
#define NGX_EDGE_AUTH_JSON_S_E       6
#define NGX_EDGE_AUTH_JSON_S_ESIGN   7
#define NGX_EDGE_AUTH_JSON_S_EXP     8
#define NGX_EDGE_AUTH_JSON_S_WORD    16      /* + index in the words */

static const char  ngx_edge_auth_json_words[] = "rue\0alse\0ull";

#define ngx_edge_auth_json_s_accepts(st)                                     \
    ((st) == NGX_EDGE_AUTH_JSON_S_ZERO || (st) == NGX_EDGE_AUTH_JSON_S_INT   \
     || (st) == NGX_EDGE_AUTH_JSON_S_FRAC || (st) == NGX_EDGE_AUTH_JSON_S_EXP\
     || ((st) >= NGX_EDGE_AUTH_JSON_S_WORD                                   \
         && ngx_edge_auth_json_words[(st) - NGX_EDGE_AUTH_JSON_S_WORD] == 0))


/* a scalar's bytes from p to end, from state st: the state after, or -1 */

static int
ngx_edge_auth_json_scalar(int st, const u_char *p, const u_char *end)
{
    u_char  c;

    for ( /* void */ ; p < end; p++) {
        c = *p;

        switch (st) {

        case NGX_EDGE_AUTH_JSON_S_START:
            if (c == '-') {
                st = NGX_EDGE_AUTH_JSON_S_MINUS;
                continue;
            }

            if (c == 't') {
                st = NGX_EDGE_AUTH_JSON_S_WORD;
                continue;
            }

            if (c == 'f') {
                st = NGX_EDGE_AUTH_JSON_S_WORD + 4;
                continue;
            }

            if (c == 'n') {
                st = NGX_EDGE_AUTH_JSON_S_WORD + 9;
                continue;
            }

            /* fall through */

        case NGX_EDGE_AUTH_JSON_S_MINUS:
            if (c == '0') {
                st = NGX_EDGE_AUTH_JSON_S_ZERO;
                continue;
            }

            if (c < '1' || c > '9') {
                return -1;
            }

            st = NGX_EDGE_AUTH_JSON_S_INT;
            continue;

        case NGX_EDGE_AUTH_JSON_S_INT:
            if (c >= '0' && c <= '9') {
                continue;
            }

            /* fall through */

        case NGX_EDGE_AUTH_JSON_S_ZERO:
            if (c == '.') {
                st = NGX_EDGE_AUTH_JSON_S_DOT;
                continue;
            }

            if ((c | 0x20) != 'e') {
                return -1;
            }

            st = NGX_EDGE_AUTH_JSON_S_E;
            continue;

        case NGX_EDGE_AUTH_JSON_S_DOT:
        case NGX_EDGE_AUTH_JSON_S_FRAC:
            if (c >= '0' && c <= '9') {
                st = NGX_EDGE_AUTH_JSON_S_FRAC;
                continue;
            }

            if (st == NGX_EDGE_AUTH_JSON_S_DOT || (c | 0x20) != 'e') {
                return -1;
            }

            st = NGX_EDGE_AUTH_JSON_S_E;
            continue;

        case NGX_EDGE_AUTH_JSON_S_E:
            if (c == '+' || c == '-') {
                st = NGX_EDGE_AUTH_JSON_S_ESIGN;
                continue;
            }

            /* fall through */

        case NGX_EDGE_AUTH_JSON_S_ESIGN:
        case NGX_EDGE_AUTH_JSON_S_EXP:
            if (c < '0' || c > '9') {
                return -1;
            }

            st = NGX_EDGE_AUTH_JSON_S_EXP;
            continue;

        default:
            if (c == 0
                || c != (u_char) ngx_edge_auth_json_words[st
                                               - NGX_EDGE_AUTH_JSON_S_WORD])
            {
                return -1;
            }

            st++;
        }
    }

    return st;
}


/*
 * The scalars of a block that are not all digits: s their bytes, prev 1
 * when the first continues one from the block before (its state in *st);
 * 0, or -1 when one is not a number or literal.
 */

static int
ngx_edge_auth_json_scalars(const u_char *blk, uint64_t s, uint64_t prev,
    int *st)
{
    int       state;
    unsigned  i, k;

    state = *st;

    if (prev && !(s & 1)) {
        if (!ngx_edge_auth_json_s_accepts(state)) {
            return -1;
        }

        state = NGX_EDGE_AUTH_JSON_S_START;
    }

    while (s) {
        i = __builtin_ctzll(s);
        k = (~(s >> i)) ? (unsigned) __builtin_ctzll(~(s >> i)) : 64;

        if (k > 64 - i) {
            k = 64 - i;
        }

        state = ngx_edge_auth_json_scalar(state, blk + i, blk + i + k);

        if (state < 0) {
            return -1;
        }

        if (i + k == 64) {
            break;
        }

        if (!ngx_edge_auth_json_s_accepts(state)) {
            return -1;
        }

        state = NGX_EDGE_AUTH_JSON_S_START;
        s &= ~0ULL << (i + k);
    }

    *st = state;

    return 0;
}


/* a key's bytes where they are in one part, else NULL */

static const u_char *
ngx_edge_auth_json_key_at(const ngx_edge_auth_json_part_t *part,
    const ngx_edge_auth_json_part_t *last, size_t start, size_t len)
{
    size_t  base, k;

    for (base = 0; part < last; part++, base += k) {
        k = part->last - part->pos;

        if (start < base + k) {
            return (start + len <= base + k) ? part->pos + (start - base)
                                             : NULL;
        }
    }

    return NULL;
}


#define ngx_edge_auth_json_bk(i)  (*(const __m256i *) (kb + 32 * (i)))

/*
 * The token after each bit of x (a token's last byte): x shifted by one,
 * with *c the bit shifted out of the block before (or the end of a run of
 * white space that reached its end), then past white space.
 */

#define ngx_edge_auth_json_after(x, c)                                       \
    (t = ((x) << 1) | (c), (c) = (x) >> 63, t)

#define ngx_edge_auth_json_past_space(y, c)                                  \
    (t = (y) & w, (c) |= __builtin_add_overflow(t, w, &t),                  \
     ((y) | t) & ~w)


/* what the compact loop carries from block to block, as the general one */

typedef struct {
    uint64_t             in_c, s_c, c1, c2, c3, c4, c5, v_c, obj_c;
    unsigned long long   kq_c;
    int                  st;
    u_char              *stk, *stk_limit, *top1;
} ngx_edge_auth_json_fast_t;


/* the block checker, built for AVX2 and for AVX-512BW */

#define NGX_EDGE_AUTH_JSON_BLOCKS_PASS  1

/* AVX2: each half's class bytes, bit k shifted up to bit 7, as 64 bits */

#define NGX_EDGE_AUTH_JSON_BLOCKS_SCOPE                                      \
    static __attribute__((target("avx2,pclmul,bmi,bmi2")))
#define NGX_EDGE_AUTH_JSON_BLOCKS_FN  ngx_edge_auth_json_scan_blocks_avx2
#define NGX_EDGE_AUTH_JSON_FAST_FN    ngx_edge_auth_json_compact_avx2
#define NGX_EDGE_AUTH_JSON_COMPACT_BUILD  1

#define ngx_edge_auth_json_class_vectors                                     \
    __m256i  v0, v1, c0, c1v

#define ngx_edge_auth_json_class_init()

#define ngx_edge_auth_json_mask64(a, b)                                      \
    ((uint64_t) (uint32_t) _mm256_movemask_epi8(a)                           \
     | (uint64_t) (uint32_t) _mm256_movemask_epi8(b) << 32)

#define ngx_edge_auth_json_half(v)                                           \
    _mm256_and_si256(                                                        \
        _mm256_shuffle_epi8(ngx_edge_auth_json_bk(0), v),                    \
        _mm256_shuffle_epi8(ngx_edge_auth_json_bk(1),                        \
            _mm256_and_si256(_mm256_srli_epi16(v, 4),                        \
                             ngx_edge_auth_json_bk(2))))

#define ngx_edge_auth_json_class(k)                                          \
    ngx_edge_auth_json_mask64(_mm256_slli_epi16(c0, k),                      \
                              _mm256_slli_epi16(c1v, k))

/* sp: controls, from 0x80 on (below ' ' as signed), backslashes */

#define ngx_edge_auth_json_classify(blk)                                     \
    v0 = _mm256_loadu_si256((const __m256i *) (blk));                        \
    v1 = _mm256_loadu_si256((const __m256i *) ((blk) + 32));                 \
    c0 = ngx_edge_auth_json_half(v0);                                        \
    c1v = ngx_edge_auth_json_half(v1);                                      \
    sp = ngx_edge_auth_json_mask64(                                          \
             _mm256_or_si256(                                                \
                 _mm256_cmpgt_epi8(ngx_edge_auth_json_bk(3), v0),            \
                 _mm256_cmpeq_epi8(v0, ngx_edge_auth_json_bk(4))),           \
             _mm256_or_si256(                                                \
                 _mm256_cmpgt_epi8(ngx_edge_auth_json_bk(3), v1),            \
                 _mm256_cmpeq_epi8(v1, ngx_edge_auth_json_bk(4))));          \
    q = ngx_edge_auth_json_class(0);                                         \
    w = ngx_edge_auth_json_class(1)

#define ngx_edge_auth_json_class_backslash()                                 \
    ngx_edge_auth_json_mask64(                                               \
        _mm256_cmpeq_epi8(v0, ngx_edge_auth_json_bk(4)),                     \
        _mm256_cmpeq_epi8(v1, ngx_edge_auth_json_bk(4)))

#define ngx_edge_auth_json_class_ctrlw()  ngx_edge_auth_json_class(7)

#define ngx_edge_auth_json_class_high()  ngx_edge_auth_json_mask64(v0, v1)

/* a quote, a control, a byte from 0x80 or a backslash in the 64 at p */

#define ngx_edge_auth_json_special(p)                                        \
    (v0 = _mm256_loadu_si256((const __m256i *) (p)),                         \
     v1 = _mm256_loadu_si256((const __m256i *) ((p) + 32)),                  \
     !_mm256_testz_si256(                                                    \
         _mm256_or_si256(                                                    \
             _mm256_or_si256(                                                \
                 _mm256_or_si256(                                            \
                     _mm256_cmpeq_epi8(v0, ngx_edge_auth_json_bk(5)),        \
                     _mm256_cmpeq_epi8(v0, ngx_edge_auth_json_bk(4))),       \
                 _mm256_cmpgt_epi8(ngx_edge_auth_json_bk(3), v0)),           \
             _mm256_or_si256(                                                \
                 _mm256_or_si256(                                            \
                     _mm256_cmpeq_epi8(v1, ngx_edge_auth_json_bk(5)),        \
                     _mm256_cmpeq_epi8(v1, ngx_edge_auth_json_bk(4))),       \
                 _mm256_cmpgt_epi8(ngx_edge_auth_json_bk(3), v1))),          \
         _mm256_set1_epi8((char) 0xff)))

#include "ngx_edge_auth_json_scan.c"

#undef NGX_EDGE_AUTH_JSON_BLOCKS_SCOPE
#undef NGX_EDGE_AUTH_JSON_BLOCKS_FN
#undef NGX_EDGE_AUTH_JSON_FAST_FN
#undef NGX_EDGE_AUTH_JSON_COMPACT_BUILD
#undef ngx_edge_auth_json_class_vectors
#undef ngx_edge_auth_json_class_init
#undef ngx_edge_auth_json_class
#undef ngx_edge_auth_json_classify
#undef ngx_edge_auth_json_class_backslash
#undef ngx_edge_auth_json_class_ctrlw
#undef ngx_edge_auth_json_class_high
#undef ngx_edge_auth_json_special

/*
 * AVX-512BW: the 64 bytes in one register, the class bytes tested into a
 * mask register at once (callgrind does not count this build: valgrind
 * hides AVX-512 from the processor's answer)
 */

#define NGX_EDGE_AUTH_JSON_BLOCKS_SCOPE                                      \
    static __attribute__((target("avx512f,avx512bw,pclmul,bmi,bmi2")))
#define NGX_EDGE_AUTH_JSON_BLOCKS_FN  ngx_edge_auth_json_scan_blocks_avx512

/*
 * its compact blocks run the AVX2 build's loop: the AVX-512 one was no
 * faster (its classification is cheap, and the general loop spills less)
 */
#define NGX_EDGE_AUTH_JSON_FAST_FN    ngx_edge_auth_json_compact_avx2
#define NGX_EDGE_AUTH_JSON_COMPACT_BUILD  0

#define ngx_edge_auth_json_class_vectors                                     \
    __m512i  vz, cz, lo, hi, k0f, k20, kbs, kqt

#define ngx_edge_auth_json_class_init()                                      \
    lo = _mm512_broadcast_i32x4(*(const __m128i *) kb);                     \
    hi = _mm512_broadcast_i32x4(*(const __m128i *) (kb + 32));              \
    k0f = _mm512_set1_epi8(0x0f);                                            \
    k20 = _mm512_set1_epi8(' ');                                             \
    kbs = _mm512_set1_epi8('\\');                                           \
    kqt = _mm512_set1_epi8('"')

#define ngx_edge_auth_json_class(k)                                          \
    (uint64_t) _mm512_test_epi8_mask(cz,                                     \
                                     _mm512_set1_epi8((char) (0x80 >> (k))))

#define ngx_edge_auth_json_classify(blk)                                     \
    vz = _mm512_loadu_si512((const void *) (blk));                           \
    cz = _mm512_and_si512(_mm512_shuffle_epi8(lo, vz),                       \
             _mm512_shuffle_epi8(hi,                                         \
                 _mm512_and_si512(_mm512_srli_epi16(vz, 4), k0f)));          \
    sp = (uint64_t) (_mm512_cmplt_epi8_mask(vz, k20)                         \
                     | _mm512_cmpeq_epi8_mask(vz, kbs));                     \
    q = ngx_edge_auth_json_class(0);                                         \
    w = ngx_edge_auth_json_class(1)

#define ngx_edge_auth_json_class_backslash()                                 \
    (uint64_t) _mm512_cmpeq_epi8_mask(vz, kbs)

#define ngx_edge_auth_json_class_ctrlw()  ngx_edge_auth_json_class(7)

#define ngx_edge_auth_json_class_high()                                      \
    (uint64_t) _mm512_movepi8_mask(vz)

#define ngx_edge_auth_json_special(p)                                        \
    (vz = _mm512_loadu_si512((const void *) (p)),                            \
     (_mm512_cmpeq_epi8_mask(vz, kqt) | _mm512_cmpeq_epi8_mask(vz, kbs)      \
      | _mm512_cmplt_epi8_mask(vz, k20)) != 0)

#include "ngx_edge_auth_json_scan.c"

#undef NGX_EDGE_AUTH_JSON_BLOCKS_PASS


/* the one-pass checker after the block checker: members it reported */

typedef struct {
    ngx_edge_auth_json_member_pt  member;
    void                         *data;
    size_t                        skip;
} ngx_edge_auth_json_skip_t;


static void
ngx_edge_auth_json_skip_member(void *data, const u_char *key, size_t key_len,
    size_t start, size_t end)
{
    ngx_edge_auth_json_skip_t  *sk = data;

    if (sk->skip) {
        sk->skip--;
        return;
    }

    sk->member(sk->data, key, key_len, start, end);
}


int     ngx_edge_auth_json_scan_avx2 = -1;
size_t  ngx_edge_auth_json_blocks_undecided;
size_t  ngx_edge_auth_json_blocks_compact;


int
ngx_edge_auth_json_scan(const ngx_edge_auth_json_part_t *part, size_t n,
    ngx_edge_auth_json_member_pt member, void *data)
{
    int                        rc;
    ngx_edge_auth_json_skip_t  sk;

    if (ngx_edge_auth_json_scan_avx2 < 0) {
        __builtin_cpu_init();

        /*
         * The block checker where AVX-512BW is: on AVX2 alone it runs more
         * instructions than the one-pass checker (4.8 a byte against 4.0
         * on the bench's body, though faster on this AVX-512 processor:
         * 18 us against 30), and some processors with AVX2 run pdep and
         * pext in microcode
         */

        ngx_edge_auth_json_scan_avx2 =
            !__builtin_cpu_supports("avx2") ? 0
            : (__builtin_cpu_supports("avx512bw")
               && __builtin_cpu_supports("pclmul")
               && __builtin_cpu_supports("bmi")
               && __builtin_cpu_supports("bmi2")) ? 3 : 1;
    }

    if (ngx_edge_auth_json_scan_avx2 >= 2 && n) {
        if (member == NULL) {
            member = ngx_edge_auth_json_ignore;
        }

        rc = (ngx_edge_auth_json_scan_avx2 == 3)
             ? ngx_edge_auth_json_scan_blocks_avx512(part, n, member, data,
                                                     &sk.skip)
             : ngx_edge_auth_json_scan_blocks_avx2(part, n, member, data,
                                                   &sk.skip);

        if (rc != NGX_EDGE_AUTH_JSON_UNDECIDED) {
            return rc;
        }

        ngx_edge_auth_json_blocks_undecided++;

        sk.member = member;
        sk.data = data;

        return ngx_edge_auth_json_scan_avx2_build(part, n,
                   ngx_edge_auth_json_skip_member, &sk);
    }

    if (ngx_edge_auth_json_scan_avx2) {
        return ngx_edge_auth_json_scan_avx2_build(part, n, member, data);
    }

    return ngx_edge_auth_json_scan_sse2(part, n, member, data);
}

#else

int     ngx_edge_auth_json_scan_avx2 = 0;
size_t  ngx_edge_auth_json_blocks_undecided;
size_t  ngx_edge_auth_json_blocks_compact;

#endif

#endif /* NGX_EDGE_AUTH_JSON_AVX2_PASS */

#endif /* NGX_EDGE_AUTH_JSON_BLOCKS_PASS */
