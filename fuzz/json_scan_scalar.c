
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The JSON checker again, built for its word-at-a-time path under other
 * names, beside the SSE2 build: the fuzzer and t/14-json-scan.t compare
 * the two on the same texts.
 */


#define NGX_EDGE_AUTH_JSON_SCALAR  1

#define ngx_edge_auth_json_scan       ngx_edge_auth_json_scan_scalar
#define ngx_edge_auth_json_key_fold   ngx_edge_auth_json_key_fold_scalar
#define ngx_edge_auth_json_scan_path  ngx_edge_auth_json_scan_path_scalar
#define ngx_edge_auth_json_scan_avx2  ngx_edge_auth_json_scan_avx2_scalar
#define ngx_edge_auth_json_blocks_undecided                                  \
    ngx_edge_auth_json_blocks_undecided_scalar
#define ngx_edge_auth_json_blocks_compact                                    \
    ngx_edge_auth_json_blocks_compact_scalar

#include "ngx_edge_auth_json_scan.c"
