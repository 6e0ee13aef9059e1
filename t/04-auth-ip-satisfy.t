#!/usr/bin/perl

# "satisfy any": an access module that runs before auth_ip and allows the
# request ends the access phase.  A dynamic module loaded after this one
# does (here: lua's access_by_lua); auth_ip still denies, from its
# precontent re-check.  Such a module's rewrite handler would also run
# before the gate (rewrite_by_lua_no_postpone; in a static build lua
# registers its handlers after this module): the gate moves itself to the
# start of the rewrite phase.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EdgeAuthTest;

my $mods = '/usr/lib/nginx/modules';

plan skip_all => 'libnginx-mod-http-lua is not installed'
    unless -f "$mods/ngx_http_lua_module.so" && -f "$mods/ndk_http_module.so";

my $port = free_port();

my $n = nginx_new(main => "load_module $mods/ndk_http_module.so;\n"
                          . "load_module $mods/ngx_http_lua_module.so;",
                  http => <<"CONF");
    rewrite_by_lua_no_postpone on;

    auth_ip_list nobody { 203.0.113.1; }
    auth_ip_list loopback { 127.0.0.1; }

    server {
        listen 127.0.0.1:$port;

        location /denied {
            satisfy any;
            access_by_lua_block { ngx.exit(ngx.OK) }
            auth_ip nobody;
            proxy_pass http://127.0.0.1:$port/ok;
        }

        location /allowed {
            satisfy any;
            access_by_lua_block { ngx.exit(ngx.OK) }
            auth_ip loopback;
            proxy_pass http://127.0.0.1:$port/ok;
        }

        location /rewrite-denied {
            rewrite_by_lua_block { ngx.say("secret") return ngx.exit(200) }
            auth_ip nobody;
        }

        location /rewrite-allowed {
            rewrite_by_lua_block { ngx.say("secret") return ngx.exit(200) }
            auth_ip loopback;
        }

        location = /ok {
            return 200 "reached\\n";
        }
    }
CONF

my ($ok, $out) = $n->test_config;

plan skip_all => "the lua module does not load here: $out" unless $ok;

$n->start($port);

my $r = http_request($port, "GET /denied HTTP/1.1\nHost: a\nConnection: close\n\n");
is($r->{status}, 403, 'satisfy any, another module allowed first: still 403');
like($r->{body}, qr/"errorCode":"ip-not-allowed"/, 'with the JSON body');

$r = http_request($port, "GET /allowed HTTP/1.1\nHost: a\nConnection: close\n\n");
is($r->{status}, 200, 'an allowed address passes');
is($r->{body}, "reached\n", 'and reaches the upstream');

$r = http_request($port, "GET /rewrite-denied HTTP/1.0\nHost: a\n\n");
is($r->{status}, 403, 'a module answering in the rewrite phase: 403');
unlike($r->{body}, qr/secret/, 'not its answer');

$r = http_request($port, "GET /rewrite-allowed HTTP/1.0\nHost: a\n\n");
is($r->{status}, 200, 'an allowed address gets its answer');
is($r->{body}, "secret\n", 'the answer');

$n->stop;

like($n->error_log, qr/auth_ip: client 127\.0\.0\.1 denied by list "nobody"/,
     'the denial is logged');

done_testing;
