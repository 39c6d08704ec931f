#!/usr/bin/env bash
# Checks that the README's two set-up commands build burn once: run after
# `cargo test --workspace`, it builds what `cargo run -p trainer` builds and fails if that
# compiles any burn or cubecl crate again. Such a rebuild means a crate under burn got
# other features from the trainer alone than from the whole workspace with its
# dev-dependencies (in either the target or the build-host graph), and everything above
# it is built twice: tens of minutes on a fresh machine. The fix is a line in
# trainer/Cargo.toml's feature-unification block, or a feature the workspace need not
# turn on (as insta's `redactions`, which brought pest into the host graph).
set -euo pipefail
cd "$(dirname "$0")/.."

rebuilt=$(
    cargo build --locked -p trainer --message-format=json |
        grep '"reason":"compiler-artifact"' |
        grep '"fresh":false' |
        grep -oE '#(burn|cubecl)[a-z0-9_-]*@[^"]*' |
        sort -u || true
)
if [ -n "$rebuilt" ]; then
    echo "burn is built twice: \`cargo run -p trainer\` compiled again what" \
        "\`cargo test --workspace\` had built:" >&2
    echo "$rebuilt" >&2
    echo "Compare \`cargo tree -e features\` of both; unify the differing crates in" \
        "trainer/Cargo.toml." >&2
    exit 1
fi
echo "cargo run -p trainer reuses the burn that cargo test --workspace built"
