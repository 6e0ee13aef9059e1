#!/usr/bin/perl

# The fleet's channel (see t/64) with Sentinel and with Redis Cluster:
#
#   - Sentinel: each node listens on the master the sentinels name; a
#     failover (SENTINEL FAILOVER: the sentinels kill the listeners of the
#     instances they reconfigure) makes it listen again, on the new
#     master, and a token stored after it is announced to the other node;
#   - Cluster: B knows one seed, A all of them: each listens on a node of
#     its own, and A's change, published on the node of the change log's
#     slot, reaches B's (a PUBLISH reaches every node of the cluster).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use EdgeAuthTest;
use MockPartner;
use RedisServer;
use RedisSentinel;
use RedisCluster;
use Fleet;

my $ID = 'nilo-channel-ha-client-4';
my $SECRET = 'nilo-channel-ha-secret-Fw9-never-logged';
my $KEY = 'nilo-channel-ha-api-key-Ux1';
my $REDIS_PW = 'redis-channel-ha-pw-Mk7';
my $SENTINEL_PW = 'sentinel-channel-ha-pw-Tb5';

my $nilo = MockPartner->start(kind => 'nilo', client_id => $ID,
                              client_secret => $SECRET, api_key => $KEY,
                              token_lifetime => 3600);
my $seal_key = join '', map { chr int rand 256 } 1 .. 32;

my $LISTENS = qr/this worker listens on the fleet's channel/;
my $ANNOUNCED = qr/announced on the fleet's channel, the change log is read/;

sub count_log {
    my ($n, $re) = @_;
    my $got = () = $n->error_log =~ /$re/g;
    return $got;
}

