#!/usr/bin/perl

# Redis over TLS: credential_store redis=tls://HOST:PORT against Debian's
# redis-server with "tls-port" and certificates made at test time.  Two
# gateways share one login through it; the chain and the host name are
# checked by default, and a wrong CA, a wrong name, a missing client
# certificate or a plaintext client on the TLS port is an outage: one
# clear line per node, each node logs in for itself and keeps serving.
# Also the TLS parameters at "nginx -t".
#
# t/51-redis-tls-refused.t is a link to this file: under that name it runs
# the refusals, under this one the rest, so that prove runs both halves at
# once (each starts its own Redis and stand-in).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use POSIX ();
use EdgeAuthTest;
use MockPartner;
use RedisServer;
use TestServer;
use Fleet;

my $REFUSED = $0 =~ /-refused\.t$/;

my $ID = 'nilo-tls-client-49';
my $SECRET = 'nilo-tls-secret-Kd4-never-logged';
my $KEY = 'nilo-tls-api-key-Pq2';
my $REDIS_PW = 'redis-tls-pw-Vb7-never-logged';

my $dir = tempdir('edge-auth-redis-tls-XXXXXX', TMPDIR => 1, CLEANUP => 1);
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

sub spew {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $text;
    close $fh;
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or die "$path: $!";
    local $/;
    return scalar <$fh>;
}

# a client certificate for the gateways, signed by the test CA
spew("$dir/client.ext", "basicConstraints=CA:FALSE\n"
    . "keyUsage=critical,digitalSignature\n"
    . "extendedKeyUsage=clientAuth\n");
openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
        '-nodes', '-keyout', "$dir/client.key", '-out', "$dir/client.csr",
        '-subj', '/CN=gateway-client');
openssl('x509', '-req', '-in', "$dir/client.csr", '-CA', $certs->{ca},
        '-CAkey', $certs->{ca_key}, '-CAcreateserial',
        '-out', "$dir/client.crt", '-days', 30,
        '-extfile', "$dir/client.ext");
chmod 0600, "$dir/client.key";
my $client_key = slurp("$dir/client.key");

my $nilo = MockPartner->start(kind => 'nilo', client_id => $ID,
                              client_secret => $SECRET, api_key => $KEY,
                              token_lifetime => 3600);
my $seal_key = join '', map { chr int rand 256 } 1 .. 32;

my $tls = { cert => $certs->{cert}, key => $certs->{key},
            ca => $certs->{ca} };
my $redis = RedisServer->start(password => $REDIS_PW, tls => $tls);

sub gateway {
    my (%o) = @_;
    my $r = delete $o{redis} // $redis;
    return Fleet::gateway(redis => $r, nilo => $nilo, id => $ID,
        secret => $SECRET, api_key => $KEY, seal_key => $seal_key,
        password => $REDIS_PW,
        address => 'tls://localhost:' . $r->port,
        store => "redis_ssl_trusted_certificate=$certs->{ca}", %o);
}

sub api { Fleet::api(@_) }

