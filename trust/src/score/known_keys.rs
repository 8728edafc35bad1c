//! Keys whose secrets are published: test vectors and trivial secrets.
//! Anyone can sign as them, so a publisher using one is blocked from the
//! start and their follows, reports and reviews count for nothing.
//!
//! Each secret is taken every way this project reads 32 secret bytes: as
//! an Ed25519 seed (its `did:key` and the Nostr key derived from it, as
//! [`Identity`] derives them) and as a secp256k1 secret (the Nostr key it
//! is, where it is a valid scalar).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use nostr::{Keys, SecretKey};

use super::key::NostrKey;
use crate::Identity;

/// The published secrets and where they come from.
const SECRETS: [(&str, &str); 14] = [
    (
        "0000000000000000000000000000000000000000000000000000000000000000",
        "the all-zero secret",
    ),
    (
        "0000000000000000000000000000000000000000000000000000000000000001",
        "the secret 1",
    ),
    (
        "0000000000000000000000000000000000000000000000000000000000000002",
        "the secret 2",
    ),
    (
        "0000000000000000000000000000000000000000000000000000000000000003",
        "the secret 3 (BIP-340 test vector 0)",
    ),
    (
        "0000000000000000000000000000000000000000000000000000000000000004",
        "the secret 4 (W3C did:key test vector)",
    ),
    (
        "b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfef",
        "BIP-340 test vector 1",
    ),
    (
        "c90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b14e5c9",
        "BIP-340 test vector 2",
    ),
    (
        "0b432b2677937381aef05bb02a66ecd012773062cf3fa2549e44f58ed2401710",
        "BIP-340 test vector 3",
    ),
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "RFC 8032 test 1",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "RFC 8032 test 2",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "RFC 8032 test 3",
    ),
    (
        "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
        "RFC 8032 test 1024",
    ),
    (
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "RFC 8032 test SHA(abc)",
    ),
    (
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "the all-ones secret",
    ),
];

/// The public names of the published secrets, each with its source.
struct Known {
    dids: BTreeMap<String, &'static str>,
    nostr: BTreeMap<NostrKey, &'static str>,
}

static KNOWN: LazyLock<Known> = LazyLock::new(|| {
    let mut known = Known {
        dids: BTreeMap::new(),
        nostr: BTreeMap::new(),
    };
    for (hex_secret, source) in SECRETS {
        let mut secret = [0u8; 32];
        hex::decode_to_slice(hex_secret, &mut secret)
            .expect("the published secrets above are 64 hex digits");
        let identity = Identity::from_seed(&secret);
        known
            .dids
            .insert(identity.did().as_str().to_owned(), source);
        known
            .nostr
            .insert(identity.nostr_keys().public_key().into(), source);
        if let Ok(direct) = SecretKey::from_slice(&secret) {
            known
                .nostr
                .insert(Keys::new(direct).public_key().into(), source);
        }
    }
    known
});

/// Where the secret of the publisher named `did` was published, if it was.
pub(crate) fn did_source(did: &str) -> Option<&'static str> {
    KNOWN.dids.get(did).copied()
}

/// Where the secret of Nostr key `key` was published, if it was.
pub(crate) fn nostr_source(key: &NostrKey) -> Option<&'static str> {
    KNOWN.nostr.get(key).copied()
}

/// The Nostr keys of all published secrets.
pub(crate) fn nostr_keys() -> impl Iterator<Item = &'static NostrKey> {
    KNOWN.nostr.keys()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(hex_key: &str) -> NostrKey {
        NostrKey(hex::decode(hex_key).unwrap().try_into().unwrap())
    }

    #[test]
    fn the_secret_1_is_the_generator() {
        let generator = key("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
        assert_eq!(nostr_source(&generator), Some("the secret 1"));
    }

    #[test]
    fn bip340_vector_secrets_give_the_vectors_public_keys() {
        // Public keys of BIP-340's test vectors 0-3 (bip-0340/test-vectors.csv).
        for (public, source) in [
            (
                "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9",
                "the secret 3 (BIP-340 test vector 0)",
            ),
            (
                "dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659",
                "BIP-340 test vector 1",
            ),
            (
                "dd308afec5777e13121fa72b9cc1b7cc0139715309b086c960e18fd969774eb8",
                "BIP-340 test vector 2",
            ),
            (
                "25d1dff95105f5253c4022f628a996ad3a0d95fbf21d468a1b33f8c160d8f517",
                "BIP-340 test vector 3",
            ),
        ] {
            assert_eq!(nostr_source(&key(public)), Some(source), "{public}");
        }
    }

    #[test]
    fn rfc8032_seeds_give_the_rfcs_public_keys_and_are_known_as_dids() {
        for (seed, public) in [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            ),
            (
                "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
                "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            ),
            (
                "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
                "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
            ),
            (
                "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
                "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
            ),
        ] {
            let identity = Identity::from_seed(&hex::decode(seed).unwrap().try_into().unwrap());
            assert_eq!(hex::encode(identity.public_key().to_bytes()), public);
            assert!(did_source(identity.did().as_str()).is_some());
            let derived = identity.nostr_keys().public_key().into();
            assert!(nostr_source(&derived).is_some());
        }
    }

    #[test]
    fn the_all_zero_seed_is_known_and_a_fresh_key_is_not() {
        let zero = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp";
        assert_eq!(did_source(zero), Some("the all-zero secret"));
        let fresh = Identity::from_seed(&[0x5a; 32]);
        assert_eq!(did_source(fresh.did().as_str()), None);
        assert_eq!(nostr_source(&fresh.nostr_keys().public_key().into()), None);
    }
}
