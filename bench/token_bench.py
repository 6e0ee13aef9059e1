#!/usr/bin/env python3
"""Benchmark of credential_inject with a token from a login endpoint.

Started by bench/token.sh, which creates the work directory, passes it as
the only argument and removes it, and every nginx started here, when this
script ends. See bench/README.md ("Tokens from a login endpoint") for what
is measured.

Environment (all optional):
  NGINX_BIN            nginx binary                         /usr/sbin/nginx
  MODULE               the module's .so (absolute path)     build/ngx_http_credential_module.so
  BENCH_DURATION       seconds per wrk run                  3
  BENCH_WARMUP         seconds of unmeasured wrk per proxy, once   1
  BENCH_ROUNDS         interleaved rounds                   8
  BENCH_CONNS          wrk connections                      32
  BENCH_WORKERS        worker_processes of the proxies      1
  BENCH_SHORT          expires_in of the short-lived token (s)          4
  BENCH_RENEW_BEFORE   token_renew_before of the short-lived token (s)  2
  BENCH_CG_REQUESTS    requests counted under callgrind (0: skip)       3000
  BENCH_CG_ONLY        1: the instruction counts only, no wrk runs       0
  BENCH_CG_PEERS       0: no Lua and njs counts (quicker)                1
"""

import base64
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import (HERE, ROOT, NGINX, MODULE, log, die,  # noqa: E402
                      free_port, read, alive, stop_pid, wait_port,
                      copy_module, run, callgrind_counts,
                      figure, record)

DURATION = int(os.environ.get('BENCH_DURATION', '3'))
WARMUP = int(os.environ.get('BENCH_WARMUP', '1'))
ROUNDS = int(os.environ.get('BENCH_ROUNDS', '8'))
CONNS = int(os.environ.get('BENCH_CONNS', '32'))
WORKERS = int(os.environ.get('BENCH_WORKERS', '1'))
SHORT = int(os.environ.get('BENCH_SHORT', '4'))
RENEW_BEFORE = int(os.environ.get('BENCH_RENEW_BEFORE', '2'))
CG_REQUESTS = int(os.environ.get('BENCH_CG_REQUESTS', '3000'))
CG_ONLY = os.environ.get('BENCH_CG_ONLY', '0') == '1'
CG_PEERS = os.environ.get('BENCH_CG_PEERS', '1') != '0'
MODULES = '/usr/lib/nginx/modules'

# the goals of issue 13: instructions per request over proxy_set_header
GOAL_TOKEN = 2.0
GOAL_STATIC = 1.0
LONG = 3600

# every token is "tok-" + 32 hex digits + "-0123456789ab": 49 bytes,
# "Bearer <token>" 56; the static token of the baseline has the same shape
TOKEN_TAIL = '-0123456789ab'
STATIC_TOKEN = 'tok-' + '0123456789abcdef' * 2 + TOKEN_TAIL
TOKEN_RE = '^Bearer tok-[0-9a-f]{32}' + TOKEN_TAIL + '$'
CLIENT_ID, CLIENT_SECRET = 'oauth-client', 'oauth-secret'
BASIC = 'Basic ' + base64.b64encode(
    ('%s:%s' % (CLIENT_ID, CLIENT_SECRET)).encode()).decode()

running = []            # Instance objects with a live nginx
LOADED = MODULE         # the copy in the work directory, see main()






# --------------------------------------------------------------------------
# configurations: @NAME@ placeholders, because nginx's braces and the JSON
# answers of the login endpoint make str.format() unreadable

COMMON = """\
load_module @MODULE@;
@USER@
worker_processes @WORKERS@;
pid @DIR@/nginx.pid;
error_log @DIR@/error.log @LEVEL@;

events {
    worker_connections 1024;
}

http {
    access_log off;
    client_body_temp_path @DIR@/body;
    proxy_temp_path @DIR@/proxy;
    fastcgi_temp_path @DIR@/fastcgi;
    uwsgi_temp_path @DIR@/uwsgi;
    scgi_temp_path @DIR@/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 60s;
    default_type text/plain;

@HTTP@
}
"""

# The backend: the upstream of the three proxies (one server each, the
# same, so that their requests can be told apart in the logs) and the
# login endpoint, both answered by nginx itself. The upstream refuses (401)
# a request without a well-formed bearer token, and logs the token of every
# request; the login endpoint checks the method and the client's Basic
# credentials and logs every token it hands out ($request_id: a new token
# every login).
BACKEND = """\
    log_format upstream '$msec $status $http_authorization';
    log_format login '$msec $status $request_method $uri $request_id';

@UPSTREAMS@
    server {
        listen 127.0.0.1:@LOGIN_PORT@;
        access_log @DIR@/login.log login;
        location = /long/oauth/token {
            if ($request_method != POST) { return 405; }
            if ($http_authorization != "@BASIC@") { return 401; }
            default_type application/json;
            return 200 '{"access_token":"tok-$request_id@TAIL@","token_type":"Bearer","expires_in":@LONG@}';
        }
        location = /short/oauth/token {
            if ($request_method != POST) { return 405; }
            if ($http_authorization != "@BASIC@") { return 401; }
            default_type application/json;
            return 200 '{"access_token":"tok-$request_id@TAIL@","token_type":"Bearer","expires_in":@SHORT@}';
        }
        location / { return 404; }
    }
"""

