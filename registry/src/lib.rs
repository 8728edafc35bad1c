//! What an app is and how its content is named.
//!
//! - [`manifest`]: app manifest v1, read from YAML or JSON with every problem
//!   reported at its `file:line:column`, and the [`Manifest`] type that only
//!   exists when valid;
//! - [`blob_hash`]: [`BlobHash`] (BLAKE3) and [`ImageId`] (OCI), the content
//!   addresses manifests use;
//! - [`image_archive`]: reads a `podman save` archive's hash and image id;
//! - [`signing`]: turns a source manifest into a signed, published one and
//!   verifies signed manifests.
//!
//! Catalogs (TUF), blob transfer and the verified hand-off to the
//! orchestrator join this crate in later issues.

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

pub use blob_hash::{BlobHash, ImageId};
pub use error::Error;
pub use manifest::{Diagnostics, Form, Manifest};
