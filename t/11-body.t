#!/usr/bin/perl

# Octamile (seed 000): userInfo is written into the JSON request body.  The
# upstream gets exactly the configured userInfo first and the rest of the
# client's body byte for byte; what the client sent as userInfo is gone;
# bodies that are not a JSON object never leave nginx.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use EdgeAuthTest;
use MockOctamile;

my $ID  = 'ac346b72-e8fe-4677-b9e2-dc6a763fba82';
my $AID = '0F8FAD5BD9CB469FA16570867728950E';
my $KEY = 'b2N0YW1pbGUta2V5LTAxMjM0NTY3ODk+/w==';

my $port = free_port();
my $echo = free_port();
my $down = free_port();
echo_server($echo);

my $o = MockOctamile->start(id => $ID, auth_id => $AID, key => $KEY);
my $mock = $o->port;

my $n = nginx_new(env => { OCTAMILE_PARTNER_ID => $ID },
                  log_level => 'debug', http => <<"CONF");
    credential octamile {
        body_json userInfo.id env:OCTAMILE_PARTNER_ID uuid;
        body_json userInfo.athrzt.id file:%%DIR%%/auth.id uuid;
        body_json userInfo.athrzt.key file:%%DIR%%/auth.key;
    }

    credential other {
        body_json otherInfo.id other-value;
    }

    server {
        listen 127.0.0.1:$port;
        client_body_buffer_size 1k;
        client_max_body_size 200k;

        location /failing/ {
            credential_inject octamile;
            proxy_pass http://127.0.0.1:$down;
            error_page 502 = \@fallback;
        }

        location \@fallback {
            proxy_pass http://127.0.0.1:$echo;
        }

        location /tried/ {
            credential_inject octamile;
            try_files /nothing-here \@other;
        }

        location \@other {
            credential_inject other;
            proxy_pass http://127.0.0.1:$echo;
        }

        location /other-mirrored/ {
            credential_inject other;
            mirror /plain-mirror;
            proxy_pass http://127.0.0.1:$echo;
        }

        location = /plain-mirror {
            internal;
            proxy_pass http://127.0.0.1:$mock/plain;
        }

        location /echo/ {
            credential_inject octamile;
            proxy_pass http://127.0.0.1:$echo;
        }

        location /aims/ {
            credential_inject octamile;
            proxy_pass http://127.0.0.1:$mock;
        }

        location /small/ {
            client_max_body_size 100;
            credential_inject octamile;
            proxy_pass http://127.0.0.1:$mock;
        }

        location /plain/ {
            proxy_pass http://127.0.0.1:$echo;
        }

        location /unlimited/ {
            client_max_body_size 0;
            credential_inject octamile;
            proxy_pass http://127.0.0.1:$mock;
        }

        location /mirrored/ {
            mirror /to-octamile;
            proxy_pass http://127.0.0.1:$echo;
        }

        location = /to-octamile {
            internal;
            credential_inject octamile;
            proxy_pass http://127.0.0.1:$mock/mirror;
        }

        location /unbuffered/ {
            proxy_request_buffering off;
            credential_inject octamile;
            proxy_pass http://127.0.0.1:$echo;
        }

        location = /status {
            credential_status;
        }
    }
CONF

$n->write_file('auth.id', "$AID\n");
$n->write_file('auth.key', $KEY);
$n->start($port);

my $USERINFO = qq("userInfo":{"id":"$ID","athrzt":{"id":"$AID","key":"$KEY"}});

sub post {
    my ($uri, $body, @headers) = @_;
    my $req = "POST $uri HTTP/1.1\nHost: localhost\nConnection: close\n"
        . "Content-Type: application/json\n"
        . join('', map { "$_\n" } @headers);
    $req .= defined $body ? "Content-Length: " . length($body) . "\n\n$body"
                          : "\n";
    return http_request($port, $req);
}

# the body the echo upstream received, and its Content-Length

