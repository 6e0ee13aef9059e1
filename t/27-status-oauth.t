#!/usr/bin/perl

# credential_status of an authorization-code credential that was never
# connected: state needs-authorization, its 503s counted under their
# code, health 503 naming it; neither its client id nor its secret shown.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use EdgeAuthTest;
use MockPartner;
use OAuthConf;

my $ID = 'oc-status-id-Ke3';
my $SECRET = 'octo-status-secret-Wd47-never-shown';

my $octo = MockPartner->start(kind => 'octorate', client_id => $ID,
                              client_secret => $SECRET);
my $url = $octo->url;
my $port = free_port();

my $n = nginx_new(http => octorate_credential(
        url => $url, client_id => $ID, secret => $SECRET,
        redirect_uri => "http://127.0.0.1:$port/octorate/callback")
    . octorate_server(port => $port, url => $url, locations => <<'LOC'));
        location = /status { credential_status; }
        location = /health { credential_health octorate; }
LOC

$n->start($port);

sub get {
    return http_request($port, "GET $_[0] HTTP/1.1\nHost: x\n"
                               . "Connection: close\n\n");
}

my $s;
ok($octo->wait_for(sub {
    $s = eval { decode_json(get('/status')->{body}) } || {};
    ($s->{credentials}{octorate}{state} // '') eq 'needs-authorization'
}, 10), 'never connected: needs-authorization') or diag explain $s;

is($s->{credentials}{octorate}{type}, 'oauth', 'type oauth');
is($s->{credentials}{octorate}{next_attempt_at}, undef,
   'no attempt planned: only an operator helps');

for (1 .. 2) {
    like(get('/api/x')->{body}, qr/credential-needs-authorization/,
         'a request: 503 credential-needs-authorization');
}

$s = decode_json(get('/status')->{body});
is($s->{credentials}{octorate}{rejected}{'credential-needs-authorization'},
   2, 'needs-authorization 503s counted');
is($s->{credentials}{octorate}{rejected}{'credential-unavailable'}, 0,
   'not as unavailable');

my $h = get('/health');
is($h->{status}, 503, 'health: 503');
is_deeply(decode_json($h->{body})->{unusable}, ['octorate'],
          'health names it');

my $prom = get('/status?format=prometheus')->{body};
like($prom, qr/^nginx_credential_state\{credential="octorate",
               state="needs-authorization"\}\x201$/mx, 'Prometheus state');
like($prom, qr/^nginx_credential_rejected_requests_total
               \{credential="octorate",code="credential-needs-authorization"\}
               \x202$/mx, 'Prometheus 503s');

for my $q ('/status', '/status?format=prometheus', '/status?format=html',
           '/health')
{
    my $body = get($q)->{body};
    unlike($body, qr/\Q$ID\E|\Q$SECRET\E/, "$q: no client id or secret");
}

$n->stop;

is($octo->errors, '', 'mock without errors');

done_testing();
