#!/usr/bin/perl

# When the login endpoint misbehaves: 500s back off (counted, not timed),
# 429 Retry-After is obeyed, hangs time out, garbage, huge answers, answers
# without a token and tokens with CR LF are refused and never injected,
# untrusted certificates are refused, the current token stays in use until
# its real expiry, and a request without a token gets a JSON 503.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use EdgeAuthTest;
use MockPartner;

my $GET = "GET /api/x HTTP/1.1\nHost: localhost\nConnection: close\n\n";

# one nginx in front of one mock, with extra directives in the credential

sub gateway {
    my ($mock, $extra, %args) = @_;

    my $port = free_port();
    my $url = $args{url} || $mock->url;

    my $n = nginx_new(workers => $args{workers} || 1, http => <<"CONF");
    credential oauth {
        login        $url/oauth/token;
        login_param  grant_type client_credentials;
        login_basic  oauth-client oauth-secret;
        login_wait   300ms;
        token_header Authorization "Bearer {token}";
        $extra
    }

    server {
        listen 127.0.0.1:$port;

        location / {
            credential_inject oauth;
            proxy_pass ${\ $mock->url};
        }
    }
CONF

    $n->start($port);

    return ($n, $port);
}

sub oauth {
    return MockPartner->start(kind => 'oauth', tls_tickets => 0, @_);
}

# 500s: exponential backoff, one error line per streak, 503 meanwhile

{
    my $m = oauth();
    $m->set(status => 500);

    my ($n, $port) = gateway($m, 'login_backoff 400ms 10s;');

    ok($m->wait_logins(1, 10), '500: first login at start-up');
    sleep 3;
    my $logins = $m->logins;

    # backoff 0.2-0.4, 0.4-0.8, 0.8-1.6, 1.6-3.2 s: at most 5 in 3 s
    ok($logins >= 2 && $logins <= 5, "500: $logins logins in 3 s, backing off");

    my $r = http_request($port, $GET);
    is($r->{status}, 503, 'no token: 503');
    is($r->{headers}{'content-type'}[0], 'application/json', '503 is JSON');
    like($r->{body}, qr/^\{"errorCode":"credential-unavailable","errorMessage":"[^"]+","errors":\[\]\}\n$/,
         '503 body in the partners\' error style');
    like($r->{headers}{'retry-after'}[0] // '', qr/^[1-9]\d*$/,
         '503 has Retry-After in seconds');
    is($m->api_calls, 0, 'nothing went upstream without its credential');

    my $log = $n->error_log;
    my @errors = $log =~ /\[error\].*login to \S+ failed/g;
    is(scalar @errors, 1, 'one error line per failure streak');
    like($log, qr/\[error\].*credential "oauth": login to \S+ failed \(failure 1 in a row\): the endpoint refused the login, HTTP status 500; next try in \d+ms; no valid token/,
         'the error line says what, what status, and when again');

    $m->set(normal => 1);
    ok($m->wait_for(sub { $m->count('login:200') >= 1 }, 10),
       'the endpoint recovers: the next try succeeds');
    sleep 0.3;

    $r = http_request($port, $GET);
    is($r->{status}, 200, 'and requests pass');
    like($n->error_log, qr/\[notice\].*login to \S+ succeeded after \d+ failures/,
         'recovery is logged');
    $n->stop;
}

# 429 with Retry-After: no login before it

{
    my $m = oauth();
    $m->set(status => 429, retry_after => 3, fail_count => 1);

    my ($n, $port) = gateway($m, 'login_backoff 100ms 10s;');

    ok($m->wait_logins(1, 10), '429: first login');
    sleep 2;
    is($m->logins, 1, '429 Retry-After: 3: no second login within 2 s');

    my $r = http_request($port, $GET);
    is($r->{status}, 503, '429: meanwhile requests get 503');
    like($n->error_log, qr/no valid token after waiting 0ms, next login in 1s; answering 503/,
         '429: the next login is past login_wait: answered without waiting');
    ok($m->wait_for(sub { $m->count('login:200') >= 1 }, 10),
       '429: the login after Retry-After succeeds');
    $n->stop;
}

# answers that are refused; a token is never injected from them

my @refused = (
    [ 'garbage',        { garbage => 1 },        qr/not a JSON object/ ],
    [ 'no token',       { no_token => 1 },       qr/no token string/ ],
    [ 'CR LF in token', { crlf_token => 1 },     qr/token contains a control byte/ ],
    [ 'absurd length',  { long_token => 10000 }, qr/answer is larger|longer than 8192/ ],
    [ 'huge answer',    { huge => 200000 },      qr/larger than the configured maximum/ ],
    [ 'closed early',   { truncate => 1 },       qr/closed before Content-Length|could not be read/ ],
    [ 'hang',           { hang => 1 },           qr/timed out/ ],
);

