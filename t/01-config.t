#!/usr/bin/perl

# "nginx -t" refuses every bad configuration with file:line and a sentence
# naming the problem, and accepts the good ones.  No message shows a secret.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EdgeAuthTest;

my $SECRET = 'S3cr3t-Do-Not-Print';

sub check {
    my ($http, %args) = @_;
    my $n = nginx_new(http => $http, env => $args{env});
    $args{setup}->($n) if $args{setup};
    my ($ok, $out) = $n->test_config;
    return ($ok, $out, $n);
}

sub rejects {
    my ($name, $http, $re, %args) = @_;
    my ($ok, $out) = check($http, %args);
    ok(!$ok, "rejects: $name") or diag $out;
    like($out, $re, "message: $name") or diag $out;
    like($out, qr/nginx\.conf:\d+|\.list:\d+/, "file:line: $name")
        or diag $out;
    unlike($out, qr/\Q$SECRET\E/, "no secret in message: $name");
}

sub accepts {
    my ($name, $http, %args) = @_;
    my ($ok, $out) = check($http, %args);
    ok($ok, "accepts: $name") or diag $out;
    return $out;
}

sub list { "auth_ip_list l { $_[0] }" }

# bad addresses, each with its reason

my @bad = (
    ['256.1.1.1',        qr/octet is greater than 255/],
    ['1..2.3',           qr/empty octet/],
    ['.1.2.3',           qr/empty octet/],
    ['1.2.3.',           qr/empty octet/],
    ['1.2.3',            qr/exactly four octets/],
    ['010.1.1.1',        qr/leading zero/],
    ['10.0.0.0/33',      qr/prefix length is out of range/],
    ['10.0.0.0/08',      qr/prefix length has a leading zero/],
    ['10.0.0.0/',        qr/prefix length after "\/" is missing/],
    ['10.0.0.0/x',       qr/must be a decimal number/],
    ['2001:db8::/129',   qr/prefix length is out of range/],
    ['2001:db8:::1',     qr/IPv6 address is malformed/],
    ['::ffff:1.2.3.4/64', qr/must be \/96 or longer/],
    ['192.168.1.5/24',
        qr/host bits set.*the network address is "192\.168\.1\.0\/24"/],
    ['2001:db8::1/32',
        qr/host bits set.*the network address is "2001:db8::\/32"/],
);

for my $b (@bad) {
    my ($addr, $re) = @$b;
    rejects("address $addr", list("$addr;"),
            qr/invalid address "\Q$addr\E" in auth_ip_list: .*$re.*nginx\.conf:\d+/);
}

rejects('bad action', list('10.0.0.0/8 maybe;'),
        qr/invalid action "maybe" for "10\.0\.0\.0\/8"/);
rejects('too many arguments', list('10.0.0.0/8 allow now;'),
        qr/invalid auth_ip_list entry/);
rejects('same prefix allowed and denied',
        list("10.0.0.0/8;\n 10.0.0.0/8 deny;"),
        qr/"10\.0\.0\.0\/8" is both allowed and denied, in \S+nginx\.conf:\d+ and in \S+nginx\.conf:\d+/);
rejects('duplicate list', list('10.0.0.0/8;') . list('10.0.0.0/8;'),
        qr/duplicate auth_ip_list "l"/);
rejects('unknown list', "server { listen 127.0.0.1:1; auth_ip nope; }",
        qr/unknown auth_ip_list "nope" in \S+nginx\.conf:\d+/);
rejects('unknown list at http level, every server setting its own',
        list('10.0.0.0/8;') . "auth_ip typo;"
        . " server { listen 127.0.0.1:1; auth_ip l; }",
        qr/unknown auth_ip_list "typo" in \S+nginx\.conf:\d+/);
rejects('auth_ip twice', list('10.0.0.0/8;')
        . "server { listen 127.0.0.1:1; auth_ip l; auth_ip l; }",
        qr/"auth_ip" directive is duplicate/);
rejects('include of a missing file', list('include %%DIR%%/missing.list;'),
        qr/missing\.list/);
rejects('bad entry in an included file', list('include %%DIR%%/bad.list;'),
        qr/invalid address "1\.2\.3\.256" in auth_ip_list: .* in \S+bad\.list:2/,
        setup => sub { $_[0]->write_file('bad.list', "10.0.0.0/8;\n1.2.3.256;\n") });

my $out = accepts('edge addresses',
    list("255.255.255.255; 0.0.0.0/0; ::/0; ::1; ::ffff:10.1.2.3;"
         . " 2001:db8::/32 deny; 10.0.0.0/8; 10.6.6.6 deny;"));
unlike($out, qr/warn/, 'no warning for a clean list');

$out = accepts('duplicates are warned, not refused',
    list("10.0.0.0/8;\n 10.0.0.0/8;\n ::ffff:10.0.0.0/104;"));
