"""python-tuf's reference client (ngclient) reading a repository over HTTP.

Usage: ngclient_download.py METADATA_DIR TRUSTED_ROOT METADATA_URL TARGETS_URL TARGET_DIR TARGET...

Prints one JSON object: the trusted root version and, per target, the
downloaded file and its custom data. Exits 1 on any failure.
"""

import json
import os
import sys

from tuf.ngclient import Updater


def main() -> None:
    metadata_dir, root, metadata_url, targets_url, target_dir, *targets = sys.argv[1:]
    os.makedirs(metadata_dir, exist_ok=True)
    os.makedirs(target_dir, exist_ok=True)
    bootstrap = None
    if not os.path.exists(os.path.join(metadata_dir, "root.json")):
        with open(root, "rb") as f:
            bootstrap = f.read()
    updater = Updater(
        metadata_dir=metadata_dir,
        metadata_base_url=metadata_url,
        target_base_url=targets_url,
        target_dir=target_dir,
        bootstrap=bootstrap,
    )
    updater.refresh()
    found = {}
    for name in targets:
        info = updater.get_targetinfo(name)
        if info is None:
            print(f"no such target: {name}", file=sys.stderr)
            sys.exit(1)
        path = updater.download_target(info)
        found[name] = {"path": path, "custom": info.custom}
    with open(os.path.join(metadata_dir, "root.json"), "rb") as f:
        root_version = json.load(f)["signed"]["version"]
    print(json.dumps({"root_version": root_version, "targets": found}))


if __name__ == "__main__":
    main()
