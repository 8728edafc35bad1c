//! Signed manifests on one core: envelope verify, full signed-manifest
//! verify and manifest parsing, beside their anchor, a raw Ed25519 verify
//! of a message as long as the envelope's canonical form, measured in the
//! same run. Then where the time of a signed-manifest verify goes, step by
//! step.
//!
//! `cargo bench -p archy-registry --bench manifest`

use std::hint::black_box;

use archy_registry::{Form, Manifest, signing};
use archy_trust::{Identity, Signed};
use criterion::{Criterion, criterion_group, criterion_main};

/// A small, realistic published manifest: one container, one port, a health check.
fn sample_manifest_yaml(identity: &Identity) -> String {
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

fn manifest(c: &mut Criterion) {
    let identity = Identity::from_seed(&[7; 32]);
    let yaml = sample_manifest_yaml(&identity);
    let manifest = Manifest::from_yaml(&yaml, "sample", Form::Published)
        .expect("the built-in sample manifest is valid");
    let envelope = Signed::sign(&manifest, &identity).expect("the sample manifest signs");
    let signed_value: serde_json::Value =
        serde_json::from_slice(&envelope).expect("own envelope is JSON");
    let canonical_len = archy_trust::canonical::to_canonical_json(&signed_value["signed"])
        .expect("own envelope canonicalizes")
        .len();
    let message = vec![0x5a; canonical_len];
    let signature = identity.sign(&message);
    let public = identity.public_key();

    let mut group = c.benchmark_group("manifest");
    group.bench_function("raw Ed25519 verify (strict), the anchor", |b| {
        b.iter(|| assert!(public.verify(black_box(&message), &signature)))
    });
    group.bench_function("envelope verify", |b| {
        b.iter(|| {
            archy_trust::envelope::open(black_box(&envelope), "archy/manifest", None)
                .expect("sample verifies")
        })
    });
    group.bench_function("signed manifest verify", |b| {
        b.iter(|| signing::verify(black_box(&envelope), None).expect("sample verifies"))
    });
    group.bench_function("manifest parse + validate", |b| {
        b.iter(|| {
            Manifest::from_yaml(black_box(&yaml), "sample", Form::Published)
                .expect("sample is valid")
        })
    });
    group.finish();

    // More distinct DIDs than the parse cache holds, so every parse is a first sight.
    let cold_dids: Vec<String> = (0..5000u32)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&i.to_le_bytes());
            Identity::from_seed(&seed).did().to_string()
        })
        .collect();
    let mut next_did = cold_dids.iter().cycle();
    let payload = signed_value["signed"]["payload"].clone();
    let mut steps = c.benchmark_group("signed manifest verify, step by step");
    steps.bench_function("parse envelope JSON", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&envelope)).expect("JSON"))
    });
    steps.bench_function("canonical JSON (non-canonical input only)", |b| {
        b.iter(|| {
            archy_trust::canonical::to_canonical_json(black_box(&signed_value["signed"]))
                .expect("canonical")
        })
    });
    steps.bench_function("parse did:key, first sight", |b| {
        b.iter(|| {
            let text = next_did.next().expect("cycle never ends");
            text.parse::<archy_trust::Did>().expect("DID")
        })
    });
    steps.bench_function("manifest rules on JSON payload", |b| {
        b.iter(|| {
            Manifest::from_json(black_box(payload.clone()), "sample", Form::Published)
                .expect("valid")
        })
    });
    steps.finish();
}

criterion_group!(benches, manifest);
criterion_main!(benches);