UPSTREAM_SERVER = """\
    server {
        listen 127.0.0.1:@PORT@;
        access_log @DIR@/upstream-@NAME@.log upstream buffer=256k flush=2s;
        location = /echo { return 200 "$http_authorization"; }
        location / {
            if ($http_authorization !~ "@TOKEN_RE@") { return 401 "no token\\n"; }
            return 200 "ok\\n";
        }
    }
"""

PROXY = """\
@CRED@
    upstream backend {
        server 127.0.0.1:@UPORT@;
        keepalive 32;
    }

    server {
        listen 127.0.0.1:@PORT@;
        location / {
@LOC@
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
"""

CRED = """\
    credential tok {
        login              http://127.0.0.1:@LOGIN_PORT@/@KIND@/oauth/token;
        login_param        grant_type client_credentials;
        login_basic        @ID@ @SECRET@;
        token_header       Authorization "Bearer {token}";
@EXTRA@    }
"""


def fill(text, strict=False, **kw):
    for k, v in kw.items():
        text = text.replace('@%s@' % k.upper(), str(v))
    left = re.findall(r'@[A-Z_]+@', text)
    if strict and left:
        die('unfilled placeholders %s' % left)
    return text


class Instance:
    def __init__(self, work, name, http, workers, level='info'):
        self.name = name
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.conf = os.path.join(self.dir, 'nginx.conf')
        self.errlog = os.path.join(self.dir, 'error.log')
        self.master = None
        with open(self.conf, 'w') as f:
            f.write(fill(COMMON, module=LOADED,
                         user='user root;' if os.geteuid() == 0 else '',
                         workers=workers, dir=self.dir, level=level,
                         http=fill(http, dir=self.dir), strict=True))

    def cmd(self, *args):
        return [NGINX, '-p', self.dir + '/', '-c', self.conf,
                '-e', self.errlog] + list(args)

    def start(self, ports):
        r = subprocess.run(self.cmd(), capture_output=True, text=True)
        if r.returncode != 0:
            die('nginx %s did not start:\n%s%s' % (self.name, r.stderr,
                                                   read(self.errlog)))
        running.append(self)
        pidfile = os.path.join(self.dir, 'nginx.pid')
        for _ in range(400):
            try:
                self.master = int(read(pidfile).strip())
                break
            except (OSError, ValueError):
                time.sleep(0.025)
        else:
            die('nginx %s wrote no pid' % self.name)
        for port in ports:
            if not wait_port(port):
                die('nginx %s does not listen on %d' % (self.name, port))

    def workers(self):
        try:
            return [int(x) for x in
                    read('/proc/%d/task/%d/children'
                         % (self.master, self.master)).split()]
        except (OSError, TypeError):
            return []

    def stop(self):
        if self.master is None:
            return
        kids = self.workers()
        stop_pid(self.master)
        for k in kids:
            stop_pid(k)
        self.master = None
        if self in running:
            running.remove(self)

    def lines(self, *marks):
        return [l for l in read(self.errlog).splitlines()
                if any(m in l for m in marks)]





def cpu_ns(pids):
    """CPU time of processes, ns (schedstat: ns resolution; stat: ticks)"""
    total = 0
    for pid in pids:
        try:
            total += int(read('/proc/%d/schedstat' % pid).split()[0])
        except (OSError, ValueError, IndexError):
            try:
                f = read('/proc/%d/stat' % pid).rsplit(')', 1)[1].split()
            except OSError:
                return None
            total += (int(f[11]) + int(f[12])) * 10 ** 9 // \
                os.sysconf('SC_CLK_TCK')
    return total


def user_sys(pids):
    """utime, stime of processes, clock ticks"""
    u = st = 0
    for pid in pids:
        try:
            f = read('/proc/%d/stat' % pid).rsplit(')', 1)[1].split()
        except OSError:
            return None
        u += int(f[11])
        st += int(f[12])
    return u, st


def get(port, path='/', headers=()):
    """status, body; headers: (name, value) pairs, sent as given (any
    letter case; urllib would capitalize the names)"""
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    try:
        c.putrequest('GET', path)
        for k, v in headers:
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        return r.status, r.read().decode(errors='replace')
    finally:
        c.close()


# --------------------------------------------------------------------------
# wrk

UNIT = {'us': 1e-6, 'ms': 1e-3, 's': 1.0, 'm': 60.0}


