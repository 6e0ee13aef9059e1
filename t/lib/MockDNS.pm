package MockDNS;

# A DNS server for tests, on 127.0.0.1 over UDP, core Perl only: it answers
# A questions for the names it is given (one address or an array of them,
# in that order), NXDOMAIN
# for others, no records for other types, and counts the A questions per
# name in a file, so that the test process sees what its child answered.
#
#   my $dns = MockDNS->start(names => { 'partner.test' => '127.0.0.1' });
#   $dns->port;  $dns->queries('partner.test');  $dns->stop;

use strict;
use warnings;

use Fcntl qw(:flock);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX ();

sub start {
    my ($class, %args) = @_;

    my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                     LocalPort => $args{port} || 0,
                                     Proto => 'udp')
        or die "dns: $!";

    my $self = bless {
        port  => $sock->sockport,
        dir   => tempdir(CLEANUP => 1),
        names => { map { lc $_ => $args{names}{$_} } keys %{ $args{names} } },
    }, $class;

    my $pid = fork;
    die "fork: $!" unless defined $pid;

    if ($pid) {
        close $sock;
        $self->{pid} = $pid;
        return $self;
    }

    $SIG{TERM} = sub { POSIX::_exit(0) };
    alarm(600);

    while (1) {
        my $peer = $sock->recv(my $q, 512) or next;
        my $a = $self->_answer($q) or next;
        $sock->send($a, 0, $peer);
    }
}

sub _answer {
    my ($self, $q) = @_;

    return if length $q < 12;

    my ($id, $flags, $qd) = unpack 'n n n', $q;
    return if $qd != 1;

    # the question: labels, type, class
    my ($pos, @labels) = (12);
    while (1) {
        my $len = ord substr($q, $pos, 1);
        $pos++;
        last if $len == 0;
        push @labels, substr($q, $pos, $len);
        $pos += $len;
    }

    my ($type, $class) = unpack 'n n', substr($q, $pos, 4);
    my $question = substr($q, 12, $pos + 4 - 12);
    my $name = lc join '.', @labels;

    my $addr = $self->{names}{$name};
    my $rcode = defined $addr ? 0 : 3;
    my @answers;

    if (defined $addr && $type == 1) {
        $self->_count($name);

        for my $a (ref $addr ? @$addr : ($addr)) {
            push @answers, pack('n n n N n', 0xc00c, 1, 1, 1, 4)
                           . pack('C4', split /\./, $a);
        }
    }

    # QR, opcode 0, AA, RD copied, RA
    my $rflags = 0x8400 | ($flags & 0x0100) | 0x0080 | $rcode;

    return pack('n n n n n n', $id, $rflags, 1, scalar @answers, 0, 0)
        . $question . join('', @answers);
}

sub _count {
    my ($self, $name) = @_;

    open my $fh, '>>', "$self->{dir}/queries" or return;
    flock $fh, LOCK_EX;
    print $fh "$name\n";
    close $fh;
}

sub port { $_[0]{port} }

sub queries {
    my ($self, $name) = @_;

    open my $fh, '<', "$self->{dir}/queries" or return 0;
    return scalar grep { chomp; $_ eq lc $name } <$fh>;
}

sub stop {
    my ($self) = @_;

    return unless $self->{pid};
    kill 'TERM', $self->{pid};
    waitpid $self->{pid}, 0;
    delete $self->{pid};
}

sub DESTROY { $_[0]->stop }

1;
