package MockOctamile;

=head1 NAME

MockOctamile - a stand-in for the Octamile AIMS API that checks the
C<userInfo> a request carries and answers HTTP 200 with C<exctnFdbck.id>

=head1 SYNOPSIS

    my $o = MockOctamile->start(id => $ID, auth_id => $AID, key => $KEY);
    $o->port;
    $o->set(busy => 2);         # the next 2 requests: 35, then 75 again
    $o->set(raw => 'not json'); # every answer: this body, as it is
    $o->requests;               # how many requests arrived
    $o->last_body;              # the last request body, byte for byte
    $o->last_head;              # its request head
    $o->reset;                  # counters and settings back to start

=head1 DESCRIPTION

One server process on 127.0.0.1, one connection at a time, every answer
with C<Connection: close>.  Request bodies may come with Content-Length or
chunked.  Answers:

=over

=item * the body is not a JSON object, or its C<userInfo> is not exactly
C<{"id": ID, "athrzt": {"id": AUTH_ID, "key": KEY}}>: C<55>

=item * C<busy> is above 0: C<35>, and C<busy> goes down by one

=item * otherwise C<75>, with C<"seen"> the request's other top-level keys

=back

C<exctnFdbck.id> is a number, or a string with C<< code_as_string => 1 >>.
C<raw> replaces every answer's body, C<status> its HTTP status (200), and
C<< chunked => 1 >> sends it chunked, without a length; C<delay> (seconds)
waits before answering.  State lives in files of a temporary
directory, so the test process sees what the server process counted.

=cut

use strict;
use warnings;

use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Fcntl qw(:flock);

my @servers;

END {
    my $rc = $?;
    for my $pid (@servers) {
        kill 'TERM', $pid;
        waitpid($pid, 0);
    }
    $? = $rc;
}


sub start {
    my ($class, %args) = @_;

    my $dir = tempdir('octamile-XXXXXX', TMPDIR => 1, CLEANUP => 1);

    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                       LocalPort => $args{port} || 0,
                                       Proto => 'tcp', Listen => 64,
                                       ReuseAddr => 1)
        or die "mock Octamile: $!";

    my $self = bless { dir => $dir, port => $listen->sockport,
                       id => $args{id}, auth_id => $args{auth_id},
                       key => $args{key} }, $class;

    $self->reset;

    my $pid = fork;
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        @servers = ();
        $SIG{TERM} = sub { POSIX::_exit(0) };
        alarm(3600);

        while (my $c = $listen->accept) {
            eval { $self->_serve($c) };
            close $c;
        }

        POSIX::_exit(0);
    }

    close $listen;
    push @servers, $pid;
    $self->{pid} = $pid;

    return $self;
}


sub port { $_[0]{port} }


sub _file { "$_[0]{dir}/$_[1]" }


sub _read {
    my ($self, $name) = @_;
    open my $fh, '<', $self->_file($name) or return undef;
    local $/;
    my $v = <$fh>;
    return $v;
}


sub _write {
    my ($self, $name, $value) = @_;
    my $path = $self->_file($name);
    open my $fh, '>', "$path.tmp" or die "$path: $!";
    print $fh $value;
    close $fh;
    rename "$path.tmp", $path or die "$path: $!";
}


sub settings {
    my ($self) = @_;
    return decode_json($self->_read('settings') // '{}');
}


sub set {
    my ($self, %set) = @_;
    my $s = $self->settings;
    $s->{$_} = $set{$_} for keys %set;
    $self->_write('settings', encode_json($s));
}


sub reset {
    my ($self) = @_;
    $self->_write('settings', '{}');
    $self->_write('count', 0);
    $self->_write('answers', '');
    unlink $self->_file('last_body'), $self->_file('last_head');
}


sub requests { $_[0]->_read('count') // 0 }

sub last_body { $_[0]->_read('last_body') }

sub last_head { $_[0]->_read('last_head') }

# the exctnFdbck.id of every answer, in order

sub answers { split ' ', $_[0]->_read('answers') // '' }


sub _serve {
    my ($self, $c) = @_;

    my $head = '';

    while (defined(my $line = <$c>)) {
        $head .= $line;
        last if $line eq "\r\n";
    }

    my $body = '';

    if ($head =~ /^content-length:\s*(\d+)/mi) {
        my $len = $1;
        while (length $body < $len) {
            read($c, my $chunk, $len - length $body) or last;
            $body .= $chunk;
        }

    } elsif ($head =~ /^transfer-encoding:\s*chunked/mi) {
        while (defined(my $size = <$c>)) {
            $size = hex $size;
            last if $size == 0;
            read($c, my $chunk, $size);
            $body .= $chunk;
            <$c>;
        }
        while (defined(my $line = <$c>)) {
            last if $line eq "\r\n";
        }
    }

    open my $lock, '>>', $self->_file('lock') or die;
    flock($lock, LOCK_EX);

    $self->_write('last_head', $head);
    $self->_write('last_body', $body);
    $self->_write('count', $self->requests + 1);

    my $s = $self->settings;
    my $code = 75;
    my %seen;

    my $json = eval { JSON::PP->new->decode($body) };

    if (ref $json ne 'HASH' || !$self->_good($json->{userInfo})) {
        $code = 55;

    } elsif (($s->{busy} // 0) > 0) {
        $s->{busy}--;
        $self->_write('settings', encode_json($s));
        $code = 35;

    } else {
        %seen = map { $_ => 1 } grep { $_ ne 'userInfo' } keys %$json;
    }

    $self->_write('answers', $self->_read('answers') . "$code ");

    close $lock;

    my $out = $s->{raw} // JSON::PP->new->canonical->encode({
        exctnFdbck => { id => $s->{code_as_string} ? "$code" : $code + 0 },
        seen => [sort keys %seen],
    });

    my $status = $s->{status} // 200;

    select(undef, undef, undef, $s->{delay}) if $s->{delay};

    if ($s->{chunked}) {
        # no length: the gateway learns the size only as the body comes
        print $c "HTTP/1.1 $status Mock\r\nContent-Type: application/json\r\n"
            . "Transfer-Encoding: chunked\r\n"
            . "X-Octamile: mock\r\nConnection: close\r\n\r\n";
        for (my $i = 0; $i < length $out; $i += 1000) {
            my $part = substr($out, $i, 1000);
            printf $c "%x\r\n%s\r\n", length $part, $part;
        }
        print $c "0\r\n\r\n";
        return;
    }

    print $c "HTTP/1.1 $status Mock\r\nContent-Type: application/json\r\n"
        . "Content-Length: " . length($out) . "\r\n"
        . "X-Octamile: mock\r\nConnection: close\r\n\r\n" . $out;
}


sub _good {
    my ($self, $u) = @_;

    return 0 unless ref $u eq 'HASH' && ref $u->{athrzt} eq 'HASH';
    return 0 unless keys %$u == 2 && keys %{ $u->{athrzt} } == 2;

    return ($u->{id} // '') eq $self->{id}
        && ($u->{athrzt}{id} // '') eq $self->{auth_id}
        && ($u->{athrzt}{key} // '') eq $self->{key};
}

1;
