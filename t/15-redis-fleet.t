#!/usr/bin/perl

# Two gateways (two workers each) share one Nilo token through a real
# redis-server: one login for the fleet, the second gateway takes the
# first one's token, a 401 on either renews once for both, and Redis holds
# only sealed values under names that say nothing.  Also the credential_store
# Redis parameters at "nginx -t".

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

my $ID = 'nilo-fleet-client-31';
my $SECRET = 'nilo-fleet-secret-Hq2-never-logged';
my $KEY = 'nilo-fleet-api-key-Wm7';
my $REDIS_PW = 'redis-pw-Zr81-never-logged';

my $redis = RedisServer->start(password => $REDIS_PW);
my $nilo = MockPartner->start(kind => 'nilo', client_id => $ID,
                              client_secret => $SECRET, api_key => $KEY,
                              token_lifetime => 3600);

# the same key, written raw on one node and in hex on the other
my $seal_key = join '', map { chr int rand 256 } 1 .. 32;

sub gateway {
    my (%o) = @_;
    return Fleet::gateway(redis => $redis, nilo => $nilo, id => $ID,
                          secret => $SECRET, api_key => $KEY,
                          seal_key => $seal_key, password => $REDIS_PW,
                          credential => 'token_refused_interval 1s;', %o);
}

sub api { Fleet::api(@_) }

