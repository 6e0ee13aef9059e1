#!/usr/bin/perl

# A request that injected a credential and was redirected (error_page)
# where no location's rewrite phase runs (a server-level "return"): the
# access log must still see the client's headers, not the credential.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EdgeAuthTest;

my $port = free_port();

my $n = nginx_new(http => <<"CONF");
    log_format k 'uri=\$request_uri key=\$http_x_api_key';
    access_log %%DIR%%/access.log k;

    credential nilo {
        header x-api-key review-secret-0123456789;
    }

    server {
        listen 127.0.0.1:$port;

        if (\$uri = /err) {
            return 503;
        }

        location /s/ {
            credential_inject nilo;
            root %%DIR%%/nonexistent;
            error_page 404 /err;
        }
    }
CONF

$n->start;

my $r = http_request($port, "GET /s/a HTTP/1.0\r\nHost: x\r\n\r\n");
is($r->{status}, 503, 'the server-level return answers');

$r = http_request($port,
                  "GET /s/b HTTP/1.0\r\nHost: x\r\nX-Api-Key: client\r\n\r\n");
is($r->{status}, 503, 'with a client key too');

$n->stop;

my $log = $n->access_log;

unlike($log, qr/review-secret/, 'no credential in the access log');
like($log, qr{uri=/s/a key=-}, 'the client sent none');
like($log, qr{uri=/s/b key=client}, "the client's own value");

done_testing();
