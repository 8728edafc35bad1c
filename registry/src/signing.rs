//! From a developer's source manifest to a signed, published one, and back.
//!
//! Signing first rewrites every local file reference into its content hash
//! (image archives → BLAKE3 + size + OCI image id; the icon → BLAKE3 +
//! size), so the signature covers the exact bytes that will run. Verifying
//! checks the envelope, every manifest rule, and that the signer speaks for
//! the manifest's own `publisher`: it is that DID's key, or (across a key
//! rotation) a key the publisher's current verified TUF root lists.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use archy_trust::{Did, Identity, Payload, Signed, envelope};

use crate::error::Error;
use crate::image_archive::{self, ArchiveInfo};
use crate::manifest::{FileRef, Form, ImageRef, Manifest};
use crate::{BlobHash, files};

/// File name `archy app sign` writes next to the manifest.
pub const SIGNED_MANIFEST_FILE: &str = "manifest.signed.json";
/// Largest icon accepted.
pub const MAX_ICON_BYTES: u64 = 1 << 20;

/// A published manifest and its signed envelope bytes.
#[derive(Debug, Clone)]
pub struct SignedManifest {
    /// The published manifest that was signed.
    pub manifest: Manifest,
    /// The envelope, ready to write or send.
    pub envelope: Vec<u8>,
}

/// Which keys speak for a publisher. A publisher is the DID its first TUF
/// root named; after a key rotation its releases are signed by a rotated-in
/// key, which its current verified root lists. Without a root at hand
/// ([`Signers::default`]) only the publisher's own key does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signers {
    /// TUF key ids of the keys the current root lists.
    root_keyids: BTreeSet<String>,
}

impl Signers {
    /// The publisher's own key and every key of `root_keyids` (the TUF key
    /// ids a verified root of that publisher lists).
    pub fn with_root_keys(root_keyids: impl IntoIterator<Item = String>) -> Self {
        Self {
            root_keyids: root_keyids.into_iter().collect(),
        }
    }

    /// Whether `signer` may sign for `publisher`.
    pub fn allow(&self, publisher: &Did, signer: &Did) -> bool {
        publisher == signer || self.lists(signer)
    }

    /// Whether the root these keys came from lists `key`.
    pub fn lists(&self, key: &Did) -> bool {
        self.root_keyids.contains(key.tuf_keyid())
    }
}

/// Rewrites the source manifest at `manifest_path` into its published form
/// and signs it as `identity`, which must be the manifest's publisher.
pub fn sign(manifest_path: &Path, identity: &Identity) -> Result<SignedManifest, Error> {
    sign_for(manifest_path, identity, &Signers::default())
}

/// [`sign`] by a key that `signers` lets speak for the manifest's
/// publisher: a rotated-in key of its catalog.
pub fn sign_for(
    manifest_path: &Path,
    identity: &Identity,
    signers: &Signers,
) -> Result<SignedManifest, Error> {
    let source = Manifest::load(manifest_path, Form::Source)?;
    let signer = identity.did();
    if !signers.allow(&source.publisher, &signer) {
        return Err(Error::PublisherMismatch {
            publisher: source.publisher.to_string(),
            signer: signer.to_string(),
        });
    }
    let base = manifest_path.parent().unwrap_or(Path::new("."));
    let manifest = publish_form(source, base, &manifest_path.display().to_string())?;
    let envelope = Signed::sign(&manifest, identity)?;
    Ok(SignedManifest { manifest, envelope })
}

