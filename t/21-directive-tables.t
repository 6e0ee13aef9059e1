#!/usr/bin/perl

# The directives inside "credential NAME { ... }" are nginx command tables:
# a single-valued directive written twice fails "nginx -t" with nginx's own
# "NAME" directive is duplicate in FILE:LINE, naming the second line; a
# wrong number of arguments is counted from the table as nginx counts it;
# bounds checked by post handlers keep their messages; and the directives
# that are lists may still be repeated.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EdgeAuthTest;

my $SECRET = 'S3cr3t-Do-Not-Print';

my $L = 'login http://127.0.0.1:9/token;';
my $OAUTH = "authorize https://id.example/oauth; $L"
    . ' refresh http://127.0.0.1:9/refresh; client_id id;'
    . ' redirect_uri https://gw.example/cb;'
    . ' token_header Authorization "Bearer {token}";';

# "nginx -t" on a credential block; the line that has "# here" is returned
# with the output, so that a message can be checked for the right line

sub check {
    my ($block) = @_;
    my $n = nginx_new(http => "    credential c {\n$block\n    }\n");
    my ($ok, $out) = $n->test_config;

    open my $fh, '<', $n->dir . '/nginx.conf' or die $!;
    my @lines = <$fh>;
    close $fh;

    my ($here) = grep { $lines[$_ - 1] =~ /# here/ } 1 .. @lines;

    return ($ok, $out, $here);
}

sub rejects_at {
    my ($name, $block, $re) = @_;
    my ($ok, $out, $here) = check($block);
    ok(!$ok, "rejects: $name") or diag $out;
    like($out, qr/\[emerg\] $re in \S+\/nginx\.conf:$here$/m,
         "message and line $here: $name") or diag $out;
    unlike($out, qr/\Q$SECRET\E/, "no secret in message: $name");
}

sub accepts {
    my ($name, $block) = @_;
    my ($ok, $out) = check($block);
    ok($ok, "accepts: $name") or diag $out;
}


# every single-valued directive, twice: the second line is named

my @single = (
    ['basic',              "u $SECRET",                  'v w'],
    ['login',              'http://127.0.0.1:9/a',       'http://127.0.0.1:9/b'],
    ['login_body',         'json',                       'form'],
    ['login_basic',        "id $SECRET",                 'id2 other'],
    ['login_timeout',      '5s',                         '6s'],
    ['login_wait',         '2s',                         '2s'],
    ['login_backoff',      '1s 1m',                      '2s 2m'],
    ['login_max_size',     '32k',                        '64k'],
    ['login_ssl_verify',   'on',                         'off'],
    ['login_ssl_trusted_certificate', '/etc/ssl/a.pem',  '/etc/ssl/b.pem'],
    ['token_from',         'json data.token',            'header X-Token'],
    ['token_refresh_from', 'json refresh_token',         'cookie r'],
    ['token_expires_in',   'expires_in expiresIn',       'ttl'],
    ['token_expires_at',   'expireDate',                 'expiresAt'],
    ['token_lifetime',     '10m',                        '20m'],
    ['token_max_lifetime', '2h',                         '3h'],
    ['token_idle_timeout', '30m',                        '30m'],
    ['token_renew_before', '1m',                         '2m'],
    ['token_expiry_margin', '5%',                        '2s'],
    ['token_cookie',       'session',                    'other'],
    ['token_refused_status', '401',                      '401 403'],
    ['token_refused_interval', '5s',                     '10s'],
    ['refresh',            'http://127.0.0.1:9/refresh', 'http://127.0.0.1:9/r'],
    ['authorize',          'https://id.example/oauth',   'https://id.example/o'],
    ['client_id',          'id',                         'id2'],
    ['client_secret',      $SECRET,                      'other'],
    ['redirect_uri',       'https://gw.example/cb',      'https://gw.example/c'],
    ['code_grant_type',    'code',                       'authorization_code'],
    ['state_key',          '0123456789abcdef0123456789abcdef',
                           'fedcba9876543210fedcba9876543210'],
    ['state_lifetime',     '5m',                         '10m'],
    ['answer_code',        'exctnFdbck.id',              'a.b'],
    ['answer_retry',       '35 2s 4s',                   '36 1s'],
    ['answer_fail',        '55',                         '56 57'],
    ['answer_max_size',    '64k',                        '32k'],
    ['aws_sigv4',          'eu-west-1 s3',               'us-east-1 s3'],
    ['aws_access_key_id',  'AKIDEXAMPLE',                'AKIDOTHER'],
    ['aws_secret_access_key', $SECRET,                   'other'],
    ['aws_session_token',  $SECRET,                      'other'],
    ['aws_sigv4_host',     'a.example',                  'b.example'],
);

for my $d (@single) {
    my ($name, $first, $second) = @$d;
    rejects_at("$name twice",
               "        $name $first;\n        $name $second;  # here",
               qr/"\Q$name\E" directive is duplicate/);
}

# the same value twice is no less a duplicate

rejects_at('login_body json twice', "        $L\n        login_body json;\n"
           . "        login_body json;  # here\n        token_cookie t;",
           qr/"login_body" directive is duplicate/);

# with other directives between the two, in a whole credential

rejects_at('login_body json, then form', "        $L\n"
           . "        login_body json;\n        login_param a b;\n"
           . "        login_body form;  # here\n        token_cookie t;",
           qr/"login_body" directive is duplicate/);
rejects_at('token_cookie twice, apart', "        $L\n        token_cookie a;\n"
           . "        token_header X-Token \"{token}\";\n"
           . "        token_cookie b;  # here",
           qr/"token_cookie" directive is duplicate/);
rejects_at('state_lifetime twice in a whole flow',
           "        $OAUTH\n        state_lifetime 1m;\n"
           . "        client_secret $SECRET;\n"
           . "        state_lifetime 2m;  # here",
           qr/"state_lifetime" directive is duplicate/);


# argument counts, from the tables as nginx counts them

my @nargs = (
    ['TAKE1 without an argument',   'login_timeout'],
    ['TAKE1 with two',              'login_timeout 1s 2s'],
    ['TAKE2 with one',              'login_param a'],
    ['TAKE2 with three',            'header x-a b c'],
    ['FLAG with two',               'login_ssl_verify on off'],
    ['FLAG with none',              'login_ssl_verify'],
    ['TAKE23 with one',             'body_json a'],
    ['TAKE23 with four',            'body_json a b uuid x'],
    ['1MORE with none',             'token_expires_in'],
    ['1MORE beyond its 8',          'token_expires_in a b c d e f g h i'],
    ['answer_fail beyond its 8',    'answer_fail 1 2 3 4 5 6 7 8 9'],
    ['token_refused_status with none', 'token_refused_status'],
    ['token_refused_status beyond its 8',
     'token_refused_status 401 402 403 404 405 406 407 408 409'],
    ['2MORE with one',              'answer_retry 35'],
    ['answer_retry beyond 8 delays',
     'answer_retry 35 1s 1s 1s 1s 1s 1s 1s 1s 1s'],
    ['basic with one',              'basic u'],
    ['state_key with two',          'state_key a b'],
);

for my $c (@nargs) {
    my ($name, $line) = @$c;
    my ($directive) = $line =~ /^(\S+)/;
    rejects_at("arguments: $name", "        $line;  # here",
               qr/invalid number of arguments in "\Q$directive\E" directive of credential "c"/);
}

accepts('token_expires_in with 8 fields',
        "        $L token_cookie t;\n"
        . '        token_expires_in a b c d e f g h;');
accepts('answer_retry with 8 delays, answer_fail with 8 codes',
        '        answer_code a; answer_retry 35 1s 1s 1s 1s 1s 1s 1s 1s;'
        . ' answer_fail 1 2 3 4 5 6 7 8;');

rejects_at('unknown directive', "        header x-a b;\n        bearer x;  # here",
           qr/unknown directive "bearer" in credential "c"/);


# values that a stock setter cannot parse, and bounds in post handlers

rejects_at('time that does not parse', "        $L\n"
           . "        token_lifetime soon;  # here",
           qr/invalid time "soon" in "token_lifetime"/);
rejects_at('size that does not parse', "        answer_code a; answer_fail 5;\n"
           . "        answer_max_size 1g;  # here",
           qr/invalid size "1g" in "answer_max_size": expected 1 to 16m/);
rejects_at('flag that is neither on nor off', "        $L\n"
           . "        login_ssl_verify yes;  # here",
           qr/invalid value "yes" in "login_ssl_verify" directive, it must be "on" or "off"/);
rejects_at('login_body not in the list', "        $L\n"
           . "        login_body xml;  # here",
           qr/invalid login_body "xml": expected "json" or "form"/);
rejects_at('token_from not in the list', "        $L\n"
           . "        token_from body x;  # here",
           qr/invalid token_from "body": expected "json", "header" or "cookie"/);

for my $size (qw(1023 17m)) {
    rejects_at("login_max_size $size", "        $L token_cookie t;\n"
               . "        login_max_size $size;  # here",
               qr/invalid login_max_size "$size": from 1k to 16m/);
}

rejects_at('login_max_size that does not parse', "        $L\n"
           . "        login_max_size big;  # here",
           qr/invalid login_max_size "big": from 1k to 16m/);

for my $size (qw(1k 16m)) {
    accepts("login_max_size $size",
            "        $L token_cookie t; login_max_size $size;");
}

for my $size (qw(0 17m)) {
    rejects_at("answer_max_size $size", "        answer_code a; answer_fail 5;\n"
               . "        answer_max_size $size;  # here",
               qr/invalid size "$size" in "answer_max_size": expected 1 to 16m/);
}

for my $size (qw(1 16m)) {
    accepts("answer_max_size $size",
            "        answer_code a; answer_fail 5; answer_max_size $size;");
}

for my $t (qw(999ms 0 soon)) {
    rejects_at("state_lifetime $t", "        $OAUTH\n"
               . "        state_lifetime $t;  # here",
               qr/invalid state_lifetime "$t": at least 1s/);
}

accepts('state_lifetime 1s', "        $OAUTH state_lifetime 1s;");

rejects_at('short state_key', "        $OAUTH\n"
           . "        state_key short;  # here",
           qr/state_key must be at least 16 bytes long, random .*/);
rejects_at('bad token_cookie name', "        $L\n"
           . "        token_cookie \"a;b\";  # here",
           qr/invalid cookie name "a;b" in token_cookie/);
rejects_at('empty token_cookie name', "        $L\n"
           . "        token_cookie \"\";  # here",
           qr/invalid cookie name "" in token_cookie/);
rejects_at('authorize with a fragment', "        $L\n"
           . "        authorize https://id.example/o#x;  # here",
           qr/invalid authorize URL "https:\/\/id\.example\/o#x": it must not have a fragment/);
rejects_at('answer_code that is no JSON path',
           "        answer_code a..b;  # here",
           qr/invalid JSON path "a\.\.b" in "answer_code": expected .*/);


# lists: written any number of times

accepts('login_param, login_header, refresh_param twice',
        "        $L token_cookie t;\n"
        . "        login_param a 1; login_param b 2; login_param a 3;\n"
        . "        login_header x-a 1; login_header x-b 2;\n"
        . "        refresh http://127.0.0.1:9/refresh;\n"
        . "        refresh_param grant_type refresh_token;"
        . " refresh_param scope s;");
accepts('header twice, with different names',
        '        header x-a 1; header x-b 2; header x-c 3;');
accepts('token_header twice, with different names, and token_cookie',
        "        $L token_header Authorization \"Bearer {token}\";\n"
        . "        token_header X-Token \"{token}\"; token_cookie session;");
accepts('authorize_param twice', "        $OAUTH\n"
        . '        authorize_param response_type code;'
        . ' authorize_param scope read;');
accepts('body_json twice, at different paths',
        "        body_json userInfo.id a; body_json userInfo.key $SECRET;");
accepts('basic and a header', "        basic u $SECRET; header x-a b;");

done_testing();