def seconds(text):
    m = re.match(r'([\d.]+)(us|ms|s|m)$', text)
    return float(m.group(1)) * UNIT[m.group(2)] if m else None


def wrk(port, secs):
    """req/s, p99 (s), non-2xx + socket errors, requests"""
    cmd = ['wrk', '-t1', '-c%d' % CONNS, '-d%ds' % secs, '--timeout', '5s',
           '--latency', 'http://127.0.0.1:%d/' % port]
    r = subprocess.run(cmd, capture_output=True, text=True)
    out = r.stdout + r.stderr
    rps = p99 = None
    bad = nreq = 0
    for line in out.splitlines():
        line = line.strip()
        if line.startswith('Requests/sec:'):
            rps = float(line.split()[1])
        elif line.startswith('99%'):
            p99 = seconds(line.split()[1])
        elif line.startswith('Non-2xx or 3xx responses:'):
            bad += int(line.split()[-1])
        elif line.startswith('Socket errors:'):
            bad += sum(int(x.rstrip(',')) for x in line.split()[3::2])
        elif re.match(r'\d+ requests in', line):
            nreq = int(line.split()[0])
    if r.returncode != 0 or rps is None or p99 is None:
        die('wrk failed:\n' + out)
    return rps, p99, bad, nreq


# --------------------------------------------------------------------------
# the logs of the backend

def login_log(path):
    """[(msec, status, uri, request_id)] of the logins (POST) at the login
    endpoint"""
    out = []
    for line in read(path).splitlines():
        f = line.split()
        if len(f) == 5 and f[2] == 'POST':
            out.append((float(f[0]), int(f[1]), f[3], f[4]))
    return out


def token_ages(path, issued, lifetime):
    """requests in an upstream log: how old their token was when the
    upstream answered, counted from the login answer that issued it"""
    n = unknown = expired = non200 = 0
    ages = []
    tokens = set()
    with open(path, errors='replace') as f:
        for line in f:
            f3 = line.split(None, 2)
            if len(f3) < 3:
                continue
            n += 1
            if f3[1] != '200':
                non200 += 1
            m = re.match(r'Bearer tok-([0-9a-f]{32})' + TOKEN_TAIL, f3[2])
            t = m.group(1) if m else None
            if t not in issued:
                unknown += 1
                continue
            tokens.add(t)
            age = float(f3[0]) - issued[t]
            ages.append(age)
            if age > lifetime:
                expired += 1
    ages.sort()
    return dict(n=n, unknown=unknown, expired=expired, non200=non200,
                tokens=len(tokens), max_age=ages[-1] if ages else 0.0,
                p99_age=ages[int(len(ages) * 0.99)] if ages else 0.0)


# --------------------------------------------------------------------------
# callgrind

# the proxies counted under callgrind: one nginx (master_process off) per
# group, each configuration on its own port, all to one backend server
CG_BACKEND = """\
    server {
        listen 127.0.0.1:@PORT@;
        location = /echo { return 200 "$http_authorization"; }
        location / { return 200 "ok\\n"; }
    }
"""

CG_SERVER = """\
    server {
        listen 127.0.0.1:@PORT@;
        location / {
@LOC@
            proxy_pass http://cg_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
"""

CG_UPSTREAM = """\
    upstream cg_backend {
        server 127.0.0.1:@BPORT@;
        keepalive 32;
    }
"""

CG_STATIC = """\
    credential static_header {
        header Authorization "Bearer @TOKEN@";
    }

    credential static_basic {
        basic @USER@ @PASSWORD@;
    }
"""

# Lua: the token in a shared dict (put there at startup), set as a request
# header in the access phase; njs: a js_set variable (njs 0.7 has no shared
# dict) in proxy_set_header.  The most favourable form of each: the whole
# header value stored, nothing computed per request.
CG_LUA_HTTP = """\
    lua_shared_dict bench_tokens 1m;
    init_by_lua_block {
        ngx.shared.bench_tokens:set("tok", "Bearer @TOKEN@")
    }
    js_import bench from @DIR@/bench.js;
    js_set $bench_authorization bench.authorization;
"""

CG_JS = """\
function authorization(r) {
    return 'Bearer @TOKEN@';
}

export default { authorization };
"""

# basic user:password, "Basic " and base64 of 50 bytes: as long as the rest
BASIC_USER = 'bench-user'
BASIC_PASSWORD = 'p' * (37 - len(BASIC_USER))


