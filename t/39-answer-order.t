#!/usr/bin/perl

# A partner's answer through an answer_code location comes back headers
# first: the status line, the headers, then exactly the partner's body,
# whether the answer is held until its code is known, passed on as it
# comes (not a 200, larger than answer_max_size), or a body that is itself
# shaped like an HTTP response.  Read from a plain socket, byte for byte.
#
# The filters that hold the answer must be ordered among nginx's own
# filters.  Built statically (make test-static), a filter registered by an
# HTTP module's postconfiguration sits below nginx's header and write
# filters and is never called: the answer went out body first, then the
# headers, and a body shaped like HTTP became a response of its own.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use EdgeAuthTest;

my $port = free_port();
my $partner = free_port();

my $JSON = '{"result":{"code":75},"data":"ok"}';
my $HTTP = "HTTP/1.1 200 OK\r\nX-Smuggled: yes\r\nContent-Length: 5\r\n"
         . "\r\nhello";
my $LARGE = '{"result":{"code":75},"data":"' . ('x' x 4000) . '"}';
my $ERROR = '{"error":"partner failed"}';

my %answers = (
    '/held/'   => [ '200 OK', 'application/json', $JSON ],
    '/http/'   => [ '200 OK', 'text/plain', $HTTP ],
    '/large/'  => [ '200 OK', 'application/json', $LARGE ],
    '/error/'  => [ '500 Internal Server Error', 'application/json', $ERROR ],
);

echo_server($partner, sub {
    my ($head) = @_;
    my ($path) = $head =~ m{^\S+ (/\w+/)};
    my ($status, $type, $body) = @{ $answers{$path // ''}
                                    || [ '404 Not Found', 'text/plain', '' ] };
    return "HTTP/1.1 $status\r\nContent-Type: $type\r\n"
        . "Content-Length: " . length($body) . "\r\n"
        . "Connection: close\r\n\r\n$body";
});

my $n = nginx_new(http => <<"CONF");
    credential partner {
        body_json user.id 42;
        answer_code result.code;
        answer_retry 35 100ms;
        answer_max_size 1k;
    }

    server {
        listen 127.0.0.1:$port;

        location / {
            credential_inject partner;
            proxy_pass http://127.0.0.1:$partner;
        }
    }
CONF

my ($ok, $out) = $n->start;
ok($ok, 'nginx starts') or diag $out;

# one request, the connection read to its end: head and body as sent

sub raw {
    my ($path, $keepalive) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10)
        or die "connect $port: $!";

    my $req = '{"user":{"name":"a"}}';
    print $s "POST $path HTTP/1.1\r\nHost: localhost\r\n"
        . "Content-Type: application/json\r\n"
        . "Content-Length: " . length($req) . "\r\n"
        . "Connection: close\r\n\r\n$req";

    local $/;
    my $raw = <$s> // '';
    close $s;

    return $raw;
}

for my $path (sort keys %answers) {
    my ($status, $type, $body) = @{ $answers{$path} };
    my $raw = raw($path);

    like($raw, qr{\AHTTP/1\.1 \Q$status\E\r\n}, "$path: the status line first")
        or diag substr($raw, 0, 200);

    my ($head, $rest) = split /\r\n\r\n/, $raw, 2;
    $head //= '';
    $rest //= '';

    like($head, qr{^Server: nginx}mi, "$path: nginx's headers next");
    like($head, qr{^Content-Type: \Q$type\E\r?$}mi,
         "$path: the partner's Content-Type among them");
    unlike($head, qr{X-Smuggled}i, "$path: no header from the body");

    my ($length) = $head =~ /^Content-Length: (\d+)\r?$/mi;
    is($length, length($body), "$path: the partner's length")
        or diag $head;

    ok($rest eq $body, "$path: then exactly the partner's body, "
                       . "nothing after it")
        or diag 'body: ' . substr($rest, 0, 300);
}

$n->stop;

done_testing();
