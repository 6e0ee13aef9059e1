#!/usr/bin/perl

# Edges of the authorization-code flow found in review: a busy callback
# keeps the state cookie it asks the browser to reuse; a new grant without
# a refresh token never renews with the previous grant's; the code and
# state of a HEAD or POST to the callback stay out of the access log; a
# token endpoint's non-JSON error body is not echoed.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use POSIX qw(strftime);
use EdgeAuthTest;
use MockPartner;
use OAuthBrowser;
use OAuthConf;

my $SECRET = 'octo-edges-secret-5d1e';
my $GET = "GET /api/x HTTP/1.1\nHost: localhost\nConnection: close\n\n";

my $octo = MockPartner->start(kind => 'octorate', client_id => 'oc-id',
                              client_secret => $SECRET, token_lifetime => 4);
my $url = $octo->url;
my $port = free_port();
my $cb = "http://127.0.0.1:$port/octorate/callback";

my $n = nginx_new(workers => 2, http => octorate_credential(
        url => $url, client_id => 'oc-id', secret => $SECRET,
        redirect_uri => $cb,
        extra => ['login_timeout      4s;', 'login_wait         1s;',
                  'token_renew_before 2s;'])
    . octorate_server(port => $port, url => $url));

$n->start($port);

my $s = connect_step($port);
my $r = callback($port, $s);
is($r->{status}, 200, 'connected');


# a callback while a renewal is in flight: 503 "reload", the cookie kept

$octo->set(for => 'refresh', delay_ms => 3000, fail_count => 1);
ok($octo->wait_for(sub { $octo->in_flight('refresh') > 0 }, 10),
   'a renewal is in flight');

$s = connect_step($port);
$r = callback($port, $s, once => 1);
is($r->{status}, 503, 'busy: 503');
unlike(join("\n", @{ $r->{headers}{'set-cookie'} || [] }), qr/Max-Age=0/,
       'busy: the state cookie is not cleared');

ok($octo->wait_for(sub { $octo->in_flight('refresh') == 0 }, 10),
   'the renewal is over');
$r = callback($port, $s);
is($r->{status}, 200, 'reloading the page with the same cookie connects');


# a new grant whose answer has no refresh token

my $exp = strftime('%Y-%m-%dT%H:%M:%S.000Z', gmtime(time + 3));
$octo->set(for => 'token', fail_count => 1, content_type => 'application/json',
           body => qq({"access_token":"NEWGRANT-TOKEN","expireDate":"$exp"}));

$s = connect_step($port);
$r = callback($port, $s);
is($r->{status}, 200, 'connected again');
like($r->{body}, qr/no refresh token: run the connect step again/,
     'the page says there is no refresh token');

$octo->reset_counters;
sleep 4;
is($octo->count('refresh'), 0,
   "the previous grant's refresh token is not used for the new grant");
$r = http_request($port, $GET);
is($r->{status}, 503, 'once its token expired the credential ...');
like($r->{body}, qr/credential-needs-authorization/,
     '... needs authorization');


# HEAD and POST on the callback: no code in the access log

my $c = connect_step($port);
my (undef, $path) = split_url($c->{callback});
$r = http_request($port, "HEAD $path HTTP/1.1\nHost: x\nConnection: close\n\n");
is($r->{status}, 405, 'HEAD on the callback: 405');
http_request($port, "POST $path HTTP/1.1\nHost: x\nContent-Length: 0\n"
                    . "Connection: close\n\n");
sleep 0.3;
my $code = $c->{params}{code};
unlike($n->access_log, qr/\Q$code\E/, 'the code is not in the access log');
unlike($n->access_log, qr/state=/, 'nor the state');


# a token endpoint that answers an error in plain text, echoing the code

$c = connect_step($port);
$octo->set(for => 'token', fail_count => 1, status => 400,
           content_type => 'text/plain',
           body => "code $c->{params}{code} expired");
$r = callback($port, $c);
is($r->{status}, 502, 'a refused code: 502');
unlike($r->{body}, qr/\Q$c->{params}{code}\E/, 'the page does not echo it');
unlike($n->error_log, qr/\Q$c->{params}{code}\E/, 'nor the error log');

unlike($n->error_log, qr/exited on signal|\[alert\]/, 'no crash');

$n->stop;

done_testing();
