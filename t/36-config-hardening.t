#!/usr/bin/perl

# Careless configurations that nginx -t must catch: two header names that
# an upstream takes for one ("X-K" and "x_k"), and a URL with a user and
# password in it, which messages and logs would show.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EdgeAuthTest;

my $PW = 'Url-Pw-9c1-never-shown';

sub check {
    my ($http) = @_;
    my $n = nginx_new(http => $http);
    my ($ok, $out) = $n->test_config;
    return ($ok, $out);
}

sub rejects {
    my ($name, $http, $re) = @_;
    my ($ok, $out) = check($http);
    ok(!$ok, "rejects: $name") or diag $out;
    like($out, $re, "message: $name") or diag $out;
    like($out, qr/nginx\.conf:\d+/, "file:line: $name") or diag $out;
    unlike($out, qr/\Q$PW\E/, "no password in the message: $name");
}

sub accepts {
    my ($name, $http) = @_;
    my ($ok, $out) = check($http);
    ok($ok, "accepts: $name") or diag $out;
}

sub cred { "credential c { $_[0] }" }

my $login = 'login http://127.0.0.1:9/login; ';

rejects('header names equal once case is folded and _ is -',
        cred('header X-K a; header x_k b;'),
        qr/credential "c" sets header "x_k" twice/);
rejects('header names with _ and - only',
        cred('header X_Api_Key a; header x-api-key b;'),
        qr/sets header "x-api-key" twice/);
rejects('a static header and a token header that collide',
        cred($login . 'header X-K a; token_header x_k "Bearer {token}";'),
        qr/sets header "x_k" twice/);
rejects('two token headers that collide',
        cred($login . 'token_header X-T "{token}"; '
             . 'token_header x_t "{token}";'),
        qr/sets header "x_t" twice/);
accepts('different names', cred('header X-K a; header X-L b;'));

my $shown = 'invalid URL "http://***@127.0.0.1:9/login": a user and '
            . 'password in a URL are not supported';
rejects('a login URL with a user and password',
        cred("login http://user:$PW\@127.0.0.1:9/login; "
             . 'token_header Authorization "Bearer {token}";'),
        qr/\Q$shown\E/);
rejects('a login URL with a user and password and a bad scheme',
        cred("login ftp://user:$PW\@127.0.0.1/login; "
             . 'token_header Authorization "Bearer {token}";'),
        qr/ftp:\/\/\*\*\*\@127\.0\.0\.1\/login/);
rejects('a refresh URL with a user and password',
        cred($login . "refresh https://u:$PW\@127.0.0.1:9/r; "
             . 'token_header Authorization "Bearer {token}";'),
        qr/https:\/\/\*\*\*\@127\.0\.0\.1:9\/r/);
accepts('an "@" after the authority is not userinfo',
        cred('login http://127.0.0.1:9/login?who=a@b; '
             . 'token_header Authorization "Bearer {token}";'));

done_testing();
