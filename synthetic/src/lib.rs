//! Synthetic data for benchmarks and tests: real in every respect (keys,
//! signatures, archives a podman could load) but made on the spot, so a
//! benchmark can ask for 100 k listings or a 1 GiB app and a test for
//! events no relay would pass on. Nothing here ships in `archy`.
//!
//! - [`publisher`]: Nostr publishers, their TUF roots, signed manifests
//!   and discovery events;
//! - [`app`]: app directories of any size (a manifest and image archives).

pub mod app;
pub mod publisher;

pub use app::{write_app, write_runnable_app};
pub use publisher::{SyntheticError, SyntheticPublisher, root_json, signed_manifest};
