#!/usr/bin/env bash
# The project's test command (README, CI): installs what the tests need,
# checks formatting, lints and dependency advisories, builds the sample
# images, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
export CONTAINERS_CONF="$PWD/scripts/containers.conf"
export ARCHY_PYTHON="$PWD/.cache/python/bin/python"
export ARCHY_NOSTR_RS_RELAY="$PWD/.cache/nostr-rs-relay/bin/nostr-rs-relay"
export ARCHY_SENDME="$(command -v sendme || echo "${CARGO_HOME:-$HOME/.cargo}/bin/sendme")"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo audit"
# Against the copy of the RustSec database kept beside the repository (the
# machines cannot fetch it). .cargo/audit.toml fails the run on any finding
# not listed there with its reason.
for lock in Cargo.lock fuzz/Cargo.lock; do
    cargo audit --db ../shared/advisory-db --no-fetch --file "$lock"
done
echo "== benchmarks build (criterion benches and archy-bench; not run here)"
cargo bench --workspace --no-run --locked
echo "== fuzz targets build"
cargo check --quiet --manifest-path fuzz/Cargo.toml --locked
echo "== sample app images"
apps/build-images.sh
echo "== cargo test"
cargo test --workspace --locked
