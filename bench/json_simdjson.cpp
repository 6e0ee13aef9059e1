/*
 * Copyright (C) The ngx_http_credential_module authors
 *
 * The peer of bench/json_check_bench.c: simdjson (Debian's libsimdjson),
 * the fastest JSON parser known, parses the same text into its DOM (its
 * full validation: stage 1 finds the structure with SIMD, stage 2 checks
 * the grammar while it writes its tape), by one of its implementations
 * ("icelake" AVX-512, "haswell" AVX2, "westmere" SSE4.2, "fallback"),
 * iterations times in each of rounds rounds, and prints the fastest
 * round's time a parse in us.
 *
 *   json_simdjson FILE IMPLEMENTATION ITERATIONS ROUNDS
 */

#include <simdjson.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>


int
main(int argc, char **argv)
{
    if (argc != 5) {
        std::fprintf(stderr, "usage: %s FILE IMPLEMENTATION ITERATIONS "
                     "ROUNDS\n", argv[0]);
        return 2;
    }

    auto impl = simdjson::get_available_implementations()[argv[2]];

    if (impl == nullptr || !impl->supported_by_runtime_system()) {
        std::fprintf(stderr, "%s: not on this processor\n", argv[2]);
        return 3;
    }

    simdjson::get_active_implementation() = impl;

    simdjson::padded_string  text;

    if (simdjson::padded_string::load(argv[1]).get(text)) {
        std::perror(argv[1]);
        return 2;
    }

    long  iterations = std::atol(argv[3]);
    long  rounds = std::atol(argv[4]);

    simdjson::dom::parser  parser;
    double                 best = 0;
    long                   bad = 0;

    for (long r = 0; r < rounds; r++) {
        auto  t0 = std::chrono::steady_clock::now();

        for (long i = 0; i < iterations; i++) {
            simdjson::dom::element  doc;

            bad += parser.parse(text).get(doc) != simdjson::SUCCESS;
        }

        auto  t1 = std::chrono::steady_clock::now();
        double us = std::chrono::duration<double, std::micro>(t1 - t0)
                    .count() / iterations;

        if (r == 0 || us < best) {
            best = us;
        }
    }

    if (bad) {
        std::fprintf(stderr, "%s: %ld parses failed\n", argv[1], bad);
        return 1;
    }

    std::printf("%.3f\n", best);

    return 0;
}
