#!/usr/bin/perl

# The pure C parts of IP authentication: the strict address parser and the
# longest-prefix table, checked against a brute-force scan.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use EdgeAuthTest;

run_c_unit('edge_auth_unit', 'ngx_edge_auth_cidr.c', 'ngx_edge_auth_lpm.c');
