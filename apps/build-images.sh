#!/usr/bin/env bash
# Builds each sample app's image archive (apps/<app>/image.tar, `podman save`
# output) offline, from Debian's busybox-static, apps/common/rootfs (shared
# helpers such as bin/serve) and the app's own rootfs/ files.
# No registry is contacted: the rootfs is tarred, `podman import`ed, saved.
#
#   apps/build-images.sh            # every app
#   apps/build-images.sh notes duo  # some
#
# Needs: podman, runc, busybox-static (scripts/install-deps.sh installs them).
# Every podman call is bounded by `timeout`, so a stuck podman fails the
# build instead of hanging it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
busybox=${BUSYBOX:-/bin/busybox}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/../scripts/containers.conf}

if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
    echo "error: $busybox is not a static busybox; install Debian's busybox-static" >&2
    exit 1
fi

apps=("$@")
[ ${#apps[@]} -gt 0 ] || apps=(hello-web notes duo)

for app in "${apps[@]}"; do
    src=$here/$app
    [ -f "$src/manifest.yml" ] || { echo "error: no app '$app' in $here" >&2; exit 1; }
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp" "$work/rootfs/data" "$work/rootfs/run/secrets"
    cp "$busybox" "$work/rootfs/bin/busybox"
    for applet in $("$busybox" --list); do
        [ "$applet" = busybox ] || ln -s busybox "$work/rootfs/bin/$applet"
    done
    cp -a "$here/common/rootfs/." "$work/rootfs/"
    cp -a "$src/rootfs/." "$work/rootfs/"
    chmod 1777 "$work/rootfs/tmp"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
        -C "$work/rootfs" -cf "$work/rootfs.tar" .
    tag=localhost/archy-sample/$app:latest
    timeout 120 podman import --quiet --change 'CMD ["/bin/sh"]' --change 'WORKDIR /' \
        "$work/rootfs.tar" "$tag" >/dev/null
    rm -f "$src/image.tar"
    timeout 120 podman save --quiet --format docker-archive -o "$src/image.tar" "$tag"
    echo "built $src/image.tar ($(du -h "$src/image.tar" | cut -f1), image $(timeout 30 podman image inspect --format '{{.Id}}' "$tag" | cut -c1-12))"
    rm -rf "$work"
    trap - EXIT
done
