#!/usr/bin/perl

# AMEE (seed 002): form login, token in the authToken response header,
# sent as "Cookie: authToken=..."; sessions die after a maximum lifetime
# and after an idle time, and the gateway renews before either.
# Octorate (seed 003): form apilogin, expiry as an ISO-8601 expireDate.
# A standard OAuth 2.0 client-credentials endpoint, with client
# authentication by Basic header or by body fields and extra parameters.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use EdgeAuthTest;
use MockPartner;

my $GET = "GET /data HTTP/1.1\nHost: localhost\nConnection: close\n"
    . "Cookie: authToken=forged; theme=dark\n\n";

sub gateway {
    my ($mock, $credential) = @_;

    my $port = free_port();
    my $url = $mock->url;

    $credential =~ s/%%URL%%/$url/g;

    my $n = nginx_new(log_level => 'debug', http => <<"CONF");
    credential partner {
$credential
    }

    server {
        listen 127.0.0.1:$port;

        location / {
            credential_inject partner;
            proxy_pass $url;
        }
    }
CONF

    $n->start($port);

    return ($n, $port);
}

# AMEE: cookie session, capped lifetime

{
    my $amee = MockPartner->start(kind => 'amee', username => 'gw',
                                  password => 'amee-pw', max_lifetime => 4,
                                  idle_timeout => 1800);

    my ($n, $port) = gateway($amee, <<'CRED');
        login              %%URL%%/auth;
        login_param        username gw;
        login_param        password amee-pw;
        token_from         header authToken;
        token_max_lifetime 4s;
        token_renew_before 2s;
        token_cookie       authToken;
CRED

    ok($amee->wait_logins(1, 10), 'AMEE: logged in at start-up');

    my $login = $amee->last_login;
    like($login->{headers}{'content-type'},
         qr{^application/x-www-form-urlencoded}, 'AMEE: form login');
    is_deeply($login->{params}, { username => 'gw', password => 'amee-pw' },
              'AMEE: username and password fields');

    my $r = http_request($port, $GET);
    is($r->{status}, 200, 'AMEE: request with the session cookie');

    my $api = $amee->last_api;
    is($api->{auth}, 'cookie', 'AMEE: the partner saw a cookie session');
    is($api->{headers}{cookie}, 'authToken=' . $amee->last_token,
       'AMEE: exactly "Cookie: authToken=<token>", client cookies removed');

    # the partner ends sessions after 4 s; the gateway renews before

    my $fail = 0;
    for (1 .. 12) {
        sleep 0.5;
        $r = http_request($port, $GET);
        $fail++ if $r->{status} != 200;
    }

    is($fail, 0, 'AMEE: no failed request across two session lifetimes');
    unlike($n->error_log, qr/no valid token, waiting/,
           'AMEE: and no request waited for a renewal');
    ok($amee->logins >= 2, 'AMEE: renewed before the 4 s maximum lifetime');
    is($amee->count('api:401'), 0, 'AMEE: the partner never saw a dead session');
    $n->stop;
}

# AMEE: idle sessions are renewed before the partner ends them

{
    my $amee = MockPartner->start(kind => 'amee', username => 'gw',
                                  password => 'amee-pw', idle_timeout => 3);

    my ($n, $port) = gateway($amee, <<'CRED');
        login              %%URL%%/auth;
        login_param        username gw;
        login_param        password amee-pw;
        token_from         cookie authToken;
        token_lifetime     2h;
        token_idle_timeout 3s;
        token_renew_before 1s;
        token_cookie       authToken;
CRED

    ok($amee->wait_logins(1, 10), 'AMEE idle: logged in');
    my $first = $amee->last_token;

    sleep 4;

    ok($amee->logins >= 2, 'AMEE idle: renewed while idle');
    my $r = http_request($port, $GET);
    is($r->{status}, 200, 'AMEE idle: the request after the idle time passes');
    isnt($amee->last_api->{headers}{cookie}, "authToken=$first",
         'AMEE idle: with a fresh session, not the dead one');
    $n->stop;
}

# Octorate: expireDate as ISO-8601

