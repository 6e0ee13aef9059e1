package MockPartner::Octorate;

# Octorate (seed 003), for MockPartner.
#
# POST .../identity/apilogin (endpoint login), form client_id/client_secret
# -> {"access_token","expireDate":"2026-11-23T17:41:51.178Z"}, plus
# refresh_token when the setting refresh_token is 1.
#
# POST .../identity/refresh (endpoint refresh), form refresh_token
# (client_id/client_secret checked when present, required when
# refresh_requires_client is 1) -> a new access_token and expireDate, and a
# new refresh_token when rotate_refresh is 1 (the old one then answers 400
# {"error":"invalid_grant"}).  With revoke_refresh 1 every refresh answers
# refresh_status (400) invalid_grant.  Refresh tokens never expire.
#
# POST .../identity/token (endpoint token), form grant_type (code or
# authorization_code; refresh_token works too), code, client_id,
# client_secret, redirect_uri -> access_token, refresh_token, expireDate.
# Codes are single use, valid code_lifetime seconds (60) and bound to the
# redirect_uri they were issued for: $m->issue_code($redirect_uri), or GET
# .../identity/oauth.xhtml or .../identity/authorize (endpoint authorize)
# with client_id, redirect_uri, state -> 302 to
# redirect_uri?code=...&state=...
#
# PKCE (RFC 7636): an authorize request with code_challenge (method S256
# only) binds the code to it, and the exchange must then carry the
# code_verifier whose SHA-256 it is (else 400 invalid_grant).  With
# require_pkce 1 an authorize request without a challenge goes back to the
# redirect_uri with error=invalid_request.
#
# The API takes "Authorization: Bearer".  Errors are RFC 6749 JSON.
# Settings: client_id (octo-client), client_secret (octo-secret).

use strict;
use warnings;

use parent 'MockPartner::Base';
use Time::HiRes qw(time);
use Digest::SHA qw(sha256);
use MIME::Base64 qw(encode_base64url);

sub kind { 'octorate' }

sub defaults {
    return { client_id => 'octo-client', client_secret => 'octo-secret',
             expires_field => 'expireDate', token_style => 'hex',
             refresh_token => 0, rotate_refresh => 0, revoke_refresh => 0,
             refresh_status => 400, refresh_requires_client => 0,
             code_lifetime => 60, require_pkce => 0 };
}

sub route {
    my ($self, $req) = @_;
    my $p = $req->{path};
    return 'login' if $p =~ m{/identity/apilogin/?$};
    return 'refresh' if $p =~ m{/identity/refresh/?$};
    return 'token' if $p =~ m{/identity/token/?$};
    return 'authorize' if $p =~ m{/identity/(?:oauth\.xhtml|authorize)/?$};
    return 'api';
}


# a fresh authorization code, for tests that skip the authorize page
sub issue_code {
    my ($self, $redirect_uri) = @_;
    return $self->_txn(sub {
        my ($st) = @_;
        return _new_code($st, $redirect_uri);
    });
}

sub _new_code {
    my ($st, $redirect_uri, $challenge) = @_;
    my $code = 'code-' . (++$st->{token_seq}) . '-'
        . MockPartner::Base::rand_hex(8);
    my $life = $st->{settings}{code_lifetime} // 60;
    $st->{tokens}->put($code, { type => 'code', iat => time,
        exp => time + $life, redirect_uri => $redirect_uri,
        challenge => $challenge });
    return $code;
}

sub _esc { MockPartner::Base::uri_escape($_[0]) }

