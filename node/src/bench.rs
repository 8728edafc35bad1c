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
    /// Operations per second (median over 20 ms slices).
    pub per_second: f64,
    /// Time per operation at that rate, in microseconds.
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

    // Measured together, slice by slice, so the ratios compare figures
    // taken over the same stretch of time even when the machine's speed drifts.
    let [raw, open, full, parse] = measure_together(
        per_figure,
        [
            ("raw Ed25519 verify (strict)", &mut || {
                assert!(public.verify(black_box(&message), &signature));
            }),
            ("envelope verify", &mut || {
                black_box(
                    archy_trust::envelope::open(black_box(&envelope), "archy/manifest", None)
                        .expect("sample verifies"),
                );
            }),
            ("signed manifest verify", &mut || {
                black_box(signing::verify(black_box(&envelope), None).expect("sample verifies"));
            }),
            ("manifest parse + validate", &mut || {
                black_box(
                    Manifest::from_yaml(black_box(&yaml), "sample", Form::Published)
                        .expect("sample is valid"),
                );
            }),
        ],
    );
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
    let breakdown = measure_together(
        per_figure,
        [
            ("parse envelope JSON", &mut || {
                black_box(
                    serde_json::from_slice::<serde_json::Value>(black_box(&envelope))
                        .expect("JSON"),
                );
            }),
            ("canonical JSON (non-canonical input only)", &mut || {
                black_box(
                    archy_trust::canonical::to_canonical_json(black_box(&signed_value["signed"]))
                        .expect("canonical"),
                );
            }),
            ("parse did:key, first sight", &mut || {
                let text = next_did.next().expect("cycle never ends");
                black_box(text.parse::<archy_trust::Did>().expect("DID"));
            }),
            ("manifest rules on JSON payload", &mut || {
                black_box(
                    Manifest::from_json(black_box(payload.clone()), "sample", Form::Published)
                        .expect("valid"),
                );
            }),
        ],
    )
    .to_vec();
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

/// One operation to measure: its name and the work.
pub(crate) type Op<'a> = (&'static str, &'a mut dyn FnMut());

/// Runs every operation in turn, in slices of about 20 ms, until each has
/// run for `each` in total, after a short warm-up (100 runs, or `each` if
/// that is shorter). The rate reported is the median over an operation's
/// slices: a slice slowed by something else on the machine then moves no
/// figure.
pub(crate) fn measure_together<const N: usize>(
    each: Duration,
    mut ops: [Op<'_>; N],
) -> [Figure; N] {
    const SLICE: Duration = Duration::from_millis(20);
    let mut spent = [Duration::ZERO; N];
    let mut iterations = [0u64; N];
    let mut slice_rates: [Vec<f64>; N] = std::array::from_fn(|_| Vec::new());
    for (_, op) in ops.iter_mut() {
        let warming = Instant::now();
        for _ in 0..100 {
            op();
            if warming.elapsed() >= each {
                break;
            }
        }
    }
    while spent.iter().any(|s| *s < each) {
        for (i, (_, op)) in ops.iter_mut().enumerate() {
            let start = Instant::now();
            let mut done = 0u64;
            while start.elapsed() < SLICE {
                for _ in 0..16 {
                    op();
                }
                done += 16;
            }
            let elapsed = start.elapsed();
            spent[i] += elapsed;
            iterations[i] += done;
            slice_rates[i].push(done as f64 / elapsed.as_secs_f64());
        }
    }
    std::array::from_fn(|i| {
        let rates = &mut slice_rates[i];
        rates.sort_by(f64::total_cmp);
        let per_second = rates[rates.len() / 2];
        Figure {
            name: ops[i].0,
            iterations: iterations[i],
            per_second,
            micros_per_op: 1e6 / per_second,
        }
    })
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
            assert!(f.iterations > 0 && f.per_second > 0.0, "{f:?}");
        }
        assert!(figures.envelope_bytes > figures.manifest_yaml_bytes / 2);
    }
}
