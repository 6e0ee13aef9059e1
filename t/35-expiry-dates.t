#!/usr/bin/perl

# token_expires_at reads the ISO-8601 forms partners write besides RFC
# 3339's: the basic format (20300101T000000Z) and hour-only offsets
# (+02); and refuses an expiry more than 366 days ahead, as an expiry in
# seconds is refused (a year-9999 date would keep a token for ever).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use EdgeAuthTest;
use MockPartner;

my $GET = "GET /api/x HTTP/1.1\nHost: x\nConnection: close\n\n";

sub gateway {
    my ($mock) = @_;

    my $port = free_port();
    my $url = $mock->url;

    my $n = nginx_new(http => <<"CONF");
    credential octorate {
        login              $url/identity/apilogin;
        login_param        client_id oc;
        login_param        client_secret os;
        token_expires_at   expireDate;
        login_wait         2s;
        token_header       Authorization "Bearer {token}";
    }

    server {
        listen 127.0.0.1:$port;

        location / {
            credential_inject octorate;
            proxy_pass $url;
        }
    }
CONF

    $n->start($port);
    return ($n, $port);
}

for my $style ('basic', 'hour_offset') {
    my $octo = MockPartner->start(kind => 'octorate', client_id => 'oc',
                                  client_secret => 'os',
                                  token_lifetime => 600,
                                  expire_date_style => $style);
    my ($n, $port) = gateway($octo);

    ok($octo->wait_logins(1, 10), "$style: logged in");
    my $r = http_request($port, $GET);
    is($r->{status}, 200, "$style: the expiry date is read");
    like($n->error_log, qr/logged in to \S+, token valid for 5\d\ds/,
         "$style: and gives the token its lifetime");
    $n->stop;
}

my $octo = MockPartner->start(kind => 'octorate', client_id => 'oc',
                              client_secret => 'os',
                              expire_date => '9999-12-31T23:59:59Z');
my ($n, $port) = gateway($octo);

ok($octo->wait_logins(1, 10), 'year 9999: the login is answered');
my $r = http_request($port, $GET);
is($r->{status}, 503, 'year 9999: no token is used');
my $why = 'failed (failure 1 in a row): the answer has an expiry date '
          . 'more than 366 days ahead';
like($n->error_log, qr/\[error\].*login to \S+ \Q$why\E/,
     'year 9999: the log says why');
$n->stop;

done_testing();
