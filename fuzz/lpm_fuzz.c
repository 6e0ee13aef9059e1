
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * libFuzzer target for the longest-prefix tables against a linear scan.
 * The input is a list of prefixes with allow/deny, and the index size:
 *
 *   byte 0        bit 7: IPv6; bits 0-4: IPv4 index bits (17 and up:
 *                 automatic); bit 5: IPv4 in slots instead (the
 *                 layout of large lists); bit 6: IPv4 addresses in
 *                 0.0.0.0/14 (their first two bytes taken modulo 4), so
 *                 that /16 buckets overflow their slots
 *   then          IPv4: 6 bytes per prefix, address, length % 33, flags
 *                 IPv6: 18 bytes per prefix, address, length % 129, flags
 *                 (flags bit 0: deny)
 *
 * As in the module, a prefix's value is 1 + (length << 1 | deny).  Probed:
 * every prefix's first and last address and their neighbours, both ends
 * of index buckets, and 0 and the last address.  The table must give the
 * value of the linear scan's longest match, 0 where none matches.
 *
 *   make fuzz        (clang -fsanitize=fuzzer,address,undefined)
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_edge_auth_lpm.h"


#define MAX_ENTRIES  512

/*
 * The slots' 8 MB, allocated once (under ASan a malloc() and free() of
 * it for every input made 40 runs a second); each table is placed at its
 * end, so a write past the table's size still hits the redzone
 */
#define SLOTS_MAX    ((65536 + 1024) * 128 + 127)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static ngx_edge_auth_lpm4_entry_t  e4[MAX_ENTRIES], a4[MAX_ENTRIES],
                                   b4[MAX_ENTRIES];
static ngx_edge_auth_lpm6_entry_t  e6[MAX_ENTRIES];
static u_char                     *slots_mem;


/* the entry that wins by a linear scan: its position + 1, 0 if none */

static size_t
scan4(size_t n, uint32_t addr)
{
    int       best;
    size_t    i, win;
    uint32_t  mask;

    best = -1;
    win = 0;

    for (i = 0; i < n; i++) {
        mask = e4[i].prefix ? 0xffffffff << (32 - e4[i].prefix) : 0;

        if ((addr & mask) == e4[i].addr && (int) e4[i].prefix > best) {
            best = e4[i].prefix;
            win = i + 1;
        }
    }

    return win;
}


static size_t
scan6(size_t n, const u_char *addr)
{
    int     best;
    size_t  i, b, win;

    best = -1;
    win = 0;

    for (i = 0; i < n; i++) {
        for (b = 0; b < e6[i].prefix; b++) {
            if (((addr[b / 8] ^ e6[i].addr[b / 8]) >> (7 - b % 8)) & 1) {
                break;
            }
        }

        if (b == e6[i].prefix && (int) b > best) {
            best = (int) b;
            win = i + 1;
        }
    }

    return win;
}


static void
probe4(ngx_edge_auth_lpm4_t *lpm, size_t n, uint32_t addr)
{
    size_t  win;

    win = scan4(n, addr);

    if (ngx_edge_auth_lpm4_find(lpm, addr) != (win ? e4[win - 1].value : 0)) {
        abort();
    }
}


static void
run4(const uint8_t *data, size_t size, int bits, int slots, int cluster)
{
    void                        *mem;
    size_t                       i, n, k, len;
    uint32_t                     a, last, step;
    ngx_edge_auth_lpm4_t         lpm;
    ngx_edge_auth_lpm_part_t     part;
    ngx_edge_auth_lpm4_entry_t  *s;

    n = 0;

    for (i = 0; i + 6 <= size && n < MAX_ENTRIES; i += 6) {
        memset(&e4[n], 0, sizeof(e4[n]));
        e4[n].prefix = data[i + 4] % 33;
        e4[n].addr = ((uint32_t) data[i] << 24) | ((uint32_t) data[i + 1] << 16)
                     | ((uint32_t) data[i + 2] << 8) | data[i + 3];

        if (cluster) {
            e4[n].addr &= 0x0003ffff;
        }

        e4[n].addr &= e4[n].prefix ? 0xffffffff << (32 - e4[n].prefix) : 0;
        e4[n].value = data[i + 5] & 1;      /* deny flag, for now */
        n++;
    }

    part.elts = e4;
    part.n = n;
    s = ngx_edge_auth_lpm4_sort(&part, 1, a4, b4, sizeof(e4[0]));

    /* duplicates: the first one read stays, as in the module */

    k = 0;

    for (i = 0; i < n; i++) {
        if (k && s[i].addr == e4[k - 1].addr
            && s[i].prefix == e4[k - 1].prefix)
        {
            continue;
        }

        e4[k++] = s[i];
    }

    n = k;

    for (i = 0; i < n; i++) {
        e4[i].value = 1 + ((uint32_t) e4[i].prefix << 1 | e4[i].value);
    }

    if (slots) {
        len = ngx_edge_auth_lpm4_layout_slots(&lpm,
                  ngx_edge_auth_lpm4_nodes(e4, n, sizeof(e4[0])));

        if (len > SLOTS_MAX) {
            abort();
        }

        if (slots_mem == NULL) {
            slots_mem = malloc(SLOTS_MAX);
        }

        mem = slots_mem + SLOTS_MAX - len;

    } else {
        mem = malloc(ngx_edge_auth_lpm4_layout(&lpm,
                         ngx_edge_auth_lpm4_count(e4, n, sizeof(e4[0])), 8,
                         bits)
                     + 1);
    }

    ngx_edge_auth_lpm4_build(&lpm, e4, n, sizeof(e4[0]), mem);

    if (lpm.n > 2 * n + 1) {
        abort();
    }

    for (i = 0; i < n; i++) {
        a = e4[i].addr;
        last = a | (uint32_t) (0xffffffffULL >> e4[i].prefix);

        probe4(&lpm, n, a - 1);
        probe4(&lpm, n, a);
        probe4(&lpm, n, last);
        probe4(&lpm, n, last + 1);
    }

    probe4(&lpm, n, 0);
    probe4(&lpm, n, 0xffffffff);

    if (cluster) {
        for (a = 0; a < 0x40000; a += 97) {
            probe4(&lpm, n, a);
        }
    }

    if (lpm.bits) {
        step = (uint32_t) 1 << (32 - lpm.bits);

        for (i = 0; i < 64 && i < ((size_t) 1 << lpm.bits); i++) {
            a = (uint32_t) (i * 2654435761u) & ~(step - 1);
            probe4(&lpm, n, a);
            probe4(&lpm, n, a - 1);
            probe4(&lpm, n, a + step - 1);
        }
    }

    if (!slots) {
        free(mem);
    }
}


