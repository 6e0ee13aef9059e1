#!/usr/bin/perl

# A variable that reads the request's headers caches its value: one that
# the upstream module evaluated while the credential was in (a
# "proxy_set_header Authorization $http_authorization;" left from before
# the credential, a copy of the key for the partner) must not hand that
# value to the access log once the client's view is back.  Both ways of
# putting it back: a static credential appended after the client's
# headers (the common case), and one whose client sent a copy of the name
# (the list rebuilt).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MIME::Base64 qw(encode_base64);
use EdgeAuthTest;

my $port = free_port();
my $up = free_port();
echo_server($up);

my $KEY = 'KEY-cached-secret-4417';
my $PW = 'PW-cached-secret-9023';
my $BASIC = encode_base64("cached-user:$PW", '');
my $CLIENT_AUTH = 'Basic ' . encode_base64('client-user:cpw', '');

my $n = nginx_new(http => <<"CONF");
    log_format seen 'seen \$request_uri k=[\$http_x_api_key] '
                    'a=[\$http_authorization] u=[\$remote_user]';

    credential key {
        header X-Api-Key $KEY;
    }

    credential bas {
        basic cached-user $PW;
    }

    server {
        listen 127.0.0.1:$port;
        access_log %%DIR%%/access.log seen;

        location /key/ {
            credential_inject key;
            proxy_set_header X-Key-Copy \$http_x_api_key;
            proxy_pass http://127.0.0.1:$up;
        }

        location /basic/ {
            credential_inject bas;
            proxy_set_header Authorization \$http_authorization;
            proxy_pass http://127.0.0.1:$up;
        }
    }
CONF

$n->start($port);

sub get {
    my ($uri, $hdr) = @_;
    return http_request($port, "GET $uri HTTP/1.0\nHost: x\n"
                               . ($hdr // '') . "\n");
}

my $r = get('/key/a');
like($r->{body}, qr/^X-Key-Copy: \Q$KEY\E\r?$/m,
     'key: proxy_set_header saw the credential');
$r = get('/key/b', "X-Api-Key: client-key\n");
is(count_header($r->{body}, 'x-api-key'), 1, 'key, client copy: one sent');
$r = get('/basic/a');
like($r->{body}, qr/^Authorization: Basic \Q$BASIC\E\r?$/m,
     'basic: the partner got the credential');
$r = get('/basic/b', "Authorization: $CLIENT_AUTH\n");
like($r->{body}, qr/^Authorization: Basic \Q$BASIC\E\r?$/m,
     'basic, client copy: the partner got the credential');

my $log = '';
for (1 .. 50) {
    $log = $n->access_log;
    last if ($log =~ tr/\n//) >= 4;
    select undef, undef, undef, 0.1;
}

unlike($log, qr/\Q$KEY\E/, 'no key in the log');
unlike($log, qr/\Q$BASIC\E|cached-user/, 'no partner basic in the log');
like($log, qr{^seen /key/a k=\[-\]}m, 'key: the client sent none');
like($log, qr{^seen /key/b k=\[client-key\]}m, "key: the client's logged");
like($log, qr{^seen /basic/a k=\[-\] a=\[-\] u=\[-\]}m,
     'basic: the client sent none');
like($log, qr{^seen /basic/b k=\[-\] a=\[\Q$CLIENT_AUTH\E\] u=\[client-user\]}m,
     "basic: the client's logged");

$n->stop;

done_testing();
