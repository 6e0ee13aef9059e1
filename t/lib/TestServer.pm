package TestServer;

=head1 NAME

TestServer - the one small HTTP/1.1 server behind every stand-in of the
tests (the partner mocks, the Octamile mock, the echo upstream) and of
C<make run>

=head1 SYNOPSIS

    use TestServer;

    my $srv = TestServer->start(
        handler => sub {
            my ($c, $conn) = @_;    # client socket, { tls, sni, ... }
            my $req = TestServer::read_request($c) or return;
            TestServer::respond($c, status => 200, ctype => 'text/plain',
                                body => "you asked for $req->{path}\n");
        },
        tls => { cert => $crt, key => $key },    # optional
    );
    $srv->port;  $srv->url;  $srv->stop;

    my $state = TestServer::State->new($dir, { count => 0 });
    $state->txn(sub { $_[0]{count}++ });         # under an exclusive flock
    $state->get->{count};

    my $certs = TestServer::make_certs($dir);    # CA, server certs, ...
                                                 # (TestServer::Certs)

=head1 DESCRIPTION

C<start> listens on 127.0.0.1 (C<host>, e.g. ::1, may say otherwise), on
C<port> or else on a port the kernel picks and that stays bound, so no
other process can take it.  It forks one server process, in a process
group of its own, with a pool of worker processes that call C<handler>
with each connection's socket, one connection after another; the pool
grows while connections are held, so any number are served at once (a
handler must not rely on a fresh process).  With C<tls>, the worker does
the TLS handshake first (all workers share one TLS context, so sessions
resume; C<< tickets => 0 >>
turns TLS 1.3 session tickets off; C<< client_ca => FILE >> requires a
client certificate signed by that CA, whose subject the handler finds in
C<< $conn->{client_subject} >>); a failed handshake calls
C<on_tls_error> with the reason.  What a handler dies with is appended to
the file C<errors>, when given.

The server stops with C<< ->stop >>, when the object is destroyed, at the
exit of the process that started it, when that process disappears, and in
any case after C<max_runtime> seconds (3600).  It ends and reaps its
workers before it goes.  A worker still on one connection after
C<conn_timeout> seconds (120) is ended by SIGALRM (and replaced); a
handler may call C<alarm> itself to change that.

=head2 Reading and writing

C<read_request($c, %o)> reads one request: the head, then a body with
Content-Length or chunked (answering C<Expect: 100-continue>).  It returns
C<undef> when the client left without sending anything, dies with a
one-line reason on a malformed or too large request or after C<timeout>
seconds (30), and otherwise returns

    { method, uri, path, query, version, headers => { lc name => value,
      repeated ones joined with ", " }, header_lines => [[lc name, value]],
      head (the raw head, blank line included), body (decoded),
      raw_body (as received), body_length, chunked_request }

C<< lenient => 1 >> keeps header lines it cannot parse in C<head> instead
of dying.

C<respond($c, %r)> writes an answer and closes: C<status> (200),
C<reason>, C<ctype>, C<headers> (C<[[name, value], ...]>), C<body>,
C<server> (adds C<Date> and C<Server: NAME>), C<< chunked => { count =>
N } >> or C<< { size => N } >> with C<delay> seconds between chunks,
C<< truncate => 1 >> (announce the length, send half, close),
C<< no_length => 1 >> (the close ends the body).  Every answer says
C<Connection: close>.  Also: C<write_all>, C<readable>, C<close_gently>,
C<abort>, C<reset_close> (TCP RST), C<wait_close> (read until the client leaves
or a time is up), C<reason>.

=head2 State

C<TestServer::State> (t/lib/TestServer/State.pm) keeps a hash in C<DIR/state> (Storable), read and
rewritten under flock on C<DIR/lock>, so that the test process, the server
and every worker see one state.  C<txn(CODE)> runs CODE on the
state under an exclusive lock and writes it back; C<get> reads it under a
shared one; C<lock(MODE)> returns a held lock for other files of the
directory; C<write_file> and C<read_file> keep raw bytes beside it.

=cut

use strict;
use warnings;

use Carp qw(croak);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(time sleep);
use TestServer::Certs ();
use TestServer::State;

my %RUNNING;    # server pid => pid of the process that started it

