#!/usr/bin/perl

# A Redis that answers more than the fleet asks for: a value of 1 MB
# under the token key, an array header of fifty million elements.  The
# client refuses both at once, as an outage: the node goes on with its own
# token, and no worker holds the answer in memory.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use EdgeAuthTest;
use MockPartner;
use RedisServer;
use Fleet;

my $ID = 'nilo-caps-client';
my $SECRET = 'nilo-caps-secret-Qz8-never-logged';
my $KEY = 'nilo-caps-api-key';
my $REDIS_PW = 'redis-caps-pw-Hw2';

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
                                    password => $REDIS_PW, %o);
    $n->start($port);
    return ($n, $port);
}

sub wait_log {
    my ($n, $re, $seconds) = @_;
    my $until = time + $seconds;
    while (time < $until) {
        return 1 if $n->error_log =~ $re;
        sleep 0.2;
    }
    return 0;
}


# a value of 1 MB under the token key: read when the change is announced

my ($a, $port_a) = gateway();
ok($nilo->wait_logins(1, 10), 'the gateway logged in');
my $keys;
ok($nilo->wait_for(sub {
    $keys = $redis->cmd('KEYS', '*token:*');
    ref $keys && @$keys;
}, 10), 'and stored its token in Redis');

is($redis->cmd('SET', $keys->[0], 'x' x (1024 * 1024)), 'OK',
   'a value of 1 MB replaces it');

# ... and announced as a node of the fleet announces a change (the change
# log's script: counter, log, channel), so the node reads it now, not at
# its next safety poll

my ($name) = $keys->[0] =~ /token:([0-9a-f]{32})$/;
my $count = $redis->cmd('INCR', 'nginx:credential:fleet:{changes}');
is($redis->cmd('SET', 'nginx:credential:fleet:{changes}:log',
               "$count $name"), 'OK', 'the change is logged');
$redis->cmd('PUBLISH', 'nginx:credential:fleet:changes:0', $count);

my $want = 'redis ' . $redis->address . ': an answer larger than 64 KB';
ok(wait_log($a, qr/\[error\].*\Q$want\E/, 10),
   'the answer is refused as too large, at error level');
unlike($a->error_log, qr/cannot be opened with this node's redis_key/,
       'before it is read whole (it would not unseal)');

my ($st) = Fleet::api($port_a);
is($st, 200, 'the node goes on with its own token');
is($nilo->logins, 1, 'without logging in again');
$a->stop;


# a server whose first answer is the header of a huge array

my $fake = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                 Listen => 8, ReuseAddr => 1)
    or die "fake redis: $!";
my $fake_port = $fake->sockport;

my $pid = fork // die;
if ($pid == 0) {
    # one process per connection: both workers are answered at once
    $SIG{CHLD} = 'IGNORE';
    while (my $c = $fake->accept) {
        next if fork;
        my $buf;
        sysread($c, $buf, 4096);
        syswrite($c, "*50000000\r\n");
        sleep 2;
        exit 0;
    }
    exit 0;
}
close $fake;

$nilo->reset_counters;
my ($b, $port_b) = gateway(address => "127.0.0.1:$fake_port");

$want = "redis 127.0.0.1:$fake_port: an invalid or too large answer";
ok(wait_log($b, qr/\[error\].*\Q$want\E/, 10),
   'an array of fifty million elements is refused at its header');
($st) = Fleet::api($port_b);
is($st, 200, 'the node logs in alone and serves');
unlike($b->error_log, qr/timed out/, 'without waiting for the elements');
$b->stop;

kill 'TERM', $pid;
waitpid $pid, 0;

done_testing();
