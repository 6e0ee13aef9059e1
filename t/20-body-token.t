#!/usr/bin/perl

# A credential with both a login token and answer codes: a 401 to an
# attempt refuses the token it carried, and an answer that came while the
# token went bad is still the client's, not a 503.  Nothing is timed: the
# retry delay only leaves room for another request in between.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep);
use EdgeAuthTest;
use MockPartner;
use MockOctamile;

my $ID = 'nilo-client-19';
my $SECRET = 'nilo-secret-19-never-logged';
my $KEY = 'nilo-api-key-19-never-logged';

my $OID = '9b2f7c3e-1d4a-4e8b-a1c2-3d4e5f607182';
my $AID = 'c0ffee00-1234-4abc-9def-0123456789ab';
my $OKEY = 'T2N0YW1pbGUgc2VjcmV0IGtleQ==';

my $nilo = MockPartner->start(kind => 'nilo', client_id => $ID,
                              client_secret => $SECRET, api_key => $KEY,
                              token_lifetime => 3600);
my $url = $nilo->url;

my $o = MockOctamile->start(id => $OID, auth_id => $AID, key => $OKEY);
my $mock = $o->port;

my $port = free_port();

my $n = nginx_new(log_level => 'debug', http => <<"CONF");
    credential both {
        header       x-api-key $KEY;

        login        $url/login;
        login_body   json;
        login_param  clientId $ID;
        login_param  clientSecret $SECRET;
        login_header x-api-key $KEY;
        login_wait   300ms;

        token_header Authorization "Bearer {token}";

        body_json userInfo.id $OID uuid;
        body_json userInfo.athrzt.id $AID uuid;
        body_json userInfo.athrzt.key $OKEY;

        answer_code  exctnFdbck.id;
        answer_fail  55;
        answer_retry 35 1500ms;
    }

    server {
        listen 127.0.0.1:$port;

        location /octa/ {
            credential_inject both;
            proxy_pass http://127.0.0.1:$mock;
        }

        location /api/ {
            credential_inject both;
            proxy_pass $url;
        }
    }
CONF

$n->start($port);

sub request_text {
    my ($uri, $body) = @_;
    my $req = "POST $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        . "Content-Type: application/json\r\n"
        . "Content-Length: " . length($body) . "\r\n\r\n$body";
    return $req;
}

ok($nilo->wait_logins(1, 10), 'logged in at start-up');

my $r = http_request($port, request_text('/api/x', '{"a":1}'));
is($r->{status}, 200, 'an attempt with the token: 200');
is($nilo->logins, 1, 'one login so far');

# the partner revokes the token: the attempt's 401 refuses it

$nilo->expire_tokens;

$r = http_request($port, request_text('/api/x', '{"a":2}'));
is($r->{status}, 401, 'revoked: the partner\'s 401 to the client');
ok($nilo->wait_logins(2, 10), 'the attempt\'s 401 triggered a new login');
like($n->error_log, qr/credential "both": the upstream refused the token/,
     'the refusal is logged');

# the refused token stays in use until the new one is stored (the login's
# answer may still be on its way when the partner counted the login)
ok($nilo->wait_for(sub {
       http_request($port, request_text('/api/x', '{"a":3}'))->{status}
           == 200
   }, 10), 'with the new token: 200 again');

# a request waits for its retry; meanwhile the token is refused and no
# new one can be had: the retried answer still goes to the client

$o->reset;
$o->set(busy => 1);

my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                              Proto => 'tcp', Timeout => 10) or die;
print $s request_text('/octa/x', '{"cmmnd":{"cmmnd":"dump"}}');

for (1 .. 100) { last if $o->requests; sleep 0.02 }
is($o->requests, 1, 'the first attempt is answered 35');

$nilo->set(status => 500);
$nilo->expire_tokens;

$r = http_request($port, request_text('/api/x', '{"a":4}'));
is($r->{status}, 401, 'the token refused meanwhile');

my $answer = do { local $/; <$s> } // '';
like($answer, qr{^HTTP/1.1 200 }, 'the waiting request: 200, not a 503');
like($answer, qr/"exctnFdbck":\{"id":75\}/, 'the waiting request: the 75');
is_deeply([$o->answers], [35, 75], 'the retry was sent');

unlike($n->error_log, qr/\Q$SECRET\E|\Q$OKEY\E/, 'no secret in the log');

done_testing();