like($out, qr/\[warn\].*duplicate entry "10\.0\.0\.0\/8" in \S+nginx\.conf:\d+, first in \S+nginx\.conf:\d+/,
     'duplicate warning names both places');

my @dups = $out =~ /duplicate entry "10\.0\.0\.0\/8" in \S+nginx\.conf:(\d+), first in \S+nginx\.conf:(\d+)/g;
ok(@dups == 4 && $dups[1] < $dups[0] && $dups[3] < $dups[2]
   && $dups[1] == $dups[3],
   'every duplicate names the same, earlier, first line');
like($out, qr/duplicate entry.*duplicate entry/s,
     'an IPv4-mapped entry is the same IPv4 prefix');

$out = accepts('empty list', list(''));
like($out, qr/\[warn\].*auth_ip_list "l" is empty and denies every client/,
     'empty list is warned');

# credentials

rejects('unknown credential', "server { listen 127.0.0.1:1;"
        . " location / { credential_inject nope; } }",
        qr/unknown credential "nope" in \S+nginx\.conf:\d+/);
rejects('duplicate credential',
        "credential c { basic u p; } credential c { basic u p; }",
        qr/duplicate credential "c"/);
rejects('empty credential', "credential c { }",
        qr/credential "c" injects nothing/);
rejects('unknown directive in credential', "credential c { bearer x; }",
        qr/unknown directive "bearer" in credential "c"/);
rejects('wrong argument count', "credential c { basic u; }",
        qr/invalid number of arguments in "basic" directive of credential "c"/);
rejects('colon in basic user', "credential c { basic a:b $SECRET; }",
        qr/basic user must not contain ":"/);
rejects('basic twice', "credential c { basic u $SECRET; basic u p; }",
        qr/"basic" directive is duplicate in \S+nginx\.conf:\d+/);
rejects('basic and an Authorization header',
        "credential c { basic u $SECRET; header authorization x; }",
        qr/sets header "authorization" twice \("basic" sets "Authorization"\)/);
rejects('same header twice', "credential c { header X-Key a; header x-key b; }",
        qr/sets header "x-key" twice/);
rejects('reserved header', "credential c { header Host evil; }",
        qr/header "Host" cannot be injected/);
rejects('reserved header, any case', "credential c { header content-LENGTH 1; }",
        qr/header "content-LENGTH" cannot be injected/);
rejects('bad header name', "credential c { header \"x key\" v; }",
        qr/invalid header name "x key": byte 0x20 at offset 1/);
rejects('CR LF in a literal value',
        "credential c { header x-key \"$SECRET\\r\\nX-Evil: 1\"; }",
        qr/header "x-key": the value contains the control byte 0x0D at offset \d+/);
rejects('tab in a literal password',
        "credential c { basic u \"$SECRET\\t\"; }",
        qr/basic password: the value contains the control byte 0x09/);
rejects('missing environment variable',
        "credential c { header x-key env:EDGE_AUTH_MISSING_VAR; }",
        qr/header "x-key": environment variable "EDGE_AUTH_MISSING_VAR" is not set/);
rejects('empty environment variable',
        "credential c { header x-key env:EDGE_AUTH_EMPTY; }",
        qr/environment variable "EDGE_AUTH_EMPTY" is empty/,
        env => { EDGE_AUTH_EMPTY => '' });
rejects('LF in an environment variable',
        "credential c { basic u env:EDGE_AUTH_LF; }",
        qr/basic password: environment variable "EDGE_AUTH_LF" contains the control byte 0x0A at offset 19/,
        env => { EDGE_AUTH_LF => "$SECRET\nX: y" });
rejects('env: without a name', "credential c { basic u env:; }",
        qr/"env:" must be followed by the name/);
rejects('unreadable secret file',
        "credential c { basic u file:%%DIR%%/nope.secret; }",
        qr/basic password: cannot open secret file "\S+nope\.secret"/);
rejects('empty secret file',
        "credential c { basic u file:%%DIR%%/empty.secret; }",
        qr/secret file "\S+empty\.secret" is empty/,
        setup => sub { $_[0]->write_file('empty.secret', "\n") });
rejects('CR inside a secret file',
        "credential c { header x-key file:%%DIR%%/crlf.secret; }",
        qr/secret file "\S+crlf\.secret" contains the control byte 0x0D at offset 19/,
        setup => sub { $_[0]->write_file('crlf.secret', "$SECRET\r\nX: y\n") });
rejects('NUL inside a secret file',
        "credential c { header x-key file:%%DIR%%/nul.secret; }",
        qr/contains the control byte 0x00/,
        setup => sub { $_[0]->write_file('nul.secret', "ab\0cd") });
rejects('a directory as secret file',
        "credential c { header x-key file:%%DIR%%; }",
        qr/is not a regular file/);

