package RedisSentinel;

# Redis Sentinel for the tests: N sentinels (redis-sentinel, or
# redis-server --sentinel) on free loopback ports, watching one master.
#
#   my $s = RedisSentinel->start(master => $redis, name => 'mymaster',
#       quorum => 2, count => 3, down_after => 1000, failover_timeout => 3000,
#       auth_pass => 'the data password', password => 'the sentinels');
#   $s->addresses;               # "127.0.0.1:p1,127.0.0.1:p2,..."
#   $s->master_port;             # the master as the first sentinel says
#   $s->wait_ready(15);          # every sentinel sees the others, a replica
#   $s->cmd($i, 'SENTINEL', ...);
#   $s->stop;
#   my $f = RedisSentinel->fake('127.0.0.1', $port);  # a stand-in that
#   $f->addresses; $f->asked;    # names that address for every master
#   my $m = RedisSentinel->fake_master;  # a master that says READONLY

use strict;
use warnings;

use File::Temp qw(tempdir);
use Time::HiRes qw(sleep time);
use IO::Socket::INET;
use POSIX ();
use EdgeAuthTest ();
use RedisServer ();


sub start {
    my ($class, %o) = @_;

    my $self = bless { %o, name => $o{name} // 'mymaster', sentinels => [] },
                     $class;
    my $count = $o{count} // 3;

    for my $i (1 .. $count) {
        my $port = EdgeAuthTest::free_port();
        my $dir = tempdir('edge-auth-sentinel-XXXXXX', TMPDIR => 1,
                          CLEANUP => 1);
        my $name = $self->{name};

        # sentinel rewrites its file: it must be its own and writable
        open my $fh, '>', "$dir/sentinel.conf" or die "sentinel.conf: $!";
        print $fh "port $port\nbind 127.0.0.1\ndaemonize no\ndir $dir\n"
            . "logfile $dir/sentinel.log\n"
            . "sentinel monitor $name 127.0.0.1 ${\ $o{master}->port } "
            . ($o{quorum} // 2) . "\n"
            . "sentinel down-after-milliseconds $name "
            . ($o{down_after} // 1000) . "\n"
            . "sentinel failover-timeout $name "
            . ($o{failover_timeout} // 3000) . "\n"
            . "sentinel parallel-syncs $name 1\n";
        print $fh "sentinel auth-pass $name $o{auth_pass}\n"
            if defined $o{auth_pass};
        print $fh "requirepass $o{password}\n"
                . "sentinel sentinel-pass $o{password}\n"
            if defined $o{password};
        close $fh;

        my $pid = fork // die "fork: $!";

        if ($pid == 0) {
            open STDOUT, '>', '/dev/null';
            open STDERR, '>', '/dev/null';
            if (-x '/usr/bin/redis-sentinel') {
                exec '/usr/bin/redis-sentinel', "$dir/sentinel.conf";
            }
            my $bin = -x '/usr/bin/redis-server' ? '/usr/bin/redis-server'
                                                 : 'redis-server';
            exec $bin, "$dir/sentinel.conf", '--sentinel' or exit 127;
        }

        push @{ $self->{sentinels} }, { port => $port, pid => $pid,
                                        dir => $dir };
        EdgeAuthTest::wait_port($port) or die "redis-sentinel does not listen";
    }

    return $self;
}


# stand-ins, each a process that answers RESP commands:
#   fake: a sentinel; AUTH is OK, any other command answers IP and PORT
#     (a replica, say, to see that the gateway checks ROLE); ->asked is
#     how many connections it had
#   fake_master: a "master" that says so to the first ROLE (then "slave"),
#     has no keys and answers every write with -READONLY: a master
#     demoted under a connection

sub fake {
    my ($class, $ip, $port) = @_;

    return $class->_fake(sub {
        my ($cmd) = @_;
        return uc($cmd->[0]) eq 'AUTH' ? "+OK\r\n"
            : "*2\r\n\$" . length($ip) . "\r\n$ip\r\n\$"
              . length($port) . "\r\n$port\r\n";
    });
}


sub fake_master {
    my ($class) = @_;

    my $roles = 0;

    return $class->_fake(sub {
        my $c = uc $_[0][0];
        return $c eq 'AUTH' || $c eq 'SELECT' ? "+OK\r\n"
            : $c eq 'ROLE' && $roles++ == 0
                ? "*3\r\n\$6\r\nmaster\r\n:0\r\n*0\r\n"
            : $c eq 'ROLE' ? "*5\r\n\$5\r\nslave\r\n\$9\r\n127.0.0.1\r\n"
                             . ":1\r\n\$9\r\nconnected\r\n:0\r\n"
            : $c eq 'GET' ? "\$-1\r\n"
            : $c eq 'PTTL' ? ":-2\r\n"
            : "-READONLY You can't write against a read only replica.\r\n";
    });
}


sub _fake {
    my ($class, $answer) = @_;

    my $lport = EdgeAuthTest::free_port();
    my $dir = tempdir('edge-auth-fake-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                    LocalPort => $lport, Listen => 16,
                                    ReuseAddr => 1)
        or die "fake sentinel: $!";

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        while (my $c = $srv->accept) {
            if (open my $fh, '>>', "$dir/connections") {
                print $fh "1\n";
                close $fh;
            }
            while (my $cmd = eval { RedisServer::_read($c) }) {
                last unless ref $cmd;
                print {$c} $answer->($cmd);
            }
            close $c;
        }
        POSIX::_exit(0);
    }

    close $srv;

    return bless { name => 'any', dir => $dir,
                   sentinels => [ { port => $lport, pid => $pid } ] }, $class;
}


sub port { $_[0]{sentinels}[0]{port} }

sub asked {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/connections" or return 0;
    my @l = <$fh>;
    return scalar @l;
}


sub ports { map { $_->{port} } @{ $_[0]{sentinels} } }
sub addresses { join ',', map { "127.0.0.1:$_" } $_[0]->ports }


sub cmd {
    my ($self, $i, @args) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $self->{sentinels}[$i]{port},
                                  Timeout => 5)
        or die "sentinel: $!";

    if (defined $self->{password}) {
        RedisServer::_send($s, 'AUTH', $self->{password});
        RedisServer::_read($s);
    }

    RedisServer::_send($s, @args);
    return RedisServer::_read($s);
}


# the master's port as sentinel I says (the first by default)

sub master_port {
    my ($self, $i) = @_;

    my $a = $self->cmd($i // 0, 'SENTINEL', 'get-master-addr-by-name',
                       $self->{name});
    return ref $a ? $a->[1] : undef;
}


# sentinels that know each other and the replicas: a failover can happen

sub wait_ready {
    my ($self, $secs, $replicas) = @_;

    my $n = @{ $self->{sentinels} };
    my $until = time + ($secs // 15);

    while (time < $until) {
        my $ready = 1;

        for my $i (0 .. $n - 1) {
            my $m = $self->cmd($i, 'SENTINEL', 'master', $self->{name});
            my %h = ref $m ? @$m : ();
            $ready = 0 unless ($h{'num-other-sentinels'} // 0) == $n - 1
                && ($h{'num-slaves'} // 0) >= ($replicas // 1);
        }

        return 1 if $ready;
        sleep 0.25;
    }

    return 0;
}


sub log {
    my ($self, $i) = @_;
    open my $fh, '<', "$self->{sentinels}[$i]{dir}/sentinel.log" or return '';
    local $/;
    return <$fh>;
}


sub stop {
    my ($self) = @_;

    local $?;

    for my $s (@{ $self->{sentinels} }) {
        next unless $s->{pid};
        kill 'KILL', $s->{pid};
        waitpid $s->{pid}, 0;
        delete $s->{pid};
    }
}


sub DESTROY { $_[0]->stop }


1;
