//! App manifest v1: what an app is made of, as its developer declares it.
//!
//! A manifest is written as YAML (`manifest.yml`) and published as JSON inside
//! a signed envelope. Both are read the same way: text → [`tree`] with
//! positions → typed [`Manifest`] through [`schema`], then the cross-field
//! [`rules`]. A `Manifest` value therefore always satisfies every rule in
//! `docs/manifest-spec.md`; there is no unchecked way to build one from input.
//!
//! A manifest comes in one of two [`Form`]s: the *source* form names each
//! image by the path of a local `podman save` archive; the *published* form
//! names it by the archive's BLAKE3 hash, size and OCI image id. Signing
//! rewrites one into the other, so a signature always covers image bytes.

mod diagnostic;
mod read;
mod rules;
mod schema;
mod tree;

use std::collections::BTreeMap;
use std::path::Path;

use archy_trust::{Did, Payload};
use serde::Serialize;

pub use diagnostic::{Diagnostic, Diagnostics};
pub use tree::Pos;

use crate::{BlobHash, ImageId, files};

/// The manifest format version this build reads and writes.
pub const MANIFEST_VERSION: u32 = 1;
/// Largest manifest file accepted.
pub const MAX_MANIFEST_BYTES: usize = 256 * 1024;
/// Most containers one app may declare.
pub const MAX_CONTAINERS: usize = 64;
/// Capabilities a container may ask for; everything else is dropped.
/// This is Podman's default set, minus nothing and plus nothing: an app can
/// only narrow what a plain container gets, never widen it.
pub const ALLOWED_CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Which form of manifest the caller expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Written by a developer: images are local archive paths.
    Source,
    /// Signed and shared: images are content hashes.
    Published,
}

/// A complete, valid app manifest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    /// Always [`MANIFEST_VERSION`].
    pub manifest_version: u32,
    /// Reverse-DNS app id, such as `org.example.notes`.
    pub id: String,
    /// The release's semantic version.
    pub version: semver::Version,
    /// Display name.
    pub title: String,
    /// One line shown in listings.
    pub summary: String,
    /// Longer text shown on the app's page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The DID of the publisher who signs the app.
    pub publisher: Did,
    /// License, ideally an SPDX expression.
    pub license: String,
    /// What changed in this version, shown beside it in the versions list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_notes: Option<String>,
    /// Project web page (http or https).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    /// Icon: a local file in the source form, a blob in the published form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<FileRef>,
    /// The containers that make up the app, at least one.
    pub containers: Vec<Container>,
    /// Secrets the node generates at install time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub generated_secrets: Vec<GeneratedSecret>,
    /// Other apps this one needs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
    /// What the app may reach beyond its own containers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<Permission>,
}

/// A file the manifest refers to: by local path before publishing, by
/// content hash after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum FileRef {
    /// Source form: a path relative to the manifest's directory.
    Path(String),
    /// Published form: the file's BLAKE3 hash and size.
    Blob {
        /// BLAKE3 of the file.
        blake3: BlobHash,
        /// Size in bytes.
        size: u64,
    },
}

/// A container image: a `podman save` archive before publishing; its hash,
/// size and OCI image id after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ImageRef {
    /// Source form: path of a `podman save` archive, relative to the manifest.
    Archive(String),
    /// Published form.
    Published {
        /// BLAKE3 of the archive bytes.
        blake3: BlobHash,
        /// Archive size in bytes.
        size: u64,
        /// The OCI image id podman reports after loading it.
        id: ImageId,
    },
}

/// One container of an app.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Container {
    /// Unique within the app; also its host name on the app's network.
    pub name: String,
    /// The image it runs.
    pub image: ImageRef,
    /// Overrides the image's command.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Environment variables.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Ports the container listens on and publishes to the host.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    /// Directories under the app's data dir mounted into the container.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    /// Names of `generated_secrets` mounted at `/run/secrets/<name>`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// User (and group) to run as, `uid[:gid]` or a name in the image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Capabilities kept, from [`ALLOWED_CAPABILITIES`]; all others are dropped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// How to tell that the container works.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// Seconds between SIGTERM and SIGKILL on stop.
    pub stop_grace_secs: u32,
    /// Containers that must be started (and healthy, if they have a check) first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// A port a container listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Port {
    /// Port inside the container.
    pub container: u16,
    /// Transport protocol.
    pub protocol: Protocol,
    /// Host port the app would like; the node picks a free one otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<u16>,
}

/// Transport protocol of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// A directory of the app's data dir mounted into a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Volume {
    /// Volume name, shared by the app's containers that mount it.
    pub name: String,
    /// Absolute path inside the container.
    pub mount: String,
    /// Directory relative to the app's data dir; defaults to `name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Mount read-only.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