sub echoed {
    my ($r) = @_;
    my ($head, $body) = split /\r\n\r\n/, $r->{body}, 2;
    my ($len) = header_values($head, 'Content-Length');
    return ($head, $body // '', $len);
}

my ($r, $head, $body, $len);

# byte for byte: ours first, then the client's members as sent

my $sent = '{"cmmnd":{"cmmnd":"dump ipck_vhcl-tprt-1111*PRMM",'
    . '"seed":{"insrncDrtn":"1y"}},"premium":0.1,'
    . '"big":123456789012345678901234567890,"t":"\u00e9\n/"}';
$r = post('/echo/a', $sent);
($head, $body, $len) = echoed($r);
is($r->{status}, 200, 'injected: proxied');
is($body, '{' . $USERINFO . ',' . substr($sent, 1),
   'injected: userInfo first, the rest byte for byte');
is($len, length $body, 'injected: Content-Length is the new length');
is(count_header($head, 'Content-Length'), 1, 'one Content-Length');

# what the client sent as userInfo is replaced, never merged

$r = post('/echo/a', '{"a":1,"userInfo":{"id":"evil","athrzt":{"id":"x",'
    . '"key":"y","extra":1},"more":2},"b":[1,{"userInfo":2}],'
    . '"userInfo":"again","user\u0049nfo":{"id":"escaped"}}');
($head, $body) = echoed($r);
is($body, '{' . $USERINFO . ',"a":1,"b":[1,{"userInfo":2}]}',
   'client userInfo dropped wherever and however written at the top');

# white space inside members is the client's, and between two members kept
# (the new body refers to the client's, range by range); around the
# object and after a member dropped, none

$r = post('/echo/a', qq( \n{ "a" : [1, 2] ,\n "b":"x y" , "c":{ } } \n));
($head, $body, $len) = echoed($r);
is($body, '{' . $USERINFO . qq(,"a" : [1, 2] ,\r\n "b":"x y" , "c":{ }}),
   'members kept as written (the request line ends are CRLF)');
is($len, length $body, 'Content-Length after white space');

$r = post('/echo/a', qq({ "a" : 1 , "userInfo" : 2 , "b" : 3 }));
($head, $body) = echoed($r);
is($body, '{' . $USERINFO . ',"a" : 1,"b" : 3}',
   'after a member dropped, a comma');

$r = post('/echo/a', '{}');
($head, $body) = echoed($r);
is($body, "{$USERINFO}", 'empty object: userInfo alone');

# the mock checks the three values

$o->reset;
$r = post('/aims/x', '{"cmmnd":{"cmmnd":"dump"}}');
is($r->{status}, 200, 'mock: 200');
like($r->{body}, qr/"id":75/, 'mock: the injected userInfo is accepted (75)');
like($r->{body}, qr/"seen":\["cmmnd"\]/, 'mock: the rest arrived');
is($o->requests, 1, 'mock: one request');

# bodies that are not a JSON object: 400, JSON error, not forwarded

$o->reset;

for my $bad (['not json', 'not JSON'], ['[1,2]', 'an array'],
             ['"string"', 'a string'], ['42', 'a number'],
             ['{"a":1} x', 'trailing bytes'], ['{"a":1', 'cut short'],
             ['', 'empty'], [' ', 'blank'], ['null', 'null'])
{
    my ($text, $what) = @$bad;
    $r = post('/aims/x', $text);
    is($r->{status}, 400, "$what: 400");
    like($r->{body}, qr/"errorCode":"invalid-json-body"/,
         "$what: JSON error");
    is($r->{headers}{'content-type'}[0], 'application/json',
       "$what: application/json");
}

$r = post('/aims/x', undef);
is($r->{status}, 400, 'no body at all: 400');
like($r->{body}, qr/it is empty/, 'no body at all: says so');
is($o->requests, 0, 'no invalid body reached the partner');

# chunked request bodies arrive with a Content-Length

my $part = '{"cmmnd":{"cmmnd":"dump"},' . '"pad":"' . ('x' x 3000) . '"}';
my $chunked = '';
for (my $i = 0; $i < length $part; $i += 700) {
    my $c = substr($part, $i, 700);
    $chunked .= sprintf("%x\r\n%s\r\n", length $c, $c);
}
$chunked .= "0\r\n\r\n";

$r = http_request($port, "POST /echo/c HTTP/1.1\r\nHost: localhost\r\n"
    . "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n$chunked");
($head, $body, $len) = echoed($r);
ok($body eq '{' . $USERINFO . ',' . substr($part, 1),
   'chunked: body injected');
is($len, length $body, 'chunked: Content-Length sent');
is(count_header($head, 'Transfer-Encoding'), 0, 'chunked: no longer chunked');

# a small chunked body is read into memory, and nginx ends it with an
# empty buffer that is in no file: it used to crash the worker

$r = http_request($port, "POST /echo/s HTTP/1.1\r\nHost: localhost\r\n"
    . "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    . "7\r\n{\"a\":1}\r\n0\r\n\r\n");
($head, $body, $len) = echoed($r);
is($r->{status}, 200, 'small chunked: proxied');
is($body, '{' . $USERINFO . ',"a":1}', 'small chunked: injected');
is($len, length $body, 'small chunked: Content-Length sent');

# as curl -T - sends it: chunked, after 100-continue

{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10) or die;
    print $s "POST /echo/s HTTP/1.1\r\nHost: localhost\r\n"
        . "Connection: close\r\nExpect: 100-continue\r\n"
        . "Transfer-Encoding: chunked\r\n\r\n";
    my $line = <$s>;
    like($line // '', qr{^HTTP/1.1 100 Continue}, 'chunked 100-continue: '
         . 'invited');
    <$s>;
    print $s "3\r\n{\"c\r\n4\r\n\":2}\r\n0\r\n\r\n";
    local $/;
    my $rest = <$s> // '';
    like($rest, qr/\Q{$USERINFO,"c":2}\E$/, 'chunked 100-continue: injected');
}

