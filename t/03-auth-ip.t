#!/usr/bin/perl

# Inbound IP authentication: longest prefix wins whatever the order, no
# match is denied, IPv4, IPv6 and IPv4-mapped clients, include files, the
# JSON 403 and its log line, realip and forged X-Forwarded-For.
#
# Tests bind to loopback only, so other client addresses come through the
# realip module from a trusted header (X-Test-Client), exactly as they
# would behind a load balancer.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use EdgeAuthTest;

my $port = free_port();
my $up = free_port();
echo_server($up);

my $have_ipv6 = do {
    require IO::Socket::IP;
    my $s = IO::Socket::IP->new(LocalAddr => '::1', LocalPort => 0,
                                Listen => 1);
    $s ? 1 : 0;
};

my $listen6 = $have_ipv6 ? "listen [::1]:$port;" : '';

my $n = nginx_new(http => <<"CONF");
    auth_ip_list partners {
        # order does not matter: the longest prefix wins
        10.6.6.6 deny;
        10.0.0.0/8;
        10.6.0.0/16 deny;
        10.6.6.0/24;
        192.0.2.7;
        2001:db8::/32;
        2001:db8:bad::/48 deny;
        ::ffff:198.51.100.0/120;
        127.0.0.1;
        ::1;
        include %%DIR%%/more.list;
    }

    auth_ip_list nobody {
        203.0.113.1 deny;
    }

    auth_ip_list only10 {
        10.1.2.3;
    }

    server {
        listen 127.0.0.1:$port;
        $listen6

        # trusted only from loopback: stands in for a load balancer
        set_real_ip_from 127.0.0.1;
        set_real_ip_from ::1;
        real_ip_header X-Test-Client;

        auth_ip partners;

        location / {
            proxy_pass http://127.0.0.1:$up;
        }

        location /open/ {
            auth_ip off;
            proxy_pass http://127.0.0.1:$up;
        }

        location /nobody/ {
            auth_ip nobody;
            proxy_pass http://127.0.0.1:$up;
        }

        location /any/ {
            satisfy any;
            auth_basic "x";
            auth_basic_user_file %%DIR%%/htpasswd;
            proxy_pass http://127.0.0.1:$up;
        }

        location /custom/ {
            error_page 403 /custom-403;
            proxy_pass http://127.0.0.1:$up;
        }

        location = /custom-403 {
            auth_ip off;
            return 403 "custom page\\n";
        }
    }

    # no realip here: a forged X-Forwarded-For must change nothing
    server {
        listen 127.0.0.1:$port;
        server_name xff.example;
        auth_ip only10;

        location / {
            proxy_pass http://127.0.0.1:$up;
        }
    }

    # realip from X-Forwarded-For, trusting only 127.0.0.1
    server {
        listen 127.0.0.1:$port;
        server_name lb.example;
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Forwarded-For;
        real_ip_recursive on;
        auth_ip partners;

        location / {
            proxy_pass http://127.0.0.1:$up;
        }
    }
CONF

$n->write_file('more.list', "# a partner's ranges\n172.16.0.0/12;\n"
                            . "172.16.9.9 deny;\n", 0644);
# "user:password" with crypt(3) of "password"
$n->write_file('htpasswd', "user:" . crypt('password', 'ab') . "\n", 0644);
$n->start($port);

sub get {
    my (%a) = @_;
    my $req = "GET " . ($a{uri} || '/x') . " HTTP/1.1\n"
        . "Host: " . ($a{host} || 'localhost') . "\nConnection: close\n"
        . (defined $a{client} ? "X-Test-Client: $a{client}\n" : '')
        . join('', map { "$_\n" } @{ $a{headers} || [] }) . "\n";
    return http_request($port, $req, $a{peer});
}

sub allowed {
    my ($client, $name, %a) = @_;
    my $r = get(client => $client, %a);
    is($r->{status}, 200, "allowed: $name") or diag $r->{raw};
}

sub denied {
    my ($client, $name, %a) = @_;
    my $r = get(client => $client, %a);
    is($r->{status}, 403, "denied: $name") or diag $r->{raw};
    return $r;
}

allowed('10.1.2.3', '10.0.0.0/8');
denied('10.6.1.1', '10.6.0.0/16 deny inside 10.0.0.0/8');
allowed('10.6.6.1', '10.6.6.0/24 inside the denied /16');
denied('10.6.6.6', 'single address deny inside an allowed /24');
allowed('10.6.6.7', 'neighbour of the denied address');
allowed('10.255.255.255', 'last address of 10.0.0.0/8');
denied('11.0.0.0', 'first address after 10.0.0.0/8');
denied('9.255.255.255', 'last address before 10.0.0.0/8');
allowed('192.0.2.7', 'single address');
denied('192.0.2.8', 'next address');
denied('203.0.113.5', 'no entry matches');
allowed('172.20.1.1', 'entry from an include file');
denied('172.16.9.9', 'deny from an include file');

