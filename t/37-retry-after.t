#!/usr/bin/perl

# Retry-After on a 429 or 503 of a login endpoint: an HTTP-date is obeyed
# as well as seconds, and no wait is longer than login_backoff's maximum
# (a partner cannot park a credential for a day).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use Time::HiRes qw(sleep time);
use EdgeAuthTest;
use MockPartner;

sub gateway {
    my ($mock, $backoff) = @_;

    my $port = free_port();
    my $url = $mock->url;

    my $n = nginx_new(http => <<"CONF");
    credential oauth {
        login         $url/oauth/token;
        login_param   grant_type client_credentials;
        login_basic   oauth-client oauth-secret;
        login_backoff $backoff;
        token_header  Authorization "Bearer {token}";
    }

    server {
        listen 127.0.0.1:$port;

        location / {
            credential_inject oauth;
            proxy_pass $url;
        }
    }
CONF

    $n->start($port);
    return ($n, $port);
}

# an HTTP-date 8 s ahead: no login before it (a date has whole seconds,
# and nginx's first login may come seconds after its start on a loaded
# machine: the 2 s looked at must end before the date)

{
    my $m = MockPartner->start(kind => 'oauth');
    my $date = POSIX::strftime('%a, %d %b %Y %H:%M:%S GMT',
                               gmtime(time + 8));
    $m->set(status => 429, retry_after => $date, fail_count => 1);

    my ($n, $port) = gateway($m, '100ms 10s');

    ok($m->wait_logins(1, 10), 'date: the first login is refused with 429');
    sleep 2;
    is($m->logins, 1, 'date: no second login within 2 s');
    ok($m->wait_for(sub { $m->count('login:200') >= 1 }, 15),
       'date: the login after the date succeeds');
    $n->stop;
}

# 3000 s asked, login_backoff at most 2 s: 2 s it is

{
    my $m = MockPartner->start(kind => 'oauth');
    $m->set(status => 503, retry_after => 3000, fail_count => 1);

    my ($n, $port) = gateway($m, '100ms 2s');

    ok($m->wait_logins(1, 10), 'long: the first login is refused with 503');
    ok($m->wait_for(sub { $m->count('login:200') >= 1 }, 10),
       'long: the next login comes after login_backoff\'s maximum');
    like($n->error_log, qr/next try in 2000ms/,
         'long: and the log says when');
    $n->stop;
}

done_testing();