/// Replaces every local path with the content hash of the file it names.
/// The result is read back through the published-form checks, so what gets
/// signed is a valid published manifest.
pub(crate) fn publish_form(
    mut manifest: Manifest,
    base: &Path,
    file: &str,
) -> Result<Manifest, Error> {
    let mut archives: HashMap<String, ArchiveInfo> = HashMap::new();
    for container in &mut manifest.containers {
        if let ImageRef::Archive(rel) = &container.image {
            let info = match archives.get(rel) {
                Some(info) => info.clone(),
                None => {
                    let info = image_archive::inspect(&base.join(rel))?;
                    archives.insert(rel.clone(), info.clone());
                    info
                }
            };
            container.image = ImageRef::Published {
                blake3: info.blake3,
                size: info.size,
                id: info.image_id,
            };
        }
    }
    if let Some(FileRef::Path(rel)) = &manifest.icon {
        let (blake3, size) = hash_icon(&base.join(rel))?;
        manifest.icon = Some(FileRef::Blob { blake3, size });
    }
    let value =
        serde_json::to_value(&manifest).map_err(|e| archy_trust::Error::InvalidPayload {
            kind: "archy/manifest",
            reason: e.to_string(),
        })?;
    Ok(Manifest::from_json(value, file, Form::Published)?)
}

fn hash_icon(path: &Path) -> Result<(BlobHash, u64), Error> {
    let file_error = |reason: String| Error::File {
        path: path.to_owned(),
        reason,
    };
    let bytes = files::read_bounded(path, MAX_ICON_BYTES).map_err(|e| {
        file_error(if e.kind() == std::io::ErrorKind::FileTooLarge {
            format!("icon is larger than {MAX_ICON_BYTES} bytes")
        } else {
            format!("cannot read icon: {e}")
        })
    })?;
    Ok((BlobHash::of(&bytes), bytes.len() as u64))
}

/// Verifies a signed manifest: envelope signature, every manifest rule in the
/// published form, signer = `publisher`, and signer = `expected` when given.
pub fn verify(envelope: &[u8], expected: Option<&Did>) -> Result<Manifest, Error> {
    let (signer, payload) = envelope::open(envelope, Manifest::TYPE, expected)?;
    manifest_signed_by(&signer, &payload, &Signers::default())
}

/// Verifies a signed manifest whose signer `signers` lets speak for the
/// publisher it names: envelope signature and every manifest rule.
pub fn verify_with(envelope: &[u8], signers: &Signers) -> Result<Manifest, Error> {
    let (signer, payload) = envelope::open(envelope, Manifest::TYPE, None)?;
    manifest_signed_by(&signer, &payload, signers)
}

/// Verifies a signed manifest of `publisher`'s: envelope signature, every
/// manifest rule in the published form, `publisher` named in it, and a
/// signer that `signers` lets speak for it.
pub fn verify_for(envelope: &[u8], publisher: &Did, signers: &Signers) -> Result<Manifest, Error> {
    let manifest = verify_with(envelope, signers)?;
    if &manifest.publisher != publisher {
        return Err(Error::WrongPublisher {
            named: manifest.publisher.to_string(),
            expected: publisher.to_string(),
        });
    }
    Ok(manifest)
}