END {
    my $rc = $?;
    for my $pid (keys %RUNNING) {
        next unless $RUNNING{$pid} == $$;
        delete $RUNNING{$pid};
        _kill_group($pid);
    }
    $? = $rc;
}


# ---------------------------------------------------------------- server

sub start {
    my ($class, %o) = @_;

    croak "TestServer->start: handler is required" unless $o{handler};

    my $host = $o{host} // '127.0.0.1';
    my $sock_class = 'IO::Socket::INET';
    if ($host =~ /:/) {
        require IO::Socket::IP;
        $sock_class = 'IO::Socket::IP';
    }

    my $listen = $sock_class->new(LocalAddr => $host,
                                  LocalPort => $o{port} // 0,
                                  Proto => 'tcp', Listen => $o{backlog} // 128,
                                  ReuseAddr => 1)
        or croak "TestServer: cannot listen on $host:" . ($o{port} // 0)
                 . ": $!";

    my $self = bless {
        host => $host, port => $listen->sockport, owner => $$,
        tls => $o{tls} ? 1 : 0, opt => \%o,
    }, $class;

    if (my $tls = $o{tls}) {
        croak "TestServer: tls needs cert and key"
            unless defined $tls->{cert} && defined $tls->{key};
        require IO::Socket::SSL;
        # fail here, in the caller, not silently in the server
        IO::Socket::SSL::SSL_Context->new(SSL_server => 1,
            SSL_cert_file => $tls->{cert}, SSL_key_file => $tls->{key})
            or croak "TestServer: bad cert/key: "
                . IO::Socket::SSL::errstr();
    }

    my $parent = $$;
    my $pid = fork;
    croak "TestServer: fork: $!" unless defined $pid;

    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        # never hold the test's stdout/stderr pipes open
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>>', $o{stderr} // '/dev/null';
        eval { $self->_serve($listen, $parent) };
        POSIX::_exit(0);
    }

    POSIX::setpgid($pid, $pid);    # no race with stop() right after
    close $listen;

    $self->{pid} = $pid;
    $RUNNING{$pid} = $$;

    return $self;
}


sub port { $_[0]{port} }
sub pid  { $_[0]{pid} }

sub url {
    my ($self, $host) = @_;
    $host //= $self->{host} =~ /:/ ? "[$self->{host}]" : $self->{host};
    return ($self->{tls} ? 'https' : 'http') . "://$host:$self->{port}";
}


sub stop {
    my ($self) = @_;
    return unless $self->{pid} && $self->{owner} == $$;
    my $pid = delete $self->{pid};
    return unless delete $RUNNING{$pid};    # not already, at exit
    _kill_group($pid);
    return 1;
}


sub DESTROY {
    my ($self) = @_;
    local ($@, $!, $?);
    $self->stop if $self->{pid};
}


sub _kill_group {
    my ($pid) = @_;

    # the server ends its workers, reaps them and leaves
    kill 'TERM', $pid;

    my $end = time + 5;
    while (time < $end) {
        my $r = waitpid($pid, WNOHANG);
        last if $r == $pid || $r == -1;
        sleep 0.005;
    }

    if (kill 0, $pid) {
        kill 'KILL', -$pid;
        kill 'KILL', $pid;
        waitpid($pid, 0);
    }

    # anything of the group still there (should not happen)
    kill 'KILL', -$pid if kill 0, -$pid;
}


# The server process: a pool of worker processes that accept on the
# shared socket and serve one connection after another.  A worker says
# when it is busy and idle again on a pipe; it starts with one, and when a
# connection waits and none is idle (one held by a "hang", a slow answer,
# a burst) another one is forked, up to $MAX_WORKERS.  Forking once per
# connection instead costs more CPU than the request itself, which slows
# every test under load; so does a spare forked ahead that is never used
# (a fork of this process costs 40-80 ms of CPU on CI's VM, most of it the
# pages the child writes: a server that saw sequential requests only kept
# three workers with two spares, one now).

my $MAX_WORKERS = 64;

