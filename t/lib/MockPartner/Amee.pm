package MockPartner::Amee;

# AMEE (seed 002), for MockPartner: POST .../auth with a form
# username/password; answers 200 with the XML of the guide (JSON when
# Accept asks for application/json), the header "authToken: TOKEN" and
# "Set-Cookie: authToken=TOKEN; Path=/".  Tokens are base64 like the
# guide's (with "+", "/" and a final "==").  Wrong credentials: 401.  The
# API takes "Cookie: authToken=TOKEN" (a session) or "Authorization: Basic"
# with the right user and password (recorded as auth = cookie | basic); a
# session dies max_lifetime seconds after its login (7200) or after
# idle_timeout seconds without an API call (1800), then the API answers
# 401.  Errors are AMEE's XML.
#
# Settings: username (amee-user), password (amee-pass), idle_timeout,
# max_lifetime, extra_cookies (1: a JSESSIONID cookie before the
# authToken one).

use strict;
use warnings;

use parent 'MockPartner::Base';
use TestServer ();

sub kind { 'amee' }

sub defaults {
    return { username => 'amee-user', password => 'amee-pass',
             idle_timeout => 1800, max_lifetime => 7200, extra_cookies => 0,
             expires_field => 'none', token_style => 'base64' };
}

sub route {
    my ($self, $req) = @_;
    return $req->{path} =~ m{/auth/?$} ? 'login' : 'api';
}

sub error {
    my ($self, $status, $ep, $S, $error, $desc) = @_;
    my $msg = $desc // TestServer::reason($status);
    my $xml = qq{<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n}
        . qq{<Resources><Status>$status</Status>}
        . qq{<Message>$msg</Message></Resources>\n};
    return { status => $status, ctype => 'application/xml; charset=UTF-8',
             body => $xml };
}

sub _xml {
    my ($self, $req) = @_;
    my $next = ($self->{tls} ? 'https' : 'http') . '://'
        . ($req->{headers}{host} // "127.0.0.1:$self->{port}") . '/auth';
    return <<"XML";
<?xml version="1.0" encoding="UTF-8" standalone="no"?>
  <Resources>
    <SignInResource>
      <Next>$next</Next>
      <User uid="1A6307E2B531">
      <Status>ACTIVE</Status>
      <Type>STANDARD</Type>
      <GroupNames>
        <GroupName>amee</GroupName>
        <GroupName>Standard</GroupName>
        <GroupName>All</GroupName>
      </GroupNames>
      <ApiVersion>1.0</ApiVersion>
    </User>
  </SignInResource>
</Resources>
XML
}

sub answer {
    my ($self, $st, $ep, $req, $S) = @_;
    my $h = $req->{headers};
    my $json = ($h->{accept} // '') =~ m{application/json}i;

    if ($ep eq 'login') {
        my $bad = $self->need_post($req, $S, 1);
        return $bad if $bad;
        my $p = $req->{params};
        return $self->error(401, $ep, $S, undef, 'Unauthorized')
            unless !ref $p->{username} && !ref $p->{password}
                && ($p->{username} // '') eq $S->{username}
                && ($p->{password} // '') eq $S->{password};

        my ($tok) = $self->issue_access($st, $S, 'session');
        my @hd;
        unless ($S->{garbage} || $S->{no_token}) {
            push @hd, ['Set-Cookie', 'JSESSIONID='
                       . uc(MockPartner::Base::rand_hex(16))
                       . '; Path=/; HttpOnly'] if $S->{extra_cookies};
            push @hd, ['Set-Cookie', "authToken=$tok; Path=/"],
                      ['authToken', $tok];
        }
        my $r;
        if ($json) {
            $r = $self->json_answer(200, { next => '/auth', user => { uid =>
                '1A6307E2B531', status => 'ACTIVE', type => 'STANDARD',
                apiVersion => '1.0',
                groupNames => [qw(amee Standard All)] } }, @hd);
        } else {
            $r = { status => 200, ctype => 'application/xml; charset=UTF-8',
                   body => $self->_xml($req), headers => \@hd };
        }
        $r->{token} = $tok;
        $self->shape($r, $S);
        return $r;
    }

    my ($auth, $tok);
    if (defined $req->{basic_user}) {
        if ($req->{basic_user} eq $S->{username}
            && ($req->{basic_pass} // '') eq $S->{password}) {
            $auth = 'basic';
        }
    } elsif (defined(my $c = $req->{cookies}{authToken})) {
        if ($self->check_token($st, $S, $c, 1)) {
            $auth = 'cookie';
            $tok = $c;
        }
    }
    $req->{auth} = $auth // 'none';
    return $self->error(401, $ep, $S, undef, 'Unauthorized') unless $auth;

    my $r;
    if ($json) {
        $r = $self->json_echo($req, $tok, auth => $auth);
    } else {
        my $p = $req->{path};
        $p =~ s/[<&>"]/_/g;
        $r = { status => 200, ctype => 'application/xml; charset=UTF-8',
               body => qq{<?xml version="1.0" encoding="UTF-8"?>\n}
                   . qq{<Resources><DataCategoryResource><Path>$p</Path>}
                   . qq{<Auth>$auth</Auth></DataCategoryResource>}
                   . qq{</Resources>\n} };
    }
    $self->shape($r, $S);
    return $r;
}

1;
