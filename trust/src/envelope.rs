//! Signed documents, in the layout TUF uses for its metadata.
//!
//! ```json
//! {
//!   "signed": {
//!     "_type": "archy/manifest",
//!     "spec_version": "1",
//!     "signer": "did:key:z6Mk…",
//!     "payload": { … }
//!   },
//!   "signatures": [ { "keyid": "<TUF key id, hex>", "sig": "<Ed25519 signature, hex>" } ]
//! }
//! ```
//!
//! The signature covers the OLPC canonical JSON of `signed` as it was
//! received, never a re-serialization of the typed payload, so a field the
//! reader does not know cannot be dropped and slip past the signature.
//! Catalogs are TUF repositories, so the whole project has one canonical form
//! and one signature format.

use std::borrow::Cow;
use std::ops::Range;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::canonical::{may_be_canonical, to_canonical_json};
use crate::{Did, Error, Identity};
use archy_sigbatch::ed25519;

/// The envelope format version this build writes and accepts.
pub const SPEC_VERSION: &str = "1";
/// Largest signed document accepted: bounds memory for input from anywhere.
pub const MAX_ENVELOPE_BYTES: usize = 1 << 20;
/// Most signatures one envelope may carry; more is refused unread.
const MAX_SIGNATURES: usize = 16;

/// A kind of document that can be signed. `TYPE` goes into `signed._type`,
/// so a signature over one kind of document can never be replayed as another.
/// Payloads that read themselves with serde get [`Signed::verify`]; others
/// (manifests, which report every problem at once) read the payload that
/// [`open`] returns.
pub trait Payload: Serialize {
    /// The `_type` value, such as `archy/manifest`.
    const TYPE: &'static str;
}

/// A payload whose signature has been verified, together with its signer.
/// The only ways to get one are [`Signed::verify`] and [`Signed::sign`].
#[derive(Debug, Clone)]
pub struct Signed<T> {
    signer: Did,
    payload: T,
}

impl<T: Payload> Signed<T> {
    /// Signs `payload` as `identity` and returns the envelope as compact JSON.
    pub fn sign(payload: &T, identity: &Identity) -> Result<Vec<u8>, Error> {
        let payload_value = serde_json::to_value(payload).map_err(|e| Error::InvalidPayload {
            kind: T::TYPE,
            reason: e.to_string(),
        })?;
        let signer = identity.did();
        let signed = json!({
            "_type": T::TYPE,
            "spec_version": SPEC_VERSION,
            "signer": signer,
            "payload": payload_value,
        });
        let sig = identity.sign(&to_canonical_json(&signed)?);
        let envelope = json!({
            "signed": signed,
            "signatures": [{
                "keyid": signer.tuf_keyid(),
                "sig": hex::encode(sig),
            }],
        });
        // Compact JSON with sorted keys: for documents without control
        // characters this is the canonical form, so readers can check the
        // signature over the bytes as received (see `open`).
        let mut bytes =
            serde_json::to_vec(&envelope).map_err(|e| Error::Canonical(e.to_string()))?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Who signed it.
    pub fn signer(&self) -> &Did {
        &self.signer
    }

    /// The verified payload.
    pub fn payload(&self) -> &T {
        &self.payload
    }

    /// Takes the verified payload out.
    pub fn into_payload(self) -> T {
        self.payload
    }
}

impl<T: Payload + DeserializeOwned> Signed<T> {
    /// Verifies the envelope in `bytes` and reads its payload.
    ///
    /// Checks, in order: size, shape, `_type`, `spec_version`, the signer
    /// (against `expected_signer` when given), then the signature over the
    /// canonical form of `signed` as received, and only then the payload.
    pub fn verify(bytes: &[u8], expected_signer: Option<&Did>) -> Result<Self, Error> {
        let (signer, payload) = open(bytes, T::TYPE, expected_signer)?;
        let payload = serde_json::from_str(&payload).map_err(|e| Error::InvalidPayload {
            kind: T::TYPE,
            reason: e.to_string(),
        })?;
        Ok(Self { signer, payload })
    }
}

/// The envelope as it arrives: `signed` is kept as the exact bytes received.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEnvelope<'a> {
    #[serde(borrow)]
    signed: &'a RawValue,
    #[serde(borrow)]
    signatures: Vec<WireSignature<'a>>,
}

/// One signature, its text borrowed from the envelope where it has no
/// escapes (hex never does).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSignature<'a> {
    #[serde(borrow)]
    keyid: Cow<'a, str>,
    #[serde(borrow)]
    sig: Cow<'a, str>,
}

