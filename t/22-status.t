#!/usr/bin/perl

# credential_status and credential_health: the counters move as traffic,
# logins, failed logins (by reason), upstream refusals, 503s and auth_ip
# denials happen; they survive a reload; the JSON parses, the Prometheus
# text is taken by the reference parser (python3-prometheus-client); no
# secret, token or client id is in any format; health answers 200 or 503
# naming the credentials without a token; GET and HEAD only; directive
# errors at "nginx -t" with file and line.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use JSON::PP;
use File::Temp qw(tempfile);
use EdgeAuthTest;
use MockPartner;

my $ID = 'status-client-ID-9x';
my $SECRET = 'status-secret-Qw82-never-shown';
my $STATIC = 'static-key-Lp27-never-shown';
my $ODD = 'odd"<b>&\\back';     # HTML, JSON and Prometheus escapes

my %mock = (
    ok      => [],
    st500   => [ status => 500 ],
    st401   => [ status => 401 ],
    garbage => [ garbage => 1 ],
    hang    => [ hang => 1 ],
);

# tls: a certificate nginx is not told to trust
$mock{tls} = [];

for my $k (keys %mock) {
    my $m = MockPartner->start(kind => 'oauth', tls_tickets => 0,
                               client_id => $ID, client_secret => $SECRET,
                               token_lifetime => 3600,
                               ($k eq 'tls' ? (tls => 1) : ()));
    $m->set(@{ $mock{$k} }) if @{ $mock{$k} };
    $mock{$k} = $m;
}

my $closed = free_port();     # nothing listens there: connect() refused
my $port = free_port();
my $port2 = free_port();
my $ok = $mock{ok}->url;

sub token_cred {
    my ($name, $url, $extra) = @_;
    $extra //= '';
    my $timeout = $name eq 'hang' ? '300ms' : '5s';
    return <<"CONF";
    credential $name {
        login        $url/oauth/token;
        login_param  grant_type client_credentials;
        login_basic  $ID env:STATUS_SECRET;
        login_timeout $timeout;
        login_wait   200ms;
        login_backoff 500ms 1s;
        token_header Authorization "Bearer {token}";
        $extra
    }
CONF
}

my $creds = join '',
    token_cred('good', $ok),
    token_cred('st500', $mock{st500}->url),
    token_cred('st401', $mock{st401}->url),
    token_cred('garbage', $mock{garbage}->url),
    token_cred('hang', $mock{hang}->url),
    token_cred('conn', "http://127.0.0.1:$closed"),
    token_cred('tls', "https://127.0.0.1:${\ $mock{tls}->port }");

my $n = nginx_new(workers => 2, env => { STATUS_SECRET => $SECRET },
                  http => <<"CONF");
$creds
    credential plain {
        header x-api-key $STATIC;
    }

    auth_ip_list office {
        127.0.0.0/8;
        10.1.0.0/16;
    }

    auth_ip_list 'odd"<b>&\\\\back' {
        10.0.0.0/8;
        192.168.0.0/16;
        172.16.0.0/12;
    }

    server {
        listen 127.0.0.1:$port;

        location /api/ {
            credential_inject good;
            proxy_pass $ok;
        }

        location /s500/ {
            credential_inject st500;
            proxy_pass $ok;
        }

        location /plain/ {
            credential_inject plain;
            proxy_pass $ok;
        }

        location = /office {
            auth_ip office;
            try_files /nothing =204;
        }

        location = /odd {
            auth_ip 'odd"<b>&\\\\back';
            try_files /nothing =204;
        }

        location = /status {
            credential_status;
        }

        location = /status-closed {
            auth_ip 'odd"<b>&\\\\back';
            credential_status;
        }

        location = /health {
            credential_health;
        }

        location = /health-good {
            credential_health good;
        }
    }

    server {
        listen 127.0.0.1:$port2;
        credential_inject st500;

        location = /status { credential_status; }
        location = /health { credential_health good; }
        location / { proxy_pass $ok; }
    }
