#!/usr/bin/env bash
# Starts a node on embedded defaults with a populated demo marketplace:
# installs only what running needs (podman and friends, busybox-static for
# the offline sample images), builds the sample images and `archy` if
# needed, then runs `archy node run --demo` in a data directory of its own
# (.cache/demo-node, kept between runs) until Ctrl-C. It prints the API's
# address and where its token is; `archy market list` and `archy app
# install DID/APP` work against it from another terminal with
# `--data-dir .cache/demo-node`.
#
#   scripts/demo.sh [archy node run flags...]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --run
export CONTAINERS_CONF="$PWD/scripts/containers.conf"
for app in hello-web notes duo; do
    [ -f "apps/$app/image.tar" ] || { apps/build-images.sh; break; }
done
cargo build --quiet --release --bin archy
data=${ARCHY_DATA_DIR:-$PWD/.cache/demo-node}
mkdir -p "$data"
echo "data directory: $data"
exec target/release/archy node run --data-dir "$data" --demo --demo-apps "$PWD/apps" "$@"
