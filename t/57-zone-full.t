#!/usr/bin/perl

# A full credential store zone is an error an operator can act on, never a
# loop (issue 16, item 2).  nginx -t refuses a zone that cannot hold every
# credential's largest token (login_max_size) and says the size to set,
# with the file and line of credential_store, or what to add when the
# default zone is too small.  A zone that passes, filled at run time by
# what the estimate does not count (a reload that changes every
# credential keeps the old tokens until they expire, for the old
# workers), says so once for the streak at "error", names the zone and
# the size to set, has no "[crit]" slab lines, and its logins back off
# like any failed login.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use EdgeAuthTest;
use MockPartner;

my $m = MockPartner->start(kind => 'oauth');
$m->set(long_token => 3000);

my $port = free_port();
my $url = $m->url;

sub creds {
    my ($count, $tag, $max) = @_;
    $max //= '4k';
    my $c = '';
    for my $i (0 .. $count - 1) {
        $c .= <<"CRED";
    credential c$i {
        login          $url/oauth/token;
        login_param    grant_type client_credentials;
        login_param    scope $tag;
        login_basic    oauth-client oauth-secret;
        login_max_size $max;
        login_backoff  2s 60s;
        token_header   Authorization "Bearer {token}";
    }
CRED
    }
    return $c;
}

sub conf {
    my ($store, $creds) = @_;
    return <<"CONF";
    $store
$creds
    server {
        listen 127.0.0.1:$port;
        location / {
            credential_inject c0;
            proxy_pass $url;
        }
    }
CONF
}

# nginx -t: a zone too small for the credentials, with the size to set

my $n = nginx_new(workers => 2, http => conf('credential_store zone=t:32k;',
                                             creds(20, 'one')));

my ($ok, $out) = $n->test_config;
ok(!$ok, 'nginx -t refuses a zone too small for 20 credentials');
like($out, qr/credential_store zone "t" in \S+nginx\.conf:\d+ is too small for 20 credentials/,
     'the error names the zone and its file:line');
my ($size) = $out =~ /set its size to at least (\d+)k \(zone=t:\1k\)/;
ok($size, "and the size to set (${\ ($size // '?')}k)");

# (what it asks today, for a module that does not say: the run-time part
# still shows how a full zone is handled)
$size //= 158;

# the default zone (1m): what to add

my $d = nginx_new(http => conf('', creds(130, 'one', '16k')));
($ok, $out) = $d->test_config;
ok(!$ok, 'nginx -t refuses the default zone for 130 credentials');
like($out, qr/the default credential store zone \(1024k\) is too small for 130 credentials.*add "credential_store zone=credential_store:\d+k;"/,
     'the error says what to add');

# the size given passes, and holds every token

$n->write_conf(conf("credential_store zone=t:${size}k;", creds(20, 'one')),
               workers => 2);
($ok, $out) = $n->test_config;
ok($ok, "a zone of ${size}k passes nginx -t") or diag($out);

$n->start($port);

ok($m->wait_for(sub { $m->count('login:200') >= 20 }, 15),
   'every credential logged in');
sleep 1;

my $log = $n->error_log;
unlike($log, qr/could not be stored|zone is full/, 'every token was stored');

# a reload that changes every credential: the old tokens stay until they
# expire, the zone cannot hold the new ones as well

$n->write_conf(conf("credential_store zone=t:${size}k;", creds(20, 'two')),
               workers => 2);
my $before = $m->logins;
my $t0 = time;
$n->reload;

ok($m->wait_for(sub { $n->error_log =~ /zone "t" \(\d+k\) is full/ }, 15),
   'a token that does not fit is said');

sleep 5;
my $logins = $m->logins - $before;
my $secs = time - $t0;

$log = $n->error_log;

my @errors = $log =~ /\[error\][^\n]*could not be stored/g;
is(scalar @errors, 1, 'once at error for the streak');
like($log, qr/\[error\][^\n]*credential "c\d+": the token from \S+ could not be stored: the credential store zone "t" \(${size}k\) is full; set its size to at least (\d+)k \(credential_store zone=t:\1k\); next try in \d+ms/,
     'naming the zone, its size and the size to set');
unlike($log, qr/\[crit\]/, 'no [crit] line of the slab allocator');

my @full = $log =~ /credential "(c\d+)": the token from/g;
my %failing = map { $_ => 1 } @full;
my $failing = keys %failing;
ok($failing >= 2, "several credentials did not fit ($failing)");

# one login each, then one per backoff step (2 s, then 4 s, ...)
my $bound = 20 + $failing * (1 + int($secs / 2));
ok($logins <= $bound,
   "logins back off: $logins in ${\ int $secs} s for $failing credentials that do not fit (at most $bound)");

$n->stop;
$m->stop;

done_testing();
