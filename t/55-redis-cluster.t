#!/usr/bin/perl

# Redis Cluster: credential_store redis_cluster=SEEDS against three
# redis-server masters joined by "redis-cli --cluster create".  Two
# gateways share one login through the cluster; a credential's token and
# lease share a slot (hash tag) and live on the master that owns it.
# Then, under traffic with short-lived tokens, that slot moves to another
# master step by step (MIGRATING/IMPORTING, MIGRATE, SETSLOT NODE): the
# gateways follow "-ASK" and then "-MOVED" with no request failing, no
# outage and still one login per renewal for the fleet.  Also the
# parameters at "nginx -t".

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use List::Util ();
use Time::HiRes qw(sleep time);
use EdgeAuthTest;
use MockPartner;
use RedisCluster;
use Fleet;

my $ID = 'nilo-cluster-client-55';
my $SECRET = 'nilo-cluster-secret-Tg6-never-logged';
my $KEY = 'nilo-cluster-api-key-Jx3';
my $REDIS_PW = 'redis-cluster-pw-Mn4-never-logged';


# ---------------------------------------------------------------- nginx -t

{
    my $base = "credential x { header a b; }\n"
             . "server { listen 127.0.0.1:1; location / { "
             . "credential_inject x; } }\n";
    my $key = 'redis_key=file:%%DIR%%/good.key';
    my @bad = (
        [ 'redis= and redis_cluster=',
          "credential_store zone=t:1m redis=127.0.0.1:6379 "
          . "redis_cluster=127.0.0.1:7000 $key;",
          qr/"redis=" and "redis_cluster=" exclude each other.*nginx\.conf:\d+/ ],
        [ 'redis_cluster= and redis=',
          "credential_store zone=t:1m redis_cluster=127.0.0.1:7000 "
          . "redis=127.0.0.1:6379 $key;",
          qr/"redis=" and "redis_cluster=" exclude each other.*nginx\.conf:\d+/ ],
        [ 'redis_cluster= twice',
          "credential_store zone=t:1m redis_cluster=127.0.0.1:7000 "
          . "redis_cluster=127.0.0.1:7001 $key;",
          qr/"redis_cluster=" is duplicate.*nginx\.conf:\d+/ ],
        [ 'a database other than 0',
          "credential_store zone=t:1m redis_cluster=127.0.0.1:7000 "
          . "redis_db=2 $key;",
          qr/"redis_db=" cannot be used with "redis_cluster=".*nginx\.conf:\d+/ ],
        [ 'a brace in the prefix',
          "credential_store zone=t:1m redis_cluster=127.0.0.1:7000 "
          . "\"redis_prefix=gw{1}:\" $key;",
          qr/"redis_prefix=" cannot contain "\{" or "\}" with "redis_cluster="/ ],
        [ 'a unix socket seed',
          "credential_store zone=t:1m "
          . "redis_cluster=127.0.0.1:7000,unix:/tmp/r.sock $key;",
          qr/invalid Redis Cluster seed "unix:\/tmp\/r\.sock": expected "host:port"/ ],
        [ 'an empty seed',
          "credential_store zone=t:1m "
          . "redis_cluster=127.0.0.1:7000,,127.0.0.1:7001 $key;",
          qr/invalid Redis Cluster seeds .*an empty address/ ],
        [ 'redis_cluster= without a key',
          "credential_store zone=t:1m redis_cluster=127.0.0.1:7000;",
          qr/"redis=" needs "redis_key=file:PATH"/ ],
        [ 'TLS parameter without TLS',
          "credential_store zone=t:1m redis_cluster=127.0.0.1:7000 "
          . "redis_ssl_name=redis.internal $key;",
          qr/"redis_ssl_name=" needs TLS/ ],
    );

    for my $case (@bad) {
        my ($name, $store, $re) = @$case;
        my $n = nginx_new(http => "$store\n$base");
        $n->write_file('good.key', ('ab' x 32) . "\n");
        my ($ok, $out) = $n->test_config;
        ok(!$ok, "nginx -t fails: $name");
        like($out, $re, "... and says why: $name");
    }

    for my $store ("redis_cluster=127.0.0.1:7000,localhost:7001 "
                   . "redis_password=pw redis_prefix=gw: redis_timeout=2s",
                   "redis_cluster=tls://127.0.0.1:7000,127.0.0.1:7001 "
                   . "redis_ssl_name=redis.internal redis_ssl_verify=off")
    {
        my $n = nginx_new(http => "credential_store zone=t:1m $store "
                                  . "$key;\n$base");
        $n->write_file('good.key', ('ab' x 32) . "\n");
        my ($ok, $out) = $n->test_config;
        ok($ok, "accepted: $store") or diag $out;
    }
}


