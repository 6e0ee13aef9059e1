#!/usr/bin/perl

# Client authentication at the login endpoint without a shared secret in
# the request:
#
# - login_client_assertion hs256|rs256|es256 (RFC 7523 2.2, OpenID
#   Connect client_secret_jwt and private_key_jwt): every login and every
#   refresh carries a fresh assertion, which PyJWT (python3-jwt, not the
#   module's code) verifies: signature, iss = sub = client_id, aud = the
#   URL it went to, a jti never seen before, exp - iat <= 60; the token
#   it got is the one injected; bad keys fail "nginx -t" at their line,
#   without the key's text.
# - login_ssl_certificate / login_ssl_certificate_key (RFC 8705
#   tls_client_auth): a login endpoint that requires a client certificate
#   refuses the login without one and gives the token with it, the key
#   read from env:; a key that is not the certificate's fails "nginx -t".

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use IPC::Open2;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use POSIX ();
use Time::HiRes qw(sleep time);
use EdgeAuthTest;
use TestServer;

my $PY = '/usr/bin/python3';
my $VERIFY = "$FindBin::Bin/lib/jwt_verify.py";
my $JSON = JSON::PP->new->utf8->canonical;
my $TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
my $HS_SECRET = 'hs-Secret-0123456789-abcdefghijklmnopqrstuvwxyz';

# make test installs them (Makefile DEBS); a verifier missing is a failure,
# not a reason to pass
BAIL_OUT('python3-jwt and python3-cryptography are needed (make deps)')
    unless system($PY, '-c', 'import importlib.util as u, sys; sys.exit('
                  . 'not (u.find_spec("jwt") and u.find_spec("cryptography")))')
           == 0;

my $dir = tempdir('client-auth-XXXXXX', TMPDIR => 1, CLEANUP => 1);
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
    open my $fh, '<', $path or die "$path: $!";
    local $/;
    return scalar <$fh>;
}

sub spew {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $text;
    close $fh;
    chmod 0600, $path;
    return $path;
}

# the lines of a PEM's base64 body: none may appear in nginx's output
sub key_lines {
    my ($pem) = @_;
    return grep { length >= 16 && !/-----/ } split /\n/, $pem;
}

# keys made at test time: the pairs used, and ones of the wrong kind
my %k;
for my $spec (['rsa', 'RSA', 'rsa_keygen_bits:2048'],
              ['rsa1024', 'RSA', 'rsa_keygen_bits:1024'],
              ['ec', 'EC', 'ec_paramgen_curve:P-256'],
              ['ec384', 'EC', 'ec_paramgen_curve:P-384']) {
    my ($name, $alg, $opt) = @$spec;
    openssl('genpkey', '-algorithm', $alg, '-pkeyopt', $opt,
            '-out', "$dir/$name.key");
    openssl('pkey', '-in', "$dir/$name.key", '-pubout',
            '-out', "$dir/$name.pub");
    chmod 0600, "$dir/$name.key";
    $k{$name} = "$dir/$name.key";
}
openssl('pkey', '-in', $k{rsa}, '-aes256', '-passout', 'pass:pw',
        '-out', "$dir/rsa-encrypted.key");
$k{encrypted} = "$dir/rsa-encrypted.key";
$k{junk} = spew("$dir/junk.key", "-----BEGIN PRIVATE KEY-----\n"
    . "JunkKeyMaterialThatMustNeverBePrinted0123456789abcdefABCDEF\n"
    . "-----END PRIVATE KEY-----\n");


# ------------------------------------------------------------- the stand-in

# A token endpoint per algorithm: POST /ALG/token (a login) and
# /ALG/refresh; every request's form is recorded with its path.  The
# first refresh of each is accepted, later ones are refused (400), so
# that the module logs in again.  Other paths are the API: they answer
# with the Authorization header they got.

sub form {
    my ($s) = @_;
    my %p;
    for (split /&/, $s // '') {
        my ($k, $v) = split /=/, $_, 2;
        for ($k, $v) {
            $_ //= '';
            tr/+/ /;
            s/%([0-9a-fA-F]{2})/chr hex $1/ge;
        }
        $p{$k} = $v;
    }
    return \%p;
}

