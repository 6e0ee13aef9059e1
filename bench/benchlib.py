"""What every bench script needs: where nginx and the module are, logging,
ports, processes, and loading a copy of the module."""

import hashlib
import http.client
import json
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
# callgrind: instruction counts that a shared machine cannot move

# glibc's allocator: its own instructions depend on the heap's layout at
# startup (which free chunks a size finds) and move a whole count by up to
# 2 %; so a call to it is charged a fixed cost, its measured one is not
ALLOC_FNS = ('malloc', 'free', 'calloc', 'realloc', 'posix_memalign',
             'memalign', 'aligned_alloc', 'valloc', 'pvalloc')
# what a call is charged: about what one costs here on average
ALLOC_COST = {'malloc': 180, 'calloc': 180, 'realloc': 180, 'free': 130}
ALLOC_COST_DEFAULT = 260            # posix_memalign and the like

# glibc's memcpy and memset use "rep movsb"/"rep stosb" above a threshold,
# and valgrind counts each byte that moves as an instruction: vector loops
# instead, whatever the size
GLIBC_TUNABLES = ('glibc.cpu.x86_rep_movsb_threshold=2147483647:'
                  'glibc.cpu.x86_rep_stosb_threshold=2147483647')


def alloc_internal(fn):
    """a function of the allocator itself (posix_memalign calls malloc
    through _mid_memalign): its calls are in the entry point's cost"""
    return fn in ALLOC_FNS or bool(re.match(
        r'(_int_|_mid_memalign|__libc_|_libc_|tcache|malloc_|__malloc|'
        r'__posix_memalign|unlink_chunk|sysmalloc)', fn or ''))


def callgrind_parse(path):
    """a callgrind dump (events: Ir) as a dict: total (the summary),
    self {function: instructions in it}, calls {function: calls to it},
    edges {(caller, callee): calls}, alloc {function: (calls, instructions)} for the calls into the
    allocator's entry points from outside it"""
    names = {}
    self_ir = {}
    calls = {}
    alloc = {}
    edges = {}              # (caller, callee): calls
    total = None
    fn = cfn = None
    pending = None          # a calls= line: the next cost line is its cost

    def name(v):
        m = re.match(r'\((\d+)\)(?: (.*))?$', v)
        if not m:
            return v
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), '?' + m.group(1))

    with open(path, errors='replace') as f:
        for line in f:
            c = line[:1]
            if c.isdigit() or c in '+-*':
                fields = line.split()
                ir = int(fields[1]) if len(fields) > 1 else 0
                if pending is not None:
                    n = pending
                    pending = None
                    calls[cfn] = calls.get(cfn, 0) + n
                    edges[fn, cfn] = edges.get((fn, cfn), 0) + n
                    if cfn in ALLOC_FNS and not alloc_internal(fn):
                        k, v = alloc.get(cfn, (0, 0))
                        alloc[cfn] = (k + n, v + ir)
                else:
                    self_ir[fn] = self_ir.get(fn, 0) + ir
                continue
            if line.startswith('fn='):
                fn = name(line[3:].strip())
            elif line.startswith('cfn='):
                cfn = name(line[4:].strip())
            elif line.startswith('calls='):
                pending = int(line[6:].split()[0])
            elif line.startswith(('summary:', 'totals:')) and total is None:
                total = int(line.split()[1])
    if total is None:
        total = sum(self_ir.values())
    return dict(total=total, self=self_ir, calls=calls, alloc=alloc,
                edges=edges)


def alloc_fixed(prof):
    """(instructions with every allocator call charged its fixed cost,
    allocator calls)"""
    n = sum(k for k, _ in prof['alloc'].values())
    measured = sum(v for _, v in prof['alloc'].values())
    fixed = sum(k * ALLOC_COST.get(f, ALLOC_COST_DEFAULT)
                for f, (k, _) in prof['alloc'].items())
    return prof['total'] - measured + fixed, n


class _OneWrite(http.client.HTTPConnection):
    """the request's head and body in one write, as wrk sends them:
    http.client writes them apart, and under callgrind the body then came
    after the head for about 60 % of the requests, which nginx reads in a
    second event (body_json ran the phases again for them): a figure mixed
    of two paths in a ratio set by the timing"""

    pause = 0

    def _send_output(self, message_body=None, encode_chunked=False):
        self._buffer.extend((b"", b""))
        msg = b"\r\n".join(self._buffer)
        del self._buffer[:]
        if self.pause and message_body:
            self.send(msg)
            time.sleep(self.pause)
            self.send(message_body)
            return
        self.send(msg + (message_body or b''))


def keepalive(port, n, method='GET', path='/', body=None, headers=None,
              pause=0):
    """n requests on one keepalive connection; the number of non-200
    answers (a bytes body is sent in the head's write, _OneWrite; or
    pause seconds after it, to be read in an event of its own)"""
    c = _OneWrite('127.0.0.1', port, timeout=60)
    c.pause = pause
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


def callgrind_runs(cmd, out, ports, runs, n, warm=300):
    """user-space instructions per request of an nginx under callgrind:
    cmd runs it in one process (master_process off), listening on ports;
    runs: (name, send) pairs, send(count) makes count requests and returns
    the number of bad answers.  Each run: warm unmeasured requests, the
    counters zeroed, n requests, a dump (out.1, out.2, ... in order).
    Returns {name: (dump file, bad answers)}."""
    env = dict(os.environ, GLIBC_TUNABLES=GLIBC_TUNABLES)
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
            counts[name] = ('%s.%d' % (out, dump), bad)
    finally:
        stop_pid(p.pid)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return counts


def callgrind_counts(cmd, out_dir, targets, n, warm=300):
    """user-space instructions per request of an nginx in one process
    (cmd must say master_process off) under callgrind: for each
    (name, port) of targets in turn, warm unmeasured GETs, the count
    zeroed, n GETs on one keepalive connection, a dump.  Returns
    {name: dict(ir=instructions per request with the allocator's calls at
    their fixed cost, raw=as counted, alloc=allocator calls per request,
    bad=non-200 answers, dump=path)}"""
    runs = [(name, lambda k, port=port: keepalive(port, k))
            for name, port in targets]
    counts = callgrind_runs(cmd, os.path.join(out_dir, 'callgrind.out'),
                            [port for _, port in targets], runs, n, warm)
    res = {}
    for name, (path, bad) in counts.items():
        prof = callgrind_parse(path)
        ir, calls = alloc_fixed(prof)
        res[name] = dict(ir=ir / float(n), raw=prof['total'] / float(n),
                         alloc=calls / float(n), bad=bad, dump=path)
    return res


# --------------------------------------------------------------------------
# headline figures, for bench/summary.py (see bench/README.md, "Summary")

RESULTS = os.environ.get('BENCH_RESULTS') or os.path.join(ROOT, 'build',
                                                          'bench')


def figure(name, value, unit='', goal=None, ok=None, note=None):
    """one line of the summary: value in unit; goal a short text
    ("<= +2 %"), ok whether the value meets it (None: no goal)"""
    return dict(name=name, value=value, unit=unit, goal=goal, ok=ok,
                note=note)


def record(bench, figures, **about):
    """writes RESULTS/<bench>.json: the bench's headline figures"""
    os.makedirs(RESULTS, exist_ok=True)
    doc = dict(bench=bench, time=time.time(),
               date=time.strftime('%Y-%m-%d %H:%M'), figures=figures)
    doc.update(about)
    path = os.path.join(RESULTS, bench + '.json')
    with open(path + '.tmp', 'w') as f:
        json.dump(doc, f, indent=1)
    os.replace(path + '.tmp', path)
    return path


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