$out = accepts('secrets from env and file', "credential c {"
    . " basic env:EDGE_AUTH_USER file:%%DIR%%/pw.secret;"
    . " header x-api-key file:%%DIR%%/key.secret; }",
    env => { EDGE_AUTH_USER => 'criticalmix' },
    setup => sub {
        $_[0]->write_file('pw.secret', "$SECRET\n");
        $_[0]->write_file('key.secret', "k\n", 0644);
    });
like($out, qr/\[warn\].*secret file "\S+key\.secret" is readable by every user/,
     'a world-readable secret file is warned');

# token credentials

my $L = 'login http://127.0.0.1:9/token; ';

rejects('token directives without login',
        "credential c { token_header Authorization \"Bearer {token}\"; }",
        qr/credential "c" has login or token directives but no "login URL"/);
rejects('login without a way to apply the token', "credential c { $L }",
        qr/credential "c" logs in but applies no token: add "token_header" or "token_cookie"/);
rejects('token_header without {token}',
        "credential c { $L token_header Authorization Bearer; }",
        qr/token_header "Authorization": the value must contain "\{token\}"/);
rejects('login URL without scheme',
        "credential c { login 127.0.0.1/token; token_cookie t; }",
        qr/invalid URL "127\.0\.0\.1\/token": it must start with "http:\/\/" or "https:\/\/"/);
rejects('login host that does not resolve',
        "credential c { login http://no-such-host.invalid/t; token_cookie t; }",
        qr/no-such-host\.invalid/);
rejects('bad login_body', "credential c { $L login_body xml; token_cookie t; }",
        qr/invalid login_body "xml": expected "json" or "form"/);
rejects('bad token_from', "credential c { $L token_from body x; token_cookie t; }",
        qr/invalid token_from "body": expected "json", "header" or "cookie"/);
rejects('bad time', "credential c { $L token_lifetime soon; token_cookie t; }",
        qr/invalid time "soon" in "token_lifetime"/);
rejects('backoff upside down',
        "credential c { $L login_backoff 10s 1s; token_cookie t; }",
        qr/invalid login_backoff "10s 1s"/);
rejects('tiny login_max_size',
        "credential c { $L login_max_size 10; token_cookie t; }",
        qr/invalid login_max_size "10": from 1k to 16m/);
rejects('bad cookie name', "credential c { $L token_cookie \"a;b\"; }",
        qr/invalid cookie name "a;b" in token_cookie/);
rejects('token header twice',
        "credential c { $L header Authorization x;"
        . " token_header authorization \"Bearer {token}\"; }",
        qr/credential "c" sets header "authorization" twice/);
rejects('token header that nginx manages',
        "credential c { $L token_header Host \"{token}\"; }",
        qr/header "Host" cannot be injected/);
rejects('login_param secret with CR LF',
        "credential c { $L login_param client_secret \"$SECRET\\r\\n\"; token_cookie t; }",
        qr/login_param "client_secret": the value contains the control byte 0x0D/);
rejects('login_param secret from a missing variable',
        "credential c { $L login_param client_secret env:EDGE_AUTH_NOPE; token_cookie t; }",
        qr/login_param "client_secret": environment variable "EDGE_AUTH_NOPE" is not set/);
rejects('login_header that frames the login request',
        "credential c { $L login_header Content-Length 5; token_cookie t; }",
        qr/header "Content-Length" cannot be injected/);
rejects('bad credential_store', "credential_store zone=x;",
        qr/invalid zone size in "zone=x"/);
rejects('tiny credential_store', "credential_store zone=x:1k;",
        qr/invalid zone size "1k"/);
rejects('refresh without scheme',
        "credential c { $L refresh /identity/refresh; token_cookie t; }",
        qr/invalid URL "\/identity\/refresh"/);

accepts('a full token credential', "credential_store zone=tokens:1m;"
    . " credential c { $L login_body json; login_param a b;"
    . " login_header x-api-key k; login_basic id secret; login_timeout 5s;"
    . " login_wait 2s; login_backoff 1s 1m; login_max_size 32k;"
    . " login_ssl_verify on; token_from json data.token;"
    . " token_expires_in expires_in expiresIn; token_expires_at expireDate;"
    . " token_lifetime 10m; token_max_lifetime 2h; token_idle_timeout 30m;"
    . " token_renew_before 1m; token_header Authorization \"Bearer {token}\";"
    . " token_cookie session; refresh http://127.0.0.1:9/refresh;"
    . " refresh_param grant_type refresh_token;"
    . " token_refresh_from json refresh_token; }");

accepts('credential defined after its use',
    "server { listen 127.0.0.1:1; credential_inject later; }"
    . " credential later { header x-key v; }");
accepts('list defined after its use',
    "server { listen 127.0.0.1:1; auth_ip later; }"
    . " auth_ip_list later { ::1; }");

done_testing;
