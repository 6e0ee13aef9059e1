#!/usr/bin/perl

# A refused token renewed by the worker that saw the refusal, whose login
# fails: the next try comes after login_backoff, whichever worker of the
# node that is (each credential's timer is armed in one worker only).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use EdgeAuthTest;
use MockPartner;

my $m = MockPartner->start(kind => 'oauth', client_id => 'oauth-client',
                           client_secret => 'oauth-secret',
                           token_lifetime => 3600);
my $url = $m->url;
my $port = free_port();

my $n = nginx_new(workers => 2, http => <<"CONF");
    credential oauth {
        login        $url/oauth/token;
        login_param  grant_type client_credentials;
        login_basic  oauth-client oauth-secret;
        login_backoff 1s 1s;
        token_refused_interval 1s;
        token_header Authorization "Bearer {token}";
    }

    server {
        listen 127.0.0.1:$port reuseport;
        keepalive_requests 1000;

        location = /pid { return 200 "\$pid"; }
        location /deny/401 { return 401 "refused\\n"; }

        location /refused/ {
            credential_inject oauth;
            proxy_pass http://127.0.0.1:\$server_port/deny/401;
        }
    }
CONF

$n->start($port);

# a keep-alive connection: its requests go to one worker
sub ask {
    my ($s, $uri) = @_;
    print $s "GET $uri HTTP/1.1\r\nHost: x\r\n\r\n";
    my ($head, $line) = ('');
    while (defined($line = <$s>)) {
        last if $line eq "\r\n";
        $head .= $line;
    }
    my ($len) = $head =~ /Content-Length:\s*(\d+)/i;
    my $body = '';
    read($s, $body, $len) if $len;
    my ($status) = $head =~ m{^HTTP/1\.1 (\d+)};
    return ($status // 0, $body);
}

ok($m->wait_logins(1, 10), 'the first login');

# a connection to each worker (reuseport spreads them)
my %conn;
for (1 .. 200) {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5) or next;
    my (undef, $pid) = ask($s, '/pid');
    $conn{$pid} //= $s;
    last if keys %conn == 2;
}
is(scalar keys %conn, 2, 'a connection to each worker');

for my $pid (sort keys %conn) {
    my $s = $conn{$pid};
    my $before = $m->logins;

    # the next login fails: the one after it, a backoff later, works
    $m->set(status => 500, fail_count => 1);

    my ($status) = ask($s, '/refused/x');
    is($status, 401, "worker $pid: the token refused");

    my $t = time;
    ok($m->wait_logins($before + 2, 6),
       "worker $pid: a login again after the failed one")
        or diag('logins: ' . ($m->logins - $before));
    sleep 1.2;    # token_refused_interval, before the next worker's turn
}

$n->stop;
$m->stop;

done_testing();
