#!/usr/bin/env python3
"""Scale of the credential store: configuration time and memory against
the number of token credentials, and Redis commands of a node at rest.

Started by bench/scale_store.sh (bench/run.sh), which passes the work
directory and removes it, and every nginx started here, when this script
ends. See bench/README.md ("Scale of the credential store").

  1. "nginx -t" with 1, 1,000 and 10,000 token credentials (best of
     BENCH_T_RUNS), the growth order from 1,000 to 10,000 (1: linear,
     2: quadratic), and the configuration's memory per credential (peak
     RSS of nginx -t, 10,000 against 1,000).
  2. One node (two workers) with BENCH_REDIS_N token credentials shared
     through a redis-server: once every token is there, Redis commands a
     second for the node at rest (INFO commandstats, BENCH_IDLE seconds),
     and the node's CPU time over the same window (/proc/PID/schedstat of
     the master and its workers) with the workers' wake-ups.

Environment (all optional):
  NGINX_BIN        nginx binary                         /usr/sbin/nginx
  MODULE           the module's .so (absolute path)     build/ngx_http_credential_module.so
  BENCH_T_RUNS     nginx -t runs per size               3
  BENCH_REDIS_N    credentials of the Redis node        1000
  BENCH_IDLE       seconds counted at rest              120
                   (the poller's safety poll comes every 30 s: a
                   window of several)
  BENCH_WORKERS    worker_processes of the Redis node   1 2 4
                   (one node after the other, same Redis)
  BENCH_BEFORE     another build of the module (.so): nginx -t runs
                   with it in turn, and each Redis node runs with it
                   too, right before, for a comparison
  BENCH_REDIS_ONLY 1: the Redis measurement alone, no nginx -t
  REDIS_SERVER     redis-server binary                  redis-server
"""

import math
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (NGINX, MODULE, log, die, free_port, read,  # noqa: E402
                      stop_pid, wait_port, copy_module, run, figure,
                      record)

T_RUNS = int(os.environ.get('BENCH_T_RUNS', '3'))
REDIS_N = int(os.environ.get('BENCH_REDIS_N', '1000'))
IDLE = int(os.environ.get('BENCH_IDLE', '120'))
WORKERS = [int(w) for w in os.environ.get('BENCH_WORKERS', '1 2 4').split()]
BEFORE = os.environ.get('BENCH_BEFORE', '')
REDIS_ONLY = os.environ.get('BENCH_REDIS_ONLY', '') == '1'
REDIS = os.environ.get('REDIS_SERVER') or shutil.which('redis-server') \
    or '/usr/bin/redis-server'

running = []

# GNU time, for nginx's own peak RSS (see Nginx.test())
GNU_TIME = '/usr/bin/time' if os.access('/usr/bin/time', os.X_OK) else None


MAIN = """\
load_module @MODULE@;
@USER@
worker_processes @WORKERS@;
pid @DIR@/nginx.pid;
error_log @DIR@/error.log notice;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path @DIR@/body;
    proxy_temp_path @DIR@/proxy;
    fastcgi_temp_path @DIR@/fastcgi;
    uwsgi_temp_path @DIR@/uwsgi;
    scgi_temp_path @DIR@/scgi;
@HTTP@
}
"""

# the login endpoint: nginx alone, a new token every login
LOGIN = """\
    log_format login '$msec $status';
    server {
        listen 127.0.0.1:@PORT@;
        access_log @DIR@/login.log login;
        location / {
            default_type application/json;
            return 200 '{"access_token":"tok-$request_id","token_type":"Bearer","expires_in":3600}';
        }
    }
"""

# login_max_size 1k: the tokens here are short, and the zone is sized
# for the largest token every credential may hold (nginx -t refuses a
# 16m zone for 10,000 credentials at the default size)
CRED = ("    credential c%d { login http://127.0.0.1:@LOGIN@/token; "
        "login_param grant_type client_credentials; login_max_size 1k; "
        "login_param client_id c%d; login_param client_secret s-%d; "
        "token_header Authorization \"Bearer {token}\"; }\n")


def fill(text, **kw):
    for k, v in kw.items():
        text = text.replace('@%s@' % k.upper(), str(v))
    return text


