#!/usr/bin/env python3
"""Benchmark of auth_ip against nginx's allow/deny and geo, in one run.

Started by bench/run.sh (make bench), which creates the work directory,
passes it as the only argument and removes it, and every nginx started
here, when this script ends. See bench/README.md for what is measured.

Environment (all optional):
  NGINX_BIN        nginx binary                      /usr/sbin/nginx
  MODULE           the module's .so (absolute path)  build/ngx_http_credential_module.so
  BENCH_DURATION   seconds per wrk run               2
  BENCH_WARMUP     seconds of unmeasured wrk per configuration, once  1
  BENCH_ROUNDS     interleaved rounds                4
  BENCH_CONNS      wrk connections                   32
  BENCH_BIG        prefixes in the large lists       1000000
  BENCH_MID        prefixes in the medium lists      100000
  BENCH_T_RUNS     nginx -t runs per configuration   5
  BENCH_PIN        1: nginx worker on CPU 1, wrk on CPU 0   0
  BENCH_LISTS      lists the large list is split into (memory)  100
  BENCH_LOOKUP_ROUNDS   rounds of the lookup's own section (1b)  15
  BENCH_LOOKUP_SECONDS  seconds per wrk run there               2
  BENCH_PERF_ROUNDS     runs of perf record there (if perf works)  5
  BENCH_BEFORE     a worktree of an earlier module (its build/*.so and
                   src/): its d' interleaved in section 1b, its lookup in
                   1c, for figures before and after from one run
  BENCH_ONLY       lookup: only a', d' (and h'), memory of d', sections
                   1b and 1c: no nginx -t, no throughput rounds, no geo,
                   nothing recorded for summary.py; the edge addresses
                   compared between d' and h' instead of geo (~3 min)
"""

import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (HERE, ROOT, NGINX, MODULE, log, die,  # noqa: E402
                      free_port, read, alive, stop_pid, wait_port,
                      copy_module, run, figure, record)

DURATION = int(os.environ.get('BENCH_DURATION', '2'))
WARMUP = int(os.environ.get('BENCH_WARMUP', '1'))
ROUNDS = int(os.environ.get('BENCH_ROUNDS', '4'))
CONNS = int(os.environ.get('BENCH_CONNS', '32'))
BIG = int(os.environ.get('BENCH_BIG', '1000000'))
MID = int(os.environ.get('BENCH_MID', '100000'))
T_RUNS = int(os.environ.get('BENCH_T_RUNS', '5'))
PIN = os.environ.get('BENCH_PIN', '0') == '1' and (os.cpu_count() or 1) >= 2
LISTS = int(os.environ.get('BENCH_LISTS', '100'))
LOOKUP_ROUNDS = int(os.environ.get('BENCH_LOOKUP_ROUNDS', '15'))
LOOKUP_SECONDS = int(os.environ.get('BENCH_LOOKUP_SECONDS', '2'))
PERF_ROUNDS = int(os.environ.get('BENCH_PERF_ROUNDS', '5'))
BEFORE = os.environ.get('BENCH_BEFORE', '')
ONLY = os.environ.get('BENCH_ONLY', '')

running = []            # Instance objects with a live nginx





def fmt_n(n):
    return '{:,}'.format(n)


# --------------------------------------------------------------------------
# nginx instances

CONF = """\
load_module {module};
{user}
worker_processes 1;
{affinity}
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 60s;
    default_type text/plain;
    root {www};

{http}
    server {{
        listen 127.0.0.1:{port};
        location / {{
{loc}
        }}
    }}
{realip}}}
"""

REALIP = """
    # the same location, but the client address is taken from X-Real-IP
    server {{
        listen 127.0.0.1:{port};
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Real-IP;
        location / {{
{loc}
        }}
    }}
"""


LOADED = MODULE         # the copy in the work directory, see main()