sub _client_ok {
    my ($p, $S) = @_;
    return !ref $p->{client_id} && !ref $p->{client_secret}
        && ($p->{client_id} // '') eq $S->{client_id}
        && ($p->{client_secret} // '') eq $S->{client_secret};
}

sub _refresh {
    my ($self, $st, $ep, $req, $S) = @_;
    my $p = $req->{params};

    if (defined $p->{client_id} || defined $p->{client_secret}
        || $S->{refresh_requires_client}) {
        return $self->error(401, $ep, $S, 'invalid_client')
            unless _client_ok($p, $S);
    }
    my $rt = $p->{refresh_token};
    return $self->error(400, $ep, $S, 'invalid_request',
                        'refresh_token missing')
        unless defined $rt && !ref $rt && length $rt;
    return $self->error($S->{refresh_status} || 400, $ep, $S,
                        'invalid_grant', 'refresh token revoked')
        if $S->{revoke_refresh};
    my $t = !ref $rt ? $st->{tokens}->get($rt) : undef;
    return $self->error(400, $ep, $S, 'invalid_grant')
        unless $t && $t->{type} eq 'refresh' && !$t->{revoked};

    my ($tok, $now) = $self->issue_access($st, $S);
    my %b = (access_token => $tok, $self->expiry_fields($S, $now));
    if ($S->{rotate_refresh}) {
        $t->{revoked} = 'rotated';
        $b{refresh_token} = $self->issue_refresh($st);
    }
    my $r = $self->token_answer($S, \%b, $tok);
    $r->{refresh_token} = $b{refresh_token};
    return $r;
}

sub answer {
    my ($self, $st, $ep, $req, $S) = @_;
    my $p = $req->{params};

    if ($ep eq 'authorize') {
        my $q = $req->{query_params};
        my $ru = $q->{redirect_uri};
        return { status => 400, ctype => 'text/html',
                 body => "<html><body>bad client_id or redirect_uri"
                     . "</body></html>\n" }
            unless ($q->{client_id} // '') eq $S->{client_id}
                && defined $ru && !ref $ru && length $ru;
        my $ch = $q->{code_challenge};
        my $bad_pkce = (defined $ch && (ref $ch || $ch !~ /^[A-Za-z0-9_-]{43}$/
                            || ($q->{code_challenge_method} // '') ne 'S256'))
            || (!defined $ch && $S->{require_pkce});
        if ($bad_pkce) {
            my $loc = $ru . ($ru =~ /\?/ ? '&' : '?')
                . 'error=invalid_request';
            $loc .= '&state=' . _esc($q->{state}) if defined $q->{state};
            return { status => 302, ctype => 'text/html',
                     headers => [['Location', $loc]],
                     body => "<html><body>PKCE required</body></html>\n" };
        }
        my $code = _new_code($st, $ru, $ch);
        my $loc = $ru . ($ru =~ /\?/ ? '&' : '?') . 'code=' . _esc($code);
        $loc .= '&state=' . _esc($q->{state}) if defined $q->{state};
        return { status => 302, ctype => 'text/html',
                 headers => [['Location', $loc]],
                 body => "<html><body>Octorate identity: "
                     . "granted</body></html>\n" };
    }

    if ($MockPartner::Base::LOGIN_EP{$ep}) {
        my $bad = $self->need_post($req, $S, 1);
        return $bad if $bad;
    }

    if ($ep eq 'login') {
        return $self->error(401, $ep, $S, 'invalid_client')
            unless _client_ok($p, $S);
        my ($tok, $now) = $self->issue_access($st, $S);
        my %b = (access_token => $tok, $self->expiry_fields($S, $now));
        $b{refresh_token} = $self->issue_refresh($st) if $S->{refresh_token};
        my $r = $self->token_answer($S, \%b, $tok);
        $r->{refresh_token} = $b{refresh_token};
        return $r;
    }

    return $self->_refresh($st, $ep, $req, $S) if $ep eq 'refresh';

    if ($ep eq 'token') {
        my $gt = $p->{grant_type} // '';
        return $self->_refresh($st, $ep, $req, $S)
            if $gt eq 'refresh_token';
        return $self->error(400, $ep, $S, 'unsupported_grant_type')
            unless $gt eq 'code' || $gt eq 'authorization_code';
        return $self->error(401, $ep, $S, 'invalid_client')
            unless _client_ok($p, $S);
        my $code = $p->{code};
        my $t = defined $code && !ref $code ? $st->{tokens}->get($code)
                                            : undef;
        return $self->error(400, $ep, $S, 'invalid_grant',
                             'unknown or used code')
            unless $t && $t->{type} eq 'code' && !$t->{used};
        $t->{used} = 1;    # single use, even when the rest is wrong
        return $self->error(400, $ep, $S, 'invalid_grant', 'code expired')
            if time >= $t->{exp};
        return $self->error(400, $ep, $S, 'invalid_grant',
                             'redirect_uri mismatch')
            if defined $t->{redirect_uri}
                && ($p->{redirect_uri} // '') ne $t->{redirect_uri};
        if (defined $t->{challenge}) {
            my $v = $p->{code_verifier};
            return $self->error(400, $ep, $S, 'invalid_grant',
                                 'PKCE verification failed')
                unless defined $v && !ref $v
                    && $v =~ /^[A-Za-z0-9._~-]{43,128}$/
                    && encode_base64url(sha256($v)) eq $t->{challenge};
        }
        my ($tok, $now) = $self->issue_access($st, $S);
        my %b = (access_token => $tok,
                 refresh_token => $self->issue_refresh($st),
                 $self->expiry_fields($S, $now));
        my $r = $self->token_answer($S, \%b, $tok);
        $r->{refresh_token} = $b{refresh_token};
        return $r;
    }

    return $self->json_answer(401, { error => 'invalid_token' },
               ['WWW-Authenticate', 'Bearer error="invalid_token"'])
        unless $self->check_token($st, $S, $req->{bearer}, 1);
    my $r = $self->json_echo($req, $req->{bearer});
    $self->shape($r, $S);
    return $r;
}

1;
