#!/usr/bin/perl

# Octamile answers HTTP 200 and puts the outcome in exctnFdbck.id: 35 (at
# capacity) is retried on the configured schedule, then passed on with a
# header; 55 (bad credential) is not retried and is logged once, by name;
# anything else, and answers that are not JSON or too large, pass through.
# Retries are counted at the mock, never timed.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep);
use EdgeAuthTest;
use MockOctamile;

my $ID  = '9b2f7c3e-1d4a-4e8b-a1c2-3d4e5f607182';
my $AID = 'c0ffee00-1234-4abc-9def-0123456789ab';
my $KEY = 'T2N0YW1pbGUgc2VjcmV0IGtleQ==';
my $WRONG = 'V3JvbmcgT2N0YW1pbGUga2V5IQ==';

my $port = free_port();
my $down = free_port();
my $gz = free_port();

# an upstream whose answer is gzip already, with a Last-Modified

my $GZ_JSON = '{"exctnFdbck":{"id":75},"zipped":true}';
my $GZ_BODY;
{
    require IO::Compress::Gzip;
    IO::Compress::Gzip::gzip(\$GZ_JSON => \$GZ_BODY);
}
echo_server($gz, sub {
    my ($head) = @_;
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        . "Content-Encoding: gzip\r\n"
        . "Last-Modified: Mon, 02 Jan 2006 15:04:05 GMT\r\n"
        . "Content-Length: " . length($GZ_BODY) . "\r\n"
        . "Connection: close\r\n\r\n"
        . ($head =~ /^HEAD / ? '' : $GZ_BODY);
});

my $o = MockOctamile->start(id => $ID, auth_id => $AID, key => $KEY);
my $mock = $o->port;

sub block {
    my ($name, $key, $extra) = @_;
    return <<"BLOCK";
    credential $name {
        body_json userInfo.id $ID uuid;
        body_json userInfo.athrzt.id $AID uuid;
        body_json userInfo.athrzt.key $key;
        $extra
    }
BLOCK
}

my $codes = 'answer_code exctnFdbck.id; answer_fail 55;';

my $http = block('octamile', $KEY,
                 "$codes answer_retry 35 100ms 200ms 300ms; "
                 . "answer_max_size 4k;")
    . block('wrongkey', $WRONG, "$codes answer_retry 35 100ms;")
    . block('nocodes', $KEY, '')
    . block('slow', $KEY, "$codes answer_retry 35 500ms 500ms 500ms;")
    . <<"CONF";
    server {
        listen 127.0.0.1:$port;
        client_body_buffer_size 1k;

        location /aims/ {
            credential_inject octamile;
            proxy_pass http://127.0.0.1:$mock;
        }

        location /wrong/ {
            credential_inject wrongkey;
            proxy_pass http://127.0.0.1:$mock;
        }

        location /nocodes/ {
            credential_inject nocodes;
            proxy_pass http://127.0.0.1:$mock;
        }

        location /slow/ {
            credential_inject slow;
            proxy_pass http://127.0.0.1:$mock;
        }

        location /down/ {
            credential_inject octamile;
            proxy_pass http://127.0.0.1:$down;
        }

        location /gz/ {
            gzip on;
            gzip_types application/json;
            gzip_min_length 1;
            credential_inject octamile;
            proxy_pass http://127.0.0.1:$gz;
        }

        location /rw/ {
            rewrite ^/rw/(.*)\$ /elsewhere/\$1 break;
            credential_inject octamile;
            proxy_pass http://127.0.0.1:$mock;
        }

        location /elsewhere/ {
            proxy_pass http://127.0.0.1:$down;
        }

        location /named/ {
            error_page 418 = \@octamile;
            return 418;
        }

        location /tried/ {
            try_files /nothing-here \@octamile;
        }

        location \@octamile {
            credential_inject octamile;
            proxy_pass http://127.0.0.1:$mock;
        }
    }
CONF

my $n = nginx_new(http => $http, log_level => "debug");
$n->start($port);

my $USERINFO = qq("userInfo":{"id":"$ID","athrzt":{"id":"$AID","key":"$KEY"}});
my $CMD = '{"cmmnd":{"cmmnd":"dump ipck_vhcl-tprt-1111*PRMM","seed":{}}}';

sub request_text {
    my ($uri, $body) = @_;
    return "POST $uri HTTP/1.1\nHost: localhost\nConnection: close\n"
        . "Content-Type: application/json\n"
        . "Content-Length: " . length($body) . "\n\n$body";
}

sub post { http_request($port, request_text(@_)) }

# the mock lists the other top-level keys only when it accepts (75)

sub answer {
    my $seen = $_[0] == 75 ? '"cmmnd"' : '';
    return qq({"exctnFdbck":{"id":$_[0]},"seen":[$seen]});
}

sub fresh {
    $o->reset;
    $o->set(@_) if @_;
}

my $r;

# 75 at once: one request, the partner's answer as it was

