#!/usr/bin/env bash
# Counts the instructions of one default campaign with capture off and at each capture
# level (valgrind's callgrind, all threads), and prints each level's count over capture
# off's as a markdown table. Unlike the training bench's timings, the counts do not
# move with the load of a shared machine; they leave out what instructions do not
# show (system calls, waits, cache misses). About five minutes per case on a small
# machine, `JOBS` cases at a time (one per core by default; callgrind runs a program on
# one core, and the counts do not depend on what runs beside it): `CASES="off level-6"`
# picks some. The counts are also left in the criterion folder, where `bench-report`
# finds them.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
# The example trains on the CPU only: wgpu is left out of the build.
cargo build --quiet --profile bench -p capture-benches --no-default-features \
    --features training --example one_campaign
binary="$target_dir/release/examples/one_campaign"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

cases="${CASES:-off level-1 level-2 level-3 level-4 level-5 level-6 level-7}"
# shellcheck disable=SC2016 # expanded by the inner shell
printf '%s\n' $cases | xargs -P "${JOBS:-$(nproc)}" -I '{}' sh -c \
    'valgrind --tool=callgrind --callgrind-out-file="$1/$2.out" "$3" "$2" > "$1/$2.log" 2>&1' \
    count-instructions "$out" '{}' "$binary" || true # a failed case is named below
declare -A count
for case in $cases; do
    count[$case]=$(grep -o 'refs: *[0-9,]*' "$out/$case.log" | tr -dc '0-9')
    if [[ -z "${count[$case]}" ]]; then
        printf 'callgrind did not finish the %s case:\n' "$case" >&2
        tail -n 20 "$out/$case.log" >&2
        exit 1
    fi
    printf '%s: %s instructions\n' "$case" "${count[$case]}" >&2
done

# Left for `bench-report`, which prints them after criterion's results.
criterion_dir="${CRITERION_HOME:-$target_dir/criterion}"
mkdir -p "$criterion_dir"
{
    printf '{"cases": ['
    sep=""
    for case in $cases; do
        printf '%s{"case": "%s", "instructions": %s}' "$sep" "$case" "${count[$case]}"
        sep=", "
    done
    printf ']}\n'
} > "$criterion_dir/training_instructions.json"

printf '| case | instructions | over capture off |\n| --- | ---: | ---: |\n'
for case in $cases; do
    if [[ -n "${count[off]:-}" && "$case" != off ]]; then
        over=$(awk -v a="${count[$case]}" -v b="${count[off]}" \
            'BEGIN { printf "%+.3f %%", (a / b - 1) * 100 }')
    else
        over="–"
    fi
    printf '| %s | %s | %s |\n' "$case" "${count[$case]}" "$over"
done
