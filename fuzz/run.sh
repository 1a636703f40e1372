#!/usr/bin/env bash
# Run every fuzz target for SECONDS each (default 60). Needs cargo-fuzz and a nightly
# toolchain (the project's setup script installs both); installs nothing itself.
# Seeds come from the golden files; corpora and crashes stay under fuzz/ (git-ignored).
set -euo pipefail
secs="${1:-60}"
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
targets=(parse_whole parse_stream roundtrip)
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    if [ "$t" != roundtrip ]; then
        cp -n ../format-spec/tests/golden/*.wtb "corpus/$t/" 2>/dev/null || true
    fi
done
status=0
for t in "${targets[@]}"; do
    echo "== fuzz target $t for ${secs}s"
    # -rss_limit_mb bounds memory; any leak/OOM/timeout/panic is a failure.
    if ! cargo +nightly fuzz run "$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
        -print_final_stats=1 2>&1 | tee "/tmp/fuzz-$t.log" | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+== ERROR|SUMMARY|Done)" ; then
        :
    fi
    if grep -qE "ERROR: libFuzzer|panicked|SUMMARY: " "/tmp/fuzz-$t.log"; then
        echo "!! $t found a crash: see /tmp/fuzz-$t.log and fuzz/artifacts/$t/"
        status=1
    fi
done
exit $status
