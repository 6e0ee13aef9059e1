#!/usr/bin/perl

# Redis Sentinel: two gateways find the master through three sentinels
# (quorum 2), one master and one replica.  The master is killed under
# traffic: no request fails, the sentinels promote the replica, both nodes
# ask them again and follow it (the token survived on it, and a renewal
# after the failover is one login for the fleet, leased and stored on the
# new master).  A sentinel that cannot be reached, or that does not know
# the master's name, is one error line and a node that logs in alone.
# Also the Sentinel parameters at "nginx -t".

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use List::Util qw(max);
use EdgeAuthTest;
use MockPartner;
use RedisServer;
use RedisSentinel;
use Fleet;

my $ID = 'nilo-sentinel-client';
my $SECRET = 'nilo-sentinel-secret-Tq4-never-logged';
my $KEY = 'nilo-sentinel-api-key';
my $REDIS_PW = 'redis-sentinel-data-pw-Kx3';
my $SENTINEL_PW = 'sentinel-pw-Vb9-never-logged';


# ---------------------------------------------------------------- nginx -t

{
    my $base = "credential x { header a b; }\n"
             . "server { listen 127.0.0.1:1; location / { "
             . "credential_inject x; } }\n";
    my $key = 'redis_key=file:%%DIR%%/good.key';
    my @bad = (
        [ 'redis_sentinel= without redis_master=',
          "credential_store zone=t:1m redis_sentinel=127.0.0.1:26379 $key;",
          qr/"redis_sentinel=" needs "redis_master=NAME".*nginx\.conf:\d+/ ],
        [ 'redis_master= without redis_sentinel=',
          "credential_store zone=t:1m redis_master=m $key;",
          qr/"redis_master=" needs "redis_sentinel=HOST:PORT,\.\.\."/ ],
        [ 'both redis= and redis_sentinel=',
          "credential_store zone=t:1m redis=127.0.0.1:6379 "
          . "redis_sentinel=127.0.0.1:26379 redis_master=m $key;",
          qr/"redis=" and "redis_sentinel=" exclude each other.*nginx\.conf:\d+/ ],
        [ 'a bad sentinel address',
          "credential_store zone=t:1m redis_sentinel=127.0.0.1:26379,:x "
          . "redis_master=m $key;",
          qr/invalid sentinel address ":x"/ ],
        [ 'sentinel password from a missing variable',
          "credential_store zone=t:1m redis_sentinel=127.0.0.1:26379 "
          . "redis_master=m redis_sentinel_password=env:NO_SUCH_VAR_S $key;",
          qr/redis_sentinel_password: environment variable "NO_SUCH_VAR_S" is not set/ ],
        [ 'TLS with Sentinel',
          "credential_store zone=t:1m redis_sentinel=127.0.0.1:26379 "
          . "redis_master=m redis_ssl=on $key;",
          qr/TLS with "redis_sentinel=" is not supported/ ],
    );

    for my $case (@bad) {
        my ($name, $store, $re) = @$case;
        my $n = nginx_new(http => "$store\n$base");
        $n->write_file('good.key', ('ab' x 32) . "\n");
        my ($ok, $out) = $n->test_config;
        ok(!$ok, "nginx -t fails: $name");
        like($out, $re, "... and says why: $name");
    }

    my $n = nginx_new(http => "credential_store zone=t:1m "
        . "redis_sentinel=127.0.0.1:26379,localhost:26380 redis_master=m "
        . "redis_sentinel_password=file:%%DIR%%/s.pw $key;\n$base");
    $n->write_file('good.key', ('ab' x 32) . "\n");
    $n->write_file('s.pw', "pw\n");
    my ($ok, $out) = $n->test_config;
    ok($ok, 'sentinels, a master name and a sentinel password are accepted')
        or diag $out;
}


# ---------------------------------------------------------------- the fleet

my $master = RedisServer->start(password => $REDIS_PW,
                                conf => ["masterauth $REDIS_PW"]);
my $replica = RedisServer->start(password => $REDIS_PW,
    conf => ["masterauth $REDIS_PW",
             "replicaof 127.0.0.1 ${\ $master->port }"]);
my $sentinels = RedisSentinel->start(master => $master, name => 'edge',
    auth_pass => $REDIS_PW, password => $SENTINEL_PW, quorum => 2,
    count => 3, down_after => 1000, failover_timeout => 3000);

ok($sentinels->wait_ready(20), 'the sentinels see each other and the replica');

my $nilo = MockPartner->start(kind => 'nilo', client_id => $ID,
                              client_secret => $SECRET, api_key => $KEY,
                              token_lifetime => 3600);
