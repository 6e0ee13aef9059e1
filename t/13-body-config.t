#!/usr/bin/perl

# "nginx -t" checks body_json and the answer directives: every UUID v4 form
# the partner accepts passes, everything else fails with file:line and a
# reason, and no message shows the value.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EdgeAuthTest;

my $SECRET = 'S3cr3t-Do-Not-Print';

sub check {
    my ($block, %args) = @_;
    my $n = nginx_new(env => $args{env}, http => <<"CONF");
    credential c {
$block
    }
CONF
    $args{setup}->($n) if $args{setup};
    return $n->test_config;
}

sub accepts {
    my ($name, $block, %args) = @_;
    my ($ok, $out) = check($block, %args);
    ok($ok, "accepts: $name") or diag $out;
}

sub rejects {
    my ($name, $block, $re, %args) = @_;
    my ($ok, $out) = check($block, %args);
    ok(!$ok, "rejects: $name") or diag $out;
    like($out, $re, "message: $name") or diag $out;
    like($out, qr/nginx\.conf:\d+/, "file:line: $name");
    unlike($out, qr/\Q$SECRET\E/, "no value in message: $name");
}

# UUID v4: hyphenated or 32 hex, any case, variants 8, 9, a, b

my @good = qw(
    ac346b72-e8fe-4677-b9e2-dc6a763fba82
    AC346B72-E8FE-4677-B9E2-DC6A763FBA82
    ac346b72e8fe4677b9e2dc6a763fba82
    AC346B72E8FE4677B9E2DC6A763FBA82
    00000000-0000-4000-8000-000000000000
    ffffffff-ffff-4fff-9fff-ffffffffffff
    12345678-90ab-4cde-a000-000000000000
    123456789abc4defbfffffffffffffff
);

for my $u (@good) {
    accepts("UUID $u", "body_json userInfo.id $u uuid;");
}

accepts('UUID from env:', 'body_json userInfo.id env:OCTA_ID uuid;',
        env => { OCTA_ID => $good[0] });

accepts('UUID from file: with a final newline',
        'body_json userInfo.id file:%%DIR%%/id uuid;',
        setup => sub { $_[0]->write_file('id', "$good[2]\n") });

my @bad = (
    ['ac346b72-e8fe-1677-b9e2-dc6a763fba82', qr/the version is not 4/,
        'version 1'],
    ['ac346b72e8fe5677b9e2dc6a763fba82', qr/the version is not 4/,
        'version 5, 32 hex'],
    ['ac346b72-e8fe-4677-c9e2-dc6a763fba82', qr/variant is not RFC 4122/,
        'variant c'],
    ['ac346b72-e8fe-4677-79e2-dc6a763fba82', qr/variant is not RFC 4122/,
        'variant 7 (NCS)'],
    ['ac346b72-e8fe-4677-b9e2-dc6a763fba8', qr/neither 36 characters/,
        'one digit short'],
    ['ac346b72-e8fe-4677-b9e2-dc6a763fba822', qr/neither 36 characters/,
        'one digit long'],
    ['ac346b72e-8fe-4677-b9e2-dc6a763fba82', qr/a hyphen is expected/,
        'hyphen misplaced'],
    ['ac346b72-e8fe-4677-b9e2-dc6a763fba8g', qr/a hex digit is expected/,
        'g is not hex'],
    ['ac346b72-e8fe-4677-b9e2dc6a763fba82a', qr/a hyphen is expected/,
        'a hyphen missing'],
    ['Xk3m9Pq2Rt7Lw4Yz8Bn5Vc1Hs6Jd0Fg3', qr/a hex digit is expected/,
        '32 random alphanumerics'],
    ['{ac346b72-e8fe-4677-b9e2-dc6a763fba82}', qr/neither 36/,
        'braces'],
    ['urn:uuid:ac346b72-e8fe-4677-b9e2-dc6a763fba82', qr/neither 36/,
        'urn: prefix'],
    ['ac346b72-e8fe-4677-b9e2-dc6a763fba8Z', qr/a hex digit is expected/,
        'Z at the end'],
);

