#!/usr/bin/perl

# One version: VERSION is what config compiles in; debian/changelog (the
# package's version) and the first entry of CHANGES must say the same, so
# a new VERSION without its changelog entries fails here, not in make deb.

use strict;
use warnings;

use FindBin;
use Test::More;

my $root = "$FindBin::Bin/..";

sub slurp {
    my ($f) = @_;
    open(my $fh, '<', "$root/$f") or die "$f: $!";
    local $/;
    return <$fh>;
}

my $version = slurp('VERSION');
chomp $version;
like($version, qr/^\d+\.\d+\.\d+$/, "VERSION is x.y.z ($version)");

my ($deb) = slurp('debian/changelog')
    =~ /^libnginx-mod-http-credential \(([^)]+)\)/;
is($deb, $version, 'debian/changelog starts with VERSION');

my ($changes) = slurp('CHANGES')
    =~ /^Changes with ngx_http_credential_module (\S+)\s+\d\d \w\w\w \d{4}$/m;
is($changes, $version, 'CHANGES starts with VERSION');

like(slurp('config'), qr{cat \$ngx_addon_dir/VERSION},
     'config reads VERSION');

done_testing();
