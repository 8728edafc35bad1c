//! The swarm: content-addressed blobs over iroh, fetched from a publisher's
//! node (the origin) or from any peer that has them.
//!
//! Peers supply bytes, never truth. What is current is decided only by the
//! publisher's TUF metadata, verified against the pinned root; a release is
//! named there by one BLAKE3 hash (an iroh-blobs hash sequence, see
//! [`crate::catalog::release::release_root`]), and every byte fetched is
//! checked against that hash as it arrives.
//!
//! - [`store`]: the persistent blob store, its pins and garbage collection;
//! - [`pack`]: an app directory signed and stored as one release;
//! - [`endpoint`]: the node's iroh endpoint (key = identity);
//! - [`ticket`]: how a node is named to others: endpoint address + DID;
//! - [`tuf_protocol`]: the small ALPN that serves TUF metadata between
//!   nodes, and the client [`Transport`](crate::tuf::Transport) over it;
//! - [`share`]: plain files in iroh-blobs' collection format (sendme interop);
//! - [`upload_cap`]: a node-wide cap on the bytes per second served;
//! - [`fetch`]: metadata refresh with source failover, then the release's
//!   blobs from the origin and peers, ending in a
//!   [`VerifiedManifest`](crate::verified::VerifiedManifest).

pub mod endpoint;
mod error;
pub mod fetch;
pub mod pack;
pub mod providers;
pub mod share;
pub mod store;
pub mod ticket;
pub mod tuf_protocol;
pub mod upload_cap;

pub use error::Error;
pub use fetch::{FetchEvent, FetchRequest, Fetcher};
pub use pack::{Packed, pack};
pub use store::BlobStore;
pub use ticket::NodeTicket;
