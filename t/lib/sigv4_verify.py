#!/usr/bin/python3

"""Recomputes the AWS Signature Version 4 of a request an upstream received,
with botocore (Debian's python3-botocore), independently of the module.

    sigv4_verify.py REQUEST_FILE REGION SERVICE [s3]

REQUEST_FILE holds the request exactly as the upstream got it (head, blank
line, body).  The keys come from the environment: SIGV4_ACCESS_KEY,
SIGV4_SECRET_KEY and, if set, SIGV4_TOKEN.

AWS reads the request as it arrives: the path and the query are decoded
and encoded again as an SDK encodes them (RFC 3986, "+" is a plus), the
headers that SignedHeaders names are the signed ones.  That much is done
here; botocore does the rest: S3's path as it is, the other services' path
normalised and encoded twice, the sorted query, the canonical headers, the
payload hash of the body, the key of the day and the signature.

Prints "ok" and exits 0 when the Authorization header received is the one
botocore computes; prints both and exits 1 otherwise.
"""

import os
import re
import sys
from urllib.parse import quote, unquote_to_bytes

from botocore.auth import S3SigV4Auth, SigV4Auth, UNSIGNED_PAYLOAD
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def fail(msg):
    print(msg)
    sys.exit(1)


def main():
    path_arg, region, service = sys.argv[1:4]
    s3 = len(sys.argv) > 4 and sys.argv[4] == 's3'

    with open(path_arg, 'rb') as f:
        raw = f.read()

    head, _, body = raw.partition(b'\r\n\r\n')
    lines = head.split(b'\r\n')
    method, target, _ = lines[0].decode('latin-1').split(' ', 2)

    headers = []
    for line in lines[1:]:
        name, _, value = line.decode('latin-1').partition(':')
        headers.append((name.strip(), value.strip()))

    def values(name):
        return [v for n, v in headers if n.lower() == name]

    auth_values = values('authorization')
    if len(auth_values) != 1:
        fail('expected one Authorization header, got %d' % len(auth_values))

    m = re.match(r'AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/'
                 r'([^/]+)/aws4_request, SignedHeaders=([^,]+), '
                 r'Signature=([0-9a-f]{64})$', auth_values[0])
    if not m:
        fail('Authorization not SigV4: %s' % auth_values[0])

    signed = m.group(5).split(';')

    dates = values('x-amz-date')
    if len(dates) != 1:
        fail('expected one X-Amz-Date, got %d' % len(dates))

    timestamp = dates[0]
    if m.group(2) != timestamp[:8]:
        fail('scope date %s is not X-Amz-Date %s' % (m.group(2), timestamp))

    # the request as AWS decodes it, encoded as an SDK would send it

    path, _, query = target.partition('?')
    def decode(s):
        return unquote_to_bytes(s.encode('latin-1'))

    path = '/'.join(quote(decode(seg), safe='') for seg in path.split('/'))

    params = []
    for pair in query.split('&'):
        if pair:
            k, _, v = pair.partition('=')
            params.append((decode(k).decode('utf-8'),
                           decode(v).decode('utf-8')))

    hosts = values('host')
    sign_headers = {}
    for name in signed:
        got = values(name)
        if len(got) != 1:
            fail('signed header %s: %d values' % (name, len(got)))
        sign_headers[name] = got[0]

    creds = Credentials(os.environ['SIGV4_ACCESS_KEY'],
                        os.environ['SIGV4_SECRET_KEY'],
                        os.environ.get('SIGV4_TOKEN') or None)

    cls = S3SigV4Auth if s3 else SigV4Auth
    auth = cls(creds, service, region)

    url = 'http://%s%s' % (hosts[0], path)

    # the payload hash that the body has, independently of the header

    plain = AWSRequest(method=method, url=url, data=body,
                       headers={'Host': hosts[0]}, params=params)
    plain.context['timestamp'] = timestamp
    payload = auth.payload(plain)

    sha = values('x-amz-content-sha256')
    if sha and sha[0] != UNSIGNED_PAYLOAD and sha[0] != payload:
        fail('x-amz-content-sha256 %s is not the body\'s %s'
             % (sha[0], payload))

    req = AWSRequest(method=method, url=url, data=body,
                     headers=sign_headers, params=params)
    req.context['timestamp'] = timestamp

    canonical = auth.canonical_request(req)
    string_to_sign = auth.string_to_sign(req, canonical)
    signature = auth.signature(string_to_sign, req)
    auth._inject_signature_to_request(req, signature)

    expected = req.headers['Authorization']

    if expected != auth_values[0]:
        print('botocore: %s' % expected)
        print('received: %s' % auth_values[0])
        print('canonical request (botocore):')
        print(canonical)
        sys.exit(1)

    print('ok')


if __name__ == '__main__':
    main()