for my $b (@bad) {
    my ($u, $re, $name) = @$b;
    rejects("UUID $name", "body_json userInfo.id '$u' uuid;",
            qr/body_json "userInfo\.id": the value is not a UUID v4: .*$re/);
}

# the value never appears, whatever is wrong with it

rejects('UUID message hides the value',
        "body_json userInfo.id $SECRET uuid;",
        qr/not a UUID v4: it is neither 36/);

rejects('UUID from a file, with two lines',
        'body_json userInfo.id file:%%DIR%%/id uuid;', qr/control|newline/i,
        setup => sub { $_[0]->write_file('id', "$good[0]\n\n") });

# paths and values

accepts('body_json without uuid takes any value',
        "body_json userInfo.athrzt.key $SECRET;");

rejects('empty path segment', "body_json userInfo..id $SECRET;",
        qr/invalid JSON path "userInfo\.\.id"/);
rejects('leading dot', "body_json .id $SECRET;", qr/invalid JSON path/);
rejects('trailing dot', "body_json userInfo. $SECRET;",
        qr/invalid JSON path/);
rejects('quote in a key', qq(body_json 'user"Info' $SECRET;),
        qr/invalid JSON path/);
rejects('set twice', "body_json a.b $SECRET; body_json a.b x;",
        qr/body_json "a\.b" is set twice/);
rejects('inside a value', "body_json a $SECRET; body_json a.b x;",
        qr/body_json "a\.b" is set twice, or inside another/);
rejects('a value over an object', "body_json a.b $SECRET; body_json a x;",
        qr/body_json "a" is set twice, or inside another/);
rejects('unknown flag', "body_json a $SECRET uuid4;",
        qr/invalid parameter "uuid4" in "body_json"/);
rejects('missing env', 'body_json a env:NO_SUCH_OCTA_VAR;',
        qr/environment variable "NO_SUCH_OCTA_VAR" is not set/);
rejects('control byte in value', 'body_json a env:OCTA_BAD;',
        qr/body_json "a"/, env => { OCTA_BAD => "a\tb" });
rejects('too many arguments', "body_json a $SECRET uuid x;",
        qr/invalid number of arguments in "body_json"/);

# answer directives

my $uinfo = "body_json userInfo.id $good[0] uuid;";

accepts('answer codes', "$uinfo answer_code exctnFdbck.id; "
        . 'answer_retry 35 2s 4s 8s; answer_fail 55; answer_max_size 64k;');
accepts('answer codes without body_json', 'answer_code a.b; answer_fail 1;');

rejects('retry without code', "$uinfo answer_retry 35 2s;",
        qr/"answer_retry" and "answer_fail" need "answer_code"/);
rejects('code alone', "$uinfo answer_code a;",
        qr/"answer_code" does nothing without/);
rejects('bad delay', "$uinfo answer_code a; answer_retry 35 2x;",
        qr/invalid delay "2x" in "answer_retry"/);
rejects('zero delay', "$uinfo answer_code a; answer_retry 35 0s;",
        qr/invalid delay "0s"/);
rejects('no delay', "$uinfo answer_code a; answer_retry 35;",
        qr/invalid number of arguments in "answer_retry"/);
rejects('retried and failed', "$uinfo answer_code a; answer_retry 35 1s; "
        . 'answer_fail 55 35;', qr/code "35" is both retried and failed/);
rejects('answer_retry twice', "$uinfo answer_code a; answer_retry 35 1s; "
        . 'answer_retry 36 1s;',
        qr/"answer_retry" directive is duplicate in \S+nginx\.conf:\d+/);
rejects('answer_code twice', "$uinfo answer_code a; answer_code b;",
        qr/"answer_code" directive is duplicate in \S+nginx\.conf:\d+/);
rejects('max size 0', "$uinfo answer_max_size 0;",
        qr/invalid size "0" in "answer_max_size"/);
rejects('max size huge', "$uinfo answer_max_size 1g;",
        qr/invalid size "1g"/);
rejects('bad code', "$uinfo answer_code a; answer_fail '5 5';",
        qr/invalid answer code "5 5"/);

done_testing();
