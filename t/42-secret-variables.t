#!/usr/bin/perl

# An injected credential reaches the partner, and nothing else: once the
# upstream request is built, the client's own headers and body are back,
# so no variable shows a secret, whatever reads it: SSI in the partner's
# content, add_header (also on nginx's own 502), log_format, error_page
# chains, named locations.  Retries (proxy_next_upstream, answer codes)
# still send the credential.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64);
use EdgeAuthTest;
use MockPartner;

my $port = free_port();
my $up = free_port();
my $bad = free_port();
my $dead = free_port();

my $USER = 'partner-user-5521';
my $PASS = 'PW-basic-secret-7731';
my $BASIC = encode_base64("$USER:$PASS", '');
my $KEY = 'HDR-secret-key-9914';
my $BODY = 'BODY-secret-3318';

my $CLIENT_KEY = 'client-key-1';
my $CLIENT_AUTH = 'Basic ' . encode_base64('client-user:cpw', '');
my $CLIENT_BODY = '{"a":1}';

# the partner's page: SSI that shows what the request's variables hold,
# inside a JSON answer with answer code 75 (ok)

my @VARS = qw(http_x_api_key http_authorization request_body remote_user
              http_cookie cookie_authToken cookie_session);
my $PAGE = '{"exctnFdbck":{"id":"75"}'
    . join('', map { qq{,"$_":"<!--# echo var='$_' -->"} } @VARS) . "}\n";

my $seen = tempdir(CLEANUP => 1);

sub page {
    my ($status) = @_;
    return "HTTP/1.1 $status X\r\nContent-Type: text/html\r\n"
        . "Content-Length: " . length($PAGE) . "\r\nConnection: close\r\n\r\n"
        . $PAGE;
}

# the partner records every request it gets, head and body

echo_server($up, sub {
    my ($head, $body) = @_;
    my ($path) = $head =~ m{^\w+ (\S+)};
    open my $fh, '>>', "$seen/requests" or die "$seen/requests: $!";
    print $fh "=== $path\n$head$body\n";
    close $fh;
    return page($path =~ /404/ ? 404 : 200);
});

# the first upstream of /next/: reads the request, answers 502

echo_server($bad, sub {
    my ($head, $body) = @_;
    open my $fh, '>>', "$seen/bad" or die "$seen/bad: $!";
    print $fh "$head$body\n";
    close $fh;
    return "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n"
        . "Connection: close\r\n\r\n";
});

my $amee = MockPartner->start(kind => 'amee');
$amee->set(for => 'api', body => $PAGE, content_type => 'text/html');
my $amee_url = $amee->url;

my $vars = join ' ', map { "$_=\$$_" } @VARS;

my $n = nginx_new(http => <<"CONF");
    log_format secrets '\$request_uri $vars';
    access_log %%DIR%%/secrets.log secrets;

    credential static {
        basic $USER $PASS;
        header X-Api-Key $KEY;
    }

    credential withbody {
        header X-Api-Key $KEY;
        body_json userInfo.key $BODY;
    }

    credential answered {
        header X-Api-Key $KEY;
        body_json userInfo.key $BODY;
        answer_code exctnFdbck.id;
        answer_retry 1 10ms;
    }

    credential amee {
        login       $amee_url/auth;
        login_param username amee-user;
        login_param password amee-pass;
        token_from  header authToken;
        token_cookie authToken;
    }

    upstream next {
        server 127.0.0.1:$bad;
        server 127.0.0.1:$up backup;
    }

    server {
        listen 127.0.0.1:$port;

        ssi on;
        add_header X-Seen "$vars" always;

        location /static/ {
            credential_inject static;
            proxy_pass http://127.0.0.1:$up;
        }

        location /body/ {
            credential_inject withbody;
            proxy_pass http://127.0.0.1:$up;
        }

        location /answer/ {
            credential_inject answered;
            proxy_pass http://127.0.0.1:$up;
        }

        location /cookie/ {
            credential_inject amee;
            proxy_pass $amee_url;
        }

        location /next/ {
            credential_inject withbody;
            proxy_pass http://next;
            proxy_next_upstream error http_502 non_idempotent;
        }

        location /unbuffered/ {
            credential_inject static;
            proxy_pass http://127.0.0.1:$up;
            proxy_request_buffering off;
            proxy_http_version 1.1;
        }

        location /mirrored/ {
            credential_inject withbody;
            mirror /mirror;
            proxy_pass http://127.0.0.1:$up;
        }

        location = /mirror {
            internal;
            credential_inject static;
            proxy_pass http://127.0.0.1:$up/mirror-copy;
        }

        location /dead/ {
            credential_inject static;
            proxy_pass http://127.0.0.1:$dead;
        }

        location /fallback/ {
            credential_inject withbody;
            proxy_pass http://127.0.0.1:$dead;
            error_page 502 = \@fallback;
        }

        location \@fallback {
            credential_inject off;
            return 200 "fallback $vars\\n";
        }

        location /intercept/ {
            credential_inject static;
            proxy_pass http://127.0.0.1:$up;
            proxy_intercept_errors on;
            error_page 404 /err;
        }

        location = /err {
            credential_inject off;
            proxy_pass http://127.0.0.1:$up/page;
        }
    }
