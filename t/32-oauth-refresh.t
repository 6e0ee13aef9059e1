#!/usr/bin/perl

# Refreshes (issue 12): without refresh_param, a refresh is RFC 6749
# section 6's (grant_type=refresh_token, the login's client_id and
# client_secret), so a standard token endpoint takes it; and a refresh
# token received in an answer whose access token is refused (here: expired
# by the gateway's clock) is kept and sent by the next refresh, not the
# rotated one the partner has revoked; with Redis, the fleet gets it too.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(strftime);
use EdgeAuthTest;
use MockPartner;
use RedisServer;

my $GET = "GET /api/x HTTP/1.1\nHost: localhost\nConnection: close\n\n";

sub gateway {
    my ($octo, $cred) = @_;
    my $url = $octo->url;
    my $port = free_port();
    $cred =~ s/%%URL%%/$url/g;
    my $n = nginx_new(http => <<"CONF");
    credential c {
$cred
        token_expires_at   expireDate;
        token_header       Authorization "Bearer {token}";
    }

    server {
        listen 127.0.0.1:$port;
        location / {
            credential_inject c;
            proxy_pass $url;
        }
    }
CONF
    $n->start($port);
    return ($n, $port);
}


# a standard token endpoint: the refresh needs grant_type=refresh_token and
# the client's credentials (the Octorate stand-in's token URL)

{
    my $octo = MockPartner->start(kind => 'octorate', client_id => 'oc',
                                  client_secret => 'os', token_lifetime => 2,
                                  refresh_token => 1,
                                  refresh_requires_client => 1);

    my ($n, $port) = gateway($octo, <<'CRED');
        login              %%URL%%/identity/apilogin;
        login_param        client_id oc;
        login_param        client_secret os;
        refresh            %%URL%%/identity/token;
        token_renew_before 1s;
        login_backoff      1s 1s;
CRED

    is(http_request($port, $GET)->{status}, 200, 'rfc: logged in');
    ok($octo->wait_for(sub { $octo->count('token:200') >= 1 }, 10),
       'rfc: the token endpoint renewed the token with the refresh token');
    is($octo->count('token:400') + $octo->count('token:401'), 0,
       'rfc: no refused refresh');
    is($octo->logins('login'), 1, 'rfc: no second login');
    my $rec = $octo->last_login('token');
    is_deeply([ map { $rec->{params}{$_} } qw(grant_type client_id client_secret) ],
              [ 'refresh_token', 'oc', 'os' ],
              'rfc: grant_type=refresh_token, client_id, client_secret');
    ok($rec->{params}{refresh_token}, 'rfc: the refresh token');
    $n->stop;
}


# a refresh_param line: the operator's form, no default added

{
    my $octo = MockPartner->start(kind => 'octorate', client_id => 'oc',
                                  client_secret => 'os', token_lifetime => 2,
                                  refresh_token => 1);

    my ($n, $port) = gateway($octo, <<'CRED');
        login              %%URL%%/identity/apilogin;
        login_param        client_id oc;
        login_param        client_secret os;
        refresh            %%URL%%/identity/refresh;
        refresh_param      scope all;
        token_renew_before 1s;
CRED

    is(http_request($port, $GET)->{status}, 200, 'own form: logged in');
    ok($octo->wait_for(sub { $octo->count('refresh:200') >= 1 }, 10),
       'own form: renewed');
    my $rec = $octo->last_login('refresh');
    is($rec->{params}{scope}, 'all', 'own form: the refresh_param');
    ok(!defined $rec->{params}{grant_type} && !defined $rec->{params}{client_id},
       'own form: nothing added');
    $n->stop;
}


# a rotated refresh token in an answer whose access token is refused