def instructions(work, login_port, n):
    """instructions per request: proxy_set_header, the static credentials
    and the token (one process); proxy_set_header again, Lua and njs (a
    second process, so that their modules' handlers do not run in the
    first).  Returns {key: counts}, {key: label}, {key: its baseline}"""
    bport = free_port()
    backend = Instance(work, 'cg-backend', fill(CG_BACKEND, port=bport), 1,
                       'warn')
    backend.start([bport])
    token = STATIC_TOKEN
    up = fill(CG_UPSTREAM, bport=bport)
    label = {
        'A': 'proxy_set_header Authorization (static)',
        'H': 'credential_inject, static header',
        'C': 'credential_inject, static basic',
        'B': 'credential_inject, login token',
        'A2': 'proxy_set_header (Lua, njs loaded)',
        'L': 'Lua: access_by_lua + lua_shared_dict',
        'J': 'njs: js_set in proxy_set_header',
    }
    want = {
        'A': 'Bearer ' + token, 'H': 'Bearer ' + token,
        'C': 'Basic ' + base64.b64encode(('%s:%s' % (BASIC_USER,
                                                      BASIC_PASSWORD))
                                         .encode()).decode(),
        'B': None, 'A2': 'Bearer ' + token, 'L': 'Bearer ' + token,
        'J': 'Bearer ' + token,
    }
    static_loc = '            proxy_set_header Authorization "Bearer %s";' \
        % token
    try:
        http = up + fill(CG_STATIC, token=token, user=BASIC_USER,
                         password=BASIC_PASSWORD) + \
            fill(CRED, login_port=login_port, kind='long', id=CLIENT_ID,
                 secret=CLIENT_SECRET, extra='')
        groups = [('cg-module', http, [
            ('A', static_loc),
            ('H', '            credential_inject static_header;'),
            ('C', '            credential_inject static_basic;'),
            ('B', '            credential_inject tok;'),
            ('A', static_loc)], '')]
        mods = [os.path.join(MODULES, m) for m in
                ('ndk_http_module.so', 'ngx_http_lua_module.so',
                 'ngx_http_js_module.so')]
        if not CG_PEERS:
            pass
        elif all(os.path.exists(m) for m in mods):
            js = os.path.join(work, 'cg-peers.js')
            with open(js, 'w') as f:
                f.write(fill(CG_JS, token=token))
            groups.append(('cg-peers', up + fill(CG_LUA_HTTP, token=token)
                           .replace('@DIR@/bench.js', js), [
                ('A2', static_loc),
                ('L', '            access_by_lua_block {\n'
                      '                ngx.req.set_header("Authorization",\n'
                      '                    ngx.shared.bench_tokens:get('
                      '"tok"))\n            }'),
                ('J', '            proxy_set_header Authorization '
                      '$bench_authorization;'),
                ('A2', static_loc)],
                ''.join('load_module %s;\n' % m for m in mods)))
        else:
            log('  (no libnginx-mod-http-lua / libnginx-mod-http-js: the '
                'peers are not counted)')
        counts = {}
        for name, http_, servers, loads in groups:
            # the baseline first and last: its two counts say how steady
            # the count is; their mean is the baseline
            uniq = []
            for k, loc in servers:
                if k not in [u for u, _ in uniq]:
                    uniq.append((k, loc))
            res, _, _ = cg_group(work, name, http_, uniq,
                                 [k for k, _ in servers], n, loads, want)
            counts.update(res)
        return counts, label
    finally:
        backend.stop()


def cg_group(work, name, http, servers, order, n, loads, want):
    """one nginx under callgrind with a server per (key, location lines)
    of servers, after checking what each sends upstream; counts the keys
    in order (a key twice: the mean, both counts kept).  Returns {key:
    counts} (see benchlib.callgrind_counts()), {key: port}, its directory"""
    d = os.path.join(work, name)
    os.makedirs(d)
    ports = {k: free_port() for k, _ in servers}
    body = http + ''.join(fill(CG_SERVER, port=ports[k], loc=loc)
                          for k, loc in servers)
    conf = os.path.join(d, 'nginx.conf')
    with open(conf, 'w') as f:
        f.write(loads + fill(COMMON, module=LOADED,
                             user='user root;' if os.geteuid() == 0 else '',
                             workers=1, dir=d, level='warn',
                             http=body.replace('@DIR@', d), strict=True))
    cmd = [NGINX, '-p', d + '/', '-c', conf, '-e',
           os.path.join(d, 'error.log')]
    r = subprocess.run(cmd + ['-t'], capture_output=True, text=True)
    if r.returncode != 0:
        die('nginx -t failed for %s:\n%s' % (name, r.stderr))

    # what each sends upstream, through a normal start
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        die('nginx %s did not start:\n%s' % (name, p.stderr))
    try:
        time.sleep(0.5)                 # the first login
        for k, _ in servers:
            code, body_ = get(ports[k], '/echo')
            ok = code == 200 and (re.match(TOKEN_RE, body_)
                                  if want[k] is None else body_ == want[k])
            if not ok:
                die('%s (%s) sends %d %r upstream' % (k, name, code,
                                                      body_[:80]))
    finally:
        pid = int(read(os.path.join(d, 'nginx.pid')).strip())
        stop_pid(pid)
        for _ in range(200):
            if not alive(pid):
                break
            time.sleep(0.025)

    targets = [(k + '#%d' % i, ports[k]) for i, k in enumerate(order)]
    res = callgrind_counts(cmd + ['-g', 'daemon off; master_process off;'],
                           d, targets, n)
    out = {}
    for k in order:
        runs = [v for t, v in res.items() if t.split('#')[0] == k]
        bad = sum(v['bad'] for v in runs)
        if bad:
            die('%s under callgrind: %d non-200 answers' % (k, bad))
        out[k] = dict(ir=statistics.mean(v['ir'] for v in runs),
                      raw=statistics.mean(v['raw'] for v in runs),
                      alloc=statistics.mean(v['alloc'] for v in runs),
                      runs=[v['ir'] for v in runs],
                      dumps=[v['dump'] for v in runs])
    return out, ports, d


