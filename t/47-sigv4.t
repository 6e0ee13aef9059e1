#!/usr/bin/perl

# AWS Signature Version 4: each proxied request is signed as the upstream
# receives it.  The echo upstream sends back the exact request it got, and
# botocore (t/lib/sigv4_verify.py) recomputes the Authorization header from
# it with the same keys: S3 and another service, sorted and re-encoded
# queries, paths with spaces, UTF-8 and "+", a JSON body, a body in a
# temporary file, a chunked one, S3's unsigned payload, a session token.
# The client's copies of the signature's headers never reach the upstream,
# the keys are never in the debug log, nginx -t catches careless blocks.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(sha256_hex);
use EdgeAuthTest;
use PyRun;

# botocore found, not imported: importing it takes python3 0.6 s of CPU,
# and the one verifier of the file (PyRun below) imports it anyway
system('python3', '-c', 'import importlib.util as u, sys; '
       . 'sys.exit(u.find_spec("botocore") is None)') == 0
    or plan skip_all => 'python3-botocore is not installed';

my $AKID = 'AKIDEXAMPLE';
my $SK = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
my $AKID2 = 'ASIAEXAMPLE2';
my $SK2 = 'S3cr3t-S3-key/never+logged-0123456789';
my $TOKEN = 'FQoGZXIvYXdzEXAMPLE-session-token/never+logged==';

my $port = free_port();
my $up = free_port();
my $dead = free_port();
echo_server($up);

my $n = nginx_new(env => { AWS_SK => $SK, AWS_TOKEN => $TOKEN },
                  log_level => 'debug', http => <<"CONF");
    client_body_buffer_size 1k;

    credential api {
        aws_sigv4 eu-west-1 execute-api;
        aws_access_key_id $AKID;
        aws_secret_access_key env:AWS_SK;
        aws_sigv4_host 127.0.0.1:$up;
    }

    credential s3 {
        aws_sigv4 us-east-1 s3 unsigned_payload;
        aws_access_key_id file:%%DIR%%/akid;
        aws_secret_access_key file:%%DIR%%/sk;
        aws_session_token env:AWS_TOKEN;
        aws_sigv4_host 127.0.0.1:$up;
    }

    credential s3signed {
        aws_sigv4 us-east-1 s3;
        aws_access_key_id $AKID;
        aws_secret_access_key env:AWS_SK;
        aws_sigv4_host \$http_x_aws_host;
    }

    proxy_cache_path %%DIR%%/cache keys_zone=sigv4:1m;

    credential wronghost {
        aws_sigv4 eu-west-1 execute-api;
        aws_access_key_id $AKID;
        aws_secret_access_key env:AWS_SK;
        aws_sigv4_host bucket.example;
    }

    server {
        listen 127.0.0.1:$port;

        location /api/ {
            credential_inject api;
            proxy_pass http://127.0.0.1:$up;
        }

        location /cached/ {
            credential_inject api;
            proxy_cache sigv4;
            proxy_cache_key \$credential_name\$request_uri;
            proxy_cache_valid 200 1m;
            proxy_pass http://127.0.0.1:$up;
        }

        location /rw/ {
            credential_inject api;
            rewrite ^/rw/(.*)\$ /api/\$1 break;
            proxy_pass http://127.0.0.1:$up;
        }

        location /s3/ {
            credential_inject s3;
            proxy_pass http://127.0.0.1:$up;
        }

        location /s3s/ {
            credential_inject s3signed;
            proxy_pass http://127.0.0.1:$up;
        }

        location /fail/ {
            credential_inject api;
            proxy_pass http://127.0.0.1:$dead;
            error_page 502 = \@plain;
        }

        location \@plain {
            credential_inject off;
            proxy_pass http://127.0.0.1:$up;
        }

        location /wrong/ {
            credential_inject wronghost;
            proxy_pass http://127.0.0.1:$up;
        }
    }
CONF

$n->write_file('akid', "$AKID2\n");
$n->write_file('sk', "$SK2\n");
$n->start($port);

my $num = 0;

# the request the upstream received, checked by botocore (one python3
# for the file: t/lib/PyRun.pm)

my $verifier = PyRun->new("$FindBin::Bin/lib/sigv4_verify.py", 'python3');

