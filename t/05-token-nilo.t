#!/usr/bin/perl

# Nilo (seed 001): POST /login with JSON clientId/clientSecret and the
# static x-api-key on the login call; inject "Authorization: Bearer" and
# x-api-key.  One login for many concurrent requests across workers,
# renewal ahead of expiry, 401 invalidation, a reload without a new login,
# and debug logs free of every secret and token.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use EdgeAuthTest;
use MockPartner;

my $ID = 'nilo-client-7';
my $SECRET = 'nilo-secret-Zq81-never-logged';
my $KEY = 'nilo-api-key-Kx90-never-logged';

my $nilo = MockPartner->start(kind => 'nilo', client_id => $ID,
                              client_secret => $SECRET, api_key => $KEY,
                              token_lifetime => 3600,
                              expires_field => 'expiresIn');

my $port = free_port();
my $url = $nilo->url;

my $n = nginx_new(workers => 2, log_level => 'debug',
                  env => { NILO_CLIENT_SECRET => $SECRET }, http => <<"CONF");
    credential nilo {
        header       x-api-key file:%%DIR%%/nilo.key;

        login        $url/login;
        login_body   json;
        login_param  clientId $ID;
        login_param  clientSecret env:NILO_CLIENT_SECRET;
        login_header x-api-key file:%%DIR%%/nilo.key;

        token_header Authorization "Bearer {token}";

        # refusals renew at most once a second here (the default is 5 s)
        token_refused_interval 1s;
    }

    server {
        listen 127.0.0.1:$port;

        location / {
            credential_inject nilo;
            proxy_pass $url;
        }

        # the retry recipe: once more, with the renewed token
        location /retry/ {
            credential_inject nilo;
            proxy_pass $url;
            proxy_intercept_errors on;
            error_page 401 = \@nilo_retry;
        }

        location \@nilo_retry {
            credential_inject nilo;
            proxy_pass $url;
        }
    }
CONF

$n->write_file('nilo.key', "$KEY\n");
$n->start($port);

my $GET = "GET /api/orders HTTP/1.1\nHost: localhost\nConnection: close\n"
    . "Authorization: Bearer client-forged\n\n";

# the first login happens at start-up, before any request

ok($nilo->wait_logins(1, 10), 'logged in at start-up, before traffic');

my $login = $nilo->last_login;
is($login->{method}, 'POST', 'login: POST');
is_deeply($login->{json}, { clientId => $ID, clientSecret => $SECRET },
          'login: JSON clientId and clientSecret, secret from env:');
is($login->{headers}{'x-api-key'}, $KEY,
   'login: x-api-key on the login call, from file:');
like($login->{headers}{'content-type'}, qr{^application/json},
     'login: JSON content type');

# many concurrent requests, two workers: still one login

my @r = parallel_requests($port, 30, $GET);
is(scalar(grep { $_->{status} == 200 } @r), 30, '30 concurrent requests: 200');
is($nilo->logins('login'), 1, 'one login for all of them, across 2 workers');

my $token = $nilo->last_token;
my $api = $nilo->last_api;
is($api->{headers}{authorization}, "Bearer $token",
   'the upstream got our Bearer token, not the client\'s');
is($api->{headers}{'x-api-key'}, $KEY, 'and the static x-api-key');
is($nilo->count('api:401'), 0, 'the partner refused nothing');

# 401: the partner revokes every token; one renewal for many 401s, and
# the refused token stays in use meanwhile (no request waits, none is a 503)

$nilo->expire_tokens;

@r = parallel_requests($port, 10, $GET);
ok(scalar(grep { $_->{status} == 401 } @r) >= 1,
   'requests with the revoked token see the partner\'s 401');
is(scalar(grep { $_->{status} != 401 && $_->{status} != 200 } @r), 0,
   'and no request failed otherwise (no 503)');
ok($nilo->wait_logins(2, 10), 'the 401 triggered a new login');

sleep 0.5;
is($nilo->logins('login'), 2, 'many 401s of one token: one renewal');

my $r = http_request($port, $GET);
is($r->{status}, 200, 'after the renewal requests pass again');
isnt($nilo->last_token, $token, 'with the new token');
is($nilo->last_api->{headers}{authorization}, 'Bearer ' . $nilo->last_token,
   'injected is the new token');

# the retry recipe: a POST whose token was revoked goes through once more,
# waiting for the renewal its refusal started (the last refusal renewal was
# more than token_refused_interval ago)

sleep 1.2;
$nilo->expire_tokens;
my $api401 = $nilo->count('api:401');

$r = http_request($port, "POST /retry/orders HTTP/1.1\nHost: localhost\n"
                  . "Connection: close\nContent-Type: application/json\n"
                  . "Content-Length: 15\n\n{\"order\":\"o-1\"}");
is($r->{status}, 200, 'retry: the client sees the retried answer');
is($nilo->count('api:401') - $api401, 1, 'retry: the partner refused once');
is($nilo->logins('login'), 3, 'retry: one new login');
is($nilo->last_api->{body}, '{"order":"o-1"}', 'retry: the body was replayed');
is($nilo->last_api->{headers}{authorization}, 'Bearer ' . $nilo->last_token,
   'retry: with the new token');

# refused again: the 401 goes to the client, no loop

$nilo->set(for => 'api', status => 401);
my $calls = $nilo->api_calls;

$r = http_request($port, "GET /retry/orders HTTP/1.1\nHost: localhost\n"
                  . "Connection: close\n\n");
is($r->{status}, 401, 'retry refused again: 401 to the client');
is($nilo->api_calls - $calls, 2, 'retry: one retry, not a loop');

$nilo->set(for => 'api', normal => 1);
ok($nilo->wait_for(sub { http_request($port, $GET)->{status} == 200 }, 10),
   'retry: back to normal');
my $logins = $nilo->logins('login');

# a reload keeps the token: no login for nothing

my ($ok, $out) = $n->reload;
ok($ok, 'reload') or diag $out;
sleep 1.5;

$r = http_request($port, $GET);
is($r->{status}, 200, 'after the reload');
is($nilo->logins('login'), $logins, 'a reload does not log in again');

$n->stop;

# no secret, no token in the debug log

my $log = $n->error_log;
like($log, qr/\[debug\]/, 'the log is at debug level');
like($log, qr/\[redacted\]/, 'nginx\'s own debug lines were masked');

my %secrets = (secret => $SECRET, 'api key' => $KEY);
my $i = 0;
$secrets{"token " . ++$i} = $_->{token}
    for grep { $_->{token} } $nilo->requests('login');

for my $what (sort keys %secrets) {
    unlike($log, qr/\Q$secrets{$what}\E/, "debug log has no $what");
}

done_testing;
