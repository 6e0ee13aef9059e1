#!/usr/bin/perl

# Redis Cluster's hash slots (CRC16 and hash tags), pure C: the values
# redis-server's CLUSTER KEYSLOT gives.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use EdgeAuthTest;

run_c_unit('redis_slot_unit', 'ngx_edge_auth_redis_slot.c');
