//! `archy-bench discovery`: what discovery costs at market scale.
//!
//! A child process (`archy-bench discovery-relay`) makes N synthetic
//! listings from P publishers (real keys, roots, bindings, signed
//! manifests, Schnorr signatures) and serves them from nostr-relay-builder's
//! relay on loopback; this process then runs the discovery service against
//! it and reports:
//!
//! - ingest: events per second of wall time, and per CPU second of this
//!   process (relay follower, verification and indexing; the relay's own
//!   work is in the child), from start to the last listing indexed;
//! - search: latency of ranked queries over the full index, through the
//!   same [`Market`] the control socket uses (p50, p99, max);
//! - memory: this process's resident set with everything indexed;
//! - the yardstick: Schnorr verifications per second on the same core just
//!   before and just after the ingest, since the ingest target is stated
//!   against it and shared machines change speed from one hour (even one
//!   minute) to the next; with several runs, each ingest into a fresh
//!   index, the run with the median share is the figure, taken among the
//!   steady runs (yardsticks before and after within [`MAX_DRIFT`] of each
//!   other), where the machine kept one speed.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use archy_discovery::market::{Market, Query};
use archy_discovery::service::{Discovery, DiscoveryOptions};
use archy_synthetic::{SyntheticError, SyntheticPublisher};
use archy_trust::Identity;
use nostr::Event;
use nostr_relay_builder::prelude::{MemoryDatabase, MemoryDatabaseOptions, NostrDatabase};
use nostr_relay_builder::{LocalRelay, RelayBuilder};
use serde::Serialize;

/// Words titles and summaries are made of.
const WORDS: [&str; 48] = [
    "notes", "wiki", "photo", "music", "video", "chat", "mail", "calendar", "tasks", "files",
    "backup", "sync", "books", "recipes", "finance", "budget", "fitness", "maps", "weather",
    "news", "reader", "podcast", "radio", "garden", "home", "energy", "solar", "camera", "paste",
    "forms", "survey", "kanban", "docs", "sheets", "slides", "code", "git", "search", "vault",
    "password", "monitor", "status", "dns", "proxy", "torrent", "game", "chess", "library",
];
/// Categories listings pick from.
const CATEGORIES: [&str; 8] = [
    "productivity",
    "media",
    "social",
    "finance",
    "tools",
    "home",
    "games",
    "developer",
];

/// Everything `archy-bench discovery` prints.
#[derive(Debug, Clone, Serialize)]
pub struct DiscoveryFigures {
    /// Listings served by the relay.
    pub listings: usize,
    /// CPUs the node could use while ingesting.
    pub cores: usize,
    /// Publishers they come from.
    pub publishers: usize,
    /// Seconds from start to the last listing indexed.
    pub ingest_seconds: f64,
    /// Events (listings and catalogs) per second of wall time.
    pub ingest_per_second: f64,
    /// Events per CPU second of this process.
    pub ingest_per_cpu_second: f64,
    /// Schnorr signature checks per second on one core of this process:
    /// the mean of the two measurements below.
    pub schnorr_per_second: f64,
    /// The same, measured just before the ingest.
    pub schnorr_before: f64,
    /// The same, measured just after it.
    pub schnorr_after: f64,
    /// Events per second over the yardstick: what the ingest target is
    /// stated against.
    pub share: f64,
    /// Every ingest, in order; the figures above are the one with the
    /// median share among the steady ones (among all, if none is).
    pub runs: Vec<IngestRun>,
    /// How many runs were steady.
    pub steady_runs: usize,
    /// Queries timed.
    pub queries: usize,
    /// Median query latency, ms.
    pub search_p50_ms: f64,
    /// 99th percentile, ms.
    pub search_p99_ms: f64,
    /// Slowest, ms.
    pub search_max_ms: f64,
    /// Resident set with everything indexed, MB.
    pub rss_mb: f64,
}

