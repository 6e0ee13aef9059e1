package RedisServer;

# A real redis-server for the tests, on a free loopback port, with no
# persistence: a restart starts empty, as a Redis that lost its data.
# A tiny RESP client (core Perl) reads and writes keys.
#
#   my $r = RedisServer->start(password => 'pw');
#   RedisServer->start(user => 'admin', password => 'pw',
#                      acl => ['user gw on >pw2 ~k:* +get']);  # more users
#   $r->cmd('KEYS', '*');       # array ref, string, integer or undef
#   $r->stop; $r->start_again;  # same port, empty
#   RedisServer->start(tls => { cert => ..., key => ..., ca => ...,
#                               auth_clients => 1,   # a client certificate
#                               client_cert => ..., client_key => ... });
#                               # TLS only: "port 0", "tls-port" the port
#   RedisServer->start(conf => ['replicaof 127.0.0.1 6379']);  # more lines

use strict;
use warnings;

use File::Temp qw(tempdir);
use IO::Socket::INET;
use Time::HiRes qw(sleep);
use EdgeAuthTest ();


sub start {
    my ($class, %o) = @_;

    my $bin = -x '/usr/bin/redis-server' ? '/usr/bin/redis-server'
                                         : 'redis-server';
    my $self = bless {
        bin => $bin,
        port => $o{port} // EdgeAuthTest::free_port(),
        password => $o{password},
        user => $o{user},
        acl => $o{acl} // [],
        tls => $o{tls},
        conf => $o{conf} // [],
        dir => tempdir('edge-auth-redis-XXXXXX', TMPDIR => 1, CLEANUP => 1),
    }, $class;

    $self->start_again;
    return $self;
}


sub port { $_[0]{port} }
sub address { "127.0.0.1:$_[0]{port}" }
sub unix_address { "unix:$_[0]{dir}/redis.sock" }


sub start_again {
    my ($self) = @_;

    # a file: ACL rules are several words, which arguments cannot carry
    open my $fh, '>', "$self->{dir}/redis.conf" or die "redis.conf: $!";
    my $tls = $self->{tls};
    print $fh $tls ? "port 0\ntls-port $self->{port}\n"
                     . "tls-cert-file $tls->{cert}\n"
                     . "tls-key-file $tls->{key}\n"
                     . "tls-ca-cert-file $tls->{ca}\n"
                     . "tls-auth-clients "
                     . ($tls->{auth_clients} ? 'yes' : 'no') . "\n"
                   : "port $self->{port}\n";
    print $fh "bind 127.0.0.1\nsave \"\"\n"
        . "appendonly no\ndir $self->{dir}\ndaemonize no\n"
        . "loglevel warning\nlogfile $self->{dir}/redis.log\n"
        . "unixsocket $self->{dir}/redis.sock\nunixsocketperm 700\n";

    if (defined $self->{user}) {
        print $fh "user $self->{user} on >$self->{password} ~* &* +\@all\n"
            . "user default off\n";
        print $fh "$_\n" for @{ $self->{acl} };

    } elsif (defined $self->{password}) {
        print $fh "requirepass $self->{password}\n";
    }

    print $fh "$_\n" for @{ $self->{conf} };

    close $fh;

    my @args = ("$self->{dir}/redis.conf");

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec $self->{bin}, @args or exit 127;
    }

    $self->{pid} = $pid;
    EdgeAuthTest::wait_port($self->{port}) or die "redis-server does not listen";

    return $self;
}


sub stop {
    my ($self) = @_;

    local $?;
    return unless $self->{pid};

    kill 'KILL', $self->{pid};
    waitpid $self->{pid}, 0;
    delete $self->{pid};

    # the port is free again once the kernel says so
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $self->{port});
        last unless $s;
        sleep 0.05;
    }
}


sub DESTROY { $_[0]->stop }


# one command (on database 0); authenticates first when there is a password

sub cmd {
    my ($self, @args) = @_;

    my $s = $self->_connect;
    _send($s, @args);
    return _read($s);
}


# the keys of database N

sub in_db {
    my ($self, $db) = @_;

    my $s = $self->_connect;
    _send($s, 'SELECT', $db);
    _read($s);
    _send($s, 'KEYS', '*');
    return _read($s);
}


sub _connect {
    my ($self) = @_;

    my $s;
    my $tls = $self->{tls};

    if ($tls) {
        require IO::Socket::SSL;
        $s = IO::Socket::SSL->new(PeerAddr => '127.0.0.1',
            PeerPort => $self->{port}, Timeout => 5,
            SSL_ca_file => $tls->{ca}, SSL_verifycn_name => 'localhost',
            SSL_hostname => 'localhost',
            ($tls->{client_cert} ? (SSL_cert_file => $tls->{client_cert},
                                    SSL_key_file => $tls->{client_key})
                                 : ()))
            or die "redis over TLS: $IO::Socket::SSL::SSL_ERROR";

    } else {
        $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                   PeerPort => $self->{port}, Timeout => 5)
            or die "redis: $!";
    }

    if (defined $self->{password}) {
        _send($s, 'AUTH', (defined $self->{user} ? ($self->{user}) : ()),
              $self->{password});
        my $ok = _read($s);
        die "redis AUTH: $ok" unless defined $ok && $ok eq 'OK';
    }

    return $s;
}


sub _send {
    my ($s, @args) = @_;
    my $out = '*' . scalar(@args) . "\r\n";
    $out .= '$' . length($_) . "\r\n$_\r\n" for @args;
    print {$s} $out;
}


sub _read {
    my ($s) = @_;

    my $line = <$s>;
    die "redis: connection closed" unless defined $line;
    $line =~ s/\r\n\z//;

    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));

    return $v if $t eq '+' || $t eq ':';
    return "ERR:$v" if $t eq '-';

    if ($t eq '$') {
        return undef if $v < 0;
        my $buf = '';
        while (length($buf) < $v + 2) {
            my $n = read($s, $buf, $v + 2 - length($buf), length($buf));
            die "redis: short read" unless $n;
        }
        return substr($buf, 0, $v);
    }

    if ($t eq '*') {
        return undef if $v < 0;
        return [ map { _read($s) } 1 .. $v ];
    }

    die "redis: unexpected answer '$line'";
}


1;
