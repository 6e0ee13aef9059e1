#!/usr/bin/perl

# HTTP Message Signatures (RFC 9421): each proxied request is signed as
# the upstream receives it.  The echo upstream sends back the exact
# request it got, and t/lib/httpsig_verify.py (Python's cryptography,
# written from the RFCs) rebuilds the signature base from it and verifies
# the hmac-sha256 or ed25519 signature and the Content-Digest (RFC 9530):
# queries, a rewritten URI, a JSON body, a chunked one, one in a
# temporary file, repeated header fields, a credential's own header.  The
# client's Signature, Signature-Input and Content-Digest never reach the
# upstream, the keys are never in the debug log, nginx -t catches
# careless blocks.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(sha256_base64);
use EdgeAuthTest;
use PyRun;

# found, not imported (PyRun's verifier imports it once for the file)
system('/usr/bin/python3', '-c', 'import importlib.util as u, sys; '
       . 'sys.exit(u.find_spec("cryptography") is None)') == 0
    or plan skip_all => 'python3-cryptography is not installed';

my $HKEY = 'shared-secret/never+logged-0123456789abcdef';
my $HKEY2 = 'another-shared-secret-for-the-default-block';

# RFC 9421 B.1.4, test-key-ed25519
my $EDKEY = <<'PEM';
-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----
PEM
my ($EDSECRET) = $EDKEY =~ /^(MC4C\S+)$/m;

my $port = free_port();
my $up = free_port();
echo_server($up);

# RFC 9421 B.1.5, test-shared-secret
my $RFCKEY = 'uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBt'
    . 'bmHhIDi6pcl8jsasjlTMtDQ==';

my $n = nginx_new(env => { HS_KEY => $HKEY, HS_RFC => $RFCKEY },
                  log_level => 'debug',
                  http => <<"CONF");
    client_body_buffer_size 1k;

    credential hm {
        http_signature hmac-sha256 env:HS_KEY keyid=partner-1;
        http_signature_components "\@method" "\@target-uri" "\@authority"
                                  "content-digest" "content-type"
                                  "X-Custom";
        http_signature_authority 127.0.0.1:$up scheme=http;
    }

    credential ed {
        http_signature ed25519 file:%%DIR%%/ed.pem keyid=test-key-ed25519
                       label=sig-b26 expires=300 tag=app-123;
        http_signature_components "\@method" "\@path" "\@query"
                                  "\@authority" "\@scheme" "date";
        http_signature_authority \$http_x_sig_host scheme=http;
    }

    credential dflt {
        http_signature hmac-sha256 file:%%DIR%%/hkey keyid=dflt created=off;
        http_signature_authority 127.0.0.1:$up scheme=http;
    }

    credential rfc {
        http_signature hmac-sha256 env:HS_RFC key=base64
                       keyid=test-shared-secret label=sig-b25;
        http_signature_components "\@authority" "date" "content-type";
        http_signature_authority example.com;
    }

    credential own {
        header X-Api-Key static-api-key;
        http_signature hmac-sha256 env:HS_KEY keyid=partner-1;
        http_signature_components "\@method" "x-api-key";
    }

    server {
        listen 127.0.0.1:$port;

        location /hm/ {
            credential_inject hm;
            proxy_pass http://127.0.0.1:$up;
        }

        location /ed/ {
            credential_inject ed;
            proxy_pass http://127.0.0.1:$up;
        }

        location /rw/ {
            credential_inject dflt;
            rewrite ^/rw/(.*)\$ /dflt/\$1 break;
            proxy_pass http://127.0.0.1:$up;
        }

        location /rfc/ {
            credential_inject rfc;
            proxy_set_header Host example.com;
            proxy_pass http://127.0.0.1:$up;
        }

        location /own/ {
            credential_inject own;
            proxy_pass http://127.0.0.1:$up;
        }
    }
CONF

$n->write_file('ed.pem', $EDKEY);
$n->write_file('hkey', "$HKEY2\n");
$n->start($port);

my $num = 0;

sub save {
    my ($received) = @_;
    my $file = $n->dir . '/received.' . ++$num;
    open my $fh, '>:raw', $file or die "$file: $!";
    print $fh $received;
    close $fh;
    return $file;
}

