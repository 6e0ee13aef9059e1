#!/usr/bin/python3

"""Verifies the HTTP Message Signature (RFC 9421) of a request an upstream
received, with Python's `cryptography` (Debian's python3-cryptography),
independently of the module: written from the RFCs, not from its C code.

    httpsig_verify.py REQUEST_FILE ALG KEYID [LABEL]

REQUEST_FILE holds the request exactly as the upstream got it (head, blank
line, body).  ALG is hmac-sha256 (the shared secret's bytes in the
environment variable HTTPSIG_KEY, or in base64 in HTTPSIG_KEY_B64) or
ed25519 (the PEM private key in the file HTTPSIG_KEY_FILE: its public half
verifies).  HTTPSIG_SCHEME is the
scheme the upstream serves (default "http"): a server knows its own.

As a verifier does (RFC 9421 3.2): the Signature-Input and Signature
dictionaries (RFC 8941) are parsed, the signature with LABEL (default
"sig1") taken; the signature base is rebuilt from the received message
(2.5): the derived components from the request line and the Host header
(2.2), the header fields by name, trimmed and combined with ", " (2.1),
then "@signature-params" serialized again from the parsed inner list;
the keyid must be KEYID, created (when there) near now, expires (when
there) in the future.  A Content-Digest (RFC 9530) is checked against the
body; "content-digest" covered needs one.

Prints "ok" and exits 0, or prints why not and exits 1.
"""

import base64
import hashlib
import hmac
import os
import re
import sys
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey)
from cryptography.hazmat.primitives.serialization import (
    load_pem_private_key)


def fail(msg):
    print(msg)
    sys.exit(1)


# RFC 8941 (only what Signature and Signature-Input use)

class Parser:
    def __init__(self, text):
        self.s = text
        self.i = 0

    def peek(self):
        return self.s[self.i] if self.i < len(self.s) else ''

    def sp(self):
        while self.peek() in (' ', '\t') and self.peek():
            self.i += 1

    def key(self):
        m = re.compile(r'[a-z*][a-z0-9_\-.*]*').match(self.s, self.i)
        if not m:
            fail('sf: key expected at %d in %r' % (self.i, self.s))
        self.i = m.end()
        return m.group(0)

    def bare_item(self):
        c = self.peek()
        if c == '"':
            self.i += 1
            out = ''
            while True:
                c = self.peek()
                if c == '':
                    fail('sf: unterminated string')
                self.i += 1
                if c == '\\':
                    out += self.peek()
                    self.i += 1
                elif c == '"':
                    return out
                else:
                    out += c
        if c == ':':
            end = self.s.index(':', self.i + 1)
            raw = self.s[self.i + 1:end]
            self.i = end + 1
            return base64.b64decode(raw, validate=True)
        m = re.compile(r'-?[0-9]+').match(self.s, self.i)
        if m:
            self.i = m.end()
            return int(m.group(0))
        if c == '?':
            self.i += 2
            return self.s[self.i - 1] == '1'
        m = re.compile(r'[A-Za-z*][A-Za-z0-9:/!#$%&\'*+\-.^_`|~]*').match(
            self.s, self.i)
        if m:
            self.i = m.end()
            return m.group(0)
        fail('sf: item expected at %d in %r' % (self.i, self.s))

    def params(self):
        out = []
        while self.peek() == ';':
            self.i += 1
            self.sp()
            k = self.key()
            v = True
            if self.peek() == '=':
                self.i += 1
                v = self.bare_item()
            out.append((k, v))
        return out

    def item_or_inner(self):
        if self.peek() == '(':
            self.i += 1
            items = []
            while True:
                self.sp()
                if self.peek() == ')':
                    self.i += 1
                    break
                items.append((self.bare_item(), self.params()))
                if self.peek() not in (' ', ')'):
                    fail('sf: bad inner list')
            return items, self.params()
        return self.bare_item(), self.params()

    def dictionary(self):
        out = {}
        self.sp()
        while self.i < len(self.s):
            k = self.key()
            if self.peek() == '=':
                self.i += 1
                out[k] = self.item_or_inner()
            else:
                out[k] = (True, self.params())
            self.sp()
            if self.i >= len(self.s):
                break
            if self.peek() != ',':
                fail('sf: "," expected at %d in %r' % (self.i, self.s))
            self.i += 1
            self.sp()
        return out