/// Reads the payload of a manifest envelope whose signature `signer` has
/// already been checked (by [`verify`], or many at a time with
/// [`envelope::check_all`]): every manifest rule in the published form, and
/// a signer that `signers` lets speak for `publisher`.
pub fn manifest_signed_by(
    signer: &Did,
    payload: &str,
    signers: &Signers,
) -> Result<Manifest, Error> {
    let manifest = Manifest::from_json_text(payload, "signed manifest", Form::Published)?;
    if !signers.allow(&manifest.publisher, signer) {
        return Err(Error::PublisherMismatch {
            publisher: manifest.publisher.to_string(),
            signer: signer.to_string(),
        });
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::image_archive::fixtures;

    fn app_dir(identity: &Identity) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fixtures::docker_archive(&dir.path().join("web.tar"));
        fs::write(dir.path().join("icon.svg"), "<svg/>").unwrap();
        fs::write(
            dir.path().join("manifest.yml"),
            format!(
                "manifest_version: 1\nid: org.example.web\nversion: 1.0.0\ntitle: Web\nsummary: A page\n\
                 publisher: {}\nlicense: MIT\nicon: icon.svg\ncontainers:\n  - name: web\n    image: web.tar\n",
                identity.did()
            ),
        )
        .unwrap();
        dir
    }

    #[test]
    fn signing_rewrites_paths_to_hashes_and_verifies() {
        let alice = Identity::from_seed(&[1; 32]);
        let dir = app_dir(&alice);
        let signed = sign(&dir.path().join("manifest.yml"), &alice).unwrap();
        let ImageRef::Published { id, .. } = &signed.manifest.containers[0].image else {
            panic!("image still a path")
        };
        assert_eq!(id.to_string(), fixtures::config_id());
        assert!(matches!(
            signed.manifest.icon,
            Some(FileRef::Blob { size: 6, .. })
        ));
        let back = verify(&signed.envelope, Some(&alice.did())).unwrap();
        assert_eq!(back, signed.manifest);
    }

    #[test]
    fn only_the_publisher_may_sign() {
        let alice = Identity::from_seed(&[1; 32]);
        let mallory = Identity::from_seed(&[6; 32]);
        let dir = app_dir(&alice);
        let err = sign(&dir.path().join("manifest.yml"), &mallory).unwrap_err();
        assert!(matches!(err, Error::PublisherMismatch { .. }), "{err}");
    }

    #[test]
    fn manifest_signed_by_a_non_publisher_is_refused() {
        // Mallory copies Alice's manifest and signs it with her own key.
        let alice = Identity::from_seed(&[1; 32]);
        let mallory = Identity::from_seed(&[6; 32]);
        let dir = app_dir(&alice);
        let manifest = sign(&dir.path().join("manifest.yml"), &alice)
            .unwrap()
            .manifest;
        let forged = Signed::sign(&manifest, &mallory).unwrap();
        assert!(matches!(
            verify(&forged, None),
            Err(Error::PublisherMismatch { .. })
        ));
    }

    #[test]
    fn a_key_the_publishers_root_lists_signs_for_it() {
        // Alice rotated her catalog to a new key: its root lists that key.
        let alice = Identity::from_seed(&[1; 32]);
        let rotated = Identity::from_seed(&[2; 32]);
        let dir = app_dir(&alice);
        let path = dir.path().join("manifest.yml");
        assert!(matches!(
            sign(&path, &rotated),
            Err(Error::PublisherMismatch { .. })
        ));
        let signers = Signers::with_root_keys([rotated.did().tuf_keyid().to_owned()]);
        let signed = sign_for(&path, &rotated, &signers).unwrap();
        let back = verify_for(&signed.envelope, &alice.did(), &signers).unwrap();
        assert_eq!(back, signed.manifest);
        // Without her root at hand the new key is nobody's but its own,
        // and the manifest is Alice's, not anyone else's.
        assert!(matches!(
            verify(&signed.envelope, None),
            Err(Error::PublisherMismatch { .. })
        ));
        let mallory = Identity::from_seed(&[6; 32]);
        assert!(matches!(
            verify_for(&signed.envelope, &mallory.did(), &signers),
            Err(Error::WrongPublisher { .. })
        ));
    }

    #[test]
    fn missing_archive_names_the_file_and_the_fix() {
        let alice = Identity::from_seed(&[1; 32]);
        let dir = app_dir(&alice);
        fs::remove_file(dir.path().join("web.tar")).unwrap();
        let err = sign(&dir.path().join("manifest.yml"), &alice)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("web.tar") && err.contains("podman save"),
            "{err}"
        );
    }

    #[test]
    fn every_byte_of_a_signed_manifest_is_covered() {
        let alice = Identity::from_seed(&[1; 32]);
        let dir = app_dir(&alice);
        let signed = sign(&dir.path().join("manifest.yml"), &alice).unwrap();
        for i in 0..signed.envelope.len() {
            let mut tampered = signed.envelope.clone();
            tampered[i] ^= 0x01;
            if let Ok(manifest) = verify(&tampered, Some(&alice.did())) {
                // Only insignificant whitespace may change without notice,
                // and then the manifest read is exactly the signed one.
                assert!(
                    signed.envelope[i].is_ascii_whitespace(),
                    "byte {i} changed unnoticed"
                );
                assert_eq!(manifest, signed.manifest, "byte {i}");
            }
        }
    }
}