/// The fields of `signed`, borrowed from the envelope where they have no
/// escapes. The payload stays the text received.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSigned<'a> {
    #[serde(rename = "_type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    spec_version: Cow<'a, str>,
    #[serde(borrow)]
    signer: Cow<'a, str>,
    #[serde(borrow)]
    payload: &'a RawValue,
}

/// Verifies an envelope of kind `kind` and returns its signer and its
/// payload as JSON text, for payloads that bring their own reader (such
/// as manifests, which report every problem at once).
pub fn open(
    bytes: &[u8],
    kind: &str,
    expected_signer: Option<&Did>,
) -> Result<(Did, String), Error> {
    read(bytes, kind, expected_signer)?.check()
}

/// An envelope whose every part but the signature has been checked: what
/// [`open`] does first. Checking the signatures of many at once
/// ([`check_all`]) costs about half as much as one by one.
#[derive(Debug)]
pub struct Unchecked {
    signer: Did,
    /// `signed` as received.
    raw_signed: String,
    /// Where the payload is in `raw_signed`.
    payload: Range<usize>,
    candidates: Vec<[u8; 64]>,
}

/// Reads an envelope of kind `kind` and checks everything but its
/// signature: size, shape, `_type`, `spec_version`, the signer (against
/// `expected_signer` when given) and that it carries a signature by it.
pub fn read(bytes: &[u8], kind: &str, expected_signer: Option<&Did>) -> Result<Unchecked, Error> {
    if bytes.len() > MAX_ENVELOPE_BYTES {
        return Err(Error::MalformedEnvelope(format!(
            "{} bytes is over the {MAX_ENVELOPE_BYTES}-byte limit",
            bytes.len()
        )));
    }
    let envelope: WireEnvelope<'_> =
        serde_json::from_slice(bytes).map_err(|e| Error::MalformedEnvelope(e.to_string()))?;
    if envelope.signatures.len() > MAX_SIGNATURES {
        return Err(Error::MalformedEnvelope(format!(
            "{} signatures is over the limit of {MAX_SIGNATURES}",
            envelope.signatures.len()
        )));
    }
    let raw_signed = envelope.signed.get();
    refuse_unnormalized(raw_signed)?;
    let signed: WireSigned<'_> = serde_json::from_str(raw_signed)
        .map_err(|e| Error::MalformedEnvelope(format!("'signed': {e}")))?;
    if signed.kind != kind {
        return Err(Error::WrongType {
            expected: kind.to_owned(),
            found: signed.kind.into_owned(),
        });
    }
    if signed.spec_version != SPEC_VERSION {
        return Err(Error::UnknownVersion {
            found: signed.spec_version.into_owned(),
            supported: SPEC_VERSION,
        });
    }
    let signer: Did = match expected_signer {
        // The signer expected, already parsed: spares decoding it again.
        Some(expected) if signed.signer == expected.as_str() => expected.clone(),
        _ => signed.signer.parse()?,
    };
    if let Some(expected) = expected_signer
        && expected != &signer
    {
        return Err(Error::WrongSigner {
            expected: expected.to_string(),
            found: signer.to_string(),
        });
    }
    let candidates = signatures_by(&envelope.signatures, &signer)?;
    // The payload is a slice of `raw_signed`: its place is where it starts.
    let start = signed.payload.get().as_ptr() as usize - raw_signed.as_ptr() as usize;
    Ok(Unchecked {
        signer,
        raw_signed: raw_signed.to_owned(),
        payload: start..start + signed.payload.get().len(),
        candidates,
    })
}

impl Unchecked {
    /// Checks the signature and returns the signer and the payload's text.
    pub fn check(self) -> Result<(Did, String), Error> {
        self.check_unless_refused(false)
    }