/// One ingest of every listing into a fresh index. Shared machines change
/// speed from one minute to the next, so a figure worth comparing is the
/// median of a few.
#[derive(Debug, Clone, Serialize)]
pub struct IngestRun {
    /// Seconds from start to the last listing indexed.
    pub seconds: f64,
    /// Events per second of wall time.
    pub per_second: f64,
    /// Events per CPU second of this process.
    pub per_cpu_second: f64,
    /// Schnorr checks per second on this core just before the ingest.
    pub schnorr_before: f64,
    /// The same just after it.
    pub schnorr_after: f64,
    /// `per_second` over [`Self::yardstick`].
    pub share: f64,
    /// Whether the yardsticks before and after are within [`MAX_DRIFT`]
    /// of each other (always, for a run measured alongside).
    pub steady: bool,
    /// The yardstick run beside the ingest, if it was.
    pub alongside: Option<Alongside>,
}

/// Schnorr checks run beside an ingest, in a thread of their own on the
/// node's core. The two share that core's time, so whatever the machine's
/// speed does during the ingest it does to both, and the ratio of their
/// rates per CPU second holds where yardsticks before and after cannot say
/// what happened in between.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Alongside {
    /// Schnorr checks per CPU second of the thread that ran them.
    pub schnorr_per_cpu_second: f64,
    /// Events per CPU second of the node: this process less that thread.
    pub node_per_cpu_second: f64,
}

impl IngestRun {
    /// `events` ingested in `seconds` of wall time and `cpu` seconds of
    /// CPU, between yardsticks of `schnorr_before` and `schnorr_after`.
    fn new(events: f64, seconds: f64, cpu: f64, schnorr_before: f64, schnorr_after: f64) -> Self {
        let per_second = events / seconds;
        Self {
            seconds,
            per_second,
            per_cpu_second: events / cpu,
            schnorr_before,
            schnorr_after,
            share: per_second / yardstick(schnorr_before, schnorr_after).max(1.0),
            steady: (schnorr_before - schnorr_after).abs()
                <= MAX_DRIFT * yardstick(schnorr_before, schnorr_after),
            alongside: None,
        }
    }

    /// The run measured against a yardstick run beside it: its share is
    /// the node's events per CPU second over the yardstick's checks per
    /// CPU second, which no change of the machine's speed moves.
    fn with_alongside(self, alongside: Alongside) -> Self {
        Self {
            per_cpu_second: alongside.node_per_cpu_second,
            share: alongside.node_per_cpu_second / alongside.schnorr_per_cpu_second.max(1.0),
            steady: true,
            alongside: Some(alongside),
            ..self
        }
    }

    /// The yardstick the run is compared with.
    pub fn yardstick(&self) -> f64 {
        yardstick(self.schnorr_before, self.schnorr_after)
    }
}

/// How far apart (as a share of their mean) the yardsticks before and
/// after a run may be for the run to count as steady: beyond it the
/// machine changed speed during the run, and no yardstick says how fast it
/// ran.
pub const MAX_DRIFT: f64 = 0.10;

/// The mean of the Schnorr checks per second before and after an ingest.
fn yardstick(before: f64, after: f64) -> f64 {
    (before + after) / 2.0
}