/// A health check and its timing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// What to probe.
    #[serde(flatten)]
    pub check: HealthCheck,
    /// Seconds between probes.
    pub interval_secs: u32,
    /// Seconds one probe may take.
    pub timeout_secs: u32,
    /// Failed probes in a row before the container counts as unhealthy.
    pub retries: u32,
    /// Seconds after start during which failures do not count.
    pub start_period_secs: u32,
}

/// The probe of a health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthCheck {
    /// A TCP connect to a container port.
    Tcp {
        /// Container port.
        port: u16,
    },
    /// An HTTP GET that must answer 2xx or 3xx.
    Http {
        /// Container port.
        port: u16,
        /// Request path, starting with `/`.
        path: String,
    },
    /// A command run in the container that must exit 0.
    Cmd(Vec<String>),
}

/// A secret the node generates once per install.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeneratedSecret {
    /// Name, also the file name under `/run/secrets/`.
    pub name: String,
    /// Length in characters.
    pub length: u16,
    /// Characters it is drawn from.
    pub charset: Charset,
}

/// Alphabet of a generated secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Charset {
    /// `A-Z a-z 0-9`.
    Alphanumeric,
    /// `0-9 a-f`.
    Hex,
}

/// Another app this one needs, and which versions of it will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependency {
    /// The other app's id.
    pub id: String,
    /// Acceptable versions, as a semver requirement such as `^1.2`.
    pub version: semver::VersionReq,
}

/// Access an app asks for beyond its own network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// May open connections to the internet.
    Internet,
    /// May open connections to the local network.
    Lan,
}

impl Manifest {
    /// Reads and checks a manifest file, expecting `form`.
    pub fn load(path: &Path, form: Form) -> Result<Self, Diagnostics> {
        let file = path.display().to_string();
        let text = read_bounded(path).map_err(|reason| Diagnostics::whole_file(&file, reason))?;
        Self::from_yaml(&text, &file, form)
    }

    /// Reads and checks manifest YAML; `file` names it in diagnostics.
    pub fn from_yaml(text: &str, file: &str, form: Form) -> Result<Self, Diagnostics> {
        if text.len() > MAX_MANIFEST_BYTES {
            return Err(Diagnostics::whole_file(
                file,
                format!(
                    "is {} bytes; a manifest may have at most {MAX_MANIFEST_BYTES}",
                    text.len()
                ),
            ));
        }
        let root = tree::parse_yaml(text).map_err(|e| Diagnostics {
            file: file.to_owned(),
            items: vec![Diagnostic {
                pos: e.pos,
                path: String::new(),
                message: e.message,
            }],
        })?;
        check(&root, file, form)
    }

    /// Reads and checks a manifest given as JSON (the payload of a signed
    /// manifest); `file` names it in diagnostics.
    pub fn from_json(
        value: serde_json::Value,
        file: &str,
        form: Form,
    ) -> Result<Self, Diagnostics> {
        check(&tree::from_json(value), file, form)
    }

    /// [`Self::from_json`] for JSON text (a signed manifest's payload as
    /// received), read straight into the manifest without a JSON tree in
    /// between.
    pub fn from_json_text(text: &str, file: &str, form: Form) -> Result<Self, Diagnostics> {
        let root = tree::parse_json(text).map_err(|e| Diagnostics {
            file: file.to_owned(),
            items: vec![Diagnostic {
                pos: None,
                path: String::new(),
                message: format!("not a JSON document: {e}"),
            }],
        })?;
        check(&root, file, form)
    }
}

fn check(root: &tree::Node, file: &str, form: Form) -> Result<Manifest, Diagnostics> {
    let mut cx = read::Cx::default();
    let manifest = schema::manifest(root, &mut cx);
    if let Some(manifest) = &manifest {
        rules::check(manifest, form, &mut cx);
    }
    let mut items = cx.diags;
    match manifest {
        Some(m) if items.is_empty() => Ok(m),
        _ => {
            items.sort_by_key(|d| d.pos.map_or((usize::MAX, 0), |p| (p.line, p.column)));
            Err(Diagnostics {
                file: file.to_owned(),
                items,
            })
        }
    }
}

fn read_bounded(path: &Path) -> Result<String, String> {
    let bytes = files::read_bounded(path, MAX_MANIFEST_BYTES as u64).map_err(|e| {
        if e.kind() == std::io::ErrorKind::FileTooLarge {
            format!("is larger than {MAX_MANIFEST_BYTES} bytes, the limit for a manifest")
        } else {
            format!("cannot read: {e}")
        }
    })?;
    String::from_utf8(bytes)
        .map_err(|e| format!("is not UTF-8 text (byte {})", e.utf8_error().valid_up_to()))
}

impl Payload for Manifest {
    const TYPE: &'static str = "archy/manifest";
}

#[cfg(test)]
mod tests;
