//! Signature checks for the key types TUF repositories use in practice:
//! Ed25519 (the publisher's did:key), ECDSA P-256 and RSA-PSS with
//! SHA-256, in securesystemslib's encodings (hex Ed25519 keys, PEM
//! SubjectPublicKeyInfo otherwise; hex signatures, DER for ECDSA).

use archy_trust::PublicKey;
use p256::ecdsa::signature::Verifier as _;
use p256::pkcs8::DecodePublicKey;
use sha2::Sha256;

/// A key that can check signatures. Keys of other types or schemes, or
/// malformed ones, have no verifier and never count towards a threshold.
///
/// Two verifiers are equal when they hold the same key, however it was
/// written (hex case, PEM layout, `ecdsa` or `ecdsa-sha2-nistp256`): a
/// threshold counts keys, and one key listed under two key ids is one.
#[derive(Clone, PartialEq)]
pub enum Verifier {
    /// `ed25519` / `ed25519`: 64 hex characters.
    Ed25519(PublicKey),
    /// `ecdsa` / `ecdsa-sha2-nistp256`: PEM SPKI, DER signatures.
    EcdsaP256(Box<p256::ecdsa::VerifyingKey>),
    /// `rsa` / `rsassa-pss-sha256`: PEM SPKI, PSS with MGF1-SHA-256.
    RsaPss(Box<rsa::pss::VerifyingKey<Sha256>>),
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verifier::Ed25519(_) => "Ed25519",
            Verifier::EcdsaP256(_) => "EcdsaP256",
            Verifier::RsaPss(_) => "RsaPss",
        })
    }
}

impl Verifier {
    /// The verifier for a key given as TUF lists it, if this client
    /// supports the type and the key material is well formed.
    pub fn from_tuf(keytype: &str, scheme: &str, public: &str) -> Option<Self> {
        match (keytype, scheme) {
            ("ed25519", "ed25519") => {
                let bytes: [u8; 32] = hex::decode(public).ok()?.try_into().ok()?;
                PublicKey::from_bytes(&bytes).ok().map(Verifier::Ed25519)
            }
            ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => {
                p256::ecdsa::VerifyingKey::from_public_key_pem(public)
                    .ok()
                    .map(|k| Verifier::EcdsaP256(Box::new(k)))
            }
            ("rsa", "rsassa-pss-sha256") => rsa::PublicKey::from_public_key_pem(public)
                .ok()
                .map(|k| Verifier::RsaPss(Box::new(rsa::pss::VerifyingKey::new(k)))),
            _ => None,
        }
    }

    /// Whether `sig_hex` is a valid signature over `message`.
    pub fn verify(&self, message: &[u8], sig_hex: &str) -> bool {
        let Ok(sig) = hex::decode(sig_hex) else {
            return false;
        };
        match self {
            Verifier::Ed25519(key) => {
                <[u8; 64]>::try_from(sig).is_ok_and(|sig| key.verify(message, &sig))
            }
            Verifier::EcdsaP256(key) => p256::ecdsa::DerSignature::from_bytes(&sig)
                .is_ok_and(|sig| key.verify(message, &sig).is_ok()),
            Verifier::RsaPss(key) => rsa::pss::Signature::try_from(sig.as_slice())
                .is_ok_and(|sig| key.verify(message, &sig).is_ok()),
        }
    }
}