# a line's count in a gateway's log reaches $count, waited for up to $secs
sub wait_log {
    my ($n, $re, $count, $secs) = @_;
    my $got = 0;
    for (1 .. ($secs // 10) * 10) {
        $got = count_log($n, $re);
        last if $got >= $count;
        sleep 0.1;
    }
    return $got;
}

sub gateway {
    return Fleet::gateway(nilo => $nilo, id => $ID, secret => $SECRET,
                          api_key => $KEY, seal_key => $seal_key,
                          password => $REDIS_PW,
                          credential => 'token_refused_interval 1s;', @_);
}

# both inject the same token, within a while
sub same_token {
    my ($port_a, $port_b, $old) = @_;
    my ($sa, $ta, $sb, $tb);
    my $ok = $nilo->wait_for(sub {
        ($sa, $ta) = Fleet::api($port_a);
        ($sb, $tb) = Fleet::api($port_b);
        $sa == 200 && $sb == 200 && $ta eq $tb
            && (!defined $old || $ta ne $old);
    }, 15);
    return $ok ? $ta : undef;
}

# A renews (the partner refuses its token); B is told through the channel
sub renewal {
    my ($what, $a, $port_a, $b, $port_b, $old) = @_;

    # a token refused within token_refused_interval of its issue is not
    # renewed again
    sleep 1.2;

    my $announced = count_log($b, $ANNOUNCED);
    $nilo->reset_counters;
    $nilo->expire_tokens;
    my ($st) = Fleet::api($port_a);
    is($st, 401, "$what: the partner refuses the old token on A");

    my $tok = same_token($port_a, $port_b, $old);
    ok(defined $tok, "$what: both inject A's new token");
    cmp_ok(wait_log($b, $ANNOUNCED, $announced + 1), '>', $announced,
           "$what: B was told of it through the channel");
    is($nilo->logins, 1, "$what: one login for both");
    return $tok;
}


# ---------------------------------------------------------------- Sentinel

{
    my $master = RedisServer->start(password => $REDIS_PW,
                                    conf => ["masterauth $REDIS_PW"]);
    my $replica = RedisServer->start(password => $REDIS_PW,
        conf => ["masterauth $REDIS_PW",
                 "replicaof 127.0.0.1 ${\ $master->port }"]);
    my $sentinels = RedisSentinel->start(master => $master, name => 'edge',
        auth_pass => $REDIS_PW, password => $SENTINEL_PW, quorum => 2,
        count => 3, down_after => 1000, failover_timeout => 3000);

    ok($sentinels->wait_ready(20),
       'Sentinel: the sentinels see each other and the replica');

    my @o = (redis => $master, env => { SENTINEL_PW => $SENTINEL_PW },
             sentinel => "redis_sentinel=${\ $sentinels->addresses } "
                         . "redis_master=edge "
                         . "redis_sentinel_password=env:SENTINEL_PW");
    my ($a, $port_a) = gateway(@o);
    my ($b, $port_b) = gateway(@o);

    $a->start($port_a);
    ok($nilo->wait_logins(1, 10), 'Sentinel: A logged in');
    $b->start($port_b);

    my $tok = same_token($port_a, $port_b);
    ok(defined $tok, 'Sentinel: both inject the same token');
    is(wait_log($b, $LISTENS, 1), 1, 'Sentinel: B listens');
    like($master->cmd('CLIENT', 'LIST', 'TYPE', 'pubsub'), qr/sub=1/,
         '... on the master');

    $tok = renewal('Sentinel', $a, $port_a, $b, $port_b, $tok);

    # a failover: the replica becomes the master

    my $rport = $replica->port;
    my $listens = count_log($b, $LISTENS);
    $sentinels->cmd(0, 'SENTINEL', 'FAILOVER', 'edge');

    ok($nilo->wait_for(sub {
        ($sentinels->master_port // 0) == $rport
            && ref $replica->cmd('ROLE')
            && $replica->cmd('ROLE')->[0] eq 'master'
    }, 30), 'Sentinel: the replica is the master now');

    cmp_ok(wait_log($b, $LISTENS, $listens + 1, 20), '>', $listens,
           'Sentinel: B listens again after the failover');
    ok($nilo->wait_for(sub {
        $replica->cmd('CLIENT', 'LIST', 'TYPE', 'pubsub') =~ /sub=1/ }, 20),
       '... on the new master');

    # the gateways' command connections may be pausing after the failover
    $nilo->wait_for(sub {
        !grep { $_->error_log =~ /\[error\].*redis master "edge":/
                && count_log($_, qr/redis master "edge": connected again/)
                   < count_log($_, qr/\[error\].*redis master "edge":/) }
              $a, $b
    }, 30);
    sleep 2;

    renewal('Sentinel, after the failover', $a, $port_a, $b, $port_b, $tok);

    for my $g ([A => $a], [B => $b]) {
        unlike($g->[1]->error_log, qr/\[alert\]|\[crit\]|exited on signal/,
               "Sentinel, $g->[0]: no crash");
    }

    $a->stop;
    $b->stop;
    $sentinels->stop;
    $replica->stop;
    $master->stop;
}


# ---------------------------------------------------------------- Cluster

{
    my $cluster = RedisCluster->start(password => $REDIS_PW);

    my ($a, $port_a) = gateway(cluster => $cluster->seeds);
    my ($b, $port_b) = gateway(cluster => $cluster->node(2)->address);

    $nilo->reset_counters;
    $a->start($port_a);
    ok($nilo->wait_logins(1, 10), 'Cluster: A logged in');
    $b->start($port_b);

    my $tok = same_token($port_a, $port_b);
    ok(defined $tok, 'Cluster: both inject the same token');
    is(wait_log($a, $LISTENS, 1), 1, 'Cluster: A listens');
    is(wait_log($b, $LISTENS, 1), 1, 'Cluster: B listens');
    like($cluster->node(2)->cmd('CLIENT', 'LIST', 'TYPE', 'pubsub'),
         qr/sub=1/, "... B on its seed");

    renewal('Cluster', $a, $port_a, $b, $port_b, $tok);

    for my $g ([A => $a], [B => $b]) {
        unlike($g->[1]->error_log, qr/\[alert\]|\[crit\]|exited on signal/,
               "Cluster, $g->[0]: no crash");
    }

    $a->stop;
    $b->stop;
    $cluster->stop;
}

done_testing();