{
    # 8 s tokens: used 7 s (the 1 s expiry margin), renewed 3 s before
    # that end plus a spread of up to half of it, so the renewal's login
    # has 1.5 s at least; with 3 s tokens it had 0.5 s, which a login on
    # a loaded machine can take: a request then waited
    my $octo = MockPartner->start(kind => 'octorate', client_id => 'oc',
                                  client_secret => 'os', token_lifetime => 8);

    my ($n, $port) = gateway($octo, <<'CRED');
        login              %%URL%%/identity/apilogin;
        login_param        client_id oc;
        login_param        client_secret os;
        token_expires_at   expireDate;
        token_renew_before 3s;
        token_header       Authorization "Bearer {token}";
CRED

    ok($octo->wait_logins(1, 10), 'Octorate: logged in');
    is_deeply($octo->last_login->{params},
              { client_id => 'oc', client_secret => 'os' },
              'Octorate: client_id and client_secret form fields');

    my $fail = 0;
    for (1 .. 18) {
        my $r = http_request($port, $GET);
        $fail++ if $r->{status} != 200;
        sleep 0.4;
    }

    is($fail, 0, 'Octorate: no failed request over the token lifetime');
    unlike($n->error_log, qr/no valid token, waiting/,
           'Octorate: and no request waited for a renewal');
    ok($octo->logins >= 2, 'Octorate: renewed from expireDate (8 s)');

    # 7 s of use (8 s less the 1 s expiry margin) renewed at least 1.5 s
    # before its end: a login in 5.5 s at most, and one at start
    my $secs = time - ($octo->requests('login'))[0]{time};
    cmp_ok($octo->logins, '<=', 2 + $secs / 4,
           'Octorate: and not more often than needed');
    like($n->error_log, qr/logged in to \S+, token valid for [0-8]s/,
         'Octorate: the lifetime came from expireDate');
    $n->stop;
}

# Octorate: renew with the refresh token, rotated ones replace the old;
# a refused refresh token means a full login, without a failed request

{
    my $octo = MockPartner->start(kind => 'octorate', client_id => 'oc',
                                  client_secret => 'os', token_lifetime => 2,
                                  refresh_token => 1, rotate_refresh => 1);

    my ($n, $port) = gateway($octo, <<'CRED');
        login              %%URL%%/identity/apilogin;
        login_param        client_id oc;
        login_param        client_secret os;
        refresh            %%URL%%/identity/refresh;
        refresh_param      client_id oc;
        refresh_param      client_secret os;
        token_expires_at   expireDate;
        token_renew_before 1s;
        token_header       Authorization "Bearer {token}";
CRED

    ok($octo->wait_logins(1, 10), 'refresh: logged in');
    ok($octo->wait_for(sub { $octo->count('refresh:200') >= 2 }, 10),
       'refresh: renewed twice with rotated refresh tokens');
    is($octo->logins('login'), 1, 'refresh: no second apilogin');

    my $rec = $octo->last_login('refresh');
    is($rec->{params}{client_id}, 'oc', 'refresh: refresh_param sent');
    ok($rec->{params}{refresh_token}, 'refresh: the refresh token sent');
    is($octo->count('refresh:400'), 0,
       'refresh: never an old (rotated) refresh token');

    my $r = http_request($port, $GET);
    is($r->{status}, 200, 'refresh: requests use the renewed token');
    is($octo->last_api->{bearer}, $octo->last_token,
       'refresh: the latest token');

    $octo->revoke_refresh_tokens;
    ok($octo->wait_for(sub { $octo->logins('login') >= 2 }, 10),
       'refresh token revoked: logged in again');
    like($n->error_log, qr/\[warn\].*refused the refresh token with HTTP status 400; logging in again/,
         'refresh token revoked: said in the log');

    $r = http_request($port, $GET);
    is($r->{status}, 200, 'refresh token revoked: requests still pass');
    $n->stop;
}

# OAuth 2.0 client credentials: Basic or body authentication, extra fields

for my $auth ('basic', 'post') {
    # reserved characters: RFC 6749 2.3.1 form-encodes before Basic
    my $o = MockPartner->start(kind => 'oauth', client_auth => $auth,
                               client_secret => 'p@ss:w+rd&1 %x',
                               require_audience => 'https://api.example',
                               expires_in => 3600);

    my $client = $auth eq 'basic'
        ? 'login_basic oauth-client "p@ss:w+rd&1 %x";'
        : 'login_param client_id oauth-client; '
          . 'login_param client_secret "p@ss:w+rd&1 %x";';

    my ($n, $port) = gateway($o, <<"CRED");
        login              %%URL%%/oauth/token;
        login_param        grant_type client_credentials;
        login_param        scope "read write";
        login_param        audience https://api.example;
        $client
        token_header       Authorization "Bearer {token}";
CRED

    ok($o->wait_for(sub { $o->count('login:200') >= 1 }, 10),
       "OAuth ($auth): token obtained");

    my $login = $o->last_login;
    is($login->{client_auth}, $auth, "OAuth ($auth): client authentication");
    is($login->{params}{scope}, 'read write',
       "OAuth ($auth): scope form-encoded and sent");
    is($login->{params}{grant_type}, 'client_credentials',
       "OAuth ($auth): grant_type");

    my $r = http_request($port, $GET);
    is($r->{status}, 200, "OAuth ($auth): request passes");
    is($o->last_api->{bearer}, $o->last_token, "OAuth ($auth): Bearer token");
    $n->stop;
}

done_testing;
