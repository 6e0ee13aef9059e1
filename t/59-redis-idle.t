#!/usr/bin/perl

# A fleet at rest costs Redis a few commands a second per node, whatever
# the number of credentials: two gateways (two workers each) with 20 token
# credentials, counted with INFO commandstats over a few seconds (each
# gateway used to read every token every second: 20 to 40 GETs a second
# per node), and no worker wakes up for each credential every second.  A
# token that gateway A stores is still taken by gateway B within a poll or
# two, without a login or a failed request on B.

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

my $ID = 'nilo-idle-client-5';
my $SECRET = 'nilo-idle-secret-Rt6-never-logged';
my $KEY = 'nilo-idle-api-key-Pz2';
my $REDIS_PW = 'redis-idle-pw-Gb4';
my $N = 20;

my $redis = RedisServer->start(password => $REDIS_PW);
my $nilo = MockPartner->start(kind => 'nilo', client_id => $ID,
                              client_secret => $SECRET, api_key => $KEY,
                              token_lifetime => 3600);
my $seal_key = join '', map { chr int rand 256 } 1 .. 32;
my $url = $nilo->url;

sub gateway {
    my $port = free_port();
    my $creds = join '', map { <<"CRED" } 1 .. $N;
    credential c$_ {
        header       x-api-key $KEY;
        login        $url/login;
        login_body   json;
        login_param  clientId $ID;
        login_param  clientSecret env:NILO_SECRET;
        login_header x-api-key $KEY;
        token_header Authorization "Bearer {token}";
        token_refused_interval 1s;
    }
CRED

    my $n = nginx_new(workers => 2, env => { NILO_SECRET => $SECRET,
                                             REDIS_PW => $REDIS_PW },
                      http => <<"CONF");
    credential_store zone=tokens:1m redis=${\ $redis->address }
                     redis_password=env:REDIS_PW
                     redis_key=file:%%DIR%%/seal.key redis_timeout=500ms;
$creds
    server {
        listen 127.0.0.1:$port;
        location / {
            credential_inject c1;
            proxy_pass $url;
        }
    }
CONF
    $n->write_file('seal.key', $seal_key);
    return ($n, $port);
}

# every command Redis ran, but the test's own
sub commands {
    my $info = $redis->cmd('INFO', 'commandstats');
    my $sum = 0;
    while ($info =~ /^cmdstat_(\w+):calls=(\d+)/mg) {
        $sum += $2 unless $1 =~ /^(info|auth|keys|get_test)$/;
    }
    return $sum;
}

my ($a, $port_a) = gateway();
my ($b, $port_b) = gateway();

$a->start($port_a);
ok($nilo->wait_logins($N, 20), "A logged in for its $N credentials");

$b->start($port_b);

my ($st, $tok_a, $tok_b);
$nilo->wait_for(sub {
    ($st, $tok_b) = Fleet::api($port_b);
    $st == 200 && $tok_b ne '';
}, 10);
is($st, 200, 'B injects a token');
($st, $tok_a) = Fleet::api($port_a);
is($tok_b, $tok_a, "B took A's token");

# at rest: the start-up reads are over after a few seconds
sleep 3;
is($nilo->logins, $N, "$N logins for the fleet");

# the workers' sleeps in epoll_wait: one voluntary context switch each
my @workers = map { EdgeAuthTest::_children($_->pid) } $a, $b;

sub wakeups {
    my $n = 0;
    for my $pid (@workers) {
        open my $fh, '<', "/proc/$pid/status" or next;
        while (<$fh>) {
            $n += $1 if /^voluntary_ctxt_switches:\s+(\d+)/;
        }
    }
    return $n;
}

my ($c0, $t0, $w0) = (commands(), time, wakeups());
sleep 6;
my ($c1, $t1, $w1) = (commands(), time, wakeups());

my $rate = ($c1 - $c0) / ($t1 - $t0) / 2;
note sprintf "%.2f Redis commands a second per node at rest, %d credentials",
     $rate, $N;
ok($rate <= 3, sprintf "at rest, a node sends at most 3 commands a second "
                       . "(%.2f), not one per credential", $rate);
ok($rate > 0, '... and still looks at Redis');

# Nor does a worker look at every credential every second (each used to
# wake up for each of its credentials in turn, 10 here): it wakes up for
# the fleet's poll (and the answer), and looks at the credentials whose
# token changed
my $wake = ($w1 - $w0) / ($t1 - $t0) / @workers;
note sprintf "%.2f wake-ups a second per worker at rest", $wake;
is(scalar @workers, 4, 'two workers a gateway');
ok($wake < 4, sprintf "at rest, a worker wakes up a few times a second "
                      . "(%.2f), not once per credential", $wake);

# a new token on A reaches B through the change log

$nilo->reset_counters;
$nilo->expire_tokens;

($st) = Fleet::api($port_a);
is($st, 401, 'the partner refuses the old token on A');
ok($nilo->wait_logins(1, 10), 'A logs in again');

my $tok_a2;
$nilo->wait_for(sub {
    ($st, $tok_a2) = Fleet::api($port_a);
    $st == 200 && $tok_a2 ne $tok_a;
}, 10);
isnt($tok_a2, $tok_a, 'A injects its new token');

# B's requests are not made to fail first: Redis is looked at by B alone
my $took = 0;
for (1 .. 100) {
    my $log = $b->error_log;
    $took = () = $log =~ /took the token another node stored/g;
    last if $took >= $N + 1;
    sleep 0.1;
}
cmp_ok($took, ">=", $N + 1, 'B took the new token from Redis by itself');
($st, $tok_b) = Fleet::api($port_b);
is($st, 200, 'B injects ...');
is($tok_b, $tok_a2, '... the token A obtained');
is($nilo->logins, 1, 'one login for both');

for my $g ([A => $a], [B => $b]) {
    unlike($g->[1]->error_log, qr/\[alert\]|\[crit\]|exited on signal|Redis refused/,
           "$g->[0]: no crash, no refusal");
}

$a->stop;
$b->stop;

done_testing();
