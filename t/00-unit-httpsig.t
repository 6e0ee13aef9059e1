#!/usr/bin/perl

# HTTP Message Signatures' pure part: RFC 9421 Appendix B.2.5 (hmac-sha256)
# and B.2.6 (ed25519) vectors, an RFC 9530 Content-Digest.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use EdgeAuthTest;

run_c_unit('httpsig_unit', 'ngx_edge_auth_httpsig.c');