allowed('2001:db8::1', 'IPv6 /32');
allowed('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', 'last address of the /32');
denied('2001:db8:bad::1', 'IPv6 /48 deny inside the /32');
denied('2001:db9::1', 'IPv6 outside every entry');

allowed('::ffff:10.1.2.3', 'IPv4-mapped client matches the IPv4 entry');
denied('::ffff:10.6.6.6', 'IPv4-mapped client hits the IPv4 deny');
allowed('198.51.100.77', 'IPv4 client matches an IPv4-mapped list entry');
allowed('::ffff:198.51.100.1', 'mapped client and mapped entry');
denied('::ffff:198.51.101.1', 'mapped, outside the mapped entry');

# the JSON answer and the log line

my $r = denied('10.6.6.6', 'JSON body');
is($r->{headers}{'content-type'}[0], 'application/json', '403 is JSON');
like($r->{body}, qr/^\{"errorCode":"ip-not-allowed","errorMessage":"[^"]+","errors":\[\]\}\n$/,
     '403 body in the partners\' error style');
unlike($r->{body}, qr/partners|10\.6/, '403 body names no list and no entry');

$r = denied('203.0.113.9', 'for the log line');

# locations: off, another list, inheritance

allowed('203.0.113.9', 'auth_ip off', uri => '/open/x');
denied('10.1.2.3', 'another list at location level replaces the server one',
       uri => '/nobody/x');
denied('203.0.113.1', 'deny entry of the other list', uri => '/nobody/x');

# a gate, not a grant: satisfy any with valid basic auth stays denied

denied('203.0.113.9', 'satisfy any + valid auth_basic still denied',
       uri => '/any/x', headers => ['Authorization: Basic dXNlcjpwYXNzd29yZA==']);
allowed('10.1.2.3', 'allowed address still needs the other checks? no: '
        . 'satisfy any passes with auth_basic',
        uri => '/any/x', headers => ['Authorization: Basic dXNlcjpwYXNzd29yZA==']);
$r = get(client => '10.1.2.3', uri => '/any/x');
is($r->{status}, 401, 'allowed address without basic auth: 401 from auth_basic');

# an operator's error_page 403 wins over the JSON answer

$r = denied('203.0.113.9', 'with error_page 403', uri => '/custom/x');
is($r->{body}, "custom page\n", 'error_page 403 is used');

# X-Forwarded-For: forged without realip changes nothing

$r = get(host => 'xff.example', headers => ['X-Forwarded-For: 10.1.2.3',
                                           'X-Real-IP: 10.1.2.3']);
is($r->{status}, 403,
   'forged X-Forwarded-For / X-Real-IP of an allowed address: still denied');

# with realip trusting 127.0.0.1 only, the last untrusted hop counts

$r = get(host => 'lb.example', headers => ['X-Forwarded-For: 10.1.2.3']);
is($r->{status}, 200, 'X-Forwarded-For from a trusted proxy: used');
$r = get(host => 'lb.example',
         headers => ['X-Forwarded-For: 10.1.2.3, 203.0.113.9']);
is($r->{status}, 403, 'client-forged first hop does not help');

# direct connections

$r = get();
is($r->{status}, 200, 'direct 127.0.0.1 client');

SKIP: {
    skip 'no IPv6 loopback', 1 unless $have_ipv6;
    $r = get(peer => '::1');
    is($r->{status}, 200, 'direct [::1] client');
}

$n->stop;

my $log = $n->error_log;
like($log, qr/\[error\].*auth_ip: client 10\.6\.6\.6 denied by list "partners", entry "10\.6\.6\.6\/32 deny"/,
     'log line: client, list and the entry that matched');
like($log, qr/\[error\].*auth_ip: client 203\.0\.113\.9 denied by list "partners", no entry matches/,
     'log line: no entry matches');
like($log, qr/auth_ip: client 2001:db8:bad::1 denied by list "partners", entry "2001:db8:bad::\/48 deny"/,
     'log line: IPv6 entry');
like($log, qr/auth_ip: client 10\.6\.1\.1 denied by list "partners", entry "10\.6\.0\.0\/16 deny"/,
     'log line: the entry, not the client address, inside a wider deny');
like($log, qr/auth_ip: client ::ffff:10\.6\.6\.6 denied by list "partners", entry "10\.6\.6\.6\/32 deny"/,
     'log line: IPv4-mapped client, the IPv4 entry');

done_testing;
