#!/usr/bin/perl

# The authorization-code flow in a fleet: two gateways share Redis.  The
# operator connects once on gateway A; gateway B uses the same tokens;
# Redis holds them sealed; a restart of both gateways keeps them (no new
# connect step); renewals with a rotating refresh token are one per
# renewal for the fleet; a revoked refresh token puts every node into
# "needs authorization" without a loop, and connecting again on one node
# heals both.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use EdgeAuthTest;
use MockPartner;
use OAuthBrowser;
use OAuthConf;
use RedisServer;

my $SECRET = 'octo-fleet-secret-4b8e2d';
my $REDIS_PW = 'redis-oauth-pw-Nn2';
my $GET = "GET /api/x HTTP/1.1\nHost: localhost\nConnection: close\n\n";

my $redis = RedisServer->start(password => $REDIS_PW);
my $octo = MockPartner->start(kind => 'octorate', client_id => 'oc-fleet',
                              client_secret => $SECRET, token_lifetime => 3600,
                              rotate_refresh => 1);
my $url = $octo->url;
my $seal_key = join '', map { chr int rand 256 } 1 .. 32;

# both gateways name the same callback (the one the partner knows): the
# operator connects on A
my $port_a = free_port();
my $port_b = free_port();
my $cb = "http://127.0.0.1:$port_a/octorate/callback";

sub gateway {
    my ($port) = @_;
    my $n = nginx_new(workers => 2, env => { REDIS_PW => $REDIS_PW },
                      http => <<"CONF");
    credential_store zone=tokens:1m redis=${\ $redis->address }
                     redis_password=env:REDIS_PW
                     redis_key=file:%%DIR%%/seal.key redis_timeout=500ms;

${\ octorate_credential(url => $url, client_id => 'oc-fleet',
        secret => $SECRET, redirect_uri => $cb,
        extra => ['state_key          0123456789abcdef0123456789abcdef;']) }
${\ octorate_server(port => $port, url => $url) }
CONF
    $n->write_file('seal.key', $seal_key);
    $n->start($port);
    return $n;
}

sub api {
    my ($port) = @_;
    my $r = http_request($port, $GET);
    return ($r->{status}, $r->{body});
}

sub wait_api {
    my ($port, $want, $secs) = @_;
    my ($st, $body);
    $octo->wait_for(sub { ($st, $body) = api($port); $st == $want },
                    $secs // 10);
    return ($st, $body);
}

my $a = gateway($port_a);
my $b = gateway($port_b);

my ($st, $body) = api($port_b);
is($st, 503, 'not connected: B answers 503');
like($body, qr/credential-needs-authorization/, '... needs authorization');

# the operator connects once, on A

my $s = connect_step($port_a);
my $r = callback($port_a, $s);
is($r->{status}, 200, 'connected on A');
is($octo->count('token:200'), 1, 'one code exchange');

($st) = wait_api($port_a, 200);
is($st, 200, 'A injects the token');
($st) = wait_api($port_b, 200);
is($st, 200, 'B injects the token A obtained, without a connect step');
is($octo->last_api->{bearer}, $octo->last_token, '... the exchanged one');

# what Redis holds: sealed, with a TTL of at least a week (refresh token)

my $keys = $redis->cmd('KEYS', '*token:*');
is(scalar @$keys, 1, 'Redis holds the token');
my $value = $redis->cmd('GET', $keys->[0]);
my $access = $octo->last_token;
unlike($value, qr/\Q$access\E/, 'the access token is not in clear');
unlike($value, qr/rt-\d+-/, 'the refresh token is not in clear');
ok($redis->cmd('PTTL', $keys->[0]) > 6 * 86400 * 1000,
   'kept at least a week, for the refresh token');

# both gateways restart: shared memory is gone, Redis has the tokens

$a->stop;
$b->stop;
$a = gateway($port_a);
$b = gateway($port_b);

($st) = wait_api($port_a, 200);
is($st, 200, 'after a restart A works without a connect step');
($st) = wait_api($port_b, 200);
is($st, 200, 'so does B');
is($octo->count('token'), 1, 'still one code exchange');
unlike($a->error_log . $b->error_log, qr/run its connect step/,
       'no node asked for the connect step');

# renewal with a rotating refresh token: one per renewal, none burnt

$octo->reset_counters;
$octo->expire_tokens;

($st) = api($port_a);
is($st, 401, 'the partner ends the access token early');
($st) = wait_api($port_a, 200);
is($st, 200, 'A renewed it with the refresh token');
($st) = wait_api($port_b, 200, 15);
is($st, 200, 'B uses the renewed token');
is($octo->count('refresh:200'), 1, 'one renewal for the fleet');
is($octo->count('refresh:400'), 0, 'no refresh token burnt');

# revocation: every node needs authorization, once, without a loop

$octo->revoke_refresh_tokens;
$octo->expire_tokens;

api($port_a);
api($port_b);
($st, $body) = wait_api($port_a, 503, 15);
like($body, qr/credential-needs-authorization/, 'revoked: A needs authorization');
($st, $body) = wait_api($port_b, 503, 15);
like($body, qr/credential-needs-authorization/, 'revoked: B too');
my $refused = $octo->count('refresh:400');
ok($refused >= 1 && $refused <= 2, "refused once per node at most ($refused)");
sleep 3;
is($octo->count('refresh:400'), $refused, 'no retry loop');

# connecting again on A heals both

$s = connect_step($port_a);
$r = callback($port_a, $s);
is($r->{status}, 200, 'connected again on A');
($st) = wait_api($port_a, 200);
is($st, 200, 'A works again');
($st) = wait_api($port_b, 200, 15);
is($st, 200, 'B takes the new tokens from Redis');

# Redis away: no node renews a live grant alone (two nodes renewing with
# one rotating refresh token would burn it); once the token is dead, they
# do

$octo->set(token_lifetime => 8);
$s = connect_step($port_a);
$r = callback($port_a, $s);
is($r->{status}, 200, 'connected with 8 s tokens');
($st) = wait_api($port_b, 200, 15);
is($st, 200, 'B has them');

$redis->stop;
$octo->reset_counters;
sleep 6;    # past the renewal point (half the lifetime), before expiry
is($octo->count('refresh'), 0,
   'Redis away: the live grant is not renewed without the lease');
ok($octo->wait_for(sub { $octo->count('refresh:200') >= 1 }, 15),
   'once the token is dead, it is renewed alone');
$redis->start_again;

for my $g ([A => $a], [B => $b]) {
    my $log = $g->[1]->error_log;
    unlike($log, qr/exited on signal|\[alert\]|\[crit\]/,
           "$g->[0]: no crash, no alert");
    unlike($log, qr/\Q$SECRET\E|\Q$REDIS_PW\E/, "$g->[0]: no secret logged");
}

$_->stop for $a, $b;

done_testing();
