//! Discovery: apps published as Nostr NIP-78 events (kind 30078,
//! addressable), and the checks every event passes before a node believes
//! it. `docs/protocol.md` is the format.
//!
//! - [`protocol`]: kinds, tags, limits and the three content types;
//! - [`publish`]: building the events, signed with the identity's derived
//!   Nostr key;
//! - [`relays`]: sending events to relays, with an outcome per relay;
//! - [`note`]: the fields of an event that ingesting reads, its tags lent
//!   from the text received;
//! - [`wire`]: an event read from the text a relay sent, its id checked
//!   against that text;
//! - [`verify`]: from an event as a relay sent it to a [`verify::Verified`]
//!   one, or a [`verify::Rejection`] with a reason that can be counted;
//! - [`relay_gate`]: a relay that sends too many bad signatures is cut off;
//! - [`social`]: follow lists, mute lists and reports, the trust score's
//!   inputs, read from their Nostr events;
//! - [`graph_sync`]: fetching those inputs for the owner's graph from the
//!   relays followed.

pub mod graph_sync;
pub mod ingest;
pub mod market;
pub mod note;
pub mod protocol;
pub mod publish;
pub mod relay_client;
pub mod relay_gate;
pub mod relays;
pub mod search;
pub mod service;
pub mod social;
mod stamp;
pub mod store;
mod syncer;
pub mod tofu;
pub mod verify;
pub mod wire;
