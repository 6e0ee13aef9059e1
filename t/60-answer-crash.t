#!/usr/bin/perl

# A request with answer codes that ends inside the access handler's call
# to the body handler (an answer delivered, a code that fails, a body
# that is not JSON, read with the headers) must not be touched after it:
# its pool is gone.  The worker ran under load into SIGSEGV; here nginx
# runs under valgrind, which reports the first read of the freed pool on
# every such request.  Without valgrind the test is skipped.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use EdgeAuthTest;

my $VALGRIND = `command -v valgrind 2>/dev/null`;
chomp $VALGRIND;
plan skip_all => 'valgrind is not installed' unless $VALGRIND;

my $NGINX = $ENV{NGINX_BIN} || '/usr/sbin/nginx';
plan skip_all => 'MODULE=none: valgrind runs the stock binary'
    if ($ENV{MODULE} // '') eq 'none';

my $ID = '9b2f7c3e-1d4a-4e8b-a1c2-3d4e5f607182';

my $port = free_port();
my $up = free_port();

# the answer's code is the path's last part: /ok/75, /ko/55

echo_server($up, sub {
    my ($head) = @_;
    my ($code) = $head =~ m{^\S+ \S*/(\d+) };
    my $json = qq({"exctnFdbck":{"id":$code}});
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        . "Content-Length: " . length($json) . "\r\n"
        . "Connection: close\r\n\r\n$json";
});

my $n = nginx_new(main => 'master_process off;', http => <<"CONF");
    credential codes {
        body_json userInfo.id $ID uuid;
        answer_code exctnFdbck.id;
        answer_retry 35 100ms;
        answer_fail 55;
    }

    server {
        listen 127.0.0.1:$port;

        # kept alive: the request is freed as it ends, the connection
        # closed soon after for the client that reads to the end
        keepalive_timeout 200ms;

        location / {
            credential_inject codes;
            proxy_pass http://127.0.0.1:$up;
        }
    }
CONF

my $dir = $n->dir;

# daemonized as usual: valgrind follows the fork, the log names the pid
system($VALGRIND, '-q', '--error-exitcode=1', "--log-file=$dir/vg.%p",
       $NGINX, '-p', "$dir/", '-c', "$dir/nginx.conf",
       '-e', "$dir/error.log") == 0
    or BAIL_OUT("nginx under valgrind did not start:\n" . $n->error_log);

EdgeAuthTest::wait_port($port) or BAIL_OUT("nginx does not listen on $port");
$n->{running} = 1;

sub post {
    my ($path, $body) = @_;
    return http_request($port, "POST $path HTTP/1.1\nHost: x\n"
        . "Content-Type: application/json\n"
        . "Content-Length: " . length($body) . "\n\n"
        . $body);
}

my $r = post('/ok/75', '{"a":1}');
is($r->{status}, 200, 'an answer with a code passed on');
like($r->{body}, qr/"id":75/, 'its body');

$r = post('/ko/55', '{"a":1}');
like($r->{body}, qr/"id":55/, 'a failing code: passed on');

$r = post('/ok/75', '[1]');
is($r->{status}, 400, 'a body that is not an object, read at once: 400');

$r = post('/ok/75', '{"a":1}');
is($r->{status}, 200, 'the worker still answers');

$n->stop;

# valgrind writes its log when the process exits
for (1 .. 100) {
    last unless kill 0, $n->pid // 0;
    sleep 0.05;
}

my $vg = '';
for my $f (glob "$dir/vg.*") {
    open my $fh, '<', $f or next;
    local $/;
    $vg .= <$fh> // '';
}

unlike($vg, qr/Invalid (read|write)/, 'valgrind: no read of a freed request')
    or diag(substr($vg, 0, 3000));
unlike($n->error_log, qr/exited on signal/, 'no worker crashed');

done_testing();
