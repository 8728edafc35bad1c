//! The trust score over a synthetic follow graph of 100 000 keys and
//! 2 000 000 follows (power-law out-degrees), seen from one owner, the
//! whole graph within reach: a full recompute (graph and personalized
//! PageRank, one thread), an update after one new follow list, and after
//! one report, and `explain` for one publisher.
//!
//! Targets: recompute ≤ 1 s, updates ≤ 50 ms, explain ≤ 5 ms. Anchor, not
//! measured here: Vertex's personalized PageRank, ~600 ms per query
//! (their published figure). `archy-bench trust` measures the same with
//! the memory beside it.
//!
//! `cargo bench -p archy-trust --bench score`. A debug build (`cargo
//! test`'s one run of each benchmark) uses a graph a fiftieth the size.

use std::hint::black_box;
use std::time::Duration;

use archy_trust::Identity;
use archy_trust::score::synthetic::{self, Spec};
use archy_trust::score::{
    AppAsks, Limits, Names, Publisher, PublisherFacts, Report, ReportKind, ReportTarget,
};
use criterion::{Criterion, criterion_group, criterion_main};

/// The graph: 100 000 keys and 2 000 000 follows in a release build.
const SPEC: Spec = if cfg!(debug_assertions) {
    Spec {
        keys: 2_000,
        edges: 40_000,
        seed: 1,
    }
} else {
    Spec {
        keys: 100_000,
        edges: 2_000_000,
        seed: 1,
    }
};
/// The owner's rank: it follows about a hundred keys.
const OWNER_RANK: usize = 1_000;
/// Deep enough that every key is within reach.
const DEPTH: u8 = 12;
/// The time verdicts are asked at.
const NOW: u64 = 1_750_000_000;

fn score(c: &mut Criterion) {
    let limits = Limits {
        depth: DEPTH,
        ..Limits::default()
    };
    let mut fed = synthetic::feed(SPEC, OWNER_RANK, limits);
    fed.model.recompute();
    let did = Identity::from_seed(&[7; 32]).did();
    fed.model.set_publisher(Publisher {
        did: did.clone(),
        nostr_key: fed.followed.follows.first().copied(),
        facts: PublisherFacts::default(),
    });
    let names = Names::new();
    let asks = AppAsks::default();

    let mut group = c.benchmark_group("trust over 100 k keys and 2 M follows");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("full recompute (graph and PageRank, one thread)", |b| {
        b.iter(|| black_box(fed.model.recompute()))
    });
    let mut version = 0;
    group.bench_function("update after one new follow list", |b| {
        b.iter(|| {
            version += 1;
            fed.model
                .add_follow_list(synthetic::changed(&fed.followed, version));
            black_box(fed.model.update())
        })
    });
    let mut at = 0;
    group.bench_function("update after one report, with the new verdict", |b| {
        b.iter(|| {
            at += 1;
            fed.model.add_report(Report {
                author: fed.owner.follows[at as usize % fed.owner.follows.len()],
                target: ReportTarget::App {
                    publisher: Box::new(did.clone()),
                    app_id: "notes".into(),
                },
                kind: ReportKind::Malware,
                created_at: at,
            });
            fed.model.update();
            black_box(fed.model.explain_app(&did, "notes", &asks, NOW, &names))
        })
    });
    group.bench_function("explain one publisher", |b| {
        b.iter(|| black_box(fed.model.explain_publisher(&did, NOW, &names)))
    });
    group.finish();
}

criterion_group!(benches, score);
criterion_main!(benches);