# a token the gateway injects that the partner accepts, within a while
sub wait_ok {
    my ($port, $secs) = @_;
    my ($st, $tok);
    $nilo->wait_for(sub { ($st, $tok) = api($port); $st == 200 },
                    $secs // 10);
    return ($st, $tok);
}


# ---------------------------------------------------------------- nginx -t

{
    my $base = "credential x { header a b; }\n"
             . "server { listen 127.0.0.1:1; location / { "
             . "credential_inject x; } }\n";
    my @bad = (
        [ 'redis= without a key',
          "credential_store zone=t:1m redis=127.0.0.1:6379;",
          qr/"redis=" needs "redis_key=file:PATH".*nginx\.conf:\d+/ ],
        [ 'key as a literal',
          "credential_store zone=t:1m redis=127.0.0.1:6379 redis_key=abc;",
          qr/redis_key: the key must come from "file:" or "env:"/ ],
        [ 'short key',
          "credential_store zone=t:1m redis=127.0.0.1:6379 "
          . "redis_key=file:%%DIR%%/short.key;",
          qr/the key must be 32 bytes, or 64 hex digits/ ],
        [ 'missing key file',
          "credential_store zone=t:1m redis=127.0.0.1:6379 "
          . "redis_key=file:%%DIR%%/none.key;",
          qr/cannot open secret file/ ],
        [ 'redis parameters without an address',
          "credential_store zone=t:1m redis_db=2 "
          . "redis_key=file:%%DIR%%/good.key;",
          qr/Redis parameters need "redis=ADDRESS"/ ],
        [ 'bad database',
          "credential_store zone=t:1m redis=127.0.0.1 redis_db=two "
          . "redis_key=file:%%DIR%%/good.key;",
          qr/invalid Redis database number "two"/ ],
        [ 'bad timeout',
          "credential_store zone=t:1m redis=127.0.0.1 redis_timeout=0 "
          . "redis_key=file:%%DIR%%/good.key;",
          qr/invalid Redis timeout "0"/ ],
        [ 'unknown parameter',
          "credential_store zone=t:1m redis=127.0.0.1 redis_tls=on "
          . "redis_key=file:%%DIR%%/good.key;",
          qr/invalid parameter "redis_tls=on"/ ],
        [ 'password from a missing variable',
          "credential_store zone=t:1m redis=127.0.0.1 "
          . "redis_password=env:NO_SUCH_VAR_X "
          . "redis_key=file:%%DIR%%/good.key;",
          qr/redis_password: environment variable "NO_SUCH_VAR_X" is not set/ ],
    );

    for my $case (@bad) {
        my ($name, $store, $re) = @$case;
        my $n = nginx_new(http => "$store\n$base");
        $n->write_file('short.key', "0123456789abcdef\n");
        $n->write_file('good.key', ('ab' x 32) . "\n");
        my ($ok, $out) = $n->test_config;
        ok(!$ok, "nginx -t fails: $name");
        like($out, $re, "... and says why: $name");
    }

    my $n = nginx_new(http => "credential_store zone=t:1m "
        . "redis=unix:%%DIR%%/redis.sock redis_db=3 redis_prefix=gw: "
        . "redis_key=file:%%DIR%%/good.key;\n$base");
    $n->write_file('good.key', ('ab' x 32) . "\n");
    my ($ok, $out) = $n->test_config;
    ok($ok, 'a unix socket, a database and a prefix are accepted') or diag $out;
}


# ---------------------------------------------------------------- the fleet

my ($a, $port_a) = gateway();
my ($b, $port_b) = gateway(hex => 1);

$a->start($port_a);
ok($nilo->wait_logins(1, 10), 'gateway A logged in at start-up');

my ($st, $tok_a) = wait_ok($port_a);
is($st, 200, 'A injects its token');

$b->start($port_b);
my $tok_b;
($st, $tok_b) = wait_ok($port_b);
is($st, 200, 'B injects a token');
is($tok_b, $tok_a, 'B took the token A stored in Redis');
is($nilo->logins, 1, 'one login for the fleet of two gateways');

# what Redis holds

my $all = $redis->cmd('KEYS', '*');
my $keys = [ grep { !/:fleet:\{changes\}/ } @$all ];
is(scalar @$keys, 1, 'Redis holds one token key (the lease was released)')
    or diag explain $all;
is(scalar @$all, 3, '... and the change counter and log')
    or diag explain $all;
like($redis->cmd('GET', 'nginx:credential:fleet:{changes}:log'),
     qr/^1 [0-9a-f]{32}$/, 'the log names the changed key, nothing else');
like($keys->[0], qr/^nginx:credential:token:[0-9a-f]{32}$/,
     'the key name is the prefix and an HMAC');
unlike($keys->[0], qr/\Q$ID\E|nilo/i, 'the key name does not name the client');

my $value = $redis->cmd('GET', $keys->[0]);
ok(length $value > length $tok_a, 'a value is stored');
unlike($value, qr/\Q$tok_a\E/, 'the value is not the token in clear');
my $tok_core = substr($tok_a, 10, 16);
unlike($value, qr/\Q$tok_core\E/, 'no piece of the token is in clear');
unlike($value, qr/\Q$SECRET\E|\Q$ID\E/, 'nor the client id or secret');

my $ttl = $redis->cmd('PTTL', $keys->[0]);
ok($ttl > 3500_000 && $ttl <= 3600_000,
   "the TTL is the token's remaining lifetime ($ttl ms)");

# a value moved to another key name does not open (associated data): a
# gateway with the same key but another prefix finds A's value under its
# own name

{
    my $name_a = $keys->[0];
    (my $name_c = $name_a) =~ s/^nginx:credential:/gw2:/;
    is($redis->cmd('SET', $name_c, $value), 'OK', 'a value copied');

    my ($c, $port_c) = gateway(prefix => 'gw2:');
    $c->start($port_c);
    ($st) = wait_ok($port_c);
    is($st, 200, 'a gateway that cannot open the stored value still works');
    is($nilo->logins, 2, '... it logged in for itself');
    like($c->error_log, qr/the token in Redis cannot be opened with this node's redis_key/,
         '... and says that the stored token cannot be opened');
    $c->stop;
}

# a 401 on A renews once, and B takes the new token

$nilo->wait_for(sub { 0 }, 1);
$nilo->reset_counters;
$nilo->expire_tokens;

($st) = api($port_a);
is($st, 401, 'the partner refuses the old token on A');
ok($nilo->wait_logins(1, 10), 'A logs in again');

my $tok_a2;
($st, $tok_a2) = wait_ok($port_a);
isnt($tok_a2, $tok_a, 'A injects a new token');

# B adopts it without a request failing first (the tick looks at Redis)
$nilo->wait_for(sub { (api($port_b))[1] eq $tok_a2 }, 10);
($st, $tok_b) = api($port_b);
is($st, 200, 'B injects ...');
is($tok_b, $tok_a2, '... the token A obtained');
is($nilo->logins, 1, 'one login for both after the 401');

# both refused at once: still one renewal for the fleet (the last refusal
# renewal, and the token B took from A, are older than token_refused_interval)

$nilo->wait_for(sub { 0 }, 1.2);
$nilo->reset_counters;
$nilo->expire_tokens;

my @pids;
for my $port ($port_a, $port_b, $port_a, $port_b) {
    my $pid = fork // die;
    if ($pid == 0) { eval { api($port) }; POSIX::_exit(0) }
    push @pids, $pid;
}
waitpid $_, 0 for @pids;

my ($sa, $ta, $sb, $tb);
$nilo->wait_for(sub {
    ($sa, $ta) = api($port_a);
    ($sb, $tb) = api($port_b);
    $sa == 200 && $sb == 200 && $ta eq $tb;
}, 15);
is($sa, 200, 'A works again after 401s on both gateways');
is($tb, $ta, 'B injects the same token as A');
is($nilo->logins, 1, 'the partner saw one login for the fleet');
is($nilo->max_concurrent, 1, 'never two logins at once');

# secrets stay out of the logs

for my $g ([A => $a], [B => $b]) {
    my $log = $g->[1]->error_log;
    unlike($log, qr/\Q$REDIS_PW\E/, "$g->[0]: no Redis password in the log");
    unlike($log, qr/\Q$tok_a2\E|\Q$ta\E/, "$g->[0]: no token in the log");
}

$a->stop;
$b->stop;


# short-lived tokens renewed under traffic: one login per renewal for the
# fleet, never two logins for the same renewal

$nilo->reset_counters;
$nilo->set(token_lifetime => 4);
$redis->cmd('FLUSHALL');

my ($c, $port_c) = gateway();
my ($d, $port_d) = gateway(hex => 1);
$c->start($port_c);
$d->start($port_d);

my ($ok, $fail) = (0, 0);
my $until = time + 9;
while (time < $until) {
    for my $port ($port_c, $port_d) {
        my ($s) = api($port);
        $s == 200 ? $ok++ : $fail++;
    }
    sleep 0.05;
}

my @logins = map { $_->{time} } $nilo->requests('login');
ok(@logins >= 3, 'tokens were renewed (' . scalar(@logins) . ' logins)');
ok(@logins <= 6, 'about one login per half lifetime for the fleet, not '
                 . 'one per gateway');
my @gaps = map { $logins[$_] - $logins[$_ - 1] } 1 .. $#logins;
ok(!grep({ $_ < 0.8 } @gaps), 'never two logins for the same renewal')
    or diag "gaps: @gaps";
ok($ok > 50, "traffic ran ($ok)");
is($fail, 0, 'no request failed across renewals');

for my $g ([A => $a], [B => $b], [C => $c], [D => $d]) {
    unlike($g->[1]->error_log, qr/exited on signal|\[alert\]|\[crit\]/,
           "$g->[0]: no crash, no alert");
}

$c->stop;
$d->stop;

done_testing();
