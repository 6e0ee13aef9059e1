#!/usr/bin/perl

# Static credentials reach the upstream exactly once, whatever the client
# sends; inheritance works as nginx users expect; internal redirects do not
# carry a credential into another location.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EdgeAuthTest;

my $port = free_port();
my $up = free_port();
echo_server($up);

my $SECRET_KEY = 'nilo-key-from-file-0123456789';
my $ENV_PW = 'topsecret';

my $n = nginx_new(env => { EDGE_AUTH_CM_PASSWORD => $ENV_PW },
                  log_level => 'debug', http => <<"CONF");
    log_format cred '\$request_uri cred=\$credential_name list=\$auth_ip_list user=\$remote_user';
    access_log %%DIR%%/cred.log cred;
    underscores_in_headers on;

    credential criticalmix {
        basic criticalmix env:EDGE_AUTH_CM_PASSWORD;
    }

    credential nilo {
        header x-api-key file:%%DIR%%/nilo.key;
    }

    credential two {
        basic u p;
        header X-Partner-Key k2;
    }

    credential_inject criticalmix;

    server {
        listen 127.0.0.1:$port;

        location /cm/ {
            proxy_pass http://127.0.0.1:$up;
        }

        location /nilo/ {
            credential_inject nilo;
            proxy_pass http://127.0.0.1:$up;
        }

        location /off/ {
            credential_inject off;
            proxy_pass http://127.0.0.1:$up;
        }

        location /two/ {
            credential_inject two;
            proxy_pass http://127.0.0.1:$up;
        }

        location /redirect-to-off/ {
            credential_inject nilo;
            error_page 418 = \@plain;
            return 418;
        }

        location /try/ {
            credential_inject nilo;
            try_files /nonexistent \@plain;
        }

        location /leak/ {
            credential_inject nilo;
            try_files /nonexistent /show;
        }

        location = /show {
            return 200 "key=\$http_x_api_key\n";
        }

        location \@plain {
            credential_inject off;
            proxy_pass http://127.0.0.1:$up;
        }

        location /rewrite-nilo/ {
            credential_inject two;
            rewrite ^ /nilo/x last;
        }
    }

    server {
        listen 127.0.0.1:$port;
        server_name off.example;
        credential_inject off;

        location / {
            proxy_pass http://127.0.0.1:$up;
        }

        location /on/ {
            credential_inject nilo;
            proxy_pass http://127.0.0.1:$up;
        }
    }
CONF

$n->write_file('nilo.key', "$SECRET_KEY\n");
$n->start($port);

sub get {
    my ($uri, @headers) = @_;
    my $host = 'localhost';
    @headers = map { /^Host:\s*(.*)/i ? do { $host = $1; () } : $_ } @headers;
    my $req = "GET $uri HTTP/1.1\nHost: $host\nConnection: close\n"
        . join('', map { "$_\n" } @headers) . "\n";
    return http_request($port, $req);
}

my $r;

# seed 004: criticalmix:topsecret

$r = get('/cm/a');
is($r->{status}, 200, 'basic: proxied');
is_deeply([header_values($r->{body}, 'Authorization')],
          ['Basic Y3JpdGljYWxtaXg6dG9wc2VjcmV0'],
          'basic: seed 004 value, from env:, exactly once');

# smuggling: any case, many copies, underscores

$r = get('/cm/a', 'authorization: Basic ZXZpbDpldmls', 'X-Other: kept');
is_deeply([header_values($r->{body}, 'Authorization')],
          ['Basic Y3JpdGljYWxtaXg6dG9wc2VjcmV0'],
          'basic: client copy in lower case removed, ours once');
is(count_header($r->{body}, 'X-Other'), 1, 'other client headers kept');

# nginx itself refuses a second Authorization before any module runs
$r = get('/cm/a', 'Authorization: Basic ZXZpbDpldmls',
         'AUTHORIZATION: Bearer evil');
is($r->{status}, 400, 'two Authorization headers: 400 from nginx');
unlike($r->{body}, qr/Y3JpdGljYWxtaXg6dG9wc2VjcmV0/,
       'two Authorization headers: nothing proxied');

