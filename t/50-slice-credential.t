#!/usr/bin/perl

# The slice module fetches every range after the first in a subrequest
# that clones the main request (NGX_HTTP_SUBREQUEST_CLONE): it starts at
# the content phase, so the credential handler never runs for it, and it
# takes the main request's headers as they are when the slice filter
# creates it, after the first range's upstream request was built.  Each
# range must carry the credential, as the first does.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EdgeAuthTest;

my $V = `'${\ ($ENV{NGINX_BIN} || '/usr/sbin/nginx')}' -V 2>&1`;
plan skip_all => 'nginx without the slice module'
    unless $V =~ /--with-http_slice_module/;

my $KEY = 'slice-key-secret-5d1e';
my $SIZE = 3000;
my $DATA = join '', map { chr(ord('a') + $_ % 26) } 0 .. $SIZE - 1;

my $port = free_port();
my $up = free_port();

# a partner that refuses a range without the key, and serves ranges only

echo_server($up, sub {
    my ($head) = @_;

    unless ($head =~ /^X-Api-Key: \Q$KEY\E\r?$/mi) {
        return "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n"
             . "Connection: close\r\n\r\n";
    }

    my ($s, $e) = $head =~ /^Range: bytes=(\d+)-(\d+)\r?$/mi
        or return "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                . "Connection: close\r\n\r\n";
    $e = $SIZE - 1 if $e > $SIZE - 1;
    my $part = substr $DATA, $s, $e - $s + 1;

    return "HTTP/1.1 206 Partial Content\r\n"
         . "Content-Range: bytes $s-$e/$SIZE\r\n"
         . "Content-Length: " . length($part) . "\r\n"
         . "ETag: \"one\"\r\nConnection: close\r\n\r\n$part";
});

my $n = nginx_new(http => <<"CONF");
    credential partner { header X-Api-Key $KEY; }

    server {
        listen 127.0.0.1:$port;

        location /s {
            credential_inject partner;
            slice 1000;
            proxy_set_header Range \$slice_range;
            proxy_pass http://127.0.0.1:$up;
        }
    }
CONF

$n->start($port);

my $r = http_request($port, "GET /s HTTP/1.0\nHost: x\n\n");

is($r->{status}, 200, "the whole resource");
is(length $r->{body}, $SIZE, 'every slice of it');
ok($r->{body} eq $DATA, 'the bytes of every slice');
unlike($n->error_log, qr/unexpected status code 401/,
       'no slice went without the credential');

$n->stop;

done_testing();
