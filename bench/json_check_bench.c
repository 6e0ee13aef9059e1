
/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The JSON checker alone, without nginx: checks the text of a file, in
 * one part, iterations times in each of rounds rounds, by one of its
 * builds (ngx_edge_auth_json_scan_avx2: 0 SSE2, 1 the one-pass AVX2
 * build, 2 and 3 the block checker for AVX2 and AVX-512BW), and prints
 * the fastest round's time a check in us.  bench/body_bench.py builds it
 * with nginx's flags and runs it beside bench/json_simdjson.cpp, and
 * under callgrind.
 *
 *   json_check_bench FILE MODE ITERATIONS ROUNDS
 */


#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/types.h>

#include "ngx_edge_auth_json_scan.h"


int
main(int argc, char **argv)
{
    int                         mode, rc;
    long                        i, r, iterations, rounds;
    FILE                       *f;
    size_t                      n;
    double                      us, best;
    u_char                     *text;
    struct timespec             t0, t1;
    ngx_edge_auth_json_part_t   part;

    if (argc != 5) {
        fprintf(stderr, "usage: %s FILE MODE ITERATIONS ROUNDS\n", argv[0]);
        return 2;
    }

    f = fopen(argv[1], "rb");
    text = malloc(1 << 24);

    if (f == NULL || text == NULL) {
        perror(argv[1]);
        return 2;
    }

    n = fread(text, 1, 1 << 24, f);
    fclose(f);

    mode = atoi(argv[2]);
    iterations = atol(argv[3]);
    rounds = atol(argv[4]);

    part.pos = text;
    part.last = text + n;

    /* the first call asks the processor; the mode asked for then */

    rc = ngx_edge_auth_json_scan(&part, 1, NULL, NULL);

    if (mode > ngx_edge_auth_json_scan_avx2) {
        fprintf(stderr, "mode %d: the processor has %d at most\n", mode,
                ngx_edge_auth_json_scan_avx2);
        return 3;
    }

    ngx_edge_auth_json_scan_avx2 = mode;
    best = 0;

    for (r = 0; r < rounds; r++) {
        clock_gettime(CLOCK_MONOTONIC, &t0);

        for (i = 0; i < iterations; i++) {
            rc |= ngx_edge_auth_json_scan(&part, 1, NULL, NULL);
        }

        clock_gettime(CLOCK_MONOTONIC, &t1);

        us = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec))
             / 1e3 / iterations;

        if (r == 0 || us < best) {
            best = us;
        }
    }

    if (rc != NGX_EDGE_AUTH_JSON_OBJECT) {
        fprintf(stderr, "%s: not a valid JSON object (%d)\n", argv[1], rc);
        return 1;
    }

    printf("%.3f\n", best);

    return 0;
}
