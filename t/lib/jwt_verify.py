#!/usr/bin/python3
"""Verifies JWT client assertions with PyJWT, an implementation the module
did not write (t/48-login-client-auth.t).

Reads JSON lines on stdin: {"token", "alg", "key" (the HMAC secret, or the
path of a PEM public key), "aud"}; writes one JSON line per token:
{"ok": true, "header": {...}, "claims": {...}} or {"ok": false,
"error": "..."}.  jwt.decode checks the signature, the algorithm, exp,
iat and the audience.
"""

import json
import sys

import jwt


def verify(req):
    alg = req["alg"]
    key = req["key"]
    if alg != "HS256":
        with open(key, "rb") as f:
            key = f.read()
    try:
        header = jwt.get_unverified_header(req["token"])
        claims = jwt.decode(req["token"], key, algorithms=[alg],
                            audience=req["aud"],
                            options={"require": ["iss", "sub", "aud",
                                                 "exp", "iat", "jti"]})
    except Exception as e:  # every failure is a verdict, not a crash
        return {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    return {"ok": True, "header": header, "claims": claims}


def main():
    for line in sys.stdin:
        line = line.strip()
        if line:
            print(json.dumps(verify(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
