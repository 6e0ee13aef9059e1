#!/usr/bin/perl

# A static credential with body_json and answer codes: each attempt is a
# subrequest, and after each one the client's request runs its phases
# again.  The attempts carry the credential once, and the status page
# counts one injection per client request, however many attempts it took
# and whether the body came with the request header or after it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EdgeAuthTest;

my $KEY = 'static-key-68-never-logged';

my $port = free_port();
my $ok = free_port();
my $busy = free_port();

# the upstream's answer names the outcome, the X-Key headers it got and
# whether the body had the injected member

sub answer {
    my ($id) = @_;
    return sub {
        my ($head, $body) = @_;
        my $keys = () = $head =~ /^X-Key: \Q$KEY\E\r?$/mig;
        my $member = ($body // '') =~ /"userInfo":\{"id":"v-68"\}/ ? 1 : 0;
        my $json = qq({"exctnFdbck":{"id":$id},"keys":$keys,)
                   . qq("member":$member});
        return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            . "Content-Length: " . length($json) . "\r\n"
            . "Connection: close\r\n\r\n$json";
    };
}

echo_server($ok, answer(75));
echo_server($busy, answer(35));

my $n = nginx_new(http => <<"CONF");
    credential st {
        header       X-Key $KEY;
        body_json    userInfo.id v-68;
        answer_code  exctnFdbck.id;
        answer_retry 35 10ms 10ms;
    }

    server {
        listen 127.0.0.1:$port;

        location /ok/ {
            credential_inject st;
            proxy_pass http://127.0.0.1:$ok;
        }

        location /busy/ {
            credential_inject st;
            proxy_pass http://127.0.0.1:$busy;
        }

        location = /status {
            credential_status;
        }
    }
CONF

$n->start($port);

# the body the client got: the upstream's answer

sub post {
    my ($path, $late) = @_;
    my (undef, $body) = split /\r\n\r\n/,
                              post_json($port, $path, '{"a":1}', $late), 2;
    return $body // '';
}

for my $case (['/ok/a', 0, 'answered, body with the header'],
              ['/ok/b', 1, 'answered, body after the header'],
              ['/busy/a', 0, 'retried twice, body with the header'],
              ['/busy/b', 1, 'retried twice, body after the header'])
{
    my ($path, $late, $what) = @$case;
    my $before = injections($port, 'st');
    my $body = post($path, $late);
    like($body, qr/"keys":1,"member":1/,
         "$what: the credential once, the member in the body");
    is(injections($port, 'st') - $before, 1, "$what: counted once");
}

unlike($n->error_log, qr/\Q$KEY\E/, 'no key in the log');

done_testing();
