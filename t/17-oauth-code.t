#!/usr/bin/perl

# The OAuth 2.0 authorization-code flow of Octorate (seed 003): an operator
# connects once in a browser (credential_connect, credential_callback), the
# gateway exchanges the code, keeps the refresh token and renews for ever.
# A cookie-carrying client plays the browser against a real nginx and the
# Octorate mock: the full flow, forged, foreign, expired and replayed
# states, a code exchanged twice, a token endpoint that fails or hangs, a
# browser that leaves during the exchange, rotation of the refresh token,
# reloads, and revocation (503 credential-needs-authorization, one error
# line, no retry loop, then a new connect step).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use IO::Socket::INET;
use IO::Select;
use EdgeAuthTest;
use MockPartner;
use OAuthBrowser;
use OAuthConf;

my $SECRET = 'octo-secret-7f3a91c2';
my $GET = "GET /api/x HTTP/1.1\nHost: localhost\nConnection: close\n\n";


# ------------------------------------------------------------ configuration

sub conf_error {
    my ($http) = @_;
    my $n = nginx_new(http => $http);
    my ($ok, $out) = $n->test_config;
    return $ok ? '' : $out;
}

like(conf_error(<<'CONF'), qr/needs "login URL".*"client_id".*"redirect_uri".*"refresh URL"/s,
    credential c {
        authorize    https://id.example/oauth.xhtml;
        login        https://127.0.0.1/identity/token;
        token_header Authorization "Bearer {token}";
    }
CONF
     'config: authorize without client_id, redirect_uri, refresh');

like(conf_error(<<'CONF'), qr/no "authorize URL"/,
    credential c {
        login        https://127.0.0.1/identity/token;
        client_id    x;
        token_header Authorization "Bearer {token}";
    }
CONF
     'config: client_id without authorize');

like(conf_error(<<'CONF'), qr/unknown credential "nope" in \S+nginx\.conf:\d+/,
    server {
        listen 127.0.0.1:1;
        location /c { credential_connect nope; }
    }
CONF
     'config: connect step of an undefined credential, with file and line');

like(conf_error(<<'CONF'), qr/credential "s" in \S+:\d+ has no "authorize": credential_callback needs/,
    credential s { header x-k v; }
    server {
        listen 127.0.0.1:1;
        location /c { credential_callback s; }
    }
CONF
     'config: callback of a credential without the flow');

like(conf_error(<<'CONF'), qr/state_key must be at least 16 bytes/,
    credential c {
        authorize    https://id.example/oauth.xhtml;
        state_key    short;
    }
CONF
     'config: a short state_key');


# ------------------------------------------------------------ the gateway

my $octo = MockPartner->start(kind => 'octorate', client_id => 'oc-id',
                              client_secret => $SECRET, token_lifetime => 4,
                              rotate_refresh => 1);
my $url = $octo->url;
my $port = free_port();
my $cb = "http://127.0.0.1:$port/octorate/callback";

my $n = nginx_new(workers => 2, http => octorate_credential(
        url => $url, client_id => 'oc-id', secret => $SECRET,
        redirect_uri => $cb,
        extra => ['state_lifetime     5s;', 'login_timeout      4s;',
                  'login_wait         2s;', 'token_renew_before 2s;'])
    . octorate_server(port => $port, url => $url, locations => <<'LOC')
        location = /secure/connect    { credential_connect  secure; }
LOC
    . <<"CONF");
    credential secure {
        authorize          $url/octobook/identity/oauth.xhtml?lang=en;
        authorize_param    response_type code;
        login              $url/rest/v1/identity/token;
        refresh            $url/rest/v1/identity/refresh;
        client_id          oc-id;
        client_secret      $SECRET;
        redirect_uri       https://gw.example/secure/callback?x=1;
        state_key          0123456789abcdef0123456789abcdef;
        token_header       Authorization "Bearer {token}";
    }
CONF

$n->start($port);

# not connected yet: no login at start-up, a JSON 503 that says why

my $r = http_request($port, $GET);
is($r->{status}, 503, 'before the connect step: 503');
like($r->{body}, qr/"errorCode":"credential-needs-authorization"/,
     'before the connect step: credential-needs-authorization');
