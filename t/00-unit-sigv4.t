#!/usr/bin/perl

# AWS Signature Version 4's pure part: AWS's published signing-key example
# and test-suite vectors, the canonical path and query.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use EdgeAuthTest;

run_c_unit('sigv4_unit', 'ngx_edge_auth_sigv4.c');
