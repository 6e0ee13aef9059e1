#!/usr/bin/env python3
"""The headline figures of every bench, next to their goals: the last
table of "make bench".

Each bench writes its figures to BENCH_RESULTS/<bench>.json (benchlib.py's
record(); BENCH_RESULTS defaults to build/bench); this reads them all.  A
file older than BENCH_SINCE (seconds since the epoch, set by "make bench"
when it starts) is from an earlier run and is marked so.  The contract is
in bench/README.md ("Summary").

    python3 bench/summary.py [DIR]
"""

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import RESULTS  # noqa: E402

# the benches in the order of "make bench"; others follow by name
ORDER = ('ip', 'token', 'body', 'sigv4', 'scale', 'scale_store')


def value_text(f):
    v, unit = f.get('value'), f.get('unit') or ''
    if v is None:
        return '-'
    if isinstance(v, float):
        if unit == '%':
            return '%+.2f %%' % v
        text = ('%.3f' % v) if abs(v) < 10 else ('%.1f' % v) \
            if abs(v) < 1000 else '{:,.0f}'.format(v)
    else:
        text = '{:,}'.format(v) if isinstance(v, int) else str(v)
    return text + ('' if unit in ('', 'ratio', '%') else ' ' + unit)


def main():
    where = sys.argv[1] if len(sys.argv) > 1 else RESULTS
    since = float(os.environ.get('BENCH_SINCE') or 0)
    docs = []
    if os.path.isdir(where):
        for name in sorted(os.listdir(where)):
            if not name.endswith('.json'):
                continue
            try:
                with open(os.path.join(where, name)) as f:
                    docs.append(json.load(f))
            except (OSError, ValueError) as e:
                print('summary: %s: %s' % (name, e))
    docs.sort(key=lambda d: (ORDER.index(d.get('bench'))
                             if d.get('bench') in ORDER else len(ORDER),
                             d.get('bench', '')))

    print('')
    print('=' * 78)
    print('SUMMARY of the benches (%s)' % where)
    print('=' * 78)
    if not docs:
        print('no results: run make bench (or a bench/*.sh)')
        return 0
    seen = set(d.get('bench') for d in docs)
    missed = 0
    for d in docs:
        old = since and d.get('time', 0) < since
        print('')
        print('%s  (%s%s)' % (d.get('bench'), d.get('date', '?'),
                              ', FROM AN EARLIER RUN' if old else ''))
        for f in d.get('figures', []):
            ok = f.get('ok')
            mark = '' if ok is None else ('ok' if ok else 'MISSED')
            missed += ok is False
            print('  %-50s %14s  %-10s %s' % (f.get('name', '?')[:50],
                                              value_text(f),
                                              f.get('goal') or '', mark))
            if f.get('note'):
                print('  %-50s %s' % ('', '(' + f['note'] + ')'))
    for b in ORDER:
        if b not in seen:
            print('')
            print('%s  (no results)' % b)
    print('')
    print('%d figure(s) miss their goal' % missed if missed
          else 'every figure with a goal meets it')
    print('%s' % time.strftime('%Y-%m-%d %H:%M'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
