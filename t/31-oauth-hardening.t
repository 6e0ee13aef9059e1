#!/usr/bin/perl

# The connect step against cross-site use (issue 12): the GET only shows a
# confirmation page whose button POSTs a token bound to a cookie; requests
# from another site or origin are refused; over HTTPS the cookies are
# "__Host-" cookies (Path=/, the callback finds them); a refused callback
# (an error only, a forged state) leaves the connect step in progress.
# PKCE (RFC 7636, S256): on by default, its verifier bound to the state
# cookie; a server that requires PKCE refuses a "pkce off" connect; a code
# bound to another challenge is refused at the exchange.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(sha256);
use MIME::Base64 qw(encode_base64url);
use EdgeAuthTest;
use MockPartner;
use OAuthBrowser;
use OAuthConf;

my $SECRET = 'octo-hardening-secret-71c2';

my $octo = MockPartner->start(kind => 'octorate', client_id => 'oc-id',
                              client_secret => $SECRET);
my $url = $octo->url;
my $port = free_port();
my $cb = "http://127.0.0.1:$port/octorate/callback";

# "secure": an https redirect_uri (TLS ends before nginx, as behind a
# balancer); "nopkce": pkce off
sub credential {
    my ($name, $redirect, @extra) = @_;
    my $c = octorate_credential(url => $url, client_id => 'oc-id',
                                secret => $SECRET, redirect_uri => $redirect,
                                extra => \@extra);
    $c =~ s/credential octorate/credential $name/;
    return $c;
}

my $locations = <<"L";
        location = /secure/connect   { credential_connect  secure; }
        location = /secure/callback  { credential_callback secure; }
        location = /nopkce/connect   { credential_connect  nopkce; }
        location = /nopkce/callback  { credential_callback nopkce; }
L

my $n = nginx_new(http => octorate_credential(url => $url, client_id => 'oc-id',
                                              secret => $SECRET,
                                              redirect_uri => $cb)
    . credential('secure', "https://127.0.0.1:$port/secure/callback")
    . credential('nopkce', "http://127.0.0.1:$port/nopkce/callback",
                 'pkce off;')
    . octorate_server(port => $port, url => $url, locations => $locations));

$n->start($port);


# one cross-site navigation no longer runs the flow

my $r = get($port, '/octorate/connect');
is($r->{status}, 200, 'GET connect: a page, not a redirect');
ok(!$r->{headers}{location}, 'GET connect: no Location');
like($r->{headers}{'content-type'}[0], qr{^text/html}, 'GET connect: HTML');
like($r->{body}, qr{<form method="post"><input type="hidden" name="csrf" value="[A-Za-z0-9_-]{54}">},
     'GET connect: a form that POSTs a token back');
unlike($r->{body}, qr{(?:src|href)=}i, 'GET connect: no external assets');
like($r->{headers}{'content-security-policy'}[0], qr/frame-ancestors 'none'/,
     'GET connect: not in a frame (CSP)');
is($r->{headers}{'x-frame-options'}[0], 'DENY', 'GET connect: X-Frame-Options');
like(join("\n", @{ $r->{headers}{'set-cookie'} || [] }),
     qr/^credential_connect=[A-Za-z0-9_-]{22}; Path=\/; Max-Age=600; HttpOnly; SameSite=Strict$/m,
     'GET connect: the page cookie, HttpOnly, SameSite=Strict');
unlike(join("\n", @{ $r->{headers}{'set-cookie'} || [] }), qr/credential_state/,
       'GET connect: no state yet');
is($octo->count('authorize:302'), 0, 'GET connect: the authorization server was not reached');

$r = http_request($port, "GET /octorate/connect HTTP/1.1\nHost: 127.0.0.1:$port\n"
                  . "Sec-Fetch-Site: cross-site\nConnection: close\n\n");
is($r->{status}, 403, 'GET connect from another site: 403');
like($r->{body}, qr/another site/, 'GET connect from another site: the page says why');

my $p = connect_page($port);
$r = confirm($port, '/octorate/connect', $p, Origin => 'https://evil.example',
             'Sec-Fetch-Site' => undef);
is($r->{status}, 403, 'POST from another origin: 403');
like($r->{body}, qr/another origin/, 'POST from another origin: why');
$r = confirm($port, '/octorate/connect', $p, Origin => 'null');
is($r->{status}, 403, 'POST with Origin: null: 403');
$r = confirm($port, '/octorate/connect', $p, 'Sec-Fetch-Site' => 'same-site',
             Origin => undef);
is($r->{status}, 403, 'POST from a sibling host (same-site): 403');
$r = confirm($port, '/octorate/connect', $p, 'Sec-Fetch-Site' => 'cross-site',
             Origin => undef);