fresh();
$r = post('/aims/a', $CMD);
is($r->{status}, 200, '75: 200');
is($r->{body}, answer(75), '75: the partner\'s body, unchanged');
is($r->{headers}{'x-octamile'}[0], 'mock', '75: partner headers kept');
is($r->{headers}{'content-type'}[0], 'application/json', '75: type kept');
is($r->{headers}{'content-length'}[0], length answer(75), '75: length');
ok(!$r->{headers}{'x-credential-retries-exhausted'}, '75: no retry header');
is($o->requests, 1, '75: one request');
is($o->last_body, '{' . $USERINFO . ',' . substr($CMD, 1),
   '75: the injected body reached the partner');
my $alen = length answer(75);
like($n->error_log, qr/credential "octamile": answer buffer $alen bytes/,
     '75: the answer is held in a buffer of its announced length');
unlike($n->error_log, qr/answer buffer 4096 bytes/,
       '75: not one of answer_max_size');

# 35 twice, then 75: retried, the client sees only the 75

fresh(busy => 2);
$r = post('/aims/a', $CMD);
is($r->{body}, answer(75), '35 35 75: the client gets 75');
is_deeply([$o->answers], [35, 35, 75], '35 35 75: three requests');
is($o->last_body, '{' . $USERINFO . ',' . substr($CMD, 1),
   '35 35 75: the retry sends the same body');
ok(!$r->{headers}{'x-credential-retries-exhausted'},
   '35 35 75: no exhausted header');

# always 35: 1 + 3 retries, then the last answer and the header

fresh(busy => 100);
$r = post('/aims/a', $CMD);
is($r->{status}, 200, 'retries run out: 200');
is($r->{body}, answer(35), 'retries run out: the partner\'s last body');
is_deeply($r->{headers}{'x-credential-retries-exhausted'}, [3],
          'retries run out: header says 3 retries ran');
is($o->requests, 4, 'retries run out: 1 + 3 requests, no more');
like($n->error_log, qr/credential "octamile": answer exctnFdbck\.id 35 after 3 retries, retries ran out/,
     'retries run out: logged');

# the code as a string counts the same

fresh(busy => 1, code_as_string => 1);
$r = post('/aims/a', $CMD);
is_deeply([$o->answers], [35, 75], '"35" as a string: retried');
like($r->{body}, qr/"id":"75"/, '"35" as a string: the client gets "75"');

# 55: not retried, one error line naming the credential, counted

fresh();
$r = post('/wrong/a', $CMD);
is($r->{status}, 200, '55: 200');
is($r->{body}, answer(55), '55: the partner\'s body');
is($o->requests, 1, '55: no retry');
$r = post('/wrong/a', $CMD);
is($o->requests, 2, '55 again: still one request each');

my @lines = grep { /refused/ } split /\n/, $n->error_log;
is(scalar @lines, 2, '55: one log line per refusal');
like($lines[0], qr/\[error\].*credential "wrongkey": the partner refused it \(answer exctnFdbck\.id 55\), 1 times in this worker; not retried/,
     '55: the line names the credential and the code');
like($lines[1], qr/2 times in this worker/, '55: counted');
unlike($n->error_log, qr/\Q$WRONG\E|\Q$KEY\E/, '55: no key in the log');

# without answer codes a 35 goes straight to the client

fresh(busy => 1);
$r = post('/nocodes/a', $CMD);
is($r->{body}, answer(35), 'no answer_code: 35 passed on');
is($o->requests, 1, 'no answer_code: no retry');

# answers not inspected: not JSON, too large, not a 200

fresh(raw => 'Service Unavailable <html>');
$r = post('/aims/a', $CMD);
is($r->{body}, 'Service Unavailable <html>', 'not JSON: passed on as is');
is($o->requests, 1, 'not JSON: no retry');

my $big = '{"exctnFdbck":{"id":35},"pad":"' . ('p' x 6000) . '"}';

fresh(raw => $big);
$r = post('/aims/a', $CMD);
ok($r->{body} eq $big, 'larger than answer_max_size: passed on whole');
is($r->{headers}{'content-length'}[0], length $big,
   'larger than answer_max_size: its length');
is($o->requests, 1, 'larger than answer_max_size: a 35 not retried');

# the boundary: exactly answer_max_size (4k) is inspected, one byte more not

for my $extra (0, 1) {
    my $head = '{"exctnFdbck":{"id":35},"pad":"';
    my $text = $head . ('q' x (4096 + $extra - length($head) - 2)) . '"}';
    for my $chunked (0, 1) {
        fresh(raw => $text, chunked => $chunked);
        $r = post('/aims/a', $CMD);
        my $how = ($chunked ? 'chunked, ' : '') . length($text) . ' bytes';
        is($o->requests, $extra ? 1 : 4,
           "$how: " . ($extra ? 'passed on' : 'inspected and retried'));
        ok(dechunk_if($r) eq $text, "$how: the body whole");
    }
}

fresh(raw => $big, chunked => 1);
$r = post('/aims/a', $CMD);
ok($r->{body} eq $big || dechunk($r->{body}) eq $big,
   'larger, chunked (no length): passed on whole');
is($o->requests, 1, 'larger, chunked: not retried');

