//! The crate's one error type. Each variant says what was wrong and where, so
//! a caller can show it to a person as is.

use std::path::PathBuf;

/// Everything that can go wrong with identities, key files and signed
/// documents.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A string that should be a `did:key` for an Ed25519 key is not one.
    #[error("invalid DID '{did}': {problem}")]
    InvalidDid {
        /// The offending text, shortened if it was long.
        did: String,
        /// What exactly is wrong with it.
        problem: DidProblem,
    },
    /// A key file could not be created, read or understood.
    #[error("key file {}: {reason}", path.display())]
    KeyFile {
        /// The key file in question.
        path: PathBuf,
        /// What went wrong, in words a person can act on.
        reason: String,
    },
    /// The operating system's random source failed.
    #[error("cannot read the system's random source: {0}")]
    Random(String),
    /// A signed document is not shaped as `{"signed": …, "signatures": […]}`.
    #[error("signed document is malformed: {0}")]
    MalformedEnvelope(String),
    /// A signed document holds a different kind of payload than the caller asked for.
    #[error("signed document has _type '{found}', expected '{expected}'")]
    WrongType {
        /// The `_type` the caller expected.
        expected: String,
        /// The `_type` the document declares.
        found: String,
    },
    /// The envelope format version is not one this build understands.
    #[error(
        "signed document has spec_version '{found}', this build understands only '{supported}'"
    )]
    UnknownVersion {
        /// The version the document declares.
        found: String,
        /// The version this build writes and reads.
        supported: &'static str,
    },
    /// The document is signed by someone other than the expected signer.
    #[error("signed by {found}, expected {expected}")]
    WrongSigner {
        /// Who the caller required.
        expected: String,
        /// Who the document names as signer.
        found: String,
    },
    /// No signature in the document is from the signer it names.
    #[error("no signature from the named signer {signer} (key id {keyid})")]
    MissingSignature {
        /// The signer named inside `signed`.
        signer: String,
        /// The TUF key id its signature would carry.
        keyid: String,
    },
    /// A signature from the named signer is present but does not verify: the
    /// signed content was changed after signing, or the signature is forged.
    #[error(
        "bad signature from {signer}: the signed content was altered or the signature is forged"
    )]
    BadSignature {
        /// The signer named inside `signed`.
        signer: String,
    },
    /// The payload could not be put into, or read out of, canonical JSON.
    #[error("cannot canonicalize JSON: {0}")]
    Canonical(String),
    /// The signed payload does not match the type the caller asked for.
    #[error("signed {kind} payload is invalid: {reason}")]
    InvalidPayload {
        /// The payload's `_type`.
        kind: &'static str,
        /// Why it could not be read.
        reason: String,
    },
    /// A review's rating is outside 1 to 5 stars.
    #[error("review by {author} of {publisher}/{app_id}: a rating is 1 to 5 stars, not {rating}")]
    InvalidRating {
        /// The review's author (hex Nostr key).
        author: String,
        /// The reviewed app's publisher.
        publisher: String,
        /// The reviewed app.
        app_id: String,
        /// The rating given.
        rating: u8,
    },
}

/// Why a string is not a valid Ed25519 `did:key`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DidProblem {
    /// It does not start with `did:key:`.
    #[error("wrong prefix: a did:key starts with 'did:key:'")]
    WrongPrefix,
    /// The method-specific part is not multibase base58btc (it must start with `z`).
    #[error("not multibase base58btc: the key part must start with 'z'")]
    NotBase58Btc,
    /// The base58 text has characters outside the bitcoin alphabet.
    #[error("bad base58: {0}")]
    BadBase58(String),
    /// The multicodec prefix is not Ed25519 public key (0xed 0x01).
    #[error("wrong codec: expected multicodec 0xed01 (ed25519-pub), found 0x{0}")]
    WrongCodec(String),
    /// The key is not 32 bytes long.
    #[error("wrong length: an Ed25519 public key has 32 bytes, found {0}")]
    WrongLength(usize),
    /// The 32 bytes are not a usable Ed25519 point.
    #[error("not a usable Ed25519 public key (invalid or small-order point)")]
    InvalidKey,
    /// The text is longer than any valid did:key, so it was not decoded.
    #[error("too long: {0} characters (a did:key for Ed25519 has 56)")]
    TooLong(usize),
}
