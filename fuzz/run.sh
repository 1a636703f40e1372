#!/usr/bin/env bash
# Run every fuzz target for SECONDS each (default 60). Needs cargo-fuzz and the pinned nightly
# (scripts/nightly.sh) (the project's setup script installs both); installs nothing itself.
# Seeds come from the golden files and the committed regression files (format-spec/tests/
# regress/*.wtb: inputs that once broke a target or its checks, kept so every run starts from
# them); corpora and crashes stay under fuzz/ (git-ignored).
set -euo pipefail
secs="${1:-60}"
cd "$(dirname "$0")"
source ../scripts/nightly.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
targets=(parse_whole parse_stream roundtrip run_program)
mkdir -p corpus/parse_whole corpus/parse_stream corpus/roundtrip corpus/run_program
for f in ../format-spec/tests/golden/*.wtb ../format-spec/tests/regress/*.wtb; do
    b=$(basename "$f")
    cp -n "$f" "corpus/parse_whole/$b"
    # parse_stream inputs start with 8 control bytes (see its source).
    [ -e "corpus/parse_stream/$b" ] || { printf '\x00\x07\x01\x00\x40\xff\x03\x90'; cat "$f"; } > "corpus/parse_stream/$b"
    [ -e "corpus/parse_stream/fixed-$b" ] || { printf '\x01\x01\x05\x00\x20\x81\x02\x11'; cat "$f"; } > "corpus/parse_stream/fixed-$b"
done
status=0
for t in "${targets[@]}"; do
    echo "== fuzz target $t for ${secs}s"
    # -rss_limit_mb bounds memory; any leak/OOM/timeout/panic is a failure.
    if ! cargo "+$NIGHTLY" fuzz run "$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
        -print_final_stats=1 2>&1 | tee "/tmp/fuzz-$t.log" | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+== ERROR|SUMMARY|Done)" ; then
        :
    fi
    if grep -qE "ERROR: libFuzzer|panicked|SUMMARY: " "/tmp/fuzz-$t.log"; then
        echo "!! $t found a crash: see /tmp/fuzz-$t.log and fuzz/artifacts/$t/"
        status=1
    elif ! grep -qE "^stat::number_of_executed_units: *[1-9]" "/tmp/fuzz-$t.log"; then
        # No final stats means the target never ran to its time limit (build failure, killed,
        # crashed before libFuzzer's report): that is a failed run, not a clean one.
        echo "!! $t did not finish its run (no final stats): see /tmp/fuzz-$t.log"
        status=1
    fi
done
exit $status
