#!/usr/bin/perl

# A request waiting for a token gets its 503 as soon as no login can help
# in time: here the login it waits for fails after a second and the next
# one is due only after login_wait.  It does not sit out login_wait.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EdgeAuthTest;
use MockPartner;

my $m = MockPartner->start(kind => 'oauth');
$m->set(status => 500, delay_ms => 1000);

my $port = free_port();
my $url = $m->url;

my $n = nginx_new(http => <<"CONF");
    credential oauth {
        login         $url/oauth/token;
        login_param   grant_type client_credentials;
        login_basic   oauth-client oauth-secret;
        login_wait    20s;
        login_backoff 60s 120s;
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

# the first login is in flight (1 s): the request waits for it

my $r = http_request($port, "GET /api/x HTTP/1.1\nHost: x\n"
                            . "Connection: close\n\n");
is($r->{status}, 503, 'the login failed: 503');
like($r->{body}, qr/"errorCode"\s*:\s*"credential-unavailable"/,
     'credential-unavailable');

my ($waited) = $n->error_log =~ /no valid token after waiting (\d+)ms/;
ok(defined $waited, 'the 503 is logged with the time waited');
ok(defined $waited && $waited < 20000,
   'once the login failed, not after the whole login_wait (20 s)')
    or diag "waited ${\ ($waited // '?') }ms";
like($n->error_log, qr/\[error\].*login to \S+ failed \(failure 1 in a row\)/,
     'the failed login is logged');
is($m->logins, 1, 'one login, no retry within the backoff');

$n->stop;

done_testing();
