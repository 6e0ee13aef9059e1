#!/usr/bin/perl

# proxy_cache and credentials (issue 12, defect 15).  The stock cache key
# does not say which credential fetched an answer: nginx -t warns where a
# location injects a credential into a cached proxy whose key does not
# vary by $credential_name, naming the location's file:line, and fails
# where the key holds the injected secret.  At run time, with
# $credential_name in the key, two tenants proxied to the same partner URL
# each get their own answer, a location without a credential gets none of
# theirs, and no secret is written into the cache files.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use File::Find;
use MIME::Base64 qw(encode_base64);
use Test::More;
use Time::HiRes qw(sleep);
use EdgeAuthTest;

my $T1_PW  = 'T1-pw-secret-7f3a';
my $T2_KEY = 'T2-key-secret-91bc';
my $T3_TOK = 'never-fetched';       # nginx -t logs in nowhere

my $SAFE = 'proxy_cache_key $credential_name$scheme$proxy_host$request_uri;';
my $WARN = qr/does not vary by credential/;

my $CREDS = <<"CONF";
    proxy_cache_path %%DIR%%/cache levels=1 keys_zone=cz:1m;

    credential t1 { basic tenant1 $T1_PW; }
    credential t2 { header X-Api-Key $T2_KEY; }
    credential t3 {
        login http://127.0.0.1:9/token;
        token_header X-Token "Bearer {token}";
        token_cookie sid;
    }
    credential t4 { body_json auth.key k4; }
CONF

# the 1-based line of the first line of nginx.conf that matches $re

sub line_of {
    my ($n, $re) = @_;
    open my $fh, '<', $n->dir . '/nginx.conf' or die "nginx.conf: $!";
    my $i = 0;
    while (my $l = <$fh>) {
        $i++;
        return $i if $l =~ $re;
    }
    die "no line matches $re";
}

sub check {
    my ($http) = @_;
    my $n = nginx_new(http => $CREDS . $http);
    my ($ok, $out) = $n->test_config;
    return ($n, $ok, $out);
}

# a server whose location /a/ injects $cred and proxies with @dirs

sub server {
    my ($cred, $loc, $srv) = @_;
    $srv //= '';
    return <<"CONF";
    server {
        listen 127.0.0.1:9;
        $srv
        location /a/ {
            credential_inject $cred;
            $loc
            proxy_pass http://127.0.0.1:9;   # the location's proxy_pass
        }
    }
CONF
}