is($octo->logins, 0, 'before the connect step: no login of any kind');
like($n->error_log,
     qr/\[warn\].*credential "octorate" has no token and no refresh token: run its connect step/,
     'before the connect step: the log says what to do');

# the connect step

my $s = connect_step($port);
is($s->{page}{status}, 200, 'connect: the GET shows a confirmation page');
is($s->{connect}{status}, 303, 'connect: its POST: 303');
like($s->{authorize}, qr{^\Q$url\E/octobook/identity/oauth\.xhtml\?client_id=oc-id&redirect_uri=\Q${\ uri_escape($cb)}\E&code_challenge=[A-Za-z0-9_-]{43}&code_challenge_method=S256&state=[A-Za-z0-9_-]{54}$},
     'connect: authorize URL with client_id, encoded redirect_uri, PKCE challenge, state');
my $sc = join "\n", @{ $s->{connect}{headers}{'set-cookie'} || [] };
like($sc, qr/^credential_state=[A-Za-z0-9_-]{22}; Path=\/octorate\/callback; Max-Age=5; HttpOnly; SameSite=Lax$/m,
     'connect: state cookie, HttpOnly, SameSite=Lax, callback path only');
unlike($sc, qr/Secure/, 'connect: not Secure for an http redirect_uri');
is($s->{connect}{headers}{'cache-control'}[0], 'no-store',
   'connect: not cached');
is($octo->count('authorize:302'), 1, 'authorize: the owner granted');
ok($s->{params}{code} && $s->{params}{state}, 'authorize: code and state');

$r = callback($port, $s);
is($r->{status}, 200, 'callback: 200');
like($r->{body}, qr/^Connected: credential "octorate" has an access token valid for \d+s and a refresh token/,
     'callback: the page says it worked');
like(join("\n", @{ $r->{headers}{'set-cookie'} }),
     qr/^credential_state=; Path=\/octorate\/callback; Max-Age=0/m,
     'callback: the state cookie is cleared');

my $ex = $octo->last_login('token');
is_deeply([ map { $ex->{params}{$_} } qw(grant_type client_id client_secret redirect_uri code) ],
          [ 'code', 'oc-id', $SECRET, $cb, $s->{params}{code} ],
          'exchange: form grant_type=code, client_id, client_secret, redirect_uri, code');
like($ex->{headers}{'content-type'}, qr{^application/x-www-form-urlencoded},
     'exchange: form-urlencoded');
is($octo->count('token:200'), 1, 'exchange: one');

$r = http_request($port, $GET);
is($r->{status}, 200, 'after the connect step: requests pass');
is($octo->last_api->{bearer}, $octo->last_token,
   'after the connect step: with the exchanged token');

# replayed, forged, foreign and missing states: refused before any exchange

$r = callback($port, $s);
is($r->{status}, 403, 'replayed callback: 403');
like($r->{body}, qr/already used/, 'replayed callback: says why');

my $s2 = connect_step($port);
(my $forged = $s2->{callback}) =~ s/state=([A-Za-z0-9_-])/'state=' . ($1 eq 'A' ? 'B' : 'A')/e;
$r = callback($port, $s2, path => (split_url($forged))[1]);
is($r->{status}, 403, 'forged state: 403');
like($r->{body}, qr/does not match this browser/, 'forged state: says why');

my $s3 = connect_step($port);
$r = callback($port, $s2, cookie => $s3->{cookie});
is($r->{status}, 403, "another browser's state: 403");

$r = callback($port, $s3, cookie => undef);
is($r->{status}, 403, 'no state cookie: 403');
like($r->{body}, qr/no state cookie/, 'no state cookie: says why');

(my $nostate = $s3->{callback}) =~ s/&state=[^&]*//;
$r = callback($port, $s3, path => (split_url($nostate))[1]);
is($r->{status}, 400, 'no state: 400');

my $head = http_request($port, "HEAD " . (split_url($s3->{callback}))[1]
    . " HTTP/1.1\nHost: 127.0.0.1\nCookie: $s3->{cookie}\n"
    . "Connection: close\n\n");
is($head->{status}, 405, 'HEAD on the callback: 405, the code unspent');

