#!/usr/bin/perl

# With a "resolver" in the http block, the login host is resolved through
# it at every login (partners sit behind front ends whose addresses
# change); without one, a name that does not resolve fails nginx -t.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EdgeAuthTest;
use MockDNS;
use MockPartner;

my $m = MockPartner->start(kind => 'oauth', token_lifetime => 2,
                           expires_in => 2);
# 127.0.0.2 is loopback too, and nothing listens there: refused
my $dns = MockDNS->start(names => {
    'login.partner.test' => '127.0.0.1',
    'two.partner.test'   => ['127.0.0.2', '127.0.0.1'],
});

my $port = free_port();
my $login = 'http://login.partner.test:' . $m->port . '/oauth/token';

my $credential = <<"CRED";
    credential oauth {
        login              $login;
        login_param        grant_type client_credentials;
        login_basic        oauth-client oauth-secret;
        token_renew_before 1s;
        token_header       Authorization "Bearer {token}";
    }
CRED

# no resolver: the name must resolve when the configuration is read

my $t = nginx_new(http => $credential);
my ($ok, $out) = $t->test_config;
ok(!$ok, 'without a resolver, an unknown login host fails nginx -t');
like($out, qr/host not found in URL "\Q$login\E" in \S+nginx\.conf:\d+; configure a "resolver"/,
     'the message names the URL, the place and the remedy');

# with a resolver: resolved at run time, again for every login

my $n = nginx_new(http => <<"CONF");
    resolver 127.0.0.1:${\ $dns->port} valid=1s ipv6=off;
    resolver_timeout 2s;

$credential

    server {
        listen 127.0.0.1:$port;

        location / {
            credential_inject oauth;
            proxy_pass ${\ $m->url};
        }
    }
CONF

($ok, $out) = $n->test_config;
ok($ok, 'with a resolver, nginx -t does not need the name') or diag $out;

$n->start($port);

# a 2 s token is used for 1 s (token_expiry_margin) and renewed at half
# of that: logins come faster than the resolver's 1 s cache expires, so
# wait for a renewal after it did
ok($m->wait_for(sub {
       $m->count('login:200') >= 4 && $dns->queries('login.partner.test') >= 2
   }, 15), 'logins through the resolver, renewed');
ok($dns->queries('login.partner.test') >= 2,
   'the name was resolved again for the renewal');
is($m->last_login->{headers}{host}, 'login.partner.test:' . $m->port,
   'the Host header names the login host');

my $r = http_request($port, "GET /x HTTP/1.1\nHost: a\nConnection: close\n\n");
is($r->{status}, 200, 'requests pass with the token');

$n->stop;

# two addresses, the first refuses: the next one is tried

{
    my $port3 = free_port();
    my $two = nginx_new(http => <<"CONF");
    resolver 127.0.0.1:${\ $dns->port} ipv6=off;

    credential oauth {
        login        http://two.partner.test:${\ $m->port}/oauth/token;
        login_param  grant_type client_credentials;
        login_basic  oauth-client oauth-secret;
        token_header Authorization "Bearer {token}";
    }

    server {
        listen 127.0.0.1:$port3;
        location / { credential_inject oauth; proxy_pass ${\ $m->url}; }
    }
CONF

    $two->start($port3);

    my $r = http_request($port3, "GET /x HTTP/1.1\nHost: a\nConnection: close\n\n");
    is($r->{status}, 200, 'first address refused: logged in through the second');
    like($two->error_log, qr/login endpoint 127\.0\.0\.2:\d+: connect\(\) failed|login endpoint 127\.0\.0\.2:\d+: the request could not be sent.*trying the next address/,
         'the fallback is logged');
    $two->stop;
}

# a name the resolver does not know: a failed login, clearly logged

my $port2 = free_port();
my $bad = nginx_new(http => <<"CONF");
    resolver 127.0.0.1:${\ $dns->port} ipv6=off;
    resolver_timeout 2s;

    credential oauth {
        login        http://nowhere.partner.test/oauth/token;
        login_wait   300ms;
        token_header Authorization "Bearer {token}";
    }

    server {
        listen 127.0.0.1:$port2;
        location / { credential_inject oauth; proxy_pass ${\ $m->url}; }
    }
CONF

$bad->start($port2);
$r = http_request($port2, "GET /x HTTP/1.1\nHost: a\nConnection: close\n\n");
is($r->{status}, 503, 'unresolvable login host: 503');
like($bad->error_log, qr/"nowhere\.partner\.test" could not be resolved/,
     'the resolver failure is logged');
$bad->stop;

done_testing;
