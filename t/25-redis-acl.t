#!/usr/bin/perl

# The Redis ACL that conf.examples/redis-fleet.conf documents is enough for
# the fleet: a real redis-server with exactly that user (read from the
# example, only the password replaced), two gateways logging in as it, and
# after a login the lease is released (its key is gone: the release script
# calls DEL, which the user must be allowed) with no "Redis refused" line.
#
# EDGE_AUTH_ACL='user gateway on ...' tests another ACL line instead (to
# see this test fail with a wrong one).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use EdgeAuthTest;
use MockPartner;
use RedisServer;
use Fleet;

my $ID = 'nilo-acl-client-7';
my $SECRET = 'nilo-acl-secret-Kp4-never-logged';
my $KEY = 'nilo-acl-api-key-Tq9';
my $ADMIN_PW = 'redis-admin-pw-Xy3';
my $GW_PW = 'redis-gateway-pw-Lm5';

# the documented ACL: "user gateway on ..." and its continuation lines

my $example = "$FindBin::Bin/../conf.examples/redis-fleet.conf";
open my $fh, '<', $example or die "$example: $!";
my ($acl, $more);

while (my $line = <$fh>) {
    $line =~ s/^#\s*//;
    $line =~ s/\s+\z//;

    if (!defined $acl && $line =~ /^user gateway on /) {
        $acl = '';
        $more = 1;
    }

    next unless $more;

    $more = $line =~ s/\s*\\\z//;
    $acl .= ($acl eq '' ? '' : ' ') . $line;
}

close $fh;

ok(defined $acl, 'redis-fleet.conf documents a "user gateway" ACL line')
    or BAIL_OUT('no ACL line in redis-fleet.conf');
like($acl, qr/>LONG-RANDOM-PASSWORD /, 'with the password placeholder');

$acl = $ENV{EDGE_AUTH_ACL} if $ENV{EDGE_AUTH_ACL};
$acl =~ s/LONG-RANDOM-PASSWORD/$GW_PW/;
$acl =~ s/\s+/ /g;
note "ACL: $acl";

my $redis = RedisServer->start(user => 'admin', password => $ADMIN_PW,
                               acl => [ $acl ]);

my $rules = $redis->cmd('ACL', 'GETUSER', 'gateway');
ok(ref $rules eq 'ARRAY', 'Redis knows the user "gateway"')
    or diag explain $rules;

my $nilo = MockPartner->start(kind => 'nilo', client_id => $ID,
                              client_secret => $SECRET, api_key => $KEY,
                              token_lifetime => 3600);

my $seal_key = join '', map { chr int rand 256 } 1 .. 32;

sub gateway {
    return Fleet::gateway(redis => $redis, nilo => $nilo, id => $ID,
                          secret => $SECRET, api_key => $KEY,
                          seal_key => $seal_key, user => 'gateway',
                          password => $GW_PW, @_);
}

sub wait_ok {
    my ($port) = @_;
    my ($st, $tok);
    $nilo->wait_for(sub { ($st, $tok) = Fleet::api($port); $st == 200 }, 10);
    return ($st, $tok);
}

sub keys_of {
    my ($kind) = @_;
    return [ grep { /^nginx:credential:\Q$kind\E:/ }
             @{ $redis->cmd('KEYS', '*') } ];
}

my ($a, $port_a) = gateway();
my ($b, $port_b) = gateway(hex => 1);

$a->start($port_a);
ok($nilo->wait_logins(1, 10), 'gateway A logged in at start-up');

my ($st, $tok_a) = wait_ok($port_a);
is($st, 200, 'A injects its token');

is(scalar @{ keys_of('token') }, 1, 'A stored its token in Redis (SET)');

# the release follows the store; give it a moment
my $leases;
for (1 .. 40) {
    $leases = keys_of('lease');
    last unless @$leases;
    sleep 0.05;
}
is(scalar @$leases, 0, 'the lease was released after the login (EVAL, DEL)')
    or diag explain $leases;

$b->start($port_b);
my $tok_b;
($st, $tok_b) = wait_ok($port_b);
is($st, 200, 'B injects a token');
is($tok_b, $tok_a, 'B took the token A stored (GET)');
is($nilo->logins, 1, 'one login for the fleet');

for my $n ($a, $b) {
    my $log = $n->error_log;
    unlike($log, qr/Redis refused/, 'no "Redis refused" in the error log')
        or diag join "\n", grep { /Redis/ } split /\n/, $log;
    unlike($log, qr/NOPERM|can't run this command/,
           'Redis raised no permission error');
}

$a->stop;
$b->stop;

done_testing();