/// A failure of the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Making events.
    #[error(transparent)]
    Synthetic(#[from] SyntheticError),
    /// The relay.
    #[error("relay: {0}")]
    Relay(String),
    /// The index.
    #[error(transparent)]
    Store(#[from] archy_discovery::store::StoreError),
    /// The yardstick beside the ingest.
    #[error("the yardstick: {0}")]
    Yardstick(String),
    /// Keeping to one CPU failed.
    #[error("cannot keep to CPU {cpu}: {reason}")]
    Pin {
        /// The CPU.
        cpu: usize,
        /// Why.
        reason: String,
    },
    /// Not everything arrived.
    #[error("only {indexed} of {expected} listings indexed after {seconds} s")]
    Incomplete {
        /// Indexed.
        indexed: usize,
        /// Expected.
        expected: usize,
        /// Waited.
        seconds: u64,
    },
}

/// Keeps this thread, and every thread it starts from now on, on CPU
/// `cpu` alone: `--one-core` measures what one core does, with the relay
/// on another.
pub fn pin_to_cpu(cpu: usize) -> Result<(), BenchError> {
    // SAFETY: `set` is a plain bit set, zeroed then filled by the libc
    // helpers, and outlives the call that reads it.
    let done = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if done == 0 {
        Ok(())
    } else {
        Err(BenchError::Pin {
            cpu,
            reason: std::io::Error::last_os_error().to_string(),
        })
    }
}

/// Title and summary of listing `i`.
fn words_of(i: usize) -> (String, String) {
    let w = |k: usize| WORDS[(i / k.max(1) + k * 7) % WORDS.len()];
    let title = format!("{} {} {i}", capitalise(w(1)), w(WORDS.len()));
    let summary = format!("a {} for your {} and {}", w(3), w(5), w(11));
    (title, summary)
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `listings` listings from `publishers` publishers, each publisher's
/// catalog event first, made on every core.
pub fn generate(listings: usize, publishers: usize, now: u64) -> Result<Vec<Event>, BenchError> {
    let publishers = publishers.clamp(1, listings.max(1));
    let per = listings.div_ceil(publishers);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunks: Vec<Vec<usize>> = (0..threads)
        .map(|t| (0..publishers).filter(|p| p % threads == t).collect())
        .collect();
    let made: Vec<Result<Vec<Event>, BenchError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|mine| {
                scope.spawn(move || {
                    let mut events = Vec::new();
                    for &p in mine {
                        let identity = Identity::generate()
                            .map_err(|e| SyntheticError::Document(e.to_string()))?;
                        let publisher = SyntheticPublisher::new(
                            identity,
                            &format!("Publisher {p}"),
                            now + 86_400 * 365,
                        )?;
                        // Listings a second apart, so no publisher passes
                        // the flood limit's 120 per minute.
                        let start = now - 2 * 86_400 + (p as u64 % 1000) * 90;
                        events.push(publisher.catalog_event(start)?);
                        for i in (p * per)..((p + 1) * per).min(listings) {
                            let (title, summary) = words_of(i);
                            let category = CATEGORIES[i % CATEGORIES.len()];
                            let listing = publisher.listing(
                                &format!("org.bench.app{i}"),
                                &title,
                                &summary,
                                &[category],
                            )?;
                            let at = start + 1 + (i - p * per) as u64;
                            events.push(publisher.listing_event(&listing, at)?);
                        }
                    }
                    Ok(events)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(BenchError::Relay("a generator thread panicked".into()))
                })
            })
            .collect()
    });
    let mut events = Vec::with_capacity(listings + publishers);
    for chunk in made {
        events.extend(chunk?);
    }
    Ok(events)
}

