//! Who said what: identities, their public names, and signed documents.
//!
//! Every actor in Archipelago (a node, a publisher) is one Ed25519 key. This
//! crate owns everything that follows from that key and depends only on
//! `archy-sigbatch` of ours:
//!
//! - [`did`]: the key's public name, a `did:key` (`did:key:z6Mk…`), and the
//!   [`PublicKey`] it stands for;
//! - [`identity`]: the secret side, an [`Identity`] built from a 32-byte seed;
//! - [`nostr_key`]: the secp256k1 key Nostr needs, derived from the same seed;
//! - [`keyfile`]: identities on disk, written 0600 and refused when readable
//!   by others;
//! - [`canonical`]: OLPC canonical JSON, the one byte form that is signed;
//! - [`envelope`]: [`Signed<T>`], the TUF-shaped `{"signed", "signatures"}`
//!   document every signed thing in the project uses; many envelopes'
//!   signatures are checked together by `archy-sigbatch`;
//! - [`score`]: how far the node's owner should trust a publisher or an
//!   app: personalized PageRank over the owner's Nostr follow graph,
//!   reports, reviews and the node's policy, as a score, a band and the
//!   reasons for both.
//!
//! All fallible calls return the crate's one [`Error`] type, whose message
//! names what was wrong and where.

pub mod canonical;
pub mod did;
pub mod envelope;
mod error;
pub mod identity;
pub mod keyfile;
pub mod nostr_key;
pub mod score;

pub use did::{Did, PublicKey};
pub use envelope::{Payload, Signed};
pub use error::{DidProblem, Error};
pub use identity::Identity;
