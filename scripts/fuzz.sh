#!/usr/bin/env bash
# Runs each fuzz target in turn for SECONDS (default 60) and prints, per
# target, the CPU seconds used, the corpus size and the crashes found.
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Corpora grow in fuzz/corpus/<target>/ (seeded by scripts/fuzz-seeds.sh
# when missing); crashing inputs land in fuzz/artifacts/<target>/.
# TARGETS (space-separated) runs only those; CARGO_LOCK names a lock file
# the build is run under (flock), for machines that share their cores.
# Not part of CI.
#
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
[ -d fuzz/corpus ] || scripts/fuzz-seeds.sh >/dev/null
build=(cargo +nightly fuzz build --sanitizer none --debug-assertions)
if [ -n "${CARGO_LOCK:-}" ]; then
    build=(flock "$CARGO_LOCK" "${build[@]}")
fi
(cd fuzz && "${build[@]}")
bin=fuzz/target/x86_64-unknown-linux-gnu/release
targets=${TARGETS:-$(cd fuzz && cargo +nightly fuzz list)}
summary=()
for t in $targets; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    before=$(find "fuzz/artifacts/$t" -type f | wc -l)
    start=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
    # one process; a unit slower than 10 s is a hang, over 2 GiB an OOM
    "$bin/$t" "fuzz/corpus/$t" -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="fuzz/artifacts/$t/" \
        -print_final_stats=1 >"fuzz/artifacts/$t.log" 2>&1 || true
    end=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
    cpu=$(((end - start) / $(getconf CLK_TCK)))
    files=$(find "fuzz/corpus/$t" -type f | wc -l)
    bytes=$(du -sk "fuzz/corpus/$t" | cut -f1)
    crashes=$(($(find "fuzz/artifacts/$t" -type f | wc -l) - before))
    line=$(printf '%-24s cpu %5ds  corpus %6d files %7d KiB  crashes %d' \
        "$t" "$cpu" "$files" "$bytes" "$crashes")
    echo "$line"
    summary+=("$line")
done
echo
printf '%s\n' "${summary[@]}"
