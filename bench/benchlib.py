"""What every bench script needs: where nginx and the module are, logging,
ports, processes, and loading a copy of the module."""

import hashlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

NGINX = os.environ.get('NGINX_BIN') or '/usr/sbin/nginx'
MODULE = os.path.abspath(os.environ.get('MODULE') or
                         os.path.join(ROOT, 'build',
                                      'ngx_http_credential_module.so'))


def log(*a):
    print(*a, flush=True)


def die(msg):
    log('bench: ' + msg)
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read(path):
    with open(path, errors='replace') as f:
        return f.read()


def alive(pid):
    """the process exists and is not a zombie"""
    try:
        st = read('/proc/%d/stat' % pid)
    except OSError:
        return False
    return st.rsplit(')', 1)[1].split()[0] != 'Z'


def stop_pid(pid):
    """QUIT, then KILL after 5 s, a process of ours that may be gone"""
    try:
        os.kill(pid, signal.SIGQUIT)
    except ProcessLookupError:
        return
    for _ in range(200):
        if not alive(pid):
            return
        time.sleep(0.025)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait_port(port, proc=None):
    """the port accepts connections (False if proc exited first)"""
    for _ in range(800):
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(('127.0.0.1', port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.025)
    return False


def copy_module(work):
    """(path of a copy of the module in work, its sha256 prefix)

    nginx maps the module file: a rebuild rewriting it in place under a
    running nginx crashes its workers, so the benchmarks load a copy."""
    loaded = os.path.join(work, os.path.basename(MODULE))
    for _ in range(30):
        st = os.stat(MODULE)
        if time.time() - st.st_mtime > 2:
            shutil.copy2(MODULE, loaded)
            st2 = os.stat(MODULE)
            if (st.st_mtime, st.st_size) == (st2.st_mtime, st2.st_size) \
                    and os.path.getsize(loaded) == st.st_size:
                break
        time.sleep(1)           # being rebuilt right now
    else:
        die('%s keeps changing; is a build running?' % MODULE)
    with open(loaded, 'rb') as f:
        return loaded, hashlib.sha256(f.read()).hexdigest()[:12]


def run(main, running):
    """main(), stopping every nginx in running however it ends"""
    def on_signal(sig, frame):
        raise SystemExit(128 + sig)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        main()
    finally:
        for i in list(running):
            i.stop()


# --------------------------------------------------------------------------
# callgrind: instructions per request, which load does not change

# glibc's memcpy and memset use "rep movsb/stosb" above a few KB, which
# callgrind counts as one instruction per byte: these thresholds keep the
# vector loops, counted as the CPU runs them (a 64 KB copy: 6,000, not 65,536)
CALLGRIND_TUNABLES = ('glibc.cpu.x86_rep_movsb_threshold=4294967295:'
                      'glibc.cpu.x86_rep_stosb_threshold=4294967295')


def keepalive(port, n, method='GET', path='/', body=None, headers=None):
    """n requests on one keepalive connection; the number of non-200
    answers (http.client sends a bytes body in the header's write)"""
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
    bad = 0
    try:
        for _ in range(n):
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            r.read()
            bad += r.status != 200
    finally:
        c.close()
    return bad


def callgrind_counts(cmd, out, ports, runs, n, warm=300):
    """user-space instructions per request of an nginx under callgrind:
    cmd runs it in one process (master_process off), listening on ports;
    runs: (name, send) pairs, send(count) makes count requests and returns
    the number of bad answers.  Each run: warm unmeasured requests, the
    counters zeroed, n requests, a dump (out.1, out.2, ... in order).
    Returns {name: (instructions per request, dump file)}."""
    env = dict(os.environ, GLIBC_TUNABLES=CALLGRIND_TUNABLES)
    with open(out + '.log', 'w') as vlog:
        p = subprocess.Popen(['valgrind', '--tool=callgrind',
                              '--callgrind-out-file=' + out] + cmd,
                             stdout=vlog, stderr=vlog, env=env)
    counts = {}
    ctl = ['callgrind_control']
    try:
        for port in ports:
            if not wait_port(port, p):
                die('nginx under callgrind does not listen:\n%s'
                    % read(out + '.log')[-2000:])
        for dump, (name, send) in enumerate(runs, 1):
            bad = send(warm)
            subprocess.run(ctl + ['-z', str(p.pid)], check=True,
                           capture_output=True)
            bad += send(n)
            subprocess.run(ctl + ['-d', str(p.pid)], check=True,
                           capture_output=True)
            path = '%s.%d' % (out, dump)
            m = re.search(r'^summary: (\d+)', read(path), re.M)
            if not m or bad:
                die('%s under callgrind: %d bad answers, summary %s'
                    % (name, bad, bool(m)))
            counts[name] = (int(m.group(1)) / float(n), path)
    finally:
        stop_pid(p.pid)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return counts


def callgrind_functions(dump, pattern, n):
    """{function: instructions per request} of the functions in a dump
    whose name matches pattern (self cost, callgrind_annotate)"""
    r = subprocess.run(['callgrind_annotate', '--auto=no', '--threshold=100',
                        dump], capture_output=True, text=True)
    funcs = {}
    for line in r.stdout.splitlines():
        # "N (P%)  file:function [object]", the object left out for code
        # inlined from a header
        m = re.match(r'\s*([\d,]+)\s+(?:\([^)]*\)\s+)?\S*?:?(\w+)(?:\s|$)',
                     line)
        if m and re.search(pattern, m.group(2)):
            funcs[m.group(2)] = (funcs.get(m.group(2), 0)
                                 + int(m.group(1).replace(',', '')) / n)
    return funcs
