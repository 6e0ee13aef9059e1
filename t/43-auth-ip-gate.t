#!/usr/bin/perl

# auth_ip holds for every request a protected location handles: an SSI
# "include virtual", an auth_request and a mirror subrequest (subrequests
# skip the access phase), a location that only does "return" or
# "rewrite ... redirect", "rewrite ... last" out of it, "rewrite ... break"
# to another upstream; under "satisfy any" too.  The partner stand-in
# logs every request it gets: a refused one must never reach it.  An
# allowed address passes everywhere.  realip at location level, the
# counters and the log lines: one per request.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);
use EdgeAuthTest;

my $port = free_port();
my $up = free_port();
my $up2 = free_port();

my $have_ipv6 = do {
    require IO::Socket::IP;
    my $s = IO::Socket::IP->new(LocalAddr => '::1', LocalPort => 0,
                                Listen => 1);
    $s ? 1 : 0;
};

my $listen6 = $have_ipv6 ? "listen [::1]:$port;" : '';

my $n = nginx_new(http => <<"CONF");
    auth_ip_list nobody { 203.0.113.1; }
    auth_ip_list loopback { 127.0.0.1; ::1; }
    auth_ip_list only10 { 10.1.2.3; }
    auth_ip_list lb10 { 127.0.0.1; 10.1.2.3; }
    auth_ip_list counted { 127.0.0.1; ::1; }
    auth_ip_list refused { 203.0.113.2; }

    server {
        listen 127.0.0.1:$port;
        $listen6
        root %%DIR%%/html;
        default_type text/html;

        # public pages that include protected ones
        location /pub/ {
            ssi on;
        }

        # the partner behind the gate, and one the loopback may reach
        location /secret/ {
            auth_ip nobody;
            proxy_pass http://127.0.0.1:$up;
        }

        location /open-secret/ {
            auth_ip loopback;
            proxy_pass http://127.0.0.1:$up;
        }

        location /secret-any/ {
            satisfy any;
            auth_basic "x";
            auth_basic_user_file %%DIR%%/htpasswd;
            auth_ip nobody;
            proxy_pass http://127.0.0.1:$up;
        }

        # auth_request to a protected location
        location /ar/ {
            auth_request /secret/authz;
            proxy_pass http://127.0.0.1:$up;
        }

        location /ar-ok/ {
            auth_request /open-secret/authz;
            proxy_pass http://127.0.0.1:$up;
        }

        location /ar-any/ {
            satisfy any;
            auth_basic "x";
            auth_basic_user_file %%DIR%%/htpasswd;
            auth_request /secret/authz-any;
            proxy_pass http://127.0.0.1:$up;
        }

        # mirror to a protected location
        location /mirror/ {
            mirror /secret/mirrored;
            proxy_pass http://127.0.0.1:$up;
        }

        location /mirror-ok/ {
            mirror /open-secret/mirrored;
            proxy_pass http://127.0.0.1:$up;
        }

        # answers of the rewrite phase
        location = /ret {
            auth_ip nobody;
            return 200 "secret\\n";
        }

        location = /ret-ok {
            auth_ip loopback;
            return 200 "secret\\n";
        }

        location = /ret-custom {
            auth_ip nobody;
            error_page 403 /custom-403;
            return 200 "secret\\n";
        }

        location = /custom-403 {
            return 403 "custom page\\n";
        }

        location = /redirect {
            auth_ip nobody;
            rewrite ^ http://partner.example/presigned-secret redirect;
        }

        location /last/ {
            auth_ip nobody;
            rewrite ^/last/(.*)\$ /public-upstream/\$1 last;
        }

        location /public-upstream/ {
            proxy_pass http://127.0.0.1:$up;
        }

        location /break/ {
            auth_ip nobody;
            rewrite ^ /break-target break;
            proxy_pass http://127.0.0.1:$up2;
        }

        location /break-ok/ {
            auth_ip loopback;
            rewrite ^ /break-target break;
            proxy_pass http://127.0.0.1:$up2;
        }

        # satisfy any: valid basic credentials do not let a refused
        # address in, not even to a return
        location = /any-ret {
            satisfy any;
            auth_basic "x";
            auth_basic_user_file %%DIR%%/htpasswd;
            auth_ip nobody;
            return 200 "secret\\n";
        }

        location /any-ok/ {
            satisfy any;
            auth_basic "x";
            auth_basic_user_file %%DIR%%/htpasswd;
            auth_ip loopback;
            proxy_pass http://127.0.0.1:$up;
        }

        # counted once, whatever the number of phases it passes
        location /counted/ {
            auth_ip counted;
            proxy_pass http://127.0.0.1:$up;
        }

        location = /refused {
            auth_ip refused;
            return 200 "secret\\n";
        }

        location = /status {
            credential_status;
        }

        # realip at location level sets the address in the preaccess
        # phase, after the gate: a listed balancer passes the gate, the
        # client it names is checked in the access phase
        location /rl-listed/ {
            set_real_ip_from 127.0.0.1;
            real_ip_header X-Test-Client;
            auth_ip lb10;
            proxy_pass http://127.0.0.1:$up;
        }

        # ... and an unlisted one is refused, whatever client it names
        location /rl-unlisted/ {
            set_real_ip_from 127.0.0.1;
            real_ip_header X-Test-Client;
            auth_ip only10;
            proxy_pass http://127.0.0.1:$up;
        }
    }

    # realip at server level: the gate sees the client's address
    server {
        listen 127.0.0.1:$port;
        server_name lb.example;
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Test-Client;

        location = /ret {
            auth_ip only10;
            return 200 "secret\\n";
        }

        location /up/ {
            auth_ip only10;
            proxy_pass http://127.0.0.1:$up;
        }
    }
