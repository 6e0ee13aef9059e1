#!/usr/bin/env python3
"""Write N distinct random IPv4 prefixes (host bits zero) as nginx
configuration lines, for the benchmarks in this directory.

    gen_prefixes.py --count N [--seed S] [--client]
                    [--authip FILE] [--geo FILE] [--access FILE]
                    [--addresses FILE]

Each output gets the same prefixes, in the same order:
  --authip  "A.B.C.D/L;" or "A.B.C.D/L deny;"   (inside auth_ip_list)
  --geo     "A.B.C.D/L 1;" or "A.B.C.D/L 0;"    (inside geo $var { })
  --access  "deny A.B.C.D/L;"                   (nginx allow/deny rules;
            the "allow"/"deny" attribute is ignored: every line is deny)

The random prefixes never cover 127.0.0.0/8 (first octet 1..223, never
127), so the benchmark client, 127.0.0.1, matches none of them. Lengths:
60% /24, 15% /32, 25% anything from /16 to /31, so some prefixes nest in
others (a /24 inside a /16), which a longest-prefix table must handle.
About 10% are "deny" (geo: 0).

--client adds, at random places among the random lines (never first):
  127.0.0.0/8 allow          the entry that lets the client in;
  127.0.1.0/24 .. 127.0.255.0/24 deny,
  127.0.0.0/32, 127.0.0.2/32 .. 127.0.0.255/32 deny,
so that 127.0.0.1 is a single allowed address among ~510 denied ranges in
its own /16: a lookup for it has to search, not hit the first range.

--addresses FILE also writes, one per line, --naddr (65536) addresses that
the list allows, in random order (the first address of allowed random
prefixes that no longer denied prefix covers), for the random-client
benchmark.
"""

import argparse
import random
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--count', type=int, required=True)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--client', action='store_true')
    ap.add_argument('--authip')
    ap.add_argument('--geo')
    ap.add_argument('--access')
    ap.add_argument('--addresses')
    ap.add_argument('--naddr', type=int, default=65536)
    a = ap.parse_args()

    rnd = random.Random(a.seed)
    bits = rnd.getrandbits
    seen = set()
    entries = []            # (network as int, length, allow)

    # 60% /24, 15% /32, 25% /16../31 (the 25 values drawn once)
    lens = [24] * 60 + [32] * 15 + [16 + bits(4) for _ in range(25)]
    masks = [(0xffffffff << (32 - l)) & 0xffffffff for l in range(33)]

    while len(entries) < a.count:
        r = bits(64)
        length = lens[(r & 0xffff) % 100]
        first = ((r >> 16) & 0xffff) % 222 + 1     # 1..222
        if first >= 127:
            first += 1                             # 1..126, 128..223
        net = ((first << 24) | ((r >> 32) & 0xffffff)) & masks[length]
        key = (net << 6) | length
        if key in seen:
            continue
        seen.add(key)
        entries.append((net, length, bits(7) >= 13))   # ~10% deny

    lines = entries
    if a.client:
        special = [(127 << 24, 8, True)]
        for k in range(1, 256):
            special.append(((127 << 24) | (k << 8), 24, False))
        for x in range(0, 256):
            if x != 1:
                special.append(((127 << 24) | x, 32, False))
        # random places, but never the first line
        lines = entries[:1]
        rest = entries[1:] + special
        rnd.shuffle(rest)
        lines += rest

    text = ['%d.%d.%d.%d/%d' % (net >> 24, (net >> 16) & 255,
                                (net >> 8) & 255, net & 255, length)
            for net, length, _ in lines]

    if a.authip:
        write(a.authip, [t + (';' if e[2] else ' deny;')
                         for t, e in zip(text, lines)])
    if a.geo:
        write(a.geo, [t + (' 1;' if e[2] else ' 0;')
                      for t, e in zip(text, lines)])
    if a.access:
        write(a.access, ['deny ' + t + ';' for t in text])
    if a.addresses:
        write_addresses(a.addresses, entries, rnd, a.naddr)


def write(path, out):
    with open(path, 'w') as f:
        f.write('\n'.join(out))
        f.write('\n')


def write_addresses(path, entries, rnd, naddr):
    # an address is usable if the longest prefix that covers it is an
    # allowed one: take the first address of an allowed prefix and check
    # every longer prefix that could cover it
    by_key = {(net, length): allow for net, length, allow in entries}
    cand = [e for e in entries if e[2]]
    rnd.shuffle(cand)
    picked = []
    for net, length, _ in cand:
        ok = True
        for l in range(32, length, -1):
            m = (0xffffffff << (32 - l)) & 0xffffffff
            v = by_key.get((net & m, l))
            if v is not None:
                ok = v
                break
        if ok:
            picked.append('%d.%d.%d.%d' % (net >> 24, (net >> 16) & 255,
                                           (net >> 8) & 255, net & 255))
        if len(picked) >= naddr:
            break
    with open(path, 'w') as f:
        f.write('\n'.join(picked) + '\n')


if __name__ == '__main__':
    sys.exit(main())
