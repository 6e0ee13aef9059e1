#!/usr/bin/perl

# The OAuth state codec in pure C: base64url, the issue time, the MAC
# against values computed with openssl, and every answer of the check.
#
# As run_c_unit() in EdgeAuthTest, with libcrypto linked, which that
# helper does not do.

use strict;
use warnings;

use File::Temp qw(tempdir);
use FindBin;

my $test = 'edge_auth_state_unit';
my $root = "$FindBin::Bin/..";
my $dir = tempdir(CLEANUP => 1);
my $bin = "$dir/$test";
my @src = ("$root/t/unit/$test.c", "$root/src/ngx_edge_auth_state.c");
my @flags = ('-Wall', '-Wextra', '-Werror', '-O1', '-g', "-I$root/src");

if (system('cc', @flags, '-fsanitize=address,undefined',
           '-fno-sanitize-recover=all', '-o', $bin, @src, '-lcrypto') != 0)
{
    system('cc', @flags, '-o', $bin, @src, '-lcrypto') == 0
        or do { print "1..1\nnot ok 1 - $test compiles\n"; exit 1 };
}

# exec would skip File::Temp's cleanup of the binary
my $rc = system($bin);
exit($rc == 0 ? 0 : 1);
