#!/usr/bin/env bash
# A short tour of what a node can do today, on a fresh machine:
# create a publisher identity, validate the hello-web sample, build its image
# offline, sign it, verify it, watch a tampered copy get caught, then publish
# it in a signed catalog (a TUF repository), serve that over HTTP and read it
# back with the TUF client; pack the release into the origin node's blob
# store and fetch it over iroh from the origin, then from a peer once the
# origin has stopped; install that verified release under podman and use it;
# finally rotate the catalog's key.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
export CONTAINERS_CONF="$PWD/scripts/containers.conf"
cargo build --quiet --release --bin archy --bin archy-tuf-client
archy=$PWD/target/release/archy
client=$PWD/target/release/archy-tuf-client
work=$(mktemp -d)
server=""
nodes=()
stop_nodes() { for pid in "${nodes[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; nodes=(); }
trap 'stop_nodes; [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
# `archy node run` in the background; waits for its ticket.
start_node() {
    local data=$1; shift
    "$archy" node run --data-dir "$data" --ticket-file "$data/ticket" "$@" > "$data.log" 2>&1 &
    nodes+=($!)
    for _ in $(seq 100); do [ -s "$data/ticket" ] && break; sleep 0.1; done
    cat "$data.log"
}

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

step "7. A catalog: root lists the publisher's did:key; the release becomes a TUF target"
"$archy" catalog init "$work/catalog" --key "$work/publisher.key"
"$archy" catalog add "$work/catalog" "$work/hello-web/manifest.signed.json" --key "$work/publisher.key"
"$archy" catalog show "$work/catalog"

step "8. Serve it over HTTP and read it with the TUF client (spec workflow, section 5)"
"$archy" catalog serve "$work/catalog" --http 127.0.0.1:0 > "$work/serve.log" &
server=$!
for _ in $(seq 50); do grep -q http:// "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
base=$(grep -o 'http://[0-9.:]*' "$work/serve.log" | head -1)
echo "serving on $base"
"$client" --metadata-dir "$work/node" init "$work/catalog/metadata/root.json"
"$client" --metadata-dir "$work/node" --metadata-url "$base/metadata/" \
    --target-name apps/org.archipelago.hello-web/1.0.0.json \
    --target-base-url "$base/targets/" --target-dir "$work/downloads" download
ls -l "$work/downloads"

step "9. Pack: the signed manifest and image archive become blobs under one release hash"
"$archy" app pack "$work/hello-web" --key "$work/publisher.key" --data-dir "$work/origin"

step "10. The publisher's node serves blobs and catalog over iroh; a second node fetches"
start_node "$work/origin" --key "$work/publisher.key" --catalog "$work/catalog"
"$archy" fetch "$did/org.archipelago.hello-web" --origin "$(cat "$work/origin/ticket")" --data-dir "$work/peer"

step "11. The origin stops; a fresh node fetches from the peer, verified against the origin's root"
start_node "$work/peer"
origin_ticket=$(cat "$work/origin/ticket")
kill "${nodes[0]}"; wait "${nodes[0]}" 2>/dev/null || true
time "$archy" fetch "$did/org.archipelago.hello-web" --origin "$origin_ticket" \
    --provider "$(cat "$work/peer/ticket")" --data-dir "$work/fresh"
"$archy" blobs ls --data-dir "$work/fresh"

step "12. Install the verified release under podman; its page answers; stop, start, uninstall"
# A podman API service of the walkthrough's own (rootful when run as root;
# a user's node defaults to their rootless socket).
podman system service --time=0 "unix://$work/podman.sock" > /dev/null 2>&1 &
nodes+=($!)
for _ in $(seq 100); do [ -S "$work/podman.sock" ] && break; sleep 0.1; done
export ARCHY_PODMAN_SOCKET=$work/podman.sock
"$archy" app install "$did/org.archipelago.hello-web" --origin "$origin_ticket" \
    --provider "$(cat "$work/peer/ticket")" --data-dir "$work/fresh"
exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && timeout 5 cat <&3 | grep -o '<h1>.*</h1>'; exec 3<&-
"$archy" app status org.archipelago.hello-web --data-dir "$work/fresh"
"$archy" app stop org.archipelago.hello-web --data-dir "$work/fresh"
"$archy" app ls --data-dir "$work/fresh"
"$archy" app start org.archipelago.hello-web --data-dir "$work/fresh"
"$archy" app uninstall org.archipelago.hello-web --purge --data-dir "$work/fresh"
stop_nodes

step "13. Rotate to a new key: root 2 is signed by old and new keys; the client follows"
"$archy" key new --out "$work/new.key" > /dev/null
"$archy" catalog rotate-key "$work/catalog" --old-key "$work/publisher.key" --new-key "$work/new.key"
"$client" --metadata-dir "$work/node" --metadata-url "$base/metadata/" refresh
echo "the client now trusts root version $(sed -n 's/.*"version":\([0-9]*\).*/\1/p' "$work/node/root.json")"

step "14. Metadata signed with the old key alone is refused"
"$archy" catalog refresh "$work/catalog" --key "$work/publisher.key" && exit 1
echo "(the editor refuses to sign with a key the catalog no longer lists)"