    /// [`Self::check`], told whether the signature over the bytes as
    /// received is already known not to hold (a batch refused it), so it
    /// is not checked a second time.
    fn check_unless_refused(self, raw_refused: bool) -> Result<(Did, String), Error> {
        let signed_over = |message: &[u8]| {
            self.candidates
                .iter()
                .any(|sig| self.signer.public_key().verify(message, sig))
        };
        // The signer signs the canonical form of `signed`. Envelopes travel
        // as compact sorted JSON, which for most documents is that canonical
        // form byte for byte: then the signature is checked over the bytes
        // received as they are, and a valid signature proves they are the
        // canonical form. Otherwise (pretty-printed input, escaped control
        // characters) it is checked over the canonical form of what was
        // parsed.
        let verified = if may_be_canonical(&self.raw_signed) {
            (!raw_refused && signed_over(self.raw_signed.as_bytes())) || {
                let canonical = self.canonical()?;
                canonical != self.raw_signed.as_bytes() && signed_over(&canonical)
            }
        } else {
            signed_over(&self.canonical()?)
        };
        if !verified {
            return Err(Error::BadSignature {
                signer: self.signer.to_string(),
            });
        }
        Ok(self.into_parts())
    }

    /// The one signature a batch can check: over the bytes as received,
    /// when the envelope carries exactly one signature by its signer and
    /// those bytes may be the canonical form.
    fn batchable(&self) -> Option<ed25519::Claim<'_>> {
        match self.candidates.as_slice() {
            [signature] if may_be_canonical(&self.raw_signed) => Some(ed25519::Claim {
                key: self.signer.public_key().verifying_key(),
                message: self.raw_signed.as_bytes(),
                signature,
            }),
            _ => None,
        }
    }

    /// The canonical form of `signed`, for an envelope that did not travel
    /// in it.
    fn canonical(&self) -> Result<Vec<u8>, Error> {
        let signed: Value = serde_json::from_str(&self.raw_signed)
            .map_err(|e| Error::MalformedEnvelope(format!("'signed': {e}")))?;
        to_canonical_json(&signed)
    }

    fn into_parts(self) -> (Did, String) {
        let Range { start, end } = self.payload;
        let mut payload = self.raw_signed;
        payload.truncate(end);
        payload.drain(..start);
        (self.signer, payload)
    }
}

/// Checks many envelopes' signatures, batching those that allow it
/// ([`archy_sigbatch::ed25519`]); each answer is what [`Unchecked::check`] would give.
pub fn check_all(envelopes: Vec<Unchecked>) -> Vec<Result<(Did, String), Error>> {
    let (indices, claims): (Vec<usize>, Vec<ed25519::Claim<'_>>) = envelopes
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.batchable().map(|claim| (i, claim)))
        .unzip();
    // None: not batched; Some(verdict): what the batch said.
    let mut verdicts: Vec<Option<bool>> = vec![None; envelopes.len()];
    for (i, held) in indices.into_iter().zip(ed25519::verify_all(&claims)) {
        verdicts[i] = Some(held);
    }
    envelopes
        .into_iter()
        .zip(verdicts)
        .map(|(envelope, verdict)| match verdict {
            Some(true) => Ok(envelope.into_parts()),
            // Refused by the batch, which checked exactly the bytes as
            // received: only the canonical re-serialization is left to try.
            Some(false) => envelope.check_unless_refused(true),
            None => envelope.check(),
        })
        .collect()
}

/// The signatures carrying the signer's key id, decoded. Signatures by other
/// keys are ignored, as in TUF.
fn signatures_by(signatures: &[WireSignature<'_>], signer: &Did) -> Result<Vec<[u8; 64]>, Error> {
    let keyid = signer.tuf_keyid();
    let mut found = Vec::with_capacity(1);
    for (index, entry) in signatures.iter().enumerate() {
        if entry.keyid != keyid {
            continue;
        }
        let mut sig = [0u8; 64];
        hex::decode_to_slice(entry.sig.as_bytes(), &mut sig).map_err(|_| {
            Error::MalformedEnvelope(format!("signatures[{index}].sig is not 64 bytes of hex"))
        })?;
        found.push(sig);
    }
    if found.is_empty() {
        return Err(Error::MissingSignature {
            signer: signer.to_string(),
            keyid: keyid.to_owned(),
        });
    }
    Ok(found)
}

/// OLPC canonical JSON normalizes strings to NFC, so two different strings
/// can share one signature. Refusing strings that are not already NFC keeps
/// "what was signed" and "what is read" the same bytes. `signed` is the
/// text received: ASCII with no `\u` escape holds only ASCII strings, which
/// are NFC, and is not parsed again.
fn refuse_unnormalized(signed: &str) -> Result<(), Error> {
    if signed.is_ascii() && !signed.contains("\\u") {
        return Ok(());
    }
    let value: Value = serde_json::from_str(signed)
        .map_err(|e| Error::MalformedEnvelope(format!("'signed': {e}")))?;
    match unnormalized_at(&value) {
        None => Ok(()),
        Some(at) => Err(Error::MalformedEnvelope(format!(
            "signed{at}: text is not in Unicode NFC form"
        ))),
    }
}

/// Where the first non-NFC text is, as a path suffix like `.payload.title`.
/// The path is only built on the way back from a finding, so a clean
/// document costs no allocation.
fn unnormalized_at(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => (!is_nfc(s)).then(String::new),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| unnormalized_at(v).map(|rest| format!("[{i}]{rest}"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if is_nfc(k) {
                unnormalized_at(v).map(|rest| format!(".{k}{rest}"))
            } else {
                Some(format!(".{k}"))
            }
        }),
        _ => None,
    }
}

