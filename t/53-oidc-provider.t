#!/usr/bin/perl

# login_client_assertion against a real OAuth 2 server: oidc-provider
# (panva/node-oidc-provider, npm; t/lib/oidc/provider.js), the
# client_credentials grant, three clients registered with
# token_endpoint_auth_method client_secret_jwt (HS256) and
# private_key_jwt (RS256, ES256; public keys as JWKs with a kid):
#
# - each credential logs in with its assertion, the provider issues an
#   access token to that client, and the gateway's requests reach a
#   protected route that finds the token in the provider and answers with
#   the client it was issued to;
# - with tokens of 3 s the gateway logs in again and again: the provider's
#   replay detection (one use per jti) accepts every new assertion;
# - a wrong HS256 secret, a wrong RSA key under the right kid, and an
#   assertion for another audience (the login URL under another path) are
#   refused by the provider (401 invalid_client, its reason in its log):
#   the gateway logs the refused login and answers 503 in JSON.
#
# make test installs node and npm (Makefile DEBS) and the provider
# (npm ci in t/lib/oidc); a missing one is a failure, not a skip.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep time);
use EdgeAuthTest;

my $OIDC = "$FindBin::Bin/lib/oidc";
my $NODE = $ENV{NODE} // 'node';
my $JSON = JSON::PP->new->utf8->canonical;
my $HS_SECRET = 'hs-Secret-0123456789-abcdefghijklmnopqrstuvwxyz';

BAIL_OUT("node is needed: install nodejs and npm (make deps)")
    unless system("$NODE -e 0 >/dev/null 2>&1") == 0;
BAIL_OUT("oidc-provider is not installed in $OIDC/node_modules: "
         . "make oidc-deps (make test runs it)")
    unless -f "$OIDC/node_modules/oidc-provider/package.json";

my $dir = tempdir('oidc-provider-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;

sub openssl {
    my (@args) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        { exec 'openssl', @args }
        POSIX::_exit(127);
    }
    waitpid($pid, 0);
    die "openssl @args: failed\n" if $?;
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    return scalar <$fh>;
}

# keys made at test time; rsa-other is the wrong one
for my $spec (['rsa', 'RSA', 'rsa_keygen_bits:2048'],
              ['rsa-other', 'RSA', 'rsa_keygen_bits:2048'],
              ['ec', 'EC', 'ec_paramgen_curve:P-256']) {
    my ($name, $alg, $opt) = @$spec;
    openssl('genpkey', '-algorithm', $alg, '-pkeyopt', $opt,
            '-out', "$dir/$name.key");
    openssl('pkey', '-in', "$dir/$name.key", '-pubout',
            '-out', "$dir/$name.pub");
    chmod 0600, "$dir/$name.key";
}


# ------------------------------------------------------------ the provider

my $op_port = free_port();
my $op = "http://127.0.0.1:$op_port";
my $op_log = "$dir/provider.log";

open my $cf, '>', "$dir/provider.json" or die "$dir/provider.json: $!";
print $cf $JSON->encode({
    port => $op_port + 0,
    client_credentials_ttl => 3,
    clients => [
        { client_id => 'hs-client', method => 'client_secret_jwt',
          alg => 'HS256', secret => $HS_SECRET },
        { client_id => 'rs-client', method => 'private_key_jwt',
          alg => 'RS256', public_key => "$dir/rsa.pub", kid => 'rs-kid-1' },
        { client_id => 'es-client', method => 'private_key_jwt',
          alg => 'ES256', public_key => "$dir/ec.pub", kid => 'es-kid-1' },
    ] });
close $cf;

# its stdin is a pipe from this process: should the test die without its
# END block, node sees the end of its input and exits
pipe(my $op_in, my $op_keep) or die "pipe: $!";
my $op_pid = fork // die "fork: $!";
if ($op_pid == 0) {
    close $op_keep;
    open STDIN, '<&', $op_in or POSIX::_exit(127);
    open STDOUT, '>', $op_log or POSIX::_exit(127);
    open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
    chdir $OIDC or POSIX::_exit(127);
    { exec $NODE, 'provider.js', "$dir/provider.json" }
    POSIX::_exit(127);
}
close $op_in;

END {
    if ($op_pid) {
        kill 'TERM', $op_pid;
        my $until = time + 5;
        sleep 0.05 while waitpid($op_pid, POSIX::WNOHANG()) == 0
                         && time < $until;
        if (kill 0, $op_pid) {
            kill 'KILL', $op_pid;
            waitpid($op_pid, 0);
        }
    }
}

{
    # a limit, not a wait: node starts in about a second, but with 14 files
    # at once on two cores it took more than 15 s
    my $until = time + 60;
    sleep 0.05 until slurp($op_log) =~ /^listening$/m
                     || waitpid($op_pid, POSIX::WNOHANG()) != 0
                     || time > $until;
    if (slurp($op_log) !~ /^listening$/m) {
        diag slurp($op_log);
        BAIL_OUT('oidc-provider did not start (its output above)');
    }
}

