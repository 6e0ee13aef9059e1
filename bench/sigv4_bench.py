#!/usr/bin/env python3
"""Benchmark of request signing (aws_sigv4, http_signature): the cost of
signing each request.

Started by bench/sigv4.sh (through run.sh, which creates the work
directory, passes it as the only argument, and stops every nginx started
here). See bench/README.md ("AWS Signature Version 4").

Three proxies in one nginx (worker_processes 1) send the same requests to
the same backend (another nginx, answering 200):
  A  proxy_pass alone: the baseline
  B  aws_sigv4 s3 unsigned_payload: the signature only
  C  aws_sigv4 execute-api: the signature and the body's SHA-256 (the body
     read whole first)
  D  http_signature hmac-sha256 (RFC 9421)
  E  http_signature ed25519
for a GET and for a 1 KB and a 64 KB POST, in interleaved rounds; the
figure is requests per second as a ratio to A with the same request.
Then the same proxy under callgrind (master_process off): user-space
instructions per GET through each of A..E, which load does not change.

Environment (all optional): NGINX_BIN, MODULE, BENCH_DURATION (2),
BENCH_ROUNDS (3), BENCH_CONNS (32), as the body bench; BENCH_CG_REQUESTS
(2000; 0 skips callgrind).
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

sys.path.insert(0, HERE)
from benchlib import (NGINX, MODULE, log, die, free_port,  # noqa: E402
                      stop_pid, callgrind_counts, figure, record)
from token_bench import fill  # noqa: E402
import body_bench  # noqa: E402
from body_bench import start, lua, workers, wrk, post  # noqa: E402

DURATION = body_bench.DURATION
ROUNDS = body_bench.ROUNDS
CG_REQUESTS = int(os.environ.get('BENCH_CG_REQUESTS', '2000'))

WHAT = (('A', 'A proxy_pass (baseline)'),
        ('B', 'B aws_sigv4 unsigned_payload'),
        ('C', 'C aws_sigv4, body hashed'),
        ('D', 'D http_signature hmac-sha256'),
        ('E', 'E http_signature ed25519'))

BACKEND = """\
    client_max_body_size 1m;
    client_body_buffer_size 128k;
    log_format sig '$server_port $http_x_amz_content_sha256';

    server {
        listen 127.0.0.1:@PORT@;
        access_log @DIR@/backend.log sig buffer=64k flush=1s;
        location / {
            default_type application/json;
            return 200 '{"exctnFdbck":{"id":75}}';
        }
    }
"""

PROXY = """\
    credential unsigned {
        aws_sigv4 eu-west-1 s3 unsigned_payload;
        aws_access_key_id AKIDEXAMPLE;
        aws_secret_access_key wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY;
        aws_sigv4_host bucket.s3.eu-west-1.amazonaws.com;
    }

    credential hashed {
        aws_sigv4 eu-west-1 execute-api;
        aws_access_key_id AKIDEXAMPLE;
        aws_secret_access_key wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY;
        aws_sigv4_host api.execute-api.eu-west-1.amazonaws.com;
    }

    credential hmac {
        http_signature hmac-sha256 bench-shared-secret-0123456789-abcdef
                       keyid=bench-hmac;
        http_signature_authority api.partner.example;
    }

    credential ed {
        http_signature ed25519 file:@KEYFILE@ keyid=bench-ed;
        http_signature_authority api.partner.example;
    }

    client_max_body_size 1m;
    client_body_buffer_size 128k;

    upstream backend {
        server 127.0.0.1:@BPORT@;
        keepalive 32;
    }

    server {
        listen 127.0.0.1:@PA@;
        listen 127.0.0.1:@PB@;
        listen 127.0.0.1:@PC@;
        listen 127.0.0.1:@PD@;
        listen 127.0.0.1:@PE@;

        proxy_http_version 1.1;
        proxy_set_header Connection "";

        location / {
            if ($server_port = @PB@) { rewrite ^ /b/items?list-type=2&prefix=a%2Fb last; }
            if ($server_port = @PC@) { rewrite ^ /c/items?list-type=2&prefix=a%2Fb last; }
            if ($server_port = @PD@) { rewrite ^ /d/items?list-type=2&prefix=a%2Fb last; }
            if ($server_port = @PE@) { rewrite ^ /e/items?list-type=2&prefix=a%2Fb last; }
            proxy_pass http://backend;
        }

        location /b/ {
            credential_inject unsigned;
            proxy_pass http://backend;
        }

        location /c/ {
            credential_inject hashed;
            proxy_pass http://backend;
        }

        location /d/ {
            credential_inject hmac;
            proxy_pass http://backend;
        }

        location /e/ {
            credential_inject ed;
            proxy_pass http://backend;
        }
    }