sub wait_ok {
    my ($port, $secs) = @_;
    my ($st, $tok);
    $nilo->wait_for(sub { ($st, $tok) = api($port); $st == 200 },
                    $secs // 10);
    return ($st, $tok);
}

sub count {
    my ($n, $re) = @_;
    my $log = $n->error_log;
    return scalar(() = $log =~ /$re/g);
}

# the outage line of a node: one, at "error", naming the reason
sub refused {
    my ($name, $address, $reason, %o) = @_;

    $redis->cmd('FLUSHALL');
    $nilo->reset_counters;

    my ($a, $port_a) = gateway(%o);
    my ($b, $port_b) = gateway(%o);
    $a->start($port_a);
    $b->start($port_b);

    my $line = qr/\[error\].*redis \Q$address\E: $reason; tokens stay in shared memory and each node logs in for itself/;

    my ($st_a) = wait_ok($port_a);
    my ($st_b) = wait_ok($port_b);
    is($st_a, 200, "$name: node A serves with its own login");
    is($st_b, 200, "$name: node B serves with its own login");
    is($nilo->logins, 2, "$name: each node logged in for itself");

    for my $n ([A => $a], [B => $b]) {
        my ($nn, $node) = @$n;
        ok($nilo->wait_for(sub { count($node, $line) >= 1 }, 10),
           "$name: node $nn says why in one line")
            or diag $node->error_log;
        # a few more calls and ticks: still the one line
        api($nn eq 'A' ? $port_a : $port_b) for 1 .. 3;
        $nilo->wait_for(sub { 0 }, 1.2);
        is(count($node, qr/\[error\].*redis /), 1,
           "$name: node $nn: one error line for the outage");
        unlike($node->error_log, qr/\[(?:crit|alert|emerg)\]/,
               "$name: node $nn: nothing louder");
        unlike($node->error_log,
               qr/\Q$REDIS_PW\E|\Q$SECRET\E|PRIVATE KEY/,
               "$name: node $nn: no secret in the log");
    }

    is(scalar @{ $redis->cmd('KEYS', 'nginx:credential:token:*') }, 0,
       "$name: nothing was stored in Redis");

    $a->stop;
    $b->stop;
}


# ---------------------------------------------------------------- nginx -t

unless ($REFUSED) {
    my $base = "credential x { header a b; }\n"
             . "server { listen 127.0.0.1:1; location / { "
             . "credential_inject x; } }\n";
    my $store = "credential_store zone=t:1m redis_key=file:%%DIR%%/good.key";
    my @bad = (
        [ 'TLS parameters without TLS',
          "$store redis=127.0.0.1:6380 "
          . "redis_ssl_trusted_certificate=$certs->{ca};",
          qr/"redis_ssl_trusted_certificate=" needs TLS: "redis=tls:\/\/HOST:PORT" or "redis_ssl=on".*nginx\.conf:\d+/ ],
        [ 'redis_ssl_verify without TLS',
          "$store redis=127.0.0.1:6380 redis_ssl_verify=off;",
          qr/"redis_ssl_verify=" needs TLS.*nginx\.conf:\d+/ ],
        [ 'tls:// and redis_ssl=off',
          "$store redis=tls://127.0.0.1:6380 redis_ssl=off;",
          qr/contradict each other.*nginx\.conf:\d+/ ],
        [ 'TLS on a unix socket',
          "$store redis=unix:%%DIR%%/r.sock redis_ssl=on;",
          qr/Redis speaks TLS on a TCP port only.*nginx\.conf:\d+/ ],
        [ 'a bad redis_ssl value',
          "$store redis=127.0.0.1:6380 redis_ssl=yes;",
          qr/"redis_ssl" takes "on" or "off", not "yes".*nginx\.conf:\d+/ ],
        [ 'an unreadable trusted certificate',
          "$store redis=tls://127.0.0.1:6380 "
          . "redis_ssl_trusted_certificate=%%DIR%%/none.crt;",
          qr/cannot read redis_ssl_trusted_certificate "[^"]*none\.crt".*nginx\.conf:\d+/ ],
        [ 'a certificate without its key',
          "$store redis=tls://127.0.0.1:6380 "
          . "redis_ssl_certificate=$dir/client.crt;",
          qr/"redis_ssl_certificate=" and "redis_ssl_certificate_key=" go together.*nginx\.conf:\d+/ ],
        [ 'an unreadable certificate',
          "$store redis=tls://127.0.0.1:6380 "
          . "redis_ssl_certificate=%%DIR%%/none.crt "
          . "redis_ssl_certificate_key=file:$dir/client.key;",
          qr/cannot load redis_ssl_certificate "[^"]*none\.crt".*nginx\.conf:\d+/ ],
        [ 'a key that does not match the certificate',
          "$store redis=tls://127.0.0.1:6380 "
          . "redis_ssl_certificate=$dir/client.crt "
          . "redis_ssl_certificate_key=file:$certs->{key};",
          qr/redis_ssl_certificate_key does not match the certificate.*nginx\.conf:\d+/ ],
        [ 'a key as a literal',
          "$store redis=tls://127.0.0.1:6380 "
          . "redis_ssl_certificate=$dir/client.crt "
          . "redis_ssl_certificate_key=notakey;",
          qr/redis_ssl_certificate_key.*nginx\.conf:\d+/ ],
        [ 'a missing key file',
          "$store redis=tls://127.0.0.1:6380 "
          . "redis_ssl_certificate=$dir/client.crt "
          . "redis_ssl_certificate_key=file:%%DIR%%/none.key;",
          qr/cannot open secret file.*nginx\.conf:\d+/ ],
    );

    my $key_body = join '', grep { !/^-----/ } split /^/, $client_key;
    my ($key_piece) = $key_body =~ /^(\S{16})/m;

    for my $case (@bad) {
        my ($name, $conf, $re) = @$case;
        my $n = nginx_new(http => "$conf\n$base");
        $n->write_file('good.key', ('ab' x 32) . "\n");
        my ($ok, $out) = $n->test_config;
        ok(!$ok, "nginx -t fails: $name");
        like($out, $re, "... and says why, where: $name");
        unlike($out, qr/PRIVATE KEY|\Q$key_piece\E/,
               "... and shows no key: $name");
    }

    my $n = nginx_new(env => { REDIS_CLIENT_KEY => $client_key },
        http => "$store redis=tls://localhost:6380 "
        . "redis_ssl_trusted_certificate=$certs->{ca} "
        . "redis_ssl_name=redis.internal redis_ssl_verify=on "
        . "redis_ssl_certificate=$dir/client.crt "
        . "redis_ssl_certificate_key=env:REDIS_CLIENT_KEY;\n$base");
    $n->write_file('good.key', ('ab' x 32) . "\n");
    my ($ok, $out) = $n->test_config;
    ok($ok, 'every TLS parameter together is accepted') or diag $out;

    $n = nginx_new(http => "$store redis=127.0.0.1:6380 redis_ssl=on;\n$base");
    $n->write_file('good.key', ('ab' x 32) . "\n");
    ($ok, $out) = $n->test_config;
    ok($ok, 'redis_ssl=on with the system store is accepted') or diag $out;
}


# ------------------------------------------------- the fleet, over TLS

unless ($REFUSED) {
    my ($a, $port_a) = gateway();
    my ($b, $port_b) = gateway(address => 'tls://127.0.0.1:' . $redis->port);

    $a->start($port_a);
    ok($nilo->wait_logins(1, 10), 'gateway A logged in at start-up');

    my ($st, $tok_a) = wait_ok($port_a);
    is($st, 200, 'A injects its token');

    my $keys = $redis->cmd('KEYS', 'nginx:credential:token:*');
    is(scalar @$keys, 1, 'A stored the token in Redis, over TLS');
    my $value = @$keys ? $redis->cmd('GET', $keys->[0]) : '';
    ok(length $value > length $tok_a, '... a value');
    unlike($value, qr/\Q$tok_a\E/, '... sealed, not the token in clear');

    # B names Redis by its address: the certificate lists 127.0.0.1 too
    $b->start($port_b);
    my $tok_b;
    ($st, $tok_b) = wait_ok($port_b);
    is($st, 200, 'B injects a token');
    is($tok_b, $tok_a, 'B took the token A stored, through TLS Redis');
    is($nilo->logins, 1, 'one login for the two gateways');

    for my $n ([A => $a], [B => $b]) {
        unlike($n->[1]->error_log, qr/\[(?:error|crit|alert)\]/,
               "node $n->[0]: no error") or diag $n->[1]->error_log;
    }

    # Redis restarts (empty): the nodes reconnect, handshake and all,
    # and say so once
    $redis->stop;
    $redis->start_again;
    $nilo->reset_counters;
    $nilo->expire_tokens;
    ($st) = api($port_a);
    ok($nilo->wait_for(sub {
           scalar @{ $redis->cmd('KEYS', 'nginx:credential:token:*') } },
           15),
       'after a Redis restart a new token is stored again, over TLS');

    $a->stop;
    $b->stop;
}


# ------------------------------------------------- refused, node alone

if ($REFUSED) {
    my $addr = 'tls://localhost:' . $redis->port;

    refused('a wrong CA', $addr,
            qr/certificate verify failed: (?:unable to get local issuer certificate|self-signed certificate in certificate chain|unable to verify the first certificate)/,
            store => "redis_ssl_trusted_certificate=$certs->{other_ca}");

    refused('a wrong host name (redis_ssl_name)', $addr,
            qr/the certificate does not name "wrong\.example"/,
            store => "redis_ssl_trusted_certificate=$certs->{ca} "
                     . "redis_ssl_name=wrong.example");

    # the system store does not know the test CA
    refused('the system store', $addr,
            qr/certificate verify failed: [^;]+/, store => '');

    # redis_ssl_verify=off: no check (the documented risk), it works
    {
        $nilo->reset_counters;
        my ($a, $port_a) = gateway(store =>
            "redis_ssl_trusted_certificate=$certs->{other_ca} "
            . "redis_ssl_verify=off");
        $a->start($port_a);
        my ($st) = wait_ok($port_a);
        is($st, 200, 'redis_ssl_verify=off: the gateway works');
        ok($nilo->wait_for(sub {
               scalar @{ $redis->cmd('KEYS', 'nginx:credential:token:*') } }, 10),
           'redis_ssl_verify=off: the token is stored in Redis');
        unlike($a->error_log, qr/\[error\].*redis/,
               'redis_ssl_verify=off: no outage');
        $a->stop;
        $redis->cmd('FLUSHALL');
    }

    # a plaintext client on the TLS port
    refused('plaintext to a TLS port', '127.0.0.1:' . $redis->port,
            qr/Redis closed the connection before answering \(if that port speaks TLS, the address needs "tls:\/\/"\)|the answer could not be read before answering \(if that port speaks TLS, the address needs "tls:\/\/"\)/,
            address => '127.0.0.1:' . $redis->port, store => '');

    # TLS to a plaintext port, and to no Redis at all
    {
        my $plain = RedisServer->start(password => $REDIS_PW);
        refused('TLS to a plaintext port', 'tls://localhost:' . $plain->port,
                qr/the TLS handshake (?:failed: [^;]*(?:wrong version number|packet length too long|record layer failure)[^;]*|timed out \(no TLS answer: a port without TLS\?\))/,
                address => 'tls://localhost:' . $plain->port);
        $plain->stop;

        my $none = EdgeAuthTest::free_port();
        refused('TLS to a closed port', "tls://localhost:$none",
                qr/connect\(\) failed/, address => "tls://localhost:$none");
    }
}

$redis->stop;


# ------------------------------------- Redis wants a client certificate

unless ($REFUSED) {
    my $mtls = RedisServer->start(password => $REDIS_PW,
        tls => { %$tls, auth_clients => 1,
                 client_cert => "$dir/client.crt",
                 client_key => "$dir/client.key" });
    $redis = $mtls;

    refused('no client certificate', 'tls://localhost:' . $mtls->port,
            qr/(?:the TLS handshake failed|Redis closed the connection|the answer could not be read|the command could not be sent): Redis asked for a client certificate and none is configured \(redis_ssl_certificate=\)/,
            redis => $mtls);

    {
        $nilo->reset_counters;
        my %o = (redis => $mtls, env => { REDIS_CLIENT_KEY => $client_key },
                 store => "redis_ssl_trusted_certificate=$certs->{ca} "
                          . "redis_ssl_certificate=$dir/client.crt "
                          . "redis_ssl_certificate_key=env:REDIS_CLIENT_KEY");
        my ($a, $port_a) = gateway(%o);
        my ($b, $port_b) = gateway(%o);
        $a->start($port_a);
        my ($st, $tok_a) = wait_ok($port_a);
        is($st, 200, 'with a client certificate (key from env:): A works');
        ok($nilo->wait_for(sub {
               scalar @{ $mtls->cmd('KEYS', 'nginx:credential:token:*') } }, 10),
           '... and stored its token in Redis');
        $b->start($port_b);
        my $tok_b;
        ($st, $tok_b) = wait_ok($port_b);
        is($tok_b, $tok_a, '... B took it');
        is($nilo->logins, 1, '... one login for both');
        for my $n ($a, $b) {
            unlike($n->error_log, qr/\[(?:error|crit|alert)\]|PRIVATE KEY/,
                   'no error, no key in the log') or diag $n->error_log;
        }
        $a->stop;
        $b->stop;
    }

    $mtls->stop;
}

$redis->stop;

done_testing;
