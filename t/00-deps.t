#!/usr/bin/perl

# Files depend only downward: tools/deps-check on the built module, and
# on small objects made here, to show that it fails on an upward call.

use strict;
use warnings;

use FindBin;
use File::Temp qw(tempdir);
use Test::More;

my $root = "$FindBin::Bin/..";
my $check = "$root/tools/deps-check";
my $objs = $ENV{OBJDIR} || "$root/build/nginx/objs/addon/src";

# objects, and sources (by default none: only the calls are looked at)
sub check {
    my ($dir, $src) = @_;
    $src //= tempdir(CLEANUP => 1);
    my $out = `"$check" "$dir" "$src" 2>&1`;
    return ($? >> 8, $out);
}

# a tree of objects made from C snippets: file name => source
sub objects {
    my (%src) = @_;
    my $dir = tempdir(CLEANUP => 1);

    for my $name (keys %src) {
        open my $fh, '>', "$dir/$name.c" or die "$dir/$name.c: $!";
        print $fh $src{$name};
        close $fh;
        system('cc', '-c', '-o', "$dir/$name.o", "$dir/$name.c") == 0
            or die "cc $name.c failed";
        unlink "$dir/$name.c";
    }

    return $dir;
}

SKIP: {
    skip "no module objects in $objs", 2 unless glob("$objs/*.o");

    my ($rc, $out) = check($objs, "$root/src");
    is($rc, 0, 'the module has no upward call or include') or diag $out;
    like($out, qr/all downward/, 'and says so');
}

my $renew = 'void ngx_http_credential_renew_soon(void) {}' . "\n";

my ($rc, $out) = check(objects(
    ngx_http_credential_renew => $renew
        . "void ngx_http_credential_fleet_publish(void);\n"
        . "void f(void) { ngx_http_credential_fleet_publish(); }\n",
    ngx_http_credential_fleet =>
        "void ngx_http_credential_fleet_publish(void) {}\n"));
is($rc, 0, 'a downward call passes') or diag $out;

($rc, $out) = check(objects(
    ngx_http_credential_renew => $renew,
    ngx_http_credential_fleet =>
        "void ngx_http_credential_renew_soon(void);\n"
        . "void ngx_http_credential_fleet_publish(void) "
        . "{ ngx_http_credential_renew_soon(); }\n"));
isnt($rc, 0, 'an upward call within a layer fails');
my $want = 'ngx_http_credential_fleet (token lifecycle) calls '
           . 'ngx_http_credential_renew_soon() of ngx_http_credential_renew '
           . '(token lifecycle): an upward call';
like($out, qr/\Q$want\E/,
     'and names the caller, the function and its file');

($rc, $out) = check(objects(
    ngx_edge_auth_store => "void ngx_http_credential_ctx(void);\n"
        . "void ngx_edge_auth_store_lock(void) "
        . "{ ngx_http_credential_ctx(); }\n",
    ngx_http_credential_ctx => "void ngx_http_credential_ctx(void) {}\n"));
isnt($rc, 0, 'a call from the store up to the request state fails');
$want = 'ngx_edge_auth_store (clients and store) calls '
        . 'ngx_http_credential_ctx() of ngx_http_credential_ctx '
        . '(request state)';
like($out, qr/\Q$want\E/, 'across layers too');

($rc, $out) = check(objects(
    ngx_edge_auth_cidr => "void ngx_palloc(void);\n"
        . "void ngx_edge_auth_cidr_parse(void) { ngx_palloc(); }\n"));
isnt($rc, 0, 'a pure parser that calls nginx fails');
like($out, qr/calls nginx's ngx_palloc/, 'and says which function');

($rc, $out) = check(objects(
    ngx_http_credential_newfile => "void g(void) {}\n"));
isnt($rc, 0, 'a file in no layer fails');
like($out, qr/ngx_http_credential_newfile\.o is in no layer/,
     'and is named');

# an include is a dependency too

my $src = tempdir(CLEANUP => 1);
open my $fh, '>', "$src/ngx_http_credential_fleet.h" or die;
print $fh qq{#include "ngx_edge_auth.h"\n},
          qq{#include "ngx_http_credential_fleet.h"\n},
          qq{#include "ngx_edge_auth_store.h"\n};
close $fh;

($rc, $out) = check(objects(ngx_http_credential_fleet => "void h(void) {}\n"),
                    $src);
is($rc, 0, 'nginx\'s headers, its own and lower ones may be included')
    or diag $out;

open $fh, '>>', "$src/ngx_http_credential_fleet.h" or die;
print $fh qq{#include "ngx_http_credential_renew.h"\n};
close $fh;

($rc, $out) = check(objects(ngx_http_credential_fleet => "void h(void) {}\n"),
                    $src);
isnt($rc, 0, 'an upward include fails');
$want = 'ngx_http_credential_fleet.h (token lifecycle) includes '
        . 'ngx_http_credential_renew.h (token lifecycle): an upward '
        . 'dependency';
like($out, qr/\Q$want\E/, 'and names both files');

done_testing();
