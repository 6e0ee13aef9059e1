#!/usr/bin/perl

# credential_status's HTML page: one row per credential (state in colour,
# time left as a bar, last login, failure streak) and per IP list, every
# name escaped, auto-refresh, inline CSS only: no script, no external
# asset.  Rendered in headless Chromium when there is one (Debian's
# "chromium"; the test skips that part without it).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use EdgeAuthTest;
use MockPartner;

my $ID = 'html-client-ID-4r';
my $SECRET = 'html-secret-Vb55-never-shown';
my $ODD = '<script>alert(1)</script>&"x';

my $ok = MockPartner->start(kind => 'oauth', tls_tickets => 0,
                            client_id => $ID, client_secret => $SECRET,
                            token_lifetime => 3600);
my $bad = MockPartner->start(kind => 'oauth', tls_tickets => 0,
                             client_id => $ID, client_secret => $SECRET);
$bad->set(status => 500);

my $port = free_port();

sub cred {
    my ($name, $url) = @_;
    return <<"CONF";
    credential $name {
        login        $url/oauth/token;
        login_param  grant_type client_credentials;
        login_basic  $ID env:HTML_SECRET;
        login_backoff 500ms 1s;
        token_header Authorization "Bearer {token}";
    }
CONF
}

my $n = nginx_new(env => { HTML_SECRET => $SECRET },
                  http => cred('good', $ok->url) . cred('failing', $bad->url)
                          . <<"CONF");
    credential plain { header x-api-key static-value; }

    auth_ip_list '$ODD' { 127.0.0.1; }

    server {
        listen 127.0.0.1:$port;

        location = /in { auth_ip '$ODD'; try_files /nothing =204; }
        location = /status { credential_status; }
    }
CONF

$n->start($port);

ok($ok->wait_logins(1, 10), 'good logged in');
ok($bad->wait_logins(1, 10), 'failing tried');
is(http_request($port, "GET /in HTTP/1.1\nHost: x\nConnection: close\n\n")
       ->{status}, 204, 'one request allowed');

my $r = http_request($port, "GET /status HTTP/1.1\nHost: x\n"
                            . "Accept: text/html,application/xhtml+xml,"
                            . "*/*;q=0.8\nConnection: close\n\n");
is($r->{status}, 200, 'HTML page');
like($r->{headers}{'content-type'}[0], qr{^text/html; charset=utf-8},
     'text/html');

my $html = $r->{body};

like($html, qr{<meta http-equiv="refresh" content="\d+">}, 'auto-refresh');
like($html, qr{<style>}, 'inline CSS');
unlike($html, qr{<script}i, 'no script');
unlike($html, qr{<link|src=|url\(|\@import}i, 'no external asset');
like($html, qr{&lt;script&gt;alert\(1\)&lt;/script&gt;&amp;&quot;x},
     'the list name HTML-escaped');
like($html, qr{<td class="name">good</td><td><span class="state valid">},
     'good: valid');
my $failing = '<td class="name">failing</td><td><span class="state ';
like($html, qr{\Q$failing\E(backoff|none|renewing)">}, 'failing: not valid');
like($html, qr{<td class="name">plain</td><td>static</td>}, 'static');
unlike($html, qr/\Q$SECRET\E|\Q$ID\E/, 'no secret, no client id');
my $token = $ok->last_token;
unlike($html, qr/\Q$token\E/, 'no token');

SKIP: {
    my ($chromium) = grep { -x $_ } '/usr/bin/chromium',
                                    '/usr/bin/chromium-browser';
    skip 'chromium is not installed', 9 unless $chromium;

    my $profile = tempdir('chromium-XXXXXX', TMPDIR => 1, CLEANUP => 1);

    my $dom = `timeout 60 $chromium --headless --no-sandbox --disable-gpu \\
        --disable-background-networking --disable-component-update \\
        --disable-sync --no-first-run --user-data-dir=$profile \\
        --dump-dom 'http://127.0.0.1:$port/status?format=html' 2>/dev/null`;

    ok(length $dom, 'Chromium rendered the page') or skip 'no DOM', 8;

    # the DOM as Chromium built it: rows, classes, the bar's width
    my @rows = $dom =~ m{<tr>(.*?)</tr>}gs;
    is(scalar @rows, 3 + 1 + 1 + 1, 'a row per credential and list, '
       . 'plus headers');
    like($dom, qr{<table id="credentials">}, 'credentials table');
    like($dom, qr{<span class="state valid">valid</span>}, 'state valid');
    like($dom, qr{<div style="width:\s*(9\d|100)%;?">}, 'time left: a bar '
         . 'nearly full');
    unlike($dom, qr{<script}i, 'the odd name made no element');
    like($dom, qr{&lt;script&gt;alert\(1\)&lt;/script&gt;&amp;"x},
         'the odd name is text');
    like($dom, qr{<td>1</td>}, 'the allowed request counted');
    like($dom, qr{<title>credentials</title>}, 'title');
}

$n->stop;

is($ok->errors . $bad->errors, '', 'mocks without errors');

done_testing();