/// Serves `events` from a relay on 127.0.0.1; returns it and its URL.
pub async fn serve(events: &[Event]) -> Result<(LocalRelay, String), BenchError> {
    let database = MemoryDatabase::with_opts(MemoryDatabaseOptions {
        events: true,
        max_events: Some(events.len() + 1000),
    });
    for event in events {
        database
            .save_event(event)
            .await
            .map_err(|e| BenchError::Relay(e.to_string()))?;
    }
    let relay = LocalRelay::new(
        RelayBuilder::default()
            .addr(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
            .database(database),
    );
    relay
        .run()
        .await
        .map_err(|e| BenchError::Relay(e.to_string()))?;
    let url = relay.url().await.to_string();
    Ok((relay, url))
}

/// CPU seconds (user + system) used by process `pid`, or by this one.
pub fn cpu_seconds(pid: Option<u32>) -> f64 {
    let path = pid.map_or("/proc/self/stat".to_owned(), |p| format!("/proc/{p}/stat"));
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of stat (utime, stime) are 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// This process's resident set, MB.
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// What is measured and how often.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Listings the relay serves.
    pub listings: usize,
    /// Publishers they come from.
    pub publishers: usize,
    /// Searches to time.
    pub queries: usize,
    /// Ingests, each into a fresh index.
    pub runs: usize,
    /// Run the yardstick beside each ingest, on its core ([`Alongside`]).
    pub alongside: bool,
    /// Longest one ingest may take.
    pub deadline: Duration,
}

/// Follows `url` until every listing is indexed (within the deadline),
/// between two yardsticks; times the searches and reads the resident set
/// with that index; then ingests again into a fresh index, until
/// `plan.runs` ingests are done.
pub async fn measure(url: &str, dir: &Path, plan: Plan) -> Result<DiscoveryFigures, BenchError> {
    let (discovery, first) = ingest(url, &dir.join("discovery-1.redb"), plan).await?;
    let market = discovery.market().clone();
    let timings = tokio::task::spawn_blocking(move || search_timings(&market, plan.queries))
        .await
        .map_err(|e| BenchError::Relay(e.to_string()))?;
    let rss = rss_mb();
    discovery.shutdown().await;
    let mut runs = vec![first];
    for run in 2..=plan.runs {
        let (discovery, figures) =
            ingest(url, &dir.join(format!("discovery-{run}.redb")), plan).await?;
        discovery.shutdown().await;
        runs.push(figures);
    }
    let steady_runs = runs.iter().filter(|r| r.steady).count();
    let median = median_run(&runs);
    Ok(DiscoveryFigures {
        listings: plan.listings,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        publishers: plan.publishers,
        ingest_seconds: median.seconds,
        ingest_per_second: median.per_second,
        ingest_per_cpu_second: median.per_cpu_second,
        schnorr_per_second: median.yardstick(),
        schnorr_before: median.schnorr_before,
        schnorr_after: median.schnorr_after,
        share: median.share,
        runs,
        steady_runs,
        queries: plan.queries,
        search_p50_ms: percentile(&timings, 50.0),
        search_p99_ms: percentile(&timings, 99.0),
        search_max_ms: timings.last().copied().unwrap_or(0.0),
        rss_mb: rss,
    })
}

/// The run with the median share among the steady ones, or among all if
/// none is steady (the lower middle one of an even count).
fn median_run(runs: &[IngestRun]) -> IngestRun {
    let any_steady = runs.iter().any(|r| r.steady);
    let mut by_share: Vec<&IngestRun> = runs.iter().filter(|r| r.steady || !any_steady).collect();
    by_share.sort_by(|a, b| a.share.total_cmp(&b.share));
    by_share
        .get(by_share.len().saturating_sub(1) / 2)
        .map_or_else(|| IngestRun::new(0.0, 1.0, 1.0, 0.0, 0.0), |r| (*r).clone())
}

/// One ingest of every listing into a fresh index at `index`, between two
/// yardsticks; the service is handed back still running.
async fn ingest(url: &str, index: &Path, plan: Plan) -> Result<(Discovery, IngestRun), BenchError> {
    let options = DiscoveryOptions {
        relays: vec![url.to_owned()],
        ..DiscoveryOptions::default()
    };
    let schnorr_before = schnorr_per_second()?;
    let beside_events = if plan.alongside {
        Some(yardstick_events()?)
    } else {
        None
    };
    let cpu_start = cpu_seconds(None);
    let beside = beside_events.map(Yardstick::start).transpose()?;
    let start = Instant::now();
    let discovery = Discovery::start(index, &options)?;
    let indexed = loop {
        let indexed = discovery.market().indexed();
        if indexed >= plan.listings {
            break indexed;
        }
        if start.elapsed() > plan.deadline {
            discovery.shutdown().await;
            return Err(BenchError::Incomplete {
                indexed,
                expected: plan.listings,
                seconds: plan.deadline.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let seconds = start.elapsed().as_secs_f64();
    let beside = beside.map(Yardstick::finish);
    let cpu = (cpu_seconds(None) - cpu_start).max(0.01);
    let events = indexed as f64 + plan.publishers as f64;
    let schnorr_after = schnorr_per_second()?;
    let run = IngestRun::new(events, seconds, cpu, schnorr_before, schnorr_after);
    let run = match beside {
        Some((checked, its_cpu)) => run.with_alongside(Alongside {
            schnorr_per_cpu_second: checked as f64 / its_cpu.max(0.01),
            node_per_cpu_second: events / (cpu - its_cpu).max(0.01),
        }),
        None => run,
    };
    Ok((discovery, run))
}

/// A thread checking Schnorr signatures, on the core it was started from,
/// until it is finished or dropped (an ingest that fails stops it too).
struct Yardstick {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<(usize, f64)>>,
}

impl Drop for Yardstick {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Yardstick {
    /// Starts checking `events` over and over.
    fn start(events: Vec<Event>) -> Result<Self, BenchError> {
        let stop = Arc::new(AtomicBool::new(false));
        let told = stop.clone();
        let thread = std::thread::Builder::new()
            .name("yardstick".into())
            .spawn(move || {
                let start = thread_cpu_seconds();
                let mut checked = 0;
                while !told.load(Ordering::Relaxed) {
                    checked += events.iter().filter(|e| e.verify_signature()).count();
                }
                (checked, thread_cpu_seconds() - start)
            })
            .map_err(|e| BenchError::Yardstick(format!("cannot start its thread: {e}")))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Checks made, and the CPU seconds they took.
    fn finish(mut self) -> (usize, f64) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|thread| thread.join().ok())
            .unwrap_or((0, 0.0))
    }
}

/// CPU seconds the calling thread has used.
fn thread_cpu_seconds() -> f64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to fill.
    let done = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if done == 0 {
        now.tv_sec as f64 + now.tv_nsec as f64 / 1e9
    } else {
        0.0
    }
}

/// The 100 signed events the yardstick checks.
fn yardstick_events() -> Result<Vec<Event>, BenchError> {
    let publisher =
        SyntheticPublisher::new(Identity::from_seed(&[7; 32]), "yardstick", 4_000_000_000)?;
    Ok((0..100)
        .map(|i| publisher.publisher_event(1_700_000_000 + i))
        .collect::<Result<_, _>>()?)
}

/// Schnorr signature checks per second on this thread, over 10 000 checks
/// of real events (about half a second: long enough that a moment's
/// slowdown of a shared machine does not decide it).
fn schnorr_per_second() -> Result<f64, BenchError> {
    let events = yardstick_events()?;
    let start = Instant::now();
    let mut checked = 0usize;
    for _ in 0..100 {
        checked += events.iter().filter(|e| e.verify_signature()).count();
    }
    Ok(checked as f64 / start.elapsed().as_secs_f64())
}

/// Latencies (ms, sorted) of `queries` searches: single words, pairs, and
/// three-letter prefixes, as people type them.
fn search_timings(market: &Market, queries: usize) -> Vec<f64> {
    let mut timings: Vec<f64> = (0..queries)
        .map(|q| {
            let word = WORDS[(q * 13) % WORDS.len()];
            let text = match q % 5 {
                0 | 1 => word.to_owned(),
                2 | 3 => format!("{word} {}", WORDS[(q * 7 + 3) % WORDS.len()]),
                _ => word.chars().take(3).collect(),
            };
            let query = Query::Search {
                text,
                category: None,
                offset: 0,
                limit: 20,
            };
            let start = Instant::now();
            let _ = market.answer(&query);
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    timings.sort_by(f64::total_cmp);
    timings
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of `per_second` events/s between yardsticks `before` and
    /// `after`.
    fn run(per_second: f64, before: f64, after: f64) -> IngestRun {
        IngestRun::new(per_second, 1.0, 1.0, before, after)
    }

    #[test]
    fn a_run_is_steady_while_the_yardsticks_agree() {
        assert!(run(10.0, 100.0, 109.0).steady);
        assert!(!run(10.0, 100.0, 112.0).steady);
        assert!(!run(10.0, 150.0, 100.0).steady);
    }

    #[test]
    fn a_run_beside_its_yardstick_is_compared_per_cpu_second() {
        let beside = run(10.0, 100.0, 200.0).with_alongside(Alongside {
            schnorr_per_cpu_second: 400.0,
            node_per_cpu_second: 250.0,
        });
        assert_eq!(beside.share, 0.625);
        assert_eq!(beside.per_cpu_second, 250.0);
        assert!(beside.steady, "speed changes touch both alike");
    }

    #[test]
    fn the_median_is_taken_among_the_steady_runs() {
        let runs = [
            run(90.0, 100.0, 100.0),
            run(70.0, 100.0, 200.0),
            run(60.0, 100.0, 100.0),
            run(50.0, 100.0, 100.0),
        ];
        assert_eq!(median_run(&runs).per_second, 60.0);
        let unsteady = [
            run(20.0, 10.0, 30.0),
            run(30.0, 10.0, 30.0),
            run(10.0, 10.0, 30.0),
        ];
        assert_eq!(
            median_run(&unsteady).per_second,
            20.0,
            "all, if none is steady"
        );
    }
}
