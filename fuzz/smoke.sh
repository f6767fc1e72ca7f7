#!/usr/bin/env bash
# Short fuzzing smoke run: every target for SECONDS (default 60) from the seed corpus.
# Needs a nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly --profile minimal && cargo install cargo-fuzz
# Not part of .ci/run (see docs/FUZZING.md for the time budget); call it from CI if it fits.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECONDS_PER_TARGET="${1:-60}"
cargo +nightly fuzz build -O -a -s none
for t in csv_reader model_file config; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    "fuzz/target/x86_64-unknown-linux-gnu/release/$t" "fuzz/corpus/$t" "fuzz/seeds/$t" \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -timeout=20 -max_len=65536 -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/"
done