# the provider's own discovery: the token endpoint the gateway logs in to,
# and the authentication methods it was registered with
{
    my $r = http_request($op_port, "GET /.well-known/openid-configuration "
                         . "HTTP/1.1\nHost: 127.0.0.1:$op_port\n"
                         . "Connection: close\n\n");
    my $d = eval { $JSON->decode($r->{body}) } // {};
    is($d->{token_endpoint}, "$op/token", 'the provider\'s token endpoint');
    my %m = map { $_ => 1 }
        @{ $d->{token_endpoint_auth_methods_supported} // [] };
    ok($m{client_secret_jwt} && $m{private_key_jwt},
       'it supports client_secret_jwt and private_key_jwt');
    ok(grep({ $_ eq 'client_credentials' }
            @{ $d->{grant_types_supported} // [] }),
       'and the client_credentials grant');
}


# ------------------------------------------------------------- the gateway

my %cred = (
    hs => { client => 'hs-client', assertion => 'hs256 env:HS_SECRET' },
    rs => { client => 'rs-client',
            assertion => "rs256 file:$dir/rsa.key rs-kid-1" },
    es => { client => 'es-client',
            assertion => 'es256 env:ES_KEY es-kid-1' },
    # the right client and kid, the wrong key
    hs_wrong_key => { client => 'hs-client', bad => 1,
                      assertion => 'hs256 ' . ('w' x 40) },
    rs_wrong_key => { client => 'rs-client', bad => 1,
                      assertion => "rs256 file:$dir/rsa-other.key rs-kid-1" },
    # the right key, the login URL under another path: aud is that URL
    es_wrong_aud => { client => 'es-client', bad => 1,
                      login => "$op/wrong-aud/token",
                      assertion => 'es256 env:ES_KEY es-kid-1' },
);

my $port = free_port();
my $http = '';
for my $c (sort keys %cred) {
    my $login = $cred{$c}{login} // "$op/token";
    $http .= <<"CONF";
    credential $c {
        login                  $login;
        login_param            grant_type client_credentials;
        login_param            client_id $cred{$c}{client};
        login_client_assertion $cred{$c}{assertion};
        token_renew_before     2s;
        login_backoff          500ms 2s;
        login_wait             2s;
        token_header           Authorization "Bearer {token}";
    }
CONF
}
$http .= "    server {\n        listen 127.0.0.1:$port;\n";
$http .= "        location /$_/ { credential_inject $_; "
       . "proxy_pass $op/api/$_/; }\n" for sort keys %cred;
$http .= "    }\n";

my $n = nginx_new(http => $http,
                  env => { HS_SECRET => $HS_SECRET,
                           ES_KEY => slurp("$dir/ec.key") });
$n->start($port);

sub get {
    my ($c) = @_;
    return http_request($port, "GET /$c/thing HTTP/1.1\nHost: x\n"
                               . "Connection: close\n\n");
}

# until a deadline shared by the calls, so that a broken module fails in
# seconds, not in a wait per request
my $until;

sub get_until {
    my ($c, $want) = @_;
    my $r = get($c);
    while ($r->{status} != $want && time < $until) {
        sleep 0.2;
        $r = get($c);
    }
    return $r;
}

sub grants {
    my ($client) = @_;
    my @l = slurp($op_log) =~ /^grant\.success: client \Q$client\E$/mg;
    return scalar @l;
}

$until = time + 10;
for my $c (qw(hs rs es)) {
    my $r = get_until($c, 200);
    is($r->{status}, 200, "$c: the provider accepted the assertion, the "
                          . 'token reached the protected route')
        or diag "$r->{status} $r->{body}";
    my $b = eval { $JSON->decode($r->{body}) } // {};
    is($b->{client_id}, $cred{$c}{client},
       "$c: the token was issued to $cred{$c}{client}");
    is($b->{path}, "/api/$c/thing", "$c: the request went through");
}

# tokens of 3 s renewed 2 s ahead: more logins, each a new assertion that
# the provider's replay detection accepts
{
    my $enough = sub { !grep { grants($cred{$_}{client}) < 3 } qw(hs rs es) };
    $until = time + 10;
    sleep 0.2 until $enough->() || time > $until;
    ok($enough->(), 'every credential logged in three times or more: each '
                    . 'assertion accepted once')
        or diag slurp($op_log);
    for my $c (qw(hs rs es)) {
        my $r = get_until($c, 200);
        my $b = eval { $JSON->decode($r->{body}) } // {};
        is($b->{client_id}, $cred{$c}{client},
           "$c: after renewals, a token of $cred{$c}{client}");
    }
}

# the refused ones
my %reason = (
    hs_wrong_key => 'signature verification failed',
    rs_wrong_key => 'signature verification failed',
    es_wrong_aud => 'audience (aud) must equal',
);
for my $c (sort keys %reason) {
    my $client = $cred{$c}{client};
    $until = time + 10;
    sleep 0.2 until $n->error_log =~ /credential "\Q$c\E": login to/
                    || time > $until;
    my $r = get($c);
    is($r->{status}, 503, "$c: no token, 503");
    like($r->{body}, qr/^\{"errorCode":"credential-unavailable",/,
         "$c: the module's JSON error");
    my $url = $cred{$c}{login} // "$op/token";
    my $failed = qr/\[error\].*credential "\Q$c\E": login to \Q$url\E/;
    my $why = qr/the endpoint refused the login, HTTP status 401;/;
    like($n->error_log, qr/$failed failed \(failure 1 in a row\): $why/,
         "$c: the refused login is logged with the provider's status");
    my $refused = qr/^grant\.error: client \Q$client\E: invalid_client: /m;
    like(slurp($op_log), qr/$refused.*\Q$reason{$c}\E/,
         "$c: the provider refused it: '$reason{$c}'");
}

$n->stop;

my $log = $n->error_log;
my @leaked = grep { index($log, $_) >= 0 }
    $HS_SECRET, grep { length >= 16 && !/-----/ }
                map { split /\n/, slurp("$dir/$_.key") } qw(rsa ec);
ok(!@leaked, 'no secret or key in the error log');

done_testing;
