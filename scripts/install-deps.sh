#!/usr/bin/env bash
# Installs what the tests and sample-app images need on a Debian machine:
# podman (with runc, as crun fails on these hosts' hybrid cgroups); for
# rootless podman, which the tests run as well as rootful, uidmap
# (newuidmap/newgidmap for the user namespace), slirp4netns (its network;
# needs /dev/net/tun) and fuse-overlayfs (its storage); netavark and
# aardvark-dns (app networks with DNS, so an app's containers reach each
# other by name) with iptables, which netavark drives to wire those networks
# (not every image has it); busybox-static for the offline sample images;
# python-tuf (in .cache/python) for the catalog interop tests, sendme
# for the swarm interop tests, cargo-audit for the dependency advisories,
# and nostr-rs-relay (in .cache/nostr-rs-relay,
# built with Debian's protobuf-compiler) for the discovery interop test;
# chromium and chromium-driver for the web marketplace's browser test.
# Safe to run again: it installs only what is missing.
#
#   scripts/install-deps.sh           # everything the tests need
#   scripts/install-deps.sh --run     # only what running a node and its apps needs
set -euo pipefail

run_only=false
[ "${1:-}" = "--run" ] && run_only=true

packages=(podman runc uidmap slirp4netns fuse-overlayfs netavark aardvark-dns iptables busybox-static)
$run_only || packages+=(protobuf-compiler chromium chromium-driver)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    # Bounded, so a stuck mirror fails the run instead of hanging it.
    $sudo timeout 300 apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if $run_only; then
    for tool in cargo podman runc newuidmap; do
        command -v "$tool" >/dev/null || { echo "error: $tool is not on PATH after install" >&2; exit 1; }
    done
    exit 0
fi

# python-tuf, the reference TUF client, for the catalog interop tests.
venv=.cache/python
if ! "$venv/bin/python" -c "import tuf.ngclient, cryptography" 2>/dev/null; then
    echo "installing python-tuf into $venv"
    python3 -m venv "$venv"
    timeout 600 "$venv/bin/pip" install -q --disable-pip-version-check "tuf==7.0.0" "securesystemslib[crypto]==1.6.0"
fi

# sendme 0.37, n0's file-transfer tool, for the swarm interop tests and
# `archy-bench fetch`. Built from crates.io into cargo's bin directory.
sendme="$(command -v sendme || echo "${CARGO_HOME:-$HOME/.cargo}/bin/sendme")"
if ! "$sendme" --version 2>/dev/null | grep -q "^sendme 0\.37\."; then
    echo "installing sendme 0.37.1 (cargo install, a few minutes)"
    timeout 1800 cargo install --locked --quiet sendme@0.37.1
fi

# cargo-audit 0.22, RustSec's checker, for the advisory check in
# scripts/test.sh. Built from crates.io into cargo's bin directory.
if ! cargo audit --version 2>/dev/null | grep -q " 0\.22\."; then
    echo "installing cargo-audit 0.22.2 (cargo install, a few minutes)"
    timeout 1800 cargo install --locked --quiet cargo-audit@0.22.2
fi

# nostr-rs-relay 0.8, a relay nobody here wrote, for the discovery interop
# test. Built once into .cache/nostr-rs-relay (kept between runs). The debug
# profile builds in about half the time and is fast enough for a test. Not
# --locked: its lock file pins a `time` release that current Rust rejects.
relay=.cache/nostr-rs-relay/bin/nostr-rs-relay
if ! "$relay" --version 2>/dev/null | grep -q "^nostr-rs-relay 0\.8\."; then
    echo "building nostr-rs-relay 0.8.12 (cargo install, several minutes)"
    CARGO_PROFILE_DEV_DEBUG=0 timeout 2400 cargo install --quiet --debug \
        --root .cache/nostr-rs-relay nostr-rs-relay@0.8.12
fi

for tool in cargo podman runc protoc newuidmap slirp4netns fuse-overlayfs; do
    command -v "$tool" >/dev/null || { echo "error: $tool is not on PATH after install" >&2; exit 1; }
done