# one python3 for the file (t/lib/PyRun.pm)
my $verifier = PyRun->new("$FindBin::Bin/lib/httpsig_verify.py");

sub run_verify {
    my ($received, $alg, $keyid, $label, $key) = @_;
    my $file = save($received);
    my ($code, $out) = $verifier->run(
        [$file, $alg, $keyid, defined $label && length $label ? $label : ()],
        { HTTPSIG_KEY => $key // $HKEY, HTTPSIG_KEY_B64 => $_[5] // '',
          HTTPSIG_KEY_FILE => $n->dir . '/ed.pem' });
    return ($code == 0 && $out =~ /^ok$/m, $out);
}

sub verify {
    my ($name, @args) = @_;
    my ($ok, $out) = run_verify(@args);
    ok($ok, "the verifier accepts: $name") or diag $out;
}

sub request {
    my ($method, $uri, $body, @headers) = @_;
    my $req = "$method $uri HTTP/1.1\nHost: localhost\nConnection: close\n"
        . join('', map { "$_\n" } @headers);
    $req .= "Content-Length: " . length($body) . "\n"
        if defined $body && !grep { /^Transfer-Encoding/i } @headers;
    $req .= "\n";
    $req =~ s/(?<!\r)\n/\r\n/g;
    $req .= $body if defined $body;
    my $r = http_request($port, $req);
    is($r->{status}, 200, "$method $uri: 200") or diag $r->{raw};
    return $r->{body};
}

sub b64digest {
    my $d = sha256_base64($_[0]);
    $d .= '=' while length($d) % 4;
    return "sha-256=:$d:";
}

# a query; the client's copies of the signature's headers go; absent
# content-type and x-custom are left out of the covered list

my $got = request('GET', '/hm/items?b=2&a=x%20y&flag', undef,
                  'Signature: sig1=:ZXZpbA==:',
                  'Signature-Input: sig1=("@method");keyid="evil"',
                  'Content-Digest: sha-256=:ZXZpbA==:',
                  'Signature_Input: evil-underscore');
verify('GET with a query', $got, 'hmac-sha256', 'partner-1');

for my $h (qw(signature signature-input content-digest)) {
    is(count_header($got, $h), 1, "one $h upstream");
}
unlike($got, qr/evil|ZXZpbA/, 'no client copy of a signature header upstream');
is_deeply([header_values($got, 'content-digest')], [b64digest('')],
          'no body: the digest of nothing');
like((header_values($got, 'signature-input'))[0],
     qr/^sig1=\("\@method" "\@target-uri" "\@authority" "content-digest"\);created=\d+;keyid="partner-1"$/,
     'Signature-Input: the covered components present, created, keyid');
like((header_values($got, 'signature'))[0], qr/^sig1=:[A-Za-z0-9+\/]{43}=:$/,
     'Signature: a byte sequence of 32 bytes');

# a JSON body, a content type, a header sent twice (combined)

my $json = '{"hello": "world"}';
$got = request('POST', '/hm/orders?x=1', $json,
               'Content-Type: application/json',
               'X-Custom:  one ', 'X-Custom: two');
verify('POST with a JSON body and a repeated header', $got, 'hmac-sha256',
       'partner-1');
is_deeply([header_values($got, 'content-digest')],
          ['sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:'],
          'Content-Digest of the JSON body (RFC 9530 B.1)');
like((header_values($got, 'signature-input'))[0],
     qr/"content-digest" "content-type" "x-custom"\)/,
     'the headers present are covered, in lower case');

# a chunked body, and one too large for memory (a temporary file)

$got = request('POST', '/hm/chunked', "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
               'Transfer-Encoding: chunked');
verify('chunked body', $got, 'hmac-sha256', 'partner-1');
is_deeply([header_values($got, 'content-digest')], [b64digest('hello world')],
          'Content-Digest of the chunked body');

my $big = join('', map { chr(32 + $_ % 90) } 1 .. 100_000);
$got = request('PUT', '/hm/big%20object', $big);
verify('a body in a temporary file', $got, 'hmac-sha256', 'partner-1');
is_deeply([header_values($got, 'content-digest')], [b64digest($big)],
          'Content-Digest of the body in a file');

# ed25519, the RFC's key: label, expires, tag, @path, @query, @scheme

