#!/bin/bash
# Benchmark of body_json (see bench/README.md, "JSON request bodies"); the
# same launcher as the other benches.

exec bash "$(dirname "$0")/run.sh" body_bench.py
