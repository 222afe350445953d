#!/usr/bin/env bash
# Instruction count of the bench batch: the suite's gradients, each fed
# 200 times to one REPL, under callgrind. Instruction counts repeat exactly
# for the same binary and input, unlike wall time on a shared machine, so
# they decide whether a change made the pipeline slower (bench/NOTES.md).
#
#   bench/callgrind.sh [path/to/matcalc]   (default: the profiling build)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-}"
if [ -z "$bin" ]; then
    cargo build --quiet --profile profiling
    bin=target/profiling/matcalc
fi
script=$(mktemp)
out=$(mktemp)
trap 'rm -f "$script" "$out"' EXIT
grep -v '^#' bench/suite.tsv | while IFS=$'\t' read -r _name expr var _sympy _shapes; do
    for _ in $(seq 200); do
        printf 'grad %s wrt %s\n' "$expr" "$var"
    done
done > "$script"
log=$(valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" repl < "$script" 2>&1 > /dev/null)
total=$(printf '%s\n' "$log" | sed -n 's/.*Collected : //p' | tail -n 1)
echo "instructions: $total ($(wc -l < "$script") statements)"
