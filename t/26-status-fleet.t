#!/usr/bin/perl

# credential_status with a Redis fleet: Redis configured and connected,
# the last sync time, the lease held elsewhere counted, Redis gone shown;
# and never the Redis password, the seal key or a Redis key name in any
# format.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use JSON::PP;
use EdgeAuthTest;
use MockPartner;
use RedisServer;
use Fleet;

my $ID = 'fleet-status-client-3q';
my $SECRET = 'fleet-status-secret-Hy61-never-shown';
my $KEY = 'fleet-status-api-key-Mm08-never-shown';
my $REDIS_PW = 'fleet-status-redis-pw-Ux20-never-shown';
my $PREFIX = 'stfleet-Pq7-';

my $redis = RedisServer->start(password => $REDIS_PW);
my $nilo = MockPartner->start(kind => 'nilo', client_id => $ID,
                              client_secret => $SECRET, api_key => $KEY,
                              token_lifetime => 3600);
my $seal_key = join '', map { chr(65 + int rand 26) } 1 .. 32;

my ($n, $port) = Fleet::gateway(
    redis => $redis, nilo => $nilo, id => $ID, secret => $SECRET,
    api_key => $KEY, seal_key => $seal_key, password => $REDIS_PW,
    prefix => $PREFIX,
    locations => 'location = /status { credential_status; }');
$n->start($port);

sub status {
    my ($q) = @_;
    my $r = http_request($port, "GET /status${\ ($q // '') } HTTP/1.1\n"
                                . "Host: x\nConnection: close\n\n");
    return $r->{body} if $q;
    return eval { decode_json($r->{body}) } || {};
}

my ($st) = (0);
ok($nilo->wait_for(sub { ($st) = Fleet::api($port); $st == 200 }, 10),
   'the fleet gateway works');

my $s;
ok($nilo->wait_for(sub {
    $s = status();
    $s->{credentials}{nilo}{redis}{last_sync_at}
}, 10), 'a sync with Redis') or diag explain $s;

is($s->{redis}{configured}, JSON::PP::true, 'Redis configured');
ok($nilo->wait_for(sub { status()->{redis}{connected} }, 5),
   'Redis connected');
is($s->{credentials}{nilo}{redis}{up}, JSON::PP::true, 'Redis up');
is($s->{credentials}{nilo}{redis}{lease_contention}, 0, 'no contention yet');

# another node holds the lease: this one's renewal finds it taken

my @keys = @{ $redis->cmd('KEYS', "${PREFIX}*") || [] };
my ($token_key) = grep { /token:/ } @keys;
ok($token_key, 'the token is in Redis');
(my $lease_key = $token_key // '') =~ s/token:/lease:/;

is($redis->cmd('SET', $lease_key, 'another-node', 'PX', 4000), 'OK',
   'the lease taken by "another node"');

$nilo->expire_tokens;
is((Fleet::api($port))[0], 401, 'the partner refuses the token');

ok($nilo->wait_for(sub {
    status()->{credentials}{nilo}{redis}{lease_contention} >= 1
}, 10), 'the lease held elsewhere counted');

$redis->cmd('DEL', $lease_key);
ok($nilo->wait_for(sub { (Fleet::api($port))[0] == 200 }, 15),
   'renewed once the lease is free');

# the Prometheus text has the Redis metrics

my $prom = status('?format=prometheus');
like($prom, qr/^nginx_credential_redis_up\{credential="nilo"\} 1$/m,
     'redis_up');
like($prom, qr/^nginx_credential_redis_lease_contention_total
               \{credential="nilo"\}\x20[1-9]/mx, 'lease contention');
like($prom, qr/^nginx_credential_redis_last_sync_timestamp_seconds
               \{credential="nilo"\}\x20[1-9]\d+$/mx, 'last sync');
like($prom, qr/^nginx_credential_redis_connected 1$/m, 'connected');

# nothing secret, in any format

@keys = @{ $redis->cmd('KEYS', '*') || [] };
ok(@keys >= 1, scalar(@keys) . ' Redis keys');

my @names = map { my $k = $_; (my $x = $k) =~ s/^\Q$PREFIX\E\w+://; ($k, $x) }
            @keys, $lease_key;
my @tokens = map { $_->{token} // () } $nilo->requests('login');

my @secret = ($SECRET, $ID, $KEY, $REDIS_PW, $seal_key,
              unpack('H*', $seal_key), @names, @tokens);

for my $q ('', '?format=prometheus', '?format=html') {
    my $body = status($q || '?format=json');
    my @found = grep { index($body, $_) >= 0 } @secret;
    is("@found", '', "/status$q: no secret, token or Redis key name");
}

# Redis gone: shown

$redis->stop;
ok($nilo->wait_for(sub {
    my $j = status();
    !$j->{credentials}{nilo}{redis}{up}
}, 10), 'Redis down shown');

$n->stop;

is($nilo->errors, '', 'mock without errors');

done_testing();
