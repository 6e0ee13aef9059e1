#!/usr/bin/perl

# Peak memory of one body_json request with a large body (issue 12 item 5):
# one nginx worker, body_json_max_size 300m, a BODY_MB (64) MiB JSON body
# with two look-alike keys to drop, to a sink upstream that reads and
# drops it.  Prints the worker's VmHWM before and after, and the growth as
# a ratio to the body, for a body in the temporary file (the default
# client_body_buffer_size) and one in memory (client_body_buffer_size
# 300m).  Not a test: nothing is asserted.
#
#   NGINX_BIN=/usr/sbin/nginx MODULE=$PWD/build/ngx_http_credential_module.so \
#       perl -I t/lib bench/body_rss.pl

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";
use EdgeAuthTest;
use TestServer;
use IO::Socket::INET;

my $MB = $ENV{BODY_MB} || 64;
my $MAXSIZE = $ENV{NO_MAX_SIZE} ? "" : "body_json_max_size 300m;";
my $ID = '9b2f7c3e-1d4a-4e8b-a1c2-3d4e5f607182';

my $sink = TestServer->start(name => 'sink', handler => sub {
    my ($c) = @_;
    my ($head, $buf) = ('', '');
    while ($head !~ /\r\n\r\n/) {
        sysread($c, $buf, 65536) or return;
        $head .= $buf;
    }
    my ($len) = $head =~ /Content-Length: (\d+)/i;
    my $left = $len - (length($head) - index($head, "\r\n\r\n") - 4);
    while ($left > 0) {
        my $n = sysread($c, $buf, 1 << 20) or last;
        $left -= $n;
    }
    TestServer::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                              . "Connection: close\r\n\r\nok");
    TestServer::close_gently($c);
});

sub vmhwm {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or die "/proc/$pid/status: $!";
    my ($kb) = join('', <$fh>) =~ /^VmHWM:\s+(\d+) kB/m;
    return $kb;
}

my $body = '{"USERINFO":1,"pad":"' . ('x' x ($MB * 1024 * 1024)) . '",'
    . '"userInfo\u0000":2,"a":1}';

sub post {
    my ($port, $split) = @_;

    return http_request($port, "POST /x HTTP/1.1\r\nHost: localhost\r\n"
        . "Connection: close\r\nContent-Length: " . length($body)
        . "\r\n\r\n$body") unless $split;

    # the head first, as curl does with Expect: 100-continue: no part of
    # the body is read with the header

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
        or die "connect: $!";
    print $s "POST /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        . "Content-Length: " . length($body) . "\r\n\r\n";
    $s->flush;
    select(undef, undef, undef, 0.5);
    print $s $body;
    local $/;
    my $raw = <$s> // '';
    my ($status) = $raw =~ m{^HTTP/1\.1 (\d+)};
    return { status => $status // 0 };
}

for my $case (['file', 0], ['memory', 0], ['memory, body after the head', 1])
{
    my ($where, $split) = @$case;
    my $port = free_port();
    my $buffer = $where eq 'file' ? '' : 'client_body_buffer_size 300m;';
    my $n = nginx_new(http => <<"CONF");
    credential big {
        body_json userInfo.id $ID uuid;
        $MAXSIZE
    }

    server {
        listen 127.0.0.1:$port;
        client_max_body_size 300m;
        $buffer

        location / {
            ${\ ($ENV{PLAIN} ? "" : "credential_inject big;")}
            proxy_pass http://127.0.0.1:${\ $sink->port};
        }
    }
CONF
    $n->start($port);

    my ($worker) = EdgeAuthTest::_children($n->pid);
    my $before = vmhwm($worker);

    my $r = post($port, $split);

    my $after = vmhwm($worker);

    printf "%-28s body %d MiB: status %s, worker VmHWM %d -> %d kB, "
        . "growth %.1f MiB = %.2f x the body\n", $where, $MB, $r->{status},
        $before, $after, ($after - $before) / 1024,
        ($after - $before) / 1024 / (length($body) / 1024 / 1024);

    $n->stop;
}
