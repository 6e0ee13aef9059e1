#!/usr/bin/perl

# The node's poller reads the change log, moves the node's "seen" counter
# on, and then reads the changed tokens: a poller killed between the two
# (a crash, or a reload's exit: the answers never come) must not leave
# the change unread.  Its successor takes the poll over (the pid is gone),
# but the counter already says "seen", and a look at every credential
# does not read Redis: B kept A's old token until the sweep came round
# (two seconds per credential) or a request was refused.  Here B reaches
# Redis through a relay that kills B's workers as soon as B asks for the
# changed token after the change log.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use POSIX ();
use Time::HiRes qw(sleep time);
use EdgeAuthTest;
use MockPartner;
use RedisServer;

my $ID = 'nilo-killed-client-4';
my $SECRET = 'nilo-killed-secret-Hv3-never-logged';
my $KEY = 'nilo-killed-api-key-Yc6';
my $REDIS_PW = 'redis-killed-pw-Qm2';
# the sweep reads one token every other second: c1 of 30 once a minute
my $N = 30;

my $redis = RedisServer->start(password => $REDIS_PW);
my $nilo = MockPartner->start(kind => 'nilo', client_id => $ID,
                              client_secret => $SECRET, api_key => $KEY,
                              token_lifetime => 3600);
my $seal_key = join '', map { chr int rand 256 } 1 .. 32;
my $url = $nilo->url;

my $relay = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 16, ReuseAddr => 1) or die $!;
my $relay_port = $relay->sockport;
my $dir = "/tmp/edge-auth-relay-$$";
mkdir $dir;

sub gateway {
    my ($redis_address) = @_;
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
    credential_store zone=tokens:1m redis=$redis_address
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

my ($a, $port_a) = gateway($redis->address);
my ($b, $port_b) = gateway("127.0.0.1:$relay_port");

# the relay: once armed (a file), a token read right after the change log
# kills B's workers before Redis sees it
my $relay_pid = fork // die;
if ($relay_pid == 0) {
    my $sel = IO::Select->new($relay);
    my (%peer, %log);
    while (1) {
        for my $s ($sel->can_read(0.2)) {
            if ($s == $relay) {
                my $c = $relay->accept or next;
                my $r = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                              PeerPort => $redis->port)
                    or do { close $c; next };
                @peer{$c, $r} = ($r, $c);
                $log{$c} = 0;
                $sel->add($c, $r);
                next;
            }
            my $n = sysread($s, my $buf, 65536);
            my $o = $peer{$s};
            if (!$n) {
                $sel->remove($s, $o);
                delete @peer{$s, $o};
                close $s; close $o;
                next;
            }
            if (exists $log{$s}) {
                # from B
                $log{$s} = 1 if $buf =~ /changes\}:log/;
                if ($log{$s} && $buf =~ /credential:token:/
                    && -e "$dir/armed")
                {
                    unlink "$dir/armed";
                    open my $fh, '>', "$dir/killed"; close $fh;
                    kill 'KILL', EdgeAuthTest::_children($b->pid);
                    next;
                }
                $log{$s} = 0 if $buf =~ /credential:token:/;
            }
            syswrite($o, $buf);
        }
    }
    POSIX::_exit(0);
}

$a->start($port_a);
ok($nilo->wait_logins($N, 20), "A logged in for its $N credentials");
$b->start($port_b);

my ($st, $tok_a, $tok_b);
$nilo->wait_for(sub {
    ($st, $tok_b) = Fleet_api($port_b);
    $st == 200 && $tok_b ne '';
}, 10);
($st, $tok_a) = Fleet_api($port_a);
is($tok_b, $tok_a, "B took A's token");
sleep 2;

# one change on A; B's poller is killed as it reads the changed token
open my $fh, '>', "$dir/armed"; close $fh;
$nilo->reset_counters;
$nilo->expire_tokens;
($st) = Fleet_api($port_a);
is($st, 401, 'the partner refuses the old token on A');
ok($nilo->wait_logins(1, 10), 'A logs in again');

my $killed = 0;
for (1 .. 50) {
    last if $killed = -e "$dir/killed";
    sleep 0.1;
}
ok($killed, "B's workers were killed as B read the changed token");

# B's new workers: one takes the poll over, and reads the token of the
# change the killed one could not read (no request on B meanwhile: a
# refused one would have B read Redis for itself)
my $took = 0;
for (1 .. 60) {
    $took = () = $b->error_log =~ /took the token another node stored/g;
    last if $took > $N;
    sleep 0.1;
}
cmp_ok($took, '>', $N, "B took A's new token after all");

my $tok_a2;
($st, $tok_a2) = Fleet_api($port_a);
($st, $tok_b) = Fleet_api($port_b);
is($tok_b, $tok_a2, "B injects A's new token");

kill 'KILL', $relay_pid;
waitpid $relay_pid, 0;
unlink "$dir/armed", "$dir/killed";
rmdir $dir;

$a->stop;
$b->stop;

done_testing();

sub Fleet_api {
    my ($port) = @_;
    my $r = http_request($port, "GET /api/orders HTTP/1.1\nHost: x\n"
                                . "Connection: close\n\n");
    my ($tok) = ($r->{body} // '') =~ /"token"\s*:\s*"([^"]*)"/;
    return ($r->{status}, $tok // '');
}