unlike($n->error_log, qr/exited on signal/, 'small chunked: no worker died');

# large bodies: in client_body_temp_path (buffer 1k), 64 KB

my $large = '{"cmmnd":{"cmmnd":"dump"},"rows":['
    . join(',', map { qq({"n":$_,"v":"@{[ 'y' x 50 ]}"}) } 1 .. 1000) . ']}';
ok(length $large > 60000, 'large body is ' . length($large) . ' bytes');

$r = post('/echo/l', $large);
($head, $body, $len) = echoed($r);
ok($body eq '{' . $USERINFO . ',' . substr($large, 1),
   'large: injected, from file');
like($n->error_log, qr/request body is buffered to a temporary file/,
     'large: the body really was in a file');
is($len, length $body, 'large: Content-Length');

$o->reset;
$r = post('/aims/l', $large);
like($r->{body}, qr/"id":75/, 'large: the partner accepts it');

# above client_max_body_size: nginx's 413, nothing forwarded

$o->reset;
$r = post('/small/x', '{"pad":"' . ('z' x 200) . '"}');
is($r->{status}, 413, 'over client_max_body_size: 413');
is($o->requests, 0, 'over client_max_body_size: not forwarded');

$r = post('/small/x', '{"a":1}');
is($r->{status}, 200, 'under client_max_body_size: forwarded');

# client_max_body_size 0: the module still stops at 1 MiB, with JSON

$o->reset;
$r = post('/unlimited/x', '{"pad":"' . ('u' x (1024 * 1024)) . '"}');
is($r->{status}, 413, 'unlimited, over 1 MiB: 413');
like($r->{body}, qr/"errorCode":"body-too-large"/, 'unlimited: JSON error');
is($o->requests, 0, 'unlimited, over 1 MiB: not forwarded');

$r = post('/unlimited/x', '{"pad":"' . ('u' x (1000 * 1024)) . '"}');
like($r->{body}, qr/"id":75/, 'unlimited, under 1 MiB: forwarded');

# proxy_request_buffering off: the body is read whole anyway, and injected

$r = post('/unbuffered/x', $large);
($head, $body, $len) = echoed($r);
ok($body eq '{' . $USERINFO . ',' . substr($large, 1),
   'proxy_request_buffering off: injected');
is($len, length $body, 'proxy_request_buffering off: Content-Length');

# Expect: 100-continue is answered, then the body is read and injected

{
    my $b = '{"e":100}';
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10) or die;
    print $s "POST /echo/e HTTP/1.1\r\nHost: localhost\r\n"
        . "Connection: close\r\nExpect: 100-continue\r\n"
        . "Content-Length: " . length($b) . "\r\n\r\n";
    my $line = <$s>;
    like($line // '', qr{^HTTP/1.1 100 Continue}, '100-continue: invited');
    <$s>;
    print $s $b;
    local $/;
    my $rest = <$s> // '';
    like($rest, qr/\Q{$USERINFO,"e":100}\E$/, '100-continue: injected');
}

# HTTP/1.0, no keep-alive

$r = http_request($port, "POST /echo/h HTTP/1.0\nContent-Length: 7\n\n"
    . '{"v":0}');
($head, $body) = echoed($r);
is($body, '{' . $USERINFO . ',"v":0}', 'HTTP/1.0: injected');

# a subrequest (mirror) gets its own injected body; the main request's
# upstream gets the client's body untouched

# what the main request's upstream (echo) and the mirror's (mock) got

sub mirrored {
    my ($uri, $sent) = @_;
    $o->reset;
    my (undef, $main) = echoed(post($uri, $sent));
    for (1 .. 100) { last if $o->requests; select(undef, undef, undef, 0.05) }
    return ($main, $o->requests, $o->last_body);
}

my ($main, $mirrors, $mirror) = mirrored('/mirrored/x',
                                         '{"userInfo":{"id":"mine"},"m":1}');
is($main, '{"userInfo":{"id":"mine"},"m":1}',
   'mirror: the main request\'s body is untouched');
is($mirrors, 1, 'mirror: the mirror subrequest reached the partner');
is($mirror, '{' . $USERINFO . ',"m":1}',
   'mirror: the subrequest\'s body is injected');

# an internal redirect takes the client's body along, not the injected
# one: the next location's upstream gets no earlier location's secrets

$r = post('/failing/x', '{"userInfo":{"id":"mine"},"f":1}');
($head, $body, $len) = echoed($r);
is($r->{status}, 200, 'error_page to a fallback: answered');
is($body, '{"userInfo":{"id":"mine"},"f":1}',
   'error_page to a fallback: the client\'s body, no secrets');