my $seal_key = join '', map { chr int rand 256 } 1 .. 32;

sub gateway {
    my (%o) = @_;
    return Fleet::gateway(redis => $master, nilo => $nilo, id => $ID,
        secret => $SECRET, api_key => $KEY, seal_key => $seal_key,
        password => $REDIS_PW, env => { SENTINEL_PW => $SENTINEL_PW },
        credential => 'token_refused_interval 1s;',
        sentinel => "redis_sentinel=${\ $sentinels->addresses } "
                    . "redis_master=edge "
                    . "redis_sentinel_password=env:SENTINEL_PW", %o);
}

sub api { Fleet::api(@_) }

sub count_in {
    my ($n, $re) = @_;
    my $log = $n->error_log;
    return scalar(() = $log =~ /$re/g);
}

my ($a, $port_a) = gateway();
my ($b, $port_b) = gateway(hex => 1);

$a->start($port_a);
$b->start($port_b);

my ($sa, $ta, $sb, $tb);
ok($nilo->wait_for(sub {
    ($sa, $ta) = api($port_a);
    ($sb, $tb) = api($port_b);
    $sa == 200 && $sb == 200 && $ta eq $tb;
}, 15), 'both gateways inject the same token');
is($nilo->logins, 1, 'one login for the fleet, through the sentinels');

my $mport = $master->port;
like($a->error_log, qr/redis sentinel [\d.:]+: master "edge" is 127\.0\.0\.1:$mport/,
     'the sentinels named the master');

my $keys = $master->cmd('KEYS', '*token:*');
is(scalar @$keys, 1, 'the master holds the token') or diag explain $keys;
my $old_value = $master->cmd('GET', $keys->[0]);
unlike($old_value, qr/\Q$ta\E/, 'sealed, not the token in clear');

# the replica has it too before the master dies
ok($nilo->wait_for(sub {
    defined $replica->cmd('GET', $keys->[0]) }, 10),
   'the token is replicated');

# a sentinel that names a replica as the master: ROLE says so, the node
# writes nothing there and logs in alone

{
    my $fake = RedisSentinel->fake('127.0.0.1', $replica->port);
    my ($e, $port_e) = gateway(sentinel => "redis_sentinel=${\ $fake->addresses } "
                                           . "redis_master=edge");
    $nilo->reset_counters;
    $e->start($port_e);

    my $not = qr/\[error\].*redis master "edge": 127\.0\.0\.1:${\ $replica->port } is not a master \(ROLE: slave\)/;
    ok($nilo->wait_for(sub { count_in($e, $not) }, 10),
       'a replica named as the master: ROLE is checked, one error line');
    my ($st) = api($port_e);
    is($st, 200, '... the node serves');
    is($nilo->logins, 1, '... with a login of its own');
    unlike($e->error_log, qr/READONLY/, '... and never wrote to the replica');
    $e->stop;
    $fake->stop;
    $nilo->reset_counters;
}

# a master demoted under the connection answers writes with READONLY: an
# outage, and the sentinels are asked again

{
    my $demoted = RedisSentinel->fake_master;
    my $fake = RedisSentinel->fake('127.0.0.1', $demoted->port);
    my ($f, $port_f) = gateway(sentinel => "redis_sentinel=${\ $fake->addresses } "
                                           . "redis_master=edge");
    $nilo->reset_counters;
    $f->start($port_f);

    my $ro = qr/redis master "edge": READONLY: the master became a replica; the sentinels are asked again/;
    ok($nilo->wait_for(sub { count_in($f, $ro) }, 10),
       'READONLY is said');
    # once per worker to begin with, then at every retry
    ok($nilo->wait_for(sub { $fake->asked >= 3 }, 10),
       '... and the sentinels are asked again');
    my ($st) = api($port_f);
    is($st, 200, '... the node serves');
    is($nilo->logins, 1, '... with a login of its own');
    sleep 1.5;
    is(count_in($f, qr/\[error\].*redis master "edge":/), 1,
       '... one error line for the outage');
    $f->stop;
    $fake->stop;
    $demoted->stop;
    $nilo->reset_counters;
}

# ------------------------------------------------ the master dies, traffic on

my $rport = $replica->port;
my ($ok, $fail) = (0, 0);

sub traffic {
    for my $port ($port_a, $port_b) {
        my ($s) = api($port);
        $s == 200 ? $ok++ : $fail++;
    }
}

traffic() for 1 .. 3;
$master->stop;

my $followed = qr/master "edge" is 127\.0\.0\.1:$rport/;
my $until = time + 40;
my $promoted = 0;

