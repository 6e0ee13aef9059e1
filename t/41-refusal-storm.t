#!/usr/bin/perl

# A client cannot take a token down for everyone (issue 12, defect 1): a
# partner path that refuses every token (a resource the account may not
# see, a client's own access_token) is hammered while other paths are
# requested.  The refused token stays in use: the other paths never see a
# 503, the login endpoint sees at most one renewal per
# token_refused_interval (default 5 s), on one gateway and on a fleet of
# two, and a refused fresh token is no failed login.  token_refused_status
# says which statuses refuse the token; bad values fail "nginx -t".

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use EdgeAuthTest;
use MockPartner;
use RedisServer;
use Fleet;

sub get {
    my ($port, $uri) = @_;
    return http_request($port, "GET $uri HTTP/1.1\nHost: localhost\n"
                               . "Connection: close\n\n");
}

sub gateway {
    my ($m, $extra) = @_;

    my $port = free_port();
    my $url = $m->url;

    # the refusing "partner path" is this server's own /deny/: what matters
    # is that an upstream answers it
    my $n = nginx_new(workers => 2, http => <<"CONF");
    credential oauth {
        login        $url/oauth/token;
        login_param  grant_type client_credentials;
        login_basic  oauth-client oauth-secret;
        login_wait   1s;
        token_header Authorization "Bearer {token}";
        $extra
    }

    server {
        listen 127.0.0.1:$port;

        location = /status { credential_status; }

        location /deny/401 { return 401 "refused\\n"; }
        location /deny/403 { return 403 "forbidden\\n"; }

        location /refused/ {
            credential_inject oauth;
            proxy_pass http://127.0.0.1:\$server_port/deny/401;
        }

        location /forbidden/ {
            credential_inject oauth;
            proxy_pass http://127.0.0.1:\$server_port/deny/403;
        }

        # the retry recipe, on a path that refuses every token
        location /retry/ {
            credential_inject oauth;
            proxy_pass http://127.0.0.1:\$server_port/deny/401;
            proxy_intercept_errors on;
            error_page 401 = \@retry;
        }

        location \@retry {
            credential_inject oauth;
            proxy_pass http://127.0.0.1:\$server_port/deny/401;
        }

        location / {
            credential_inject oauth;
            proxy_pass $url;
        }
    }
CONF

    $n->start($port);

    return ($n, $port);
}

sub status {
    my ($port) = @_;
    my $r = get($port, '/status');
    my $s = eval { decode_json($r->{body}) } || {};
    return $s->{credentials}{oauth} || {};
}

# $procs processes send $count requests each to $path (on the ports in
# turn), $gap seconds apart; meanwhile this process requests $other on the
# ports, one after another.  Returns (statuses of $path, of $other).

sub storm {
    my (%o) = @_;

    my $dir = tempdir(CLEANUP => 1);
    my %live;

    for my $i (1 .. $o{procs}) {
        my $pid = fork // die "fork: $!";

        if ($pid == 0) {
            open my $fh, '>', "$dir/$i" or POSIX::_exit(1);
            for my $k (1 .. $o{count}) {
                my $port = $o{ports}[($i + $k) % @{ $o{ports} }];
                my $r = eval { get($port, $o{path}) } || { status => 0 };
                print $fh "$r->{status}\n";
                sleep $o{gap};
            }
            close $fh;
            POSIX::_exit(0);
        }

        $live{$pid} = 1;
    }

    my @other;

    while (%live) {
        for my $port (@{ $o{ports} }) {
            my $r = eval { get($port, $o{other}) } || { status => 0 };
            push @other, $r->{status};
        }

        for my $pid (keys %live) {
            delete $live{$pid} if waitpid($pid, WNOHANG) != 0;
        }

        sleep 0.05;
    }

    my @hammer;
    for my $i (1 .. $o{procs}) {
        open my $fh, '<', "$dir/$i" or next;
        push @hammer, map { chomp; $_ } <$fh>;
        close $fh;
    }

    return (\@hammer, \@other);
}


# ------------------------------------------------- one gateway, defaults

