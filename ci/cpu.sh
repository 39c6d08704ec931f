#!/usr/bin/env bash
# The CPU job: format, lints, then the README's test command, with wgpu over Mesa's lavapipe.
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
