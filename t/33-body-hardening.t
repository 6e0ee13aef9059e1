#!/usr/bin/perl

# body_json hardening (issue 12, items 4 and 5).  Client keys a partner
# could read as the credential's are dropped: a partner that matches keys
# case-insensitively, last one winning (Go's encoding/json), or that drops
# NUL and invisible characters, would otherwise take the client's
# "USERINFO" or "userInfo\u0000" for the credential.  And body_json_max_size
# caps the bodies a credential is written into (default 1m, whatever
# client_max_body_size says), with Content-Length or chunked, in memory or
# in the temporary file, which is no longer copied.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EdgeAuthTest;

my $ID  = '9b2f7c3e-1d4a-4e8b-a1c2-3d4e5f607182';
my $AID = 'c0ffee00-1234-4abc-9def-0123456789ab';
my $KEY = 'T2N0YW1pbGUgc2VjcmV0IGtleQ==';

my $port = free_port();
my $port2 = free_port();
my $echo = free_port();
echo_server($echo);

# the first server has nothing main lacks: item 4 fails there one by one

my $n = nginx_new(http => <<"CONF");
    credential plain {
        body_json userInfo.id $ID uuid;
        body_json userInfo.athrzt.id $AID uuid;
        body_json userInfo.athrzt.key $KEY;
        body_json kelvin.k 1;
    }

    server {
        listen 127.0.0.1:$port;
        client_body_buffer_size 1k;
        client_max_body_size 300m;

        location /echo/ {
            credential_inject plain;
            proxy_pass http://127.0.0.1:$echo;
        }
    }
CONF

$n->start($port);

my $n2 = nginx_new(http => <<"CONF");
    credential capped {
        body_json userInfo.id $ID uuid;
        body_json_max_size 2k;
    }

    server {
        listen 127.0.0.1:$port2;
        client_body_buffer_size 1k;
        client_max_body_size 300m;

        location /capped/ {
            credential_inject capped;
            proxy_pass http://127.0.0.1:$echo;
        }

        location /memory/ {
            client_body_buffer_size 8k;
            credential_inject capped;
            proxy_pass http://127.0.0.1:$echo;
        }
    }
CONF

my $USERINFO = qq("userInfo":{"id":"$ID","athrzt":{"id":"$AID","key":"$KEY"}})
    . ',"kelvin":{"k":"1"}';

sub post {
    my ($p, $uri, $body, %o) = @_;
    my $req = "POST $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        . "Content-Type: application/json\r\n";

    if ($o{chunked}) {
        $req .= "Transfer-Encoding: chunked\r\n\r\n";
        my $b = $body;
        while (length $b) {
            my $part = substr($b, 0, 700, '');
            $req .= sprintf("%x\r\n%s\r\n", length $part, $part);
        }
        $req .= "0\r\n\r\n";
    } else {
        $req .= "Content-Length: " . length($body) . "\r\n\r\n$body";
    }

    # http_request turns LF into CRLF: none in these bodies
    return http_request($p, $req);
}

