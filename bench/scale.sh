#!/bin/bash
# Many credentials (issue 16): logins at once at the partner, the time to
# every token, and the idle CPU of the node, at 1, 1,000 and 10,000
# credentials (see bench/README.md, "Many credentials"); the same launcher
# as the other benches.

exec bash "$(dirname "$0")/run.sh" scale_bench.py
