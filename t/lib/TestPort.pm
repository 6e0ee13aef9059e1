package TestPort;

# Ports for servers that a test starts later (nginx, redis-server), safe
# when many test files run at once (prove -j).
#
# Binding port 0 and closing it again gives a port that any other process
# may be handed next.  Here a port is instead reserved with a lock file:
# free_port() takes an flock on /tmp/edge-auth-test-ports/PORT and keeps
# it until this process (and every child that inherited the handle) is
# gone, so no other test process, in this worktree or another one, gets
# the same port meanwhile.  The kernel drops the lock even after kill -9:
# nothing to clean up.  Ports come from below the kernel's ephemeral range,
# which outgoing connections and "bind to port 0" use, so they never meet
# those either; a port that something else listens on is skipped.
#
#   use TestPort qw(free_port);
#   my $port = free_port();

use strict;
use warnings;

use Exporter 'import';
use Fcntl qw(:flock O_RDONLY O_CREAT);
use File::Spec;
use IO::Socket::INET;

our @EXPORT_OK = qw(free_port);

my $DIR = $ENV{EDGE_AUTH_PORT_DIR}
    // File::Spec->tmpdir . '/edge-auth-test-ports';

my %held;    # port => locked handle, for the life of this process


# [low, high] of the ports to hand out: the larger free stretch below or
# above the ephemeral range (32768-60999 on Linux by default)

sub _range {
    my ($elo, $ehi) = (32768, 60999);
    if (open my $fh, '<', '/proc/sys/net/ipv4/ip_local_port_range') {
        my @r = split ' ', scalar(<$fh>) // '';
        ($elo, $ehi) = @r if @r == 2;
    }
    my @below = (10000, $elo - 1);
    my @above = ($ehi + 1, 65000);
    return $below[1] - $below[0] >= $above[1] - $above[0] ? @below : @above;
}


sub _bindable {
    my ($port) = @_;

    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                  LocalPort => $port, Proto => 'tcp',
                                  Listen => 1, ReuseAddr => 1)
        or return 0;
    close $s;

    # ::1 too where there is one (a test may listen on both)
    if (eval { require IO::Socket::IP; 1 }) {
        my $probe = IO::Socket::IP->new(LocalAddr => '::1', LocalPort => 0,
                                        Listen => 1);
        if ($probe) {
            close $probe;
            my $s6 = IO::Socket::IP->new(LocalAddr => '::1',
                                         LocalPort => $port, Listen => 1,
                                         ReuseAddr => 1)
                or return 0;
            close $s6;
        }
    }

    return 1;
}


sub free_port {
    unless (-d $DIR) {
        mkdir $DIR;
        chmod 01777, $DIR;    # shared by every user's tests
    }

    my ($lo, $hi) = _range();
    my $span = $hi - $lo + 1;
    my $first = int rand $span;

    for my $i (0 .. $span - 1) {
        my $port = $lo + ($first + $i) % $span;
        next if $held{$port};

        sysopen(my $fh, "$DIR/$port", O_RDONLY | O_CREAT, 0666) or next;

        if (!flock($fh, LOCK_EX | LOCK_NB)) {
            close $fh;
            next;
        }

        if (!_bindable($port)) {
            close $fh;
            next;
        }

        $held{$port} = $fh;
        return $port;
    }

    die "TestPort: no free port in $lo-$hi ($DIR)\n";
}


1;