sub echoed {
    my ($r) = @_;
    my ($head, $body) = split /\r\n\r\n/, $r->{body}, 2;
    my ($len) = header_values($head // '', 'Content-Length');
    return ($body // '', $len);
}

# item 4: look-alike keys at the top level are dropped, escaped or raw

my @alike = (
    ['NUL escaped',           '"userInfo\u0000"'],
    ['NUL first',             '"\u0000userInfo"'],
    ['upper case',            '"USERINFO"'],
    ['mixed case',            '"UsErInFo"'],
    ['escaped upper',         '"\u0055SERINFO"'],
    ['C0 control escaped',    '"user\u0001Info"'],
    ['tab escaped',           '"user\tInfo"'],
    ['DEL escaped',           '"userInfo\u007f"'],
    ['C1 control raw',        qq("userInfo\xc2\x85")],
    ['zero width space raw',  qq("user\xe2\x80\x8bInfo")],
    ['zero width escaped',    '"user\u200bInfo"'],
    ['ZWJ escaped',           '"user\u200DInfo"'],
    ['RLM raw',               qq("userInfo\xe2\x80\x8f")],
    ['word joiner escaped',   '"\u2060userInfo"'],
    ['BOM raw',               qq("\xef\xbb\xbfuserInfo")],
    ['BOM escaped',           '"userInfo\uFEFF"'],
    ['soft hyphen raw',       qq("user\xc2\xadInfo")],
    ['soft hyphen escaped',   '"user\u00adinfo"'],
    ['long s raw',            qq("u\xc5\xbferInfo")],
    ['long s escaped',        '"u\u017FERINFO"'],
    ['Kelvin sign raw',       qq("\xe2\x84\xaaelvin")],
    ['Kelvin sign escaped',   '"\u212aELVIN"'],
    ['several at once',       '"\u00adU\u200bſ\u0000ERINFO\ufeff"'],
);

for my $t (@alike) {
    my ($name, $key) = @$t;
    my $r = post($port, '/echo/a', qq({"a":1,$key:{"id":"client"},"b":2}));
    my ($body, $len) = echoed($r);
    is($body, '{' . $USERINFO . ',"a":1,"b":2}', "$name: dropped");
    is($len, length $body, "$name: length");
}

# the issue's body

my $r = post($port, '/echo/a', '{"userInfo\u0000":{"id":"x"},"USERINFO":'
    . '{"id":"y","athrzt":{"id":"z","key":"k"}},"cmmnd":{}}');
my ($body) = echoed($r);
is($body, '{' . $USERINFO . ',"cmmnd":{}}', 'the issue\'s body');

# not look-alikes: other names, other letters, deeper keys

$r = post($port, '/echo/a', '{"userInfos":1,"user_info":2,"us\u00e9rInfo":3,'
    . qq("us\xc3\xa9rInfo":4,"a":{"USERINFO":5,"userInfo":6},"kelvins":7,)
    . '"\u212a":8,"k":9}');
($body) = echoed($r);
is($body, '{' . $USERINFO . ',"userInfos":1,"user_info":2,"us\u00e9rInfo":3,'
    . qq("us\xc3\xa9rInfo":4,"a":{"USERINFO":5,"userInfo":6},"kelvins":7,)
    . '"\u212a":8,"k":9}', 'other keys and deeper ones stay');

# a body in the temporary file (over client_body_buffer_size 1k), with
# Content-Length and chunked

my $pad = 'p' x 5000;
for my $chunked (0, 1) {
    my $how = $chunked ? 'chunked' : 'Content-Length';
    $r = post($port, '/echo/a', qq({"x":"$pad","USERINFO":1,"y":[1,2],)
        . qq("userInfo":2, "z" : "$pad" }), chunked => $chunked);
    my ($b, $len) = echoed($r);
    is($b, "{" . $USERINFO . qq(,"x":"$pad","y":[1,2],"z" : "$pad"}),
       "in the file, $how: spliced");
    is($len, length $b, "in the file, $how: length");
}

# more dropped keys between kept members than ranges referred to

my $many = join(',', map { qq("k$_":$_,"USERINFO":$_) } 1 .. 200);
$r = post($port, '/echo/a', "{$many}");
($body) = echoed($r);
is($body, '{' . $USERINFO . ',' . join(',', map { qq("k$_":$_) } 1 .. 200)
    . '}', '200 members, each after a dropped key: all kept, in order');

# item 5: body_json_max_size; 1m by default, whatever client_max_body_size

$n2->start($port2);

for my $chunked (0, 1) {
    my $how = $chunked ? 'chunked' : 'Content-Length';

    $r = post($port, '/echo/a', '{"pad":"' . ('d' x (1024 * 1024)) . '"}',
              chunked => $chunked);
    is($r->{status}, 413, "default cap 1m, $how: 413 over it");
    like($r->{body}, qr/"errorCode":"body-too-large"/,
         "default cap, $how: JSON error");

    $r = post($port, '/echo/a', '{"pad":"' . ('d' x (1000 * 1000)) . '"}',
              chunked => $chunked);
    is($r->{status}, 200, "default cap, $how: under it, 200");

    $r = post($port2, '/capped/a', '{"pad":"' . ('c' x 2100) . '"}',
              chunked => $chunked);
    is($r->{status}, 413, "body_json_max_size 2k, $how: 413 over it");
    like($r->{body}, qr/"errorCode":"body-too-large"/,
         "body_json_max_size 2k, $how: JSON error");

    $r = post($port2, '/capped/a', '{"pad":"' . ('c' x 2030) . '"}',
              chunked => $chunked);
    is($r->{status}, 200, "body_json_max_size 2k, $how: 2040 bytes, 200");
    ($body) = echoed($r);
    is($body, qq({"userInfo":{"id":"$ID"},"pad":") . ('c' x 2030) . '"}',
       "body_json_max_size 2k, $how: spliced");

    $r = post($port2, '/memory/a', '{"pad":"' . ('m' x 2030) . '"}',
              chunked => $chunked);
    ($body) = echoed($r);
    is($body, qq({"userInfo":{"id":"$ID"},"pad":") . ('m' x 2030) . '"}',
       "in memory, $how: spliced");
}

# the connection stays usable after a 413 on an announced length: the
# body was read and dropped, not taken for the next request

{
    my $big = '{"pad":"' . ('c' x 3000) . '"}';
    my $small = '{"a":1}';
    my $raw = "POST /capped/a HTTP/1.1\r\nHost: localhost\r\n"
        . "Content-Length: " . length($big) . "\r\n\r\n$big"
        . "POST /capped/b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        . "Content-Length: " . length($small) . "\r\n\r\n$small";
    my $res = http_request($port2, $raw);
    my @status = $res->{raw} =~ m{^HTTP/1\.1 (\d+)}mg;
    is("@status", '413 200', 'after a 413, the next request on the '
       . 'connection is served');
}

unlike($n->error_log . $n2->error_log, qr/\[(alert|emerg|crit)\]/,
       'no alert in the error logs');

done_testing();
