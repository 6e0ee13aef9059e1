#!/usr/bin/perl

# The OAuth state codec in pure C: base64url, the issue time, the MAC
# against values computed with openssl, and every answer of the check.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use EdgeAuthTest;

run_c_unit('edge_auth_state_unit', 'ngx_edge_auth_state.c');