CONF

$n->start($port);

my @SECRETS = ($PASS, $BASIC, $USER, $KEY, $BODY);

sub request {
    my ($method, $uri, $body, $no_auth) = @_;
    my $req = "$method $uri HTTP/1.1\nHost: localhost\nConnection: close\n"
        . "X-Api-Key: $CLIENT_KEY\n"
        . ($no_auth ? '' : "Authorization: $CLIENT_AUTH\n")
        . "Cookie: session=client-session\n";
    $req .= "Content-Type: application/json\nContent-Length: "
        . length($body) . "\n" if defined $body;
    return http_request($port, $req . "\n" . ($body // ''));
}

sub partner_got {
    my ($uri) = @_;
    open my $fh, '<', "$seen/requests" or return '';
    local $/;
    my $all = <$fh>;
    my @reqs = split /^=== /m, $all;
    my ($last) = reverse grep { /^\Q$uri\E\n/ } @reqs;
    return $last // '';
}

sub no_secret {
    my ($text, $name, @extra) = @_;
    my @found = grep { index($text, $_) >= 0 } @SECRETS, @extra;
    ok(!@found, "$name: no secret") or diag("found @found in:\n$text");
}

my ($r, $got);

# header and basic; SSI, add_header and the log see the client's values

$r = request(GET => '/static/a');
is($r->{status}, 200, 'static: proxied');
$got = partner_got('/static/a');
like($got, qr/^x-api-key: \Q$KEY\E\r?$/mi, 'static: the partner got the key');
like($got, qr/^authorization: Basic \Q$BASIC\E\r?$/mi,
     'static: the partner got basic');
no_secret($r->{raw}, 'static: SSI and add_header');
like($r->{body}, qr/"http_x_api_key":"\Q$CLIENT_KEY\E"/,
     "static: SSI shows the client's own key");
like($r->{raw}, qr/^X-Seen: .*http_x_api_key=\Q$CLIENT_KEY\E/m,
     "static: add_header shows the client's own key");

# the JSON body: $request_body is the client's again

$r = request(POST => '/body/a', $CLIENT_BODY);
is($r->{status}, 200, 'body: proxied');
$got = partner_got('/body/a');
like($got, qr/"userInfo":\{"key":"\Q$BODY\E"\},"a":1\}/,
     'body: the partner got the member');
like($got, qr/^x-api-key: \Q$KEY\E\r?$/mi, 'body: and the key');
no_secret($r->{raw}, 'body: SSI and add_header');
like($r->{body}, qr/"request_body":"\{&quot;a&quot;:1\}"/,
     "body: SSI shows the client's own body");

# answer codes: the attempt carries the credential, the main request not

$r = request(POST => '/answer/a', $CLIENT_BODY);
is($r->{status}, 200, 'answer code: answered');
$got = partner_got('/answer/a');
like($got, qr/"userInfo":\{"key":"\Q$BODY\E"\}/,
     'answer code: the attempt sent the member');
like($got, qr/^x-api-key: \Q$KEY\E\r?$/mi, 'answer code: and the key');
no_secret($r->{raw}, 'answer code: SSI and add_header');
like($r->{body}, qr/"http_x_api_key":"\Q$CLIENT_KEY\E"/,
     "answer code: SSI shows the client's own key");

# a token in a cookie (AMEE takes a client's Basic first: none here)

$r = request(GET => '/cookie/a', undef, 1);
is($r->{status}, 200, 'cookie: proxied');
my $token = $amee->last_token;
ok($token, 'cookie: a token was issued');
is($amee->last_api->{auth}, 'cookie', 'cookie: the partner got the session');
push @SECRETS, $token if $token;
no_secret($r->{raw}, 'cookie: SSI and add_header');
like($r->{body}, qr/"cookie_session":"client-session"/,
     "cookie: SSI shows the client's own cookie");

# proxy_next_upstream: the second upstream gets the same credential

unlink "$seen/bad";
$r = request(POST => '/next/a', $CLIENT_BODY);
is($r->{status}, 200, 'next upstream: answered by the second');
open my $bfh, '<', "$seen/bad";
my $first = do { local $/; $bfh ? <$bfh> : '' };
like($first, qr/\Q$BODY\E/, 'next upstream: the first one got the member');
$got = partner_got('/next/a');
like($got, qr/"userInfo":\{"key":"\Q$BODY\E"\},"a":1\}\n?\z/,
     'next upstream: the second got the same body');
like($got, qr/^x-api-key: \Q$KEY\E\r?$/mi, 'next upstream: and the key');
no_secret($r->{raw}, 'next upstream: SSI and add_header');

# a body over client_body_buffer_size, in the temporary file: the retry
# sends the new body, not the file from its start (the client's members)

my $big = '{"userInfo":"client","pad":"' . ('x' x 100000) . '","z":1}';
$r = request(POST => '/next/big', $big);
is($r->{status}, 200, 'next upstream, body in a file: answered');
$got = partner_got('/next/big');
like($got, qr/\r\n\r\n\{"userInfo":\{"key":"\Q$BODY\E"\},"pad":"x+","z":1\}\n?\z/,
     'next upstream, body in a file: the second got the new body');
