//! Catalogs, the publisher side: each publisher's catalog is a TUF
//! repository whose root lists the publisher's did:key keys, and whose
//! targets are release documents.
//!
//! - [`repository`]: create and edit a catalog on disk (`archy catalog
//!   init|add|yank|rotate-key|show`), keeping every signed file's bytes
//!   exactly as signed;
//! - [`release`]: the release document a target holds.
//!
//! The client side, which any node uses to read a catalog, is
//! [`crate::tuf`].

mod error;
pub mod release;
pub mod release_targets;
pub mod repository;

pub use error::Error;
pub use release::{BlobRef, Release};
pub use repository::{Expiries, Repository};
