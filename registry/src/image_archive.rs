//! Reads what a manifest needs to know about a `podman save` archive: its
//! BLAKE3 hash and size (how the swarm names and checks it) and the OCI
//! image id podman will report after loading it (how the orchestrator runs it
//! by content, never by tag).
//!
//! Both archive layouts podman writes are understood: `docker-archive` (the
//! default; `manifest.json` names the config file) and `oci-archive`
//! (`index.json` → image manifest → config digest).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::{BlobHash, ImageId};

/// Largest metadata file (manifest, index, config) read from an archive.
const MAX_METADATA_BYTES: u64 = 4 << 20;
/// Most entries walked in an archive before giving up.
const MAX_ENTRIES: usize = 100_000;

/// What a manifest records about one image archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveInfo {
    /// BLAKE3 of the whole archive file.
    pub blake3: BlobHash,
    /// Archive size in bytes.
    pub size: u64,
    /// The image id: SHA-256 of the image config.
    pub image_id: ImageId,
}

fn archive_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Archive {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Hashes the archive at `path` and finds its image id.
pub fn inspect(path: &Path) -> Result<ArchiveInfo, Error> {
    let mut file = File::open(path).map_err(|e| {
        archive_error(
            path,
            format!(
                "cannot open ({e}); build it with `podman save -o {} IMAGE`",
                path.display()
            ),
        )
    })?;
    let mut hasher = blake3::Hasher::new();
    let size = std::io::copy(&mut file, &mut hasher)
        .map_err(|e| archive_error(path, format!("cannot read: {e}")))?;
    let entries = list_entries(&mut file, path)?;
    let image_id = if let Some(manifest) = entries.iter().find(|e| e.name == "manifest.json") {
        docker_archive_image_id(&mut file, path, manifest, &entries)?
    } else if let Some(index) = entries.iter().find(|e| e.name == "index.json") {
        oci_archive_image_id(&mut file, path, index, &entries)?
    } else {
        return Err(archive_error(
            path,
            "has neither manifest.json nor index.json: not a `podman save` archive",
        ));
    };
    Ok(ArchiveInfo {
        blake3: BlobHash::from_blake3(hasher.finalize()),
        size,
        image_id,
    })
}

struct Entry {
    name: String,
    offset: u64,
    size: u64,
}

fn list_entries(file: &mut File, path: &Path) -> Result<Vec<Entry>, Error> {
    file.seek(SeekFrom::Start(0))
        .map_err(|e| archive_error(path, format!("cannot seek: {e}")))?;
    let mut archive = tar::Archive::new(&mut *file);
    let bad_tar = |e: std::io::Error| archive_error(path, format!("not a tar archive: {e}"));
    let mut entries = Vec::new();
    for entry in archive.entries_with_seek().map_err(bad_tar)? {
        let entry = entry.map_err(bad_tar)?;
        if entries.len() >= MAX_ENTRIES {
            return Err(archive_error(
                path,
                format!("has more than {MAX_ENTRIES} entries"),
            ));
        }
        let name = entry
            .path()
            .map_err(bad_tar)?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_owned();
        entries.push(Entry {
            name,
            offset: entry.raw_file_position(),
            size: entry.size(),
        });
    }
    Ok(entries)
}

fn read_entry(file: &mut File, path: &Path, entry: &Entry) -> Result<Vec<u8>, Error> {
    if entry.size > MAX_METADATA_BYTES {
        return Err(archive_error(
            path,
            format!(
                "{} is {} bytes, over the {MAX_METADATA_BYTES}-byte limit",
                entry.name, entry.size
            ),
        ));
    }
    let mut bytes = vec![0; entry.size as usize];
    file.seek(SeekFrom::Start(entry.offset))
        .and_then(|_| file.read_exact(&mut bytes))
        .map_err(|e| archive_error(path, format!("cannot read {}: {e}", entry.name)))?;
    Ok(bytes)
}

fn read_json(file: &mut File, path: &Path, entry: &Entry) -> Result<Value, Error> {
    let bytes = read_entry(file, path, entry)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| archive_error(path, format!("{} is not JSON: {e}", entry.name)))
}

fn find<'a>(entries: &'a [Entry], path: &Path, name: &str) -> Result<&'a Entry, Error> {
    entries
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| archive_error(path, format!("names '{name}', which is not in the archive")))
}

fn docker_archive_image_id(
    file: &mut File,
    path: &Path,
    manifest: &Entry,
    entries: &[Entry],
) -> Result<ImageId, Error> {
    let value = read_json(file, path, manifest)?;
    let images = value.as_array().map(Vec::as_slice).unwrap_or_default();
    let config_name = match images {
        [image] => image["Config"].as_str(),
        [] => return Err(archive_error(path, "manifest.json lists no image")),
        _ => {
            return Err(archive_error(
                path,
                "manifest.json lists several images; save exactly one image per archive",
            ));
        }
    }
    .ok_or_else(|| archive_error(path, "manifest.json has no 'Config' entry"))?;
    image_id_of_config(file, path, entries, config_name)
}