sub warns {
    my ($name, $cred, $http) = @_;
    my ($n, $ok, $out) = check($http);
    ok($ok, "nginx -t accepts: $name") or diag $out;
    my $line = line_of($n, qr/the location's proxy_pass/);
    like($out, qr/\[warn\] location "\/a\/" in \S*nginx\.conf:$line injects credential "$cred" and caches its answers \(proxy_cache in \S*nginx\.conf:\d+\) .*\Q$SAFE\E/,
         "warns, naming the location's file:line and the safe key: $name")
        or diag $out;
    unlike($out, qr/\Q$T1_PW\E|\Q$T2_KEY\E/, "no secret in the warning: $name");
}

sub quiet {
    my ($name, $http) = @_;
    my ($n, $ok, $out) = check($http);
    ok($ok, "nginx -t accepts: $name") or diag $out;
    unlike($out, $WARN, "no warning: $name");
}

sub fails {
    my ($name, $var, $cred, $http) = @_;
    my ($n, $ok, $out) = check($http);
    ok(!$ok, "nginx -t fails: $name") or diag $out;
    my $line = line_of($n, qr/proxy_cache_key/);
    like($out, qr/\[emerg\] proxy_cache_key ".*" in \S*nginx\.conf:$line: "\$\Q$var\E" would write a secret into cache files \(location "\/a\/" injects credential "$cred"/,
         "names the key's file:line and the variable: $name") or diag $out;
    unlike($out, qr/\Q$T1_PW\E|\Q$T2_KEY\E/, "no secret in the message: $name");
}

# --- nginx -t: warnings, whatever the credential's kind --------------------

warns('basic, the default key', 't1', server('t1', 'proxy_cache cz;'));
warns('header, a key set in the http block without the credential', 't2',
      "proxy_cache_key \$scheme\$proxy_host\$request_uri;\n"
      . server('t2', 'proxy_cache cz;'));
warns('a token, proxy_cache inherited from the server', 't3',
      server('t3', '', 'proxy_cache cz;'));
warns('body_json, a key with a look-alike variable', 't4',
      "map \$uri \$credential_names { default x; }\n" . server('t4', 'proxy_cache cz; '
             . 'proxy_cache_key $credential_names$request_uri;'));
warns('credential_inject inherited from the http block', 't1',
      "credential_inject t1;\n" . server('t2', 'proxy_cache cz;')
      =~ s/credential_inject t2;//r);

# --- nginx -t: no warning ---------------------------------------------------

quiet('the safe key in the location', server('t1', "proxy_cache cz; $SAFE"));
quiet('the safe key in the http block', "$SAFE\n" . server('t3',
      'proxy_cache cz;'));
quiet('${credential_name} in the key', server('t2', 'proxy_cache cz; '
      . 'proxy_cache_key "${credential_name}|$scheme$proxy_host$uri";'));
quiet('proxy_cache off in the location',
      server('t1', 'proxy_cache off;', 'proxy_cache cz;'));
quiet('no cache', server('t1', ''));
quiet('credential_inject off', server('off', 'proxy_cache cz;'));
quiet('a location that does not proxy', <<'CONF');
    proxy_cache cz;
    server {
        listen 127.0.0.1:9;
        credential_inject t1;
        location /a/ { return 204; }
    }
CONF

# --- nginx -t: errors, a key that holds the injected secret ----------------

fails('$http_authorization with basic', 'http_authorization', 't1',
      server('t1', 'proxy_cache cz; '
             . 'proxy_cache_key $credential_name$http_authorization$uri;'));
fails('$http_authorization with a header credential', 'http_authorization',
      't2', server('t2', 'proxy_cache cz; '
                   . 'proxy_cache_key $http_authorization$uri;'));
fails('the injected header, any letter case', 'HTTP_X_API_KEY', 't2',
      server('t2', 'proxy_cache cz; '
             . 'proxy_cache_key $credential_name${HTTP_X_API_KEY}$uri;'));
fails('the token header', 'http_x_token', 't3',
      server('t3', 'proxy_cache cz; '
             . 'proxy_cache_key $credential_name$http_x_token$uri;'));
fails('the token cookie', 'cookie_sid', 't3',
      server('t3', 'proxy_cache cz; '
             . 'proxy_cache_key $credential_name$cookie_sid$uri;'));
fails('the Cookie header a token cookie is in', 'http_cookie', 't3',
      server('t3', 'proxy_cache cz; '
             . 'proxy_cache_key $credential_name$http_cookie$uri;'));
fails('$request_body with body_json', 'request_body', 't4',
      server('t4', 'proxy_cache cz; '
             . 'proxy_cache_key $credential_name$request_body;'));
quiet('a header no credential injects', server('t1', 'proxy_cache cz; '
      . 'proxy_cache_key $credential_name$http_x_tenant$cookie_sid$uri;'));

# --- at run time -------------------------------------------------------------

my $port = free_port();
my $up = free_port();

my $BASIC = encode_base64("tenant1:$T1_PW", '');

# the partner says which credential it saw, never the credential itself
echo_server($up, sub {
    my ($head) = @_;
    my $saw = $head =~ /^Authorization: Basic \Q$BASIC\E\r?$/mi ? 't1'
            : $head =~ /^X-Api-Key: \Q$T2_KEY\E\r?$/mi ? 't2'
            : $head =~ /^(Authorization|X-Api-Key):/mi ? 'other'
            : 'none';
    my $body = "saw=$saw\n";
    return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
        . 'Content-Length: ' . length($body) . "\r\nConnection: close\r\n\r\n"
        . $body;
});

my $n = nginx_new(http => <<"CONF");
    proxy_cache_path %%DIR%%/cache levels=1 keys_zone=cz:1m;
    proxy_cache_path %%DIR%%/stock levels=1 keys_zone=stock:1m;

    credential t1 { basic tenant1 $T1_PW; }
    credential t2 { header X-Api-Key $T2_KEY; }

    proxy_cache cz;
    proxy_cache_valid 200 10m;
    $SAFE
    add_header X-Cache \$upstream_cache_status always;

    server {
        listen 127.0.0.1:$port;
        server_name t1.example;
        credential_inject t1;

        location / { proxy_pass http://127.0.0.1:$up/data/; }

        location /stock/ {
            proxy_cache stock;
            proxy_cache_key \$scheme\$proxy_host\$request_uri;
            proxy_pass http://127.0.0.1:$up/data/;
        }
    }

    server {
        listen 127.0.0.1:$port;
        server_name t2.example;
        credential_inject t2;

        location / { proxy_pass http://127.0.0.1:$up/data/; }

        location /stock/ {
            proxy_cache stock;
            proxy_cache_key \$scheme\$proxy_host\$request_uri;
            proxy_pass http://127.0.0.1:$up/data/;
        }
    }

    server {
        listen 127.0.0.1:$port;
        server_name anon.example;

        location / { proxy_pass http://127.0.0.1:$up/data/; }

        location /stock/ {
            proxy_cache stock;
            proxy_cache_key \$scheme\$proxy_host\$request_uri;
            proxy_pass http://127.0.0.1:$up/data/;
        }
    }
CONF

$n->start($port);

sub get {
    my ($host, $uri) = @_;
    my $r = http_request($port, "GET $uri HTTP/1.1\nHost: $host\n"
                                . "Connection: close\n\n");
    return ($r->{body}, $r->{headers}{'x-cache'}[0] // '');
}

my ($body, $cache);

($body, $cache) = get('t1.example', '/x');
is($body, "saw=t1\n", 'tenant 1: its own answer');
is($cache, 'MISS', 'tenant 1: fetched');
($body, $cache) = get('t1.example', '/x');
is("$body$cache", "saw=t1\nHIT", 'tenant 1 again: its answer, cached');
($body, $cache) = get('t2.example', '/x');
is("$body$cache", "saw=t2\nMISS",
   "tenant 2, the same partner URL: its own answer, not tenant 1's");
($body, $cache) = get('anon.example', '/x');
is("$body$cache", "saw=none\nMISS",
   'no credential: not a credentialed answer');
($body, $cache) = get('t2.example', '/x');
is("$body$cache", "saw=t2\nHIT", 'tenant 2 again: its answer, cached');
($body, $cache) = get('anon.example', '/x');
is("$body$cache", "saw=none\nHIT", 'no credential again: its own, cached');

# the stock key: what the warning is about
($body) = get('t1.example', '/stock/x');
is($body, "saw=t1\n", 'stock key: tenant 1 fetches');
($body, $cache) = get('t2.example', '/stock/x');
is("$body$cache", "saw=t1\nHIT",
   "stock key: tenant 2 is served tenant 1's answer (the defect)");
($body, $cache) = get('anon.example', '/stock/x');
is("$body$cache", "saw=t1\nHIT",
   "stock key: no credential, and served tenant 1's answer");
like($n->error_log, qr/\[warn\] \d+#\d+: location "\/stock\/" in \S*nginx\.conf:\d+ injects credential "t1"/,
     'stock key: nginx warned at start');

# the cache files: the keys name the credential, never its secret

my @files;
find(sub { push @files, $File::Find::name if -f }, $n->dir . '/cache',
     $n->dir . '/stock');
my $all = '';
for my $f (@files) {
    open my $fh, '<:raw', $f or die "$f: $!";
    local $/;
    $all .= <$fh>;
}

is(scalar(@files), 4, 'four answers cached') or diag "@files";
like($all, qr{KEY: t1http127\.0\.0\.1:$up/x\n},
     "tenant 1's key has its credential's name");
like($all, qr{KEY: t2http127\.0\.0\.1:$up/x\n},
     "tenant 2's key has its credential's name");
like($all, qr{KEY: http127\.0\.0\.1:$up/x\n},
     "no credential: a key of its own");
unlike($all, qr/\Q$T1_PW\E/, 'no password in the cache files');
unlike($all, qr/\Q$BASIC\E/, 'no Basic credential in the cache files');
unlike($all, qr/\Q$T2_KEY\E/, 'no API key in the cache files');

# --- reloads: the proxy's directives are recorded again --------------------

my $conf = $n->dir . '/nginx.conf';
my $text = do { local (@ARGV, $/) = $conf; <> };
$text =~ s/\Q$SAFE\E/proxy_cache_key \$scheme\$proxy_host\$request_uri;/
    or die 'no key to replace';
open my $fh, '>', $conf or die "$conf: $!";
print $fh $text;
close $fh;

# the master's warnings: "nginx -s reload" reads the configuration too

my $master = $n->pid;

sub warnings_for {
    my ($loc) = @_;
    my @w = $n->error_log
            =~ /\[warn\] $master#$master: location "\Q$loc\E" in /g;
    return scalar @w;
}

for my $reload (1, 2) {
    my $before = warnings_for('/');
    my ($ok, $out) = $n->reload;
    ok($ok, "reload $reload") or diag $out;
    my $after = $before;
    for (1 .. 200) {
        $after = warnings_for('/');
        last if $after >= $before + 2;
        sleep 0.05;
    }
    is($after - $before, 2,
       "reload $reload: both tenants' locations warned again");
}

# a reload without load_module unloads the module: the proxy's handlers
# must be its own again, or reading proxy_cache next time calls nothing

sub started {
    my @s = $n->error_log =~ /$master#$master: start worker processes/g;
    return scalar @s;
}

$text =~ s/^load_module .*$//m;
$text =~ s/^\s*(credential\w*|add_header) .*$//mg;
$text =~ s/\$credential_name//g;

for my $reload (1, 2) {
    open $fh, '>', $conf or die "$conf: $!";
    print $fh $text;
    close $fh;

    my $before = started();
    my ($ok, $out) = $n->reload;
    ok($ok, "reload without the module $reload") or diag $out;
    for (1 .. 200) {
        last if started() > $before;
        sleep 0.05;
    }
    is(started(), $before + 1, "reload without the module $reload: done");
    ok(kill(0, $master), "reload without the module $reload: the master "
       . 'lives');
    ($body) = get('anon.example', '/y');
    is($body, "saw=none\n", "reload without the module $reload: proxied");
}

$n->stop;

done_testing();
