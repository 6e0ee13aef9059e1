#!/usr/bin/perl

# The JSON checker that body_json runs on every request body gives
# jansson's verdict on a table of edge cases and 200,000 random texts, whole
# and cut into parts, by its three paths (AVX2 where the processor has it,
# SSE2, and 8 bytes in a word, built again from fuzz/json_scan_scalar.c),
# which report the same members; the edges of the fast loops are tested at
# every offset and every cut (t/unit/json_scan_unit.c), under ASan and
# UBSan where the compiler has them.

use strict;
use warnings;

use FindBin;
use File::Temp qw(tempdir);

my $root = "$FindBin::Bin/..";
my $dir = tempdir(CLEANUP => 1);
my @src = ("$root/t/unit/json_scan_unit.c",
           "$root/src/ngx_edge_auth_json_scan.c",
           "$root/fuzz/json_scan_scalar.c");
my @flags = ('-Wall', '-Wextra', '-Werror', '-O1', '-g', "-I$root/src");

if (system('cc', @flags, '-fsanitize=address,undefined',
           '-fno-sanitize-recover=all', '-o', "$dir/json", @src, '-ljansson')
    != 0)
{
    system('cc', @flags, '-o', "$dir/json", @src, '-ljansson') == 0
        or do { print "1..1\nnot ok 1 - json_scan_unit compiles\n"; exit 1 };
}

exec "$dir/json" or die "exec: $!";
