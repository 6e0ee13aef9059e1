#!/usr/bin/perl

# A lease key without an expiry in Redis (a restore, a migration, a buggy
# or hostile server) must not stop renewals for the whole fleet: the node
# says so once, naming the lease, and logs in for itself.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use EdgeAuthTest;
use MockPartner;
use RedisServer;
use Fleet;

my $ID = 'nilo-lease-client';
my $SECRET = 'nilo-lease-secret-Wb3-never-logged';
my $KEY = 'nilo-lease-api-key';
my $REDIS_PW = 'redis-lease-pw-Ue6';

my $redis = RedisServer->start(password => $REDIS_PW);
my $nilo = MockPartner->start(kind => 'nilo', client_id => $ID,
                              client_secret => $SECRET, api_key => $KEY,
                              token_lifetime => 4);
my $seal_key = join '', map { chr int rand 256 } 1 .. 32;

my ($n, $port) = Fleet::gateway(redis => $redis, nilo => $nilo, id => $ID,
                                secret => $SECRET, api_key => $KEY,
                                seal_key => $seal_key,
                                password => $REDIS_PW);
$n->start($port);

ok($nilo->wait_logins(1, 10), 'the gateway logged in');

my $keys;
ok($nilo->wait_for(sub {
    $keys = $redis->cmd('KEYS', '*token:*');
    ref $keys && @$keys;
}, 10), 'and stored its token');
(my $lease = $keys->[0]) =~ s/token:/lease:/;

is($redis->cmd('SET', $lease, 'a-node-that-never-comes-back'), 'OK',
   'a lease without expiry appears');

# renewals every 2 s (half of 4 s): each one finds the lease held

ok($nilo->wait_for(sub { $nilo->logins >= 3 }, 12),
   'the node goes on renewing, alone');

my $fail = 0;
for (1 .. 10) {
    my ($st) = Fleet::api($port);
    $fail++ if $st != 200;
    sleep 0.2;
}
is($fail, 0, 'and no request fails');

my $want = qq{the fleet's lease "$lease" in Redis has no expiry};
my $lines = () = $n->error_log =~ /\[error\].*\Q$want\E/g;
is($lines, 1, 'one error line names the broken lease');

# the key goes: the lease works again

is($redis->cmd('DEL', $lease), 1, 'the broken lease is removed');
my $before = $nilo->logins;
ok($nilo->wait_for(sub { $nilo->logins > $before }, 10),
   'renewals go on with the fleet\'s lease');
ok($nilo->wait_for(sub { !$redis->cmd('EXISTS', $lease) }, 5),
   'which is released after the login');

$n->stop;

done_testing();
