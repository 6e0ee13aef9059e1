#!/usr/bin/perl

# token_expiry_margin: a partner such as oidc-provider counts a token's
# life from an issue time rounded down to the second, so in the last
# moments before the expiry its answer announced it refuses the token
# already.  The partners here refuse their tokens before the announced
# expiry (token_lifetime below expires_in): the gateway must not send a
# token in its last margin (by default 5% of its life, at least 1 s), and
# must renew before that margin so that requests do not wait.  Also: the
# status page shows the end of use, Redis tokens get the same margin, and
# "nginx -t" refuses bad values.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json);
use Time::HiRes qw(sleep time);
use EdgeAuthTest;
use MockPartner;

# One partner for the gateways of this file, one after the other.

my $m = MockPartner->start(kind => 'oauth');

sub get {
    my ($port, $uri) = @_;
    return http_request($port, "GET $uri HTTP/1.1\nHost: localhost\n"
                               . "Connection: close\n\n");
}

sub gateway {
    my ($extra, $more) = @_;

    my $port = free_port();
    my $url = $m->url;

    my $n = nginx_new(http => <<"CONF");
    credential oauth {
        login        $url/oauth/token;
        login_param  grant_type client_credentials;
        login_basic  oauth-client oauth-secret;
        token_header Authorization "Bearer {token}";
        $extra
    }
${\ ($more // '') }
    server {
        listen 127.0.0.1:$port;

        location = /status {
            credential_status;
        }

        location / {
            credential_inject oauth;
            proxy_pass $url;
        }
    }
CONF

    # nginx without the directive must fail the tests, not end the file
    my ($ok, $out) = $n->test_config;
    ok($ok, 'nginx -t') or diag $out;
    $n->start($port) if $ok;

    return ($ok ? $n : undef, $port);
}


# when the partner issued its first token, on the partner's clock

sub first_issue {
    $m->wait_logins(1, 10) or return undef;
    return $m->last_login->{time};
}


sub partner {
    my (%set) = @_;
    $m->reset;
    $m->set(expires_in => undef, %set);
    $m->reset_counters;
}


# The default margin (1 s of a 3 s token), a healthy partner that refuses
# its tokens 0.8 s before the announced expiry; token_renew_before 500ms
# alone would renew in that refused time: renewal starts before the
# margin instead, so no request is refused.

{
    partner(token_lifetime => 2.2, expires_in => 3);
    my ($n, $port) = gateway("token_renew_before 500ms;\n"
                             . "        login_wait 2s;");
    my $t0 = $n && first_issue();
    ok($t0, 'first login');

    my %seen;
    my $end = ($t0 || time) + 3.3;

    while (time < $end) {
        my $r = $n ? get($port, '/api/x') : { status => 0 };
        $seen{$r->{status}}++;
        sleep 0.1;
    }

    is_deeply([keys %seen], [200], 'default margin: every request 200')
        or diag explain \%seen;
    is($m->count('api:401'), 0,
       'default margin: the partner refused no token it had expired');
    cmp_ok($m->logins, '>=', 2, 'default margin: renewed');

    $n->stop if $n;
}


# token_expiry_margin 1500ms of a 3 s token; the partner refuses after
# 1.8 s and no longer logs in: in the margin the old token is not sent,
# the request waits for a renewal that fails (503); before it, it is used.

{
    partner(token_lifetime => 1.8, expires_in => 3);
    my ($n, $port) = gateway("token_expiry_margin 1500ms;\n"
                             . "        login_wait 500ms;\n"
                             . "        login_backoff 1s 2s;");
    my $t0 = $n && first_issue();
    ok($t0, 'first login');
    $m->set(status => 500);

    is($n ? get($port, '/api/a')->{status} : 0, 200,
       '1500ms: the token before its margin');

    my $wait = ($t0 || time) + 2 - time;
    sleep($wait) if $wait > 0;

    my $r = $n ? get($port, '/api/b') : { status => 0, raw => '' };
    is($r->{status}, 503, '1500ms: in the margin the request waits, then 503')
        or diag $r->{raw};
    is($m->count('api:401'), 0, '1500ms: the old token was not sent');
    is($m->api_calls, 1, '1500ms: one API call, before the margin');

    $n->stop if $n;
}


# the status page shows the end of use: expiry less the margin; a cap of
# 10 s makes a short token (5% of it is half a second: the floor counts)

{
    partner(token_lifetime => 100);

    my %margin = (dflt => '', pct => 'token_expiry_margin 30%;',
                  abs => 'token_expiry_margin 2s;',
                  off => 'token_expiry_margin 0;',
                  short => 'token_max_lifetime 10s;');
    my %want = (dflt => 95, pct => 70, abs => 98, off => 100, short => 9);
    my $conf = '';

    for my $c (sort keys %margin) {
        $conf .= "credential $c { login ${\ $m->url }/oauth/token;"
               . ' login_param grant_type client_credentials;'
               . ' login_basic oauth-client oauth-secret;'
               . " token_header Authorization \"Bearer {token}\";"
               . " $margin{$c} }\n";
    }

    my ($n, $port) = gateway('', $conf);
    my $st;

    $n && $m->wait_for(sub {
        my $r = get($port, '/status');
        $st = $r->{status} == 200 ? eval { decode_json($r->{body}) } : undef;
        return $st && !grep { !$st->{credentials}{$_}{token_usable} }
                            keys %want;
    }, 10);

    # in milliseconds there: a second less is not lost in rounding
    my $prom = $n ? get($port, '/status?format=prometheus')->{body} : '';

    for my $c (sort keys %want) {
        my ($left) = $prom =~ /^nginx_credential_token_expiry_seconds
                                \{credential="\Q$c\E"\}\ (\S+)$/mx;
        $left //= -1;
        ok($left <= $want{$c} && $left > $want{$c} - 2,
           "status: $c: $left s left, up to $want{$c}");
    }

    $n->stop if $n;
}

$m->stop;


# a token taken from Redis gets the margin too: the node that did not log
# in counts it from the issue time the other node stored

SKIP: {
    require RedisServer;
    require Fleet;

    skip 'no redis-server', 2
        unless grep { -x "$_/redis-server" } split /:/, "$ENV{PATH}:/usr/bin";

    my $pw = 'redis-pw-margin-44';
    my $redis = RedisServer->start(password => $pw);
    my $nilo = MockPartner->start(kind => 'nilo', client_id => 'id44',
                                  client_secret => 'secret44',
                                  api_key => 'key44', token_lifetime => 100);
    my $key = join '', map { chr int rand 256 } 1 .. 32;
    my @gw;

    for my $i (0, 1) {
        my ($g, $p) = Fleet::gateway(redis => $redis, nilo => $nilo,
            id => 'id44', secret => 'secret44', api_key => 'key44',
            seal_key => $key, password => $pw,
            locations => 'location = /status { credential_status; }');
        $g->start($p);
        push @gw, [$g, $p];
        $nilo->wait_logins(1, 10) if $i == 0;
    }

    my $st;
    $nilo->wait_for(sub {
        my $r = get($gw[1][1], '/status');
        $st = $r->{status} == 200 ? eval { decode_json($r->{body}) } : undef;
        return $st && $st->{credentials}{nilo}{token_usable};
    }, 10);

    my ($left) = get($gw[1][1], '/status?format=prometheus')->{body}
        =~ /^nginx_credential_token_expiry_seconds\{credential="nilo"\} (\S+)$/m;
    $left //= -1;
    is($nilo->logins, 1, 'redis: the second node took the first one\'s token');
    ok($left <= 95 && $left > 93, "redis: $left s left, up to 95");

    $_->[0]->stop for @gw;
    $nilo->stop;
    $redis->stop;
}


# nginx -t

{
    my $base = 'login http://127.0.0.1:9/token;'
             . ' token_header Authorization "Bearer {token}";';

    for my $v ('100%', '5.5%', '-1s', 'soon') {
        my $n = nginx_new(http => "credential c { $base\n"
                                  . "token_expiry_margin $v; }\n");
        my ($ok, $out) = $n->test_config;
        ok(!$ok, "nginx -t refuses $v");
        like($out, qr/invalid token_expiry_margin "\Q$v\E".* in \S+nginx\.conf:\d+$/m,
             "message names $v and the line") or diag $out;
    }

    my $i = 0;
    my $n = nginx_new(http => join '', map {
        $i++;
        "credential c$i { $base token_expiry_margin $_; }\n"
    } '0', '0%', '99%', '500ms', '2s', '1m');
    my ($ok, $out) = $n->test_config;
    ok($ok, 'nginx -t accepts 0, 0%, 99%, 500ms, 2s, 1m') or diag $out;
}

done_testing;