$r = get('/nilo/a', 'x-api-key: evil', 'X-API-KEY: evil2', 'X_Api_Key: evil3',
         'Authorization: Basic Y2xpZW50OnBhc3M=');
is_deeply([header_values($r->{body}, 'x-api-key')], [$SECRET_KEY],
          'api key: from file:, client copies removed');
is(count_header($r->{body}, 'X_Api_Key'), 0,
   'api key: underscore variant removed too');
is_deeply([header_values($r->{body}, 'Authorization')],
          ['Basic Y2xpZW50OnBhc3M='],
          'api key: headers of other credentials pass untouched');

$r = get('/two/a', 'X-Partner-Key: evil', 'Authorization: evil');
is_deeply([header_values($r->{body}, 'X-Partner-Key')], ['k2'],
          'basic and header together: header');
is_deeply([header_values($r->{body}, 'Authorization')], ['Basic dTpw'],
          'basic and header together: basic');

# inheritance: http level, "off" at location and at server, on again below

$r = get('/off/a', 'Authorization: client');
is_deeply([header_values($r->{body}, 'Authorization')], ['client'],
          'off: nothing injected, client header forwarded as sent');

$r = get('/x', 'Host: off.example', 'Authorization: client');
is_deeply([header_values($r->{body}, 'Authorization')], ['client'],
          'server-level off overrides http level');

$r = get('/on/x', 'Host: off.example');
is_deeply([header_values($r->{body}, 'x-api-key')], [$SECRET_KEY],
          'location below a server with off injects its own');
is(count_header($r->{body}, 'Authorization'), 0,
   'and not the http-level credential');

# internal redirects: a credential never reaches another location's upstream

$r = get('/redirect-to-off/a', 'Authorization: client');
is($r->{status}, 200, 'error_page redirect proxied');
is(count_header($r->{body}, 'x-api-key'), 0,
   'error_page to a location with off: no credential leaks');
is_deeply([header_values($r->{body}, 'Authorization')], ['client'],
          'error_page: client headers of other names untouched');

$r = get('/try/a');
is(count_header($r->{body}, 'x-api-key'), 0,
   'try_files fallback to a location with off: no credential leaks');

$r = get('/leak/a');
is($r->{body}, "key=\n",
   'after a redirect, the rewrite phase no longer sees the injected key');

$r = get('/rewrite-nilo/a');
is_deeply([header_values($r->{body}, 'x-api-key')], [$SECRET_KEY],
          'rewrite ... last: the final location\'s credential');
is(count_header($r->{body}, 'X-Partner-Key'), 0,
   'rewrite ... last: nothing of the first location\'s credential');

# POST bodies pass untouched

$r = http_request($port, "POST /cm/p HTTP/1.1\nHost: x\nConnection: close\n"
                  . "Content-Length: 5\nAuthorization: evil\n\nhello");
like($r->{body}, qr/\r\n\r\nhello$/, 'request body forwarded');
is(count_header($r->{body}, 'Authorization'), 1, 'POST: one Authorization');

# logging: names only

$n->stop;

my $log = do { local $/; open my $fh, '<', $n->dir . '/cred.log'; <$fh> };
like($log, qr{^/cm/a cred=criticalmix list=- user=-$}m,
     '$credential_name logged; $remote_user does not show the partner\'s user');
like($log, qr{^/off/a cred=- }m, '$credential_name empty when off');

my $err = $n->error_log;
like($err, qr/credential "nilo": injected header "x-api-key"/,
     'debug log names the injected header');
like($err, qr/http proxy header:.*x-api-key: \[redacted\]/s,
     'debug log: the proxied header is there, its value masked');
unlike($err, qr/\Q$SECRET_KEY\E/, 'debug log has no API key');
unlike($err, qr/Y3JpdGljYWxtaXg6dG9wc2VjcmV0|\Q$ENV_PW\E/,
       'debug log has no basic credential');

done_testing;
