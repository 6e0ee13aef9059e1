#!/usr/bin/perl

# Redis Cluster over TLS with a password: three masters speaking TLS only
# (clients and cluster bus), certificates made at test time.  Two gateways
# share one login; the second knows one seed and reaches the master owning
# the credential's slot, learned from the map, over TLS with its
# certificate checked.  A gateway that does not trust the CA logs in
# alone, said in one line.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use POSIX ();
use EdgeAuthTest;
use MockPartner;
use RedisCluster;
use TestServer;
use Fleet;

my $ID = 'nilo-cluster-tls-client-56';
my $SECRET = 'nilo-cluster-tls-secret-Pw3-never-logged';
my $KEY = 'nilo-cluster-tls-api-key-Hs8';
my $REDIS_PW = 'redis-cluster-tls-pw-Qe5-never-logged';

my $dir = tempdir('edge-auth-cluster-tls-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $certs = TestServer::make_certs("$dir/certs");

sub openssl {
    my (@args) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        { exec 'openssl', @args }
        POSIX::_exit(127);
    }
    waitpid $pid, 0;
    die "openssl @args: failed\n" if $?;
}

# the nodes' certificate for the cluster bus, where each is the other's
# client: signed by the test CA, for clientAuth
open my $fh, '>', "$dir/client.ext" or die "$dir/client.ext: $!";
print $fh "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
          . "extendedKeyUsage=clientAuth\n";
close $fh;
openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
        '-nodes', '-keyout', "$dir/client.key", '-out', "$dir/client.csr",
        '-subj', '/CN=redis-cluster-node');
openssl('x509', '-req', '-in', "$dir/client.csr", '-CA', $certs->{ca},
        '-CAkey', $certs->{ca_key}, '-CAcreateserial',
        '-out', "$dir/client.crt", '-days', 30,
        '-extfile', "$dir/client.ext");

my $cluster = RedisCluster->start(password => $REDIS_PW,
    tls => { cert => $certs->{cert}, key => $certs->{key},
             ca => $certs->{ca}, client_cert => "$dir/client.crt",
             client_key => "$dir/client.key" });
my $nilo = MockPartner->start(kind => 'nilo', client_id => $ID,
                              client_secret => $SECRET, api_key => $KEY,
                              token_lifetime => 3600);
my $seal_key = join '', map { chr int rand 256 } 1 .. 32;

sub gateway {
    my (%o) = @_;
    my $ca = delete $o{ca} // $certs->{ca};
    return Fleet::gateway(nilo => $nilo, id => $ID, secret => $SECRET,
        api_key => $KEY, seal_key => $seal_key, password => $REDIS_PW,
        store => "redis_ssl_trusted_certificate=$ca", %o);
}

sub wait_ok {
    my ($port) = @_;
    my ($st, $tok);
    $nilo->wait_for(sub { ($st, $tok) = Fleet::api($port); $st == 200 }, 10);
    return ($st, $tok);
}

my ($a, $port_a) = gateway(cluster => 'tls://' . $cluster->seeds);
my ($b, $port_b) = gateway(cluster => 'tls://'
                                      . $cluster->node(1)->address);

$a->start($port_a);
my ($st, $tok_a) = wait_ok($port_a);
is($st, 200, 'A injects its token');
$b->start($port_b);
my ($st_b, $tok_b) = wait_ok($port_b);
is($st_b, 200, 'B injects a token');
is($tok_b, $tok_a, 'B took the token A stored in the cluster');
is($nilo->logins, 1, 'one login for the fleet, over TLS');

my $by_node = $cluster->keys_by_node(qr/^nginx:credential:token:/);
my @all = map { @$_ } @$by_node;
is(scalar @all, 1, 'the cluster holds one token') or diag explain $by_node;
my $owner = $cluster->owner($cluster->slot($all[0] // ''));
is_deeply($by_node->[$owner], \@all, 'on the master owning its slot');
unlike($cluster->node($owner)->cmd('GET', $all[0] // ''),
       qr/\Q$tok_a\E|\Q$SECRET\E/, 'sealed, not in clear');

# a CA the cluster's certificates do not chain to: alone, one line

$nilo->reset_counters;
my ($c, $port_c) = gateway(cluster => 'tls://' . $cluster->seeds,
                           ca => $certs->{other_ca});
$c->start($port_c);
my ($st_c) = wait_ok($port_c);
is($st_c, 200, 'a gateway that trusts another CA serves with its own login');
is($nilo->logins, 1, '... it logged in for itself');
$nilo->wait_for(sub { $c->error_log =~ /\[error\].*tokens stay/ }, 5);
my $log = $c->error_log;
my @lines = $log =~ /\[error\].*tokens stay in shared memory/g;
is(scalar @lines, 1, '... and says so in one error line') or diag $log;
like($log, qr/certificate verify failed/, '... naming the reason');

for my $g ([A => $a], [B => $b], [C => $c]) {
    my $l = $g->[1]->error_log;
    unlike($l, qr/\Q$REDIS_PW\E|\Q$SECRET\E|\Q$tok_a\E/,
           "$g->[0]: no password, secret or token in the log");
    unlike($l, qr/exited on signal|\[alert\]|\[crit\]/,
           "$g->[0]: no crash, no alert");
}

$a->stop;
$b->stop;
$c->stop;
$cluster->stop;

done_testing();