sub verify {
    my ($name, $received, $region, $service, $keys, $s3) = @_;

    my $file = $n->dir . '/received.' . ++$num;
    open my $fh, '>:raw', $file or die "$file: $!";
    print $fh $received;
    close $fh;

    my ($code, $out) = $verifier->run([$file, $region, $service,
                                       $s3 ? 's3' : ()],
                                      { SIGV4_ACCESS_KEY => $keys->[0],
                                        SIGV4_SECRET_KEY => $keys->[1],
                                        SIGV4_TOKEN => $keys->[2] // '' });
    my $ok = $code == 0 && $out =~ /^ok$/m;

    ok($ok, "botocore verifies: $name") or diag $out;
    return $ok;
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

my @api = ('eu-west-1', 'execute-api', [$AKID, $SK]);
my @s3 = ('us-east-1', 's3', [$AKID2, $SK2, $TOKEN], 1);
my @s3s = ('us-east-1', 's3', [$AKID, $SK], 1);

my $EMPTY = sha256_hex('');

# a query that needs sorting and encoding; the client's copies go

my $got = request('GET', '/api/items?b=2&a=x%20y&a=1&c=%2f&flag&k=a:b~+',
                  undef,
                  'Authorization: AWS4-HMAC-SHA256 Credential=evil',
                  'X-Amz-Date: 19700101T000000Z',
                  'x-amz-security-token: evil-token',
                  'X-Amz-Content-SHA256: evil-hash',
                  'X_Amz_Date: evil-underscore');
verify('GET with a query to sort and encode', $got, @api);

for my $h (qw(authorization x-amz-date x-amz-content-sha256)) {
    is(count_header($got, $h), 1, "one $h upstream");
}

is(count_header($got, 'x-amz-security-token'), 0,
   'the client\'s X-Amz-Security-Token removed (no token configured)');
unlike($got, qr/evil/, 'no client copy of a signature header upstream');
is_deeply([header_values($got, 'x-amz-content-sha256')], [$EMPTY],
          'no body: the hash of nothing');
like($got, qr{^GET /api/items\?b=2&a=x%20y&a=1&c=%2f&flag&k=a:b~\+ HTTP/1\.[01]\r$}m,
     'the query as the client sent it');

# a path with spaces, UTF-8 and "+": encoded twice (not S3)

$got = request('GET', "/api/a%20b/%E2%9C%93+c/\xc3\xa9/x.json", undef);
verify('path with spaces, UTF-8 and "+"', $got, @api);

# after a rewrite the proxy sends the URI escaped: that is what is signed

$got = request('GET', '/rw/r%20w/./x?z=1&y=%41', undef);
verify('rewritten URI', $got, @api);
like($got, qr{^GET /api/r%20w/x\?z=1&y=%41 }m, 'the rewritten URI upstream');

# a JSON body: its SHA-256

my $json = '{"name":"caf\xc3\xa9","items":[1,2,3]}';
$got = request('POST', '/api/orders?b=1&a=2', $json,
               'Content-Type: application/json');
verify('POST with a JSON body', $got, @api);
is_deeply([header_values($got, 'x-amz-content-sha256')], [sha256_hex($json)],
          'payload hash: the SHA-256 of the JSON body');

# a chunked body, and one too large for memory (a temporary file)

$got = request('POST', '/api/chunked', "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
               'Transfer-Encoding: chunked');
verify('chunked body', $got, @api);
is_deeply([header_values($got, 'x-amz-content-sha256')],
          [sha256_hex('hello world')], 'payload hash of the chunked body');

my $big = join('', map { chr(32 + $_ % 90) } 1 .. 100_000);
$got = request('PUT', '/s3s/bucket/big%20object', $big,
               'X-Aws-Host: 127.0.0.1:' . $up);
verify('S3 with a signed payload in a temporary file', $got, @s3s);
is_deeply([header_values($got, 'x-amz-content-sha256')], [sha256_hex($big)],
          'payload hash of the body in a file');

# S3: the path as it is (no "//" folded, "+" a plus), unsigned, a token

$got = request('GET', '/s3/bucket/my%20key+%E2%9C%93//x/../y?list-type=2&prefix=a%2Fb',
               undef, 'X-Amz-Security-Token: evil-token');
verify('S3, unsigned payload, session token', $got, @s3);
is_deeply([header_values($got, 'x-amz-content-sha256')], ['UNSIGNED-PAYLOAD'],
          'S3: UNSIGNED-PAYLOAD');
is_deeply([header_values($got, 'x-amz-security-token')], [$TOKEN],
          'the session token, once');
like($got, qr/Credential=\Q$AKID2\E\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,/,
     'the key id from a file, the token signed');

$got = request('PUT', '/s3/bucket/upload', 'not hashed');
verify('S3 upload with an unsigned payload', $got, @s3);

# proxy_cache sends a HEAD it may store as GET: the signature is for GET
# (the GET that follows is a hit: the echo of what the HEAD sent)

$got = request('HEAD', '/cached/object');
$got = request('GET', '/cached/object');
like($got, qr/^GET \/cached\/object /, 'cached HEAD: the upstream got a GET');
verify('a HEAD that proxy_cache sends as GET', $got, @api);

# an upstream that fails: the request moves on to another location,
# without the signature; that location has no credential, so it gets the
# client's own headers, as they came

$got = request('GET', '/fail/x?a=1', undef,
               'X-Amz-Security-Token: evil-token');
for my $h (qw(authorization x-amz-date x-amz-content-sha256)) {
    is(count_header($got, $h), 0, "no $h after error_page to another location");
}
is_deeply([header_values($got, 'x-amz-security-token')], ['evil-token'],
          'after error_page: the client\'s own token header, not the session token');

# negative control: signed for another Host than the upstream got

$got = request('GET', '/wrong/x', undef);
my ($code, $out);
{
    my $file = $n->dir . '/received.wrong';
    open my $fh, '>:raw', $file or die;
    print $fh $got;
    close $fh;
    # the file's verifier (sigv4_verify.py), not a python3 of its own
    ($code, $out) = $verifier->run([$file, 'eu-west-1', 'execute-api'],
                                   { SIGV4_ACCESS_KEY => $AKID,
                                     SIGV4_SECRET_KEY => $SK });
}
isnt($code, 0, 'botocore refuses a signature for another Host') or diag $out;

# the keys are never logged, at debug level either

$n->stop;

my $err = $n->error_log;
like($err, qr/credential "api": signed for host/,
     'debug log says the request was signed');
like($err, qr/http proxy header: "X-Amz-Security-Token: \[redacted\]"/,
     'debug log: the token header is there, masked');
like($err, qr/http proxy header: "Authorization: \[redacted\]"/,
     'debug log: the Authorization header is there, masked');
unlike($err, qr/Signature=[0-9a-f]{64}/,
       'debug log has no signature (good for a replay of its request)');
for ([$SK, 'secret key'], [$SK2, 'secret key from a file'],
     [$TOKEN, 'session token'])
{
    unlike($err, qr/\Q$_->[0]\E/, "debug log has no $_->[1]");
}

# nginx -t

sub rejects {
    my ($name, $cred, $re, %env) = @_;
    my $t = nginx_new(env => \%env, http => <<"CONF");
    credential c {
$cred
    }
CONF
    $t->write_file('sk', "abc\ndef\n");
    my ($ok, $msg) = $t->test_config;
    ok(!$ok, "nginx -t rejects: $name");
    like($msg, $re, "message: $name") or diag $msg;
    like($msg, qr/nginx\.conf:\d+/, "file:line: $name") or diag $msg;
    unlike($msg, qr/\Q$SK\E|abc|def/, "no secret in the message: $name");
}

my $keys = "aws_access_key_id $AKID;\n"
    . "aws_secret_access_key env:AWS_SK;\naws_sigv4_host h.example;";

rejects('no secret key',
        "aws_sigv4 eu-west-1 s3;\naws_access_key_id $AKID;\n"
        . "aws_sigv4_host h.example;",
        qr/needs "aws_access_key_id" and "aws_secret_access_key"/,
        AWS_SK => $SK);
rejects('keys without aws_sigv4', $keys,
        qr/has AWS keys but no "aws_sigv4 region service"/, AWS_SK => $SK);
rejects('upper case in the region', "aws_sigv4 EU_West-1 s3;\n$keys",
        qr/invalid region "EU_West-1" in "aws_sigv4"/, AWS_SK => $SK);
rejects('"/" in the service', "aws_sigv4 eu-west-1 s3/x;\n$keys",
        qr/invalid service "s3\/x"/, AWS_SK => $SK);
rejects('unknown parameter', "aws_sigv4 eu-west-1 s3 unsigned;\n$keys",
        qr/invalid parameter "unsigned" in "aws_sigv4"/, AWS_SK => $SK);
rejects('no aws_sigv4_host',
        "aws_sigv4 eu-west-1 s3;\naws_access_key_id $AKID;\n"
        . "aws_secret_access_key env:AWS_SK;",
        qr/needs "aws_sigv4_host"/, AWS_SK => $SK);
rejects('CR LF in a secret from the environment',
        "aws_sigv4 eu-west-1 s3;\n$keys",
        qr/aws_secret_access_key.*control byte/, AWS_SK => "abc\r\ndef");
rejects('LF in a secret file',
        "aws_sigv4 eu-west-1 s3;\naws_access_key_id $AKID;\n"
        . "aws_secret_access_key file:%%DIR%%/sk;\naws_sigv4_host h;",
        qr/aws_secret_access_key.*control byte/);
rejects('"/" in the key id',
        "aws_sigv4 eu-west-1 s3;\naws_access_key_id AK/ID;\n"
        . "aws_secret_access_key env:AWS_SK;\naws_sigv4_host h;",
        qr/aws_access_key_id must not contain/, AWS_SK => $SK);
rejects('a static Authorization too',
        "aws_sigv4 eu-west-1 s3;\n$keys\nbasic u p;",
        qr/sets header "Authorization" twice \("aws_sigv4" sets it\)/,
        AWS_SK => $SK);
rejects('with a login',
        "aws_sigv4 eu-west-1 s3;\n$keys\nlogin http://127.0.0.1:1/t;\n"
        . "token_header X-Token \"{token}\";",
        qr/"aws_sigv4" cannot be combined with a login/, AWS_SK => $SK);

done_testing;
