#!/usr/bin/env bash
# The CPU job: format, lints, the README's test command (with wgpu over Mesa's lavapipe),
# one run of each capture bench, then a check that Flowcept's own reader loads a file the
# trainer wrote.
# Runs the same locally, in .ci/run and in GitHub Actions.
set -euo pipefail
cd "$(dirname "$0")/.."

ci/install-deps.sh

step() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

step "the README's two set-up commands build burn once"
ci/check-feature-unification.sh

step "the capture benches run once (criterion --test)"
# The per-event and writer benches, built optimised without the trainer: a broken
# bench fails here rather than on the GPU runner. The training bench needs burn in
# release (tens of minutes cold) and is left to ci/gpu.sh.
cargo bench --locked -p capture-benches --no-default-features -- --test

step "Flowcept's reader loads what the trainer writes"
# Flowcept 1.0.3 and pandas from PyPI in a virtual environment kept beside the target dir.
venv="${FLOWCEPT_VENV:-${CARGO_TARGET_DIR:-target}/flowcept-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "flowcept==1.0.3" pandas
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# The trainer binary that `cargo test --workspace` built for its tests.
trainer="${CARGO_TARGET_DIR:-target}/debug/trainer"
if [ ! -x "$trainer" ]; then
    echo "ci: $trainer is missing; cargo test --workspace should have built it" >&2
    exit 1
fi
"$trainer" \
    --settings ci/flowcept-compat.settings.yaml --out "$scratch/run.jsonl" \
    --run-dir "$scratch/runs" --workflow-params '{"emsize": [100, 200]}' --workers 2
"$venv/bin/python" ci/flowcept_reads_our_file.py "$scratch/run.jsonl"