$got = request('GET', '/ed/foo?param=Value&Pet=dog', undef,
               'Date: Tue, 20 Apr 2021 02:07:55 GMT',
               "X-Sig-Host: 127.0.0.1:$up");
verify('ed25519 with the RFC 9421 test key', $got, 'ed25519',
       'test-key-ed25519', 'sig-b26');
like((header_values($got, 'signature-input'))[0],
     qr/^sig-b26=\("\@method" "\@path" "\@query" "\@authority" "\@scheme" "date"\);created=(\d+);expires=(\d+);keyid="test-key-ed25519";tag="app-123"$/,
     'Signature-Input of ed25519: label, expires, tag');
my ($c, $e) = (header_values($got, 'signature-input'))[0]
    =~ /created=(\d+);expires=(\d+)/;
is($e - $c, 300, 'expires: created + 300');
like((header_values($got, 'signature'))[0], qr/^sig-b26=:[A-Za-z0-9+\/]{86}==:$/,
     'Signature: a byte sequence of 64 bytes');
is(count_header($got, 'content-digest'), 0,
   'no Content-Digest where it is not covered');

# the default components, no created, after a rewrite

$got = request('GET', '/rw/r%20w/./x?z=1&y=%41', undef);
verify('rewritten URI, default components', $got, 'hmac-sha256', 'dflt',
       undef, $HKEY2);
like($got, qr{^GET /dflt/r%20w/x\?z=1&y=%41 }m, 'the rewritten URI upstream');
like((header_values($got, 'signature-input'))[0],
     qr/^sig1=\("\@method" "\@target-uri" "\@authority"\);keyid="dflt"$/,
     'default components, created=off');

# the RFC's shared secret, given in base64 (B.1.5), and B.2.5's request:
# the same components, so the same signature base but for "created"

$got = request('POST', '/rfc/foo?param=Value&Pet=dog', '{"hello": "world"}',
               'Date: Tue, 20 Apr 2021 02:07:55 GMT',
               'Content-Type: application/json');
verify('hmac-sha256 with the RFC 9421 shared secret (key=base64)', $got,
       'hmac-sha256', 'test-shared-secret', 'sig-b25', '', $RFCKEY);
like((header_values($got, 'signature-input'))[0],
     qr/^sig-b25=\("\@authority" "date" "content-type"\);created=\d+;keyid="test-shared-secret"$/,
     'Signature-Input as in B.2.5');

# a credential's own header is what is signed, not the client's

$got = request('GET', '/own/x', undef, 'X-Api-Key: evil-key');
verify('a credential\'s header covered', $got, 'hmac-sha256', 'partner-1');
is_deeply([header_values($got, 'x-api-key')], ['static-api-key'],
          'the credential\'s header upstream');

# negative controls: the verifier refuses a changed request or key

{
    my $changed = $got;
    $changed =~ s{^GET /own/x}{DELETE /own/x}m;
    my ($ok) = run_verify($changed, 'hmac-sha256', 'partner-1');
    ok(!$ok, 'the verifier refuses a changed method');

    ($ok) = run_verify($got, 'hmac-sha256', 'partner-1', undef, 'wrong');
    ok(!$ok, 'the verifier refuses another key');

    $got = request('POST', '/hm/b', 'body one');
    ($changed = $got) =~ s/body one$/body two/;
    ($ok) = run_verify($changed, 'hmac-sha256', 'partner-1');
    ok(!$ok, 'the verifier refuses a changed body');
}

# "nginx -s reload" parses the configuration without reading the keys

{
    my ($ok, $out) = $n->reload;
    ok($ok, 'nginx -s reload with an ed25519 key') or diag $out;

    $got = request('GET', '/ed/after-reload', undef,
                   'Date: Tue, 20 Apr 2021 02:07:55 GMT',
                   "X-Sig-Host: 127.0.0.1:$up");
    verify('ed25519 after a reload', $got, 'ed25519', 'test-key-ed25519',
           'sig-b26');
}

# the keys are never logged, at debug level either

$n->stop;

my $err = $n->error_log;
like($err, qr/credential "hm": signed 4 components and the body's digest/,
     'debug log says the request was signed');
for ([$HKEY, 'shared secret'], [$HKEY2, 'shared secret from a file'],
     [$EDSECRET, 'ed25519 key'])
{
    unlike($err, qr/\Q$_->[0]\E/, "debug log has no $_->[1]");
}

