#!/usr/bin/env python3
"""Many credentials on one login host: start-up, and the idle node.

Started by bench/scale.sh, which creates the work directory, passes it as
the only argument and removes it, and every nginx started here, when this
script ends.  See bench/README.md ("Many credentials").

For each count of credentials, one nginx (BENCH_WORKERS workers) logs every
credential in to one login endpoint of this script, which answers after
BENCH_LOGIN_MS and counts the logins in progress.  Printed: the most logins
at once, the time from the start to the last token, and the CPU of the
whole node (master and workers, user + system) while idle, per minute.
The tokens live a day: the idle time has no renewal in it.

Environment (all optional):
  NGINX_BIN          nginx binary                      /usr/sbin/nginx
  MODULE             the module's .so (absolute path)  build/ngx_http_credential_module.so
  BENCH_COUNTS       credential counts                 1,1000,10000
  BENCH_WORKERS      worker_processes                  2
  BENCH_LOGIN_MS     the login endpoint's answer time  50
  BENCH_IDLE         seconds of idle measured          60
  BENCH_CONCURRENCY  login_concurrency (empty: the default)
"""

import asyncio
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (NGINX, MODULE, log, die, free_port, read,  # noqa: E402
                      stop_pid, wait_port, copy_module, run, figure,
                      record)

COUNTS = [int(c) for c in
          os.environ.get('BENCH_COUNTS', '1,1000,10000').split(',')]
WORKERS = int(os.environ.get('BENCH_WORKERS', '2'))
LOGIN_MS = int(os.environ.get('BENCH_LOGIN_MS', '50'))
IDLE = int(os.environ.get('BENCH_IDLE', '60'))
CONCURRENCY = os.environ.get('BENCH_CONCURRENCY', '')

running = []
CLK = os.sysconf('SC_CLK_TCK')


class Partner:
    """a login endpoint on its own thread and event loop"""

    def __init__(self):
        self.port = free_port()
        self.now = 0
        self.most = 0
        self.answered = 0
        self.first = None
        self.last = None
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait()

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(
            self._serve, '127.0.0.1', self.port, backlog=4096))
        ready.set()
        self.loop.run_until_complete(server.serve_forever())

    async def _serve(self, reader, writer):
        self.now += 1
        self.most = max(self.most, self.now)
        if self.first is None:
            self.first = time.monotonic()
        try:
            head = await reader.readuntil(b'\r\n\r\n')
            length = 0
            for line in head.split(b'\r\n'):
                if line.lower().startswith(b'content-length:'):
                    length = int(line.split(b':')[1])
            if length:
                await reader.readexactly(length)
            await asyncio.sleep(LOGIN_MS / 1000)
            body = (b'{"access_token":"tok-%d","token_type":"Bearer",'
                    b'"expires_in":86400}' % self.answered)
            writer.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json'
                         b'\r\nConnection: close\r\nContent-Length: %d\r\n'
                         b'\r\n' % len(body) + body)
            await writer.drain()
            self.answered += 1
            self.last = time.monotonic()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.now -= 1
            writer.close()

    def reset(self):
        self.most = self.answered = 0
        self.first = self.last = None


