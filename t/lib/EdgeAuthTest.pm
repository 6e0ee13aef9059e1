package EdgeAuthTest;

# A small harness for the module's tests, on core Perl: a real nginx that
# loads the built module, an echo upstream that answers with the exact
# request it received (a TestServer), a raw HTTP client, and ports that
# no other test running at the same time gets (TestPort).

use strict;
use warnings;

use Exporter 'import';
use File::Spec;
use File::Temp qw(tempdir);
use POSIX ();
use IO::Socket::INET;
use Time::HiRes qw(sleep);
use TestPort ();
use TestServer ();

our @EXPORT = qw(free_port nginx_new echo_server http_request
                 parallel_requests count_header header_values run_c_unit
                 post_json injections);

my $NGINX  = $ENV{NGINX_BIN} || '/usr/sbin/nginx';
my $MODULE = $ENV{MODULE} || do {
    my $dir = __FILE__;
    $dir =~ s{t/lib/EdgeAuthTest\.pm$}{};
    ($dir || './') . 'build/ngx_http_credential_module.so';
};

$MODULE = File::Spec->rel2abs($MODULE) if $MODULE !~ m{^(/|none$)};

# MODULE=none: NGINX_BIN has the module built in (make test-static)
my $LOAD = $MODULE eq 'none' ? '' : "load_module $MODULE;";

my $ROOT = File::Spec->rel2abs(__FILE__);
$ROOT =~ s{/t/lib/EdgeAuthTest\.pm$}{};

my @servers;    # the echo upstreams, stopped at exit (by TestServer)


# a port nobody listens on, kept for this test alone until it exits

sub free_port { TestPort::free_port() }


