#!/usr/bin/env bash
# A short libFuzzer run of every compression fuzz target: never panics, deterministic, never
# grows, protected content survives (the properties live in fuzz/fuzz_targets/*.rs).
# Needs the nightly toolchain; installs cargo-fuzz from crates.io when missing.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-20}"
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: skipped (no nightly toolchain; install it with: rustup toolchain install nightly)"
    exit 0
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz >/dev/null || { echo "fuzz: cannot install cargo-fuzz"; exit 1; }
fi
mkdir -p test-output/fuzz
passed=0 failed=0
for target in $(cargo +nightly fuzz list --fuzz-dir fuzz); do
    log="test-output/fuzz/$target.log"
    if cargo +nightly fuzz run --fuzz-dir fuzz "$target" -- -max_total_time="$seconds" >"$log" 2>&1; then
        runs=$(grep -oE 'Done [0-9]+ runs' "$log" | tail -1)
        echo "fuzz: $target ok (${runs:-no run count}, ${seconds} s)"
        passed=$((passed + 1))
    else
        echo "fuzz: $target FAILED; last lines of $log:"
        tail -30 "$log"
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