CONF

$n->start($port, $port2);

sub get {
    my ($path, %h) = @_;
    my $head = join '', map { "$_: $h{$_}\n" } sort keys %h;
    return http_request($port, "GET $path HTTP/1.1\nHost: x\n$head"
                               . "Connection: close\n\n");
}

sub status {
    my $r = get('/status');
    return undef unless $r->{status} == 200;
    return eval { decode_json($r->{body}) };
}

# the first logins at start-up
ok($mock{ok}->wait_logins(1, 10), 'good logged in');

my $s;
ok($mock{ok}->wait_for(sub {
    $s = status();
    $s && $s->{credentials}{good}{state} eq 'valid'
       && $s->{credentials}{st500}{logins}{failed}{status} >= 1
       && $s->{credentials}{st401}{logins}{failed}{refused} >= 1
       && $s->{credentials}{garbage}{logins}{failed}{parse} >= 1
       && $s->{credentials}{hang}{logins}{failed}{timeout} >= 1
       && $s->{credentials}{conn}{logins}{failed}{connect} >= 1
       && $s->{credentials}{tls}{logins}{failed}{tls} >= 1
}, 15), 'every failed login counted under its reason')
    or diag explain $s;

is($s->{version}, do { open my $f, '<', "$FindBin::Bin/../VERSION";
                       my $v = <$f>; chomp $v; $v }, 'version');
is($s->{credentials}{plain}{type}, 'static', 'a static credential listed');
is($s->{credentials}{good}{type}, 'token', 'a token credential');
ok($s->{credentials}{good}{token_usable}, 'good: token usable');
# the end of use: a 3600 s token less its 5% expiry margin
cmp_ok($s->{credentials}{good}{expires_in}, '>', 3400, 'good: expires_in');
cmp_ok($s->{credentials}{good}{expires_in}, '<=', 3420,
       'good: expires_in, less the margin');
cmp_ok($s->{credentials}{good}{logins}{ok}, '>=', 1, 'good: logins ok');
ok($s->{credentials}{good}{last_login_at}, 'good: last login time');
is($s->{credentials}{good}{failure_streak}, 0, 'good: no failure streak');
cmp_ok($s->{credentials}{st500}{failure_streak}, '>=', 1,
       'st500: failure streak');
ok(!$s->{credentials}{st500}{token_usable}, 'st500: no token');
like($s->{credentials}{st500}{state}, qr/^(backoff|renewing|none)$/,
     'st500: backing off');
is($s->{credentials}{st500}{logins}{ok}, 0, 'st500: no login ok');
is($s->{credentials}{good}{logins}{failed}{$_}, 0, "good: no $_ failure")
    for qw(connect timeout tls status parse refused other);
is_deeply($s->{ip_lists}{office}, { allowed => 0, denied => 0,
                                    prefixes => 2 }, 'office list');
is($s->{ip_lists}{$ODD}{prefixes}, 3, 'an odd name, escaped');
is_deeply($s->{redis}, { configured => JSON::PP::false,
                         connected => JSON::PP::false }, 'no Redis');

# traffic: 3 injections, 2 allowed, 1 denied, a 503

my $base = $s->{credentials}{good}{injections};

for (1 .. 3) {
    is(get('/api/x')->{status}, 200, 'api call with the token');
}

is(get('/office')->{status}, 204, 'office: allowed') for 1 .. 2;
is(get('/odd')->{status}, 403, 'odd: denied');
is(get('/status-closed')->{status}, 403, 'the status location behind '
   . 'auth_ip: denied');
is(get('/s500/x')->{status}, 503, 'st500: 503 credential-unavailable');
is(get('/plain/x')->{status}, 401, 'static credential: upstream, no 503');