def serialize_params(params):
    out = ''
    for k, v in params:
        if isinstance(v, bool):
            out += ';' + k if v else ';%s=?0' % k
        elif isinstance(v, int):
            out += ';%s=%d' % (k, v)
        else:
            out += ';%s="%s"' % (k, v.replace('\\', '\\\\').replace('"', '\\"'))
    return out


def main():
    path, alg, keyid = sys.argv[1:4]
    label = sys.argv[4] if len(sys.argv) > 4 else 'sig1'
    scheme = os.environ.get('HTTPSIG_SCHEME', 'http')

    with open(path, 'rb') as f:
        raw = f.read()

    head, _, body = raw.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    method, target, _ = lines[0].split(' ', 2)

    fields = []
    for line in lines[1:]:
        name, _, value = line.partition(':')
        fields.append((name.strip().lower(), value.strip(' \t')))

    def field(name):
        vals = [v for n, v in fields if n == name]
        return ', '.join(vals) if vals else None

    if (field('transfer-encoding') or '').lower() == 'chunked':
        plain, rest = b'', body
        while True:
            size_line, _, rest = rest.partition(b'\r\n')
            size = int(size_line.split(b';')[0], 16)
            if size == 0:
                break
            plain += rest[:size]
            rest = rest[size + 2:]
        body = plain

    # Content-Digest (RFC 9530 2)

    digest = field('content-digest')
    if digest is not None:
        d = Parser(digest).dictionary()
        if 'sha-256' not in d:
            fail('Content-Digest without sha-256: %r' % digest)
        if d['sha-256'][0] != hashlib.sha256(body).digest():
            fail('Content-Digest is not the body\'s: %r' % digest)

    sig_input = field('signature-input')
    signature = field('signature')
    if sig_input is None or signature is None:
        fail('no Signature-Input or Signature')

    inputs = Parser(sig_input).dictionary()
    sigs = Parser(signature).dictionary()
    if label not in inputs or label not in sigs:
        fail('no signature labelled %r' % label)

    components, params = inputs[label]
    sig = sigs[label][0]
    if not isinstance(components, list) or not isinstance(sig, bytes):
        fail('not an inner list and a byte sequence')

    pdict = dict(params)
    if pdict.get('keyid') != keyid:
        fail('keyid %r, not %r' % (pdict.get('keyid'), keyid))
    now = time.time()
    if 'created' in pdict and abs(now - pdict['created']) > 300:
        fail('created %r is not now' % pdict['created'])
    if 'expires' in pdict and pdict['expires'] <= now:
        fail('expired')

    # the signature base (RFC 9421 2.5)

    authority = (field('host') or '').lower()
    p, q, query = target.partition('?')
    base = ''
    for name, cparams in components:
        if cparams:
            fail('component parameters are not expected: %r' % name)
        if name == '@method':
            value = method
        elif name == '@authority':
            value = authority
        elif name == '@scheme':
            value = scheme
        elif name == '@target-uri':
            value = '%s://%s%s' % (scheme, authority, target)
        elif name == '@path':
            value = p or '/'
        elif name == '@query':
            value = '?' + query
        elif name.startswith('@'):
            fail('unknown derived component %r' % name)
        else:
            value = field(name)
            if value is None:
                fail('covered field %r is not in the message' % name)
        base += '"%s": %s\n' % (name, value)

    if 'content-digest' in [c for c, _ in components] and digest is None:
        fail('content-digest covered but absent')

    base += '"@signature-params": (%s)%s' % (
        ' '.join('"%s"' % c for c, _ in components), serialize_params(params))
    base = base.encode('latin-1')

    if alg == 'hmac-sha256':
        if os.environ.get('HTTPSIG_KEY_B64'):
            key = base64.b64decode(os.environ['HTTPSIG_KEY_B64'])
        else:
            key = os.environ['HTTPSIG_KEY'].encode('latin-1')
        want = hmac.new(key, base, hashlib.sha256).digest()
        if not hmac.compare_digest(want, sig):
            fail('hmac-sha256 signature does not match\nbase:\n%s'
                 % base.decode('latin-1'))
    elif alg == 'ed25519':
        with open(os.environ['HTTPSIG_KEY_FILE'], 'rb') as f:
            priv = load_pem_private_key(f.read(), None)
        if not isinstance(priv, Ed25519PrivateKey):
            fail('not an Ed25519 key')
        try:
            priv.public_key().verify(sig, base)
        except InvalidSignature:
            fail('ed25519 signature does not verify\nbase:\n%s'
                 % base.decode('latin-1'))
    else:
        fail('unknown algorithm %r' % alg)

    print('ok')


if __name__ == '__main__':
    main()