CONF

my $dir = $n->dir;
my $seen = "$dir/partner.log";

# the partner stand-ins: each request's line goes to the log
for my $p ($up, $up2) {
    echo_server($p, sub {
        my ($head) = @_;
        my ($line) = $head =~ /^([^\r\n]*)/;
        open my $fh, '>>', $seen or die "$seen: $!";
        print $fh "$p $line\n";
        close $fh;
        my $body = "partner $line\n";
        return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
            . "Content-Length: " . length($body) . "\r\n"
            . "Connection: close\r\n\r\n$body";
    });
}

mkdir "$dir/html";
mkdir "$dir/html/pub";
chmod 0755, "$dir/html", "$dir/html/pub";
$n->write_file('html/pub/in.html',
               "before <!--# include virtual=\"/secret/ssi\" --> after\n",
               0644);
$n->write_file('html/pub/in-ok.html',
               "before <!--# include virtual=\"/open-secret/ssi\" --> after\n",
               0644);
$n->write_file('html/pub/in-any.html',
               "before <!--# include virtual=\"/secret-any/ssi\" --> after\n",
               0644);
# "user:password" with crypt(3) of "password"
$n->write_file('htpasswd', "user:" . crypt('password', 'ab') . "\n", 0644);
$n->start($port);

my $BASIC = 'Authorization: Basic dXNlcjpwYXNzd29yZA==';

sub get {
    my ($uri, %a) = @_;
    # HTTP/1.0: SSI pages come whole, not chunked
    my $req = "GET $uri HTTP/1." . ($uri =~ /\.html$/ ? 0 : 1) . "\n"
        . "Host: " . ($a{host} || 'localhost') . "\nConnection: close\n"
        . join('', map { "$_\n" } @{ $a{headers} || [] }) . "\n";
    return http_request($port, $req, $a{peer});
}

sub partner_log {
    open my $fh, '<', $seen or return '';
    local $/;
    return <$fh> // '';
}

# the mirror's subrequest runs in the background: wait until a later
# mirror request reached the stand-in, then the earlier one would have too
sub wait_seen {
    my ($re) = @_;
    for (1 .. 100) {
        return 1 if partner_log() =~ $re;
        sleep 0.05;
    }
    return 0;
}

my $JSON403 = qr/"errorCode":"ip-not-allowed"/;

# SSI include virtual from a public page

my $r = get('/pub/in.html');
is($r->{status}, 200, 'SSI: the public page itself is served');
like($r->{body}, qr/^before .* after$/s, 'SSI: page around the include');
unlike($r->{body}, qr/partner/, 'SSI: no partner answer in the page');
like($r->{body}, $JSON403, 'SSI: the include is the JSON 403');

$r = get('/pub/in-any.html', headers => [$BASIC]);
unlike($r->{body}, qr/partner/,
       'SSI into satisfy any + auth_basic: refused (no access phase)');

$r = get('/pub/in-ok.html');
like($r->{body}, qr{^before partner GET /open-secret/ssi HTTP/1\.\d\n after$},
     'SSI: an allowed address gets the include');

# auth_request to a protected location

$r = get('/ar/x');
is($r->{status}, 403, 'auth_request to a protected location: 403');

$r = get('/ar-any/x', headers => [$BASIC]);
is($r->{status}, 200, 'satisfy any: basic credentials pass without the '
                      . 'refused auth_request');
$r = get('/ar-any/x');
is($r->{status}, 401, 'satisfy any, no credentials, the auth_request '
                      . 'subrequest refused: 401');

$r = get('/ar-ok/x');
is($r->{status}, 200, 'auth_request: an allowed address passes');
like($r->{body}, qr{partner GET /ar-ok/x }, 'and reaches the upstream');

# mirror to a protected location

