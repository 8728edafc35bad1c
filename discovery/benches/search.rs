//! Ranked search over a market of 100 k listings: single words, pairs and
//! three-letter prefixes, as people type them, through the index the
//! market answers from.
//!
//! `cargo bench -p archy-discovery --bench search`

use std::hint::black_box;

use archy_discovery::search::{Fields, SearchIndex};
use criterion::{Criterion, criterion_group, criterion_main};

/// Listings in the index.
const LISTINGS: usize = 100_000;
/// Words titles and summaries are made of.
const WORDS: [&str; 24] = [
    "notes", "wiki", "photo", "music", "video", "chat", "mail", "calendar", "tasks", "files",
    "backup", "sync", "books", "recipes", "finance", "budget", "fitness", "maps", "weather",
    "news", "reader", "podcast", "garden", "chess",
];
/// Categories listings pick from.
const CATEGORIES: [&str; 4] = ["productivity", "media", "tools", "games"];

/// One listing's indexed text.
struct Listing {
    did: String,
    app_id: String,
    title: String,
    summary: String,
    categories: Vec<String>,
}

fn listing(i: usize) -> Listing {
    let w = |k: usize| WORDS[(i / k + k * 7) % WORDS.len()];
    Listing {
        did: format!("did:key:publisher{}", i % 1000),
        app_id: format!("org.bench.app{i}"),
        title: format!("{} {} {i}", w(1), w(WORDS.len())),
        summary: format!("a {} for your {} and {}", w(3), w(5), w(11)),
        categories: vec![CATEGORIES[i % CATEGORIES.len()].to_owned()],
    }
}

fn search(c: &mut Criterion) {
    let mut index = SearchIndex::new();
    for i in 0..LISTINGS {
        let l = listing(i);
        index.upsert(Fields {
            did: &l.did,
            app_id: &l.app_id,
            title: &l.title,
            summary: &l.summary,
            categories: &l.categories,
        });
    }
    let mut group = c.benchmark_group("search over 100 k listings");
    for query in ["notes", "photo music", "cal"] {
        group.bench_function(format!("\"{query}\", 20 results"), |b| {
            b.iter(|| index.search(black_box(query), 0, 20))
        });
    }
    group.finish();
}

criterion_group!(benches, search);
criterion_main!(benches);