$s = status();
is($s->{credentials}{good}{injections} - $base, 3, 'injections counted');
is($s->{ip_lists}{office}{allowed}, 2, 'allowed counted');
is($s->{ip_lists}{office}{denied}, 0, 'office: none denied');
is($s->{ip_lists}{$ODD}{denied}, 2, 'denied counted');
cmp_ok($s->{credentials}{st500}{rejected}{'credential-unavailable'}, '>=', 1,
       '503 counted');
is($s->{credentials}{good}{rejected}{'credential-unavailable'}, 0,
   'good: no 503');
is($s->{credentials}{plain}{injections}, 1, 'static credential: injection '
   . 'counted');

# an upstream 401: refused, and the renewal it caused

$mock{ok}->expire_tokens;
my $logins = $mock{ok}->logins;
is(get('/api/x')->{status}, 401, 'the partner refused the old token');
ok($mock{ok}->wait_logins($logins + 1, 10), 'logged in again');
# the old token stays in use until the new one is stored: a request in
# between is refused too, and counted
my $refused = 1;
ok($mock{ok}->wait_for(sub {
       my $st = get('/api/x')->{status};
       $refused++ if $st == 401;
       $st == 200;
   }, 10), 'the new token works');

$s = status();
is($s->{credentials}{good}{upstream_refusals}, $refused,
   'each 401 counted');
is($s->{credentials}{good}{refusal_renewals}, 1, 'its renewal counted');
cmp_ok($s->{credentials}{good}{logins}{ok}, '>=', 2, 'second login counted');

# health

my $h = get('/health');
is($h->{status}, 503, 'health: 503 while credentials have no token');
my $hj = eval { decode_json($h->{body}) };
ok($hj && !$hj->{healthy}, 'health: not healthy');
is_deeply([ sort @{ $hj->{unusable} } ],
          [ sort qw(st500 st401 garbage hang conn tls) ],
          'health names those without a token');
is($hj->{credentials}{good}, 'valid', 'health: good is valid');

$h = get('/health-good');
is($h->{status}, 200, 'health of good alone: 200');
is_deeply(decode_json($h->{body})->{unusable}, [], 'none unusable');

# a server's credential_inject does not reach the status pages

for my $p ('/status', '/health') {
    is(http_request($port2, "GET $p HTTP/1.1\nHost: x\nConnection: close\n\n")
           ->{status}, 200, "$p under a server's credential_inject: 200");
}
is(http_request($port2, "GET /x HTTP/1.1\nHost: x\nConnection: close\n\n")
       ->{status}, 503, 'while its other locations wait for the token');

# GET and HEAD only

my $r = http_request($port, "POST /status HTTP/1.1\nHost: x\n"
                            . "Content-Length: 2\nConnection: close\n\nab");
is($r->{status}, 405, 'POST: 405');
$r = http_request($port, "HEAD /status HTTP/1.1\nHost: x\n"
                         . "Connection: close\n\n");
is($r->{status}, 200, 'HEAD: 200');
is($r->{body}, '', 'HEAD: no body');
is(get('/status?format=xml')->{status}, 400, 'unknown format: 400');

# formats by query and by Accept

like(get('/status')->{headers}{'content-type'}[0], qr{^application/json},
     'JSON by default');
like(get('/status?format=prometheus')->{headers}{'content-type'}[0],
     qr{^text/plain; version=0\.0\.4}, 'Prometheus by query');
like(get('/status', Accept => 'text/plain; version=0.0.4')
         ->{headers}{'content-type'}[0],
     qr{^text/plain; version=0\.0\.4}, 'Prometheus by Accept');
like(get('/status', Accept => 'application/openmetrics-text; '
                              . 'version=1.0.0,text/plain;q=0.5')
         ->{headers}{'content-type'}[0],
     qr{^text/plain; version=0\.0\.4}, 'Prometheus for OpenMetrics');
like(get('/status', Accept => 'text/html,application/xhtml+xml')
         ->{headers}{'content-type'}[0],
     qr{^text/html}, 'HTML by Accept');
is(get('/status')->{headers}{'cache-control'}[0], 'no-store', 'no-store');

