//! Catalogs as TUF repositories: the client side.
//!
//! Every publisher's catalog is a TUF 1.0 repository whose root lists the
//! publisher's did:key keys. This module is a client written to the
//! specification's detailed workflow (section 5), with python-tuf's
//! `ngclient` as the reference:
//!
//! - [`metadata`]: the four documents, read strictly;
//! - [`signed`]: envelopes and threshold signature checks over the
//!   canonical form of the bytes received;
//! - [`trusted`]: the trusted set and its update rules (rollback, freeze,
//!   mix-and-match, rotation);
//! - [`updater`]: the workflow itself, over any [`Transport`];
//! - [`store`]: trusted metadata on disk, byte-identical to what was
//!   verified;
//! - [`http`]: the HTTP transport.

mod error;
mod glob;
pub mod http;
pub mod keys;
pub mod local;
pub mod metadata;
mod sign;
pub mod signed;
pub mod store;
pub mod time;
pub mod transport;
pub mod trusted;
pub mod updater;
mod verify;

#[cfg(test)]
mod attack_tests;
#[cfg(test)]
mod delegation_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod updater_tests;

pub use error::Error;
pub use http::HttpTransport;
pub use local::LocalTransport;
pub use sign::sign_metadata;
pub use store::{DirStore, MetadataStore};
pub use time::UtcTime;
pub use transport::{FetchError, ROOT_VERSION_HEADER, Timestamped, Transport};
pub use updater::{Limits, Updater};
pub use verify::check_length_and_hashes;