$r = get($port, '/octorate/callback?error=access_denied%3Cb%3E&state=x');
is($r->{status}, 400, 'the owner refused: 400');
like($r->{body}, qr/answered error="access_denied\?b\?"/,
     'the owner refused: its error code, sanitized');
is($octo->count('token'), 1, 'no exchange for any of them');

# an expired state (state_lifetime 5s)

my $s4 = connect_step($port);
sleep 5.3;
$r = callback($port, $s4);
is($r->{status}, 403, 'expired state: 403');
like($r->{body}, qr/expired/, 'expired state: says why');
is($octo->count('token'), 1, 'expired state: no exchange');

# a code exchanged twice: the second time, the partner refuses it

my $s5 = connect_step($port);
my $old_code = $s->{params}{code};
(my $twice = $s5->{callback}) =~ s/code=[^&]*/code=$old_code/;
$r = callback($port, $s5, path => (split_url($twice))[1]);
is($r->{status}, 502, 'a used code: 502');
like($r->{body}, qr/refused the code \(HTTP status 400, error "invalid_grant"\)/,
     'a used code: the page says exactly why');
$r = http_request($port, $GET);
is($r->{status}, 200, 'a used code: the token in use stays');

# renewal with the refresh token; rotated ones replace the old, fleet-wide

ok($octo->wait_for(sub { $octo->count('refresh:200') >= 2 }, 10),
   'refresh: renewed twice with rotated refresh tokens');
is($octo->count('refresh:400'), 0, 'refresh: never a burnt refresh token');
my $rec = $octo->last_login('refresh');
is($rec->{params}{client_id}, 'oc-id', 'refresh: client_id sent');
is($rec->{params}{client_secret}, $SECRET, 'refresh: client_secret sent');
$r = http_request($port, $GET);
is($r->{status}, 200, 'refresh: requests pass');
# the newest one may be on its way from the mock: a renewed one, then
my $bearer = $octo->last_api->{bearer};
isnt($bearer, $ex->{token}, 'refresh: a renewed token, not the first one');
ok($octo->token_valid($bearer), 'refresh: and a valid one');

# a reload keeps the tokens (same fingerprint): no connect step again

my $tokens = $octo->count('token');
ok(($n->reload)[0], 'reload: signalled');
sleep 1;
$r = http_request($port, $GET);
is($r->{status}, 200, 'reload: requests pass');
ok($octo->wait_for(sub { $octo->count('refresh:200') >= 4 }, 10),
   'reload: the refresh token still renews');
is($octo->count('token'), $tokens, 'reload: no new exchange');
is($octo->count('refresh:400'), 0, 'reload: still never a burnt refresh token');

# revocation: needs authorization, one error line, no loop

$octo->revoke_refresh_tokens;
ok($octo->wait_for(sub { $octo->count('refresh:400') >= 1 }, 10),
   'revoked: the refresh token is refused');
ok(wait_status(503), 'revoked: requests get 503');
$r = http_request($port, $GET);
like($r->{body}, qr/"errorCode":"credential-needs-authorization"/,
     'revoked: credential-needs-authorization');
my $refreshes = $octo->count('refresh');
sleep 3;
is($octo->count('refresh'), $refreshes, 'revoked: no retry loop');
is($octo->count('refresh:400'), 1, 'revoked: refused once');
my @lines = grep { /\[error\].*needs authorization: run its connect step/ }
    split /\n/, $n->error_log;
is(scalar @lines, 1, 'revoked: one error line says to connect again');

# connect again: back in business

$s = connect_step($port);
$r = callback($port, $s);
is($r->{status}, 200, 'connect again: 200');
$r = http_request($port, $GET);
is($r->{status}, 200, 'connect again: requests pass');

# a renewal in flight holds the login lock: the callback waits for it (up
# to login_wait), then exchanges; past login_wait it answers 503 without
# using its state, and reloading the page then connects

my $burnt = $octo->count('refresh:400');
$octo->set(for => 'refresh', delay_ms => 1200, fail_count => 1);
ok($octo->wait_for(sub { $octo->in_flight('refresh') > 0 }, 10),
   'busy: a renewal is in flight');
$s = connect_step($port);
$r = callback($port, $s, once => 1);
is($r->{status}, 200, 'busy: the callback waited for the renewal, then connected');

