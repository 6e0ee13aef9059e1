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

A TestServer on 127.0.0.1, every answer with C<Connection: close>.
Request bodies may come with Content-Length or chunked.  Answers:

=over

=item * the body is not a JSON object, or its C<userInfo> is not exactly
C<{"id": ID, "athrzt": {"id": AUTH_ID, "key": KEY}}>: C<55>

=item * C<busy> is above 0: C<35>, and C<busy> goes down by one

=item * otherwise C<75>, with C<"seen"> the request's other top-level keys

=back

C<exctnFdbck.id> is a number, or a string with C<< code_as_string => 1 >>.
C<raw> replaces every answer's body, C<status> its HTTP status (200), and
C<< chunked => 1 >> sends it chunked, without a length; C<< announce => N >>
sends C<Content-Length: N> with the body as it is (shorter: a cut-short
answer) and closes; C<< cut_chunked => 1 >> sends the body as one
chunk, without the last one, and closes; C<delay> (seconds) waits before answering.  State lives in a TestServer::State in a
temporary directory, so the test process sees what the server counted.

=cut

use strict;
use warnings;

use File::Temp qw(tempdir);
use JSON::PP;
use Scalar::Util qw(weaken);
use TestServer;


sub start {
    my ($class, %args) = @_;

    my $dir = tempdir('octamile-XXXXXX', TMPDIR => 1, CLEANUP => 1);

    my $self = bless { state => TestServer::State->new($dir),
                       id => $args{id}, auth_id => $args{auth_id},
                       key => $args{key} }, $class;

    $self->reset;

    my $me = $self;
    weaken($me);    # the mock stops when the test drops it

    $self->{server} = TestServer->start(name => 'mock-octamile',
        port => $args{port}, backlog => 64,
        handler => sub { $me->_serve($_[0]) });

    return $self;
}


sub port { $_[0]{server}->port }

sub stop { $_[0]{server}->stop }


sub settings { $_[0]{state}->get->{settings} }


sub set {
    my ($self, %set) = @_;
    $self->{state}->txn(sub {
        my ($st) = @_;
        $st->{settings}{$_} = $set{$_} for keys %set;
    });
}


sub reset {
    my ($self) = @_;
    my $state = $self->{state};
    my $lk = $state->lock;
    $state->replace({ settings => {}, count => 0, answers => [] });
    unlink map { $state->dir . "/$_" } qw(last_body last_head);
}


sub requests { $_[0]{state}->get->{count} }

sub last_body { $_[0]{state}->read_file('last_body') }

sub last_head { $_[0]{state}->read_file('last_head') }

# the exctnFdbck.id of every answer, in order

sub answers { @{ $_[0]{state}->get->{answers} } }


sub _serve {
    my ($self, $c) = @_;

    my $req = TestServer::read_request($c, lenient => 1) or return;
    my $body = $req->{body};
    my $json = eval { JSON::PP->new->decode($body) };
    my %seen;

    my ($code, $s) = $self->{state}->txn(sub {
        my ($st) = @_;

        $self->{state}->write_file('last_head', $req->{head});
        $self->{state}->write_file('last_body', $body);
        $st->{count}++;

        my $s = $st->{settings};
        my $code = 75;

        if (ref $json ne 'HASH' || !$self->_good($json->{userInfo})) {
            $code = 55;

        } elsif (($s->{busy} // 0) > 0) {
            $s->{busy}--;
            $code = 35;

        } else {
            %seen = map { $_ => 1 } grep { $_ ne 'userInfo' } keys %$json;
        }

        push @{ $st->{answers} }, $code;
        return ($code, $s);
    });

    my $out = $s->{raw} // JSON::PP->new->canonical->encode({
        exctnFdbck => { id => $s->{code_as_string} ? "$code" : $code + 0 },
        seen => [sort keys %seen],
    });

    select(undef, undef, undef, $s->{delay}) if $s->{delay};

    # a cut-short answer: a longer length announced, the body, the close

    if (defined $s->{announce}) {
        TestServer::write_all($c, 'HTTP/1.1 ' . ($s->{status} // 200)
            . " Mock\r\nConnection: close\r\n"
            . "Content-Type: application/json\r\nX-Octamile: mock\r\n"
            . "Content-Length: $s->{announce}\r\n\r\n$out");
        TestServer::abort($c);
        return;
    }

    # chunked and cut short: one chunk, no last one, the close

    if ($s->{cut_chunked}) {
        TestServer::write_all($c, 'HTTP/1.1 ' . ($s->{status} // 200)
            . " Mock\r\nConnection: close\r\n"
            . "Content-Type: application/json\r\nX-Octamile: mock\r\n"
            . "Transfer-Encoding: chunked\r\n\r\n"
            . sprintf("%x\r\n%s\r\n", length $out, $out));
        TestServer::abort($c);
        return;
    }

    # chunked: no length, the gateway learns the size only as the body
    # comes
    TestServer::respond($c, status => $s->{status} // 200, reason => 'Mock',
        ctype => 'application/json', headers => [['X-Octamile', 'mock']],
        body => $out, chunked => $s->{chunked} ? { size => 1000 } : undef);
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