"""


def get_script(work):
    path = os.path.join(work, 'get.lua')
    with open(path, 'w') as f:
        f.write('wrk.method = "GET"\n')
    return path


def main():
    if len(sys.argv) != 2:
        die('usage: sigv4_bench.py WORKDIR')
    work = sys.argv[1]
    module = os.path.join(work, 'module.so')
    shutil.copy(MODULE, module)

    bport = free_port()
    ports = {k: free_port() for k in 'ABCDE'}
    keyfile = os.path.join(work, 'ed25519.pem')
    subprocess.run(['openssl', 'genpkey', '-algorithm', 'ed25519', '-out',
                    keyfile], check=True, capture_output=True)

    log('ngx_http_credential_module signing benchmark   %s'
        % time.strftime('%Y-%m-%d %H:%M'))
    log('%d CPUs, load average %s; wrk -t1 -c%d -d%ds, %d round(s); '
        'proxy and backend: worker_processes 1'
        % (os.cpu_count() or 0, ' '.join(open('/proc/loadavg')
                                          .read().split()[:3]),
           body_bench.CONNS, DURATION, ROUNDS))
    log('')

    backend = start(work, 'backend', fill(BACKEND, port=bport), module,
                    [bport])
    proxy_http = fill(PROXY, bport=bport, keyfile=keyfile,
                      **{'p' + k.lower(): ports[k] for k in ports})
    proxy = start(work, 'proxy', proxy_http, module, ports.values())

    bodies = {'1 KB': 'x' * 1024, '64 KB': 'y' * 65536}
    scripts = {'GET': get_script(work)}
    scripts.update({s: lua(work, s.replace(' ', ''), b)
                    for s, b in bodies.items()})

    # correctness: B sends UNSIGNED-PAYLOAD, C the body's hash, A nothing
    for k in 'ABCDE':
        if '"id":75' not in post(ports[k], bodies['1 KB']):
            die('proxy %s: unexpected answer' % k)
    time.sleep(1.5)
    seen = open(os.path.join(backend, 'backend.log')).read().split('\n')
    hashes = [line.split(' ', 1)[1] for line in seen[:3]]
    if hashes[0] != '-' or hashes[1] != 'UNSIGNED-PAYLOAD' \
            or len(hashes[2]) != 64:
        die('backend saw x-amz-content-sha256 %s' % hashes)
    log('check: the backend saw no signature through A, UNSIGNED-PAYLOAD '
        'through B, a SHA-256 through C')
    log('')

    with open(os.path.join(proxy, 'nginx.pid')) as f:
        pids = workers(int(f.read().strip()))

    for s in scripts:
        for k in 'ABCDE':
            wrk(ports[k], scripts[s], 1, pids)    # warm-up, unmeasured

    rps = {(s, k): [] for s in scripts for k in 'BCDE'}
    cpu = {(s, k): [] for s in scripts for k in 'BCDE'}
    base = {s: [] for s in scripts}
    for _ in range(ROUNDS):
        for s in scripts:
            a1 = wrk(ports['A'], scripts[s], DURATION, pids)
            x = {k: wrk(ports[k], scripts[s], DURATION, pids)
                 for k in 'BCDE'}
            a2 = wrk(ports['A'], scripts[s], DURATION, pids)
            a = ((a1[0] + a2[0]) / 2, (a1[1] + a2[1]) / 2)
            base[s].append(a)
            for k in 'BCDE':
                rps[(s, k)].append(x[k][0] / a[0])
                cpu[(s, k)].append(a[1] / x[k][1])

    log('%-6s  %-32s %10s %10s %12s' % ('request', 'proxy', 'req/s',
                                       'ratio', 'CPU ratio'))
    for s in scripts:
        a_rps = statistics.median(x[0] for x in base[s])
        a_cpu = statistics.median(x[1] for x in base[s])
        log('%-6s  %-32s %10.0f %10s %12s   (%.1f us CPU/request)'
            % (s, 'A proxy_pass (baseline)', a_rps, '1.00', '1.00',
               a_cpu / 1000))
        for k, what in WHAT[1:]:
            log('%-6s  %-32s %10s %10.2f %12.2f'
                % (s, what, '', statistics.median(rps[(s, k)]),
                   statistics.median(cpu[(s, k)])))
    log('')
    log('medians of %d rounds of A B C D E A; each ratio against the mean '
        'of the '
        'A runs around it; CPU ratio: A\'s worker CPU time per request over '
        'x\'s' % ROUNDS)

    figs = [figure('%s, req/s vs A (GET)' % what[2:], statistics.median(
        rps[('GET', k)]), 'ratio', note='wall clock, noisy')
        for k, what in WHAT[1:]]

    if CG_REQUESTS <= 0 or shutil.which('valgrind') is None:
        log('callgrind: skipped (BENCH_CG_REQUESTS=0 or no valgrind)')
        record('sigv4', figs)
        return

    # the ports are free again once the proxy's nginx is gone
    with open(os.path.join(proxy, 'nginx.pid')) as f:
        stop_pid(int(f.read().strip()))
    time.sleep(0.5)

    counts = instructions(proxy, ports, CG_REQUESTS)
    log('')
    log('%-34s %14s %12s' % ('GET, under callgrind', 'instructions',
                             'vs A'))
    for k, what in WHAT:
        log('%-34s %14.0f %+11.1f%%'
            % (what, counts[k], (counts[k] / counts['A'] - 1) * 100))
    log('')
    log('user-space instructions per request over %d keepalive requests '
        '(after 300), one process, master_process off, the allocator\'s '
        'calls at a fixed cost; load does not change them' % CG_REQUESTS)
    figs = [figure('%s, instr/GET vs A' % what[2:],
                   (counts[k] / counts['A'] - 1) * 100, '%',
                   note='%.0f vs %.0f' % (counts[k], counts['A']))
            for k, what in WHAT[1:]] + figs
    record('sigv4', figs)


def instructions(proxy, ports, n):
    """user-space instructions per GET through each proxy, the proxy's
    nginx under callgrind in one process (master_process off): each count
    after 300 unmeasured requests, zeroed before and dumped after its n,
    the allocator's calls at a fixed cost (benchlib.callgrind_counts())"""
    cmd = [NGINX, '-p', proxy + '/', '-c', os.path.join(proxy, 'nginx.conf'),
           '-e', os.path.join(proxy, 'error.log'),
           '-g', 'daemon off; master_process off;']
    res = callgrind_counts(cmd, proxy, sorted(ports.items()), n)
    for k, v in res.items():
        if v['bad']:
            die('proxy %s under callgrind: %d bad answers' % (k, v['bad']))
    return {k: v['ir'] for k, v in res.items()}


if __name__ == '__main__':
    try:
        main()
    finally:
        body_bench.stop_all()
