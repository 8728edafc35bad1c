"""A TUF repository made with python-tuf's Metadata API, for our client.

Usage: make_repository.py OUT_DIR

Writes OUT_DIR/metadata (consistent snapshots, pretty-printed JSON, Ed25519
top-level keys) and OUT_DIR/targets, with one top-level target and one in a
terminating delegated role held by an ECDSA P-256 key.
"""

import os
import sys
from datetime import datetime, timedelta, timezone

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    MetaFile,
    Metadata,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer


def write_target(out: str, path: str, data: bytes, algorithms: list) -> TargetFile:
    target = TargetFile.from_data(path, data, algorithms)
    directory, _, name = path.rpartition("/")
    os.makedirs(os.path.join(out, "targets", directory), exist_ok=True)
    for digest in target.hashes.values():
        with open(os.path.join(out, "targets", directory, f"{digest}.{name}"), "wb") as f:
            f.write(data)
    return target


def main() -> None:
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "metadata"), exist_ok=True)
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=7)
    signers = {role: CryptoSigner.generate_ed25519() for role in ("root", "timestamp", "snapshot", "targets")}
    team = CryptoSigner.generate_ecdsa()

    root = Metadata(Root(expires=expires, consistent_snapshot=True))
    for role, signer in signers.items():
        root.signed.add_key(signer.public_key, role)

    targets = Metadata(Targets(expires=expires))
    hello = write_target(out, "docs/hello.txt", b"hello from python-tuf\n", ["sha256"])
    targets.signed.targets[hello.path] = hello
    team_key = team.public_key
    targets.signed.delegations = Delegations(
        keys={team_key.keyid: team_key},
        roles={
            "team": DelegatedRole(
                name="team", keyids=[team_key.keyid], threshold=1, terminating=True, paths=["team/*"]
            )
        },
    )

    delegated = Metadata(Targets(expires=expires))
    app = write_target(out, "team/app.bin", b"\x00delegated bytes\xff", ["sha256", "sha512"])
    delegated.signed.targets[app.path] = app

    snapshot = Metadata(Snapshot(expires=expires))
    snapshot.signed.meta["targets.json"] = MetaFile(version=1)
    snapshot.signed.meta["team.json"] = MetaFile(version=1)
    timestamp = Metadata(Timestamp(expires=expires))
    timestamp.signed.snapshot_meta = MetaFile(version=1)

    pretty = JSONSerializer(compact=False)
    documents = [
        (root, signers["root"], ["1.root.json", "root.json"]),
        (targets, signers["targets"], ["1.targets.json"]),
        (delegated, team, ["1.team.json"]),
        (snapshot, signers["snapshot"], ["1.snapshot.json"]),
        (timestamp, signers["timestamp"], ["timestamp.json"]),
    ]
    for metadata, signer, names in documents:
        metadata.sign(signer)
        for name in names:
            metadata.to_file(os.path.join(out, "metadata", name), pretty)


if __name__ == "__main__":
    main()
