#!/bin/bash
# Benchmarks (see bench/README.md). Run by "make bench":
#
#   NGINX_BIN=/usr/sbin/nginx MODULE=/abs/path/ngx_http_credential_module.so \
#       bash bench/run.sh [bench.py | token_bench.py]
#
# bench.py (the default) measures auth_ip; token_bench.py (bench/token.sh)
# credential_inject with a token from a login endpoint.
#
# Everything lives in one temporary directory: configurations, generated
# lists, pid files, logs. Every nginx started here binds to 127.0.0.1 only
# and is stopped on exit, whatever happens; the directory is removed
# (BENCH_KEEP=1 keeps it). Tunables: see the top of each Python bench.

set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")

export NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
export MODULE=${MODULE:-$root/build/ngx_http_credential_module.so}
case $MODULE in /*) ;; *) MODULE=$PWD/$MODULE ;; esac

for tool in wrk python3 "$NGINX_BIN"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool not found" >&2; exit 1; }
done
[ -f "$MODULE" ] || { echo "bench: module $MODULE not found (make)" >&2; exit 1; }

bench=${1:-bench.py}
work=$(mktemp -d "${TMPDIR:-/tmp}/edge-auth-${bench%.py}.XXXXXX")
chmod 755 "$work"            # workers may run as another user

bench_pid=

# alive and not a zombie
running() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }
    [ "${st%% *}" != Z ]
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [ -n "$bench_pid" ]; then
        kill -TERM "$bench_pid" 2>/dev/null
        wait "$bench_pid" 2>/dev/null
    fi
    # whatever nginx is still running from our own pid files
    local f pid kids kid
    for f in "$work"/*/nginx.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f" 2>/dev/null)
        [ -n "$pid" ] || continue
        [ -d "/proc/$pid" ] || continue
        # only an nginx master started from this directory
        grep -qF -- "$work/" "/proc/$pid/cmdline" 2>/dev/null || continue
        kids=$(cat /proc/$pid/task/*/children 2>/dev/null)
        kill -QUIT "$pid" 2>/dev/null
        for _ in $(seq 1 100); do
            running "$pid" || break
            sleep 0.05
        done
        running "$pid" && kill -KILL "$pid" 2>/dev/null
        for kid in $kids; do
            running "$kid" && kill -KILL "$kid" 2>/dev/null
        done
    done
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "bench: kept $work"
    else
        rm -rf "$work"
    fi
    exit $rc
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

python3 "$here/$bench" "$work" &
bench_pid=$!
wait "$bench_pid"
rc=$?
bench_pid=
exit $rc