{
    my $octo = MockPartner->start(kind => 'octorate', client_id => 'oc',
                                  client_secret => 'os', token_lifetime => 3,
                                  refresh_token => 1, rotate_refresh => 1);

    my ($n, $port) = gateway($octo, <<'CRED');
        login              %%URL%%/identity/apilogin;
        login_param        client_id oc;
        login_param        client_secret os;
        refresh            %%URL%%/identity/refresh;
        refresh_param      client_id oc;
        refresh_param      client_secret os;
        token_renew_before 2s;
        login_backoff      1s 1s;
CRED

    is(http_request($port, $GET)->{status}, 200, 'rotation: logged in');

    my $past = strftime('%Y-%m-%dT%H:%M:%S.000Z', gmtime(time - 3600));
    $octo->set(for => 'refresh', fail_count => 1,
               content_type => 'application/json',
               body => qq({"access_token":"STALE-ACCESS","expireDate":"$past",)
                       . qq("refresh_token":"RT-ROTATED-1"}));

    ok($octo->wait_for(sub { $octo->count('refresh') >= 2 }, 15),
       'rotation: a refresh after the refused answer');
    my @rf = $octo->requests('refresh');
    my $first = $rf[0]{params}{refresh_token} // '';
    my $next = $rf[1]{params}{refresh_token} // '';
    isnt($first, 'RT-ROTATED-1', 'rotation: the first refresh sent the old one');
    is($next, 'RT-ROTATED-1',
       'rotation: the next refresh sends the refresh token of the refused answer');
    like($n->error_log, qr/credential "c": login to .* failed/,
         'rotation: the refused answer was logged');
    unlike($n->error_log, qr/\[(?:alert|crit|emerg)\]|exited on signal/,
           'no worker crashed');
    $n->stop;
}


# the same with a fleet: the kept refresh token goes to Redis, so another
# node's next refresh sends it (node A takes the refused answer and stops;
# node B, started afterwards, only knows what Redis tells it)

{
    my $octo = MockPartner->start(kind => 'octorate', client_id => 'oc',
                                  client_secret => 'os', token_lifetime => 8,
                                  refresh_token => 1, rotate_refresh => 1);
    my $redis = RedisServer->start;
    my $url = $octo->url;
    my $seal = join '', map { sprintf '%02x', int rand 256 } 1 .. 32;

    my $node = sub {
        my ($backoff) = @_;
        my $port = free_port();
        my $n = nginx_new(http => <<"CONF");
    credential_store zone=tokens:1m redis=${\ $redis->address }
                     redis_key=file:%%DIR%%/seal.key;

    credential c {
        login              $url/identity/apilogin;
        login_param        client_id oc;
        login_param        client_secret os;
        refresh            $url/identity/refresh;
        refresh_param      client_id oc;
        refresh_param      client_secret os;
        token_expires_at   expireDate;
        token_header       Authorization "Bearer {token}";
        token_renew_before 7s;
        login_backoff      $backoff $backoff;
    }

    server {
        listen 127.0.0.1:$port;
        location / {
            credential_inject c;
            proxy_pass $url;
        }
    }
CONF
        $n->write_file('seal.key', "$seal\n");
        $n->start($port);
        return ($n, $port);
    };

    my ($a, $port_a) = $node->('30s');
    is(http_request($port_a, $GET)->{status}, 200, 'fleet: A logged in');

    my $past = strftime('%Y-%m-%dT%H:%M:%S.000Z', gmtime(time - 3600));
    $octo->set(for => 'refresh', fail_count => 1,
               content_type => 'application/json',
               body => qq({"access_token":"STALE-ACCESS","expireDate":"$past",)
                       . qq("refresh_token":"RT-ROTATED-FLEET"}));

    ok($octo->wait_for(sub {
           $a->error_log =~ /credential "c": login to .* failed/
       }, 15), 'fleet: A got the refused answer');
    $a->stop;
    is($octo->count('refresh'), 1, 'fleet: A refreshed once');

    my ($b, $port_b) = $node->('1s');
    ok($octo->wait_for(sub { $octo->count('refresh') >= 2 }, 15),
       'fleet: B refreshes');
    my @rf = $octo->requests('refresh');
    is($rf[1]{params}{refresh_token} // '', 'RT-ROTATED-FLEET',
       'fleet: with the refresh token A kept, read from Redis');
    unlike($redis->cmd('KEYS', '*') ? join(' ', @{ $redis->cmd('KEYS', '*') }) : '',
           qr/RT-ROTATED/, 'fleet: no refresh token in a key name');
    $b->stop;
}

done_testing();