static void
probe6(ngx_edge_auth_lpm6_t *lpm, size_t n, const u_char *addr)
{
    size_t  win;

    win = scan6(n, addr);

    if (ngx_edge_auth_lpm6_find(lpm, addr) != (win ? e6[win - 1].value : 0)) {
        abort();
    }
}


static void
add6(u_char *addr, int d)
{
    int  b;

    /* addr += d, d is 1 or -1, wrapping */

    for (b = 15; b >= 0; b--) {
        addr[b] = (u_char) (addr[b] + d);

        if (addr[b] != (d > 0 ? 0 : 0xff)) {
            break;
        }
    }
}


static void
run6(const uint8_t *data, size_t size)
{
    void                  *mem;
    size_t                 i, n, k, b;
    u_char                 a[16];
    ngx_edge_auth_lpm6_t   lpm;

    n = 0;

    for (i = 0; i + 18 <= size && n < MAX_ENTRIES; i += 18) {
        memset(&e6[n], 0, sizeof(e6[n]));
        memcpy(e6[n].addr, data + i, 16);
        e6[n].prefix = data[i + 16] % 129;

        for (b = e6[n].prefix; b < 128; b++) {
            e6[n].addr[b / 8] &= (u_char) ~(0x80 >> (b % 8));
        }

        e6[n].value = data[i + 17] & 1;
        n++;
    }

    /* an insertion sort, stable: duplicates keep the first one read */

    for (i = 1; i < n; i++) {
        ngx_edge_auth_lpm6_entry_t  x = e6[i];

        for (k = i; k > 0 && ngx_edge_auth_lpm6_cmp(&e6[k - 1], &x) > 0; k--)
        {
            e6[k] = e6[k - 1];
        }

        e6[k] = x;
    }

    k = 0;

    for (i = 0; i < n; i++) {
        if (k && ngx_edge_auth_lpm6_cmp(&e6[k - 1], &e6[i]) == 0) {
            continue;
        }

        e6[k++] = e6[i];
    }

    n = k;

    for (i = 0; i < n; i++) {
        e6[i].value = 1 + ((uint32_t) e6[i].prefix << 1 | e6[i].value);
    }

    mem = malloc(ngx_edge_auth_lpm6_layout(&lpm,
                     ngx_edge_auth_lpm6_count(e6, n, sizeof(e6[0])), 16) + 1);
    ngx_edge_auth_lpm6_build(&lpm, e6, n, sizeof(e6[0]), mem);

    if (lpm.n > 2 * n + 1) {
        abort();
    }

    for (i = 0; i < n; i++) {
        memcpy(a, e6[i].addr, 16);
        probe6(&lpm, n, a);
        add6(a, -1);
        probe6(&lpm, n, a);

        memcpy(a, e6[i].addr, 16);

        for (b = e6[i].prefix; b < 128; b++) {
            a[b / 8] |= (u_char) (0x80 >> (b % 8));
        }

        probe6(&lpm, n, a);
        add6(a, 1);
        probe6(&lpm, n, a);
    }

    memset(a, 0, 16);
    probe6(&lpm, n, a);
    memset(a, 0xff, 16);
    probe6(&lpm, n, a);

    free(mem);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int  bits;

    if (size == 0) {
        return 0;
    }

    bits = data[0] & 0x1f;

    if (data[0] & 0x80) {
        run6(data + 1, size - 1);

    } else {
        run4(data + 1, size - 1, bits > 16 ? NGX_EDGE_AUTH_LPM_AUTO : bits,
             data[0] & 0x20, data[0] & 0x40);
    }

    return 0;
}
