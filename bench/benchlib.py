"""What every bench script needs: where nginx and the module are, logging,
ports, processes, and loading a copy of the module."""

import hashlib
import os
import shutil
import signal
import socket
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
