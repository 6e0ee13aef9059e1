#!/usr/bin/perl

# answer_code (issue 12, item 2): a partner's answer cut short (a length
# announced, fewer bytes, the close) is never delivered as a whole one.
# Held back (200, under answer_max_size): 502, as nothing was sent yet.
# Released (larger, or not a 200): its status and part of its body went
# out; the client connection is closed, as plain proxy_pass does, so the
# client sees fewer bytes than Content-Length and no keep-alive.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use EdgeAuthTest;
use MockOctamile;

my $ID  = '9b2f7c3e-1d4a-4e8b-a1c2-3d4e5f607182';
my $AID = 'c0ffee00-1234-4abc-9def-0123456789ab';
my $KEY = 'T2N0YW1pbGUgc2VjcmV0IGtleQ==';

my $port = free_port();

my $o = MockOctamile->start(id => $ID, auth_id => $AID, key => $KEY);
my $mock = $o->port;

my $n = nginx_new(http => <<"CONF");
    credential octamile {
        body_json userInfo.id $ID uuid;
        body_json userInfo.athrzt.id $AID uuid;
        body_json userInfo.athrzt.key $KEY;
        answer_code exctnFdbck.id;
        answer_fail 55;
        answer_retry 35 100ms;
        answer_max_size 4k;
    }

    server {
        listen 127.0.0.1:$port;

        location /aims/ {
            credential_inject octamile;
            proxy_pass http://127.0.0.1:$mock;
        }

        location /unbuffered/ {
            proxy_buffering off;
            credential_inject octamile;
            proxy_pass http://127.0.0.1:$mock;
        }
    }
CONF

$n->start($port);

my $CMD = '{"cmmnd":{"cmmnd":"dump ipck_vhcl-tprt-1111*PRMM","seed":{}}}';

# a keep-alive request: what came back, and whether nginx closed the
# connection (EOF within 3 s) or kept it for the next request

sub keepalive {
    my ($uri, $body) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10)
        or die "connect $port: $!";

    print $s "POST $uri HTTP/1.1\r\nHost: localhost\r\n"
        . "Content-Type: application/json\r\n"
        . "Content-Length: " . length($body) . "\r\n\r\n$body";

    my $sel = IO::Select->new($s);
    my ($raw, $closed) = ('', 0);

    while ($sel->can_read(3)) {
        my $n = sysread($s, my $buf, 65536);
        if (!$n) {
            $closed = 1;
            last;
        }
        $raw .= $buf;
    }

    close $s;

    my ($head, $rest) = split /\r\n\r\n/, $raw, 2;
    my ($status) = ($head // '') =~ m{^HTTP/\d\.\d (\d+)};
    my ($length) = ($head // '') =~ /\r\nContent-Length: (\d+)/i;

    return { status => $status // 0, length => $length, closed => $closed,
             head => $head // '', body => $rest // '' };
}

my $r;

# 1. a held answer cut short: Content-Length 1000, 61 bytes, close

$o->reset;
$o->set(announce => 1000);
$r = keepalive('/aims/a', $CMD);
ok($r->{status} == 502 || ($r->{closed} && $r->{status} == 0),
   'held answer cut short: 502 or the connection closed, not a 200')
    or diag $r->{head};
ok(!($r->{status} == 200 && defined $r->{length}
     && $r->{length} == length $r->{body}),
   'held answer cut short: never a short body framed as whole');
is($o->requests, 1, 'held answer cut short: not retried');

# the same answer whole is delivered

$o->reset;
$r = keepalive('/aims/a', $CMD);
is($r->{status}, 200, 'whole answer: 200');
ok(!$r->{closed}, 'whole answer: the connection stays open');
is($r->{length}, length $r->{body}, 'whole answer: as long as announced');

# 2. a released (streamed) answer cut short: larger than answer_max_size

my $LARGE = '{"exctnFdbck":{"id":75},"pad":"' . ('x' x 8000) . '"}';

$o->reset;
$o->set(raw => $LARGE, announce => length($LARGE) + 1000);
$r = keepalive('/aims/a', $CMD);
is($r->{status}, 200, 'streamed answer cut short: its status went out');
ok($r->{closed}, 'streamed answer cut short: the connection is closed');
ok(length($r->{body}) < $r->{length},
   'streamed answer cut short: fewer bytes than Content-Length');

# and one that is not a 200 (released at its header)

$o->reset;
$o->set(status => 500, announce => 1000);
$r = keepalive('/aims/a', $CMD);
ok($r->{closed}, 'a 500 cut short: the connection is closed');
ok($r->{status} != 500 || length($r->{body}) < ($r->{length} // 0),
   'a 500 cut short: not framed as whole');

$o->reset;

# the same with proxy_buffering off

$o->reset;
$o->set(announce => 1000);
$r = keepalive('/unbuffered/a', $CMD);
ok($r->{status} == 502 || ($r->{closed} && $r->{status} == 0),
   'unbuffered, held answer cut short: not a 200') or diag $r->{head};

$o->reset;
$o->set(raw => $LARGE, announce => length($LARGE) + 1000);
$r = keepalive('/unbuffered/a', $CMD);
ok($r->{closed}, 'unbuffered, streamed answer cut short: closed');
ok(length($r->{body}) < $r->{length},
   'unbuffered, streamed answer cut short: fewer bytes than announced');

# a cut answer that has no length (chunked) never gets its last chunk

$o->reset;
$o->set(raw => $LARGE, cut_chunked => 1);
$r = keepalive('/aims/a', $CMD);
is($r->{status}, 200, 'chunked answer cut short: its status went out');
ok($r->{closed}, 'chunked answer cut short: the connection is closed');
unlike($r->{body}, qr/\r\n0\r\n\r\n\z/,
       'chunked answer cut short: no last chunk');

# a small one, held: 502

$o->reset;
$o->set(cut_chunked => 1);
$r = keepalive('/aims/a', $CMD);
ok($r->{status} == 502 || ($r->{closed} && $r->{status} == 0),
   'small chunked answer cut short: not a 200') or diag $r->{head};

like($n->error_log, qr/the partner's answer was cut short; answering 502/,
     'the held case is logged');
like($n->error_log,
     qr/the partner's answer was cut short; closing the client connection/,
     'the streamed case is logged');

done_testing();