# ---------------------------------------------------------------- the fleet

my $cluster = RedisCluster->start(password => $REDIS_PW);
my $nilo = MockPartner->start(kind => 'nilo', client_id => $ID,
                              client_secret => $SECRET, api_key => $KEY,
                              token_lifetime => 3600);

my $seal_key = join '', map { chr int rand 256 } 1 .. 32;

# A knows every master; B one of them, and learns the others
sub gateway {
    my (%o) = @_;
    return Fleet::gateway(cluster => $cluster->seeds, nilo => $nilo,
                          id => $ID, secret => $SECRET, api_key => $KEY,
                          seal_key => $seal_key, password => $REDIS_PW,
                          credential => 'token_refused_interval 1s;', %o);
}

sub api { Fleet::api(@_) }

sub wait_ok {
    my ($port, $secs) = @_;
    my ($st, $tok);
    $nilo->wait_for(sub { ($st, $tok) = api($port); $st == 200 },
                    $secs // 10);
    return ($st, $tok);
}

my $NAME = qr/^nginx:credential:(token|lease):\{[0-9a-f]{32}\}$/;

my ($a, $port_a) = gateway();
my ($b, $port_b) = gateway(cluster => $cluster->node(2)->address);

$a->start($port_a);
ok($nilo->wait_logins(1, 10), 'gateway A logged in at start-up');
my ($st, $tok_a) = wait_ok($port_a);
is($st, 200, 'A injects its token');

$b->start($port_b);
my $tok_b;
($st, $tok_b) = wait_ok($port_b);
is($st, 200, 'B injects a token');
is($tok_b, $tok_a, 'B took the token A stored in the cluster');
is($nilo->logins, 1, 'one login for the fleet of two gateways');

# where the token is: on the master owning its slot, alone

my $by_node = $cluster->keys_by_node($NAME);
my @all = map { @$_ } @$by_node;
is(scalar @all, 1, 'the cluster holds one token key (the lease was '
                   . 'released)') or diag explain $by_node;
my $token_key = $all[0] // '';
like($token_key, qr/^nginx:credential:token:\{[0-9a-f]{32}\}$/,
     'the key name is the prefix and an HMAC as a hash tag');

my $slot = $cluster->slot($token_key);
my $from = $cluster->owner($slot);
is_deeply($by_node->[$from], [$token_key],
          "the key is on the master that owns its slot ($slot)");
(my $lease_key = $token_key) =~ s/:token:/:lease:/;
is($cluster->slot($lease_key), $slot, 'the lease is in the same slot');

# the fleet's change log: its two keys share a slot too, on its master

my $log_keys = $cluster->keys_by_node(qr/^nginx:credential:fleet:/);
my ($log_node) = grep { @{ $log_keys->[$_] } } 0 .. $#$log_keys;
is_deeply([ sort @{ $log_keys->[$log_node // 0] } ],
          [ 'nginx:credential:fleet:{changes}',
            'nginx:credential:fleet:{changes}:log' ],
          'the change log is on one master')
    or diag explain $log_keys;
is($cluster->owner($cluster->slot('nginx:credential:fleet:{changes}')),
   $log_node, '... the one that owns its slot');

my $value = $cluster->node($from)->cmd('GET', $token_key);
ok(length $value > length $tok_a, 'a value is stored');
unlike($value, qr/\Q$tok_a\E|\Q$SECRET\E|\Q$ID\E/,
       'the value is neither the token nor the client in clear');

$a->stop;
$b->stop;


# ------------------------------------------- the slot moves, under traffic

$nilo->reset_counters;
$nilo->set(token_lifetime => 4);
$_->cmd('FLUSHALL') for $cluster->nodes;

my ($c, $port_c) = gateway();
my ($d, $port_d) = gateway(cluster => $cluster->node(1)->address);
$c->start($port_c);
$d->start($port_d);
wait_ok($port_c);
wait_ok($port_d);

my $to = ($from + 1) % 3;
my %seen;
my ($ok, $fail) = (0, 0);
my @steps = (
    [ 2, sub { $cluster->migrating($slot, $from, $to) } ],
    [ 3, sub { $cluster->migrate_keys($slot, $from, $to) } ],
    [ 6, sub { $cluster->migrate_keys($slot, $from, $to);
               $cluster->moved($slot, $to) } ],
);

# requests from both gateways in each of the four phases: before, while
# the slot migrates, while its keys move, after it moved
my @phase = (0) x 4;
my $start = time;
while (time < $start + 10
       || (grep { $_ < 2 } @phase) && time < $start + 60)
{
    if (@steps && time >= $start + $steps[0][0]) {
        (shift @steps)->[1]->();
    }

    for my $port ($port_c, $port_d) {
        my ($s, $t) = api($port);
        $s == 200 ? $ok++ : $fail++;
        $phase[3 - @steps]++ if $s == 200;
        $seen{$t} = 1 if $t;
    }

    sleep 0.25;
}

ok(!grep({ $_ < 2 } @phase), "traffic ran in every phase (@phase)");
is($fail, 0, 'no request failed while the slot moved');

my @logins = map { $_->{time} } $nilo->requests('login');
ok(@logins >= 3, 'tokens were renewed (' . scalar(@logins) . ' logins)');
ok(@logins <= 7, 'about one login per half lifetime for the fleet, not '
                 . 'one per gateway');
my @gaps = map { $logins[$_] - $logins[$_ - 1] } 1 .. $#logins;
ok(!grep({ $_ < 0.8 } @gaps), 'never two logins for the same renewal')
    or diag "gaps: @gaps";

my $logs = $c->error_log . $d->error_log;
like($logs, qr/redis cluster: slot $slot is moving to \S+ \(ASK\)/,
     'a gateway followed "-ASK" while the keys moved');
like($logs, qr/redis cluster: slot $slot moved to \S+ \(MOVED\)/,
     '... and "-MOVED" once the slot had moved');
unlike($logs, qr/tokens stay in shared memory|Redis refused/,
       'no outage, no refused command');

is($cluster->owner($slot), $to, 'the slot is on its new master');
# the 4 s tokens are still renewed every 2 s: a renewal in flight holds
# its lease key next to the token for as long as its login takes; wait
# for a moment without one (15 s: a lease that is never given back lives
# 3 login_timeouts, more than 30 s, and still fails the checks below)
$nilo->wait_for(sub {
    $by_node = $cluster->keys_by_node($NAME);
    return scalar(map { @$_ } @$by_node) == 1
           && ($by_node->[$to][0] // '') eq $token_key;
}, 15);
is_deeply($by_node->[$to], [$token_key],
          'the token is on the new master') or diag explain $by_node;
is(scalar(map { @$_ } @$by_node), 1, '... and nowhere else');


# ------------------------------- the slot's master dies, its replica takes
# over: the gateways lose that node and ask another one for the map

$nilo->reset_counters;
$nilo->set(token_lifetime => 3600);

my ($tc, $td) = ('', '');
$nilo->wait_for(sub {
    (undef, $tc) = api($port_c);
    (undef, $td) = api($port_d);
    $nilo->logins >= 1 && $tc eq $td && $tc eq $nilo->last_token;
}, 10);
is($td, $tc, 'both gateways inject a long-lived token');
$seen{$tc} = 1;

my $replica = $cluster->add_replica($to);
my $dead = $cluster->node($to)->port;
my $mark_c = length $c->error_log;
my $mark_d = length $d->error_log;

$cluster->kill_node($to);
sleep 0.3;
$cluster->takeover($replica);

($ok, $fail) = (0, 0);
$start = time;
while (time < $start + 3) {
    for my $port ($port_c, $port_d) {
        my ($s) = api($port);
        $s == 200 ? $ok++ : $fail++;
    }
    sleep 0.25;
}
is($fail, 0, "no request failed while the master was lost ($ok served)");

# calls that met the dead master before the takeover may have paused its
# connection: once every outage line has its notice and the longest pause
# said is over, every worker finds the new map (a worker still paused would
# log in by itself: a second login, as documented for an outage)

my $since = sub {
    substr($c->error_log, $mark_c) . substr($d->error_log, $mark_d);
};
$nilo->wait_for(sub {
    my $log = $since->();
    my $lost = () = $log =~ /\[error\].*tokens stay in shared memory/g;
    my $back = () = $log =~ /\[notice\].*redis cluster \S+: answering again/g;
    $back >= $lost;
}, 30);
my $longest = List::Util::max(1000,
    $since->() =~ /tokens stay in shared memory.*next try in (\d+)ms/g);
sleep $longest / 1000 + 0.5;

# a renewal after the failover: through the new master, once for both

my ($renew_c, $renew_d) = (length $c->error_log, length $d->error_log);
$nilo->reset_counters;
$nilo->expire_tokens;
(my $st_c) = api($port_c);
is($st_c, 401, 'the partner refuses the old token on C');
ok($nilo->wait_logins(1, 10), 'C logs in again');
my $tok_new;
$nilo->wait_for(sub {
    ($tc) = (api($port_c))[1];
    ($td) = (api($port_d))[1];
    $tc ne $td ? 0 : ($tok_new = $tc) ne '' && $tc eq $nilo->last_token;
}, 15);
ok($tok_new, 'C injects a new token');
is($td, $tok_new, 'D took it from the promoted replica');
# one login for the fleet; a second only from a node whose Redis call
# failed at the renewal, which the log must then say (the cluster's line:
# a node's own connect() failed is met on the way to the new map in runs
# with one login too): one login per node is what an outage allows
my $renewal_log = substr($c->error_log, $renew_c)
                  . substr($d->error_log, $renew_d);
my $failed = $renewal_log
             =~ /redis cluster \S+: [^\n]*tokens stay in shared memory/;
ok($nilo->logins == 1 || ($nilo->logins == 2 && $failed),
   'one login for the fleet after the failover ('
   . $nilo->logins . ($failed ? ', a Redis call failed' : '') . ')')
    or diag $renewal_log;
$seen{$tok_new} = 1 if $tok_new;

$by_node = $cluster->keys_by_node($NAME);
is_deeply($by_node->[$replica], [$token_key],
          'the token is on the promoted replica') or diag explain $by_node;

my $after = substr($c->error_log, $mark_c) . substr($d->error_log, $mark_d);
my @errors = $after =~ /\[error\].*tokens stay in shared memory/g;
ok(@errors <= 2, 'at most one outage line per gateway (' . scalar(@errors)
                 . ')') or diag $after;
my @back = $after =~ /\[notice\].*redis cluster \S+: answering again/g;
is(scalar @back, scalar @errors, '... each ended by a notice')
    or diag $after;
like($after, qr/\[info\].* redis 127\.0\.0\.1:$dead: (the idle connection closed|connect\(\) failed)/,
     'the lost master is said in the log, at info');
unlike($after, qr/\[(alert|crit)\]/, 'no alert');

# nothing in clear in Redis, nothing secret in the logs

my @values = grep { defined }
             map { my $n = $cluster->node($_);
                   map { $n->cmd('GET', $_) } @{ $by_node->[$_] } }
             0 .. $#$by_node;
ok(@values >= 1, 'values are stored');
my @clear = grep { my $v = $_; grep { index($v, $_) >= 0 } keys %seen,
                                      $SECRET, $ID } @values;
is(scalar @clear, 0, 'no token or secret in clear in any Redis value');

for my $g ([C => $c], [D => $d]) {
    my $log = $g->[1]->error_log;
    unlike($log, qr/\Q$REDIS_PW\E|\Q$SECRET\E/,
           "$g->[0]: no password or secret in the log");
    ok(!grep({ index($log, $_) >= 0 } keys %seen),
       "$g->[0]: no token in the log");
    unlike($log, qr/exited on signal|\[alert\]|\[crit\]/,
           "$g->[0]: no crash, no alert");
}

$c->stop;
$d->stop;
$cluster->stop;

done_testing();