fn oci_archive_image_id(
    file: &mut File,
    path: &Path,
    index: &Entry,
    entries: &[Entry],
) -> Result<ImageId, Error> {
    let index = read_json(file, path, index)?;
    let manifests = index["manifests"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let [manifest] = manifests else {
        return Err(archive_error(
            path,
            "index.json must list exactly one image manifest",
        ));
    };
    let manifest_blob = blob_name(path, &manifest["digest"])?;
    let manifest = read_json(file, path, find(entries, path, &manifest_blob)?)?;
    let config_blob = blob_name(path, &manifest["config"]["digest"])?;
    image_id_of_config(file, path, entries, &config_blob)
}

/// The image id is the SHA-256 of the image config, in either layout.
fn image_id_of_config(
    file: &mut File,
    path: &Path,
    entries: &[Entry],
    config_name: &str,
) -> Result<ImageId, Error> {
    let config = read_entry(file, path, find(entries, path, config_name)?)?;
    Ok(ImageId::from_config_digest(Sha256::digest(&config).into()))
}

fn blob_name(path: &Path, digest: &Value) -> Result<String, Error> {
    digest
        .as_str()
        .and_then(|d| d.strip_prefix("sha256:"))
        .filter(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|hex| format!("blobs/sha256/{hex}"))
        .ok_or_else(|| archive_error(path, format!("digest {digest} is not a sha256 digest")))
}

/// Builds small archives in both layouts for tests across the crate.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::path::Path;

    use sha2::{Digest, Sha256};

    /// The config every fixture image carries.
    pub const CONFIG: &[u8] =
        br#"{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/true"]}}"#;

    /// The image id of [`CONFIG`].
    pub fn config_id() -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(CONFIG)))
    }

    fn add(builder: &mut tar::Builder<std::fs::File>, name: &str, bytes: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, bytes).unwrap();
    }

    /// Writes a docker-archive like `podman save` makes.
    pub fn docker_archive(path: &Path) {
        let id = hex::encode(Sha256::digest(CONFIG));
        let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
        add(&mut b, "layer.tar", b"pretend layer");
        add(&mut b, &format!("{id}.json"), CONFIG);
        let manifest = format!(
            r#"[{{"Config":"{id}.json","RepoTags":["localhost/x:latest"],"Layers":["layer.tar"]}}]"#
        );
        add(&mut b, "manifest.json", manifest.as_bytes());
        b.finish().unwrap();
    }

    /// Writes an oci-archive like `podman save --format oci-archive` makes.
    pub fn oci_archive(path: &Path) {
        let config = hex::encode(Sha256::digest(CONFIG));
        let manifest = format!(
            r#"{{"schemaVersion":2,"config":{{"digest":"sha256:{config}","size":{}}},"layers":[]}}"#,
            CONFIG.len()
        );
        let manifest_digest = hex::encode(Sha256::digest(manifest.as_bytes()));
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"digest":"sha256:{manifest_digest}"}}]}}"#
        );
        let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
        add(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
        add(&mut b, &format!("blobs/sha256/{config}"), CONFIG);
        add(
            &mut b,
            &format!("blobs/sha256/{manifest_digest}"),
            manifest.as_bytes(),
        );
        add(&mut b, "index.json", index.as_bytes());
        b.finish().unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_archive_yields_hash_size_and_config_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("img.tar");
        fixtures::docker_archive(&path);
        let info = inspect(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(info.blake3, BlobHash::of(&bytes));
        assert_eq!(info.size, bytes.len() as u64);
        assert_eq!(info.image_id.to_string(), fixtures::config_id());
    }

    #[test]
    fn oci_archive_yields_the_same_image_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("img.tar");
        fixtures::oci_archive(&path);
        assert_eq!(
            inspect(&path).unwrap().image_id.to_string(),
            fixtures::config_id()
        );
    }

    #[test]
    fn missing_and_non_image_files_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let missing = inspect(&dir.path().join("nope.tar"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("podman save -o"), "{missing}");
        let plain = dir.path().join("plain.tar");
        let mut b = tar::Builder::new(std::fs::File::create(&plain).unwrap());
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_cksum();
        b.append_data(&mut header, "hello.txt", &b"x"[..]).unwrap();
        b.finish().unwrap();
        drop(b);
        let err = inspect(&plain).unwrap_err().to_string();
        assert!(err.contains("not a `podman save` archive"), "{err}");
    }
}