$octo->set(for => 'refresh', delay_ms => 3000, fail_count => 1);
ok($octo->wait_for(sub { $octo->in_flight('refresh') > 0 }, 10),
   'busy too long: a renewal is in flight');
$s = connect_step($port);
$r = callback($port, $s, once => 1);
is($r->{status}, 503, 'busy too long: 503 after login_wait');
like($r->{body}, qr/renewal of this credential is still in flight: reload this page/,
     'busy too long: and says to reload the page');
my $tries = 0;
do { sleep 0.2; $r = callback($port, $s, once => 1); $tries++ }
    while $r->{status} == 503 && $tries < 25;
is($r->{status}, 200, 'busy too long: reloading the page later connects');
is($octo->count('refresh:400'), $burnt, 'busy: no refresh token burnt');

# the token endpoint fails or hangs: the page says why, nothing hangs

$octo->set(for => 'token', status => 500, fail_count => 1);
$s = connect_step($port);
$r = callback($port, $s);
is($r->{status}, 502, 'token endpoint 500: 502');
like($r->{body}, qr/HTTP status 500/, 'token endpoint 500: says so');

$octo->set(for => 'token', hang => 1, fail_count => 1);
$s = connect_step($port);
$r = callback($port, $s);
is($r->{status}, 502, 'token endpoint hangs: 502 after login_timeout');
like($r->{body}, qr/timed out/i, 'token endpoint hangs: says so');

# the browser leaves during the exchange: the exchange still completes

$octo->set(for => 'token', delay_ms => 800, fail_count => 1);
$s = connect_step($port);
my $before = $octo->count('token:200');
for (1 .. 50) {
    my (undef, $path) = split_url($s->{callback});
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
        or die "connect: $!";
    print $c "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        . "Cookie: $s->{cookie}\r\nConnection: close\r\n\r\n";
    # an answer this soon is "a renewal is in flight": reload
    my $busy = IO::Select->new($c)->can_read(0.5);
    close $c;
    last unless $busy;
    sleep 0.1;
}
ok($octo->wait_for(sub { $octo->count('token:200') > $before }, 5),
   'browser left: the code was exchanged');
my $exchanged = $octo->last_login('token')->{token};
ok($octo->wait_for(sub {
       http_request($port, $GET)->{status} == 200
           && $octo->last_api->{bearer} eq $exchanged }, 5),
   'browser left: the exchanged token is in use')
    or diag("exchanged $exchanged, api " . $octo->last_api->{bearer}
            . ", last " . $octo->last_token . "\n"
            . join("\n", grep { /code|exchange|connected|prematurely|refresh/ }
                   split /\n/, $n->error_log));

# an https redirect_uri: a Secure cookie; extra authorize parameters

$r = confirm($port, '/secure/connect', connect_page($port, '/secure/connect'));
like(join("\n", @{ $r->{headers}{'set-cookie'} }),
     qr/^__Host-credential_state=\S+; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax; Secure$/m,
     'https redirect_uri: a __Host- cookie, Secure, Path=/');
like($r->{headers}{location}[0],
     qr{oauth\.xhtml\?lang=en&client_id=oc-id&redirect_uri=https%3A%2F%2Fgw\.example%2Fsecure%2Fcallback%3Fx%3D1&response_type=code&code_challenge=[A-Za-z0-9_-]{43}&code_challenge_method=S256&state=},
     'authorize_param and an authorize URL with a query');

# no secret, code, state or token in the logs

my $log = $n->error_log . $n->access_log;
my @secrets = ($SECRET, $old_code, $s->{params}{code}, $octo->last_token,
               $s->{params}{state}, ($s->{cookie} =~ /=(.*)/)[0]);
is(scalar(grep { index($log, $_) >= 0 } @secrets), 0,
   'logs: no secret, code, state, cookie or token');
unlike($n->error_log, qr/\[(?:alert|crit|emerg)\]|exited on signal/,
       'no worker crashed');

$n->stop;
done_testing;


sub uri_escape {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge;
    return $s;
}

sub wait_status {
    my ($want) = @_;
    for (1 .. 100) {
        return 1 if http_request($port, $GET)->{status} == $want;
        sleep 0.1;
    }
    return 0;
}
