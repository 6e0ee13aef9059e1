#!/usr/bin/perl

# The pure C parts (address parser, longest-prefix table) compiled with
# sanitizers and run; the binary prints its own TAP.

use strict;
use warnings;

use File::Temp qw(tempdir);
use FindBin;

my $root = "$FindBin::Bin/..";
my $dir = tempdir(CLEANUP => 1);
my $bin = "$dir/edge_auth_unit";

my @src = ("$root/t/unit/edge_auth_unit.c", "$root/src/ngx_edge_auth_cidr.c",
           "$root/src/ngx_edge_auth_lpm.c");
my @flags = ('-Wall', '-Wextra', '-Werror', '-O1', '-g', "-I$root/src");

my $san = system('cc', @flags, '-fsanitize=address,undefined',
                 '-fno-sanitize-recover=all', '-o', $bin, @src);

if ($san != 0) {
    system('cc', @flags, '-o', $bin, @src) == 0
        or do { print "1..1\nnot ok 1 - unit tests compile\n"; exit 1 };
}

exec $bin or die "exec $bin: $!";
