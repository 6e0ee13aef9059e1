#!/usr/bin/perl

# The fleet's channel: each node's poller listens (SUBSCRIBE) and reads the
# change counter when the change log's script announces a change (PUBLISH),
# instead of reading it every second.  Two gateways (two workers each), one
# token credential, a real redis-server:
#
#   - a token that gateway A stores reaches gateway B through the channel
#     (B's log says the change came announced);
#   - the listening connections have TCP keepalive (a silent dead one is
#     found by the kernel, not at the next safety poll);
#   - B's listening connection killed (CLIENT KILL TYPE pubsub): B listens
#     again, reads every token, and A's next token still reaches it;
#   - the channel refused (an ACL without it: Redis 7 disconnects the
#     listeners): the change made meanwhile, announced to no one, still
#     reaches B (by the counter, read every second again), and A counts it
#     in the change log although its PUBLISH is refused.

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

my $ID = 'nilo-channel-client-8';
my $SECRET = 'nilo-channel-secret-Vb3-never-logged';
my $KEY = 'nilo-channel-api-key-Jd6';
my $REDIS_PW = 'redis-channel-pw-Qe2';

my $redis = RedisServer->start(password => $REDIS_PW);
my $nilo = MockPartner->start(kind => 'nilo', client_id => $ID,
                              client_secret => $SECRET, api_key => $KEY,
                              token_lifetime => 3600);
my $seal_key = join '', map { chr int rand 256 } 1 .. 32;

sub gateway {
    return Fleet::gateway(redis => $redis, nilo => $nilo, id => $ID,
                          secret => $SECRET, api_key => $KEY,
                          seal_key => $seal_key, password => $REDIS_PW,
                          credential => 'token_refused_interval 1s;');
}

# how many times a line is in a gateway's log, waited for up to 10 s
sub wait_log {
    my ($n, $re, $count) = @_;
    my $got = 0;
    for (1 .. 100) {
        $got = () = $n->error_log =~ /$re/g;
        last if $got >= $count;
        sleep 0.1;
    }
    return $got;
}

sub count_log {
    my ($n, $re) = @_;
    my $got = () = $n->error_log =~ /$re/g;
    return $got;
}

my $LISTENS = qr/this worker listens on the fleet's channel/;
my $ANNOUNCED = qr/announced on the fleet's channel, the change log is read/;
my $TOOK = qr/took the token another node stored/;

# A renews: the partner refuses the token on A, A logs in and stores
sub renew_on_a {
    my ($gw, $port_a, $old) = @_;
    # a token refused within token_refused_interval of its issue is not
    # renewed again
    sleep 1.2;
    $nilo->reset_counters;
    $nilo->expire_tokens;
    my ($st) = Fleet::api($port_a);
    is($st, 401, 'the partner refuses the old token on A');
    ok($nilo->wait_logins(1, 10), "A logs in again")
        or diag $gw->error_log;
    my $tok;
    $nilo->wait_for(sub {
        ($st, $tok) = Fleet::api($port_a);
        $st == 200 && $tok ne $old;
    }, 10);
    isnt($tok, $old, 'A injects its new token');
    return $tok;
}

# B injects the token, within a while
sub wait_b {
    my ($port_b, $want) = @_;
    my ($st, $tok) = (0, '');
    $nilo->wait_for(sub {
        ($st, $tok) = Fleet::api($port_b);
        $st == 200 && $tok eq $want;
    }, 10);
    return $tok;
}

my ($a, $port_a) = gateway();
my ($b, $port_b) = gateway();

$a->start($port_a);
ok($nilo->wait_logins(1, 10), 'A logged in at start-up');
my ($st, $tok_a) = Fleet::api($port_a);
$nilo->wait_for(sub { ($st, $tok_a) = Fleet::api($port_a); $st == 200 }, 10);
is($st, 200, 'A injects its token');

$b->start($port_b);
is(wait_b($port_b, $tok_a), $tok_a, "B injects A's token");

