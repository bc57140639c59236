#!/usr/bin/env bash
# Builds the fuzz corpora under fuzz/corpus/<target>/ from the curated
# seeds in fuzz/seeds/<target>/ and the repository's test data: PromQL
# queries from the .test files, exposition bodies, rule files, config
# files, test blocks. Extra exposition and PromQL test folders may be
# named in EXPOSITION_TESTS and PROMQL_TESTS. Existing corpus files stay.
set -euo pipefail
cd "$(dirname "$0")/.."
C=fuzz/corpus
add() { # add TARGET FILE...: each file under its content hash
    local t=$1
    shift
    mkdir -p "$C/$t"
    for f in "$@"; do
        [ -f "$f" ] || continue
        cp "$f" "$C/$t/$(sha1sum "$f" | cut -c1-40)"
    done
}
add_text() { # add_text TARGET: one seed per stdin line
    local t=$1 line
    mkdir -p "$C/$t"
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        printf '%s' "$line" >"$C/$t/$(printf '%s' "$line" | sha1sum | cut -c1-40)"
    done
}
add_prefixed() { # add_prefixed TARGET BYTE FILE...: the file after a mode byte
    local t=$1 b=$2 tmp
    shift 2
    tmp=$(mktemp)
    for f in "$@"; do
        [ -f "$f" ] || continue
        { printf "\\x$b"; cat "$f"; } >"$tmp"
        add "$t" "$tmp"
    done
    rm -f "$tmp"
}

for d in fuzz/seeds/*/; do
    add "$(basename "$d")" "$d"*
done

# PromQL: the expressions of the `eval` lines and the parser error table
promql_tests=(promql/testdata/*.test)
if [ -n "${PROMQL_TESTS:-}" ]; then
    mapfile -t -O ${#promql_tests[@]} promql_tests < <(find "$PROMQL_TESTS" -name '*.test')
fi
queries=$(mktemp)
sed -n 's/^eval\(_fail\|_warn\|_info\|_ordered\)\{0,1\} \(instant\|range\) \(at\|from\) [^ ]*\( to [^ ]* step [^ ]*\)\{0,1\} //p' \
    "${promql_tests[@]}" | sort -u | head -3000 >"$queries"
cut -f1 promql/testdata/parse_errors_v3.14.tsv | grep -av '^#' >>"$queries" || true
for t in promql_parse promql_roundtrip; do
    add_text "$t" <"$queries"
done
grep -aoh '=~"[^"]*"' "$queries" | sed 's/^=~"//; s/"$//' | sort -u | head -300 | add_text matchers
rm -f "$queries"

# exposition bodies
expo=(benches/data/*.txt)
if [ -n "${EXPOSITION_TESTS:-}" ]; then
    mapfile -t -O ${#expo[@]} expo < <(find "$EXPOSITION_TESTS" -name metrics)
fi
add textparse_prom "${expo[@]}"
add textparse_openmetrics "${expo[@]}"

# configuration, rule files and their templates
add config prometheus.yml contrib/*.yml contrib/*/*.yml
add rules src/rules/testdata/*.yml src/rules/testdata/*/*.yml
grep -ah -A1 -E '^\s+(summary|description|message):' src/rules/testdata/*.yml 2>/dev/null |
    sed -n 's/^\s*[a-z]*: *//p' | tr -d '"' | add_text template || true

# storage files
b=tsdb/testdata/block_v3/01M8AG1J1R5QSEH4394SDN1342
for i in "$b"/index tsdb/testdata/block_v*/*/index; do
    add_prefixed block_index 00 "$i"
    add_prefixed block_index 01 "$i"
done
add_prefixed block 00 "$b"/meta.json
add_prefixed block 01 "$b"/index
add_prefixed block 02 "$b"/chunks
add series_log tsdb/testdata/series_v1/series

for d in "$C"/*/; do
    printf '%-24s %5d files\n' "$(basename "$d")" "$(find "$d" -type f | wc -l)"
done
