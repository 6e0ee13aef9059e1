#!/usr/bin/perl

# The login lock in shared memory has an owner: a worker killed in the
# middle of a login does not keep the others from logging in.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use EdgeAuthTest;
use MockPartner;

my $m = MockPartner->start(kind => 'oauth', hang_max => 60);

# the first login hangs: the worker that sent it holds the lock
$m->set(hang => 1, fail_count => 1);

my $port = free_port();
my $url = $m->url;

my $n = nginx_new(workers => 2, log_level => 'debug', http => <<"CONF");
    credential oauth {
        login         $url/oauth/token;
        login_param   grant_type client_credentials;
        login_basic   oauth-client oauth-secret;
        login_timeout 30s;
        token_header  Authorization "Bearer {token}";
    }

    server {
        listen 127.0.0.1:$port;

        location / {
            credential_inject oauth;
            proxy_pass $url;
        }
    }
CONF

$n->start($port);

ok($m->wait_logins(1, 10), 'the first login is in flight and hangs');
sleep 0.5;

my ($owner) = $n->error_log =~ /\[debug\] (\d+)#\d+: credential "oauth": login to/;
ok($owner, "the login was sent by worker $owner");

kill 'KILL', $owner;

ok($m->wait_for(sub { $m->count('login:200') >= 1 }, 15),
   'another worker logged in without waiting out the 30 s timeout');
is($m->logins, 2, 'exactly one more login');
like($n->error_log, qr/\[warn\].*credential "oauth": took over the login lock of process $owner/,
     'the takeover is logged');

my $r = http_request($port, "GET /x HTTP/1.1\nHost: a\nConnection: close\n\n");
is($r->{status}, 200, 'requests pass with the new token');

$n->stop;

done_testing;