sub _serve {
    my ($self, $listen, $ppid) = @_;

    my $o = $self->{opt};
    $0 = ($o->{name} // 'test-server') . " $self->{host}:$self->{port}";
    $SIG{$_} = 'DEFAULT' for qw(TERM INT HUP ALRM CHLD);
    $SIG{PIPE} = 'IGNORE';

    if (my $tls = $o->{tls}) {
        # one context for every worker: the session ticket keys are the
        # same in all of them, so a client can resume
        my $tickets = $tls->{tickets} // 1;
        # a client certificate, when asked: verify peer, fail without one
        my @client = defined $tls->{client_ca}
            ? (SSL_verify_mode => 0x03, SSL_ca_file => $tls->{client_ca})
            : ();
        $self->{ssl_ctx} = IO::Socket::SSL::SSL_Context->new(
            SSL_server => 1, SSL_cert_file => $tls->{cert},
            SSL_key_file => $tls->{key}, @client,
            SSL_create_ctx_callback => sub {
                Net::SSLeay::CTX_set_num_tickets($_[0], 0)
                    if !$tickets && defined &Net::SSLeay::CTX_set_num_tickets;
            })
            or die "SSL context: " . IO::Socket::SSL::errstr() . "\n";
    }

    # workers wait in select(), then accept without blocking: the others
    # woken for the same connection go back to waiting
    $listen->blocking(0);

    pipe(my $status_r, my $status_w) or die "pipe: $!";
    $status_w->autoflush(1);
    $status_r->blocking(0);

    my $end = time + ($o->{max_runtime} || 3600);
    my $stop = 0;
    $SIG{TERM} = sub { $stop = 1 };

    my %busy;    # worker pid => 0 idle, 1 busy
    my $master = $$;
    my $buf = '';
    my $fork = sub {
        my $pid = fork;
        return unless defined $pid;
        if ($pid == 0) {
            close $status_r;
            $self->_worker($listen, $status_w, $master);
            POSIX::_exit(0);
        }
        $busy{$pid} = 0;
    };

    while (!$stop) {
        while ((my $pid = waitpid(-1, WNOHANG)) > 0) {
            delete $busy{$pid};
        }
        last if getppid() != $ppid || time > $end;

        $fork->() unless %busy;

        # none idle: a connection that waits on the listening socket
        # needs another worker
        my $idle = grep { !$_ } values %busy;
        my $sel = IO::Select->new($status_r);
        $sel->add($listen) if !$idle && keys %busy < $MAX_WORKERS;

        my @ready = $sel->can_read(0.5) or next;
        if (grep { $_ == $listen } @ready) {
            $fork->();
            next;
        }
        my $n = sysread($status_r, $buf, 4096, length $buf);
        while ($buf =~ s/^(\d+) ([bi])\n//) {
            $busy{$1} = $2 eq 'b' ? 1 : 0 if exists $busy{$1};
        }
    }

    # end the workers and reap them, so that nothing of the group is left
    # (not even a zombie) when stop() returns
    close $listen;
    $SIG{TERM} = 'IGNORE';
    kill 'TERM', -$$;
    my $kill_at = time + 2;
    while (1) {
        my $r = waitpid(-1, WNOHANG);
        last if $r == -1;
        next if $r > 0;
        if (time > $kill_at) {
            kill 'KILL', -$$;
            $kill_at = time + 3600;
        }
        sleep 0.005;
    }

    POSIX::_exit(0);
}


sub _worker {
    my ($self, $listen, $status, $master) = @_;

    my $o = $self->{opt};
    $SIG{TERM} = 'DEFAULT';
    my $sel = IO::Select->new($listen);

    while (getppid() == $master) {
        next unless $sel->can_read(1);
        my $c = $listen->accept or next;
        $c->blocking(1);

        syswrite($status, "$$ b\n");
        eval { $self->_connection($c) };
        if (my $err = $@) {
            if (defined $o->{errors} && open my $fh, '>>', $o->{errors}) {
                print $fh scalar(localtime), " [$$] $err";
                close $fh;
            }
        }
        alarm(0);
        abort($c) if $c->opened;
        syswrite($status, "$$ i\n");
    }
}


sub _connection {
    my ($self, $c) = @_;

    my $o = $self->{opt};

    # hard backstop: SIGALRM's default action ends the child, whatever it
    # is blocked in (also inside OpenSSL)
    alarm($o->{conn_timeout} || 120);

    my %conn = (tls => $self->{tls}, peer_port => $c->peerport);

    if ($self->{ssl_ctx}) {
        my $ok = IO::Socket::SSL->start_SSL($c, SSL_server => 1,
            SSL_reuse_ctx => $self->{ssl_ctx}, Timeout => 10);
        if (!$ok) {
            my $err = IO::Socket::SSL::errstr() // 'handshake failed';
            $o->{on_tls_error}->("$err") if $o->{on_tls_error};
            return;
        }
        my $sni = eval { $c->get_servername };
        $conn{sni} = $sni if defined $sni && length $sni;
        $conn{tls_version} = eval { $c->get_sslversion };
        $conn{tls_session_reused} = eval { $c->get_session_reused } ? 1 : 0;
        my $subject = eval { $c->peer_certificate('subject') };
        $conn{client_subject} = $subject if defined $subject;
    }

    $o->{handler}->($c, \%conn);
}


# ---------------------------------------------------------------- reading

sub readable {
    my ($c, $timeout) = @_;
    return 1 if $c->can('pending') && $c->pending;
    return IO::Select->new($c)->can_read($timeout) ? 1 : 0;
}


sub read_request {
    my ($c, %o) = @_;

    my $buf = '';
    my $all = '';
    my $deadline = time + ($o{timeout} // 30);
    my $max = $o{max_body} // 32 << 20;

    my $more = sub {
        my $left = $deadline - time;
        die "timeout reading the request\n"
            if $left <= 0 || !readable($c, $left);
        my $got = '';
        my $n = $c->sysread($got, 65536);
        $buf .= $got;
        $all .= $got;
        return $n;
    };

    while ($buf !~ /\r?\n\r?\n/) {
        my $n = $more->();
        if (!$n) {
            return undef if $buf eq '';
            die "connection closed inside the request head\n";
        }
        die "request head too large\n" if length $buf > 1 << 20;
    }

    $buf =~ s/^((?:.*?)\r?\n\r?\n)//s;
    my $raw_head = $1;
    (my $head = $raw_head) =~ s/\r?\n\r?\n$//;
    my ($line, @lines) = split /\r?\n/, $head;

    my ($method, $uri, $version) =
        $line =~ m{^([A-Z]+) (\S+)(?: HTTP/(\d\.\d))?$}
        or die "bad request line\n";

    my (%h, @hl);
    for (@lines) {
        my ($k, $v) = /^([!#\$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;
        if (!defined $k) {
            next if $o{lenient};
            die "bad header line\n";
        }
        $k = lc $k;
        push @hl, [$k, $v];
        $h{$k} = exists $h{$k} ? "$h{$k}, $v" : $v;
    }

    my ($path, $query) = split /\?/, $uri, 2;

    my $body = '';
    my $chunked = 0;

    if (($h{expect} // '') =~ /100-continue/i && ($o{continue} // 1)) {
        $c->syswrite("HTTP/1.1 100 Continue\r\n\r\n");
    }

    if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        $chunked = 1;
        while (1) {
            while ($buf !~ /\r?\n/) {
                $more->() or die "connection closed inside a chunk size\n";
            }
            $buf =~ s/^([^\r\n]*)\r?\n//;
            my ($hex) = $1 =~ /^\s*([0-9a-fA-F]+)/
                or die "bad chunk size\n";
            my $size = hex $hex;
            die "request body too large\n" if length($body) + $size > $max;
            if ($size == 0) {
                # trailers up to the empty line
                while (1) {
                    while ($buf !~ /\r?\n/) {
                        $more->() or die "connection closed in trailers\n";
                    }
                    $buf =~ s/^([^\r\n]*)\r?\n//;
                    last if $1 eq '';
                }
                last;
            }
            while (length $buf < $size + 2) {
                $more->() or die "connection closed inside a chunk\n";
            }
            $body .= substr($buf, 0, $size, '');
            $buf =~ s/^\r?\n// or die "bad chunk end\n";
        }
    } elsif (defined $h{'content-length'}) {
        $h{'content-length'} =~ /^\d+$/ or die "bad content-length\n";
        my $len = $h{'content-length'};
        die "request body too large\n" if $len > $max;
        while (length $buf < $len) {
            $more->() or die "connection closed inside the body\n";
        }
        $body = substr($buf, 0, $len, '');
    }

    # what was read beyond this request (pipelining) is not part of it
    my $raw_body = substr($all, length $raw_head,
                          length($all) - length($raw_head) - length($buf));

    return {
        method => $method, uri => $uri, path => $path,
        query => $query // '', version => $version // '0.9',
        headers => \%h, header_lines => \@hl, head => $raw_head,
        body => $body, raw_body => $raw_body, body_length => length $body,
        chunked_request => $chunked,
    };
}


# ---------------------------------------------------------------- writing

my %REASON = (
    100 => 'Continue', 200 => 'OK', 201 => 'Created', 204 => 'No Content',
    301 => 'Moved Permanently', 302 => 'Found', 400 => 'Bad Request',
    401 => 'Unauthorized', 403 => 'Forbidden', 404 => 'Not Found',
    405 => 'Method Not Allowed', 408 => 'Request Timeout',
    413 => 'Payload Too Large', 415 => 'Unsupported Media Type',
    429 => 'Too Many Requests', 500 => 'Internal Server Error',
    502 => 'Bad Gateway', 503 => 'Service Unavailable',
    504 => 'Gateway Timeout',
);

sub reason { $REASON{ $_[0] } // 'Status' }


sub write_all {
    my ($c, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = $c->syswrite($data, 65536, $off);
        return 0 unless $n;
        $off += $n;
    }
    return 1;
}


sub respond {
    my ($c, %r) = @_;

    my $body = $r{body} // '';
    my $status = $r{status} // 200;

    my $head = "HTTP/1.1 $status " . ($r{reason} // reason($status)) . "\r\n";
    if (defined $r{server}) {
        $head .= 'Date: '
            . POSIX::strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime)
            . "\r\nServer: $r{server}\r\n";
    }
    $head .= "Connection: close\r\n";
    $head .= "Content-Type: $r{ctype}\r\n" if defined $r{ctype};
    $head .= "$_->[0]: $_->[1]\r\n" for @{ $r{headers} // [] };

    if (my $ch = $r{chunked}) {
        $head .= "Transfer-Encoding: chunked\r\n\r\n";
        write_all($c, $head) or return;
        my $size = $ch->{size}
            || int((length($body) + ($ch->{count} || 4) - 1)
                   / ($ch->{count} || 4)) || 1;
        my @parts;
        push @parts, substr($body, 0, $size, '') while length $body;
        for my $i (0 .. $#parts) {
            sleep $ch->{delay} if $i && $ch->{delay};
            write_all($c, sprintf("%x\r\n", length $parts[$i])
                          . $parts[$i] . "\r\n") or return;
        }
        sleep $ch->{delay} if $ch->{delay};
        write_all($c, "0\r\n\r\n");
    } elsif ($r{truncate}) {
        $head .= 'Content-Length: ' . length($body) . "\r\n\r\n";
        write_all($c, $head . substr($body, 0, int(length($body) / 2)));
        abort($c);
        return;
    } elsif ($r{no_length}) {
        write_all($c, "$head\r\n$body");
    } else {
        $head .= 'Content-Length: ' . length($body) . "\r\n\r\n";
        write_all($c, $head . $body);
    }

    close_gently($c);
}


# the end of an answer: let the client read everything before the socket
# goes away (a close with unread input would send it a reset)

sub close_gently {
    my ($c) = @_;

    if ($c->isa('IO::Socket::SSL')) {
        $c->close(SSL_fast_shutdown => 1);
        return;
    }

    shutdown($c, 1);
    my $end = time + 2;
    while (time < $end && readable($c, 0.2)) {
        my $buf;
        last unless $c->sysread($buf, 4096);
    }
    close $c;
}


# close without a TLS close_notify
sub abort {
    my ($c) = @_;
    if ($c->isa('IO::Socket::SSL')) {
        $c->close(SSL_no_shutdown => 1);
    } else {
        close $c;
    }
}


# close with a TCP RST
sub reset_close {
    my ($c) = @_;
    setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    abort($c);
}


# read and drop until the client closes or $secs pass, then abort
sub wait_close {
    my ($c, $secs) = @_;
    my $end = time + $secs;
    while ((my $left = $end - time) > 0) {
        next unless readable($c, $left < 1 ? $left : 1);
        my $buf;
        my $n = $c->sysread($buf, 65536);
        last unless $n;
    }
    abort($c);
}


# certificates for TLS tests: see TestServer::Certs
sub make_certs { TestServer::Certs::make_certs(@_) }


1;
