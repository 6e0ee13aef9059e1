#!/usr/bin/perl

# Redirected before the upstream request was built (an error_page for the
# 413 of a chunked body too large, read by the proxy), and answered by a
# server-level "return" before any location's rewrite phase put the
# client's view back: the redirect wiped the request's context, and
# add_header (and what it made the log cache) must still not show the
# credential.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EdgeAuthTest;

my $port = free_port();
my $up = free_port();
echo_server($up);

my $KEY = 'KEY-return-secret-6630';

my $n = nginx_new(http => <<"CONF");
    log_format seen 'seen \$request_uri k=[\$http_x_api_key]';

    credential key {
        header X-Api-Key $KEY;
        header X-Api-Id return-test;
    }

    server {
        listen 127.0.0.1:$port;
        access_log %%DIR%%/access.log seen;

        add_header X-Seen "k=[\$http_x_api_key] i=[\$http_x_api_id]" always;

        if (\$uri = /too-large) {
            return 503;
        }

        location /up/ {
            credential_inject key;
            client_max_body_size 8;
            error_page 413 /too-large;
            proxy_pass http://127.0.0.1:$up;
        }
    }
CONF

$n->start($port);

sub post {
    my ($uri, $hdr) = @_;
    return http_request($port, "POST $uri HTTP/1.1\nHost: x\n"
        . "Connection: close\nTransfer-Encoding: chunked\n" . ($hdr // '')
        . "\n20\n" . ('a' x 32) . "\n0\n\n");
}

# the common case (appended), and a client copy of a name (rebuilt)

for my $case (['/up/a', '', 'appended', '-'],
              ['/up/b', "X-Api-Key: client-key\n", 'rebuilt', 'client-key'])
{
    my ($uri, $hdr, $what, $client) = @$case;
    my $r = post($uri, $hdr);

    is($r->{status}, 503, "$what: the server-level return answered");
    is($r->{headers}{'x-seen'}[0], $client eq '-' ? 'k=[] i=[]'
                                                  : "k=[$client] i=[]",
       "$what: add_header shows the client's headers");
    unlike($r->{raw}, qr/\Q$KEY\E|return-test/, "$what: no credential sent");
}

my $log = '';
for (1 .. 50) {
    $log = $n->access_log;
    last if ($log =~ tr/\n//) >= 2;
    select undef, undef, undef, 0.1;
}

unlike($log, qr/\Q$KEY\E/, 'no key in the log');
like($log, qr{^seen /up/b k=\[client-key\]}m, "the client's key logged");

$n->stop;

done_testing();
