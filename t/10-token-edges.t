#!/usr/bin/perl

# Edges of the token engine: subrequests never wait on the connection (a
# mirror without a token must not hold its main request), a 401 answered
# to an auth_request subrequest speaks of the client, not of our token,
# a partner that refuses every token is logged in to once per
# token_refused_interval, not once per request, and is no failed login
# (no backoff, no 503), and an idle timeout shorter than the renewal margin does not
# make logins loop.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use EdgeAuthTest;
use MockPartner;

sub get {
    my ($port, $uri) = @_;
    return http_request($port, "GET $uri HTTP/1.1\nHost: localhost\n"
                               . "Connection: close\n\n");
}

sub gateway {
    my ($m, $extra, $locations) = @_;

    $locations //= '';

    my $port = free_port();
    my $url = $m->url;

    my $n = nginx_new(http => <<"CONF");
    credential oauth {
        login        $url/oauth/token;
        login_param  grant_type client_credentials;
        login_basic  oauth-client oauth-secret;
        login_wait   2s;
        token_header Authorization "Bearer {token}";
        $extra
    }

    server {
        listen 127.0.0.1:$port;

        location = /ok {
            return 200 "ok\\n";
        }

        location / {
            credential_inject oauth;
            proxy_pass $url;
        }

        $locations
    }
CONF

    $n->start($port);

    return ($n, $port);
}

# a mirror subrequest without a token: the main request is not held

{
    my $m = MockPartner->start(kind => 'oauth');
    $m->set(status => 500);

    my ($n, $port) = gateway($m, 'login_backoff 1s 2s;', <<'LOC');
        location /main {
            mirror /mirror;
            proxy_pass http://127.0.0.1:$server_port/ok;
        }

        location /mirror {
            internal;
            credential_inject oauth;
            proxy_pass http://127.0.0.1:$server_port/ok;
        }
LOC

    ok($m->wait_logins(1, 10), 'mirror: the login failed');

    my $r = get($port, '/main');
    is($r->{status}, 200, 'mirror without a token: the main request answers');
    like($n->error_log, qr/no valid token after waiting 0ms/,
         'mirror: the subrequest did not wait');
    $n->stop;
}

# auth_request's 401 is about the client: the token is kept

{
    my $m = MockPartner->start(kind => 'oauth');

    my ($n, $port) = gateway($m, '', <<"LOC");
        location /protected {
            auth_request /check;
            proxy_pass http://127.0.0.1:\$server_port/ok;
        }

        location = /check {
            internal;
            credential_inject oauth;
            proxy_pass ${\ $m->url}/check-client;
        }
LOC

    ok($m->wait_for(sub { $m->count('login:200') >= 1 }, 10),
       'auth_request: logged in');

    $m->set(for => 'api', status => 401);

    my $r = get($port, '/protected');
    is($r->{status}, 401, 'auth_request: the check refused the client');
    $r = get($port, '/protected');
    sleep 1.5;

    is($m->logins, 1, 'auth_request: its 401 did not renew the token');
    $n->stop;
}

# a partner that refuses every token: one renewal per token_refused_interval
# (5 s by default), the refused token stays in use, no failed login

{
    my $m = MockPartner->start(kind => 'oauth');

    my ($n, $port) = gateway($m, 'login_backoff 2s 10s;');

    ok($m->wait_for(sub { $m->count('login:200') >= 1 }, 10),
       'refusing partner: logged in');

    $m->set(for => 'api', status => 401);

    my @status;
    for (1 .. 12) {
        push @status, get($port, '/api')->{status};
        sleep 0.1;
    }

    is(scalar(grep { $_ != 401 } @status), 0,
       'refusing partner: each request got the partner\'s 401, none a 503');
    my $logins = $m->logins;
    ok($logins <= 2, "refusing partner: $logins logins for 12 refused requests");
    unlike($n->error_log, qr/next login in|failed \(failure/,
           'refusing partner: no failed login, no backoff');
    like($n->error_log, qr/\[notice\].*the upstream refused the token with 401; renewing it, it stays in use meanwhile/,
         'refusing partner: the renewal is logged at notice');
    $n->stop;
}

# an idle timeout shorter than the renewal margin does not loop

{
    my $m = MockPartner->start(kind => 'oauth');

    my ($n, $port) = gateway($m, 'token_idle_timeout 2s;');

    ok($m->wait_for(sub { $m->count('login:200') >= 1 }, 10),
       'short idle: logged in');
    sleep 3;

    my $logins = $m->logins;
    ok($logins >= 2 && $logins <= 5,
       "short idle: renewed at half the idle time, $logins logins in 3 s");
    $n->stop;
}

done_testing;