class Nginx:
    def __init__(self, work, name, http, workers=1, module=True):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, 'nginx.conf')
        text = fill(MAIN, http=http, dir=self.dir, workers=workers,
                    user='user root;' if os.geteuid() == 0 else '')
        if module:
            text = fill(text, module=module)
        else:
            text = text.replace('load_module @MODULE@;', '')
        with open(self.conf, 'w') as f:
            f.write(text)
        self.pid = None

    def cmd(self, *args):
        return [NGINX, '-p', self.dir + '/', '-c', self.conf,
                '-e', os.path.join(self.dir, 'error.log')] + list(args)

    def test(self):
        """(wall seconds, CPU seconds, peak RSS in KB) of nginx -t"""
        # ru_maxrss keeps the forking Python's RSS across exec: GNU time,
        # small, forks nginx and says its own peak
        rss = os.path.join(self.dir, 'rss')
        cmd = self.cmd('-t')
        if GNU_TIME:
            cmd = [GNU_TIME, '-f', '%M', '-o', rss] + cmd
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        _, status, ru = os.wait4(p.pid, 0)
        secs = time.perf_counter() - t0
        err = p.stderr.read().decode(errors='replace')
        p.stderr.close()
        if status != 0:
            die('nginx -t failed:\n' + err)
        maxrss = int(read(rss).split()[-1]) if GNU_TIME else ru.ru_maxrss
        return secs, ru.ru_utime + ru.ru_stime, maxrss

    def start(self, port):
        out = subprocess.run(self.cmd(), capture_output=True, text=True)
        if out.returncode != 0:
            die('nginx did not start:\n' + out.stderr +
                read(os.path.join(self.dir, 'error.log'))[-2000:])
        running.append(self)
        if not wait_port(port):
            die('nginx does not listen on %d' % port)
        self.pid = int(read(os.path.join(self.dir, 'nginx.pid')))

    def stop(self):
        if self.pid:
            stop_pid(self.pid)
            self.pid = None

    def pids(self):
        """the master and its workers"""
        kids = []
        for task in os.listdir('/proc/%d/task' % self.pid):
            kids += read('/proc/%d/task/%s/children'
                         % (self.pid, task)).split()
        return [self.pid] + [int(k) for k in kids]


def cpu_ns(pids):
    """CPU time of the processes, ns (the first field of schedstat)"""
    return sum(int(read('/proc/%d/schedstat' % p).split()[0]) for p in pids)


def wakeups(pids):
    """each worker's voluntary context switches: each sleep in epoll_wait"""
    n = []
    for p in pids[1:]:
        for line in read('/proc/%d/status' % p).splitlines():
            if line.startswith('voluntary_ctxt_switches:'):
                n.append(int(line.split()[1]))
    return n