# the Prometheus text, through the reference parser

my $prom = get('/status?format=prometheus')->{body};

# Debian's package is for Debian's python3, which another one on PATH
# (pyenv, a venv) may hide; found, not imported (the parser below does)
my $FOUND = 'import importlib.util as u, sys; '
          . 'sys.exit(u.find_spec("prometheus_client") is None)';
my ($py) = grep { system("$_ -c '$FOUND' 2>/dev/null") == 0 }
           '/usr/bin/python3', 'python3';

SKIP: {
    skip 'python3-prometheus-client is not installed', 10 unless $py;

    my ($fh, $file) = tempfile(UNLINK => 1);
    print $fh $prom;
    close $fh;

    my $out = `$py - '$file' <<'PY'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in f.samples:
        out.append([f.type, s.name, s.labels, s.value])
print(json.dumps(out))
PY`;
    is($?, 0, 'the parser takes it') or diag $prom;

    my $samples = eval { decode_json($out) } || [];
    my %v;
    for (@$samples) {
        my ($type, $name, $labels, $value) = @$_;
        my $key = $name . join(',', map { "$_=$labels->{$_}" }
                                    sort keys %$labels);
        $v{$key} = $value;
    }

    is($v{'nginx_credential_logins_totalcredential=good,result=ok'},
       $s->{credentials}{good}{logins}{ok}, 'logins ok');
    is($v{'nginx_credential_logins_totalcredential=hang,result=timeout'}
           >= 1, 1, 'logins failed: timeout');
    is($v{'nginx_credential_state'
          . 'credential=good,state=valid'}, 1, 'state valid = 1');
    is($v{'nginx_credential_state'
          . 'credential=good,state=backoff'}, 0, 'state backoff = 0');
    cmp_ok($v{'nginx_credential_token_expiry_secondscredential=good'}, '>',
           3400, 'expiry seconds');
    cmp_ok($v{'nginx_credential_token_expiry_secondscredential=good'}, '<=',
           3420, 'expiry seconds, less the margin');
    is($v{'nginx_auth_ip_requests_totallist=office,result=allowed'}, 2,
       'auth_ip allowed');
    is($v{"nginx_auth_ip_prefixeslist=$ODD"}, 3,
       'a label value escaped and read back');
    is($v{'nginx_credential_injections_totalcredential=good'},
       $s->{credentials}{good}{injections}, 'injections');
    is($v{'nginx_credential_injections_totalcredential=plain'}, 1,
       'injections of a static credential');
}

like($prom, qr/^# TYPE nginx_credential_logins_total counter$/m,
     'TYPE line');
