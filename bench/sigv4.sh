#!/bin/bash
# Benchmark of aws_sigv4 (see bench/README.md, "AWS Signature Version 4");
# the same launcher as the other benches.

exec bash "$(dirname "$0")/run.sh" sigv4_bench.py
