#!/usr/bin/perl

# The token engine's pure C parsers: HTTP answers of login endpoints and
# ISO-8601 expiry dates.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use EdgeAuthTest;

run_c_unit('token_unit', 'ngx_edge_auth_http_parse.c',
           'ngx_edge_auth_iso8601.c');