$r = get('/mirror/x');
is($r->{status}, 200, 'mirror: the main request is served');
$r = get('/mirror-ok/x');
is($r->{status}, 200, 'mirror to an allowed location');
ok(wait_seen(qr{GET /open-secret/mirrored }),
   'the allowed mirror reaches its upstream');

# return, rewrite

$r = get('/ret');
is($r->{status}, 403, 'a location that only does return: 403');
like($r->{body}, $JSON403, 'with the JSON body');
unlike($r->{body}, qr/secret/, 'and not the answer');

$r = get('/ret-ok');
is($r->{status}, 200, 'return: an allowed address gets it');
is($r->{body}, "secret\n", 'the answer');

$r = get('/ret-custom');
is($r->{status}, 403, 'return with error_page 403: 403');
is($r->{body}, "custom page\n", 'the operator\'s page');

$r = get('/redirect');
is($r->{status}, 403, 'rewrite ... redirect: 403');
ok(!grep(/presigned/, @{ $r->{headers}{location} || [] }),
   'no Location leaked');

$r = get('/last/x');
is($r->{status}, 403, 'rewrite ... last out of a protected location: 403');

$r = get('/break/x');
is($r->{status}, 403, 'rewrite ... break to another upstream: 403');
$r = get('/break-ok/x');
is($r->{status}, 200, 'rewrite ... break: an allowed address passes');
like($r->{body}, qr{partner GET /break-target }, 'to the other upstream');

# satisfy any

$r = get('/any-ret', headers => [$BASIC]);
is($r->{status}, 403, 'satisfy any + valid basic + return: 403');
$r = get('/any-ok/x');
is($r->{status}, 401, 'satisfy any, allowed address, no credentials: 401');
$r = get('/any-ok/x', headers => [$BASIC]);
is($r->{status}, 200, 'satisfy any, allowed address and credentials: 200');

# IPv6 loopback

SKIP: {
    skip 'no IPv6 loopback', 3 unless $have_ipv6;
    is(get('/ret', peer => '::1')->{status}, 403, '[::1]: return refused');
    is(get('/ret-ok', peer => '::1')->{status}, 200,
       '[::1]: return allowed');
    unlike(get('/pub/in.html', peer => '::1')->{body}, qr/partner/,
           '[::1]: SSI include refused');
}

# realip

$r = get('/ret', host => 'lb.example', headers => ['X-Test-Client: 10.1.2.3']);
is($r->{status}, 200, 'server-level realip: the client\'s address passes');
$r = get('/ret', host => 'lb.example',
         headers => ['X-Test-Client: 203.0.113.9']);
is($r->{status}, 403, 'server-level realip: a refused client, return: 403');
$r = get('/up/x', host => 'lb.example',
         headers => ['X-Test-Client: 203.0.113.9']);
is($r->{status}, 403, 'server-level realip: a refused client, proxy: 403');

$r = get('/rl-listed/a', headers => ['X-Test-Client: 10.1.2.3']);
is($r->{status}, 200, 'location-level realip, listed balancer, client '
                      . 'allowed: 200');
$r = get('/rl-listed/b', headers => ['X-Test-Client: 203.0.113.9']);
is($r->{status}, 403, 'location-level realip, a refused client: 403 '
                      . 'in the access phase');
$r = get('/rl-unlisted/c', headers => ['X-Test-Client: 10.1.2.3']);
is($r->{status}, 403, 'location-level realip, unlisted balancer: 403');

# one count and one log line per request

get('/counted/x') for 1 .. 3;
get('/refused') for 1 .. 2;
$r = get('/status');
my $s = eval { decode_json($r->{body}) } || {};
is($s->{ip_lists}{counted}{allowed}, 3, '3 allowed requests counted 3 times');
is($s->{ip_lists}{refused}{denied}, 2, '2 refused requests counted twice');

# nothing refused reached a stand-in

my $log = partner_log();
unlike($log, qr{ /secret/}, 'the stand-in never saw a /secret/ request')
    or diag $log;
unlike($log, qr{/rl-listed/b|/rl-unlisted/}, 'nor a refused realip client');
unlike($log, qr{/public-upstream/}, 'nor a rewrite ... last');
unlike($log, qr{ /ar/}, 'nor a main request its auth_request refused');
my $ar_any = () = $log =~ m{ GET /ar-any/x }g;
is($ar_any, 1, 'satisfy any: only the request with credentials got through');
my $break = () = $log =~ m{^$up2 GET /break-target }mg;
is($break, 1, 'the other upstream saw only the allowed rewrite ... break');

$n->stop;

my $err = $n->error_log;
my $refused = () = $err =~ /auth_ip: client \S+ denied by list "refused"/g;
is($refused, 2, 'one log line per refused request');
like($err, qr/auth_ip: client 127\.0\.0\.1 denied by list "nobody".*subrequest: "\/secret\/ssi"/,
     'a refused subrequest is logged, naming it');

done_testing;
