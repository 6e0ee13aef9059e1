package OAuthConf;

# The nginx configuration that the authorization-code tests (t/17, t/18,
# t/19) share: the "octorate" credential pointed at the Octorate mock, and
# the gateway server with its connect and callback pages.
#
#   my $http = octorate_credential(url => $octo->url, client_id => 'oc-id',
#                                  secret => $SECRET, redirect_uri => $cb,
#                                  extra => ['login_wait 2s;'])
#            . octorate_server(port => $port, url => $octo->url);
#
# extra: more directives of the credential, one per element; locations:
# more locations of the server, as text.

use strict;
use warnings;

use Exporter 'import';

our @EXPORT = qw(octorate_credential octorate_server);


sub octorate_credential {
    my (%o) = @_;

    my $url = $o{url};
    my $extra = join '', map { "        $_\n" } @{ $o{extra} || [] };

    return <<"CONF";
    credential octorate {
        authorize          $url/octobook/identity/oauth.xhtml;
        login              $url/rest/v1/identity/token;
        refresh            $url/rest/v1/identity/refresh;
        client_id          $o{client_id};
        client_secret      $o{secret};
        redirect_uri       $o{redirect_uri};
        code_grant_type    code;
$extra        token_expires_at   expireDate;
        token_header       Authorization "Bearer {token}";
    }
CONF
}


sub octorate_server {
    my (%o) = @_;

    my $locations = $o{locations} // '';

    return <<"CONF";

    server {
        listen 127.0.0.1:$o{port};

        location = /octorate/connect  { credential_connect  octorate; }
        location = /octorate/callback { credential_callback octorate; }
$locations
        location / {
            credential_inject octorate;
            proxy_pass $o{url};
        }
    }
CONF
}


1;