is($len, length $body, 'error_page to a fallback: its Content-Length');

$r = post('/tried/x', '{"t":1}');
($head, $body, $len) = echoed($r);
is($body, '{"otherInfo":{"id":"other-value"},"t":1}',
   'try_files to another credential: only its members');
is($len, length $body, 'try_files to another credential: Content-Length');

# so does a subrequest: a mirror without the credential

($main, $mirrors, $mirror) = mirrored('/other-mirrored/x', '{"m":2}');
is($main, '{"otherInfo":{"id":"other-value"},"m":2}',
   'mirror elsewhere: the main request injected');
is($mirror, '{"m":2}', 'mirror elsewhere: the client\'s body there');

# no credential: the body passes untouched

$r = post('/plain/x', '{"userInfo":{"id":"mine"}}');
($head, $body) = echoed($r);
is($body, '{"userInfo":{"id":"mine"}}', 'no credential: body untouched');

# keep-alive: a second request on the same connection is injected too

{
    my $b1 = '{"n":1}';
    my $b2 = '{"n":2}';
    my $req = "POST /echo/k HTTP/1.1\nHost: localhost\n"
        . "Content-Length: " . length($b1) . "\n\n$b1"
        . "POST /echo/k HTTP/1.1\nHost: localhost\nConnection: close\n"
        . "Content-Length: " . length($b2) . "\n\n$b2";
    $r = http_request($port, $req);
    is(scalar(() = $r->{raw} =~ /"userInfo":\{"id":"\Q$ID\E"/g), 2,
       'pipelined: both requests injected');
    like($r->{raw}, qr/"n":2\}/, 'pipelined: second body intact');
}

# the body in two buffers: the part read with the request header (1k) and
# the rest; checked and spliced where they are, so the client's userInfo
# cut in two by the boundary is still found and dropped, and a member kept
# across it arrives whole

{
    my $head = "POST /echo/s HTTP/1.1\r\nHost: localhost\r\n"
        . "Connection: close\r\nContent-Type: application/json\r\n"
        . "Content-Length: 1100\r\n\r\n";
    my $cut = 1024 - length $head;      # where the body's second part starts
    my @bad;

    for my $pad ($cut - 70 .. $cut - 8) {
        my $keep = '"keep":"' . ('y' x 30) . '"';
        my $sent = '{"pad":"' . ('x' x $pad) . '","userInfo":{"id":"evil"},'
            . $keep . ',"z":' . ('9' x 20) . '}';
        $sent .= ' ' x (1100 - length $sent);
        my $req = $head . $sent;
        $r = http_request($port, $req);
        (my $head2, $body) = echoed($r);
        push @bad, $pad
            unless $body eq '{' . $USERINFO . ',"pad":"' . ('x' x $pad)
                             . '",' . $keep . ',"z":' . ('9' x 20) . '}';
    }

    is("@bad", '', 'a body in two buffers: every member across the boundary');
}

# a body that comes after the request header is read in an event of its
# own, and the phases run again: the request is injected, and counted, once

{
    my $before = injections($port, 'octamile');

    my $b = '{"late":1}';
    my $rest = post_json($port, '/echo/late', $b, 1);
    like($rest, qr/\Q{$USERINFO,"late":1}\E$/,
         'body after the header: injected');
    is(injections($port, 'octamile') - $before, 1,
       'body after the header: counted once');

    $before = injections($port, 'octamile');
    post('/echo/early', '{"early":1}');
    is(injections($port, 'octamile') - $before, 1,
       'body with the header: counted once');
}

# a body read in many parts is a buffer per read: more than the checker's
# parts on the stack (8)

{
    my @pieces = ('{"a":1', map({ qq(,"k$_":$_) } 1 .. 11), '}');
    my $b = join '', @pieces;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10) or die;
    $s->autoflush(1);
    print $s "POST /echo/many HTTP/1.1\r\nHost: localhost\r\n"
        . "Connection: close\r\nContent-Length: " . length($b) . "\r\n\r\n";
    for (@pieces) {
        select(undef, undef, undef, 0.05);
        print $s $_;
    }
    local $/;
    my $rest = <$s> // '';
    my ($head2, $body2) = split /\r\n\r\n/, $rest, 2;
    ($head, $body, $len) = echoed({ body => $body2 // '' });
    is($body, '{' . $USERINFO . ',' . substr($b, 1),
       'a body in 13 reads: injected');
    is($len, length $body, 'a body in 13 reads: Content-Length');
}

# no value in any log line, debug included

my $log = $n->error_log;
ok(length $log > 1000, 'the debug log was written');
unlike($log, qr/\Q$KEY\E/, 'the key is not in the debug log');
unlike($log, qr/\Q$AID\E/i, 'the authorization id is not in the debug log');

done_testing();
