//! `archy-bench trust`: the trust score at the scale of a large network,
//! in this process, on one thread.
//!
//! A synthetic follow graph (`archy_trust::score::synthetic`: 100 000 keys,
//! 2 000 000 follows, power-law out-degrees, the same on every machine) is
//! fed to a `TrustModel` seen from one owner, deep enough that every key is
//! within reach. Then, each `runs` times, the median the figure:
//!
//! - a full recompute: the graph rebuilt from the stored lists and
//!   personalized PageRank solved from the owner;
//! - an update after one new follow list, of a key the owner follows and
//!   of the owner itself (the largest change one list can make): the graph
//!   rebuilt and the previous mass refined; and how far that lands from a
//!   full recompute;
//! - an update after one report, with the app's new verdict;
//! - `explain` for the publisher whose key is followed the most (its row of
//!   followers is the longest).
//!
//! Memory: the process's resident memory with the model built, and its
//! peak while recomputing and updating (the high-water mark is reset after
//! the graph is fed, so the generator's own memory is not counted).

use std::time::Instant;

use anyhow::ensure;
use archy_trust::Identity;
use archy_trust::score::synthetic::{self, Spec};
use archy_trust::score::{
    AppAsks, Limits, Names, Publisher, PublisherFacts, Report, ReportKind, ReportTarget, TrustModel,
};
use serde::Serialize;

use crate::daemon::median;
use crate::memory::read_status;
use crate::output::Output;

/// Vertex's personalized PageRank, per query, as they publish it.
const VERTEX_MS: f64 = 600.0;
/// The time verdicts are asked at.
const NOW: u64 = 1_750_000_000;
/// `explain` calls timed per run.
const EXPLAINS: usize = 101;

/// What to measure.
pub struct TrustBench {
    /// Keys in the synthetic graph.
    pub keys: usize,
    /// Follows in it.
    pub edges: usize,
    /// The owner's rank in it (0 follows the most keys).
    pub owner_rank: usize,
    /// Repetitions of each measurement.
    pub runs: usize,
}

#[derive(Serialize)]
struct Figures {
    keys: usize,
    edges: usize,
    owner_follows: usize,
    feed_s: f64,
    recompute_ms: Vec<f64>,
    recompute_median_ms: f64,
    recompute_steps: u64,
    update_follow_list_ms: Vec<f64>,
    update_follow_list_median_ms: f64,
    update_follow_list_steps: u64,
    update_owner_list_ms: Vec<f64>,
    update_owner_list_median_ms: f64,
    update_error_l1: f64,
    update_report_ms: Vec<f64>,
    update_report_median_ms: f64,
    explain_median_us: Vec<f64>,
    explain_followers: u32,
    rss_built_mb: f64,
    rss_peak_mb: f64,
    /// Whether the peak is since the graph was fed (else of the whole run).
    peak_reset: bool,
}

