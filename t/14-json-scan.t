#!/usr/bin/perl

# The JSON checker that body_json runs on every request body gives
# jansson's verdict on a table of edge cases, 100,000 random texts and
# 3,000 random documents of up to 4 KB (the block checker's 64-byte blocks
# and their carries), whole and cut into parts, by each of its paths (the
# module's choice; SSE2; 8 bytes in a word, built again from
# fuzz/json_scan_scalar.c; the one-pass AVX2 build, and the block checker
# for AVX2 and for AVX-512BW where the processor has them), which report
# the same members; the edges of the fast loops are tested at every offset
# and every cut (t/unit/json_scan_unit.c), under ASan and UBSan where the
# compiler has them.

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