class Instance:
    def __init__(self, work, name, http='', loc='', realip=False, env=None,
                 module=None):
        self.name = name
        self.env = env
        self.args = dict(http=http, loc=loc, realip=realip, module=module)
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.port = free_port()
        self.rport = free_port() if realip else None
        self.conf = os.path.join(self.dir, 'nginx.conf')
        self.errlog = os.path.join(self.dir, 'error.log')
        self.master = None
        sub = dict(dir=self.dir, www=os.path.join(work, 'www'))
        http = http.format(**sub)
        loc = loc.format(**sub)
        with open(self.conf, 'w') as f:
            f.write(CONF.format(
                module=module or LOADED,
                user='user root;' if os.geteuid() == 0 else '',
                affinity='worker_cpu_affinity 10;' if PIN else '',
                http=http, loc=loc, port=self.port,
                realip=REALIP.format(port=self.rport, loc=loc)
                if realip else '',
                **sub))

    def clone(self, work, name, env=None):
        return Instance(work, name, env=env, **self.args)

    def cmd(self, *args):
        return [NGINX, '-p', self.dir + '/', '-c', self.conf,
                '-e', self.errlog] + list(args)

    def test(self):
        """nginx -t: (wall seconds, CPU seconds: user + sys of that
        process alone, from wait4(), which other load hardly moves)"""
        t0 = time.monotonic()
        p = subprocess.Popen(self.cmd('-t'), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        t = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            die('nginx -t failed for %s:\n%s'
                % (self.name, err.decode(errors='replace')))
        return t, ru.ru_utime + ru.ru_stime

    def peak(self):
        """VmHWM (KiB) of a master run in the foreground, once it listens:
        the peak of reading the configuration. (A daemon master is a fork
        made after that, and the ru_maxrss of "nginx -t" starts at the
        RSS of whatever forked it, here python.)"""
        p = subprocess.Popen(self.cmd('-g', 'daemon off;'),
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        self.master = p.pid
        running.append(self)
        worker = None
        try:
            # a loaded machine reads a million geo prefixes in well over
            # the 20 s that one wait_port() allows
            for _ in range(6):
                if wait_port(self.port, p) or p.poll() is not None:
                    break
            if p.poll() is not None or not wait_port(self.port, p):
                die('nginx %s (foreground) did not start:\n%s'
                    % (self.name, read(self.errlog)[-2000:]))
            # a master told to quit while it is still starting its worker
            # may leave that worker behind: wait for the worker first
            for _ in range(400):
                worker = self.worker()
                if worker:
                    break
                time.sleep(0.025)
            time.sleep(0.2)
            return status_kb(p.pid, 'VmHWM')
        finally:
            p.send_signal(signal.SIGQUIT)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if worker:
                stop_pid(worker)
            self.master = None
            running.remove(self)

    def start(self):
        env = dict(os.environ, **self.env) if self.env else None
        r = subprocess.run(self.cmd(), capture_output=True, text=True,
                           env=env)
        if r.returncode != 0:
            die('nginx %s did not start:\n%s%s' % (self.name, r.stderr,
                                                   read(self.errlog)))
        running.append(self)
        pidfile = os.path.join(self.dir, 'nginx.pid')
        for _ in range(400):
            try:
                self.master = int(read(pidfile).strip())
                break
            except ValueError:
                time.sleep(0.025)
        else:
            die('nginx %s wrote no pid' % self.name)
        for port in (self.port, self.rport):
            if port and not wait_port(port):
                die('nginx %s does not listen on %d' % (self.name, port))
        # the worker is up once it accepts; give it a moment to settle
        for _ in range(200):
            if self.worker():
                break
            time.sleep(0.025)

    def worker(self):
        try:
            kids = read('/proc/%d/task/%d/children'
                        % (self.master, self.master)).split()
            if kids:
                return int(kids[0])
        except OSError:
            pass
        for d in os.listdir('/proc'):
            if d.isdigit():
                try:
                    st = read('/proc/%s/stat' % d)
                except OSError:
                    continue
                if int(st.rsplit(')', 1)[1].split()[1]) == self.master:
                    return int(d)
        return None

    def stop(self):
        if self.master is None:
            return
        worker = self.worker()
        stop_pid(self.master)
        if worker:
            stop_pid(worker)
        self.master = None
        if self in running:
            running.remove(self)

    def crashes(self):
        return [l for l in read(self.errlog).splitlines()
                if 'exited on signal' in l]

    def warnings(self):
        return [l for l in read(self.errlog).splitlines()
                if '[warn]' in l or '[emerg]' in l or '[alert]' in l
                or '[crit]' in l]





CLK_TCK = os.sysconf('SC_CLK_TCK')


def cpu_ns(pid):
    """CPU time of a process's main thread, in nanoseconds: the first field
    of /proc/PID/schedstat (the scheduler's own count; utime + stime of
    /proc/PID/stat is in 10 ms ticks, sampled, and a 2 s run of 20 us
    requests moves it by a microsecond per request). nginx workers run
    one thread. Falls back on the ticks where schedstat is missing."""
    if not pid:
        return None
    try:
        return int(read('/proc/%d/schedstat' % pid).split()[0])
    except (OSError, ValueError, IndexError):
        pass
    try:
        f = read('/proc/%d/stat' % pid).rsplit(')', 1)[1].split()
    except OSError:
        return None
    return (int(f[11]) + int(f[12])) * 1000000000 // CLK_TCK


def spread(xs):
    """median (min-max) of a list, for the report"""
    return statistics.median(xs), min(xs), max(xs)


def status_kb(pid, field):
    for line in read('/proc/%d/status' % pid).splitlines():
        if line.startswith(field + ':'):
            return int(line.split()[1])
    return 0


def get(port, xrealip=None):
    req = urllib.request.Request('http://127.0.0.1:%d/f.txt' % port)
    if xrealip:
        req.add_header('X-Real-IP', xrealip)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# --------------------------------------------------------------------------
# wrk

def wrk_cmd(port, seconds, script=None, addr=None):
    cmd = ['wrk', '-t1', '-c%d' % CONNS, '-d%ds' % seconds, '--timeout', '5s']
    if script:
        cmd += ['-s', script]
    cmd.append('http://127.0.0.1:%d/f.txt' % port)
    if addr:
        cmd += ['--', addr]
    if PIN:
        cmd = ['taskset', '-c', '0'] + cmd
    return cmd


def wrk_parse(rc, out):
    """(req/s, non-2xx + socket errors, requests)"""
    rps = None
    bad = 0
    nreq = None
    for line in out.splitlines():
        line = line.strip()
        if ' requests in ' in line:
            nreq = int(line.split()[0])
        elif line.startswith('Requests/sec:'):
            rps = float(line.split()[1])
        elif line.startswith('Non-2xx or 3xx responses:'):
            bad = int(line.split()[-1])
        elif line.startswith('Socket errors:'):
            bad += sum(int(x.rstrip(',')) for x in line.split()[3::2])
    if rc != 0 or rps is None:
        die('wrk failed:\n' + out)
    return rps, bad, nreq


def wrk(port, seconds, script=None, addr=None):
    r = subprocess.run(wrk_cmd(port, seconds, script, addr),
                       capture_output=True, text=True)
    rps, bad, wrk.requests = wrk_parse(r.returncode, r.stdout + r.stderr)
    return rps, bad


def wrk_together(ports, seconds, script, addr):
    """one wrk per port, all at once: [(req/s, bad, requests)]"""
    ps = [subprocess.Popen(wrk_cmd(port, seconds, script, addr),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True) for port in ports]
    return [wrk_parse(p.wait(), p.stdout.read()) for p in ps]


# nginx's functions from the server rewrite phase, where auth_ip prefetches
# the slot, to the gate, first of the rewrite phase: a prefetch that only
# moved the slot's stall would show here
BETWEEN = ('ngx_http_core_run_phases', 'ngx_http_core_rewrite_phase',
           'ngx_http_rewrite_handler', 'ngx_http_core_find_config_phase',
           'ngx_http_core_find_location', 'ngx_http_core_find_static_location',
           'ngx_http_update_location_config')


def perf_lookup(work, ks, target, script, addr_file, seconds):
    """The CPU time per request in the module's lookup (ngx_http_auth_ip_*
    and ngx_edge_auth_lpm* functions), sampled by perf record (cpu-clock,
    one sample each 1 ms of the worker's CPU time) while each of ks is
    loaded, all at once: {k: ns per request}, or a reason as a string.
    A share of the worker's own time, so other load moves it far less than
    a difference of two processes' CPU time. (A sample every 100 us made
    lpm_bench's lookups 5 times slower in this VM: each sample's interrupt
    empties the TLB; at 1 ms, 10 % slower.)"""
    period = 1000000
    procs, files = [], []
    for k in ks:
        f = os.path.join(work, 'perf.%s.data' % k)
        try:
            p = subprocess.Popen(['perf', 'record', '-q', '-e', 'cpu-clock',
                                  '-c', str(period), '-o', f, '-p',
                                  str(target[k][0].worker())],
                                 stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
        except OSError:
            return 'no perf'
        procs.append(p)
        files.append(f)
    time.sleep(0.3)
    res = wrk_together([target[k][1] for k in ks], seconds, script,
                       addr_file)
    for p in procs:
        p.send_signal(signal.SIGINT)
    out = {}
    for k, p, f, (_, _, nreq) in zip(ks, procs, files, res):
        try:
            err = p.communicate(timeout=30)[1]
        except subprocess.TimeoutExpired:
            p.kill()
            return 'perf record did not stop'
        if p.returncode not in (0, -signal.SIGINT, 130) \
                or not os.path.exists(f):
            return 'perf record failed: ' + err.strip()[-200:]
        r = subprocess.run(['perf', 'report', '-i', f, '--sort', 'sym',
                            '-F', 'sample,sym', '--stdio'],
                           capture_output=True, text=True)
        n = nb = 0
        for line in r.stdout.splitlines():
            x = line.split()
            if len(x) >= 3 and x[0].isdigit() and (
                    x[2].startswith('ngx_http_auth_ip_')
                    or x[2].startswith('ngx_edge_auth_lpm')):
                n += int(x[0])
            elif len(x) >= 3 and x[0].isdigit() and x[2] in BETWEEN:
                nb += int(x[0])
        # the samples cover the whole wrk run, less the 0.3 s before it
        out[k] = n * period / float(nreq or 1)
        out[(k, 'between')] = nb * period / float(nreq or 1)
    return out


def perf_counters(pid, port, script, addr_file):
    """perf stat of the worker over one wrk run: per request, or why not"""
    events = 'task-clock,cache-misses,dTLB-load-misses,page-faults'
    try:
        p = subprocess.Popen(['perf', 'stat', '-x', ',', '-e', events,
                              '-p', str(pid)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    except OSError:
        return 'no perf'
    time.sleep(0.2)
    wrk(port, LOOKUP_SECONDS, script, addr_file)
    nreq = wrk.requests or 1
    p.send_signal(signal.SIGINT)
    try:
        err = p.communicate(timeout=10)[1]
    except subprocess.TimeoutExpired:
        p.kill()
        return 'perf stat did not stop'
    out = []
    for line in err.splitlines():
        f = line.split(',')
        if len(f) < 3 or f[2] not in events.split(','):
            continue
        if f[0].startswith('<'):
            out.append('%s %s' % (f[2], f[0].strip('<>')))
        else:
            try:
                v = float(f[0])
            except ValueError:
                continue
            out.append('%s %.3g%s/req' % (f[2], v / nreq,
                                         ' ms' if f[2] == 'task-clock'
                                         else ''))
    return ', '.join(out) or ('nothing read: ' + err.strip()[-200:])


def lpm_harness(work, authip, addr_file, root, quiet=False):
    """bench/lpm_bench.c, built here with the sources of root (this tree or
    BENCH_BEFORE): the lookup without nginx. Returns {name: (median, min,
    max)} in ns."""
    exe = os.path.join(work, 'lpm_bench.%s' % ('this' if root == ROOT
                                                else 'before'))
    cc = os.environ.get('CC', 'cc')
    r = subprocess.run([cc, '-O2', '-I', os.path.join(root, 'src'), '-o', exe,
                        os.path.join(HERE, 'lpm_bench.c'),
                        os.path.join(root, 'src', 'ngx_edge_auth_lpm.c'),
                        os.path.join(root, 'src', 'ngx_edge_auth_cidr.c')],
                       capture_output=True, text=True)
    if r.returncode != 0:
        log('  lpm_bench did not build:\n' + r.stderr)
        return {}
    # WORK 8192: the slot prefetched before ~0.1 us of other reads (the
    # server rewrite phase to the gate), lpm_bench.c
    r = subprocess.run([exe, authip, addr_file, '200000', '31', '32768',
                        '8192'], capture_output=True, text=True)
    res = {}
    for line in r.stdout.splitlines():
        if line.startswith('RESULT '):
            f = line[7:].rsplit(None, 3)
            res[f[0].strip()] = tuple(float(x) for x in f[1:])
        elif not quiet:
            log('  %s%s' % ('' if root == ROOT else 'before: ', line))
    if r.returncode != 0:
        log('  lpm_bench failed:\n' + r.stderr)
    return res


def merge(into, res):
    for k, v in res.items():
        into.setdefault(k, []).append(v)


def merged(runs):
    """(median of the medians, lowest min, highest max) of harness runs"""
    return (statistics.median(r[0] for r in runs), min(r[1] for r in runs),
            max(r[2] for r in runs))


# --------------------------------------------------------------------------

def memory_detail(work, inst, mem, nbig, pd, debug_build):
    """Section 2 after the bytes per prefix of d': geo's, where the
    auth_ip bytes go, the lists split. Returns (pf, pfix, b_text, pg)."""
    L = lambda n: os.path.join(work, n)
    pf = (mem['f'][0] - mem['a'][0]) * 1024.0 / nbig
    log('  => auth_ip_list %.1f bytes/prefix (target <= 64), geo %.1f '
        'bytes/prefix: geo uses %.1fx the memory'
        % (pd, pf, pf / pd if pd > 0 else float('nan')))

    # where the auth_ip_list bytes go: the same configurations again with
    # a fixed malloc mmap threshold (every large block freed after the
    # configuration is read goes back to the kernel), and two costs of
    # nginx's own configuration parser, counted from the list file
    tun = {'GLIBC_TUNABLES': 'glibc.malloc.mmap_threshold=131072'}
    fixed = {}
    for k, src in (('a', inst['a']), ('d', inst['d'])):
        i = src.clone(work, src.name + '-mmap', env=tun)
        i.start()
        fixed[k] = status_kb(i.master, 'VmRSS')
        i.stop()
    pfix = (fixed['d'] - fixed['a']) * 1024.0 / nbig
    text = os.path.getsize(L('big.authip'))
    b_text = text / float(nbig) if debug_build else 0.0
    log('  auth_ip_list %.1f bytes/prefix, where they go:' % pd)
    log('    %5.1f  freed parse-time memory still resident in the malloc '
        'heap (RSS with' % (pd - pfix))
    log('           %s: %.1f bytes/prefix)'
        % (tun['GLIBC_TUNABLES'], pfix))
    if debug_build:
        log('    %5.1f  text of the included list file: a --with-debug nginx '
            'keeps a copy of' % b_text)
        log('           every configuration file for "nginx -T" '
            '(ngx_conf_parse); geo pays it too')
    log('    %5.1f  the rest: the module\'s own tables (range starts, values, '
        'index)' % (pfix - b_text))

    # proportional to the prefixes, whatever the number of lists: the same
    # prefixes dealt into LISTS lists against one list
    pg = (mem['g'][0] - mem['a'][0]) * 1024.0 / nbig
    log('  the same %s prefixes in %d lists of ~%s: master %.1f MiB, %.1f '
        'bytes/prefix (module\'s own %.1f),'
        % (fmt_n(nbig), LISTS, fmt_n(nbig // LISTS), mem['g'][0] / 1024.0, pg,
           pg - b_text))
    log('  => %d lists / one list: %.2fx the memory (target <= 1.1x)'
        % (LISTS, pg / pd if pd > 0 else float('nan')))
    log('')

    return pf, pfix, b_text, pg


def main():
    if len(sys.argv) != 2:
        die('usage: bench.py WORKDIR')
    work = sys.argv[1]
    for path, what in ((NGINX, 'NGINX_BIN'), (MODULE, 'MODULE')):
        if not os.path.exists(path):
            die('%s %s does not exist' % (what, path))

    global LOADED
    LOADED, digest = copy_module(work)
    nginx_v = subprocess.run([NGINX, '-V'], capture_output=True,
                             text=True).stderr
    debug_build = '--with-debug' in nginx_v

    log('ngx_http_credential_module benchmark   %s'
        % time.strftime('%Y-%m-%d %H:%M'))
    log('nginx %s (%s)%s' % (NGINX, nginx_v.splitlines()[0].split('/')[-1],
                             ', --with-debug' if debug_build else ''))
    log('module %s (built %s, sha256 %s...; a copy is loaded)'
        % (MODULE, time.strftime('%Y-%m-%d %H:%M',
                                 time.localtime(os.stat(MODULE).st_mtime)),
           digest))
    log('%d CPUs, load average %s, wrk -t1 -c%d -d%ds, %d round(s)%s'
        % (os.cpu_count() or 0, ' '.join(read('/proc/loadavg').split()[:3]),
           CONNS, DURATION, ROUNDS,
           ', pinned (nginx CPU 1, wrk CPU 0)' if PIN else ''))
    log('')

    www = os.path.join(work, 'www')
    os.makedirs(www)
    with open(os.path.join(www, 'f.txt'), 'w') as f:
        f.write('ok\n')

    # -- the lists --------------------------------------------------------
    t0 = time.monotonic()
    gen = os.path.join(HERE, 'gen_prefixes.py')
    L = lambda n: os.path.join(work, n)
    jobs = [
        subprocess.Popen([sys.executable, gen, '--count', str(BIG),
                          '--seed', '1', '--client',
                          '--authip', L('big.authip'), '--geo', L('big.geo'),
                          '--addresses', L('big.addr')]),
        subprocess.Popen([sys.executable, gen, '--count', str(MID),
                          '--seed', '2', '--client',
                          '--authip', L('mid.authip')]),
        subprocess.Popen([sys.executable, gen, '--count', str(MID),
                          '--seed', '3', '--access', L('mid.access')]),
    ]
    for j in jobs:
        if j.wait() != 0:
            die('gen_prefixes.py failed')
    nbig = sum(1 for _ in open(L('big.authip')))
    nmid = sum(1 for _ in open(L('mid.authip')))
    log('lists generated in %.1f s: %s and %s IPv4 prefixes (random, '
        'nested, ~10%% deny; 127.0.0.1 allowed by 127.0.0.0/8 among 510 '
        'denied ranges of 127.0/16)'
        % (time.monotonic() - t0, fmt_n(nbig), fmt_n(nmid)))
    # the same prefixes as the large list, dealt into LISTS lists
    big_lines = open(L('big.authip')).read().splitlines(True)
    for i in range(LISTS):
        with open(L('split.%d.authip' % i), 'w') as f:
            f.writelines(big_lines[i::LISTS])
    del big_lines
    log('')

    # -- the configurations -----------------------------------------------
    inst = {}
    inst['a'] = Instance(work, 'a-baseline', realip=True)
    inst['b'] = Instance(work, 'b-authip-1',
                         http='    auth_ip_list one {{ 127.0.0.1; }}\n',
                         loc='            auth_ip one;')
    inst['c'] = Instance(work, 'c-authip-mid',
                         http='    auth_ip_list mid {{ include %s; }}\n'
                         % L('mid.authip'),
                         loc='            auth_ip mid;')
    inst['d'] = Instance(work, 'd-authip-big',
                         http='    auth_ip_list big {{ include %s; }}\n'
                         % L('big.authip'),
                         loc='            auth_ip big;', realip=True)
    inst['e'] = Instance(work, 'e-allow-deny-mid',
                         loc='            include %s;\n'
                             '            allow 127.0.0.1;\n'
                             '            deny all;' % L('mid.access'))
    inst['f'] = Instance(work, 'f-geo-big',
                         http='    geo $bench_ok {{\n'
                              '        default 0;\n'
                              '        include %s;\n'
                              '    }}\n' % L('big.geo'),
                         loc='            if ($bench_ok = 0) {{ return 403; }}',
                         realip=True)
    inst['g'] = Instance(work, 'g-authip-split',
                         http=''.join('    auth_ip_list l%d {{ include %s; }}\n'
                                      % (i, L('split.%d.authip' % i))
                                      for i in range(LISTS)),
                         loc='            auth_ip l0;')

    if ONLY == 'lookup':
        inst = {k: inst[k] for k in ('a', 'd')}

    if BEFORE:
        before_so = os.path.join(work, 'before.so')
        shutil.copy2(os.path.join(BEFORE, 'build', os.path.basename(MODULE)),
                     before_so)
        inst['h'] = Instance(work, 'h-authip-big-before',
                             **dict(inst['d'].args, module=before_so))
        log('before: %s (d\' of that module: h\')' % BEFORE)

    # -- 3. nginx -t, and the peak memory of reading the configuration ----
    log('== 3. nginx -t: wall and CPU seconds (user + sys; median of %d '
        'runs, interleaved) ==' % T_RUNS)
    log('   peak: VmHWM of a master started in the foreground (the process '
        'that read the configuration)')
    tests = {k: [] for k in ('a', 'c', 'd', 'f') if k in inst}
    for _ in range(T_RUNS if ONLY != 'lookup' else 0):
        for k in tests:
            tests[k].append(inst[k].test())
    if ONLY == 'lookup':
        tests = {}
    t_med = {k: statistics.median(x[0] for x in v) for k, v in tests.items()}
    c_med = {k: statistics.median(x[1] for x in v) for k, v in tests.items()}
    c_rng = {k: (min(x[1] for x in v), max(x[1] for x in v))
             for k, v in tests.items()}
    hwm = {k: inst[k].peak() for k in tests}
    labels = {'a': 'empty (module loaded, no list)',
              'c': 'auth_ip_list, %s prefixes' % fmt_n(nmid),
              'd': 'auth_ip_list, %s prefixes' % fmt_n(nbig),
              'f': 'geo, %s prefixes' % fmt_n(nbig)}
    log('  %-36s %9s %8s %14s %12s %14s'
        % ('configuration', 'wall s', 'ratio', 'CPU s (range)', 'peak RSS',
           'peak B/prefix'))
    for k in tests:
        n = {'a': 0, 'c': nmid, 'd': nbig, 'f': nbig}[k]
        per = ('%14.0f' % ((hwm[k] - hwm['a']) * 1024.0 / n)) if n else \
            '%14s' % '-'
        log('  %-36s %9.3f %7.1fx %5.2f (%.2f-%.2f) %8.1f MiB %s'
            % (labels[k], t_med[k], t_med[k] / t_med['a'], c_med[k],
               c_rng[k][0], c_rng[k][1], hwm[k] / 1024.0, per))
    if 'f' in tests:
        log('  => nginx -t with %s auth_ip_list prefixes: %.2f s CPU, '
            '%.3fx geo\'s CPU time (target <= 0.15x); wall %.2f s, %.3fx '
            'geo' % (fmt_n(nbig), c_med['d'], c_med['d'] / c_med['f'],
                     t_med['d'], t_med['d'] / t_med['f']))
    log('')

    # -- start ------------------------------------------------------------
    for k in sorted(inst):
        inst[k].start()
    for k in sorted(inst):
        w = inst[k].warnings()
        if w:
            log('  %s: %d warning(s) in error.log, first: %s'
                % (inst[k].name, len(w), w[0]))

    # -- 2. memory --------------------------------------------------------
    log('== 2. memory after startup (VmRSS; before any request) ==')
    mem = {}
    for k in ('a', 'd', 'f', 'g', 'h'):
        if k not in inst:
            continue
        m = inst[k].master
        w = inst[k].worker()
        mem[k] = (status_kb(m, 'VmRSS'), status_kb(w, 'VmRSS') if w else 0)
    log('  %-36s %12s %12s   %s' % ('configuration', 'master', 'worker',
                                    'bytes/prefix: master (worker)'))
    for k, lab in (('a', 'empty (module loaded, no list)'),
                   ('d', 'auth_ip_list, %s prefixes' % fmt_n(nbig)),
                   ('h', 'auth_ip_list, %s prefixes, module before'
                    % fmt_n(nbig)),
                   ('f', 'geo, %s prefixes' % fmt_n(nbig))):
        if k not in mem:
            continue
        ms, ws = mem[k]
        per = ''
        if k != 'a':
            pm = (ms - mem['a'][0]) * 1024.0 / nbig
            pw = (ws - mem['a'][1]) * 1024.0 / nbig
            per = '%.1f (%.1f)' % (pm, pw)
        log('  %-36s %8.1f MiB %8.1f MiB   %s'
            % (lab, ms / 1024.0, ws / 1024.0, per))
    pd = (mem['d'][0] - mem['a'][0]) * 1024.0 / nbig
    if ONLY == 'lookup':
        log('  => auth_ip_list %.1f bytes/prefix (target <= 32)' % pd)
        log('')
    else:
        pf, pfix, b_text, pg = memory_detail(work, inst, mem, nbig, pd,
                                             debug_build)

    # -- sanity: the access checks really run ---------------------------
    addrs = [l.strip() for l in open(L('big.addr')) if l.strip()]
    checks = [(k, None, 200) for k in 'abcdef']
    checks += [('a realip', '127.0.0.2', 200),
               ('d realip', '127.0.0.2', 403),
               ('f realip', '127.0.0.2', 403),
               ('d realip', '127.0.1.1', 403),
               ('f realip', '127.0.1.1', 403),
               ('d realip', '127.1.2.3', 200)]
    for a in addrs[:100]:
        checks.append(('d realip', a, 200))
        checks.append(('f realip', a, 200))
    checks = [(name, inst[name[0]].rport if xr else inst[name[0]].port, xr,
               want) for name, xr, want in checks if name[0] in inst]
    bad = []
    for name, port, xr, want in checks:
        code, body = get(port, xr)
        if code != want:
            bad.append('%s X-Real-IP %s: %d, expected %d %r'
                       % (name, xr, code, want, body[:200]))

    # auth_ip and geo hold the same prefixes with the same allow/deny
    # (geo: 1/0, default 0): they must answer alike, also on the edges of
    # the prefixes (first and last address, and the ones just outside);
    # without geo, the module before (h') instead
    other = 'f' if 'f' in inst else 'h' if 'h' in inst else 'd'
    other_name = {'f': 'geo', 'h': 'the module before', 'd': 'itself'}[other]
    import random
    rnd = random.Random(7)
    sample = rnd.sample(open(L('big.authip')).read().splitlines(), 150)
    edge = []
    for line in sample:
        p = line.split()[0].rstrip(';')
        a, n = p.split('/')
        o = [int(x) for x in a.split('.')]
        v = (o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]
        last = v + (1 << (32 - int(n))) - 1
        for x in (v - 1, v, last, last + 1):
            x &= 0xffffffff
            edge.append('%d.%d.%d.%d' % (x >> 24, (x >> 16) & 255,
                                         (x >> 8) & 255, x & 255))
    agree = {200: 0, 403: 0}
    for xr in edge:
        cd, _ = get(inst['d'].rport, xr)
        cf, _ = get(inst[other].rport, xr)
        if cd != cf:
            bad.append('X-Real-IP %s: auth_ip %d, %s %d'
                       % (xr, cd, other_name, cf))
        else:
            agree[cd] = agree.get(cd, 0) + 1
    if bad:
        die('sanity checks failed:\n  ' + '\n  '.join(bad[:30]))
    log('sanity: %d requests answered as expected (200 for allowed '
        'addresses, JSON 403 for denied ones); auth_ip and %s agree on '
        '%d edge addresses of %d prefixes (%d allowed, %d denied)'
        % (len(checks), other_name, len(edge), len(sample), agree[200],
           agree[403]))
    log('')

    # -- 1. throughput ----------------------------------------------------
    #
    # Other load on the machine moves absolute figures by 2x within a
    # minute, so every configuration is measured between two runs of its
    # baseline and compared with their mean: a b a c a d a e a f a, then
    # a' d' a' f' a' (random client addresses, realip); the order of the
    # configurations rotates from round to round.
    script = os.path.join(HERE, 'random_client.lua')
    addr_file = L('big.addr')
    families = [('a', ['b', 'c', 'd', 'e', 'f']), ('ar', ['dr', 'fr'])]
    order = ['a', 'b', 'c', 'd', 'e', 'f', 'ar', 'dr', 'fr']
    if ONLY == 'lookup':
        families = []
        order = []
    label = {
        'a': 'a  baseline: static file, no access rules',
        'b': 'b  auth_ip, 1 prefix',
        'c': 'c  auth_ip, %s prefixes' % fmt_n(nmid),
        'd': 'd  auth_ip, %s prefixes' % fmt_n(nbig),
        'e': 'e  allow/deny, %s rules (linear scan)' % fmt_n(MID + 2),
        'f': 'f  geo + if, %s prefixes' % fmt_n(nbig),
        'ar': "a' baseline + realip, random clients",
        'dr': "d' auth_ip %s + realip, random clients" % fmt_n(nbig),
        'fr': "f' geo %s + realip, random clients" % fmt_n(nbig),
    }
    target = {}         # instance, port, random clients
    for k in order if ONLY != 'lookup' else ['ar', 'dr']:
        i = inst[k[0]]
        target[k] = (i, i.rport if k.endswith('r') else i.port,
                     k.endswith('r'))

    def measure(k):
        i, port, rnd = target[k]
        return measure_for(k, DURATION)

    def measure_for(k, seconds):
        i, port, rnd = target[k]
        w = i.worker()
        c0 = cpu_ns(w)
        rps, bad = wrk(port, seconds, *((script, addr_file) if rnd
                                        else (None, None)))
        c1 = cpu_ns(w)
        nreq = wrk.requests or rps * seconds
        if c0 is None or c1 is None or rps <= 0 or nreq <= 0:
            return rps, float('nan'), bad + 1
        return rps, (c1 - c0) / 1e9 / nreq, bad

    nbad = {k: 0 for k in ['ar', 'dr']}
    summary = {}
    if families:
        nruns = ROUNDS * sum(2 * len(x) + 1 for _, x in families)
        log('== 1. throughput: wrk -t1 -c%d -d%ds, GET /f.txt (3-byte static '
            'file) ==' % (CONNS, DURATION))
        log('  %d rounds, each configuration between two runs of its '
            'baseline; '
            '%d runs, ~%d s'
            % (ROUNDS, nruns, nruns * (DURATION + 0.2) + WARMUP * len(order)))

        if WARMUP:
            for k in order:
                i, port, rnd = target[k]
                wrk(port, WARMUP, *((script, addr_file) if rnd
                                    else (None, None)))

        rps = {k: [] for k in order}
        cpu = {k: [] for k in order}
        ratio = {k: [] for k in order}
        cratio = {k: [] for k in order}
        cdiff = {k: [] for k in order}      # CPU/req - its baselines' mean
        nbad = {k: 0 for k in order}

        for r in range(ROUNDS):
            line = []
            for base, xs in families:
                xs = xs[r % len(xs):] + xs[:r % len(xs)]
                prev = measure(base)
                rps[base].append(prev[0])
                cpu[base].append(prev[1])
                nbad[base] += prev[2]
                line.append('%s %.0f' % (base, prev[0]))
                for x in xs:
                    cur = measure(x)
                    nxt = measure(base)
                    rps[x].append(cur[0])
                    cpu[x].append(cur[1])
                    nbad[x] += cur[2]
                    rps[base].append(nxt[0])
                    cpu[base].append(nxt[1])
                    nbad[base] += nxt[2]
                    ratio[x].append(cur[0] / ((prev[0] + nxt[0]) / 2.0))
                    cratio[x].append(((prev[1] + nxt[1]) / 2.0) / cur[1])
                    cdiff[x].append(cur[1] - (prev[1] + nxt[1]) / 2.0)
                    line.append('%s %.0f' % (x, cur[0]))
                    line.append('%s %.0f' % (base, nxt[0]))
                    prev = nxt
            log('  round %d req/s: %s' % (r + 1, ' '.join(line)))

        log('')
        log('  %-46s %8s %7s  %-24s %8s %7s'
            % ('configuration', 'req/s', 'ratio', 'ratio per round',
               'CPU/req', 'ratio'))
        summary = {}
        for k in order:
            base = k in ('a', 'ar')
            med_r = 1.0 if base else statistics.median(ratio[k])
            med_c = 1.0 if base else statistics.median(cratio[k])
            summary[k] = (med_r, med_c)
            log('  %-46s %8.0f %7.3f  %-24s %6.1fus %7.3f%s'
                % (label[k], statistics.median(rps[k]), med_r,
                   '' if base else ' '.join('%.2f' % x for x in ratio[k]),
                   statistics.median(cpu[k]) * 1e6, med_c,
                   '' if not nbad[k] else
                   '   !! %d non-2xx, socket errors or lost workers'
                   % nbad[k]))
        log('  ratio: median over rounds of req/s / mean req/s of the two '
            'baseline runs around it')
        log('  CPU/req: CPU time of the nginx worker per request; its '
            'ratio is '
            'baseline CPU/req / CPU/req,')
        log('    the throughput ratio of a CPU-bound worker, much less '
            'disturbed by other load')
        log("  baseline of d' and f' is a'; a' / a = %.3f (realip, and wrk "
            "replaying %s requests)"
            % (statistics.median(rps['ar']) / statistics.median(rps['a']),
               fmt_n(len(addrs))))
        log('')
        log('  SUMMARY  throughput ratio (CPU-bound ratio) to baseline a:')
        log('    b %.2f (%.2f)   c %.2f (%.2f)   d %.2f (%.2f)   e allow/deny '
            '%.2f (%.2f)   f geo %.2f (%.2f)'
            % tuple(x for k in 'bcdef' for x in summary[k]))
        log("    random clients, to a': d' auth_ip %.2f (%.2f)   f' geo %.2f "
            "(%.2f)" % tuple(x for k in ('dr', 'fr') for x in summary[k]))
        log('')

    # -- 1b. the lookup's own cost: a' and d' loaded at the same time -----
    # Measured one after the other, even in 1 s runs, the CPU time per
    # request of the same nginx moved by 2x from run to run here (other
    # processes on the 2 cores, their caches), and d' - a' by +-10 us.
    # Loaded together, both see the same load; CPU time from schedstat.
    # With BENCH_BEFORE, h' (d' of the earlier module) runs with them.
    xs = ['dr'] + (['hr'] if 'h' in inst else [])
    if 'h' in inst:
        target['hr'] = (inst['h'], inst['h'].rport, True)
        label['hr'] = "h' auth_ip %s + realip, module before" % fmt_n(nbig)
        nbad['hr'] = 0
    log("== 1b. the lookup's extra CPU per request: a' and %s loaded at "
        "once, %d rounds of %d s ==" % (' and '.join(k[0] + "'" for k in xs),
                                        LOOKUP_ROUNDS, LOOKUP_SECONDS))
    together = ['ar'] + xs
    lk = {k: [] for k in together}
    lkd = {k: [] for k in xs}
    for r in range(LOOKUP_ROUNDS):
        ws = [target[k][0].worker() for k in together]
        c0 = [cpu_ns(w) for w in ws]
        res = wrk_together([target[k][1] for k in together], LOOKUP_SECONDS,
                           script, addr_file)
        c1 = [cpu_ns(w) for w in ws]
        per = {}
        for k, a, b, (_, bad, nreq) in zip(together, c0, c1, res):
            nbad[k] += bad
            if a is None or b is None or not nreq:
                nbad[k] += 1
                per[k] = float('nan')
            else:
                per[k] = (b - a) / 1e9 / nreq
            lk[k].append(per[k])
        for x in xs:
            lkd[x].append(per[x] - per['ar'])
    for x in xs:
        log("  %s - a' per round (us): %s"
            % (x[0] + "'", ' '.join('%.2f' % (v * 1e6) for v in lkd[x])))
    for k in ['ar'] + xs:
        log('  %-46s CPU/req median %6.2f us  (min %.2f, max %.2f)%s'
            % ((label[k],) + tuple(v * 1e6 for v in spread(lk[k]))
               + ('' if not nbad[k] else '   !! %d non-2xx, socket errors '
                  'or lost workers' % nbad[k],)))
    for x in xs:
        log("  extra CPU/req %s - a': median %.3f us  (min %.3f, max %.3f)"
            % ((x[0] + "'",) + tuple(v * 1e6 for v in spread(lkd[x]))))
    # sampled: the lookup's own share of each worker's CPU time
    lkp = {k: [] for k in xs}
    why = None
    for r in range(PERF_ROUNDS):
        got = perf_lookup(work, xs, target, script, addr_file,
                          2 * LOOKUP_SECONDS)
        if isinstance(got, str):
            why = got
            break
        for k in xs:
            lkp[k].append(got[k])
            lkp.setdefault((k, 'between'), []).append(got[(k, 'between')])
    for k in xs:
        if lkp[k]:
            log("  %s, CPU in auth_ip's functions per request (perf record, "
                "cpu-clock): median %.0f ns  (min %.0f, max %.0f), rounds: %s"
                % ((k[0] + "'",) + spread(lkp[k])
                   + (' '.join('%.0f' % v for v in lkp[k]),)))
    for k in xs:
        if lkp.get((k, 'between')):
            log("  %s, CPU in nginx's functions from the server rewrite "
                "phase to the gate: median %.0f ns  (min %.0f, max %.0f), "
                "rounds: %s"
                % ((k[0] + "'",) + spread(lkp[(k, 'between')])
                   + (' '.join('%.0f' % v for v in lkp[(k, 'between')]),)))
    if why:
        log('  perf record: %s' % why)
    for k in ['ar'] + xs:
        pc = perf_counters(target[k][0].worker(), target[k][1], script,
                           addr_file)
        log("  perf stat, %s: %s" % (k[0] + "'", pc))
    log('')

    # -- after the load: still alive, still the same memory? ---------------
    crashed = False
    for k in sorted(inst):
        c = inst[k].crashes()
        if c:
            crashed = True
            log('!! %s: %d worker crash(es), first: %s'
                % (inst[k].name, len(c), c[0]))
        w = [l for l in inst[k].warnings()
             if '[alert]' in l or '[crit]' in l or '[emerg]' in l]
        if w and not c:
            log('!! %s: error.log: %s' % (inst[k].name, w[-1]))
        if inst[k].worker() is None:
            crashed = True
            log('!! %s: no worker process after the run' % inst[k].name)
    if not crashed:
        log('no worker crashed (error logs checked for "exited on signal")')
    log('worker VmRSS after the run: %s'
        % ', '.join('%s %.1f MiB' % (k, status_kb(inst[k].worker(), 'VmRSS')
                                      / 1024.0)
                    for k in sorted(inst) if inst[k].worker()))

    before = {k: len(inst[k].crashes()) for k in inst}
    for i in list(running):
        i.stop()
    for k in sorted(inst):
        c = inst[k].crashes()
        if len(c) > before[k]:
            log('!! %s: worker crashed while stopping (SIGQUIT): %s'
                % (inst[k].name, c[-1]))
            crashed = True
    if crashed:
        sys.exit(2)

    # -- 1c. the lookup without nginx ----------------------------------
    log("== 1c. the lookup without nginx: bench/lpm_bench.c, the same "
        "list, CPU time in ns per lookup ==")
    hx = {}
    hb = {}
    for r in range(2 if BEFORE else 1):
        # with BENCH_BEFORE: before, after, before, after
        if BEFORE:
            merge(hb, lpm_harness(work, L('big.authip'), L('big.addr'),
                                  BEFORE, quiet=r > 0))
        merge(hx, lpm_harness(work, L('big.authip'), L('big.addr'), ROOT,
                              quiet=r > 0))
    hx = {k: merged(v) for k, v in hx.items()}
    hb = {k: merged(v) for k, v in hb.items()}
    for k, v in sorted(hx.items()):
        log('  %-26s median %7.1f ns  (min %.1f, max %.1f)%s'
            % ((k,) + v + ('   before: %.1f (%.1f-%.1f)' % hb[k]
                           if k in hb else '',)))
    log('  tput: independent lookups; chain: each address depends on the '
        'last value (latency);')
    log('  cold: chain, the cache pushed out by a request-sized read between'
        ' lookups; 1 / 4k / 2m:')
    log('  the 1-prefix table, the list in 4 KB pages, the list in 2 MB '
        'pages')
    log('  work / work+find / pf+work+find: a getppid and 8 KB read, then the'
        ' lookup, without and')
    log('  with a prefetch of the slot before the work; find after work / '
        'find, prefetched: the lookup\'s share')
    log('')

    if ONLY == 'lookup':
        return

    # the headline figures for bench/summary.py (issue 13 item 4)
    own = pfix - b_text
    split = pg / pd if pd > 0 else float('nan')
    t_geo = c_med['d'] / c_med['f']
    t_geo_wall = t_med['d'] / t_med['f']
    # each d' run against the two a' runs around it, section 1b
    extra, emin, emax = (x * 1e6 for x in spread(lkd['dr']))
    big = '%s IPv4' % ('1M' if nbig // 1000000 == 1 else fmt_n(nbig))
    record('ip', [
        figure('bytes/prefix at %s, master RSS' % big, pd, 'B',
               goal='<= 32', ok=pd <= 32,
               note='geo: %.1f B/prefix' % pf),
        figure("bytes/prefix at %s, module's own" % big, own, 'B',
               goal='<= 32', ok=own <= 32,
               note='without freed parse-time heap%s'
               % (' and the debug build\'s copy of the list file'
                  if debug_build else '')),
        figure('%d lists of ~%s / one list, memory' % (LISTS, fmt_n(
            nbig // LISTS)), split, 'ratio', goal='<= 1.1',
            ok=split <= 1.1),
        figure('nginx -t at %s, auth_ip_list / geo, CPU time' % big, t_geo,
               'ratio', goal='<= 0.15', ok=t_geo <= 0.15,
               note='user+sys %.3f s against %.3f s, median of %d '
               'interleaved; wall %.3f s / %.3f s = %.3f'
               % (c_med['d'], c_med['f'], T_RUNS, t_med['d'], t_med['f'],
                  t_geo_wall)),
        figure("lookup, random clients: extra CPU/req d' - a'",
               extra, 'us', goal='<= 0.5', ok=extra <= 0.5,
               note="median of %d rounds of %d s, a' and d' loaded at "
               "once, min %.2f max %.2f; CPU/req d' %.2f us, a' %.2f "
               "us (schedstat ns)"
               % (LOOKUP_ROUNDS, LOOKUP_SECONDS, emin, emax,
                  statistics.median(lk['dr']) * 1e6,
                  statistics.median(lk['ar']) * 1e6)),
    ] + [
        figure("lookup, random clients: auth_ip CPU/req (perf)",
               statistics.median(lkp['dr']) / 1000.0, 'us', goal='<= 0.5',
               ok=statistics.median(lkp['dr']) <= 500,
               note="d', ngx_http_auth_ip_* and ngx_edge_auth_lpm* samples"
               " x 1 ms / requests, median of %d, min %.2f max %.2f%s"
               % ((len(lkp['dr']),) + tuple(v / 1000.0 for v in
                                            spread(lkp['dr'])[1:])
                  + ('; before %.2f (%.2f-%.2f)'
                     % tuple(v / 1000.0 for v in spread(lkp['hr']))
                     if lkp.get('hr') else '',)))
        for _ in [1] if lkp.get('dr')
    ] + [
        figure('lookup without nginx, %s, ns' % k, hx[k][0], 'ns',
               note='lpm_bench.c, median of rounds, min %.1f max %.1f%s'
               % (hx[k][1:] + ('; before %.1f (%.1f-%.1f)' % hb[k]
                               if k in hb else '',)))
        for k in ('chain 2m', 'cold 2m', 'cold 4k') if k in hx
    ] + [
        figure("d' / a' CPU-bound throughput ratio", summary['dr'][1],
               'ratio', note="a' CPU/req / d' CPU/req, median of rounds; "
               "req/s ratio %.2f" % summary['dr'][0]),
    ], module=digest, prefixes=nbig)



if __name__ == '__main__':
    run(main, running)