class Redis:
    def __init__(self, work):
        self.dir = os.path.join(work, 'redis')
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        with open(os.path.join(self.dir, 'redis.conf'), 'w') as f:
            f.write('port %d\nbind 127.0.0.1\nsave ""\nappendonly no\n'
                    'dir %s\nloglevel warning\nlogfile %s/redis.log\n'
                    % (self.port, self.dir, self.dir))
        self.proc = subprocess.Popen([REDIS, os.path.join(self.dir,
                                                          'redis.conf')],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        running.append(self)
        if not wait_port(self.port, self.proc):
            die('redis-server does not listen')

    def cmd(self, *args):
        s = socket.create_connection(('127.0.0.1', self.port), 5)
        out = '*%d\r\n' % len(args) + ''.join(
            '$%d\r\n%s\r\n' % (len(a), a) for a in args)
        s.sendall(out.encode())
        f = s.makefile('rb')
        line = f.readline().rstrip(b'\r\n')
        if line[:1] == b'$':
            n = int(line[1:])
            data = f.read(n + 2)[:-2] if n >= 0 else b''
        else:
            data = line[1:]
        s.close()
        return data.decode(errors='replace')

    def commands(self):
        """every command Redis ran but this script's"""
        total = 0
        for line in self.cmd('INFO', 'commandstats').splitlines():
            if not line.startswith('cmdstat_'):
                continue
            name, rest = line[8:].split(':', 1)
            if name in ('info',):
                continue
            total += int(rest.split('calls=')[1].split(',')[0])
        return total

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def creds(n, login_port):
    return ''.join(fill(CRED, login=login_port) % (i, i, i)
                   for i in range(n))


def configuration_time(work, module):
    log('== nginx -t against the number of token credentials '
        '(best and median of %d%s)'
        % (T_RUNS, ', in turn with BENCH_BEFORE' if BEFORE else ''))
    before = None
    if BEFORE:
        before = os.path.join(work, 'before.so')
        shutil.copy2(BEFORE, before)
    results = {}
    for n in (1, 1000, 10000):
        # 10,000 entries of 512 bytes: a zone of 16m holds them
        http = '    credential_store zone=tokens:16m;\n' + creds(n, 9) + \
            '    server { listen 127.0.0.1:9; ' \
            'location / { credential_inject c0; return 204; } }\n'
        ng = Nginx(work, 't%d' % n, http, module=module)
        nb = before and Nginx(work, 't%d-before' % n, http, module=before)
        runs, bruns = [], []
        for i in range(T_RUNS):
            # the two modules in turn, each first every other run
            if nb and i % 2 == 0:
                bruns.append(nb.test())
            runs.append(ng.test())
            if nb and i % 2 == 1:
                bruns.append(nb.test())
        secs = min(r[0] for r in runs)
        cpu = min(r[1] for r in runs)
        rss = min(r[2] for r in runs)
        results[n] = (secs, cpu, rss)
        log('  %6d credentials: nginx -t %.3f s (CPU user+sys %.3f s, '
            'median %.3f), peak RSS %d KB'
            % (n, secs, cpu, sorted(r[1] for r in runs)[len(runs) // 2],
               rss))
        if bruns:
            log('  %6d, BENCH_BEFORE: nginx -t %.3f s (CPU %.3f s, median '
                '%.3f), peak RSS %d KB'
                % (n, min(r[0] for r in bruns), min(r[1] for r in bruns),
                   sorted(r[1] for r in bruns)[len(bruns) // 2],
                   min(r[2] for r in bruns)))
            results[(n, 'before')] = min(r[2] for r in bruns)

    # on CPU time, which other load on the machine does not stretch; the
    # fixed part (nginx itself, the module's load, the zone) taken out
    c1, c1k, c10k = results[1][1], results[1000][1], results[10000][1]
    order = math.log10(max(c10k - c1, 1e-3) / max(c1k - c1, 1e-3))
    log('  growth from 1,000 to 10,000: x%.1f in CPU time, order %.2f '
        '(1: linear, 2: quadratic; the %.3f s of 1 credential taken out)'
        % (c10k / max(c1k, 1e-3), order, c1))
    per = (results[10000][2] - results[1000][2]) * 1024 / 9000
    log('  configuration memory per token credential: %.0f bytes '
        '(peak RSS of nginx -t, 10,000 against 1,000)' % per)
    if before:
        log('  the same, BENCH_BEFORE: %.0f bytes'
            % ((results[(10000, 'before')] - results[(1000, 'before')])
               * 1024 / 9000))
    return results, order, per


def redis_at_rest(work, module, workers, redis, login, login_port, tag):
    """one node with BENCH_REDIS_N credentials at rest: (commands a
    second, commands, seconds, node CPU ms a minute, wake-ups a second of
    each worker)"""
    log('== Redis commands of one node (%d workers) at rest, %d token '
        'credentials%s' % (workers, REDIS_N, tag))

    key = os.path.join(work, 'seal.key')
    if not os.path.exists(key):
        with open(key, 'wb') as f:
            f.write(os.urandom(32))
        os.chmod(key, 0o644)

    port = free_port()
    http = ('    credential_store zone=tokens:8m redis=127.0.0.1:%d '
            'redis_key=file:%s;\n' % (redis.port, key)) + \
        creds(REDIS_N, login_port) + \
        '    server { listen 127.0.0.1:%d; location / { ' \
        'credential_inject c0; return 204; } }\n' % port
    node = Nginx(work, 'node%d%s' % (workers, tag.replace(' ', '_')), http,
                 workers=workers, module=module)
    node.start(port)

    # the first node logs in; the next ones take the tokens from Redis
    logins = os.path.join(login.dir, 'login.log')
    deadline = time.time() + 120
    n = 0
    while time.time() < deadline:
        n = len(read(logins).splitlines()) if os.path.exists(logins) else 0
        if n >= REDIS_N:
            break
        time.sleep(0.5)
    log('  %d logins in %.0f s' % (n, 120 - (deadline - time.time())))
    time.sleep(5)                       # the start-up reads are over

    pids = node.pids()
    c0, t0, cpu0, wake0 = redis.commands(), time.time(), cpu_ns(pids), \
        wakeups(pids)
    time.sleep(IDLE)
    c1, t1, cpu1, wake1 = redis.commands(), time.time(), cpu_ns(pids), \
        wakeups(pids)
    rate = (c1 - c0) / (t1 - t0)
    cpu = (cpu1 - cpu0) / 1e6 / (t1 - t0) * 60
    wake = [(b - a) / (t1 - t0) for a, b in zip(wake0, wake1)]
    log('  at rest: %.2f Redis commands a second for the node '
        '(%d in %.1f s)' % (rate, c1 - c0, t1 - t0))
    log('  at rest: node CPU %.1f ms a minute (master and %d workers, '
        '/proc/PID/schedstat); wake-ups a second of each worker: %s'
        % (cpu, len(pids) - 1, ' '.join('%.1f' % w for w in wake)))

    node.stop()
    return rate, c1 - c0, t1 - t0, cpu, wake


def redis_nodes(work, module):
    """the Redis measurement for each BENCH_WORKERS (and BENCH_BEFORE)"""
    redis = Redis(work)
    login_port = free_port()
    login = Nginx(work, 'login', fill(LOGIN, port=login_port,
                                      dir=os.path.join(work, 'login')),
                  module=False)
    login.start(login_port)

    before = None
    if BEFORE:
        before = os.path.join(work, 'before.so')
        shutil.copy2(BEFORE, before)

    out = {}
    for w in WORKERS:
        if before:
            out[(w, 'before')] = redis_at_rest(work, before, w, redis, login,
                                              login_port, ' (before)')
        out[(w, 'this')] = redis_at_rest(work, module, w, redis, login,
                                        login_port, '')

    log('== idle node with Redis, %d credentials: node CPU ms a minute, '
        'wake-ups a second (all workers), Redis commands a second'
        % REDIS_N)
    for (w, which), r in sorted(out.items()):
        log('  %d workers %-6s  %6.1f ms/min  %5.1f wake-ups/s (%s)  '
            '%.2f cmd/s' % (w, which, r[3], sum(r[4]),
                            ' '.join('%.1f' % x for x in r[4]), r[0]))

    login.stop()
    redis.stop()
    return out


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else die('usage: scale_store.py DIR')
    module, digest = copy_module(work)
    log('module %s (sha256 %s)' % (MODULE, digest))
    if REDIS_ONLY:
        redis_nodes(work, module)
        return
    results, order, per = configuration_time(work, module)
    nodes = redis_nodes(work, module)
    w = 2 if (2, 'this') in nodes else WORKERS[0]
    rate, ncmd, secs, idle_cpu, wake = nodes[(w, 'this')]

    # the headline figures for bench/summary.py, goals of issue 16
    figs = []
    for n in (1, 1000, 10000):
        t, cpu = results[n][0], results[n][1]
        goal = n == 10000
        figs.append(figure('nginx -t, %s token credentials'
                           % '{:,}'.format(n), t, 's',
                           goal='<= 0.2 s' if goal else None,
                           ok=(t <= 0.2) if goal else None,
                           note='wall, best of %d; CPU %.3f s' % (T_RUNS, cpu)))
    figs.append(figure('nginx -t growth order, 1,000 to 10,000', order,
                       '', goal='~1 (<= 1.2)', ok=order <= 1.2,
                       note='on CPU time, 1 credential taken out; '
                       '1 linear (N log N), 2 quadratic'))
    figs.append(figure('configuration memory per token credential', per,
                       'B', note='peak RSS of nginx -t, 10,000 against '
                       '1,000' + ('' if GNU_TIME else '; ru_maxrss starts '
                                  'at the forking Python\'s, so a lower '
                                  'bound')))
    figs.append(figure('Redis commands/s, node at rest, %s creds'
                       % '{:,}'.format(REDIS_N), rate, '/s', goal='<= 2',
                       ok=rate <= 2, note='%d in %.1f s, %d workers'
                       % (ncmd, secs, w)))
    figs.append(figure('idle CPU with Redis, node, %s creds'
                       % '{:,}'.format(REDIS_N), idle_cpu, 'ms/min',
                       goal='<= 10', ok=idle_cpu <= 10,
                       note='master and %d workers, /proc/PID/schedstat; '
                       'wake-ups/s of each worker: %s'
                       % (w, ' '.join('%.1f' % x for x in wake))))
    for w2 in WORKERS:
        if w2 == w:
            continue
        r = nodes[(w2, 'this')]
        figs.append(figure('idle CPU with Redis, node, %s creds, %d workers'
                           % ('{:,}'.format(REDIS_N), w2), r[3], 'ms/min',
                           goal='<= 10', ok=r[3] <= 10,
                           note='wake-ups/s of each worker: %s'
                           % ' '.join('%.1f' % x for x in r[4])))
    record('scale_store', figs, module=digest, redis_n=REDIS_N)


if __name__ == '__main__':
    run(main, running)