# a signature is good for a replay of its request: masked as the keys are
like($err, qr/http proxy header: "Signature: \[redacted\]"/,
     'debug log: the Signature header is there, masked');
# ("http header:" lines are the client's own, a forged one in this test)
unlike(join("\n", grep { !/ http header: / } split /\n/, $err),
       qr/Signature: [\w*.-]+=:/,
       'debug log has no signature (hmac-sha256 or ed25519)');

# nginx -t

my $ec = `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null`;
my ($ECSECRET) = $ec =~ /^([A-Za-z0-9+\/]{40,})$/m;

sub rejects {
    my ($name, $cred, $re) = @_;
    my $t = nginx_new(env => { HS_KEY => $HKEY }, http => <<"CONF");
    credential c {
$cred
    }
CONF
    $t->write_file('ed.pem', $EDKEY);
    $t->write_file('ec.pem', $ec);
    $t->write_file('bad.pem', "-----BEGIN PRIVATE KEY-----\nabcdef\n"
                              . "-----END PRIVATE KEY-----\n");
    my ($ok, $msg) = $t->test_config;
    ok(!$ok, "nginx -t rejects: $name");
    like($msg, $re, "message: $name") or diag $msg;
    like($msg, qr/nginx\.conf:\d+/, "file:line: $name") or diag $msg;
    unlike($msg, qr/\Q$HKEY\E|\Q$EDSECRET\E|abcdef|\Q$ECSECRET\E|BEGIN/,
           "no key text in the message: $name");
}

my $auth = "http_signature_authority h.example;";

rejects('unknown algorithm',
        "http_signature rsa-pss-sha512 env:HS_KEY keyid=k;\n$auth",
        qr/unknown algorithm "rsa-pss-sha512" in "http_signature"/);
rejects('not a PEM key',
        "http_signature ed25519 file:%%DIR%%/bad.pem keyid=k;\n$auth",
        qr/http_signature: not a PEM private key/);
rejects('a key that is not Ed25519',
        "http_signature ed25519 file:%%DIR%%/ec.pem keyid=k;\n$auth",
        qr/"ed25519" needs an Ed25519 private key/);
rejects('a base64 key that is not',
        "http_signature hmac-sha256 env:HS_KEY key=base64 keyid=k;\n$auth",
        qr/http_signature: the key is not base64/);
rejects('key=base64 for ed25519',
        "http_signature ed25519 file:%%DIR%%/ed.pem key=base64 keyid=k;\n"
        . $auth, qr/"key=base64" is for "hmac-sha256" keys/);
rejects('no keyid', "http_signature hmac-sha256 env:HS_KEY;\n$auth",
        qr/"http_signature" needs "keyid="/);
rejects('unknown derived component',
        "http_signature hmac-sha256 env:HS_KEY keyid=k;\n$auth\n"
        . "http_signature_components \"\@method\" \"\@request-body\";",
        qr/unknown derived component "\@request-body"/);
rejects('no authority for @target-uri',
        "http_signature hmac-sha256 env:HS_KEY keyid=k;",
        qr/need "http_signature_authority"/);
rejects('a component twice',
        "http_signature hmac-sha256 env:HS_KEY keyid=k;\n$auth\n"
        . "http_signature_components \"\@method\" \"Date\" \"date\";",
        qr/component "date" is covered twice/);
rejects('Host covered',
        "http_signature hmac-sha256 env:HS_KEY keyid=k;\n$auth\n"
        . "http_signature_components \"host\";",
        qr/component "host" cannot be covered/);
rejects('a quote in the keyid',
        "http_signature hmac-sha256 env:HS_KEY 'keyid=a\"b';\n$auth",
        qr/invalid keyid in "http_signature"/);
rejects('an invalid label',
        "http_signature hmac-sha256 env:HS_KEY keyid=k label=Sig1;\n$auth",
        qr/invalid label "Sig1"/);
rejects('a static Signature too',
        "http_signature hmac-sha256 env:HS_KEY keyid=k;\n$auth\n"
        . "header Signature x;",
        qr/sets header "Signature" twice \("http_signature" sets it\)/);
rejects('components without http_signature',
        "http_signature_components \"\@method\";\nheader X-A b;",
        qr/has "http_signature_\*" but no "http_signature"/);

done_testing;
