//! Batch verdicts against single verdicts, for BIP-340 Schnorr signatures.
//!
//! Each input picks up to 16 claims from a pool of honest signatures by a
//! few keys and alters some of them (a flipped bit in `r`, `s` or the
//! message, another signer's key, `r` or `s` set to a value at the edge of
//! its range). The batch's verdicts, both in portable arithmetic and with
//! the AVX-512 IFMA lanes (where the CPU has them), must equal
//! libsecp256k1's single verdicts for every claim.

#![no_main]

use std::sync::LazyLock;

use archy_sigbatch::Mode;
use archy_sigbatch::bip340::{self, Claim, XOnlyKey};
use libfuzzer_sys::fuzz_target;
use nostr::secp256k1::{Keypair, Message, SECP256K1};

#[derive(Clone)]
struct Signed {
    key: XOnlyKey,
    message: [u8; 32],
    signature: [u8; 64],
}

/// 48 honest signatures by 6 keys, made once (each checked alone once,
/// so an untouched claim's single verdict is known to be true).
static POOL: LazyLock<Vec<Signed>> = LazyLock::new(|| {
    let pool: Vec<Signed> = (0..48u8)
        .map(|i| {
            let pair = Keypair::from_seckey_slice(SECP256K1, &[i % 6 + 1; 32]).expect("a key");
            let mut message = [0u8; 32];
            message[0] = i;
            message[31] = 0xa5;
            let signature =
                SECP256K1.sign_schnorr_no_aux_rand(&Message::from_digest(message), &pair);
            let key = XOnlyKey::from_bytes(&pair.x_only_public_key().0.serialize())
                .expect("a real key decodes");
            Signed {
                key,
                message,
                signature: *signature.as_ref(),
            }
        })
        .collect();
    assert!(pool.iter().all(|item| item.claim().holds_alone()));
    pool
});

impl Signed {
    fn claim(&self) -> Claim<'_> {
        Claim {
            key: &self.key,
            message: &self.message,
            signature: &self.signature,
        }
    }
}

/// Values at the edges of `r`'s and `s`'s ranges (big-endian): 0, 1, the
/// group order n and its neighbours, the field size p and its
/// neighbours, and all ones.
fn edge(which: u8) -> [u8; 32] {
    const N: &str = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
    const P: &str = "fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f";
    let mut value = [0u8; 32];
    let from_hex = |text: &str, out: &mut [u8; 32]| {
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex");
        }
    };
    match which % 9 {
        0 => {}
        1 => value[31] = 1,
        2 | 3 | 4 => {
            from_hex(N, &mut value);
            value[31] = value[31].wrapping_add(which % 9 - 3);
        }
        5 | 6 | 7 => {
            from_hex(P, &mut value);
            value[31] = value[31].wrapping_add(which % 9 - 6);
        }
        _ => value = [0xff; 32],
    }
    value
}

fuzz_target!(|data: &[u8]| {
    let pool = &*POOL;
    // Each claim, and whether it was altered (an untouched one holds).
    let items: Vec<(Signed, bool)> = data
        .chunks_exact(4)
        .take(16)
        .map(|op| {
            let mut item = pool[usize::from(op[0]) % pool.len()].clone();
            let (at, value) = (usize::from(op[2]), op[3] | 1);
            let altered = match op[1] % 8 {
                0..=3 => false,
                4 => {
                    item.signature[at % 64] ^= value;
                    true
                }
                5 => {
                    item.message[at % 32] ^= value;
                    true
                }
                6 => {
                    let other = &pool[at % pool.len()].key;
                    item.key = other.clone();
                    true
                }
                _ if op[2] & 1 == 0 => {
                    item.signature[32..].copy_from_slice(&edge(op[3]));
                    true
                }
                _ => {
                    item.signature[..32].copy_from_slice(&edge(op[3]));
                    true
                }
            };
            (item, altered)
        })
        .collect();
    let claims: Vec<Claim<'_>> = items.iter().map(|(item, _)| item.claim()).collect();
    let single: Vec<bool> = claims
        .iter()
        .zip(&items)
        .map(|(claim, (_, altered))| !altered || claim.holds_alone())
        .collect();
    for mode in [Mode::Batch, Mode::BatchWithLanes] {
        assert_eq!(
            bip340::verify_all_in(&claims, mode),
            single,
            "batch verdicts in mode {mode} differ from single ones"
        );
    }
});
