#!/usr/bin/env bash
# The GPU job, for a self-hosted runner with a GPU and its Vulkan driver: the scenario suite
# with the wgpu cases required (a missing adapter fails instead of skipping), then the
# benches, whose report is written to target/bench-report.md for the CI to keep.
set -euo pipefail
cd "$(dirname "$0")/.."

ci/install-deps.sh

printf '\n== cargo test, wgpu required\n'
TRAINER_REQUIRE_WGPU=1 cargo test --workspace --locked

printf '\n== cargo bench\n'
cargo bench --workspace --locked
target_dir="${CARGO_TARGET_DIR:-target}"
cargo run --locked --release -p capture-benches --bin bench-report -- \
    "$target_dir/criterion" | tee "$target_dir/bench-report.md"
