#!/usr/bin/perl

# A reload whose configuration drops load_module.  The proxy module's
# proxy_pass, proxy_cache and proxy_cache_key handlers stay wrapped while
# the master reads the new configuration (the old cycle, which unwraps
# them, goes only after it): the wrapper must not record anything into a
# location configuration that the new cycle has no slot for.  It wrote
# through the module's stale ctx_index, past the new cycle's loc_conf
# array: the master crashed on reload, or its memory was silently broken.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use EdgeAuthTest;

plan skip_all => 'the module is built in (MODULE=none)'
    if ($ENV{MODULE} // '') eq 'none';

my $port = free_port();
my $up = free_port();
echo_server($up);

# many proxied locations, each with all three wrapped directives

my $locations = join '', map { <<"LOC" } 1 .. 24;
        location /l$_ {
            proxy_pass http://127.0.0.1:$up;
            proxy_cache off;
            proxy_cache_key \$scheme\$proxy_host\$request_uri;
        }
LOC

my $http = <<"CONF";
    server {
        listen 127.0.0.1:$port;
$locations
    }
CONF

my $n = nginx_new(http => $http);
$n->start($port);

my $master = $n->pid;
my $conf = $n->dir . '/nginx.conf';

sub started {
    my @s = $n->error_log =~ /$master#$master: start worker processes/g;
    return scalar @s;
}

# a master that dies leaves its workers behind: none may outlive the test

my %workers;

END {
    kill 'KILL', grep { kill 0, $_ } keys %workers;
}

my $text = do { local (@ARGV, $/) = $conf; <> };
$text =~ s/^load_module .*$//m or die 'no load_module to drop';

for my $reload (1, 2) {
    open my $fh, '>', $conf or die "$conf: $!";
    print $fh $text;
    close $fh;

    $workers{$_} = 1 for EdgeAuthTest::_children($master);

    my $before = started();
    my ($ok, $out) = $n->reload;
    ok($ok, "reload without the module $reload") or diag $out;

    for (1 .. 200) {
        last if started() > $before || !kill(0, $master);
        sleep 0.05;
    }

    ok(kill(0, $master), "reload $reload: the master lives");
    is(started(), $before + 1, "reload $reload: new workers started");

    my $r = http_request($port, "GET /l7 HTTP/1.0\nHost: x\n\n");
    is($r->{status}, 200, "reload $reload: proxied");
}

$n->stop;

done_testing();