is(wait_log($a, $LISTENS, 1), 1, 'A: one worker listens on the channel');
is(wait_log($b, $LISTENS, 1), 1, 'B: one worker listens on the channel');

my $clients = $redis->cmd('CLIENT', 'LIST', 'TYPE', 'pubsub');
like($clients, qr/sub=1/, 'Redis has the listeners') or diag $clients;

# the listening connections, silent for minutes, have the kernel's
# keepalive probes (timer 2 in /proc/net/tcp), the command ones need none
sub probed {
    my ($n, @lines) = (0);
    open my $fh, '<', '/proc/net/tcp' or return -1;
    <$fh>;
    for (<$fh>) {
        my @f = split;
        my ($rport) = $f[2] =~ /:([0-9A-F]+)$/;
        next unless hex($rport) == $redis->port && $f[3] eq '01';
        push @lines, $_;
        $n++ if $f[5] =~ /^02:/;
    }
    return wantarray ? ($n, @lines) : $n;
}
my ($probed, @conns) = probed();
is($probed, 2, "the two listeners' connections are probed by keepalive")
    or diag @conns;


# ---------------------------------------------------------------- announced

my $took = count_log($b, $TOOK);
my $tok_a2 = renew_on_a($a, $port_a, $tok_a);

cmp_ok(wait_log($b, $ANNOUNCED, 1), '>=', 1,
       'B read the change log because the channel announced the change');
cmp_ok(wait_log($b, $TOOK, $took + 1), '>', $took,
       'B took the token A stored');
is(wait_b($port_b, $tok_a2), $tok_a2, '... and injects it');
is($nilo->logins, 1, 'one login for both');


# ---------------------------------------------------------------- killed

# the listeners' connections killed: each node listens again and reads
# every token (what was announced meanwhile is lost)

my $killed = $redis->cmd('CLIENT', 'KILL', 'TYPE', 'pubsub');
cmp_ok($killed, '>=', 2, 'the listening connections are killed');

is(wait_log($b, qr/the fleet's channel is lost/, 1), 1,
   'B knows its channel is lost');
is(wait_log($b, $LISTENS, 2), 2, 'B listens again');

my $announced = count_log($b, $ANNOUNCED);
$took = count_log($b, $TOOK);
my $tok_a3 = renew_on_a($a, $port_a, $tok_a2);

cmp_ok(wait_log($b, $ANNOUNCED, $announced + 1), '>', $announced,
       'B is told again of the changes');
is(wait_b($port_b, $tok_a3), $tok_a3, "B injects A's next token");
is($nilo->logins, 1, 'one login for both');


# ---------------------------------------------------------------- refused

# no channel for the gateways' user any more: Redis disconnects the
# listeners, and refuses SUBSCRIBE and the script's PUBLISH from then on

is($redis->cmd('ACL', 'SETUSER', 'default', 'resetchannels'), 'OK',
   'the channel is taken from the ACL');
is(wait_log($b, qr/Redis refused SUBSCRIBE/, 1), 1,
   'B says once that Redis refuses the channel');

$announced = count_log($b, $ANNOUNCED);
my $tok_a4 = renew_on_a($a, $port_a, $tok_a3);

is(wait_b($port_b, $tok_a4), $tok_a4,
   "B injects A's token, announced to no one");
is(count_log($b, $ANNOUNCED), $announced, '... not by an announcement');
is($nilo->logins, 1, 'one login for both');

for my $g ([A => $a], [B => $b]) {
    my $log = $g->[1]->error_log;
    unlike($log, qr/\[alert\]|\[crit\]|exited on signal/,
           "$g->[0]: no crash");
    unlike($log, qr/Redis refused (?!SUBSCRIBE)/,
           "$g->[0]: the change log's script still works") or diag $log;
    unlike($log, qr/\Q$REDIS_PW\E|\Q$SECRET\E/, "$g->[0]: no secret logged");
}

$a->stop;
$b->stop;

done_testing();