def report_instructions(work, login_port, user_share):
    """counts, prints and returns (the B / A figures of the old report, or
    None; the summary's figures)"""
    log('== user-space instructions per request (callgrind, one process, '
        'master_process off; %d keepalive GETs after 300 unmeasured; '
        'allocator calls at a fixed cost) ==' % CG_REQUESTS)
    counts, label = instructions(work, login_port, CG_REQUESTS)
    goal = {'H': GOAL_STATIC, 'C': GOAL_STATIC, 'B': GOAL_TOKEN}
    base = {'H': 'A', 'C': 'A', 'B': 'A', 'L': 'A2', 'J': 'A2'}
    short = {'H': 'static header credential', 'C': 'static basic credential',
             'B': 'login token credential', 'L': 'peer: Lua shared dict',
             'J': 'peer: njs js_set'}
    figs = []
    log('  %-44s %9s %9s %8s %8s  %s' % ('', 'instr/req', 'counted',
                                          'alloc', 'vs base', 'goal'))
    for k in ('A', 'H', 'C', 'B', 'A2', 'L', 'J'):
        if k not in counts:
            continue
        c = counts[k]
        if k in base:
            pct = 100.0 * (c['ir'] / counts[base[k]]['ir'] - 1)
            g = goal.get(k)
            vs = '%+7.2f%%' % pct
            gt = ('<= +%.0f %%  %s' % (g, 'ok' if pct <= g else 'MISSED')
                  if g else '(peer)')
            figs.append(figure(short[k] + ', instr/request vs '
                               + ('A' if base[k] == 'A' else "A'"), pct, '%',
                               '<= +%.0f %%' % g if g else None,
                               pct <= g if g else None,
                               '%.0f vs %.0f' % (c['ir'],
                                                 counts[base[k]]['ir'])))
        else:
            vs, gt = 'base', '(%s)' % ', '.join('%.0f' % x
                                               for x in c['runs'])
        log('  %-2s %-41s %9.0f %9.0f %8.1f %8s  %s'
            % (k[0] if k != 'A2' else "A'", label[k], c['ir'], c['raw'],
               c['alloc'], vs, gt))
    log('  instr/req: as counted, less the allocator\'s own instructions, '
        'plus a fixed cost per call to it')
    log('  (malloc, calloc, realloc %d, free %d, posix_memalign %d): its '
        'count moves with the heap\'s layout' % (
            benchlib.ALLOC_COST['malloc'], benchlib.ALLOC_COST['free'],
            benchlib.ALLOC_COST_DEFAULT))
    log('  alloc: allocator calls per request; A and A\' are counted first '
        'and last (both counts in brackets)')
    cg = None
    if user_share is not None and 'B' in counts:
        d = counts['B']['ir'] / counts['A']['ir'] - 1.0
        cg = (counts['B']['ir'] - counts['A']['ir'], d, user_share,
              1.0 / (1.0 + user_share * d))
        log('  with the kernel\'s %.0f%% of the A worker\'s CPU time (wrk '
            'runs), CPU-bound ratio B / A ~ %.3f' % (100 * (1 - user_share),
                                                    cg[3]))
    log('')
    return cg, figs


# --------------------------------------------------------------------------