sub nginx_new {
    my (%args) = @_;

    my $dir = tempdir('edge-auth-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    chmod 0755, $dir;

    my $self = bless { dir => $dir, env => $args{env} || {} }, __PACKAGE__;
    $self->write_conf($args{http} // '', %args);

    return $self;
}


sub dir { $_[0]{dir} }


sub write_conf {
    my ($self, $http, %args) = @_;

    my $dir = $self->{dir};
    my $workers = $args{workers} || 1;
    my $main = $args{main} || '';
    my $user = $> == 0 ? "user root;" : "";
    my $level = $args{log_level} || 'info';

    $http =~ s/%%DIR%%/$dir/g;

    open my $fh, '>', "$dir/nginx.conf" or die "$dir/nginx.conf: $!";
    print $fh <<"CONF";
$LOAD
$user
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/error.log $level;
$main

events {
    worker_connections 256;
}

http {
    access_log $dir/access.log;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;

$http
}
CONF
    close $fh;
}


sub write_file {
    my ($self, $name, $content, $mode) = @_;

    my $path = "$self->{dir}/$name";
    open my $fh, '>', $path or die "$path: $!";
    print $fh $content;
    close $fh;
    chmod($mode // 0600, $path);

    return $path;
}


sub _run {
    my ($self, @args) = @_;

    local %ENV = (%ENV, %{ $self->{env} });

    my @cmd = ($NGINX, '-p', "$self->{dir}/", '-c', "$self->{dir}/nginx.conf",
               '-e', "$self->{dir}/error.log", @args);

    # no shell in between: a suite runs nginx some 500 times
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec { $cmd[0] } @cmd or POSIX::_exit(127);
    }

    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? == 0, $out);
}


# "nginx -t": (success, everything nginx printed)

sub test_config {
    my ($self) = @_;
    return $self->_run('-t');
}


sub start {
    my ($self, @ports) = @_;

    my ($ok, $out) = $self->_run();
    die "nginx did not start:\n$out\n" . $self->error_log unless $ok;

    $self->{running} = 1;

    for my $port (@ports) {
        wait_port($port) or die "nginx does not listen on $port";
    }

    return $self;
}


sub reload {
    my ($self) = @_;
    return $self->_run('-s', 'reload');
}


sub stop {
    my ($self) = @_;

    return unless $self->{running};

    my $pid = $self->pid;
    $self->{running} = 0;
    return unless $pid;

    # graceful; then fast; then nothing of it may outlive the test
    for my $try (['QUIT', 10], ['TERM', 5]) {
        my ($sig, $secs) = @$try;
        kill $sig, $pid;
        for (1 .. $secs * 20) {
            return unless kill 0, $pid;
            sleep 0.05;
        }
    }

    kill 'KILL', _children($pid), $pid;
}


# the processes whose parent is $pid (nginx's workers)

sub _children {
    my ($pid) = @_;
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my ($kid, $ppid) = (<$fh> // '') =~ /^(\d+) \(.*\) \S+ (\d+)/s
            or next;
        push @kids, $kid if $ppid == $pid;
    }
    return @kids;
}


sub pid {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/nginx.pid" or return;
    my $pid = <$fh>;
    chomp $pid if defined $pid;
    return $pid;
}


sub error_log {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/error.log" or return '';
    local $/;
    return <$fh>;
}


sub access_log {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/access.log" or return '';
    local $/;
    return <$fh>;
}


sub DESTROY {
    my ($self) = @_;
    $self->stop if $self->{running};
}


sub wait_port {
    my ($port, $host) = @_;

    for (1 .. 400) {
        my $s = IO::Socket::INET->new(PeerAddr => $host || '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp');
        if ($s) {
            close $s;
            return 1;
        }
        sleep 0.025;
    }

    return 0;
}


# An upstream that answers every request with the request head it got,
# byte for byte, as its body, so tests can count forwarded headers; or,
# given $answer, with what $answer->($head, $body) returns.  Returns the
# pid of its server process.

sub echo_server {
    my ($port, $answer) = @_;

    my $srv = TestServer->start(name => 'echo-server', port => $port,
                                backlog => 64, handler => sub {
        my ($c) = @_;
        my $req = TestServer::read_request($c, lenient => 1, continue => 0)
            or return;

        if ($answer) {
            TestServer::write_all($c, $answer->($req->{head}, $req->{body}));
            TestServer::close_gently($c);
            return;
        }

        TestServer::respond($c, ctype => 'text/plain',
                            body => $req->{head} . $req->{raw_body});
    });

    push @servers, $srv;
    return $srv->pid;
}


# Sends a raw request (LF line ends become CRLF); returns a hash with
# status, headers (lowercase names, arrays of values), body and raw.

sub http_request {
    my ($port, $request, $host) = @_;

    my $class = 'IO::Socket::INET';
    if (defined $host && $host =~ /:/) {
        require IO::Socket::IP;
        $class = 'IO::Socket::IP';
    }

    my $s = $class->new(PeerAddr => $host || '127.0.0.1', PeerPort => $port,
                        Proto => 'tcp', Timeout => 10)
        or die "connect $port: $!";

    $request =~ s/(?<!\r)\n/\r\n/g;
    print $s $request;

    local $/;
    my $raw = <$s> // '';
    close $s;

    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($status_line, @lines) = split /\r\n/, $head // '';
    my ($status) = ($status_line // '') =~ m{^HTTP/\d\.\d (\d+)};

    my %headers;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        push @{ $headers{lc $k} }, $v;
    }

    return { status => $status // 0, headers => \%headers,
             body => $body // '', raw => $raw };
}


# Sends the same request from $n processes at once; returns the answers
# (hashes as http_request gives them) in no particular order.

sub parallel_requests {
    my ($port, $n, $request) = @_;

    my (@pids, @files);
    my $dir = tempdir(CLEANUP => 1);

    for my $i (1 .. $n) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;

        if ($pid == 0) {
            my $r = eval { http_request($port, $request) }
                || { status => 0, body => "$@", headers => {} };
            open my $fh, '>', "$dir/$i" or POSIX::_exit(1);
            print $fh "$r->{status}\n$r->{body}";
            close $fh;
            POSIX::_exit(0);
        }

        push @pids, $pid;
    }

    waitpid($_, 0) for @pids;

    my @answers;
    for my $i (1 .. $n) {
        open my $fh, '<', "$dir/$i" or next;
        local $/;
        my ($status, $body) = split /\n/, <$fh>, 2;
        push @answers, { status => $status, body => $body // '' };
    }

    return @answers;
}


# POSTs a JSON body, with its header in one write or ($late) 0.3 s after
# it, so that nginx reads it in an event of its own; returns the raw answer

sub post_json {
    my ($port, $path, $body, $late) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10)
        or die "connect $port: $!";
    $s->autoflush(1);

    my $head = "POST $path HTTP/1.1\r\nHost: localhost\r\n"
               . "Connection: close\r\nContent-Type: application/json\r\n"
               . "Content-Length: " . length($body) . "\r\n\r\n";
    if ($late) {
        print $s $head;
        select(undef, undef, undef, 0.3);
        print $s $body;
    } else {
        print $s $head . $body;
    }

    local $/;
    my $raw = <$s> // '';
    close $s;
    return $raw;
}


# a credential's injections on the status page at GET /status; -1: none

sub injections {
    my ($port, $name) = @_;

    my $r = http_request($port, "GET /status HTTP/1.1\nHost: x\n"
                                . "Connection: close\n\n");
    my ($n) = $r->{body} =~ /"\Q$name\E":\s*\{.*?"injections":\s*(\d+)/s;
    return $n // -1;
}


# how many times a header (any case) appears in an echoed request head

sub count_header {
    my ($text, $name) = @_;
    my @m = $text =~ /^\Q$name\E:/gmi;
    return scalar @m;
}


sub header_values {
    my ($text, $name) = @_;
    return $text =~ /^\Q$name\E:[ \t]*(.*?)\r?$/gmi;
}


# Compiles a C unit test from t/unit/ with the given src/ files, with
# sanitizers where the compiler has them, and runs it in place of this
# process: the binary prints its own TAP.

sub run_c_unit {
    my ($test, @files) = @_;

    my $dir = tempdir(CLEANUP => 1);
    my $bin = "$dir/$test";
    my @src = ("$ROOT/t/unit/$test.c", map { "$ROOT/src/$_" } @files);
    my @flags = ('-Wall', '-Wextra', '-Werror', '-O1', '-g', "-I$ROOT/src");

    # libcrypto for the codecs that sign (the others do not use it)
    if (system('cc', @flags, '-fsanitize=address,undefined',
               '-fno-sanitize-recover=all', '-o', $bin, @src, '-lcrypto') != 0)
    {
        system('cc', @flags, '-o', $bin, @src, '-lcrypto') == 0
            or do { print "1..1\nnot ok 1 - $test compiles\n"; exit 1 };
    }

    # not exec: File::Temp removes the binary when this process ends
    my $rc = system($bin);
    exit($rc == 0 ? 0 : 1);
}


# Waits (up to $secs, 20 by default) for the error log to match $re and
# returns the log as it is then: a line written by the event that a test
# saw the effect of may come a moment later on a loaded machine.  The
# caller still asserts on what is returned.

sub wait_error_log {
    my ($self, $re, $secs) = @_;

    my $until = Time::HiRes::time() + ($secs // 20);
    my $log = $self->error_log;

    while ($log !~ $re && Time::HiRes::time() < $until) {
        sleep 0.1;
        $log = $self->error_log;
    }

    return $log;
}


1;