unlike($got, qr/"userInfo":"client"/,
       "next upstream, body in a file: not the client's member");

# nginx's own 502: add_header ... always

$r = request(GET => '/dead/a');
is($r->{status}, 502, 'dead upstream: 502');
no_secret($r->{raw}, 'dead upstream: add_header on the 502');
like($r->{raw}, qr/^X-Seen: .*http_x_api_key=\Q$CLIENT_KEY\E/m,
     "dead upstream: add_header shows the client's own key");

# error_page 502 = @named: the fallback echoes the variables

$r = request(POST => '/fallback/a', $CLIENT_BODY);
is($r->{status}, 200, 'fallback: answered by the named location');
like($r->{body}, qr/^fallback /, 'fallback: its answer');
no_secret($r->{raw}, 'fallback: return and add_header');
like($r->{body}, qr/request_body=\Q$CLIENT_BODY\E/,
     "fallback: the client's own body");
like($r->{body}, qr/http_x_api_key=\Q$CLIENT_KEY\E /,
     "fallback: the client's own key");

# proxy_intercept_errors + error_page 404 /err: SSI in the next answer

$r = request(GET => '/intercept/404');
is($r->{status}, 404, 'intercepted: /err answered');
like(partner_got('/intercept/404'), qr/^x-api-key: \Q$KEY\E\r?$/mi,
     'intercepted: the partner got the key first');
like(partner_got('/page'), qr/^GET \/page /m, 'intercepted: /err proxied');
unlike(partner_got('/page'), qr/\Q$KEY\E|\Q$BASIC\E/,
       'intercepted: /err sent no credential');
no_secret($r->{raw}, 'intercepted: SSI and add_header');

# the body comes after the proxy started reading it: the upstream request
# is built later, from the body's handler

sub slow_request {
    my ($uri, $body, $abort) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10)
        or die "connect $port: $!";
    my $half = int(length($body) / 2);
    print $s "POST $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        . "X-Api-Key: $CLIENT_KEY\r\nContent-Length: " . length($body)
        . "\r\n\r\n" . substr($body, 0, $half);
    select(undef, undef, undef, 0.3);
    if ($abort) {
        close $s;
        return;
    }
    print $s substr($body, $half);
    local $/;
    my $raw = <$s> // '';
    close $s;
    return $raw;
}

my $raw = slow_request('/static/slow', '{"slow":"body"}');
like($raw, qr{^HTTP/1\.1 200 }, 'body read later: proxied');
like(partner_got('/static/slow'), qr/^x-api-key: \Q$KEY\E\r?$/mi,
     'body read later: the partner got the key');
no_secret($raw, 'body read later: SSI and add_header');
like($raw, qr/"http_x_api_key":"\Q$CLIENT_KEY\E"/,
     "body read later: SSI shows the client's own key");

$raw = slow_request('/unbuffered/slow', '{"slow":"body"}');
like($raw, qr{^HTTP/1\.1 200 }, 'unbuffered body: proxied');
$got = partner_got('/unbuffered/slow');
like($got, qr/^x-api-key: \Q$KEY\E\r?$/mi, 'unbuffered body: the key');
like($got, qr/\{"slow":"body"\}\n?\z/, 'unbuffered body: the body');
no_secret($raw, 'unbuffered body: SSI and add_header');

# mirror: the copy gets its own location's credential, not the body's

$r = request(POST => '/mirrored/a', $CLIENT_BODY);
is($r->{status}, 200, 'mirror: proxied');
like(partner_got('/mirrored/a'), qr/"userInfo":\{"key":"\Q$BODY\E"\}/,
     'mirror: the main request sent the member');
no_secret($r->{raw}, 'mirror: SSI and add_header');
my $copy = '';
for (1 .. 40) {
    $copy = partner_got('/mirror-copy') and last;
    select(undef, undef, undef, 0.05);
}
like($copy, qr/^authorization: Basic \Q$BASIC\E\r?$/mi,
     "mirror: the copy got its location's credential");
like($copy, qr/\r\n\r\n\Q$CLIENT_BODY\E\n?\z/,
     "mirror: and the client's body, not the main request's");

# the client leaves while its body is read: only the log sees the request

slow_request('/static/gone', '{"gone":"body"}', 1);
select(undef, undef, undef, 0.3);

# the logs, written at the end of each request

$n->stop;

open my $lfh, '<', $n->dir . '/secrets.log' or die "secrets.log: $!";
my $log = do { local $/; <$lfh> };
like($log, qr{^/static/a http_x_api_key=\Q$CLIENT_KEY\E}m,
     "log: the client's own key");
like($log, qr{^/body/a .*request_body=\{\\x22a\\x22:1\}}m,
     "log: the client's own body");
like($log, qr{^/static/gone http_x_api_key=\Q$CLIENT_KEY\E}m,
     "log: a client that left: its own key");
no_secret($log, 'access log');
no_secret($n->error_log, 'error log');

done_testing();
