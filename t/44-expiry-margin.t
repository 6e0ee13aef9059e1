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

# Three partners behind one gateway, tried at once to keep the file short:
#
#   a  the default margin (1 s of a 3 s token); the partner refuses its
#      tokens after 2.2 s and stays healthy; token_renew_before 500ms alone
#      would renew in that refused time: renewal starts before the margin
#      instead, so no request is refused
#   b  token_expiry_margin 2s of a 4 s token; the partner refuses after
#      2.4 s and no longer logs in: in the margin the old token is not sent,
#      the request waits for a renewal that fails (503); before, it is used
#   c  100 s tokens, for the status page: the end of use it shows
#   d  the same, with the login's answer two seconds late: the token's life
#      counts from the request (the partner's clock starts when it gets
#      it), not from the late answer

my %m = map { $_ => MockPartner->start(kind => 'oauth') } qw(a b c d);
$m{a}->set(token_lifetime => 2.2, expires_in => 3);
$m{b}->set(token_lifetime => 2.4, expires_in => 4);
$m{c}->set(token_lifetime => 100);
$m{d}->set(token_lifetime => 100);
$m{d}->set(delay_ms => 2000, for => 'login');

sub get {
    my ($port, $uri) = @_;
    return http_request($port, "GET $uri HTTP/1.1\nHost: localhost\n"
                               . "Connection: close\n\n");
}

sub credential {
    my ($name, $m, $extra) = @_;
    return "credential $name { login ${\ $m->url }/oauth/token;"
         . ' login_param grant_type client_credentials;'
         . ' login_basic oauth-client oauth-secret;'
         . " token_header Authorization \"Bearer {token}\"; $extra }\n";
}

# the c credentials; a cap of 10 s makes a short token (5% of it is half a
# second: the floor of one second counts)

my %margin = (dflt => '', pct => 'token_expiry_margin 30%;',
              abs => 'token_expiry_margin 2s;',
              off => 'token_expiry_margin 0;',
              short => 'token_max_lifetime 10s;');
my %left = (dflt => 95, pct => 70, abs => 98, off => 100, short => 9);

my $port = free_port();
my $n = nginx_new(http => join('',
    credential(a => $m{a}, 'token_renew_before 500ms; login_wait 2s;'),
    credential(b => $m{b}, 'token_expiry_margin 2s; login_wait 500ms;'
                           . ' login_backoff 1s 2s;'),
    map({ credential($_ => $m{c}, "login_param scope $_; $margin{$_}") }
        sort keys %margin),
    credential(late => $m{d}, 'login_wait 3s;'),
    "server { listen 127.0.0.1:$port;\n",
    "    location = /status { credential_status; }\n",
    map({ "    location /$_/ { credential_inject $_;"
          . " proxy_pass ${\ $m{$_}->url }; }\n" } qw(a b)),
    "}\n"));

# nginx without the directive must fail the tests, not end the file
my ($ok, $out) = $n->test_config;
ok($ok, 'nginx -t') or diag $out;
$n->start($port) if $ok;

# when the partners issued their first tokens, on their clock

my %t0;

for my $p (qw(a b)) {
    $t0{$p} = $ok && $m{$p}->wait_logins(1, 10)
              && $m{$p}->last_login->{time};
    ok($t0{$p}, "$p: first login");
}

$m{b}->set(status => 500);

is($ok ? get($port, '/b/x')->{status} : 0, 200,
   'b: the token before its margin');

my (%seen, $late);
my $end = ($t0{a} || time) + 3.3;
my $due = ($t0{b} || 0) + 2.7;

while (time < $end || !$late) {
    my $r = $ok ? get($port, '/a/x') : { status => 0 };
    $seen{$r->{status}}++;

    if (!$late && time >= $due) {
        $late = $ok ? get($port, '/b/y') : { status => 0, raw => '' };
    }

    sleep 0.1;
}

is_deeply([keys %seen], [200], 'a, default margin: every request 200')
    or diag explain \%seen;
is($m{a}->count('api:401'), 0,
   'a, default margin: the partner refused no token it had expired');
cmp_ok($m{a}->logins, '>=', 2, 'a, default margin: renewed');

is($late->{status}, 503, 'b, 2s: in the margin the request waits, then 503')
    or diag $late->{raw};
is($m{b}->count('api:401'), 0, 'b, 2s: the old token was not sent');
is($m{b}->api_calls, 1, 'b, 2s: one API call, before the margin');

# the status page, in milliseconds in Prometheus's format: the seconds
# left now plus the time since the partner got the credential's login
# request (its scope names it) is the usable life, or a little less: the
# gateway counts from when it sent the request, before the partner got it
# (never from the answer, which comes later)

my $st;
$ok && $m{c}->wait_for(sub {
    my $r = get($port, '/status');
    $st = $r->{status} == 200 ? eval { decode_json($r->{body}) } : undef;
    return $st && !grep { !$st->{credentials}{$_}{token_usable} }
                        keys %left, 'late';
}, 10);

my $prom = $ok ? get($port, '/status?format=prometheus')->{body} : '';
my $now = time;
my %since = map { ($_->{params}{scope} // '') => $now - $_->{time} }
                $m{c}->requests('login');
($since{late}) = map { $now - $_->{time} } $m{d}->requests('login');
$left{late} = 95;

for my $c (sort keys %left) {
    my ($left) = $prom =~ /^nginx_credential_token_expiry_seconds
                            \{credential="\Q$c\E"\}\ (\S+)$/mx;
    my $life = sprintf '%.3f', ($left // -100) + ($since{$c} // 0);
    ok($life >= $left{$c} - 2 && $life < $left{$c} + 0.9,
       "c, status: $c: usable for about $life s of $left{$c}");
}

$n->stop if $ok;
$_->stop for values %m;


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
    # the seconds left plus the time since the login: 95 s of use, or a
    # little less, as for c above (a fixed "more than 93 s left" held only if the second node
    # started and read the token within 2 s of the login, which a loaded
    # machine does not promise)
    my $life = sprintf '%.3f',
        $left + time - ($nilo->requests('login'))[0]{time};
    is($nilo->logins, 1, 'redis: the second node took the first one\'s token');
    ok($left <= 95 && $life >= 95 - 2,
       "redis: $left s left, up to 95; usable for about $life s of 95");

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
