#!/usr/bin/perl

# make run: the module at work, on this machine, in one command.
#
#     NGINX_BIN=/usr/sbin/nginx MODULE=/abs/build/ngx_http_credential_module.so \
#         perl run/run.pl [--once]
#
# 1. starts stand-ins for the partner APIs (seeds 001, 002, 004):
#      Critical Mix  HTTP Basic, with its four documented JSON errors
#      AMEE          HTTP Basic
#      Nilo          x-api-key, else 401 {"code":401,"message":"Unauthorized"}
#      internal      a service of ours, for the IP allow lists (seed 003)
#    and, for the token engine, two Nilo stand-ins from the tests
#    (t/lib/MockPartner.pm): POST /dev/login with the x-api-key and JSON
#    clientId/clientSecret gives a Bearer token that the API then needs
#    (with the x-api-key); the second one answers every login with
#    429 Too many requests, Retry-After: 30;
#    and a redis-server, through which a second nginx ("gateway B", the
#    same nilo token credential) shares the first one's token;
# 2. writes an nginx.conf like the ones in conf.examples/, but with
#    proxy_pass and login to the stand-ins over plain http, and the secrets
#    handed over the two supported ways: environment variables of the nginx
#    master (env:) and files (file:);
# 3. starts nginx in the foreground ("daemon off;") with that file;
# 4. sends a few requests and prints each with its answer and with what
#    the stand-in received;
# 5. prints curl lines to try, then shows the access log, the error log
#    and the stand-ins' requests as they happen, until Ctrl-C, which stops
#    nginx and the stand-ins and removes the temporary directory.
#
# With --once it stops after step 4 and exits 1 if an answer was not the
# expected one.
#
# Everything listens on 127.0.0.1 only, on ports that were free. Core Perl
# plus Debian's libio-socket-ssl-perl; the stand-ins are the tests' HTTP
# server (t/lib/TestServer.pm). See conf.examples/ for the real thing
# (nilo.conf for the token engine).

use strict;
use warnings;
use utf8;

use File::Basename qw(dirname);
use File::Spec;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Handle;
use IO::Socket::INET;
use JSON::PP ();
use MIME::Base64 qw(encode_base64 decode_base64);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $ROOT;
BEGIN { $ROOT = dirname(dirname(File::Spec->rel2abs(__FILE__))) }

# the partner stand-ins of the tests, with login endpoints and counters
use lib "$ROOT/t/lib";
use MockPartner;
use RedisServer;
use TestServer;
use EdgeAuthTest qw(free_port nginx_new);

binmode STDOUT, ':encoding(UTF-8)';
binmode STDERR, ':encoding(UTF-8)';
STDOUT->autoflush(1);

my $ONCE = grep { $_ eq '--once' } @ARGV;

my $NGINX  = $ENV{NGINX_BIN} || '/usr/sbin/nginx';
my $MODULE = File::Spec->rel2abs($ENV{MODULE}
                                 || "$ROOT/build/ngx_http_credential_module.so");

-x $NGINX  or die "no nginx at $NGINX (set NGINX_BIN)\n";
-f $MODULE or die "no module at $MODULE: run \"make\" first (or set MODULE)\n";


# The demo's secrets. The Critical Mix pair is the example from its
# documentation (seed 004); the others are made up for the stand-ins.

my %SECRET = (
    criticalmix_user     => 'criticalmix',
    criticalmix_password => 'topsecret',      # to nginx as env:CRITICALMIX_PASSWORD
    amee_user            => 'amee-gateway',
    amee_password        => 'amee-demo-pw',   # to nginx as file:.../amee.password
    nilo_key             => 'nilo-demo-key-7f3a9c',   # file:.../nilo.key
    nilo_client_id       => 'nilo-demo-client',
    nilo_client_secret   => 'nilo-demo-secret-51c2',  # env:NILO_CLIENT_SECRET
    redis_password       => 'redis-demo-pw-0c41',     # env:REDIS_PASSWORD
);

