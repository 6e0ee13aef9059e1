#!/usr/bin/perl

# One outage, one line per node: the workers of a node share what was
# logged.  Each worker meets Redis's absence for itself (a sync, a lease),
# and a worker that starts during the outage (a crashed one, restarted by
# the master) meets it again; none of them says it a second time at
# "error", and the one that finds Redis back says so once.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use EdgeAuthTest;
use MockPartner;
use RedisServer;
use Fleet;

my $ID = 'nilo-once-client';
my $SECRET = 'nilo-once-secret-Qz8-never-logged';
my $KEY = 'nilo-once-api-key';

my $REDIS_PW = 'redis-once-pw-Lm2';
my $redis = RedisServer->start(password => $REDIS_PW);
my $nilo = MockPartner->start(kind => 'nilo', client_id => $ID,
                              client_secret => $SECRET, api_key => $KEY,
                              token_lifetime => 3600);
my $seal_key = join '', map { chr int rand 256 } 1 .. 32;

my ($n, $port) = Fleet::gateway(redis => $redis, nilo => $nilo, id => $ID,
                                secret => $SECRET, api_key => $KEY,
                                seal_key => $seal_key, password => $REDIS_PW);
$n->start($port);

my $st;
ok($nilo->wait_for(sub { ($st) = Fleet::api($port); $st == 200 }, 10),
   'the gateway works with Redis');

my $down = qr/\[error\].*redis \Q${\ $redis->address }\E: .*each node logs in for itself/;
my $seen = qr/\[(?:error|info)\].*redis \Q${\ $redis->address }\E: .*each node logs in for itself/;
my $again = qr/redis \Q${\ $redis->address }\E: connected again/;

sub count { my ($re) = @_; my $log = $n->error_log; scalar(() = $log =~ /$re/g) }

$redis->stop;

ok($nilo->wait_for(sub { count($down) >= 1 }, 10),
   'the outage is logged');

# every worker is replaced while Redis is away: the new ones meet the
# outage afresh, with nothing of their own to remember it by

my @old = EdgeAuthTest::_children($n->pid);
is(scalar @old, 2, 'two workers');
my $before = count($seen);
kill 'KILL', @old;

my @new;
ok($nilo->wait_for(sub {
    @new = grep { my $p = $_; !grep { $_ == $p } @old }
           EdgeAuthTest::_children($n->pid);
    @new == 2;
}, 10), 'the master starts two new workers');

ok($nilo->wait_for(sub { count($seen) > $before }, 15),
   'a new worker meets the outage');

($st) = Fleet::api($port);
is($st, 200, 'requests are served from shared memory meanwhile');
is(count($down), 1, 'the outage is said once at "error" for the node');

$redis->start_again;

ok($nilo->wait_for(sub { count($again) >= 1 }, 40),
   'the recovery is logged');
# every worker that had met the outage reconnects within its pause
sleep 2;
is(count($again), 1, 'once for the node');

$n->stop;

done_testing();
