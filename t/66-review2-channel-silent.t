#!/usr/bin/perl

# A Redis that takes AUTH and SELECT on the listening connection but never
# answers SUBSCRIBE (a proxy without pub/sub, a broken server), while the
# command connections work: the node polls every second, as without the
# channel, and
#
#   - the listener's failures are not the node's outage: no "error" line
#     ("tokens stay in shared memory and each node logs in for itself")
#     and no "connected again" after each try (there was a pair every two
#     seconds, for ever);
#   - it asks again less and less often (the pause doubles: it was reset
#     by every AUTH that worked, so a new connection every two seconds).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use IO::Socket::INET;
use IO::Select;
use POSIX ();
use EdgeAuthTest;
use MockPartner;
use RedisServer;
use Fleet;

my $ID = 'nilo-silent-client-3';
my $SECRET = 'nilo-silent-secret-Tq8-never-logged';
my $KEY = 'nilo-silent-api-key-Wm4';
my $REDIS_PW = 'redis-silent-pw-Lz5';

my $redis = RedisServer->start(password => $REDIS_PW);

# a proxy to Redis that swallows SUBSCRIBE (and all after it)
my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Listen => 16, ReuseAddr => 1)
    or die "listen: $!";
my $proxy = fork // die "fork: $!";

if ($proxy == 0) {
    POSIX::setpgid(0, 0);
    $SIG{CHLD} = 'IGNORE';
    while (my $c = $listen->accept) {
        next if fork;
        my $r = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $redis->port)
            or POSIX::_exit(0);
        my ($sel, $silent) = (IO::Select->new($c, $r), 0);
        for (;;) {
            for my $h ($sel->can_read) {
                sysread($h, my $buf, 65536) or POSIX::_exit(0);
                if ($h == $c) {
                    $silent ||= $buf =~ /SUBSCRIBE/i;
                    syswrite $r, $buf unless $silent;
                } else {
                    syswrite $c, $buf;
                }
            }
        }
    }
    POSIX::_exit(0);
}

my $proxy_port = $listen->sockport;
close $listen;
END { kill 'KILL', -$proxy if $proxy; }

my $nilo = MockPartner->start(kind => 'nilo', client_id => $ID,
                              client_secret => $SECRET, api_key => $KEY,
                              token_lifetime => 3600);
my $seal_key = join '', map { chr int rand 256 } 1 .. 32;

my ($n, $port) = Fleet::gateway(redis => $redis, nilo => $nilo, id => $ID,
                                secret => $SECRET, api_key => $KEY,
                                seal_key => $seal_key,
                                password => $REDIS_PW,
                                address => "127.0.0.1:$proxy_port");
$n->start($port);

my ($st, $tok) = (0, '');
$nilo->wait_for(sub { ($st, $tok) = Fleet::api($port); $st == 200 }, 10);
is($st, 200, 'the gateway injects its token');

# the third try waits 4 s (redis_timeout is 500ms): about 6 s from start
my $paced = 0;
for (1 .. 150) {
    $paced = 1, last if $n->error_log =~ /Redis timed out;.*next try in 4000ms/;
    sleep 0.1;
}
my $log = $n->error_log;
ok($paced, 'the listener asks again less and less often') or diag $log;

unlike($log, qr/\[error\]/, 'no error line: the node is not in an outage');
unlike($log, qr/connected again/, 'no "connected again" after each try');
unlike($log, qr/\Q$REDIS_PW\E|\Q$SECRET\E/, 'no secret logged');

($st) = Fleet::api($port);
is($st, 200, 'requests go on');

$n->stop;

done_testing();