my $DIR = tempdir('credential-demo-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $DIR;

my $MAIN_PID = $$;
my (@mocks, $nginx_pid, $stop, $redis, $gateway_b);
my %partner;        # name => MockPartner, the stand-ins with a login

$SIG{INT} = $SIG{TERM} = sub { $stop = 1 };

END {
    # stop_all() waits for children: keep the exit status of run.pl
    my $rc = $?;
    stop_all() if defined $MAIN_PID && $$ == $MAIN_PID;
    $? = $rc;
}


# ---------------------------------------------------------------------------
# 1. The stand-ins for the partner APIs
# ---------------------------------------------------------------------------

# Critical Mix, Supplier API v2 (seed 004): every /api/v2/ endpoint needs
# HTTP Basic; the error bodies are exactly those of the documentation.

sub critical_mix {
    my ($req) = @_;

    my $path = $req->{path};

    return cm_error(404, 'not-found', 'Resource not found')
        unless $path =~ m{^/api/v2/};

    my @auth = header_values($req, 'Authorization');

    return cm_error(401, 'authorization-required',
                    'Authorization is Required')
        unless @auth;

    # (not in the documentation: two Authorization headers are refused,
    # so a gateway that forwarded the client's copy as well would show)
    return cm_error(401, 'invalid-authorization',
                    'Authorization token cannot be decoded')
        if @auth > 1;

    my ($scheme, $token) = $auth[0] =~ /^\s*(\S+)\s*(.*?)\s*$/;

    return cm_error(401, 'basic-authorization-required',
                    'Authorization must be HTTP Basic Authorization')
        unless defined $scheme && lc $scheme eq 'basic';

    my $pair = ($token =~ m{^[A-Za-z0-9+/]+={0,2}$} && length($token) % 4 == 0)
             ? decode_base64($token) : '';

    # (the documentation gives no errorMessage for this one)
    return cm_error(401, 'invalid-authorization',
                    'Authorization token cannot be decoded')
        unless $pair =~ /^([^:]*):(.*)$/s;

    return cm_error(403, 'invalid-credentials',
                    'Invalid Authentication Credentials')
        unless $1 eq $SECRET{criticalmix_user}
            && $2 eq $SECRET{criticalmix_password};

    return cm_error(404, 'not-found', 'Member not found')
        unless $path eq '/api/v2/members/M0001';

    return json(200, <<'JSON', 'Content-Version' => '1.0');
{
  "memberId": "M0001",
  "language": "EN",
  "email": "m0001@example.com",
  "firstName": "John",
  "lastName": "Snow",
  "birthDate": "1984/01/20",
  "address": {
    "country": "US",
    "streetAddress": null,
    "postalcode": "10101"
  }
}
JSON
}

sub cm_error {
    my ($status, $code, $message) = @_;

    return json($status, <<"JSON");
{
  "errorCode": "$code",
  "errorMessage": "$message",
  "errors": []
}
JSON
}


# AMEE (seed 002): HTTP Basic on every request; 401 otherwise.

sub amee {
    my ($req) = @_;

    my ($user, $password) = basic_pair($req);

    unless (defined $user && $user eq $SECRET{amee_user}
            && $password eq $SECRET{amee_password})
    {
        return { status => 401, reason => 'UNAUTHORIZED',
                 ctype => 'text/plain; charset=UTF-8',
                 headers => [[ 'WWW-Authenticate' => 'Basic realm="AMEE"' ]],
                 body => "401 UNAUTHORIZED\n" };
    }

    my $path = $req->{path};

    if (($req->{headers}{accept} // '') =~ /json/) {
        return json(200, qq({"apiVersion":"1.0","path":"$path",)
                         . qq("children":{"dataCategories":[)
                         . qq({"path":"home","name":"Home"},)
                         . qq({"path":"transport","name":"Transport"}]}}\n));
    }

    return { status => 200, ctype => 'application/xml; charset=UTF-8',
             body => <<"XML" };
<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<Resources><DataCategoryResource><Path>$path</Path><Children><DataCategories><DataCategory><Path>home</Path></DataCategory><DataCategory><Path>transport</Path></DataCategory></DataCategories></Children></DataCategoryResource></Resources>
XML
}


# Nilo (seed 001): the static x-api-key (the Bearer token comes later).

sub nilo {
    my ($req) = @_;

    my @keys = header_values($req, 'x-api-key');

    return json(401, qq({"code":401,"message":"Unauthorized"}\n))
        unless @keys == 1 && $keys[0] eq $SECRET{nilo_key};

    my $path = $req->{path};

    return json(200, qq({"path":"$path","orders":[{"id":"ORD-1001",)
                     . qq("status":"delivered"}]}\n));
}


# A service of ours behind the IP allow lists: it shows which client
# address nginx decided on (X-Real-IP: $remote_addr, after realip).

sub internal {
    my ($req) = @_;

    my $path = $req->{path};
    my $client = $req->{headers}{'x-real-ip'} // '?';

    return json(200, qq({"service":"internal","path":"$path",)
                     . qq("clientAddress":"$client"}\n));
}


sub json {
    my ($status, $body, @headers) = @_;

    my @h;
    push @h, [ splice @headers, 0, 2 ] while @headers;

    return { status => $status, ctype => 'application/json; charset=utf-8',
             headers => \@h, body => $body };
}

# every value of a request header, in order (any case of its name)
sub header_values {
    my ($req, $name) = @_;
    return map { $_->[1] } grep { $_->[0] eq lc $name }
           @{ $req->{header_lines} };
}

sub basic_pair {
    my ($req) = @_;

    my @auth = header_values($req, 'Authorization');
    return unless @auth == 1 && $auth[0] =~ /^Basic\s+([A-Za-z0-9+\/=]+)\s*$/i;

    return decode_base64($1) =~ /^([^:]*):(.*)$/s;
}


# Each stand-in is a TestServer (t/lib/TestServer.pm) on 127.0.0.1, on a
# port the kernel picked, that calls its handler with each request (a hash
# with method, uri, path, headers, header_lines, body) and sends the
# answer it returns (status, reason, ctype, headers, body). It writes one
# line per request to mocks.log, with the headers that matter to it,
# before it answers. It runs until stopped, or until run.pl is gone.

sub start_mock {
    my ($name, $shown_headers, $handler) = @_;

    my $srv = TestServer->start(name => "stand-in $name",
                                max_runtime => 7 * 86400, handler => sub {
        my ($c) = @_;
        my $req = TestServer::read_request($c) or return;

        my $res = eval { $handler->($req) }
               // { status => 500, ctype => 'text/plain',
                   body => "stand-in: $@" };

        my @seen;
        for my $h (@$shown_headers) {
            my @v = header_values($req, $h);
            push @seen, @v ? (map { "$h: $_" } @v) : "no $h";
        }

        if (open my $log, '>>:encoding(UTF-8)', "$DIR/mocks.log") {
            printf $log "%-12s %s %s → %s | %s\n", $name, $req->{method},
                $req->{uri}, $res->{status}, join(' | ', @seen);
            close $log;
        }

        TestServer::respond($c, %$res, server => 'partner-stand-in');
    });

    push @mocks, $srv;
    return $srv->port;
}


# The Nilo stand-ins with a login endpoint are those of the tests
# (t/lib/MockPartner.pm). They keep a record of every request (method,
# path, header lines in order, body, the token a login issued) that is read
# back here. Tokens are numbered per stand-in, in the order issued.

my (%partner_seen, %token_no, %tokens_issued);

sub start_partner {
    my ($name, %args) = @_;

    # runs until stopped, or until run.pl is gone (a week at most)
    my $m = MockPartner->start(kind => 'nilo', api_key => $SECRET{nilo_key},
                               max_runtime => 7 * 86400, %args);

    $partner{$name} = $m;

    return $m->port;
}

sub short_token {
    my ($token) = @_;
    return length $token > 20 ? substr($token, 0, 20) . '…' : $token;
}

sub token_name {
    my ($name, $token) = @_;
    my $n = $token_no{$name}{$token} or return 'a token it never issued';
    return "token $n";
}

# the requests a stand-in received since the last call, oldest first:
# { login => 0|1, text => "...", record => {...} }

sub partner_requests {
    my ($name) = @_;

    my $m = $partner{$name} or return;
    my @new;

    for my $r (sort { $a->{seq} <=> $b->{seq} } $m->requests) {
        next if $r->{seq} <= ($partner_seen{$name} // 0);
        $partner_seen{$name} = $r->{seq};

        my $login = $r->{endpoint} ne 'api';

        if ($login && defined $r->{token}) {
            $token_no{$name}{ $r->{token} } //= ++$tokens_issued{$name};
        }

        my $status = $r->{status};
        my $text;

        if ($login) {
            my $body = $r->{body} // '';
            $body =~ s/\s+/ /g;
            $text = "$r->{method} $r->{path} | "
                  . join(' | ', shown_headers($r, 'x-api-key')) . " | $body"
                  . " → $status"
                  . (defined $r->{token}
                     ? ", " . token_name($name, $r->{token}) . ' ('
                       . short_token($r->{token}) . ')'
                     : '');
        } else {
            $text = join ' | ',
                    shown_headers($r, 'Authorization', 'x-api-key');
            $text =~ s{(Bearer (\S+))}
                      {"Bearer " . short_token($2) . " (" . token_name($name, $2) . ")"}ge;
        }

        push @new, { login => $login, text => $text, record => $r };
    }

    return @new;
}

# "Name: value" for every line of these headers, "no Name" when none
sub shown_headers {
    my ($r, @names) = @_;

    my @shown;
    for my $name (@names) {
        my @v = map { $_->[1] } grep { $_->[0] eq lc $name }
                @{ $r->{header_lines} || [] };
        push @shown, @v ? (map { "$name: $_" } @v) : "no $name";
    }

    return @shown;
}


# ---------------------------------------------------------------------------
# 2. The nginx configuration
# ---------------------------------------------------------------------------

sub write_file {
    my ($path, $content, $mode) = @_;

    open my $fh, '>', $path or die "$path: $!\n";
    print $fh $content;
    close $fh;
    chmod $mode, $path;

    return $path;
}

sub write_conf {
    my (%port) = @_;

    mkdir "$DIR/secrets", 0700;

    # file: secrets, one line each, readable by their owner only (nginx -t
    # warns about a secret file that every user can read)
    write_file("$DIR/secrets/amee.password", "$SECRET{amee_password}\n", 0600);
    write_file("$DIR/secrets/nilo.key", "$SECRET{nilo_key}\n", 0600);

    # the AES-256 key that seals tokens in Redis, the same for gateway B
    write_file("$DIR/secrets/redis.key",
               unpack('H*', join '', map { chr int rand 256 } 1 .. 32) . "\n",
               0600);

    # an address file for "include" inside auth_ip_list
    write_file("$DIR/partners.list", <<'LIST', 0644);
# addresses a partner registered: single IPv4 addresses or CIDR blocks
192.0.2.10;
198.51.100.0/24;
198.51.100.66 deny;
LIST

    # workers run as the user who runs this; as root that must be said
    my $user = $> == 0 ? 'user root;' : '';

    write_file("$DIR/nginx.conf", <<"CONF", 0644);
# Written by run/run.pl: the configurations of conf.examples/, pointed at
# local stand-ins over plain http. Real partners: https:// and
# proxy_ssl_verify on, see conf.examples/.

load_module $MODULE;
$user
daemon off;                 # in the foreground, a child of run.pl
worker_processes 2;         # two workers, one token: shared memory
pid       $DIR/nginx.pid;
error_log $DIR/error.log notice;

events {
    worker_connections 128;
}

http {
    client_body_temp_path $DIR/body;
    proxy_temp_path       $DIR/proxy;
    fastcgi_temp_path     $DIR/fastcgi;
    uwsgi_temp_path       $DIR/uwsgi;
    scgi_temp_path        $DIR/scgi;

    # which credential and which list each request used; never a secret
    log_format demo '\$remote_addr "\$request" \$status '
                    'credential=\$credential_name auth_ip=\$auth_ip_list '
                    'upstream=\$upstream_addr worker=\$pid';
    access_log $DIR/access.log demo;

    # --- credentials (conf.examples/critical-mix.conf, amee-basic.conf,
    #     nilo-api-key.conf) -------------------------------------------

    credential criticalmix {
        basic criticalmix env:CRITICALMIX_PASSWORD;
    }

    credential amee {
        basic $SECRET{amee_user} file:$DIR/secrets/amee.password;
    }

    credential nilo {
        header x-api-key file:$DIR/secrets/nilo.key;
    }

    # --- tokens from a login endpoint (conf.examples/nilo.conf), shared
    #     with gateway B through Redis (conf.examples/redis-fleet.conf) --

${\ nilo_token_conf(%port) }
    # a second Nilo account: its stand-in answers every login with
    # 429 Too many requests, Retry-After: 30
    credential nilo_busy {
        header       x-api-key file:$DIR/secrets/nilo.key;

        login        http://127.0.0.1:$port{nilo_busy}/dev/login;
        login_body   json;
        login_param  clientId $SECRET{nilo_client_id}-2;
        login_param  clientSecret env:NILO_CLIENT_SECRET;
        login_header x-api-key file:$DIR/secrets/nilo.key;
        login_wait   1s;            # then 503 (default 5s)

        token_header Authorization "Bearer {token}";
    }

    # --- IP allow lists (conf.examples/ip-allow-list.conf) -------------

    # who may spend the partner credentials: our own hosts
    auth_ip_list internal {
        127.0.0.1;
        10.0.0.0/8;
        10.6.6.6 deny;
    }

    # partners calling our API: nobody who can reach 127.0.0.1 is in it
    auth_ip_list partners {
        include $DIR/partners.list;
        2001:db8:42::/48;
    }

    # --- the gateway ----------------------------------------------------

    server {
        listen 127.0.0.1:$port{gateway};

        auth_ip internal;                       # every location below ...

        location /criticalmix/ {
            credential_inject criticalmix;
            proxy_pass http://127.0.0.1:$port{criticalmix}/;
        }

        location /amee/ {
            credential_inject amee;
            proxy_pass http://127.0.0.1:$port{amee}/;
        }

        location /nilo/ {
            credential_inject nilo;
            proxy_pass http://127.0.0.1:$port{nilo}/;
        }

        location /nilo-token/ {
            credential_inject nilo_token;
            proxy_pass http://127.0.0.1:$port{nilo_token}/dev/;
        }

        location /nilo-busy/ {
            credential_inject nilo_busy;
            proxy_pass http://127.0.0.1:$port{nilo_busy}/dev/;
        }

        location /internal/ {
            proxy_pass       http://127.0.0.1:$port{internal};
            proxy_set_header X-Real-IP \$remote_addr;
        }

        location /partner-api/ {
            auth_ip          partners;              # ... but this one
            proxy_pass       http://127.0.0.1:$port{internal};
            proxy_set_header X-Real-IP \$remote_addr;
        }

        # the credentials' state for people, Prometheus and scripts, and
        # a health check for load balancers (auth_ip internal, as above)
        location = /status {
            credential_status;
        }

        location = /health {
            credential_health;
        }

        location / {
            return 404;
        }
    }

    # --- the same partner API "behind a load balancer" ----------------
    # Here 127.0.0.1 plays the load balancer: connections from it may say
    # who the client is in X-Forwarded-For. On the gateway port above
    # nothing is trusted, so X-Forwarded-For changes nothing there.

    server {
        listen 127.0.0.1:$port{lb};

        set_real_ip_from  127.0.0.1;
        real_ip_header    X-Forwarded-For;
        real_ip_recursive on;

        location /partner-api/ {
            auth_ip          partners;
            proxy_pass       http://127.0.0.1:$port{internal};
            proxy_set_header X-Real-IP \$remote_addr;
        }
    }
}
CONF
}


# ---------------------------------------------------------------------------
# 3. nginx in the foreground
# ---------------------------------------------------------------------------

my $NGINX_STARTED;

sub start_nginx {
    my ($port) = @_;

    $NGINX_STARTED = time;
    $nginx_pid = fork // die "fork: $!\n";

    if ($nginx_pid == 0) {
        # the env: secrets exist in the master's environment only
        $ENV{CRITICALMIX_PASSWORD} = $SECRET{criticalmix_password};
        $ENV{NILO_CLIENT_SECRET}   = $SECRET{nilo_client_secret};
        $ENV{REDIS_PASSWORD}       = $SECRET{redis_password};

        exec $NGINX, '-p', "$DIR/", '-c', "$DIR/nginx.conf",
                     '-e', "$DIR/error.log";
        warn "exec $NGINX: $!\n";
        POSIX::_exit(127);
    }

    # up when it accepts connections; if it exits, show why
    for (1 .. 200) {
        if (waitpid($nginx_pid, WNOHANG) == $nginx_pid) {
            undef $nginx_pid;
            die "nginx did not start:\n" . slurp("$DIR/error.log");
        }

        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp');
        return if $s;

        sleep 0.05;
    }

    die "nginx does not listen on 127.0.0.1:$port:\n"
        . slurp("$DIR/error.log");
}

# The Nilo token credential and its store, the same in both gateways:
# nginx logs in itself (POST /dev/login, JSON clientId/clientSecret, the
# x-api-key on the login call too), keeps the token in shared memory for
# its workers and in Redis for the other gateway, renews it ahead of its
# expiry, and sends it with the x-api-key on every request.

sub nilo_token_conf {
    my (%port) = @_;

    return <<"CONF";
    credential_store zone=demo_tokens:1m redis=127.0.0.1:$port{redis}
                     redis_password=env:REDIS_PASSWORD
                     redis_key=file:$DIR/secrets/redis.key;

    credential nilo_token {
        header       x-api-key file:$DIR/secrets/nilo.key;

        login        http://127.0.0.1:$port{nilo_token}/dev/login;
        login_body   json;
        login_param  clientId $SECRET{nilo_client_id};
        login_param  clientSecret env:NILO_CLIENT_SECRET;
        login_header x-api-key file:$DIR/secrets/nilo.key;

        token_header Authorization "Bearer {token}";
    }
CONF
}

# Gateway B: another nginx (run by the test harness, in the background)
# with the same nilo_token credential and the same Redis and key.

sub start_gateway_b {
    my (%port) = @_;

    my $b = nginx_new(workers => 2,
                      env => { NILO_CLIENT_SECRET => $SECRET{nilo_client_secret},
                               REDIS_PASSWORD => $SECRET{redis_password} },
                      http => <<"CONF");
${\ nilo_token_conf(%port) }
    server {
        listen 127.0.0.1:$port{gateway_b};

        location /nilo-token/ {
            credential_inject nilo_token;
            proxy_pass http://127.0.0.1:$port{nilo_token}/dev/;
        }
    }
CONF

    $b->start($port{gateway_b});

    # its first tick takes the token from Redis
    my $until = time + 5;
    sleep 0.1 until $b->error_log =~ /took the token another node/
                    || time > $until;

    return $b;
}

# what Redis holds: names that say nothing, values nobody can read
sub show_redis {
    my $keys = $redis->cmd('KEYS', '*');

    print "\n   What Redis holds (redis-cli KEYS '*'):\n";

    for my $k (sort @$keys) {
        my $v = $redis->cmd('GET', $k) // '';
        my $ttl = $redis->cmd('PTTL', $k);
        printf "     %s  %d bytes, TTL %ds: %s...\n", $k, length $v,
               $ttl / 1000, unpack('H*', substr($v, 0, 12));
    }

    print "     (AES-256-GCM sealed; the name is an HMAC, it does not name "
        . "Nilo or the client)\n";
}

sub stop_all {
    if ($nginx_pid) {
        # QUIT: finish the requests in flight, then exit
        kill 'QUIT', $nginx_pid;
        wait_child($nginx_pid, 10) or kill 'TERM', $nginx_pid;
        wait_child($nginx_pid, 5) or kill 'KILL', $nginx_pid;
        wait_child($nginx_pid, 5);
        undef $nginx_pid;
    }

    $_->stop for @mocks;
    @mocks = ();

    $_->stop for values %partner;
    %partner = ();

    $gateway_b->stop if $gateway_b;
    undef $gateway_b;
    $redis->stop if $redis;
    undef $redis;
}

sub wait_child {
    my ($pid, $seconds) = @_;

    for (1 .. $seconds * 20) {
        my $rc = waitpid($pid, WNOHANG);
        return 1 if $rc == $pid || $rc == -1;
        sleep 0.05;
    }

    return 0;
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    return <$fh>;
}


# new lines of a log since the last call, per file

my %seen;

sub new_lines {
    my ($path) = @_;

    open my $fh, '<', $path or return;
    seek $fh, $seen{$path} // 0, 0;

    my @lines;
    while (my $line = <$fh>) {
        last unless $line =~ /\n\z/;            # a line still being written
        chomp $line;
        utf8::decode($line);
        push @lines, $line;
        $seen{$path} = tell $fh;
    }

    return @lines;
}

# "2024/11/23 08:50:00 [error] 12#12: *5 auth_ip: ..., client: ..., ..."
# -> "[error] auth_ip: ..."

sub short_error_line {
    my ($line) = @_;

    $line =~ s/^\S+ \S+ (\[\w+\]) \d+#\d+: (?:\*\d+ )?/$1 /;
    $line =~ s/, client: .*$//;

    return $line;
}


# ---------------------------------------------------------------------------
# 4. The demo
# ---------------------------------------------------------------------------

my $http = HTTP::Tiny->new(keep_alive => 0, timeout => 5,
                           agent => 'run.pl-demo');
my ($step, $unexpected) = (0, 0);

sub curl_line {
    my ($url, $headers) = @_;

    my @h = map { my $k = $_;
                  map { "-H '$k: $_'" } ref $headers->{$k}
                                        ? @{ $headers->{$k} }
                                        : $headers->{$k} }
            sort keys %$headers;

    return join ' ', 'curl -s', $url, @h;
}

# One step of the demo: a request (or "count" of them), its answer, what
# the stand-ins received, the error-log lines of the module, and checks.
#
#   url, headers, expect (status), code (errorCode of the JSON body)
#   received  what the one line of mocks.log must say; undef: no request
#             may reach a stand-in (not even one with a login)
#   count     send the request that many times, one after the other
#   before, after   code run before the first request / after the last
#   partner   a stand-in with a login (t/lib/MockPartner.pm): show what it
#             received since the last step that showed it, then check
#   bearer    N: each API request carried exactly one Authorization, the
#             Bearer token of nginx's Nth login there, and the x-api-key
#   logins    how many logins that stand-in has counted after the step
#   headers_shown   response headers to print
#   body      code that turns the answer's body into what is printed
#   note      text (or code returning text) printed at the end

sub demo {
    my (%d) = @_;

    return if $stop;

    $step++;
    new_lines("$DIR/mocks.log");
    new_lines("$DIR/error.log");

    $d{before}->() if $d{before};

    my $sent = time;
    my $count = $d{count} || 1;
    my (@res, $res);

    for (1 .. $count) {
        $res = $http->request('GET', $d{url},
                              { headers => $d{headers} || {} });
        push @res, $res;
    }

    $d{after}->() if $d{after};

    my $body = $res->{content} // '';
    $body = $d{body}->($body) if $d{body};
    $body =~ s/\s*\n\s*/ /g;
    $body =~ s/\s+$//;
    $body = substr($body, 0, 120) . ' …' if length $body > 122;

    # what the stand-in received: "Authorization: ..." (or nothing at all)
    my @received;
    for my $line (new_lines("$DIR/mocks.log")) {
        my ($who, $what) = $line =~ /^(\S+).*? \| (.*)$/ or next;
        push @received, [$who, $what];
    }

    # the same for a stand-in with a login, and the logins nginx made
    my @partner = $d{partner} ? partner_requests($d{partner}) : ();
    my @api = grep { !$_->{login} } @partner;

    my @wrong;
    for my $r (@res) {
        next if $r->{status} == $d{expect};
        push @wrong, "status $r->{status}, expected $d{expect}";
        last;
    }
    push @wrong, "errorCode is not $d{code}"
        if $d{code} && $body !~ /"errorCode":\s*"\Q$d{code}\E"/;
    push @wrong, "the stand-in should have received \"$d{received}\""
        if defined $d{received}
           && !(@received == 1 && $received[0][1] eq $d{received});
    push @wrong, "no request should have reached a stand-in"
        if exists $d{received} && !defined $d{received}
           && (@received || @api);

    if ($d{partner} && defined $d{bearer}) {
        my %token = reverse %{ $token_no{ $d{partner} } || {} };
        my $want = $token{ $d{bearer} };

        push @wrong, "the $d{partner} stand-in should have received "
                     . "$count request(s), not " . scalar(@api)
            if @api != $count;
        push @wrong, "no token $d{bearer} was issued" unless defined $want;

        for my $p (@api) {
            my $r = $p->{record};
            my @auth = map { $_->[1] } grep { $_->[0] eq 'authorization' }
                       @{ $r->{header_lines} };
            my @key = map { $_->[1] } grep { $_->[0] eq 'x-api-key' }
                      @{ $r->{header_lines} };

            if (!defined $want || @auth != 1 || $auth[0] ne "Bearer $want"
                || @key != 1 || $key[0] ne $SECRET{nilo_key})
            {
                push @wrong, "the $d{partner} stand-in should have received "
                             . "exactly the x-api-key and the Bearer token "
                             . "$d{bearer}";
                last;
            }
        }
    }

    if ($d{partner} && defined $d{logins}) {
        my $n = $partner{ $d{partner} }->logins('login');
        push @wrong, "the $d{partner} stand-in counted $n logins, "
                     . "expected $d{logins}"
            if $n != $d{logins};
    }

    $unexpected++ if @wrong;

    my $curl = curl_line($d{url}, $d{headers} || {});
    $curl = "for i in " . join(' ', 1 .. $count) . "; do $curl; echo; done"
        if $count > 1;

    printf "\n%2d. %s\n", $step, $d{title};
    print "    \$ $curl\n";
    printf "    → %s%s  %s\n",
        join(' ', map { $_->{status} } @res),
        $res->{status} == 599 ? " ($res->{reason})" : '', $body;

    for my $h (@{ $d{headers_shown} || [] }) {
        my $v = $res->{headers}{lc $h};
        print "      $h: ", (ref $v ? join(', ', @$v) : $v // '(none)'), "\n";
    }

    for (@received) {
        my ($who, $what) = @$_;
        $what =~ s{(Basic ([A-Za-z0-9+/=]+))}
                  {"$1 (" . decode_base64($2) . ")"}ge;
        print "      the $who stand-in received  $what\n";
    }

    # identical lines once, with a count
    my @lines;
    for my $p (@partner) {
        my $r = $p->{record};
        my $line = $p->{login}
            ? sprintf("nginx %s, %.2f s after it started:  %s",
                      $r->{status} eq '200' ? 'logged in' : 'tried to log in',
                      $r->{time} - $NGINX_STARTED, $p->{text})
            : "the $d{partner} stand-in received  $p->{text}";

        if (@lines && $lines[-1][0] eq $line) {
            $lines[-1][1]++;
        } else {
            push @lines, [$line, 1];
        }
    }

    for (@lines) {
        my ($line, $n) = @$_;
        $line =~ s/ received  / received ($n times)  / if $n > 1;
        print "      $line\n";
    }

    for my $line (new_lines("$DIR/error.log")) {
        print "      error log: ", short_error_line($line), "\n"
            if $line =~ /auth_ip:|credential "/;
    }

    my $note = ref $d{note} ? $d{note}->(\@partner, $sent) : $d{note};
    print "      $note\n" if $note;
    print "      ✘ UNEXPECTED: $_\n" for @wrong;
}

# the Nilo stand-in echoes the request, token included: show the gist
sub nilo_echo {
    my ($body) = @_;

    my $j = eval { JSON::PP->new->decode($body) };
    return $body unless ref $j eq 'HASH' && $j->{ok};

    return qq({"ok":true,"method":"$j->{method}","path":"$j->{path}",)
         . qq(...}  (the stand-in's echo, shortened));
}


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------

my %port;

$port{criticalmix} = start_mock('criticalmix', ['Authorization'],
                                \&critical_mix);
$port{amee}        = start_mock('amee', ['Authorization'], \&amee);
$port{nilo}        = start_mock('nilo', ['x-api-key'], \&nilo);
$port{internal}    = start_mock('internal', ['X-Real-IP'], \&internal);

# Nilo with its login (seed 001); tokens valid 5 minutes, so that the
# background renewal shows below the demo after 4 minutes
$port{nilo_token}  = start_partner('nilo-token',
                         client_id      => $SECRET{nilo_client_id},
                         client_secret  => $SECRET{nilo_client_secret},
                         token_lifetime => 300);

# a second account, whose logins Nilo rate-limits ("Rate Limiting:
# Authentication requests may be rate-limited")
$port{nilo_busy}   = start_partner('nilo-busy',
                         status => 429, retry_after => 30);
$port{gateway}     = free_port();
$port{lb}          = free_port();
$port{gateway_b}   = free_port();

# Redis, shared by the two gateways; the key that seals tokens in it
$redis = RedisServer->start(password => $SECRET{redis_password});
$port{redis} = $redis->port;
write_conf(%port);
start_nginx($port{gateway});

# The token engine logs in at start-up, before any request: wait for both
# logins (the one that works, the one that gets 429) and for nginx's line
# about the failed one, so that they show here and not inside a step.

$partner{'nilo-token'}->wait_for(
    sub { $partner{'nilo-token'}->count('login:200') >= 1 }, 10);
$partner{'nilo-busy'}->wait_logins(1, 10);
$partner{'nilo-busy'}->wait_for(
    sub { slurp("$DIR/error.log") =~ /credential "nilo_busy"/ }, 5);

my @startup = map { short_error_line($_) }
              grep { /credential "/ } new_lines("$DIR/error.log");

# only what happens from now on
new_lines("$DIR/$_") for qw(error.log access.log mocks.log);

my $gw = "http://127.0.0.1:$port{gateway}";
my $lb = "http://127.0.0.1:$port{lb}";
my $cm = "http://127.0.0.1:$port{criticalmix}";
my $bad_basic = 'Basic ' . encode_base64('bad:credentials', '');
my $cm_basic = 'Authorization: Basic '
    . encode_base64("$SECRET{criticalmix_user}:$SECRET{criticalmix_password}", '');

print <<"TEXT";
nginx (pid $nginx_pid) runs $DIR/nginx.conf
with $MODULE
TEXT

print "\nnginx's error log at start-up, about the logins it made itself:\n",
      map { "  $_\n" } @startup
    if @startup;

print <<"TEXT";

Demo
====
TEXT

demo(title  => 'Critical Mix through nginx; the client sends no credentials',
     url    => "$gw/criticalmix/api/v2/members/M0001",
     headers => { Accept => 'application/json',
                  'Accept-Version' => '1.0' },
     expect => 200, received => $cm_basic);

demo(title  => 'Critical Mix through nginx; the client sends its own '
               . 'Authorization (bad:credentials)',
     url    => "$gw/criticalmix/api/v2/members/M0001",
     headers => { Authorization => $bad_basic },
     expect => 200, received => $cm_basic,
     note   => 'the client\'s header was removed, only the gateway\'s '
               . 'reached Critical Mix');

demo(title  => 'The Critical Mix stand-in itself, without nginx and '
               . 'without credentials',
     url    => "$cm/api/v2/members/M0001",
     expect => 401, code => 'authorization-required');

demo(title  => 'The Critical Mix stand-in itself, with wrong credentials',
     url    => "$cm/api/v2/members/M0001",
     headers => { Authorization => $bad_basic },
     expect => 403, code => 'invalid-credentials');

demo(title  => 'AMEE through nginx (password from a file:)',
     url    => "$gw/amee/data",
     headers => { Accept => 'application/json' },
     expect => 200,
     received => 'Authorization: Basic '
                 . encode_base64("$SECRET{amee_user}:$SECRET{amee_password}",
                                 ''));

demo(title  => 'Nilo through nginx; the client tries a key of its own',
     url    => "$gw/nilo/orders",
     headers => { 'X-API-Key' => 'guessed-key' },
     expect => 200, received => "x-api-key: $SECRET{nilo_key}");

demo(title  => 'The Nilo stand-in itself, without the key',
     url    => "http://127.0.0.1:$port{nilo}/orders",
     expect => 401);

demo(title  => 'IP allow list "internal" (127.0.0.1 is in it)',
     url    => "$gw/internal/status",
     expect => 200, received => 'X-Real-IP: 127.0.0.1');

demo(title  => 'IP allow list "partners" (127.0.0.1 is not in it)',
     url    => "$gw/partner-api/orders",
     expect => 403, code => 'ip-not-allowed', received => undef,
     note   => 'nginx answered itself: no request reached the service');

demo(title  => 'The same, claiming a partner address in X-Forwarded-For',
     url    => "$gw/partner-api/orders",
     headers => { 'X-Forwarded-For' => '192.0.2.10' },
     expect => 403, code => 'ip-not-allowed', received => undef,
     note   => 'no set_real_ip_from on this port: the header changes '
               . 'nothing');

demo(title  => 'Behind the "load balancer" (127.0.0.1 trusted), '
               . 'a partner address',
     url    => "$lb/partner-api/orders",
     headers => { 'X-Forwarded-For' => '192.0.2.10' },
     expect => 200, received => 'X-Real-IP: 192.0.2.10');

demo(title  => 'Behind the "load balancer", a client that prepended a '
               . 'partner address',
     url    => "$lb/partner-api/orders",
     headers => { 'X-Forwarded-For' => '192.0.2.10, 203.0.113.9' },
     expect => 403, code => 'ip-not-allowed', received => undef,
     note   => 'real_ip_recursive skips only trusted hops: the client is '
               . '203.0.113.9');

# --- the token engine: nginx logs in to Nilo itself --------------------

my $nilo_token = $partner{'nilo-token'};
my $nt = "http://127.0.0.1:$port{nilo_token}";

demo(title  => 'Nilo with a Bearer token that nginx obtained itself; the '
               . 'client sends no credentials',
     url    => "$gw/nilo-token/orders",
     expect => 200, partner => 'nilo-token', bearer => 1, logins => 1,
     body   => \&nilo_echo,
     note   => sub {
         my ($seen, $sent) = @_;
         my ($login) = grep { $_->{login} } @$seen;
         return 'no login was seen' unless $login;
         return $login->{record}{time} < $sent
             ? 'nginx logged in at start-up, before any request needed '
               . 'the token (kept in shared memory, for both workers)'
             : 'the request waited for nginx\'s first login (login_wait)';
     });

demo(title  => 'The same; the client sends a forged Bearer token and a key '
               . 'of its own',
     url    => "$gw/nilo-token/orders",
     headers => { Authorization => 'Bearer forged-by-the-client',
                  'X-API-Key'   => 'guessed-key' },
     expect => 200, partner => 'nilo-token', bearer => 1, logins => 1,
     body   => \&nilo_echo,
     note   => 'the client\'s Authorization and x-api-key were removed; '
               . 'only nginx\'s reached Nilo');

demo(title  => 'Five more requests',
     url    => "$gw/nilo-token/orders",
     count  => 5,
     expect => 200, partner => 'nilo-token', bearer => 1, logins => 1,
     body   => \&nilo_echo,
     note   => sub {
         sprintf 'the stand-in counted 1 login for the %d requests so far; '
                 . 'the next one comes ahead of the token\'s expiry '
                 . '(expires_in 300: after 4 minutes)',
                 $nilo_token->api_calls;
     });

demo(title  => 'The Nilo stand-in itself, with the key but without a token',
     url    => "$nt/dev/orders",
     headers => { 'x-api-key' => $SECRET{nilo_key} },
     expect => 401, partner => 'nilo-token', logins => 1,
     note   => 'Nilo needs both: the Bearer token in the steps above was '
               . 'nginx\'s doing');

demo(title  => 'Nilo ends the token early (the stand-in revokes it): the '
               . 'next request gets Nilo\'s 401',
     url    => "$gw/nilo-token/orders",
     before => sub { $nilo_token->expire_tokens },
     after  => sub {
         # the 401 made nginx log in again, in the background
         $nilo_token->wait_for(sub { $nilo_token->count('login:200') >= 2 },
                               10);
         sleep 0.2;
     },
     expect => 401, partner => 'nilo-token', bearer => 1, logins => 2,
     note   => 'one 401 of the token in use: nginx dropped it and logged '
               . 'in once more; the caller retries');

demo(title  => 'The caller\'s retry',
     url    => "$gw/nilo-token/orders",
     expect => 200, partner => 'nilo-token', bearer => 2, logins => 2,
     body   => \&nilo_echo,
     note   => 'with the new token');

# --- a fleet: gateway B, another nginx, shares the token through Redis --

$gateway_b = start_gateway_b(%port);
my $gb = "http://127.0.0.1:$port{gateway_b}";

demo(title  => 'Gateway B (a second nginx, sharing Redis with the first)',
     url    => "$gb/nilo-token/orders",
     expect => 200, partner => 'nilo-token', bearer => 2, logins => 2,
     body   => \&nilo_echo,
     note   => 'gateway B took the token gateway A stored in Redis: no '
               . 'login of its own, the same token');

show_redis();

demo(title  => 'A second Nilo account, whose logins Nilo rate-limits '
               . '(429, Retry-After: 30)',
     url    => "$gw/nilo-busy/orders",
     expect => 503, code => 'credential-unavailable', received => undef,
     partner => 'nilo-busy', logins => 1,
     headers_shown => ['Retry-After'],
     note   => 'no token: the request waited login_wait (1s), then nginx '
               . 'answered itself; one login try, the next one when Nilo '
               . 'said (Retry-After)');

print "\n", $unexpected
    ? "✘ $unexpected of $step answers were not the expected ones\n"
    : "All $step answers were the expected ones.\n";

# the access log of the demo: $credential_name and $auth_ip_list at work
# (nginx writes the line just after the answer: give it a moment)
sleep 0.2;
print "\nThe access log of these requests (log_format demo):\n",
      map { "  $_\n" } new_lines("$DIR/access.log");
new_lines("$DIR/$_") for qw(error.log mocks.log);

if ($ONCE || $stop) {
    stop_all();
    exit($unexpected ? 1 : 0);
}

print <<"TEXT";

Try it yourself
===============
nginx (pid $nginx_pid):
  gateway                        127.0.0.1:$port{gateway}
  partner API behind an "LB"     127.0.0.1:$port{lb}
stand-ins:
  Critical Mix                   127.0.0.1:$port{criticalmix}   (user criticalmix, password topsecret)
  AMEE                           127.0.0.1:$port{amee}
  Nilo                           127.0.0.1:$port{nilo}
  Nilo with its login            127.0.0.1:$port{nilo_token}   (POST /dev/login; client $SECRET{nilo_client_id})
  Nilo, logins rate-limited      127.0.0.1:$port{nilo_busy}
  internal service               127.0.0.1:$port{internal}
files:
  $DIR/nginx.conf
  secrets: env CRITICALMIX_PASSWORD and NILO_CLIENT_SECRET, $DIR/secrets/

  # Critical Mix through the gateway: no credentials needed; yours are replaced
  curl -i $gw/criticalmix/api/v2/members/M0001
  curl -i -u bad:credentials $gw/criticalmix/api/v2/members/M0001

  # the Critical Mix stand-in directly: its four errors, then success
  curl -i $cm/api/v2/members/M0001
  curl -i -H 'Authorization: OAuth YmFkOmNyZWRlbnRpYWxz' $cm/api/v2/members/M0001
  curl -i -H 'Authorization: Basic !!!' $cm/api/v2/members/M0001
  curl -i -u bad:credentials $cm/api/v2/members/M0001
  curl -i -u criticalmix:topsecret $cm/api/v2/members/M0001

  # AMEE and Nilo through the gateway
  curl -i $gw/amee/data
  curl -i -H 'Accept: application/json' $gw/amee/data
  curl -i -H 'x-api-key: guessed-key' $gw/nilo/orders

  # Nilo with the token engine: nginx logs in itself, renews the token
  # every 4 minutes (expires_in 300), and replaces the client's
  curl -i $gw/nilo-token/orders
  curl -i -H 'Authorization: Bearer forged' $gw/nilo-token/orders
  curl -i $gw/nilo-busy/orders          # 503 credential-unavailable, Retry-After

  # the Nilo stand-in directly: log in as nginx does, then use the token
  curl -s $nt/dev/login -H 'x-api-key: $SECRET{nilo_key}' -H 'Content-Type: application/json' \\
       -d '{"clientId":"$SECRET{nilo_client_id}","clientSecret":"$SECRET{nilo_client_secret}"}'
  curl -i $nt/dev/orders -H 'x-api-key: $SECRET{nilo_key}' -H 'Authorization: Bearer TOKEN'

  # status and metrics: open $gw/status in a browser for the page
  curl -s $gw/status                     # JSON
  curl -s '$gw/status?format=prometheus'
  curl -i $gw/health                     # 200, or 503 naming the credentials

  # IP allow lists: allowed, denied, a forged X-Forwarded-For, behind the "LB"
  curl -i $gw/internal/status
  curl -i $gw/partner-api/orders
  curl -i -H 'X-Forwarded-For: 192.0.2.10' $gw/partner-api/orders
  curl -i -H 'X-Forwarded-For: 192.0.2.10' $lb/partner-api/orders
  curl -i -H 'X-Forwarded-For: 198.51.100.66' $lb/partner-api/orders
  curl -i -H 'X-Forwarded-For: 192.0.2.10, 203.0.113.9' $lb/partner-api/orders

Below: the access log, nginx's error log and what the stand-ins receive,
as it happens. Ctrl-C stops nginx and the stand-ins.

TEXT

# in the order things happen to a request: nginx's error log (a denied
# client), the stand-in (the proxied request), the access log (the end)

my %tag = ('error.log' => 'nginx', 'mocks.log' => 'stand-in',
           'access.log' => 'access');

until ($stop) {
    for my $file (qw(error.log mocks.log access.log)) {
        for my $line (new_lines("$DIR/$file")) {
            $line = short_error_line($line) if $file eq 'error.log';
            printf "  %-8s  %s\n", $tag{$file}, $line;
        }

        next unless $file eq 'mocks.log';

        # the Nilo stand-ins with a login: logins (nginx's, in the
        # background, or yours) and API requests
        for my $name (sort keys %partner) {
            for my $p (partner_requests($name)) {
                my $r = $p->{record};
                printf "  %-8s  %-12s %s\n", 'stand-in', $name,
                    $p->{login}
                    ? "login: $p->{text}"
                    : "$r->{method} $r->{uri} → $r->{status} | $p->{text}";
            }
        }
    }

    if ($nginx_pid && waitpid($nginx_pid, WNOHANG) == $nginx_pid) {
        print "nginx exited (status ", $? >> 8, "):\n",
              map { "  $_\n" } new_lines("$DIR/error.log");
        undef $nginx_pid;
        last;
    }

    sleep 0.1;
}

print "\nstopping nginx and the stand-ins ...\n";
stop_all();
print "stopped; $DIR removed\n";

exit 0;
