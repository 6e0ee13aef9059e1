package MockPartner::OAuth;

# A generic OAuth 2.0 token endpoint, for MockPartner: RFC 6749 section
# 4.4, POST .../oauth/token (or the setting token_path), form
# grant_type=client_credentials.  The client authenticates with
# "Authorization: Basic base64(id:secret)" (id and secret form-urlencoded
# first, section 2.3.1) or with client_id/client_secret form fields, never
# both (400 invalid_request); the request record says which in client_auth
# (basic | post | none).  Answers {"access_token","token_type":"Bearer",
# "expires_in":N} (+ scope when one was asked) with Cache-Control:
# no-store; errors are RFC 6749 JSON: 401 invalid_client (with
# WWW-Authenticate when Basic was used), 400 unsupported_grant_type,
# invalid_scope, invalid_request.  The API takes "Authorization: Bearer".
#
# Settings: client_id (oauth-client), client_secret (oauth-secret),
# client_auth (any | basic | post: the only method accepted),
# require_scope, require_audience, require_resource (400 unless the
# request carries exactly that), token_path.

use strict;
use warnings;

use parent 'MockPartner::Base';

sub kind { 'oauth' }

sub defaults {
    return { client_id => 'oauth-client', client_secret => 'oauth-secret',
             expires_field => 'expires_in', token_style => 'hex',
             client_auth => 'any', require_scope => undef,
             require_audience => undef, require_resource => undef,
             token_path => '/oauth/token' };
}

sub route {
    my ($self, $req) = @_;
    my $tp = $self->_state->{settings}{token_path} // '/oauth/token';
    return $req->{path} =~ m{\Q$tp\E/?$} ? 'login' : 'api';
}

sub answer {
    my ($self, $st, $ep, $req, $S) = @_;

    if ($ep eq 'login') {
        my $bad = $self->need_post($req, $S, 1);
        return $bad if $bad;
        my $p = $req->{params};
        my @nostore = (['Cache-Control', 'no-store'], ['Pragma', 'no-cache']);

        for my $k (keys %$p) {
            return $self->error(400, $ep, $S, 'invalid_request',
                                "parameter $k repeated")
                if ref $p->{$k};
        }

        my ($id, $secret, $how);
        my $has_basic = defined $req->{basic_user};
        my $has_post = defined $p->{client_id} || defined $p->{client_secret};
        if ($has_basic && $has_post) {
            $req->{client_auth} = 'both';
            return $self->error(400, $ep, $S, 'invalid_request',
                                'more than one client authentication');
        }
        if ($has_basic) {
            ($id, $secret, $how) = ($req->{basic_user}, $req->{basic_pass},
                                    'basic');
            for ($id, $secret) {
                next unless defined;
                tr/+/ /;
                s/%([0-9a-fA-F]{2})/chr hex $1/ge;
            }
        } elsif ($has_post) {
            ($id, $secret, $how) = ($p->{client_id}, $p->{client_secret},
                                    'post');
        } else {
            $how = 'none';
        }
        $req->{client_auth} = $how;
        $req->{client_id} = $id;

        my $allowed = $S->{client_auth} // 'any';
        if ($how eq 'none'
            || ($allowed ne 'any' && $allowed ne $how)
            || ($id // '') ne $S->{client_id}
            || ($secret // '') ne $S->{client_secret}) {
            my $r = $self->error(401, $ep, $S, 'invalid_client');
            push @{ $r->{headers} }, ['WWW-Authenticate',
                'Basic realm="mock-partner"'] if $how eq 'basic';
            return $r;
        }

        return $self->error(400, $ep, $S, 'unsupported_grant_type')
            unless ($p->{grant_type} // '') eq 'client_credentials';

        for my $f (qw(scope audience resource)) {
            my $want = $S->{"require_$f"};
            next unless defined $want;
            next if ($p->{$f} // "\0none") eq $want;
            return $self->error(400, $ep, $S,
                $f eq 'scope' ? 'invalid_scope' : 'invalid_request',
                "$f must be '$want'");
        }

        my ($tok, $now) = $self->issue_access($st, $S);
        my %b = (access_token => $tok, token_type => $S->{token_type},
                 $self->expiry_fields($S, $now));
        $b{scope} = $p->{scope} if defined $p->{scope};
        return $self->token_answer($S, \%b, $tok, @nostore);
    }

    return $self->json_answer(401, { error => 'invalid_token' },
               ['WWW-Authenticate', 'Bearer error="invalid_token"'])
        unless $self->check_token($st, $S, $req->{bearer}, 1);
    my $r = $self->json_echo($req, $req->{bearer});
    $self->shape($r, $S);
    return $r;
}

1;
