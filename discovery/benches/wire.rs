//! Reading events as a relay sends them: [`wire::read`] (parse and id
//! check in one pass over the text) beside its anchor, `nostr`'s own parser
//! with its id check, on the same listings in the same run. Throughput is
//! per event.
//!
//! `cargo bench -p archy-discovery --bench wire`

use std::hint::black_box;

use archy_discovery::wire;
use archy_synthetic::SyntheticPublisher;
use archy_trust::Identity;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nostr::{Event, JsonUtil};

/// Listings read per iteration.
const EVENTS: usize = 200;

/// `EVENTS` listing events from four publishers, as relays send them.
fn listings() -> Vec<String> {
    let publishers: Vec<SyntheticPublisher> = (0..4u8)
        .map(|p| {
            SyntheticPublisher::new(Identity::from_seed(&[p + 1; 32]), "Bench", 4_000_000_000)
                .expect("a synthetic publisher")
        })
        .collect();
    (0..EVENTS)
        .map(|i| {
            let publisher = &publishers[i % publishers.len()];
            let listing = publisher
                .listing(
                    &format!("org.bench.app{i}"),
                    &format!("Notes {i}"),
                    "a wiki for your photos and music",
                    &["productivity"],
                )
                .expect("a synthetic listing");
            publisher
                .listing_event(&listing, 1_700_000_000 + i as u64)
                .expect("a synthetic event")
                .as_json()
        })
        .collect()
}

fn read(c: &mut Criterion) {
    let raw = listings();
    let mut group = c.benchmark_group("event read");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("nostr Event::from_json + verify_id, the anchor", |b| {
        b.iter(|| {
            for text in &raw {
                let event = Event::from_json(black_box(text)).expect("a real event");
                assert!(event.verify_id());
            }
        })
    });
    group.bench_function("wire::read", |b| {
        b.iter(|| {
            for text in &raw {
                assert!(wire::read(black_box(text)).expect("a real event").id_holds);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, read);
criterion_main!(benches);