def main():
    if len(sys.argv) != 2:
        die('usage: token_bench.py WORKDIR')
    work = sys.argv[1]
    for path, what in ((NGINX, 'NGINX_BIN'), (MODULE, 'MODULE')):
        if not os.path.exists(path):
            die('%s %s does not exist' % (what, path))
    global LOADED
    LOADED, digest = copy_module(work)
    nginx_v = subprocess.run([NGINX, '-V'], capture_output=True,
                             text=True).stderr
    t_start = time.monotonic()

    log('ngx_http_credential_module token benchmark   %s'
        % time.strftime('%Y-%m-%d %H:%M'))
    log('nginx %s (%s)%s' % (NGINX, nginx_v.splitlines()[0].split('/')[-1],
                             ', --with-debug' if '--with-debug' in nginx_v
                             else ''))
    log('module %s (built %s, sha256 %s...; a copy is loaded)'
        % (MODULE, time.strftime('%Y-%m-%d %H:%M',
                                 time.localtime(os.stat(MODULE).st_mtime)),
           digest))
    log('%d CPUs, load average %s; wrk -t1 -c%d -d%ds --latency, %d '
        'round(s); proxies: worker_processes %d; backend: 1'
        % (os.cpu_count() or 0, ' '.join(read('/proc/loadavg').split()[:3]),
           CONNS, DURATION, ROUNDS, WORKERS))
    log('')

    # -- the backend: upstream servers and the login endpoint -------------
    names = ['A', 'B', 'S']
    uport = {k: free_port() for k in names}
    login_port = free_port()
    ups = ''.join(fill(UPSTREAM_SERVER, port=uport[k], name=k,
                       token_re=TOKEN_RE) for k in names)
    backend = Instance(work, 'backend', fill(
        BACKEND, upstreams=ups, login_port=login_port, basic=BASIC,
        tail=TOKEN_TAIL, long=LONG, short=SHORT), 1, 'warn')

    # -- the proxies ------------------------------------------------------
    port = {k: free_port() for k in names}
    cred = {
        'A': '',
        'B': fill(CRED, login_port=login_port, kind='long', id=CLIENT_ID,
                  secret=CLIENT_SECRET, extra=''),
        'S': fill(CRED, login_port=login_port, kind='short', id=CLIENT_ID,
                  secret=CLIENT_SECRET,
                  extra='        token_renew_before %ds;\n' % RENEW_BEFORE),
    }
    loc = {
        'A': '            proxy_set_header Authorization "Bearer %s";'
             % STATIC_TOKEN,
        'B': '            credential_inject tok;',
        'S': '            credential_inject tok;',
    }
    label = {
        'A': 'A  proxy_set_header Authorization, static token',
        'B': 'B  credential_inject, login token, %d s' % LONG,
        'S': 'S  credential_inject, login token, %d s, renew %d s before'
             % (SHORT, RENEW_BEFORE),
    }
    inst = {k: Instance(work, 'proxy-' + k, fill(
        PROXY, cred=cred[k], uport=uport[k], port=port[k], loc=loc[k]),
        WORKERS) for k in names}

    for i in [backend] + [inst[k] for k in names]:
        r = subprocess.run(i.cmd('-t'), capture_output=True, text=True)
        if r.returncode != 0:
            die('nginx -t failed for %s:\n%s' % (i.name, r.stderr))
    backend.start(list(uport.values()) + [login_port])

    if CG_ONLY:
        _, figs = report_instructions(work, login_port, None)
        record('token', figs, module=digest)
        log('  whole run %.0f s' % (time.monotonic() - t_start))
        return

    for k in names:
        inst[k].start([port[k]])

    # -- sanity -----------------------------------------------------------
    # every proxy sends its bearer token upstream, replacing the client's;
    # the upstream refuses requests without one; the login endpoint refuses
    # a login without the client's credentials
    bad = []
    time.sleep(0.3)                     # the first login, at startup
    first = {}
    for k in names:
        for hdrs in ((), (('Authorization', 'Bearer from-the-client'),),
                     (('authorization', 'lower-case'),)):
            code, body = get(port[k], '/echo', hdrs)
            if code != 200 or not re.match(TOKEN_RE, body):
                bad.append('%s /echo %r: %d %r' % (k, hdrs, code, body[:100]))
            first.setdefault(k, body)
        code, body = get(port[k])
        if code != 200 or body != 'ok\n':
            bad.append('%s /: %d %r' % (k, code, body[:100]))
    if first.get('A') != 'Bearer ' + STATIC_TOKEN:
        bad.append('A injects %r' % first.get('A'))
    if len({first.get('A'), first.get('B'), first.get('S')}) != 3:
        bad.append('A, B and S should send three different tokens: %r'
                   % first)
    code, _ = get(uport['A'])
    if code != 401:
        bad.append('upstream without a token: %d, expected 401' % code)
    code, _ = get(login_port, '/long/oauth/token')
    if code != 405:
        bad.append('login endpoint, GET: %d, expected 405' % code)
    if bad:
        die('sanity checks failed:\n  ' + '\n  '.join(bad))
    log('sanity: A, B and S send their bearer token upstream and replace '
        'the client\'s (three cases each); the upstream refuses requests '
        'without one (401)')
    log('')

    # -- throughput -------------------------------------------------------
    #
    # Two families, each x measured between two runs of its baseline:
    # A B A (cost of credential_inject against proxy_set_header), and
    # B S B (cost of renewals under load: short-lived token against a long
    # one). The order of the two families alternates from round to round.
    families = [('A', 'B'), ('B', 'S')]
    nruns = ROUNDS * 6
    log('== throughput: wrk -t1 -c%d -d%ds --latency, GET / through the '
        'proxy to a 3-byte upstream answer ==' % (CONNS, DURATION))
    log('  %d rounds of A B A and B S B; %d runs, ~%d s'
        % (ROUNDS, nruns, nruns * (DURATION + 0.3) + WARMUP * len(names)))
    if WARMUP:
        for k in names:
            wrk(port[k], WARMUP)

    logins_before = len(login_log(os.path.join(backend.dir, 'login.log')))
    windows = []                       # (start, end) of the S runs
    res = {k: [] for k in names}       # (rps, p99, cpu/req)
    ratio = {k: dict(rps=[], p99=[], cpu=[]) for k in ('B', 'S')}
    nbad = {k: 0 for k in names}
    nreqs = {k: 0 for k in names}

    ticks = {k: [0, 0] for k in names}  # user, system of the workers

    def measure(k):
        w = inst[k].workers()
        c0 = cpu_ns(w)
        us0 = user_sys(w)
        t0 = time.time()
        rps, p99, bad, nreq = wrk(port[k], DURATION)
        t1 = time.time()
        c1 = cpu_ns(w)
        us1 = user_sys(w)
        if us0 and us1:
            ticks[k][0] += us1[0] - us0[0]
            ticks[k][1] += us1[1] - us0[1]
        if k == 'S':
            windows.append((t0, t1))
        nbad[k] += bad
        nreqs[k] += nreq
        cpu = float('nan')
        if c0 is not None and c1 is not None and nreq and \
                len(w) == WORKERS:
            cpu = (c1 - c0) / 1e9 / nreq
        res[k].append((rps, p99, cpu))
        return rps, p99, cpu

    t_meas = time.time()
    for r in range(ROUNDS):
        line = []
        for base, x in (families if r % 2 == 0 else families[::-1]):
            a = measure(base)
            b = measure(x)
            c = measure(base)
            ratio[x]['rps'].append(b[0] / ((a[0] + c[0]) / 2.0))
            ratio[x]['p99'].append(b[1] / ((a[1] + c[1]) / 2.0))
            ratio[x]['cpu'].append(((a[2] + c[2]) / 2.0) / b[2])
            line.append('%s %.0f %s %.0f %s %.0f' % (base, a[0], x, b[0],
                                                     base, c[0]))
        log('  round %d req/s: %s' % (r + 1, '  |  '.join(line)))
    t_meas_end = time.time()

    log('')
    log('  %-52s %7s %8s %9s' % ('configuration (median of all its runs)',
                                 'req/s', 'p99', 'CPU/req'))
    for k in names:
        log('  %-52s %7.0f %6.2fms %7.1fus%s'
            % (label[k], statistics.median(x[0] for x in res[k]),
               statistics.median(x[1] for x in res[k]) * 1e3,
               statistics.median(x[2] for x in res[k]) * 1e6,
               '' if not nbad[k] else
               '   !! %d non-2xx or socket errors' % nbad[k]))
    log('')
    log('  %-7s %-6s %7s   %s' % ('ratio', '', 'median', 'per round'))
    summary = {}
    for x, base in (('B', 'A'), ('S', 'B')):
        q = ratio[x]
        summary[x] = tuple(statistics.median(q[m])
                           for m in ('rps', 'p99', 'cpu'))
        for j, m in enumerate(('req/s', 'p99', 'CPU')):
            v = q[('rps', 'p99', 'cpu')[j]]
            log('  %-7s %-6s %7.3f   %s'
                % ('%s / %s' % (x, base) if j == 0 else '', m,
                   summary[x][j], ' '.join('%.2f' % y for y in v)))
    log('  req/s: median over rounds of req/s / mean req/s of the two '
        'baseline runs around it (>1: faster)')
    log('  p99: the same for the 99th percentile latency of wrk --latency '
        '(>1: slower)')
    log('  CPU: baseline CPU time per request / CPU time per request of the '
        'proxy workers (>1: cheaper);')
    log('    the throughput ratio of a CPU-bound proxy, much less disturbed '
        'by other load')
    log('')

    # -- renewals and token ages -----------------------------------------
    time.sleep(2.5)                     # the upstream log buffers: flush=2s
    logins = login_log(os.path.join(backend.dir, 'login.log'))
    ok_logins = [l for l in logins if l[1] == 200]
    issued = {l[3]: l[0] for l in ok_logins}
    short = [l for l in logins if l[2].startswith('/short/')]
    long_ = [l for l in logins if l[2].startswith('/long/')]
    in_meas = [l for l in short if t_meas <= l[0] <= t_meas_end]
    in_s = [l for l in short if any(a <= l[0] <= b for a, b in windows)]
    s_time = sum(b - a for a, b in windows)
    mod_s = len(inst['S'].lines('credential "tok": logged in'))
    mod_b = len(inst['B'].lines('credential "tok": logged in'))
    gaps = [b[0] - a[0] for a, b in zip(short, short[1:])]
    log('== renewals ==')
    log('  login endpoint: %d logins (%d not 200), %d for the long token, '
        '%d for the short one'
        % (len(logins), len(logins) - len(ok_logins), len(long_),
           len(short)))
    log('  short token: %d logins during the %.0f s of measurement, %d '
        'during the %.0f s of the %d S runs'
        % (len(in_meas), t_meas_end - t_meas, len(in_s), s_time,
           len(windows)))
    if gaps:
        log('  short token: time between logins median %.2f s, min %.2f, '
            'max %.2f (lifetime %d s, renew %d s before)'
            % (statistics.median(gaps), min(gaps), max(gaps), SHORT,
               RENEW_BEFORE))
    log('  module log lines "logged in": S %d, B %d (error.log, info)'
        % (mod_s, mod_b))
    ages = {}
    for k, life in (('B', LONG), ('S', SHORT)):
        a = token_ages(os.path.join(backend.dir, 'upstream-%s.log' % k),
                       issued, life)
        ages[k] = a
        log('  upstream %s: %d requests, %d not 200, %d distinct tokens, '
            '%d with a token never issued, %d with a token older than its '
            'lifetime; token age at use: p99 %.2f s, max %.2f s'
            % (k, a['n'], a['non200'], a['tokens'], a['unknown'],
               a['expired'], a['p99_age'], a['max_age']))
    log('')

    # -- the error logs ---------------------------------------------------
    problems = 0
    for i in [inst[k] for k in names] + [backend]:
        crashes = i.lines('exited on signal')
        errs = i.lines('[error]', '[crit]', '[alert]', '[emerg]')
        warns = i.lines('[warn]')
        if crashes:
            log('!! %s: %d worker crash(es), first: %s'
                % (i.name, len(crashes), crashes[0]))
        for what, ls in (('error/crit/alert', errs), ('warn', warns)):
            if ls:
                log('!! %s: %d %s line(s) in error.log, first: %s'
                    % (i.name, len(ls), what, ls[0]))
        if len(i.workers()) != (1 if i is backend else WORKERS):
            log('!! %s: %d worker(s) after the run'
                % (i.name, len(i.workers())))
            problems += 1
        problems += len(crashes) + len(errs)
    total_bad = sum(nbad.values()) + ages['S']['non200'] + \
        ages['B']['non200'] + ages['S']['unknown'] + ages['S']['expired']
    if not problems:
        log('error logs: no crash, no error/crit/alert line')
    log('non-2xx or socket errors seen by wrk: %s'
        % ', '.join('%s %d (of %d)' % (k, nbad[k], nreqs[k]) for k in names))
    log('')

    # -- instructions per request under callgrind --------------------------
    cg = None
    if CG_REQUESTS and shutil.which('valgrind') and \
            shutil.which('callgrind_control'):
        for k in names:
            inst[k].stop()
        tk = ticks['A']
        cg, figs = report_instructions(work, login_port,
                                       tk[0] / float(tk[0] + tk[1])
                                       if tk[0] + tk[1] else None)
    elif CG_REQUESTS:
        log('(no valgrind: instruction counts skipped)')
        log('')
        figs = []

    log('SUMMARY (ratios; proxies with %d worker(s)):' % WORKERS)
    log('  B / A  credential_inject vs proxy_set_header: req/s %.3f, p99 '
        '%.2f, CPU-bound %.3f  (target req/s >= 0.98)' % summary['B'])
    if cg:
        log('         user-space instructions/request %+.2f%%; estimated '
            'CPU-bound ratio from them %.3f' % (100 * cg[1], cg[3]))
    log('  S / B  renewal every ~%d s under load vs none: req/s %.3f, p99 '
        '%.2f, CPU-bound %.3f; %d renewals during the measurement, '
        '%d non-2xx'
        % (((SHORT - min(RENEW_BEFORE, SHORT / 2.0)),) + summary['S']
           + (len(in_meas), nbad['S'])))
    log('  whole run %.0f s' % (time.monotonic() - t_start))

    # wall clock: +-4 % between runs here, no use against a 2 % goal (the
    # instruction count is its measure)
    figs += [figure('login token, req/s vs proxy_set_header (wrk)',
                    summary['B'][0], 'ratio', None, None,
                    'wall clock, +-4 % between runs'),
             figure('renewal every 2 s under load, req/s S / B',
                    summary['S'][0], 'ratio', None, None,
                    '%d renewals, %d non-2xx' % (len(in_meas), nbad['S']))]
    record('token', figs, module=digest)

    for i in list(running):
        i.stop()
    if problems or total_bad:
        sys.exit(2)



if __name__ == '__main__':
    run(main, running)