like($prom, qr/^# HELP nginx_credential_logins_total /m, 'HELP line');
like($prom, qr/^nginx_auth_ip_prefixes\{list="odd\\"<b>&\\\\back"\} 3$/m,
     'label value escaped per the format');

# never a secret, a token or the client id, in any format

my @tokens = map { $_->{token} // () }
             map { $mock{$_}->requests('login') } keys %mock;
ok(@tokens >= 2, scalar(@tokens) . ' tokens issued');

my @secret = ($SECRET, $ID, $STATIC, @tokens);

for my $page ('/status', '/status?format=prometheus', '/status?format=html',
              '/health', '/health-good')
{
    my $body = get($page)->{body};
    my @found = grep { index($body, $_) >= 0 } @secret;
    is("@found", '', "$page: no secret, token or client id");
    # nor a fragment of a token
    my @frag = grep { length($_) >= 16
                      && index($body, substr($_, 4, 12)) >= 0 } @tokens;
    is("@frag", '', "$page: no token fragment");
}

# a reload: the counters go on

$s = status();
my %before = (inj => $s->{credentials}{good}{injections},
              ok => $s->{credentials}{good}{logins}{ok},
              st => $s->{credentials}{st500}{logins}{failed}{status},
              allowed => $s->{ip_lists}{office}{allowed},
              denied => $s->{ip_lists}{$ODD}{denied},
              refused => $s->{credentials}{good}{upstream_refusals},
              plain => $s->{credentials}{plain}{injections});

$logins = $mock{ok}->logins;
my ($rok, $rout) = $n->reload;
ok($rok, 'reload') or diag $rout;

# new workers answer: the old ones leave
sleep 1;

is(get('/api/x')->{status}, 200, 'api after the reload');
is(get('/office')->{status}, 204, 'office after the reload');

$s = status();
is($s->{credentials}{good}{injections}, $before{inj} + 1,
   'injections kept across the reload');
is($s->{credentials}{good}{logins}{ok}, $before{ok}, 'no new login, '
   . 'logins kept');
is($mock{ok}->logins, $logins, 'the token was kept');
cmp_ok($s->{credentials}{st500}{logins}{failed}{status}, '>=', $before{st},
       'failures kept');
is($s->{ip_lists}{office}{allowed}, $before{allowed} + 1,
   'auth_ip counters kept');
is($s->{ip_lists}{$ODD}{denied}, $before{denied},
   'denials kept');
is($s->{credentials}{good}{upstream_refusals}, $before{refused},
   'refusals kept');
is($s->{credentials}{plain}{injections}, $before{plain},
   'static injections kept');

$n->stop;

# auth_ip alone, no credential: the status page works; no list, no zone

{
    my $p = free_port();
    my $m = nginx_new(http => <<"CONF");
    auth_ip_list only { 127.0.0.1; }

    server {
        listen 127.0.0.1:$p;
        location = /in { auth_ip only; try_files /nothing =204; }
        location = /status { credential_status; }
    }
CONF
    $m->start($p);
    http_request($p, "GET /in HTTP/1.1\nHost: x\nConnection: close\n\n");
    my $r = http_request($p, "GET /status HTTP/1.1\nHost: x\n"
                             . "Connection: close\n\n");
    my $j = eval { decode_json($r->{body}) };
    is_deeply($j && $j->{ip_lists},
              { only => { allowed => 1, denied => 0, prefixes => 1 } },
              'auth_ip without credentials');
    is_deeply($j && $j->{credentials}, {}, 'no credentials');
    $m->stop;

    $p = free_port();
    $m = nginx_new(http => <<"CONF");
    server {
        listen 127.0.0.1:$p;
        location = /status { credential_status; }
    }
CONF
    $m->start($p);
    $r = http_request($p, "GET /status?format=prometheus HTTP/1.1\nHost: x\n"
                          . "Connection: close\n\n");
    is($r->{status}, 200, 'neither credentials nor lists: 200');
    unlike($r->{body}, qr/auth_ip/, 'no list, no list metrics');
    $m->stop;
}

# nginx -t

{
    my @bad = (
        [ 'unknown credential',
          'location /h { credential_health nope; }',
          qr/unknown credential "nope" in \S+nginx\.conf:\d+/ ],
        [ 'a static credential has no token',
          'location /h { credential_health plain; }',
          qr/credential "plain" in \S+nginx\.conf:\d+ has no token/ ],
        [ 'arguments to credential_status',
          'location /h { credential_status json; }',
          qr/invalid number of arguments.*nginx\.conf:\d+/ ],
        [ 'twice',
          'location /h { credential_status; credential_health; }',
          qr/is duplicate.*nginx\.conf:\d+/ ],
        [ 'outside a location',
          'credential_status;',
          qr/"credential_status" directive is not allowed here.*:\d+/ ],
    );

    for my $b (@bad) {
        my $m = nginx_new(http => "credential plain { header a b; }\n"
                                  . "server { listen 127.0.0.1:1; $b->[1] }\n");
        my ($okt, $out) = $m->test_config;
        ok(!$okt, "nginx -t fails: $b->[0]");
        like($out, $b->[2], "message: $b->[0]");
    }
}

for my $m (values %mock) {
    is($m->errors, '', 'mock without errors');
}

done_testing();
