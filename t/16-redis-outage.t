#!/usr/bin/perl

# Redis goes away and comes back empty while two gateways serve traffic:
# no request fails while the token is valid, a renewal during the outage
# is one login per node, the token goes back into Redis when it returns,
# and the nodes agree on one token again.  A wrong Redis password gives a
# clear log line and the shared-memory fallback.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use Time::HiRes qw(sleep);
use EdgeAuthTest;
use MockPartner;
use RedisServer;
use Fleet;

my $ID = 'nilo-outage-client';
my $SECRET = 'nilo-outage-secret-Pk5-never-logged';
my $KEY = 'nilo-outage-api-key';
my $REDIS_PW = 'redis-outage-pw-Jd4';

my $redis = RedisServer->start(password => $REDIS_PW);
my $nilo = MockPartner->start(kind => 'nilo', client_id => $ID,
                              client_secret => $SECRET, api_key => $KEY,
                              token_lifetime => 3600);
my $seal_key = join '', map { chr int rand 256 } 1 .. 32;

sub gateway {
    my (%o) = @_;
    my ($n, $port) = Fleet::gateway(redis => $redis, nilo => $nilo,
                                    id => $ID, secret => $SECRET,
                                    api_key => $KEY, seal_key => $seal_key,
                                    password => $REDIS_PW, hex => 1, %o);
    $n->start($port);
    return ($n, $port);
}

sub api { Fleet::api(@_) }

sub token_key {
    my $keys = $redis->cmd('KEYS', '*token:*');
    return ref $keys && @$keys ? $keys->[0] : undef;
}

my ($a, $port_a) = gateway();
ok($nilo->wait_logins(1, 10), 'A logged in');
my ($b, $port_b) = gateway();

my ($sa, $ta, $sb, $tb);
ok($nilo->wait_for(sub {
    ($sa, $ta) = api($port_a);
    ($sb, $tb) = api($port_b);
    $sa == 200 && $sb == 200;
}, 10), 'both gateways work');
is($tb, $ta, 'with one token');
is($nilo->logins, 1, 'from one login');


# traffic on both gateways while Redis stops and comes back empty

my $dir = $a->dir;
my $traffic = fork // die;

