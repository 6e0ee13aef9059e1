package MockPartner::Nilo;

# Nilo (seed 001), for MockPartner: POST .../login with a JSON body
# {"clientId","clientSecret"} and the x-api-key header.  A wrong or missing
# key: 403 {"message":"Forbidden"} (the AWS API gateway in front of Nilo);
# a body that is not a JSON object: 400, whatever the Content-Type says;
# wrong credentials: 401 {"code":401,"message":"Invalid client
# credentials"}.  Success: 200 {"access_token","token_type":"Bearer",
# "expires_in":N}, tokens shaped like JWTs.  The API needs the x-api-key
# and "Authorization: Bearer" with a valid token, and answers a JSON echo
# {"ok":true,"method","path","query","token","headers"} or 401
# {"code":401,"message":"Unauthorized","error":"invalid_token"}.
#
# Settings: client_id (nilo-client), client_secret (nilo-secret),
# api_key (nilo-api-key).

use strict;
use warnings;

use parent 'MockPartner::Base';
use TestServer ();

sub kind { 'nilo' }

sub defaults {
    return { client_id => 'nilo-client', client_secret => 'nilo-secret',
             api_key => 'nilo-api-key', expires_field => 'expires_in',
             token_style => 'jwt' };
}

sub route {
    my ($self, $req) = @_;
    return $req->{path} =~ m{/login/?$} ? 'login' : 'api';
}

sub error {
    my ($self, $status, $ep, $S, $error, $desc) = @_;
    my $msg = $desc // TestServer::reason($status);
    $msg = 'Too many requests' if $status == 429 && !$desc;
    return $self->json_answer($status, { code => $status, message => $msg });
}

sub answer {
    my ($self, $st, $ep, $req, $S) = @_;
    my $h = $req->{headers};

    if ($ep eq 'login') {
        my $bad = $self->need_post($req, $S, 0);
        return $bad if $bad;
        return $self->json_answer(403, { message => 'Forbidden' })
            unless ($h->{'x-api-key'} // '') eq $S->{api_key};
        my $j = $req->{json};
        return $self->json_answer(400, { code => 400,
                                         message => 'Invalid request body' })
            unless ref $j eq 'HASH';
        return $self->json_answer(401, { code => 401,
                              message => 'Invalid client credentials' })
            unless ($j->{clientId} // '') eq $S->{client_id}
                && ($j->{clientSecret} // '') eq $S->{client_secret};
        my ($tok, $now) = $self->issue_access($st, $S);
        return $self->token_answer($S, { access_token => $tok,
            token_type => $S->{token_type},
            $self->expiry_fields($S, $now) }, $tok);
    }

    return $self->json_answer(403, { message => 'Forbidden' })
        unless ($h->{'x-api-key'} // '') eq $S->{api_key};
    return $self->json_answer(401, { code => 401, message => 'Unauthorized',
                                     error => 'invalid_token' })
        unless $self->check_token($st, $S, $req->{bearer}, 1);
    my $r = $self->json_echo($req, $req->{bearer});
    $self->shape($r, $S);
    return $r;
}

1;
