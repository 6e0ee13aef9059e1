#!/usr/bin/perl

# Logins never storm a partner (issue 16, item 1).  Many credentials with
# one login host start at once: the partner sees at most
# login_concurrency logins at a time (default 8, counted for the node in
# shared memory, so two workers share it), every credential gets its token,
# and none fails.  A worker whose worker_connections are all taken fails
# the logins it cannot connect with a line that names worker_connections,
# not nginx's alert and a connect() error with a stale errno.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(sleep);
use EdgeAuthTest;
use MockPartner;

sub get {
    my ($port, $uri) = @_;
    return http_request($port, "GET $uri HTTP/1.1\nHost: localhost\n"
                               . "Connection: close\n\n");
}

# $count credentials c0, c1, ... of the same login host, and the status page
sub gateway {
    my (%o) = @_;

    my $port = free_port();
    my $url = $o{mock}->url;
    my $creds = '';

    for my $i (0 .. $o{count} - 1) {
        $creds .= <<"CRED";
    credential c$i {
        login        $url/oauth/token;
        login_param  grant_type client_credentials;
        login_basic  oauth-client oauth-secret;
        login_timeout 10s;
        token_header Authorization "Bearer {token}";
    }
CRED
    }

    my $n = nginx_new(workers => 2, http => <<"CONF");
    $o{extra}
$creds
    server {
        listen 127.0.0.1:$port;

        location = /status { credential_status; }

        location / {
            credential_inject c0;
            proxy_pass $url;
        }
    }
CONF

    if ($o{connections}) {
        my $conf = $n->dir . '/nginx.conf';
        open my $in, '<', $conf or die "$conf: $!";
        my $text = do { local $/; <$in> };
        close $in;
        $text =~ s/worker_connections \d+;/worker_connections $o{connections};/
            or die 'no worker_connections';
        open my $out, '>', $conf or die "$conf: $!";
        print $out $text;
        close $out;
    }

    $n->start($port);

    return ($n, $port);
}

sub valid_tokens {
    my ($port) = @_;
    my $r = get($port, '/status');
    my $s = eval { decode_json($r->{body}) } || {};
    return scalar grep { $_->{token_usable} }
        values %{ $s->{credentials} || {} };
}

# The most logins that arrived within any $window seconds.  A login holds
# its slot from before it arrives until after its answer, $delay later:
# logins of one slot arrive at least $delay apart, so a window shorter
# than that sees at most the cap.  (The mock's own in-flight count lags:
# it counts a login done only after its answer is written and its state
# file locked again, by when nginx has started the next one.)

sub most_at_once {
    my ($m, $window) = @_;
    my @t = sort { $a <=> $b } map { $_->{time} } $m->requests('login');
    my $most = 0;
    for my $i (0 .. $#t) {
        my $k = grep { $_ >= $t[$i] && $_ < $t[$i] + $window } @t;
        $most = $k if $k > $most;
    }
    return $most;
}

# The mock serves each connection in a process of a pool that grows two
# at a time while connections are held: grown first, with as many idle
# connections as the logins to come, it takes a burst of logins at once
# rather than one spare process after another.

sub warm_pool {
    my ($m, $count) = @_;
    my @held;
    for (1 .. $count) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $m->port) or last;
        push @held, $s;
    }
    sleep 3;
    close $_ for @held;
    sleep 0.5;
}

for my $case ([20, '', 8], [10, 'login_concurrency 3;', 3]) {
    my ($count, $extra, $cap) = @$case;

    my $m = MockPartner->start(kind => 'oauth');
    $m->set(delay_ms => 500);
    warm_pool($m, $count + 4);

    my ($n, $port) = gateway(mock => $m, count => $count, extra => $extra);
    my $what = $extra || 'the default';

    ok($m->wait_for(sub { $m->count('login:200') >= $count }, 30),
       "$what: all $count credentials logged in")
        or diag($m->count('login:200') . ' logins');

    my $max = most_at_once($m, 0.35);
    ok($max <= $cap, "$what: at most $cap logins at once (saw $max)");
    ok($max >= 2, "$what: logins do run side by side (saw $max)");
    is($m->logins, $count, "$what: one login per credential, none failed");
    ok($m->wait_for(sub { valid_tokens($port) == $count }, 10),
       "$what: every token is held");

    my $r = get($port, '/x');
    is($r->{status}, 200, "$what: requests pass with the token");

    my $log = $n->error_log;
    unlike($log, qr/\[alert\]|\[crit\]|login to \S+ failed/,
           "$what: no alert, no failed login");

    $n->stop;
    $m->stop;
}

# workers of 8 connections, a cap above them: the logins it cannot
# connect fail with a line that names worker_connections, and are retried

{
    my $m = MockPartner->start(kind => 'oauth');
    $m->set(delay_ms => 500);

    my ($n, $port) = gateway(mock => $m, count => 24, connections => 8,
                             extra => 'login_concurrency 64;');

    ok($m->wait_for(sub {
        $n->error_log =~ /no free connection in this worker: worker_connections/
    }, 10), 'a login without a connection names worker_connections');

    my $log = $n->error_log;
    unlike($log, qr/worker_connections are not enough while connecting|\(115: Operation now in progress\)/,
           "no nginx alert, no stale connect() error");

    $n->stop;
    $m->stop;
}

done_testing();
