#!/usr/bin/perl

# The request path's common case (handler.c, issue 13): a credential's
# headers appended after the client's list, and the client's view put
# back by unlinking them; what was sent is not copied, a clone (slice)
# relinks it.  Every range of a login token's, and of a static
# credential's with two headers, carries them; a client that sent one of
# the names goes the general way, and its ranges carry ours too; the
# access log of each range shows the client's values, never ours.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EdgeAuthTest;

my $V = `'${\ ($ENV{NGINX_BIN} || '/usr/sbin/nginx')}' -V 2>&1`;
plan skip_all => 'nginx without the slice module'
    unless $V =~ /--with-http_slice_module/;

my $TOKEN = 'tok-linked-secret-7a91';
my $KEY = 'key-linked-secret-3c52';
my $SIZE = 3000;
my $DATA = join '', map { chr(ord('a') + $_ % 26) } 0 .. $SIZE - 1;

my $port = free_port();
my $up = free_port();

# the login endpoint, and a partner that serves ranges to a request with
# the token, or with both static headers

echo_server($up, sub {
    my ($head) = @_;

    if ($head =~ m{^POST /oauth/token }) {
        my $json = qq({"access_token":"$TOKEN","token_type":"Bearer",)
                 . qq("expires_in":3600});
        return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
             . "Content-Length: " . length($json) . "\r\n"
             . "Connection: close\r\n\r\n$json";
    }

    my $ok = $head =~ m{^GET /t}
        ? $head =~ /^Authorization: Bearer \Q$TOKEN\E\r?$/mi
        : $head =~ /^X-Api-Key: \Q$KEY\E\r?$/mi
          && $head =~ /^X-Api-Id: linked\r?$/mi;

    # ours, and no other copy of the names
    my $copies = () = $head =~ /^(?:authorization|x-api-key):/mig;
    $ok = 0 if $copies != 1;

    unless ($ok) {
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
    log_format seen 'seen \$uri a=[\$http_authorization] k=[\$http_x_api_key]';

    credential tok {
        login        http://127.0.0.1:$up/oauth/token;
        login_param  grant_type client_credentials;
        login_basic  linked-client linked-secret;
        token_header Authorization "Bearer {token}";
    }

    credential two {
        header X-Api-Key $KEY;
        header X-Api-Id linked;
    }

    server {
        listen 127.0.0.1:$port;

        location /t {
            credential_inject tok;
            slice 1000;
            proxy_set_header Range \$slice_range;
            proxy_pass http://127.0.0.1:$up;
            access_log %%DIR%%/seen.log seen;
            log_subrequest on;
        }

        location /s {
            credential_inject two;
            slice 1000;
            proxy_set_header Range \$slice_range;
            proxy_pass http://127.0.0.1:$up;
            access_log %%DIR%%/seen.log seen;
            log_subrequest on;
        }
    }
CONF

$n->start($port);

for my $case (['/t', '', 'a login token'],
              ['/s', '', 'two static headers'],
              ['/t', "Authorization: Bearer client-own\n",
               'a login token, the client sent Authorization'],
              ['/s', "X-Api-Key: client-own\n",
               'two static headers, the client sent X-Api-Key'])
{
    my ($uri, $hdr, $what) = @$case;
    my $r;

    for (1 .. 50) {
        $r = http_request($port, "GET $uri HTTP/1.0\nHost: x\n$hdr\n");
        last if $r->{status} == 200 || $uri ne '/t';
        select undef, undef, undef, 0.1;    # the first login
    }

    is($r->{status}, 200, "$what: the whole resource");
    ok($r->{body} eq $DATA, "$what: the bytes of every slice");
}

unlike($n->error_log, qr/unexpected status code 401/,
       'no slice went without the credential');

open my $fh, '<', $n->dir . '/seen.log' or die "seen.log: $!";
my $log = do { local $/; <$fh> };
close $fh;
my @lines = grep { /^seen / } split /\n/, $log;

cmp_ok(scalar @lines, '>=', 12, 'every range logged');
unlike($log, qr/\Q$TOKEN\E|\Q$KEY\E/,
       'no secret in the log of any range');
like($log, qr/a=\[Bearer client-own\]/, "the client's Authorization logged");
like($log, qr/k=\[client-own\]/, "the client's X-Api-Key logged");

$n->stop;

done_testing();