is($r->{status}, 403, 'POST cross-site: 403');
$r = confirm($port, '/octorate/connect', { cookie => $p->{cookie} });
is($r->{status}, 403, 'POST without the token: 403');
$r = confirm($port, '/octorate/connect', { token => $p->{token} });
is($r->{status}, 403, 'POST without the cookie: 403');
like($r->{body}, qr/no cookie of the connect page/, 'POST without the cookie: why');
my $other = connect_page($port);
$r = confirm($port, '/octorate/connect', { token => $other->{token},
                                           cookie => $p->{cookie} });
is($r->{status}, 403, "POST with another page's token: 403");
$r = confirm($port, '/octorate/connect', { token => $p->{token},
                                           cookie => $p->{cookie} },
             Origin => undef, 'Sec-Fetch-Site' => undef);
is($r->{status}, 303, 'POST without Origin or Sec-Fetch-Site (an older browser), token and cookie: 303');
is($octo->count('authorize:302'), 0, 'nothing refused reached the authorization server');
like($n->error_log, qr/\[warn\].*credential "octorate": connect step refused: /,
     'a refused connect step: one warn line');


# a refused callback does not end a connect step in progress

my $s = connect_step($port);
ok($s->{params}{code}, 'the connect step reached the callback URL');
$r = get($port, '/octorate/callback?error=access_denied', $s->{cookie});
is($r->{status}, 400, 'a callback with only error=: 400');
unlike(join("\n", @{ $r->{headers}{'set-cookie'} || [] }), qr/credential_state/,
       'a callback with only error=: the state cookie stays');
$r = get($port, '/octorate/callback?code=forged&state=' . ('A' x 54), $s->{cookie});
is($r->{status}, 403, 'a forged state: 403');
unlike(join("\n", @{ $r->{headers}{'set-cookie'} || [] }), qr/credential_state/,
       'a forged state: the state cookie stays');
$r = callback($port, $s);
is($r->{status}, 200, 'the real callback still connects');
like(join("\n", @{ $r->{headers}{'set-cookie'} || [] }),
     qr/^credential_state=; Path=\/octorate\/callback; Max-Age=0/m,
     'the used state cookie is cleared');


# PKCE: a challenge on the redirect, its verifier in the exchange

my ($challenge) = $s->{authorize} =~ /[?&]code_challenge=([A-Za-z0-9_-]+)/;
like($s->{authorize}, qr/&code_challenge=[A-Za-z0-9_-]{43}&code_challenge_method=S256&/,
     'pkce: S256 challenge on the authorize redirect');
my $ex = $octo->last_login('token');
my $v = $ex->{params}{code_verifier} // '';
like($v, qr/^[A-Za-z0-9_-]{43,128}$/, 'pkce: a code_verifier in the exchange');
is(encode_base64url(sha256($v)), $challenge,
   'pkce: BASE64URL(SHA256(verifier)) is the challenge');
my $s2 = connect_step($port);
my ($challenge2) = $s2->{authorize} =~ /[?&]code_challenge=([A-Za-z0-9_-]+)/;
isnt($challenge2, $challenge, 'pkce: a fresh verifier per connect step');

# a code bound to another challenge (an injected code): refused
my $s3 = connect_step($port);
my (undef, $apath) = split_url($s2->{authorize});
$apath =~ s/code_challenge=[^&]+/code_challenge=$challenge/;
my $a = get((split_url($s2->{authorize}))[0], $apath);
my $inj = { %$s2, callback => $a->{headers}{location}[0] };
$r = callback($port, $inj);
is($r->{status}, 502, 'pkce: a code bound to another challenge is refused');
like($r->{body}, qr/invalid_grant/, 'pkce: the page says invalid_grant');

# a server that requires PKCE, and a credential with pkce off
$octo->set(require_pkce => 1);
my $np = connect_step($port, '/nopkce/connect');
unlike($np->{authorize}, qr/code_challenge/, 'pkce off: no challenge');
$r = callback($port, $np);
is($r->{status}, 400, 'pkce off, a server that requires it: refused');
like($r->{body}, qr/error="invalid_request"/, 'pkce off: the server said invalid_request');
$s = connect_step($port);
$r = callback($port, $s);
is($r->{status}, 200, 'pkce on, a server that requires it: connected');
$octo->set(require_pkce => 0);


# HTTPS: __Host- cookies, Path=/, and the callback finds them

$s = connect_step($port, '/secure/connect');
like(join("\n", @{ $s->{page}{headers}{'set-cookie'} || [] }),
     qr/^__Host-credential_connect=\S+; Path=\/; Max-Age=600; HttpOnly; SameSite=Strict; Secure$/m,
     'https: the page cookie is a __Host- cookie');
like($s->{cookie} // '', qr/^__Host-credential_state=/, 'https: a __Host- state cookie');
my $plain = $s->{cookie};
$plain =~ s/^__Host-//;
$r = callback($port, $s, cookie => $plain);
is($r->{status}, 403, 'https: a state cookie without __Host- (a sibling could set it) is not taken');
$r = callback($port, $s);
is($r->{status}, 200, 'https: the callback finds the __Host- cookie');

unlike($n->error_log, qr/\[(?:alert|crit|emerg)\]|exited on signal/,
       'no worker crashed');

done_testing();