if ($traffic == 0) {
    my ($ok, $bad) = (0, 0);
    until (-e "$dir/stop-traffic") {
        for my $port ($port_a, $port_b) {
            my ($st) = eval { api($port) };
            ($st // 0) == 200 ? $ok++ : $bad++;
        }
        sleep 0.02;
    }
    open my $fh, '>', "$dir/traffic" or die;
    print $fh "$ok $bad\n";
    close $fh;
    POSIX::_exit(0);
}

sleep 1;
$redis->stop;
sleep 3;

ok(defined $ta, 'Redis stopped during traffic');

$redis->start_again;
ok($nilo->wait_for(sub { defined token_key() }, 20),
   'the token is stored again in the restarted, empty Redis');

sleep 1;
open my $fh, '>', "$dir/stop-traffic" or die;
close $fh;
waitpid $traffic, 0;

open $fh, '<', "$dir/traffic" or die "no traffic result";
my ($ok, $bad) = split ' ', <$fh>;
close $fh;

ok($ok > 20, "traffic ran ($ok requests)");
is($bad, 0, 'no request failed while Redis was away');
is($nilo->logins, 1, 'and no gateway logged in again');

like($a->error_log, qr/\[error\].*redis \Q${\ $redis->address }\E: .*each node logs in for itself/,
     'the outage is logged, with what it means');
my $errors = () = $a->error_log =~ /\[error\].*redis /g;
is($errors, 1, 'one error line for the node, whatever its workers met');
# a worker that saw the outage tries again after 1, 2, 4, 8 s: the try
# that finds Redis back may come a while after another worker stored the
# token again
my $again = qr/redis \Q${\ $redis->address }\E: connected again/;
$nilo->wait_for(sub { $a->error_log =~ $again }, 20);
like($a->error_log, $again, 'the recovery is logged');


# a renewal while Redis is away: one login per node

$redis->stop;
$nilo->reset_counters;
$nilo->expire_tokens;

($sa) = api($port_a);
is($sa, 401, 'the partner refuses the old token (A)');
($sb) = api($port_b);
is($sb, 401, 'the partner refuses the old token (B)');

ok($nilo->wait_for(sub {
    ($sa, $ta) = api($port_a);
    ($sb, $tb) = api($port_b);
    $sa == 200 && $sb == 200;
}, 15), 'both gateways log in for themselves without Redis');
is($nilo->logins, 2, 'one login per node');
isnt($ta, $tb, 'each node has its own token');

$redis->start_again;

ok($nilo->wait_for(sub {
    ($sa, $ta) = api($port_a);
    ($sb, $tb) = api($port_b);
    $sa == 200 && $sb == 200 && $ta eq $tb;
}, 40), 'once Redis is back, the nodes agree on one token');
is($nilo->logins, 2, 'without another login');


# a wrong Redis password: a clear line, and the gateway works alone

my ($w, $port_w) = gateway(password => 'not-the-password');
my $sw;
ok($nilo->wait_for(sub { ($sw) = api($port_w); $sw == 200 }, 10),
   'a gateway with a wrong Redis password still works');
like($w->error_log, qr/\[error\].*redis \Q${\ $redis->address }\E: AUTH refused: WRONGPASS/,
     'and says that Redis refused its password');
unlike($w->error_log, qr/not-the-password/, 'without printing it');
is($nilo->logins, 3, 'it logged in for itself');


# an ACL user and another database

my $acl = RedisServer->start(user => 'gateway', password => 'acl-pw-Tt3');
my ($u, $port_u) = gateway(redis => $acl, user => 'gateway', db => 3,
                           password => 'acl-pw-Tt3');
my $su;
ok($nilo->wait_for(sub { ($su) = api($port_u); $su == 200 }, 10),
   'a gateway with a Redis ACL user works');
ok($nilo->wait_for(sub {
       my $k = $acl->in_db(3);
       $k && @$k;
   }, 10), 'and stores its token in the database it was given');
unlike($u->error_log, qr/\[error\].*redis/, 'without a Redis error');


# Redis refuses writes (as after a failover, READONLY, or out of memory):
# the lease is refused, the node logs in for itself, once, and says so once

$nilo->reset_counters;
is($redis->cmd('CONFIG', 'SET', 'maxmemory-policy', 'noeviction'), 'OK',
   'Redis set to refuse writes ...');
is($redis->cmd('CONFIG', 'SET', 'maxmemory', '1'), 'OK', '... when full');
$nilo->expire_tokens;

($sa) = api($port_a);
is($sa, 401, 'the partner refuses the old token');
ok($nilo->wait_for(sub { ($sa) = api($port_a); $sa == 200 }, 10),
   'A logs in for itself although Redis refuses the lease');
like($a->error_log, qr/\[error\].*credential "nilo": Redis refused SET lease: OOM/,
     'and says that Redis refused the lease, with Redis\'s words');
sleep 2.5;
my $refusals = () = $a->error_log =~ /Redis refused/g;
ok($refusals <= 2, "one line per worker, not one per tick ($refusals)");
$redis->cmd('CONFIG', 'SET', 'maxmemory', '0');


# a unix socket: works, and an outage there is not logged at "crit" per try

my ($x, $port_x) = Fleet::gateway(redis => $redis, nilo => $nilo, id => $ID,
                                  secret => $SECRET, api_key => $KEY,
                                  seal_key => $seal_key,
                                  password => $REDIS_PW,
                                  address => $redis->unix_address);
$x->start($port_x);
my $sx;
ok($nilo->wait_for(sub { ($sx) = api($port_x); $sx == 200 }, 10),
   'a gateway that reaches Redis over a unix socket works');
like($x->error_log, qr/took the token another node stored in Redis/,
     'and takes the fleet\'s token from there');
$redis->stop;
sleep 4;
unlike($x->error_log, qr/\[crit\]/, 'a vanished socket is not logged at crit');
like($x->error_log, qr/\[error\].*redis unix:.*each node logs in for itself/,
     'the outage is logged once');
$redis->start_again;

for my $g ([A => $a], [B => $b], [W => $w], [U => $u], [X => $x]) {
    unlike($g->[1]->error_log, qr/exited on signal|\[alert\]|\[crit\]/,
           "$g->[0]: no crash, no alert");
}

$_->stop for $a, $b, $w, $u, $x;

done_testing();