sub stand_in {
    my (%o) = @_;
    my $sdir = tempdir('stand-in-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $state = TestServer::State->new($sdir,
        { requests => [], n => 0, refreshes => {}, tls_errors => 0 });

    my $srv = TestServer->start(
        name => 'client-auth stand-in',
        tls => $o{tls}, errors => "$sdir/errors.log",
        on_tls_error => sub {
            $state->txn(sub { $_[0]{tls_errors}++ });
        },
        handler => sub {
            my ($c, $conn) = @_;
            my $req = TestServer::read_request($c) or return;

            if ($req->{path} =~ m{^/(\w+)/(token|refresh)$}) {
                my ($alg, $ep) = ($1, $2);
                my $p = form($req->{body});
                my ($status, $body) = (200, undef);
                $state->txn(sub {
                    my ($st) = @_;
                    my $n = ++$st->{n};
                    push @{ $st->{requests} }, {
                        alg => $alg, ep => $ep, params => $p, time => time,
                        client_subject => $conn->{client_subject},
                        authorization => $req->{headers}{authorization} };
                    if ($ep eq 'refresh' && $st->{refreshes}{$alg}++) {
                        $status = 400;
                        $body = { error => 'invalid_grant' };
                    } else {
                        $body = { access_token => "at-$alg-$n",
                                  token_type => 'Bearer',
                                  expires_in => $o{expires_in} // 3600,
                                  refresh_token => "rt-$alg-$n" };
                    }
                });
                TestServer::respond($c, status => $status,
                    ctype => 'application/json',
                    body => $JSON->encode($body));
                return;
            }

            TestServer::respond($c, ctype => 'text/plain',
                body => 'auth=' . ($req->{headers}{authorization} // '-'));
        });

    return ($srv, $state);
}


# "nginx -t" on a credential block: (ok, output, line of "# here")
sub check {
    my ($block, %o) = @_;
    my $n = nginx_new(http => "    credential c {\n$block\n    }\n",
                      env => $o{env});
    my ($ok, $out) = $n->test_config;
    my @lines = split /\n/, slurp($n->dir . '/nginx.conf');
    my ($here) = grep { $lines[$_ - 1] =~ /# here/ } 1 .. @lines;
    return ($ok, $out, $here);
}

sub rejects {
    my ($name, $block, $re, %o) = @_;
    my ($ok, $out, $here) = check($block, %o);
    ok(!$ok, "nginx -t rejects: $name");
    my $at = defined $here ? $here : '\d+';
    like($out, qr/\[emerg\] $re in \S+\/nginx\.conf:$at$/m,
         "message, file:line: $name") or diag $out;
    my @leaked = grep { index($out, $_) >= 0 }
        map { key_lines(slurp($_)) } @{ $o{keys} // [] };
    ok(!@leaked, "no key text in the output: $name");
}


# ------------------------------------------------------------ JWT: nginx -t

my $BASE = "login http://127.0.0.1:9/token;\n"
    . "token_header Authorization \"Bearer {token}\";\n"
    . "login_param grant_type client_credentials;\n";
my $ID = "login_param client_id gw;\n";

rejects('not a PEM key', "$BASE$ID login_client_assertion rs256 "
        . "file:$k{junk}; # here", 'login_client_assertion key: not a PEM '
        . 'private key', keys => [$k{junk}]);
rejects('an RSA key for es256', "$BASE$ID login_client_assertion es256 "
        . "file:$k{rsa}; # here", 'login_client_assertion es256: the key is '
        . 'not an EC private key on the P-256 curve', keys => [$k{rsa}]);
rejects('a P-384 key for es256', "$BASE$ID login_client_assertion es256 "
        . "file:$k{ec384} k1; # here", 'login_client_assertion es256: the '
        . 'key is not an EC private key on the P-256 curve',
        keys => [$k{ec384}]);
rejects('an EC key for rs256', "$BASE$ID login_client_assertion rs256 "
        . "file:$k{ec}; # here", 'login_client_assertion rs256: the key is '
        . 'not an RSA private key', keys => [$k{ec}]);
rejects('a 1024-bit RSA key', "$BASE$ID login_client_assertion rs256 "
        . "file:$k{rsa1024}; # here", 'login_client_assertion rs256: the RSA '
        . 'key has 1024 bits, RS256 needs 2048 or more',
        keys => [$k{rsa1024}]);
rejects('an encrypted key, never a password prompt', "$BASE$ID "
        . "login_client_assertion rs256 file:$k{encrypted}; # here",
        'login_client_assertion key: the private key is encrypted; .*',
        keys => [$k{encrypted}]);
rejects('a key from an unset variable', "$BASE$ID login_client_assertion "
        . "es256 env:EDGE_AUTH_NO_SUCH_KEY; # here",
        'login_client_assertion key: environment variable '
        . '"EDGE_AUTH_NO_SUCH_KEY" is not set');
rejects('an unknown algorithm', "$BASE$ID login_client_assertion none "
        . "x; # here", 'invalid login_client_assertion algorithm "none": '
        . 'expected "hs256", "rs256" or "es256"');
rejects('an hs256 secret shorter than the hash', "$BASE$ID "
        . "login_client_assertion hs256 env:HS; # here",
        'login_client_assertion: an hs256 secret needs at least 32 bytes '
        . '\(RFC 7518\), this one has 31',
        env => { HS => 'short-secret-0123456789-abcdefg' });
rejects('twice', "$BASE$ID login_client_assertion hs256 $HS_SECRET;\n"
        . "login_client_assertion hs256 $HS_SECRET; # here",
        '"login_client_assertion" directive is duplicate');
rejects('one argument', "$BASE$ID login_client_assertion hs256; # here",
        'invalid number of arguments in "login_client_assertion" '
        . 'directive of credential "c"');
rejects('four arguments', "$BASE$ID login_client_assertion hs256 a b c;"
        . " # here", 'invalid number of arguments in '
        . '"login_client_assertion" directive of credential "c"');
rejects('no client_id', "$BASE login_client_assertion hs256 "
        . "env:HS;", 'login_client_assertion needs "login_param client_id '
        . 'ID": the assertion\'s issuer and subject',
        env => { HS => 'k' x 32 });
rejects('beside login_basic', "$BASE$ID login_basic gw s; "
        . "login_client_assertion hs256 env:HS;", 'login_client_assertion '
        . 'and login_basic are two client authentications: keep one',
        env => { HS => 'k' x 32 });
rejects('beside a client_secret', "$BASE$ID login_param client_secret s;"
        . " login_client_assertion hs256 env:HS;", 'login_client_assertion: '
        . '"login_param client_secret" is not sent beside an assertion',
        env => { HS => 'k' x 32 });
rejects('a JSON login body', "$BASE$ID login_body json; "
        . "login_client_assertion hs256 env:HS;", 'login_client_assertion '
        . 'needs "login_body form": the assertion is a form field',
        env => { HS => 'k' x 32 });

{
    my ($ok, $out) = check("$BASE$ID login_client_assertion ES256 "
                           . "env:ES kid-1;",
                           env => { ES => slurp($k{ec}) });
    ok($ok, 'nginx -t accepts an es256 key from env: (PEM with newlines)')
        or diag $out;
}


# ------------------------------------------------------- JWT: at run time

sub verify_all {
    my (@reqs) = @_;
    my $pid = open2(my $out, my $in, $PY, $VERIFY);
    my @res;
    for my $r (@reqs) {
        print $in $JSON->encode($r), "\n";
        $in->flush;
        my $line = <$out>;
        push @res, defined $line ? $JSON->decode($line)
                                 : { ok => 0, error => 'no answer' };
    }
    close $in;
    close $out;
    waitpid($pid, 0);
    return @res;
}

{
    my ($srv, $state) = stand_in(expires_in => 2);
    my $up = $srv->url;
    my $port = free_port();

    my %alg = (
        hs => { alg => 'HS256', key => $HS_SECRET,
                conf => 'hs256 env:JWT_HS_SECRET' },
        rs => { alg => 'RS256', key => "$dir/rsa.pub", kid => 'rs-kid-1',
                conf => "rs256 file:$k{rsa} rs-kid-1" },
        es => { alg => 'ES256', key => "$dir/ec.pub", kid => 'es-kid-1',
                conf => 'es256 env:JWT_ES_KEY es-kid-1' },
    );

    my $http = '';
    for my $a (sort keys %alg) {
        $http .= <<"CONF";
    credential $a {
        login                  $up/$a/token;
        login_param            grant_type client_credentials;
        login_param            client_id $a-client;
        login_client_assertion $alg{$a}{conf};
        refresh                $up/$a/refresh;
        token_renew_before     1s;
        login_backoff          100ms 1s;
        token_header           Authorization "Bearer {token}";
    }
CONF
    }
    # one location per credential
    $http .= "    server {\n        listen 127.0.0.1:$port;\n";
    $http .= "        location /$_/ { credential_inject $_; proxy_pass $up; }\n"
        for sort keys %alg;
    $http .= "    }\n";

    my $n = nginx_new(http => $http, log_level => 'debug',
                      env => { JWT_HS_SECRET => $HS_SECRET,
                               JWT_ES_KEY => slurp($k{ec}) });
    $n->start($port);

    # per credential: a login, an accepted refresh, a refused one, and a
    # second login
    my $enough = sub {
        my $reqs = $state->get->{requests};
        for my $a (keys %alg) {
            my @l = grep { $_->{alg} eq $a && $_->{ep} eq 'token' } @$reqs;
            my @r = grep { $_->{alg} eq $a && $_->{ep} eq 'refresh' } @$reqs;
            return 0 unless @l >= 2 && @r >= 2;
        }
        return 1;
    };
    my $until = time + 30;
    sleep 0.2 until $enough->() || time > $until;
    ok($enough->(), 'each credential logged in, refreshed, logged in again');

    my @reqs = @{ $state->get->{requests} };
    my @checks = map {
        my $r = $_;
        { token => $r->{params}{client_assertion} // '',
          alg => $alg{ $r->{alg} }{alg}, key => $alg{ $r->{alg} }{key},
          aud => "$up/$r->{alg}/$r->{ep}" }
    } @reqs;
    my @res = verify_all(@checks);

    my (%jti, %count);
    for my $i (0 .. $#reqs) {
        my ($r, $v) = ($reqs[$i], $res[$i]);
        my $a = $r->{alg};
        my $what = "$a $r->{ep} " . ++$count{"$a $r->{ep}"};
        my $p = $r->{params};

        is($p->{client_assertion_type}, $TYPE, "$what: client_assertion_type");
        is($p->{client_id}, "$a-client", "$what: client_id");
        ok(!exists $p->{client_secret} && !defined $r->{authorization},
           "$what: no secret and no Basic beside the assertion");
        is($p->{grant_type}, $r->{ep} eq 'token' ? 'client_credentials'
                                                  : 'refresh_token',
           "$what: grant_type");
        ok($v->{ok}, "$what: PyJWT verifies the assertion "
                     . "($alg{$a}{alg}, aud $checks[$i]{aud})")
            or diag $v->{error};
        next unless $v->{ok};

        my ($h, $c) = ($v->{header}, $v->{claims});
        is($h->{alg}, $alg{$a}{alg}, "$what: header alg");
        is($h->{kid}, $alg{$a}{kid}, "$what: header kid");
        is($c->{iss}, "$a-client", "$what: iss is the client_id");
        is($c->{sub}, "$a-client", "$what: sub is the client_id");
        is($c->{aud}, $checks[$i]{aud}, "$what: aud is the URL used");
        ok($c->{exp} > $c->{iat} && $c->{exp} - $c->{iat} <= 60,
           "$what: 0 < exp - iat <= 60");
        ok(abs($c->{iat} - $r->{time}) < 30, "$what: iat is the time sent");
        ok(length($c->{jti}) >= 16 && !$jti{ $c->{jti} }++,
           "$what: a jti never seen before");
    }

    # the verifier can say no: a wrong key, a wrong audience
    my ($hs) = grep { $_->{alg} eq 'HS256' } @checks;
    my ($es) = grep { $_->{alg} eq 'ES256' } @checks;
    my @bad = verify_all({ %$hs, key => 'another-secret' },
                         { %$es, key => "$dir/rsa.pub", alg => 'RS256' },
                         { %$es, aud => "$up/es/other" });
    ok(!$bad[0]{ok}, 'PyJWT refuses an HS256 assertion under another key');
    ok(!$bad[1]{ok}, 'PyJWT refuses an ES256 assertion taken for RS256');
    ok(!$bad[2]{ok}, 'PyJWT refuses an assertion for another audience');

    # the tokens the assertions got are the ones injected
    for my $a (sort keys %alg) {
        my $r = http_request($port, "GET /$a/api HTTP/1.1\nHost: x\n"
                                    . "Connection: close\n\n");
        like($r->{body}, qr/^auth=Bearer at-$a-\d+$/,
             "$a: the request carries the token the assertion got");
    }

    $n->stop;

    my $log = $n->error_log;
    like($log, qr/refused the refresh token with HTTP status 400/,
         'the refused refresh was logged (the log was read)');
    my @secrets = ($HS_SECRET, key_lines(slurp($k{ec})),
                   key_lines(slurp($k{rsa})),
                   map { $_->{params}{client_assertion} // () } @reqs);
    my @leaked = grep { index($log, $_) >= 0 } @secrets;
    ok(!@leaked, 'no secret, key or assertion in the debug log')
        or diag "leaked: @leaked";
    $srv->stop;
}


# ------------------------------------------------------ mTLS: nginx -t

my $certs = TestServer::make_certs("$dir/certs");

# the client's certificate, signed by the test CA for clientAuth
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

my $TLS = "login https://localhost:9/token;\n"
    . "token_header Authorization \"Bearer {token}\";\n"
    . "login_ssl_trusted_certificate $certs->{ca};\n";

rejects('a key that is not the certificate\'s', "$TLS "
        . "login_ssl_certificate $dir/client.crt;\n"
        . "login_ssl_certificate_key file:$k{ec}; # here\n",
        'login_ssl_certificate_key does not match the certificate '
        . '"\S+client.crt"', keys => [$k{ec}]);
rejects('login_ssl_certificate twice', "$TLS "
        . "login_ssl_certificate $dir/client.crt;\n"
        . "login_ssl_certificate $dir/client.crt; # here\n",
        '"login_ssl_certificate" directive is duplicate');
rejects('login_ssl_certificate_key twice', "$TLS "
        . "login_ssl_certificate_key file:$dir/client.key;\n"
        . "login_ssl_certificate_key file:$dir/client.key; # here\n",
        '"login_ssl_certificate_key" directive is duplicate',
        keys => ["$dir/client.key"]);
rejects('a certificate key that is not PEM', "$TLS "
        . "login_ssl_certificate $dir/client.crt;\n"
        . "login_ssl_certificate_key file:$k{junk}; # here\n",
        'login_ssl_certificate_key: not a PEM private key',
        keys => [$k{junk}]);
rejects('a certificate without its key', "$TLS "
        . "login_ssl_certificate $dir/client.crt;",
        'credential "c": "login_ssl_certificate" and '
        . '"login_ssl_certificate_key" go together');
rejects('a key without its certificate', "$TLS "
        . "login_ssl_certificate_key file:$dir/client.key;",
        'credential "c": "login_ssl_certificate" and '
        . '"login_ssl_certificate_key" go together',
        keys => ["$dir/client.key"]);
rejects('a certificate file that is missing', "$TLS "
        . "login_ssl_certificate $dir/none.crt;\n"
        . "login_ssl_certificate_key file:$dir/client.key;",
        'cannot load login_ssl_certificate "\S+none.crt": not a readable '
        . 'PEM certificate \(chain\)', keys => ["$dir/client.key"]);
rejects('a certificate for an http login', "login http://127.0.0.1:9/t;\n"
        . "token_header Authorization \"Bearer {token}\";\n"
        . "login_ssl_certificate $dir/client.crt;\n"
        . "login_ssl_certificate_key file:$dir/client.key;",
        'credential "c": "login_ssl_certificate" needs an https login or '
        . 'refresh URL', keys => ["$dir/client.key"]);


# ------------------------------------------------------ mTLS: at run time

sub mtls_gateway {
    my ($url, $extra, $env) = @_;
    my $port = free_port();
    my $n = nginx_new(env => $env, http => <<"CONF");
    credential mtls {
        login                         $url/mtls/token;
        login_param                   grant_type client_credentials;
        login_param                   client_id gw;
        login_ssl_trusted_certificate $certs->{ca};
        login_backoff                 200ms 1s;
        token_header                  Authorization "Bearer {token}";
        $extra
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            credential_inject mtls;
            proxy_pass $url;
            proxy_ssl_certificate     $dir/client.crt;
            proxy_ssl_certificate_key $dir/client.key;
        }
    }
CONF
    $n->start($port);
    return ($n, $port);
}

sub get_until {
    my ($port, $want) = @_;
    my $get = "GET /api HTTP/1.1\nHost: x\nConnection: close\n\n";
    my $r = http_request($port, $get);
    my $until = time + 20;
    while ($r->{status} != $want && time < $until) {
        sleep 0.3;
        $r = http_request($port, $get);
    }
    return $r;
}

{
    my ($srv, $state) = stand_in(tls => { cert => $certs->{cert},
                                          key => $certs->{key},
                                          client_ca => $certs->{ca} });
    my $url = 'https://localhost:' . $srv->port;

    # without a client certificate: no token
    my ($n, $port) = mtls_gateway($url, '');
    my $until = time + 20;
    sleep 0.2 until $state->get->{tls_errors} || time > $until;
    my $r = http_request($port, "GET /api HTTP/1.1\nHost: x\n"
                                . "Connection: close\n\n");
    is($r->{status}, 503, 'mTLS, no client certificate: 503');
    ok($state->get->{tls_errors} >= 1,
       'mTLS, no client certificate: the endpoint refused the handshake');
    is(scalar @{ $state->get->{requests} }, 0,
       'mTLS, no client certificate: no login request got through');
    $n->stop;
    like($n->error_log,
         qr/\[error\].*credential "mtls": login to https:\S+ failed/,
         'mTLS, no client certificate: the login failure is logged');
    like($n->error_log,
         qr/SSL_\w+\(\) failed .*alert (?:certificate required|handshake)/,
         'mTLS, no client certificate: the log says what TLS said');
    note $_ for grep { /alert|SSL|certificate/i } split /\n/, $n->error_log;

    # with it, the key from env:
    my $key = slurp("$dir/client.key");
    ($n, $port) = mtls_gateway($url, "login_ssl_certificate $dir/client.crt;"
                               . " login_ssl_certificate_key env:MTLS_KEY;",
                               { MTLS_KEY => $key });
    $r = get_until($port, 200);
    is($r->{status}, 200, 'mTLS, client certificate: the token is obtained');
    like($r->{body}, qr/^auth=Bearer at-mtls-\d+$/,
         'mTLS, client certificate: and injected');
    my ($login) = @{ $state->get->{requests} };
    like($login->{client_subject} // '', qr/CN\s*=\s*gateway-client/,
         'mTLS: the endpoint saw the gateway\'s certificate');
    $n->stop;

    my $log = $n->error_log;
    my @leaked = grep { index($log, $_) >= 0 } key_lines($key);
    ok(!@leaked, 'mTLS: no key text in the log');
    $srv->stop;
}

done_testing;
