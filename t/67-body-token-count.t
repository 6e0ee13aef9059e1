#!/usr/bin/perl

# A token credential with body_json: a body that comes after the request
# header is read in an event of its own and the phases run again.  The
# request carries the token and the members once, and the status page
# counts one injection, as for a body sent with its header.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EdgeAuthTest;
use MockPartner;

my $ID = 'nilo-client-67';
my $SECRET = 'nilo-secret-67-never-logged';
my $KEY = 'nilo-api-key-67-never-logged';

my $nilo = MockPartner->start(kind => 'nilo', client_id => $ID,
                              client_secret => $SECRET, api_key => $KEY,
                              token_lifetime => 3600);
my $url = $nilo->url;

my $port = free_port();
my $echo = free_port();
echo_server($echo);

my $n = nginx_new(http => <<"CONF");
    credential tok {
        login        $url/login;
        login_body   json;
        login_param  clientId $ID;
        login_param  clientSecret $SECRET;
        login_header x-api-key $KEY;

        token_header Authorization "Bearer {token}";

        body_json userInfo.id body-67;
    }

    server {
        listen 127.0.0.1:$port;

        location /echo/ {
            credential_inject tok;
            proxy_pass http://127.0.0.1:$echo;
        }

        location = /status {
            credential_status;
        }
    }
CONF

$n->start($port);

ok($nilo->wait_logins(1, 10), 'logged in at start-up');

# the body the echo upstream received, and whether it had the token

sub sent {
    my ($raw) = @_;
    my (undef, $echoed) = split /\r\n\r\n/, $raw, 2;
    my ($head, $body) = split /\r\n\r\n/, $echoed // '', 2;
    return ($head // '', $body // '');
}

my $USERINFO = '"userInfo":{"id":"body-67"}';

# with the header: one write

my $before = injections($port, 'tok');
my $b = '{"early":1}';
my ($head, $body) = sent(post_json($port, '/echo/a', $b));
is($body, "{$USERINFO,\"early\":1}", 'body with the header: injected');
like($head, qr/Authorization: Bearer /, 'body with the header: the token');
is(injections($port, 'tok') - $before, 1,
   'body with the header: counted once');

# after the header

$before = injections($port, 'tok');
$b = '{"late":1}';
my $raw = post_json($port, '/echo/b', $b, 1);
($head, $body) = sent($raw);
is($body, "{$USERINFO,\"late\":1}", 'body after the header: injected');
is(scalar(() = $head =~ /^Authorization:/mig), 1,
   'body after the header: one token');
is(injections($port, 'tok') - $before, 1,
   'body after the header: counted once');

unlike($n->error_log, qr/\Q$SECRET\E/, 'no secret in the log');

done_testing();