class Instance:
    def __init__(self, work, name, count, partner, module):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.port = free_port()
        self.pidfile = os.path.join(self.dir, 'nginx.pid')
        creds = []
        for i in range(count):
            creds.append(
                '    credential c%d {\n'
                '        login http://127.0.0.1:%d/token;\n'
                '        login_param grant_type client_credentials;\n'
                '        login_basic client secret;\n'
                '        login_max_size 1k;\n'
                '        token_header Authorization "Bearer {token}";\n'
                '    }\n' % (i, partner.port))
        zone = max(1, count * 2 // 1000 + 1)
        conf = (
            'load_module %s;\n'
            'worker_processes %d;\n'
            'pid %s;\n'
            'error_log %s/error.log notice;\n'
            'events { worker_connections 1024; }\n'
            'http {\n'
            '    access_log off;\n'
            '    credential_store zone=tokens:%dm;\n'
            '    %s\n'
            '%s'
            '    server {\n'
            '        listen 127.0.0.1:%d;\n'
            '        location / { credential_inject c0; return 204; }\n'
            '    }\n'
            '}\n' % (module, WORKERS, self.pidfile, self.dir, zone,
                     'login_concurrency %s;' % CONCURRENCY
                     if CONCURRENCY else '',
                     ''.join(creds), self.port))
        self.conf = os.path.join(self.dir, 'nginx.conf')
        with open(self.conf, 'w') as f:
            f.write(conf)

    def start(self):
        p = subprocess.run([NGINX, '-p', self.dir + '/', '-c', self.conf,
                            '-e', self.dir + '/error.log'],
                           capture_output=True, text=True)
        if p.returncode != 0:
            die('nginx did not start: ' + p.stderr + p.stdout)
        running.append(self)
        if not wait_port(self.port):
            die('nginx does not listen')

    def pids(self):
        master = int(read(self.pidfile))
        kids = []
        for task in os.listdir('/proc/%d/task' % master):
            kids += [int(k) for k in
                     read('/proc/%d/task/%s/children' % (master, task))
                     .split()]
        return [master] + kids

    def cpu(self):
        """seconds on a CPU of the master and its workers: schedstat's
        nanoseconds (stat's user + system ticks of 10 ms say nothing of
        an idle minute)"""
        total = 0
        for pid in self.pids():
            try:
                total += int(read('/proc/%d/schedstat' % pid).split()[0]) / 1e9
            except (OSError, ValueError, IndexError):
                try:
                    st = read('/proc/%d/stat' % pid).rsplit(')', 1)[1].split()
                    total += (int(st[11]) + int(st[12])) / CLK
                except OSError:
                    continue
        return total

    def stop(self):
        try:
            stop_pid(int(read(self.pidfile)))
        except (OSError, ValueError):
            pass
        if self in running:
            running.remove(self)


def main():
    work = sys.argv[1]
    module, digest = copy_module(work)
    log('module %s (sha256 %s), %d workers, login answered in %d ms, '
        'login_concurrency %s'
        % (MODULE, digest, WORKERS, LOGIN_MS, CONCURRENCY or 'default'))

    partner = Partner()
    rows = []

    for count in COUNTS:
        partner.reset()
        n = Instance(work, 'n%d' % count, count, partner, module)
        t0 = time.monotonic()
        n.start()
        started = time.monotonic() - t0

        deadline = time.monotonic() + 600
        while partner.answered < count and time.monotonic() < deadline:
            time.sleep(0.05)
        if partner.answered < count:
            die('%d credentials: %d tokens after 600 s'
                % (count, partner.answered))
        all_tokens = partner.last - t0

        time.sleep(2)
        extra = partner.answered - count
        c0 = n.cpu()
        time.sleep(IDLE)
        idle = (n.cpu() - c0) * 60 / IDLE * 1000

        log_text = read(os.path.join(n.dir, 'error.log'))
        alerts = log_text.count('[alert]') + log_text.count('[crit]')
        n.stop()

        rows.append((count, partner.most, all_tokens, started, idle,
                     extra, alerts))
        log('%6d credentials: %4d logins at once, every token in %6.2f s '
            '(nginx started in %.2f s), idle CPU %7.2f ms/min, %d extra '
            'logins, %d alert/crit lines'
            % (count, partner.most, all_tokens, started, idle, extra,
               alerts))

    log('')
    log('| credentials | logins at once | every token (s) | idle CPU '
        '(ms per minute, node) |')
    log('|---|---|---|---|')
    for r in rows:
        log('| %d | %d | %.2f | %.2f |' % (r[0], r[1], r[2], r[4]))

    # the headline figures for bench/summary.py, goals of issue 16: the
    # partner never sees more than login_concurrency logins; every token
    # within ceil(N / cap) logins one after the other, half as much again
    # for the endpoint's own cost in Python and the load, plus nginx's
    # start and 1 s; idle CPU <= 10 ms a minute at 10,000
    cap = int(CONCURRENCY or 8)
    figs = []
    for count, most, every, started, idle, extra, alerts in rows:
        n = '{:,}'.format(count)
        budget = (-(-count // cap) * LOGIN_MS / 1000.0 * 1.5 + started + 1)
        figs.append(figure('%s credentials: logins at once' % n, most, '',
                           goal='<= %d' % cap, ok=most <= cap,
                           note=None if not (extra or alerts) else
                           '%d extra logins, %d alert/crit lines'
                           % (extra, alerts)))
        figs.append(figure('%s credentials: every token' % n, every, 's',
                           goal='<= %.1f s' % budget, ok=every <= budget,
                           note='ceil(N/%d) x %d ms x 1.5 + start %.2f s '
                           '+ 1 s' % (cap, LOGIN_MS, started)))
        goal = count >= 10000
        figs.append(figure('%s credentials: idle CPU, node' % n, idle,
                           'ms/min', goal='<= 10' if goal else None,
                           ok=(idle <= 10) if goal else None,
                           note='%d workers, %d s idle' % (WORKERS, IDLE)
                           if count == rows[-1][0] else None))
    record('scale', figs, module=digest, workers=WORKERS,
           login_ms=LOGIN_MS)


if __name__ == '__main__':
    run(main, running)
