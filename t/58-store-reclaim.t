#!/usr/bin/perl

# Entries of retired fingerprints are freed: reloads that rotate every
# client secret (each rotation a new fingerprint, so a new entry) keep
# working in a store zone that holds about two generations, once the
# workers of the older configurations have exited.  A reload that truly
# cannot fit is refused with one line that says so, and nginx goes on
# with the configuration it had.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use EdgeAuthTest;

my $port = free_port();
my $up = free_port();
echo_server($up);

# the login endpoint refuses connections: entries exist all the same
my $dead = free_port();

# a zone just large enough for 16 credentials with 1k tokens (nginx -t
# asks 86k for them, see "Sizing") holds their entries of a few
# generations, not of twenty
my $N = 16;

sub http {
    my ($round, $n) = @_;
    my $creds = join '', map { <<"CRED" } 1 .. $n;
    credential c$_ {
        login        http://127.0.0.1:$dead/login;
        login_max_size 1k;
        login_param  client_id c$_;
        login_param  client_secret secret-$_-rotated-$round;
        token_header Authorization "Bearer {token}";
    }
CRED

    return <<"CONF";
    credential_store zone=tokens:90k;
$creds
    credential round { header x-round $round; }

    server {
        listen 127.0.0.1:$port;
        location / {
            credential_inject round;
            proxy_pass http://127.0.0.1:$up;
        }
        location /t {
            credential_inject c1;
            proxy_pass http://127.0.0.1:$up;
        }
    }
CONF
}

sub round_seen {
    my $r = http_request($port, "GET / HTTP/1.1\nHost: x\n"
                                . "Connection: close\n\n");
    return ($r->{body} // '') =~ /x-round: (\d+)/i ? $1 : -1;
}

my $n = nginx_new(http => http(0, $N), log_level => 'notice');
$n->start($port);

my $master = $n->pid;
my @workers = EdgeAuthTest::_children($master);
is(round_seen(), 0, 'the first configuration is in use');

# a reload, then the old workers gone: (the new configuration is in use)

sub reload_to {
    my ($round, $count) = @_;

    my $refused = () = $n->error_log =~ /reload refused/g;

    $n->write_conf(http($round, $count), log_level => 'notice');
    my ($ok, $out) = $n->reload;
    return 0 unless $ok;

    my %old = map { $_ => 1 } @workers;
    my $seen = -1;

    for (1 .. 200) {
        $seen = round_seen();
        last if $seen == $round
                || (() = $n->error_log =~ /reload refused/g) > $refused;
        sleep 0.05;
    }

    return 0 if $seen != $round;

    for (1 .. 200) {
        last unless grep { kill 0, $_ } keys %old;
        sleep 0.05;
    }

    @workers = grep { !$old{$_} } EdgeAuthTest::_children($master);

    return 1;
}

my $reloads = 0;

for my $round (1 .. 20) {
    last unless reload_to($round, $N);
    $reloads++;
}

is($reloads, 20, "20 reloads rotating all $N secrets in a 90k zone "
                 . "($reloads took effect)");
my $log = $n->error_log;
ok($log !~ /is full|ngx_slab_alloc\(\) failed/, 'the zone never ran full')
    or diag join "\n", $log =~ /^(.*(?:is full|slab_alloc).*)$/mg;

# a configuration that cannot fit: refused, in one line naming the zone

ok(!reload_to(21, 100), 'a reload with 100 new credentials ...');
is(round_seen(), 20, '... leaves the previous configuration in use');

$log = $n->error_log;
# said by the configuration's size check, or by the zone when the entries
# of older generations still take the room
like($log, qr/\[emerg\].*(?:credential store zone "tokens" is full, \d+ bytes needed for \d+ new credentials; reload refused|credential_store zone "tokens" in \S+ is too small for 100 credentials)/,
     '... and says so in one line');
ok($log !~ /ngx_slab_alloc\(\) failed/, '... without the slab\'s own');

# still room for the next rotation of the 16

ok(reload_to(22, $N), 'the next rotation still fits');

ok($n->error_log !~ /\[alert\]|exited on signal/, 'no crash');

$n->stop;

done_testing();