for my $case (@refused) {
    my ($name, $behaviour, $re) = @$case;

    my $m = oauth(hang_max => 5);
    $m->set(%$behaviour);

    my ($n, $port) = gateway($m, 'login_timeout 1s; login_max_size 16k;'
                                 . ' login_backoff 5s 10s;');

    ok($m->wait_logins(1, 10), "$name: login attempted");

    my $r = http_request($port, $GET);
    is($r->{status}, 503, "$name: refused, requests get 503");
    is($m->api_calls, 0, "$name: nothing proxied");

    # the 503 is the request's login_wait running out: the login's own
    # end (its timeout, or its answer read on a loaded machine) and its
    # line may come later
    like($n->wait_error_log($re), $re, "$name: the log says why");
    $n->stop;
}

# chunked answers are fine

{
    my $m = oauth(chunked => 1);
    my ($n, $port) = gateway($m, '');

    ok($m->wait_for(sub { $m->count('login:200') >= 1 }, 10), 'chunked: login');
    sleep 0.3;
    my $r = http_request($port, $GET);
    is($r->{status}, 200, 'chunked answer: token used');
    is($m->last_api->{bearer}, $m->last_token, 'chunked: the right token');
    $n->stop;
}

# the current token stays in use until its real expiry

{
    my $m = oauth(token_lifetime => 4, expires_in => 4);
    my ($n, $port) = gateway($m, 'token_renew_before 3s; login_backoff 10s 20s;');

    ok($m->wait_for(sub { $m->count('login:200') >= 1 }, 10),
       'short token: first login');
    $m->set(status => 500);

    # renewal at half its life fails; the token still works until 4 s
    ok($m->wait_logins(2, 10), 'renewal attempted ahead of expiry');
    my $r = http_request($port, $GET);
    is($r->{status}, 200, 'renewal failed: the current token still in use');
    is($m->count('api:401'), 0, 'and the partner accepted it');

    sleep 2.5;
    $r = http_request($port, $GET);
    is($r->{status}, 503, 'after its real expiry: 503, never an expired token');
    $n->stop;
}

# TLS: verified by default, a trusted CA works, others are refused

{
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my $certs = MockPartner::make_certs($dir);

    my %case = (
        'trusted CA'        => [ $certs->{cert}, $certs->{key},
                                 "login_ssl_trusted_certificate $certs->{ca};",
                                 200 ],
        'system CA store'   => [ $certs->{cert}, $certs->{key}, '', 503 ],
        'self-signed'       => [ $certs->{self_signed_cert},
                                 $certs->{self_signed_key},
                                 "login_ssl_trusted_certificate $certs->{ca};",
                                 503 ],
        'wrong host name'   => [ $certs->{wrong_name_cert},
                                 $certs->{wrong_name_key},
                                 "login_ssl_trusted_certificate $certs->{ca};",
                                 503 ],
        'verify off'        => [ $certs->{self_signed_cert},
                                 $certs->{self_signed_key},
                                 'login_ssl_verify off;', 200 ],
    );

    for my $name (sort keys %case) {
        my ($cert, $key, $extra, $want) = @{ $case{$name} };

        my $m = oauth(tls => 1, cert => $cert, key => $key);
        my $url = 'https://localhost:' . $m->port;

        my ($n, $port) = gateway($m, "$extra login_backoff 5s 10s;",
                                 url => $url);

        # a first login slowed down by a loaded machine backs off: ask
        # again until the answer is the expected one, for up to 20 s
        sleep 0.5;
        my $r = http_request($port, $GET);
        my $until = time + 20;
        while ($r->{status} != $want && time < $until) {
            sleep 0.5;
            $r = http_request($port, $GET);
        }
        is($r->{status}, $want, "TLS, $name: $want");

        if ($want == 200) {
            is(($m->last_login // {})->{sni}, 'localhost',
               "TLS, $name: SNI sent");
        } else {
            # the 503 may be a request's wait running out while the first
            # login's handshake is still going on: the line comes after
            my $until = time + 20;
            sleep 0.2 while $n->error_log !~ /certificate|handshake/
                            && time < $until;
            like($n->error_log, qr/certificate|handshake/,
                 "TLS, $name: the log says the certificate was refused");
        }

        $n->stop;
    }
}

done_testing;