while (time < $until) {
    traffic();
    $promoted ||= (($sentinels->master_port // 0) == $rport);
    last if $promoted
            && count_in($a, $followed) && count_in($b, $followed);
    sleep 0.2;
}

ok($promoted, 'the sentinels promoted the replica');
ok(count_in($a, $followed) && count_in($b, $followed),
   'both gateways asked the sentinels again and were told the new master');
is($fail, 0, "no request failed during the failover ($ok served)");
is($nilo->logins, 0, 'no login during the failover');

is($replica->cmd('ROLE')->[0], 'master', 'the replica is the master now');
is($replica->cmd('GET', $keys->[0]), $old_value,
   'the stored token survived on the new master');

# both nodes write to the new master: a 401 renews once for the fleet, the
# lease and the new token go to it

my $outage = qr/\[error\].*redis master "edge":/;
my $again = qr/\[notice\].*redis master "edge": connected again/;

ok($nilo->wait_for(sub {
    !grep { count_in($_, $outage) > count_in($_, $again) } $a, $b
}, 30), 'both gateways are connected to the new master');

# and every worker is past its pause: the longest one said in the logs
my $pause = max(0, map { $_->error_log =~ /next try in (\d+)ms/g }
                       $a, $b);
sleep $pause / 1000 + 0.5;

$nilo->reset_counters;
$nilo->expire_tokens;

my ($st) = api($port_a);
is($st, 401, 'the partner refuses the old token on A');

ok($nilo->wait_for(sub {
    ($sa, $ta) = api($port_a);
    ($sb, $tb) = api($port_b);
    $sa == 200 && $sb == 200 && $ta eq $tb;
}, 15), 'both gateways inject the renewed token');
is($nilo->logins, 1, 'one login for the fleet after the failover');

my $new_value = $replica->cmd('GET', $keys->[0]);
ok(defined $new_value && $new_value ne $old_value,
   'the renewed token was written to the new master');
unlike($new_value // '', qr/\Q$ta\E|\Q$SECRET\E|\Q$ID\E/,
       'no token or secret in clear in Redis');

for my $k (@{ $replica->cmd('KEYS', '*') }) {
    my $v = $replica->cmd('GET', $k) // '';
    unlike($v, qr/\Q$ta\E|\Q$SECRET\E|\Q$REDIS_PW\E|\Q$SENTINEL_PW\E/,
           "nothing in clear in $k");
}

# one error line per outage and node, and the recovery once

for my $g ([A => $a], [B => $b]) {
    my $n = $g->[1];
    ok(count_in($n, $outage) <= 1,
       "$g->[0]: at most one error line for the failover");
    is(count_in($n, $again), count_in($n, $outage),
       "$g->[0]: the recovery said once, if there was an outage");
    my $log = $n->error_log;
    unlike($log, qr/\Q$REDIS_PW\E|\Q$SENTINEL_PW\E|\Q$SECRET\E/,
           "$g->[0]: no password in the log");
    unlike($log, qr/\Q$ta\E/, "$g->[0]: no token in the log");
    unlike($log, qr/exited on signal|\[alert\]|\[crit\]/,
           "$g->[0]: no crash, no alert");
}

$a->stop;
$b->stop;


# -------------------------------------- no sentinel answers, an unknown name

{
    my $nowhere = free_port();

    for my $case (
        [ 'no sentinel answers', "redis_sentinel=127.0.0.1:$nowhere "
          . "redis_master=edge", qr/connect\(\) failed/ ],
        [ 'an unknown master name', "redis_sentinel=${\ $sentinels->addresses } "
          . "redis_master=nosuch redis_sentinel_password=env:SENTINEL_PW",
          qr/does not know master "nosuch"/ ])
    {
        my ($name, $conf, $why) = @$case;

        $nilo->reset_counters;
        my ($c, $port_c) = gateway(sentinel => $conf);
        $c->start($port_c);

        ($st) = (0);
        ok($nilo->wait_for(sub { ($st) = api($port_c); $st == 200 }, 10),
           "$name: the gateway works");
        is($nilo->logins, 1, "$name: it logged in alone");

        my $down = qr/\[error\].*redis master "(?:edge|nosuch)": no sentinel gave its address/;
        ok($nilo->wait_for(sub { count_in($c, $down) >= 1 }, 10),
           "$name: the outage is logged");
        # both workers meet it, each pause doubles
        sleep 2.5;
        is(count_in($c, $down), 1, "$name: once, at \"error\"");
        like($c->error_log, $why, "$name: and says why");
        unlike($c->error_log, qr/\Q$SENTINEL_PW\E/,
               "$name: no sentinel password in the log");
        $c->stop;
    }
}

$sentinels->stop;
$replica->stop;

done_testing();
