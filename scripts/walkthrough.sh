#!/usr/bin/env bash
# A short tour of what a node can do today, on a fresh machine:
# create a publisher identity, validate the hello-web sample, build its image
# offline, sign it, verify it, and watch a tampered copy get caught.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
export CONTAINERS_CONF="$PWD/scripts/containers.conf"
cargo build --quiet --release --bin archy
archy=$PWD/target/release/archy
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. A new publisher identity (Ed25519 key -> did:key, derived Nostr npub)"
"$archy" key new --out "$work/publisher.key"
did=$("$archy" key show "$work/publisher.key" --json | sed -n 's/.*"did": "\(.*\)".*/\1/p')

step "2. The hello-web sample, published under that identity"
cp -r apps/hello-web "$work/hello-web"
sed -i "s|^publisher: .*|publisher: $did|" "$work/hello-web/manifest.yml"
"$archy" app validate "$work/hello-web"

step "3. Its image, built offline from busybox-static"
apps/build-images.sh hello-web
cp apps/hello-web/image.tar "$work/hello-web/image.tar"

step "4. Sign: image archive -> BLAKE3 + OCI image id, manifest -> signed envelope"
"$archy" app sign "$work/hello-web" --key "$work/publisher.key"

step "5. Verify, requiring this publisher"
"$archy" app verify "$work/hello-web/manifest.signed.json" --publisher "$did"

step "6. A tampered copy is refused"
sed 's/"Hello web"/"Hello w3b"/' "$work/hello-web/manifest.signed.json" > "$work/tampered.json"
if "$archy" app verify "$work/tampered.json"; then
    echo "tampering went unnoticed" >&2
    exit 1
fi
echo "(refused, as it should be)"
