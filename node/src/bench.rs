//! Measurements behind `archy bench`: how fast signed manifests are checked.
//!
//! Each figure runs one operation in a loop on one thread for a fixed time
//! and reports operations per second. The raw Ed25519 verify of a message
//! the size of the canonical envelope is the anchor the other figures are
//! compared with.

use std::hint::black_box;
use std::time::{Duration, Instant};

use archy_registry::{Form, Manifest, signing};
use archy_trust::{Identity, Signed};
use serde::Serialize;

/// One measured operation.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// What was measured.
    pub name: &'static str,
    /// Operations completed.
    pub iterations: u64,
    /// Operations per second.
    pub per_second: f64,
    /// Mean time per operation, in microseconds.
    pub micros_per_op: f64,
}

/// The figures `archy bench manifest` prints.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestFigures {
    /// Size of the sample manifest's YAML.
    pub manifest_yaml_bytes: usize,
    /// Size of the sample signed envelope.
    pub envelope_bytes: usize,
    /// Raw Ed25519 strict verification of a message as long as the envelope's canonical form.
    pub raw_ed25519_verify: Figure,
    /// Envelope verification of a signed manifest: JSON, envelope checks,
    /// signer, signature over the canonical form (the payload is not read).
    pub envelope_verify: Figure,
    /// Full verification of a signed manifest: the envelope, then every
    /// manifest rule and signer = publisher.
    pub signed_manifest_verify: Figure,
    /// Reading and checking the manifest YAML.
    pub manifest_parse_validate: Figure,
    /// `envelope_verify` as a share of `raw_ed25519_verify`.
    pub envelope_to_raw_ratio: f64,
    /// `signed_manifest_verify` as a share of `raw_ed25519_verify`.
    pub signed_manifest_to_raw_ratio: f64,
    /// Where the time of `signed_manifest_verify` goes, step by step.
    pub breakdown: Vec<Figure>,
}

/// A small, realistic published manifest: one container, one port, a health check.
pub fn sample_manifest_yaml(identity: &Identity) -> String {
    let hash = blake3::hash(b"sample image").to_hex();
    format!(
        "manifest_version: 1\nid: org.example.hello-web\nversion: 1.0.0\ntitle: Hello web\n\
         summary: A static page served by busybox httpd\npublisher: {}\nlicense: MIT\n\
         containers:\n  - name: web\n    image:\n      blake3: {hash}\n      size: 1048576\n      id: sha256:{hash}\n\
         \x20   command: [httpd, -f, -p, \"8080\", -h, /www]\n    ports:\n      - container: 8080\n\
         \x20   health:\n      http:\n        port: 8080\n",
        identity.did()
    )
}

/// Runs every figure for `per_figure` each.
pub fn manifest(per_figure: Duration) -> ManifestFigures {
    let identity = Identity::from_seed(&[7; 32]);
    let yaml = sample_manifest_yaml(&identity);
    let manifest = Manifest::from_yaml(&yaml, "sample", Form::Published)
        .expect("the built-in sample manifest is valid");
    let envelope = Signed::sign(&manifest, &identity).expect("the sample manifest signs");
    let canonical_len = {
        let value: serde_json::Value =
            serde_json::from_slice(&envelope).expect("own envelope is JSON");
        archy_trust::canonical::to_canonical_json(&value["signed"])
            .expect("own envelope canonicalizes")
            .len()
    };
    let message = vec![0x5a; canonical_len];
    let signature = identity.sign(&message);
    let public = identity.public_key();

    let raw = measure("raw Ed25519 verify (strict)", per_figure, || {
        assert!(public.verify(black_box(&message), &signature));
    });
    let open = measure("envelope verify", per_figure, || {
        black_box(
            archy_trust::envelope::open(black_box(&envelope), "archy/manifest", None)
                .expect("sample verifies"),
        );
    });
    let full = measure("signed manifest verify", per_figure, || {
        black_box(signing::verify(black_box(&envelope), None).expect("sample verifies"));
    });
    let parse = measure("manifest parse + validate", per_figure, || {
        black_box(
            Manifest::from_yaml(black_box(&yaml), "sample", Form::Published)
                .expect("sample is valid"),
        );
    });
    // More distinct DIDs than the parse cache holds, so every parse is a first sight.
    let cold_dids: Vec<String> = (0..5000u32)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&i.to_le_bytes());
            Identity::from_seed(&seed).did().to_string()
        })
        .collect();
    let mut next_did = cold_dids.iter().cycle();
    let signed_value: serde_json::Value =
        serde_json::from_slice(&envelope).expect("own envelope is JSON");
    let payload = signed_value["signed"]["payload"].clone();
    let breakdown = vec![
        measure("parse envelope JSON", per_figure, || {
            black_box(
                serde_json::from_slice::<serde_json::Value>(black_box(&envelope)).expect("JSON"),
            );
        }),
        measure(
            "canonical JSON (non-canonical input only)",
            per_figure,
            || {
                black_box(
                    archy_trust::canonical::to_canonical_json(black_box(&signed_value["signed"]))
                        .expect("canonical"),
                );
            },
        ),
        measure("parse did:key, first sight", per_figure, || {
            let text = next_did.next().expect("cycle never ends");
            black_box(text.parse::<archy_trust::Did>().expect("DID"));
        }),
        measure("manifest rules on JSON payload", per_figure, || {
            black_box(
                Manifest::from_json(black_box(&payload), "sample", Form::Published).expect("valid"),
            );
        }),
    ];
    ManifestFigures {
        breakdown,
        manifest_yaml_bytes: yaml.len(),
        envelope_bytes: envelope.len(),
        envelope_to_raw_ratio: open.per_second / raw.per_second,
        signed_manifest_to_raw_ratio: full.per_second / raw.per_second,
        raw_ed25519_verify: raw,
        envelope_verify: open,
        signed_manifest_verify: full,
        manifest_parse_validate: parse,
    }
}

/// Calls `op` in batches until `duration` has passed, after a short warm-up.
fn measure(name: &'static str, duration: Duration, mut op: impl FnMut()) -> Figure {
    for _ in 0..100 {
        op();
    }
    let start = Instant::now();
    let mut iterations = 0u64;
    while start.elapsed() < duration {
        for _ in 0..64 {
            op();
        }
        iterations += 64;
    }
    let seconds = start.elapsed().as_secs_f64();
    Figure {
        name,
        iterations,
        per_second: iterations as f64 / seconds,
        micros_per_op: seconds * 1e6 / iterations as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_runs_and_reports_every_figure() {
        let figures = manifest(Duration::from_millis(20));
        for f in [
            &figures.raw_ed25519_verify,
            &figures.envelope_verify,
            &figures.manifest_parse_validate,
        ] {
            assert!(f.iterations >= 64, "{f:?}");
        }
        assert!(figures.envelope_bytes > figures.manifest_yaml_bytes / 2);
    }
}
