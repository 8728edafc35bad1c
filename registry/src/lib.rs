//! What an app is and how its content is named.
//!
//! - [`manifest`]: app manifest v1, read from YAML or JSON with every problem
//!   reported at its `file:line:column`, and the [`Manifest`] type that only
//!   exists when valid;
//! - [`blob_hash`]: [`BlobHash`] (BLAKE3) and [`ImageId`] (OCI), the content
//!   addresses manifests use;
//! - [`image_archive`]: reads a `podman save` archive's hash and image id;
//! - [`signing`]: turns a source manifest into a signed, published one and
//!   verifies signed manifests;
//! - [`catalog`] and [`tuf`]: the publisher's signed catalog, written and
//!   read as a TUF repository;
//! - [`verified`]: [`VerifiedManifest`](verified::VerifiedManifest), the
//!   hand-off to the orchestrator, which only the verification path makes;
//! - `swarm` (feature `swarm`, on by default): blobs over iroh and the fetch
//!   that ends in a verified manifest. Crates that only take a verified
//!   manifest (the orchestrator) build without it, and without iroh.

pub mod blob_hash;
pub mod catalog;
mod error;
pub mod files;
pub mod image_archive;
pub mod manifest;
pub mod signing;
#[cfg(feature = "swarm")]
pub mod swarm;
pub mod tuf;
pub mod verified;

pub use blob_hash::{BlobHash, ImageId};
pub use error::Error;
pub use manifest::{Diagnostics, Form, Manifest};