fresh(busy => 1, chunked => 1);
$r = post('/aims/a', $CMD);
is(dechunk_if($r), answer(75), 'small chunked answer: inspected, retried');
is($o->requests, 2, 'small chunked answer: two requests');

fresh(busy => 1, status => 503);
$r = post('/aims/a', $CMD);
is($r->{status}, 503, 'HTTP 503: passed on');
is($r->{body}, answer(35), 'HTTP 503: its body, a 35 in it not retried');
is($o->requests, 1, 'HTTP 503: no retry');

# the upstream is down: 502, nothing hangs

$r = post('/down/a', $CMD);
is($r->{status}, 502, 'upstream down: 502');

# every attempt runs in the location the main request is in: after
# "rewrite ... break" the URI is another location's, and a named location
# has no URI of its own

for my $uri ('/rw/a', '/named/a', '/tried/a') {
    fresh(busy => 1);
    $r = post($uri, $CMD);
    is($r->{status}, 200, "$uri: 200");
    is($r->{body}, answer(75), "$uri: retried in the same location");
    is_deeply([$o->answers], [35, 75], "$uri: both attempts at the partner");
}

unlike($n->error_log, qr/connect\(\) failed .*"POST \/rw\//,
       'rewrite ... break: no attempt went to the other location');

# the answer's headers are the main request's by pointer too: gzip sees
# Content-Encoding and leaves an answer gzipped upstream alone

$r = http_request($port, "POST /gz/a HTTP/1.1\nHost: localhost\n"
    . "Connection: close\nAccept-Encoding: gzip\n"
    . "Content-Length: " . length($CMD) . "\n\n$CMD");
is($r->{status}, 200, 'gzipped upstream: 200');
is_deeply($r->{headers}{'content-encoding'}, ['gzip'],
          'gzipped upstream: one Content-Encoding');
{
    require IO::Uncompress::Gunzip;
    my $body = dechunk_if($r);
    my $plain;
    IO::Uncompress::Gunzip::gunzip(\$body => \$plain);
    is($plain, $GZ_JSON, 'gzipped upstream: compressed once');
}
is_deeply($r->{headers}{'last-modified'}, ['Mon, 02 Jan 2006 15:04:05 GMT'],
          'gzipped upstream: one Last-Modified');

# HEAD: nothing is held, the length is the upstream's, not 0

$r = http_request($port, "HEAD /gz/a HTTP/1.1\nHost: localhost\n"
    . "Connection: close\n"
    . "Content-Length: " . length($CMD) . "\n\n$CMD");
is($r->{status}, 200, 'HEAD: 200');
is_deeply($r->{headers}{'content-length'}, [length $GZ_BODY],
          'HEAD: the upstream\'s Content-Length');
is($r->{body}, '', 'HEAD: no body');

# a body that is not JSON never reaches the partner, even with retries on

fresh();
$r = post('/aims/a', '[1]');
is($r->{status}, 400, 'array body: 400');
is($o->requests, 0, 'array body: nothing sent');

# a 64 KB body from a temp file is sent again, whole, on retry

my $large = '{"cmmnd":{"cmmnd":"x"},"rows":"' . ('r' x 65000) . '"}';
fresh(busy => 1);
$r = post('/aims/a', $large);
is($o->requests, 2, 'large body: retried once');
like($r->{body}, qr/"id":75/, 'large body: 75 in the end');
ok($o->last_body eq '{' . $USERINFO . ',' . substr($large, 1),
   'large body: the retry carried all of it');

# a client that leaves while a retry waits: the retries stop

fresh(busy => 100);
{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp') or die;
    my $req = request_text('/slow/a', $CMD);
    $req =~ s/\n/\r\n/g;
    print $s $req;
    sleep 0.3;
    close $s;
}
sleep 2;
is($o->requests, 1, 'client gone during the wait: no retry after it');
like($n->access_log, qr{"POST /slow/a HTTP/1.1" 499 },
     'client gone during the wait: logged as 499');

# a client that leaves while an attempt is at the partner

fresh(delay => 1);
{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp') or die;
    my $req = request_text('/slow/b', $CMD);
    $req =~ s/\n/\r\n/g;
    print $s $req;
    sleep 0.3;
    close $s;
}
sleep 1.5;
is($o->requests, 1, 'client gone during an attempt: one request');
like($n->access_log, qr{"POST /slow/b HTTP/1.1" 499 },
     'client gone during an attempt: logged as 499');

fresh();
$r = post('/aims/a', $CMD);
is($r->{body}, answer(75), 'still serving afterwards');

unlike($n->error_log, qr/\[alert\]|\[crit\]|\[emerg\]/,
       'no alert, crit or emerg in the log');

done_testing();


sub dechunk {
    my ($text) = @_;
    my $out = '';
    while ($text =~ s/^([0-9a-f]+)\r\n//i) {
        my $len = hex $1;
        last if $len == 0;
        $out .= substr($text, 0, $len, '');
        $text =~ s/^\r\n//;
    }
    return $out;
}

sub dechunk_if {
    my ($r) = @_;
    return $r->{headers}{'transfer-encoding'} ? dechunk($r->{body})
                                               : $r->{body};
}
