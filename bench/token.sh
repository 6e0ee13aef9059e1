#!/bin/bash
# Benchmark of credential_inject with a token from a login endpoint, and of
# token renewals under load (see bench/README.md, "Tokens from a login
# endpoint"); the same launcher as the auth_ip bench.

exec bash "$(dirname "$0")/run.sh" token_bench.py