/// Whether `text` is in NFC form; ASCII always is, and most text in a
/// manifest is ASCII, which is checked many times faster.
fn is_nfc(text: &str) -> bool {
    text.is_ascii() || unicode_normalization::is_nfc(text)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Note {
        text: String,
        n: u32,
    }

    impl Payload for Note {
        const TYPE: &'static str = "archy/test-note";
    }

    fn alice() -> Identity {
        Identity::from_seed(&[1; 32])
    }

    fn signed_note() -> Vec<u8> {
        Signed::sign(
            &Note {
                text: "hi".into(),
                n: 7,
            },
            &alice(),
        )
        .unwrap()
    }

    fn edit(bytes: &[u8], f: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut v: Value = serde_json::from_slice(bytes).unwrap();
        f(&mut v);
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn round_trip_verifies_and_names_the_signer() {
        let opened = Signed::<Note>::verify(&signed_note(), Some(&alice().did())).unwrap();
        assert_eq!(opened.signer(), &alice().did());
        assert_eq!(
            opened.payload(),
            &Note {
                text: "hi".into(),
                n: 7
            }
        );
    }

    #[test]
    fn changed_payload_is_a_bad_signature() {
        let bytes = edit(&signed_note(), |v| v["signed"]["payload"]["n"] = json!(8));
        assert!(matches!(
            Signed::<Note>::verify(&bytes, None),
            Err(Error::BadSignature { .. })
        ));
    }

    #[test]
    fn added_unknown_field_is_covered_by_the_signature() {
        // A field the reader would not know must still break the signature,
        // because the check runs over the bytes received.
        let bytes = edit(&signed_note(), |v| {
            v["signed"]["payload"]["extra"] = json!(1)
        });
        assert!(matches!(
            Signed::<Note>::verify(&bytes, None),
            Err(Error::BadSignature { .. })
        ));
    }

    #[test]
    fn swapped_signer_is_detected() {
        let mallory = Identity::from_seed(&[6; 32]);
        // Name another signer but keep Alice's signature: no signature by Mallory's key id.
        let bytes = edit(&signed_note(), |v| {
            v["signed"]["signer"] = json!(mallory.did())
        });
        assert!(matches!(
            Signed::<Note>::verify(&bytes, None),
            Err(Error::MissingSignature { .. })
        ));
        // Re-signed by Mallory: valid, but not who the caller expects.
        let by_mallory = Signed::sign(
            &Note {
                text: "hi".into(),
                n: 7,
            },
            &mallory,
        )
        .unwrap();
        assert!(matches!(
            Signed::<Note>::verify(&by_mallory, Some(&alice().did())),
            Err(Error::WrongSigner { .. })
        ));
    }

    #[test]
    fn unknown_spec_version_is_refused() {
        let bytes = edit(&signed_note(), |v| v["signed"]["spec_version"] = json!("2"));
        assert!(matches!(
            Signed::<Note>::verify(&bytes, None),
            Err(Error::UnknownVersion { .. })
        ));
    }

    #[test]
    fn other_document_type_is_refused() {
        let bytes = edit(&signed_note(), |v| {
            v["signed"]["_type"] = json!("archy/other")
        });
        assert!(matches!(
            Signed::<Note>::verify(&bytes, None),
            Err(Error::WrongType { .. })
        ));
    }

    #[test]
    fn whitespace_and_key_order_do_not_matter() {
        let compact = edit(&signed_note(), |_| {});
        assert!(Signed::<Note>::verify(&compact, None).is_ok());
    }

    #[test]
    fn every_single_byte_flip_is_caught() {
        let bytes = signed_note();
        for i in 0..bytes.len() {
            let mut tampered = bytes.clone();
            tampered[i] ^= 0x01;
            if let Ok(opened) = Signed::<Note>::verify(&tampered, None) {
                // Only a flip in insignificant whitespace may still verify,
                // and then the payload is exactly the signed one.
                assert_eq!(
                    opened.payload(),
                    &Note {
                        text: "hi".into(),
                        n: 7
                    },
                    "byte {i}"
                );
                assert!(bytes[i].is_ascii_whitespace(), "byte {i} changed meaning");
            }
        }
    }

    #[test]
    fn non_nfc_text_is_refused() {
        let bytes = edit(&signed_note(), |v| {
            v["signed"]["payload"]["text"] = json!("e\u{301}")
        });
        assert!(matches!(
            Signed::<Note>::verify(&bytes, None),
            Err(Error::MalformedEnvelope(_))
        ));
    }

    #[test]
    fn non_nfc_text_is_reported_with_its_path() {
        let bytes = edit(&signed_note(), |v| {
            v["signed"]["payload"]["text"] = json!(["ok", "e\u{301}"])
        });
        let err = Signed::<Note>::verify(&bytes, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("signed.payload.text[1]: text is not in Unicode NFC"),
            "{err}"
        );
    }

    #[test]
    fn oversized_and_garbage_input_is_refused_without_panic() {
        assert!(Signed::<Note>::verify(&vec![b' '; MAX_ENVELOPE_BYTES + 1], None).is_err());
        for junk in [
            &b""[..],
            b"null",
            b"[]",
            b"{\"signed\":1,\"signatures\":[]}",
            b"\xff",
        ] {
            assert!(Signed::<Note>::verify(junk, None).is_err());
        }
    }

    #[test]
    fn pretty_printed_and_escaped_forms_verify_over_their_canonical_form() {
        let bytes = signed_note();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        let pretty = serde_json::to_vec_pretty(&value).unwrap();
        assert!(Signed::<Note>::verify(&pretty, None).is_ok());
        // A payload with a newline travels escaped ("\n"), which is not the
        // canonical form; it must still verify.
        let multiline = Note {
            text: "two\nlines \u{e9}".into(),
            n: 1,
        };
        let signed = Signed::sign(&multiline, &alice()).unwrap();
        assert!(!may_be_canonical(std::str::from_utf8(&signed).unwrap()));
        assert_eq!(
            Signed::<Note>::verify(&signed, None).unwrap().payload(),
            &multiline
        );
        // The same text with é written as a \u escape also verifies.
        let escaped = String::from_utf8(signed)
            .unwrap()
            .replace('\u{e9}', "\\u00e9");
        assert!(Signed::<Note>::verify(escaped.as_bytes(), None).is_ok());
    }

    #[test]
    fn checking_many_at_once_gives_the_single_answers() {
        let good = signed_note();
        let tampered = edit(&good, |v| v["signed"]["payload"]["n"] = json!(8));
        let pretty =
            serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&good).unwrap()).unwrap();
        let multiline = Signed::sign(
            &Note {
                text: "two\nlines".into(),
                n: 1,
            },
            &alice(),
        )
        .unwrap();
        let by_bob = Signed::sign(
            &Note {
                text: "bob".into(),
                n: 2,
            },
            &Identity::from_seed(&[2; 32]),
        )
        .unwrap();
        let inputs: Vec<&[u8]> = [&good, &tampered, &pretty, &multiline, &by_bob]
            .into_iter()
            .cycle()
            .take(100)
            .map(Vec::as_slice)
            .collect();
        let read_all: Vec<Unchecked> = inputs
            .iter()
            .map(|b| read(b, Note::TYPE, None).unwrap())
            .collect();
        let together: Vec<String> = check_all(read_all)
            .into_iter()
            .map(|r| format!("{r:?}"))
            .collect();
        let alone: Vec<String> = inputs
            .iter()
            .map(|b| format!("{:?}", open(b, Note::TYPE, None)))
            .collect();
        assert_eq!(together, alone);
        assert!(together[1].contains("BadSignature"));
        assert!(together[2].starts_with("Ok"));
    }

    #[test]
    fn canonical_scan_rules_out_whitespace_and_escapes() {
        assert!(may_be_canonical(r#"{"a":"x y","b":[1,2]}"#));
        assert!(may_be_canonical(r#"{"a":"q\"q\\"}"#));
        assert!(!may_be_canonical(r#"{"a": 1}"#));
        assert!(!may_be_canonical(r#"{"a":"\n"}"#));
    }
}
