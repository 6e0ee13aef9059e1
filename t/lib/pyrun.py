#!/usr/bin/env python3
"""Runs a verifier script's main() many times in one process.

Starting python3 and importing botocore or cryptography costs more CPU
than a check itself (about 0.6 s), and a test file checks a dozen
requests: t/lib/PyRun.pm starts this once per file instead.

    pyrun.py SCRIPT

Reads one JSON object a line on stdin, {"argv": [...], "env": {...}};
runs SCRIPT's main() with sys.argv = [SCRIPT] + argv and those variables
set, and answers one JSON line, {"code": exit code, "out": what it
printed}.
"""

import contextlib
import importlib.util
import io
import json
import os
import sys


def main():
    script = sys.argv[1]
    spec = importlib.util.spec_from_file_location('verifier', script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    for line in sys.stdin:
        job = json.loads(line)
        saved = dict(os.environ)
        os.environ.update(job.get('env') or {})
        sys.argv = [script] + job['argv']
        out = io.StringIO()
        code = 0
        try:
            with contextlib.redirect_stdout(out), \
                    contextlib.redirect_stderr(out):
                mod.main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (e.code is not None)
            if isinstance(e.code, str):
                out.write(e.code + '\n')
        except Exception as e:          # a verifier's bug is a failed check
            code = 2
            out.write('%s: %s\n' % (type(e).__name__, e))
        finally:
            os.environ.clear()
            os.environ.update(saved)
        sys.stdout.write(json.dumps({'code': code, 'out': out.getvalue()})
                         + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    main()