{
    my $m = MockPartner->start(kind => 'oauth');
    my ($n, $port) = gateway($m, '');

    ok($m->wait_for(sub { $m->count('login:200') >= 1 }, 10),
       'storm: logged in at start-up');
    is(get($port, '/api/ok')->{status}, 200, 'storm: the partner accepts it');

    my $logins = $m->logins;
    my $t0 = time;

    # 40 refused requests in about 4 s, and 10 retried ones
    my ($refused, $other) = storm(ports => [$port], path => '/refused/x',
                                  procs => 4, count => 10, gap => 0.4,
                                  other => '/api/orders');
    my ($retried) = storm(ports => [$port], path => '/retry/x',
                          procs => 1, count => 10, gap => 0.05,
                          other => '/api/orders');
    my $elapsed = time - $t0;

    is(scalar(@$refused), 40, 'storm: 40 requests to the refusing path');
    is(scalar(grep { $_ != 401 } @$refused), 0,
       'storm: each got the partner\'s 401, none a 503');
    is(scalar(grep { $_ != 401 } @$retried), 0,
       'storm: a retry on a token renewed just before goes on at once: '
       . 'the partner\'s 401, not a 503');

    ok(@$other >= 10, 'storm: ' . scalar(@$other) . ' requests to other paths');
    is(scalar(grep { $_ == 503 } @$other), 0, 'storm: zero 503s elsewhere');
    is(scalar(grep { $_ != 200 } @$other), 0,
       'storm: every other request got 200');

    my $renewals = $m->logins - $logins;
    my $bound = 1 + int($elapsed / 5);
    ok($renewals >= 1, 'storm: the first refusal renewed the token');
    ok($renewals <= $bound,
       "storm: $renewals logins in ${\ sprintf '%.1f', $elapsed} s "
       . "(at most $bound)");
    is($m->count('api:401'), 0,
       'storm: the partner never saw a refused token on the other paths');

    my $r = get($port, '/api/orders');
    is($r->{status}, 200, 'storm: after it, requests pass');
    is($m->last_api->{bearer}, $m->last_token,
       'storm: with the newest token injected');

    my $s = status($port);
    ok(($s->{upstream_refusals} // 0) >= 50,
       "storm: upstream_refusals counts them ($s->{upstream_refusals})");
    is($s->{refusal_renewals}, $renewals,
       'storm: refusal_renewals counts the renewals only');

    my $log = $n->error_log;
    my $lines = () = $log =~ /the upstream refused the token with 401; renewing it/g;
    is($lines, $renewals, 'storm: one notice line per renewal');
    unlike($log, qr/\[error\].*credential "oauth"/,
           'storm: no error line (no failed login, no 503)');
    $n->stop;
}


# ------------------------------- token_refused_status and the interval

{
    my $m = MockPartner->start(kind => 'oauth');
    my ($n, $port) = gateway($m, 'token_refused_status 403; '
                                 . 'token_refused_interval 1s;');

    ok($m->wait_for(sub { $m->count('login:200') >= 1 }, 10),
       '403: logged in');

    is(get($port, '/refused/x')->{status}, 401, '403: a 401 ...') for 1 .. 3;
    sleep 1.5;
    is($m->logins, 1, '403: ... does not renew with token_refused_status 403');
    is(status($port)->{upstream_refusals}, 0, '403: nor counts as a refusal');

    is(get($port, '/forbidden/x')->{status}, 403, '403: a 403 ...');
    ok($m->wait_logins(2, 10), '403: ... renews the token');
    is(status($port)->{refusal_renewals}, 1, '403: counted as a renewal');

    # within the interval: nothing; after it: a renewal again
    is(get($port, '/forbidden/x')->{status}, 403, '403: refused again');
    sleep 0.3;
    is($m->logins, 2, '403: no renewal within token_refused_interval');
    sleep 1.2;
    is(get($port, '/forbidden/x')->{status}, 403, '403: refused after it');
    ok($m->wait_logins(3, 10), '403: renewed once the interval has passed');

    is(get($port, '/api/ok')->{status}, 200, '403: other paths still pass');
    $n->stop;
}


# ---------------------------------------------------------- nginx -t

{
    my $L = 'login http://127.0.0.1:9/token; '
          . 'token_header Authorization "Bearer {token}";';
    my @bad = (
        [ 'token_refused_interval 0;',
          qr/invalid token_refused_interval "0": from 1s to 1h/ ],
        [ 'token_refused_interval 500ms;',
          qr/invalid token_refused_interval "500ms": from 1s to 1h/ ],
        [ 'token_refused_interval 2h;',
          qr/invalid token_refused_interval "2h": from 1s to 1h/ ],
        [ 'token_refused_interval soon;',
          qr/invalid token_refused_interval "soon": from 1s to 1h/ ],
        [ 'token_refused_status 200;',
          qr/invalid token_refused_status "200": expected an HTTP status from 400 to 599/ ],
        [ 'token_refused_status 401 600;',
          qr/invalid token_refused_status "600"/ ],
        [ 'token_refused_status 40x;',
          qr/invalid token_refused_status "40x"/ ],
        [ 'token_refused_status 401 402 403 404 405 406 407 408 409;',
          qr/invalid number of arguments in "token_refused_status" directive of credential "c"/ ],
        [ 'token_refused_status 401; token_refused_status 403;',
          qr/"token_refused_status" directive is duplicate/ ],
    );

    for my $case (@bad) {
        my ($line, $re) = @$case;
        my $n = nginx_new(http => "credential c { $L $line }\n");
        my ($ok, $out) = $n->test_config;
        ok(!$ok, "nginx -t rejects: $line");
        like($out, qr/\[emerg\] .*$re.* in \S+nginx\.conf:\d+/,
             "the message says why, with the line: $line") or diag $out;
    }

    my $n = nginx_new(http => "credential c { $L token_refused_status 401 403;"
                              . " token_refused_interval 1h; }\n");
    my ($ok, $out) = $n->test_config;
    ok($ok, 'nginx -t accepts two codes and 1h') or diag $out;
}


# ------------------------------------------------ a fleet of two (Redis)

{
    my $ID = 'nilo-storm-client';
    my $SECRET = 'nilo-storm-secret';
    my $KEY = 'nilo-storm-key';
    my $PW = 'redis-storm-pw';

    my $redis = RedisServer->start(password => $PW);
    my $nilo = MockPartner->start(kind => 'nilo', client_id => $ID,
                                  client_secret => $SECRET, api_key => $KEY,
                                  token_lifetime => 3600);
    my $seal = join '', map { chr int rand 256 } 1 .. 32;
    my $loc = <<'LOC';
        location /deny/ { return 401; }
        location /refused/ {
            credential_inject nilo;
            proxy_pass http://127.0.0.1:$server_port/deny/;
        }
LOC

    my @g;
    for (1 .. 2) {
        my ($n, $port) = Fleet::gateway(redis => $redis, nilo => $nilo,
                                        id => $ID, secret => $SECRET,
                                        api_key => $KEY, seal_key => $seal,
                                        password => $PW, locations => $loc);
        $n->start($port);
        push @g, [$n, $port];
    }

    my @ports = map { $_->[1] } @g;
    my ($sa, $ta, $sb, $tb);
    ok($nilo->wait_for(sub {
        ($sa, $ta) = Fleet::api($ports[0]);
        ($sb, $tb) = Fleet::api($ports[1]);
        $sa == 200 && $sb == 200 && $ta eq $tb;
    }, 15), 'fleet: both gateways inject one token');

    my $logins = $nilo->logins;
    my $t0 = time;
    my ($refused, $other) = storm(ports => \@ports, path => '/refused/x',
                                  procs => 4, count => 10, gap => 0.4,
                                  other => '/api/orders');
    my $elapsed = time - $t0;

    is(scalar(grep { $_ != 401 } @$refused), 0,
       'fleet: the refusing path got the partner\'s 401s, on both');
    is(scalar(grep { $_ == 503 } @$other), 0, 'fleet: zero 503s elsewhere');
    is(scalar(grep { $_ != 200 } @$other), 0,
       'fleet: every other request got 200');

    my $renewals = $nilo->logins - $logins;
    my $bound = 1 + int($elapsed / 5);
    ok($renewals >= 1, 'fleet: a refusal renewed the token');
    ok($renewals <= $bound,
       "fleet: $renewals logins for the fleet in "
       . sprintf('%.1f', $elapsed) . " s (at most $bound)");
    is($nilo->count('api:401'), 0, 'fleet: no refused token elsewhere');

    ok($nilo->wait_for(sub {
        ($sa, $ta) = Fleet::api($ports[0]);
        ($sb, $tb) = Fleet::api($ports[1]);
        $sa == 200 && $sb == 200 && $ta eq $tb;
    }, 15), 'fleet: the gateways agree on the renewed token');

    $_->[0]->stop for @g;
}

done_testing;