/// Runs the benchmark and prints its figures.
pub fn run(bench: TrustBench, out: &Output) -> anyhow::Result<()> {
    ensure!(
        bench.owner_rank < bench.keys,
        "--owner-rank must be below --keys"
    );
    let spec = Spec {
        keys: bench.keys,
        edges: bench.edges,
        seed: 1,
    };
    let limits = Limits {
        // Deeper than any path in the graph: every key is within reach.
        depth: 16,
        max_keys: bench.keys.max(Limits::default().max_keys),
        max_edges: bench.edges.max(Limits::default().max_edges),
        ..Limits::default()
    };
    let began = Instant::now();
    let mut fed = synthetic::feed(spec, bench.owner_rank, limits);
    fed.model.recompute();
    let feed_s = began.elapsed().as_secs_f64();
    let peak_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();

    let mut recompute_ms = Vec::new();
    let mut recompute_steps = 0;
    for _ in 0..bench.runs {
        let began = Instant::now();
        recompute_steps = fed.model.recompute().steps;
        recompute_ms.push(ms(began));
    }
    let stats = fed.model.stats();
    let rss_built_mb = read_status(std::process::id()).map_or(0.0, |s| s.vm_rss as f64 / 1024.0);

    let mut version = 0;
    let mut update = |model: &mut TrustModel, list: &archy_trust::score::FollowList| {
        version += 1;
        let began = Instant::now();
        model.add_follow_list(synthetic::changed(list, version));
        let done = model.update();
        (ms(began), done.steps)
    };
    let mut update_follow_list_ms = Vec::new();
    let mut update_follow_list_steps = Vec::new();
    for _ in 0..bench.runs {
        let (took, steps) = update(&mut fed.model, &fed.followed);
        update_follow_list_ms.push(took);
        update_follow_list_steps.push(steps as f64);
    }
    let mut update_owner_list_ms = Vec::new();
    for _ in 0..bench.runs {
        update_owner_list_ms.push(update(&mut fed.model, &fed.owner).0);
    }
    let updated = fed.model.clone();
    fed.model.recompute();
    let update_error_l1 = fed.model.mass_distance(&updated);

    let did = Identity::from_seed(&[0x7a; 32]).did();
    fed.model.set_publisher(Publisher {
        did: did.clone(),
        nostr_key: Some(synthetic::key(spec.seed, 0)),
        facts: PublisherFacts::default(),
    });
    let names = Names::new();
    let mut update_report_ms = Vec::new();
    for run in 0..bench.runs {
        let began = Instant::now();
        fed.model.add_report(Report {
            author: fed.owner.follows[run % fed.owner.follows.len()],
            target: ReportTarget::App {
                publisher: Box::new(did.clone()),
                app_id: "notes".into(),
            },
            kind: ReportKind::Malware,
            created_at: 10,
        });
        fed.model.update();
        let verdict = fed
            .model
            .explain_app(&did, "notes", &AppAsks::default(), NOW, &names);
        update_report_ms.push(ms(began));
        std::hint::black_box(verdict);
    }

    let mut explain_median_us = Vec::new();
    let mut explain_followers = 0;
    for _ in 0..bench.runs {
        let mut calls = Vec::with_capacity(EXPLAINS);
        for _ in 0..EXPLAINS {
            let began = Instant::now();
            let verdict = fed.model.explain_publisher(&did, NOW, &names);
            calls.push(began.elapsed().as_secs_f64() * 1e6);
            explain_followers = verdict
                .reasons
                .iter()
                .find_map(|r| match r {
                    archy_trust::score::Reason::FollowedByYourFollows { count, .. } => Some(*count),
                    _ => None,
                })
                .unwrap_or(0);
        }
        explain_median_us.push(median(&calls));
    }
    let rss_peak_mb = read_status(std::process::id()).map_or(0.0, |s| s.vm_hwm as f64 / 1024.0);

    let figures = Figures {
        keys: stats.keys,
        edges: stats.edges,
        owner_follows: stats.follows,
        feed_s,
        recompute_median_ms: median(&recompute_ms),
        recompute_ms,
        recompute_steps,
        update_follow_list_median_ms: median(&update_follow_list_ms),
        update_follow_list_ms,
        update_follow_list_steps: median(&update_follow_list_steps) as u64,
        update_owner_list_median_ms: median(&update_owner_list_ms),
        update_owner_list_ms,
        update_error_l1,
        update_report_median_ms: median(&update_report_ms),
        update_report_ms,
        explain_median_us,
        explain_followers,
        rss_built_mb,
        rss_peak_mb,
        peak_reset,
    };
    out.result(&figures, || report(&figures, bench.runs));
    Ok(())
}

fn report(f: &Figures, runs: usize) -> String {
    let lines = [
        format!(
            "graph: {} keys, {} follows, the owner follows {} (made, fed and first solved in {:.1} s)",
            f.keys, f.edges, f.owner_follows, f.feed_s
        ),
        row(
            &format!(
                "full recompute, one thread (graph + PageRank, {} steps)",
                f.recompute_steps
            ),
            &f.recompute_ms,
            "ms",
            0,
            "<= 1000 ms",
        ),
        format!(
            "  anchor: Vertex's personalized PageRank ~{VERTEX_MS:.0} ms per query (their published figure); ours {:.2}x that",
            f.recompute_median_ms / VERTEX_MS
        ),
        row(
            &format!(
                "update after one new follow list of a key the owner follows ({} steps)",
                f.update_follow_list_steps
            ),
            &f.update_follow_list_ms,
            "ms",
            1,
            "<= 50 ms",
        ),
        row(
            "update after the owner's own list changes",
            &f.update_owner_list_ms,
            "ms",
            1,
            "<= 50 ms",
        ),
        format!(
            "  after those updates, L1 distance from a full recompute: {:.1e}",
            f.update_error_l1
        ),
        row(
            "update after one report, with the app's new verdict",
            &f.update_report_ms,
            "ms",
            3,
            "<= 50 ms",
        ),
        row(
            &format!(
                "explain one publisher (followed by {} keys the owner follows; median of {EXPLAINS} calls a run)",
                f.explain_followers
            ),
            &f.explain_median_us,
            "us",
            1,
            "<= 5000 us",
        ),
        format!(
            "resident memory with the model built: {:.0} MB; peak {}: {:.0} MB (target <= 300 MB)",
            f.rss_built_mb,
            if f.peak_reset {
                "while recomputing and updating"
            } else {
                "of the whole run, the graph's making included (the high-water mark could not be reset)"
            },
            f.rss_peak_mb
        ),
    ];
    format!("{}\n({runs} runs of each)", lines.join("\n"))
}

/// "what, median: M unit (target T; all: a, b, c)".
fn row(what: &str, values: &[f64], unit: &str, decimals: usize, target: &str) -> String {
    let all = values
        .iter()
        .map(|v| format!("{v:.decimals$}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{what}, median: {:.decimals$} {unit} (target {target}; all: {all})",
        median(values)
    )
}

fn ms(began: Instant) -> f64 {
    began.elapsed().as_secs_f64() * 1000.0
}
