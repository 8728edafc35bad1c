//! `archy-bench market`: `GET /api/market` over a market of many listings
//! under a fixed request rate, against a static JSON file of the same size
//! served by the same server in the same run.
//!
//! A relay child process (the discovery benchmark's, `archy-bench
//! discovery-relay`) serves N synthetic listings (real keys, roots,
//! bindings, signed manifests); a node started in this process
//! ([`Node::start`], as `archy node run` starts it, with its own API off)
//! follows that relay until every listing is verified and indexed. This
//! process then serves the node's API router ([`archy_node::api::router`],
//! with its guard: Host check, body limit, concurrency cap, bearer token,
//! timeout) on a loopback port, exactly as the node's own API server does,
//! with one route added here and nowhere else: [`STATIC_PATH`], a file
//! holding the bytes that the measured market request answered, read from
//! disk for each request behind the same guard.
//!
//! `oha` drives each of the two paths at a fixed rate for a fixed time,
//! with latency correction (a request's latency counts from when it was
//! due, so a stall counts against every request it held up), the two
//! paths in alternating order, `runs` times, after an uncounted warm-up of
//! each. The figures are the medians over the runs of each path's p50 and
//! p99, and their ratios, market over static.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use archy_node::api::guard::{self, Guard};
use archy_node::api::token::ApiToken;
use archy_node::config::NodeConfig;
use archy_node::data_dir::DataDir;
use archy_node::node::Node;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;
use tokio::net::TcpListener;

use crate::discovery_run::RelayProcess;
use crate::http;
use crate::output::Output;

/// The static file's route: served only by this benchmark's server.
pub const STATIC_PATH: &str = "/bench/static.json";

/// What is measured and how.
pub struct MarketBench {
    /// Listings in the market.
    pub listings: usize,
    /// Publishers they come from.
    pub publishers: usize,
    /// The request measured: path and query, like `/api/market`.
    pub path: String,
    /// Requests per second `oha` sends to each path.
    pub rate: u32,
    /// Seconds of each measured run.
    pub seconds: u64,
    /// Seconds of the uncounted warm-up of each path.
    pub warmup: u64,
    /// Connections `oha` keeps open.
    pub connections: u32,
    /// Measured runs of each path.
    pub runs: usize,
    /// Longest the relay may take to start and the node to index.
    pub deadline: Duration,
    /// The `oha` binary.
    pub oha: PathBuf,
}

/// One path's latencies in one `oha` run.
#[derive(Debug, Clone, Serialize)]
struct Latency {
    /// Requests answered.
    requests: u64,
    /// Requests answered 200.
    ok: u64,
    /// Requests per second achieved.
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

#[derive(Debug, Serialize)]
struct Run {
    market: Latency,
    static_file: Latency,
    /// `market.p99_ms / static_file.p99_ms`.
    ratio_p99: f64,
}

#[derive(Debug, Serialize)]
struct Figures {
    listings: usize,
    indexed: usize,
    path: String,
    /// Listings on the page that request answers.
    page_listings: usize,
    /// Bytes of its answer (and of the static file).
    body_bytes: usize,
    rate: u32,
    seconds: u64,
    connections: u32,
    runs: Vec<Run>,
    market_p50_ms: f64,
    market_p99_ms: f64,
    static_p50_ms: f64,
    static_p99_ms: f64,
    /// Median market p50 over median static p50.
    ratio_p50: f64,
    /// Median market p99 over median static p99.
    ratio_p99: f64,
    /// Seconds the node took to verify and index every listing.
    index_seconds: f64,
}

/// The `oha` binary: `given`, else on `PATH`, else where `cargo install`
/// puts it.
pub fn locate_oha(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    given
        .or_else(|| crate::fetch::which("oha"))
        .or_else(|| {
            let home = std::env::var_os("HOME")?;
            Some(Path::new(&home).join(".cargo/bin/oha")).filter(|p| p.is_file())
        })
        .context(
            "oha is not on PATH: install it with `cargo install oha --locked`, \
             or name it with --oha PATH",
        )
}

/// Runs the benchmark and prints its figures.
pub fn run(bench: MarketBench, out: &Output) -> anyhow::Result<()> {
    ensure!(
        bench.runs >= 1 && bench.rate >= 1 && bench.seconds >= 1 && bench.connections >= 1,
        "--runs, --rate, --seconds and --connections must be at least 1"
    );
    ensure!(
        bench.path.starts_with("/api/market") || bench.path == "/" || bench.path.starts_with("/?"),
        "--path must be a market request, like /api/market?per_page=50, or the Discover page, like /?q=app"
    );
    eprintln!(
        "making {} signed listings from {} publishers in a relay process…",
        bench.listings, bench.publishers
    );
    let relay = RelayProcess::start(bench.listings, bench.publishers, None, bench.deadline)?;
    let dir = tempfile::Builder::new()
        .prefix("archy-bench-market")
        .tempdir()
        .context("cannot make a temporary directory")?;
    let figures = crate::runtime()?.block_on(measure(&bench, &relay.url, dir.path()));
    relay.stop();
    let f = figures?;
    out.result(&f, || report(&f));
    Ok(())
}

fn report(f: &Figures) -> String {
    let mut text = format!(
        "GET {} over {} listings ({} on the page, {} bytes), {} requests/s for {} s, {} connections, oha with latency correction\n\
         (the node verified and indexed them in {:.1} s)\n",
        f.path,
        f.indexed,
        f.page_listings,
        f.body_bytes,
        f.rate,
        f.seconds,
        f.connections,
        f.index_seconds
    );
    for (i, run) in f.runs.iter().enumerate() {
        text += &format!(
            "run {}: market p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({:.0}/s, {} of {} answered 200); \
             static p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({:.0}/s, {} of {}); p99 ratio {:.2}\n",
            i + 1,
            run.market.p50_ms,
            run.market.p99_ms,
            run.market.max_ms,
            run.market.rate,
            run.market.ok,
            run.market.requests,
            run.static_file.p50_ms,
            run.static_file.p99_ms,
            run.static_file.max_ms,
            run.static_file.rate,
            run.static_file.ok,
            run.static_file.requests,
            run.ratio_p99,
        );
    }
    text += &format!(
        "median of {} runs: market p50 {:.2} ms, p99 {:.2} ms; static file p50 {:.2} ms, p99 {:.2} ms; \
         market / static: p50 {:.2}, p99 {:.2}",
        f.runs.len(),
        f.market_p50_ms,
        f.market_p99_ms,
        f.static_p50_ms,
        f.static_p99_ms,
        f.ratio_p50,
        f.ratio_p99,
    );
    text
}

async fn measure(bench: &MarketBench, relay: &str, dir: &Path) -> anyhow::Result<Figures> {
    let mut config = NodeConfig::default();
    config.relay.port = 0;
    config.apps.enabled = false;
    config.api.enabled = false;
    config.discovery.relays = vec![relay.to_owned()];
    let data = DataDir::open(&dir.join("node"))?;
    let node = Node::start(data, None, config)
        .await
        .context("the node did not start")?;
    let measured = measure_node(bench, &node, dir).await;
    node.shutdown().await;
    measured
}

async fn measure_node(bench: &MarketBench, node: &Node, dir: &Path) -> anyhow::Result<Figures> {
    eprintln!("the node follows the relay…");
    let market = node.market().context("the node runs no discovery")?;
    let began = Instant::now();
    let indexed = loop {
        let indexed = market.indexed();
        if indexed >= bench.listings {
            break indexed;
        }
        if began.elapsed() > bench.deadline {
            bail!(
                "only {indexed} of {} listings indexed after {} s",
                bench.listings,
                bench.deadline.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let index_seconds = began.elapsed().as_secs_f64();

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (token, token_text) = ApiToken::load_or_create(&node.data_dir().api_token_file())?;
    let guard = Arc::new(Guard::new(token, addr));
    let (api, _) = archy_node::api::router(node.clone(), guard.clone());
    let file = dir.join("static.json");
    let served = file.clone();
    let app = Router::new()
        .route(
            STATIC_PATH,
            get(move || {
                let file = served.clone();
                async move {
                    match tokio::fs::read(&file).await {
                        Ok(bytes) => Ok(([(header::CONTENT_TYPE, "application/json")], bytes)),
                        Err(e) => {
                            Err((axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
                        }
                    }
                    .into_response()
                }
            }),
        )
        .layer(DefaultBodyLimit::max(guard::MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            guard.clone(),
            guard::check,
        ))
        .merge(api);
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
    });

    // A page of the web marketplace is asked with a browser's session
    // cookie; the API with the token. Both go with every request.
    let (cookie, _) = guard
        .sessions()
        .open_cookie(false)
        .context("no session for the pages")?;
    let cookie = cookie.split(';').next().unwrap_or_default().to_owned();
    let headers = vec![
        format!("Authorization: Bearer {token_text}"),
        format!("Cookie: {cookie}"),
    ];
    let body = http::get_with(addr, &bench.path, &headers).await?;
    let page_listings = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(page) => page["listings"].as_array().map_or(0, Vec::len),
        // A page: its cards.
        Err(_) => String::from_utf8_lossy(&body)
            .matches("<li class=\"card\"")
            .count(),
    };
    tokio::fs::write(&file, &body).await?;
    let static_body = http::get_with(addr, STATIC_PATH, &headers).await?;
    ensure!(
        static_body.len() == body.len(),
        "the static file answered {} bytes, the market {}",
        static_body.len(),
        body.len()
    );
    eprintln!(
        "{} answers {} bytes ({page_listings} listings); {STATIC_PATH} the same bytes from a file",
        bench.path,
        body.len()
    );

    let url = |path: &str| format!("http://{addr}{path}");
    let (market_url, static_url) = (url(&bench.path), url(STATIC_PATH));
    let oha = |url: String, seconds: u64| Oha {
        binary: &bench.oha,
        url,
        rate: bench.rate,
        seconds,
        connections: bench.connections,
        host: addr.to_string(),
        headers: headers.clone(),
    };
    if bench.warmup > 0 {
        eprintln!("warming up ({} s each)…", bench.warmup);
        oha(market_url.clone(), bench.warmup).run().await?;
        oha(static_url.clone(), bench.warmup).run().await?;
    }
    let mut runs = Vec::new();
    for i in 0..bench.runs {
        eprintln!("run {} of {}…", i + 1, bench.runs);
        let (market, static_file) = if i % 2 == 0 {
            let m = oha(market_url.clone(), bench.seconds).run().await?;
            (m, oha(static_url.clone(), bench.seconds).run().await?)
        } else {
            let s = oha(static_url.clone(), bench.seconds).run().await?;
            (oha(market_url.clone(), bench.seconds).run().await?, s)
        };
        runs.push(Run {
            ratio_p99: market.p99_ms / static_file.p99_ms,
            market,
            static_file,
        });
    }
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;

    let med = |f: fn(&Run) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    let (market_p50_ms, market_p99_ms) = (med(|r| r.market.p50_ms), med(|r| r.market.p99_ms));
    let (static_p50_ms, static_p99_ms) =
        (med(|r| r.static_file.p50_ms), med(|r| r.static_file.p99_ms));
    Ok(Figures {
        listings: bench.listings,
        indexed,
        path: bench.path.clone(),
        page_listings,
        body_bytes: body.len(),
        rate: bench.rate,
        seconds: bench.seconds,
        connections: bench.connections,
        runs,
        market_p50_ms,
        market_p99_ms,
        static_p50_ms,
        static_p99_ms,
        ratio_p50: market_p50_ms / static_p50_ms,
        ratio_p99: market_p99_ms / static_p99_ms,
        index_seconds,
    })
}

/// One `oha` run at a fixed rate.
struct Oha<'a> {
    binary: &'a Path,
    url: String,
    rate: u32,
    seconds: u64,
    connections: u32,
    /// The `Host` header: the address the guard accepts.
    host: String,
    /// The token's and the session cookie's headers.
    headers: Vec<String>,
}

impl Oha<'_> {
    async fn run(&self) -> anyhow::Result<Latency> {
        let mut command = tokio::process::Command::new(self.binary);
        command
            .args([
                "--no-tui",
                "--output-format",
                "json",
                "--latency-correction",
                // Requests open at the deadline are answered and counted,
                // not aborted.
                "--wait-ongoing-requests-after-deadline",
            ])
            .args(["--host", &self.host])
            .args(["-q", &self.rate.to_string()])
            .args(["-z", &format!("{}s", self.seconds)])
            .args(["-c", &self.connections.to_string()]);
        for header in &self.headers {
            command.args(["-H", header]);
        }
        let out = command
            .arg(&self.url)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .with_context(|| format!("cannot run {}", self.binary.display()))?;
        ensure!(
            out.status.success(),
            "oha failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value =
            serde_json::from_slice(&out.stdout).context("oha printed no JSON")?;
        latency(&report).with_context(|| format!("oha's report on {}: {report}", self.url))
    }
}

/// The figures of an `oha --output-format json` report (seconds in it).
fn latency(report: &serde_json::Value) -> anyhow::Result<Latency> {
    let seconds = |v: &serde_json::Value| v.as_f64().context("a latency is missing");
    let percentiles = &report["latencyPercentiles"];
    let codes = report["statusCodeDistribution"]
        .as_object()
        .context("no status codes")?;
    let requests: u64 = codes.values().filter_map(serde_json::Value::as_u64).sum();
    let ok = codes
        .get("200")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    let errors = report["errorDistribution"]
        .as_object()
        .context("no error counts")?;
    ensure!(
        ok > 0 && ok == requests && errors.is_empty(),
        "not every request was answered 200: {codes:?}, errors {errors:?}"
    );
    Ok(Latency {
        requests,
        ok,
        rate: report["summary"]["requestsPerSec"].as_f64().unwrap_or(0.0),
        p50_ms: 1000.0 * seconds(&percentiles["p50"])?,
        p99_ms: 1000.0 * seconds(&percentiles["p99"])?,
        max_ms: 1000.0 * seconds(&report["summary"]["slowest"])?,
    })
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oha_report_gives_milliseconds_and_refuses_failures() {
        let report = serde_json::json!({
            "summary": {"requestsPerSec": 199.9, "slowest": 0.030},
            "latencyPercentiles": {"p50": 0.0012, "p99": 0.0101},
            "statusCodeDistribution": {"200": 4000},
            "errorDistribution": {}
        });
        let l = latency(&report).unwrap();
        assert_eq!((l.requests, l.ok), (4000, 4000));
        assert!((l.p50_ms - 1.2).abs() < 1e-9 && (l.p99_ms - 10.1).abs() < 1e-9);
        let refused = serde_json::json!({
            "summary": {"requestsPerSec": 1.0, "slowest": 0.0},
            "latencyPercentiles": {"p50": 0.001, "p99": 0.001},
            "statusCodeDistribution": {"200": 10, "403": 2},
            "errorDistribution": {}
        });
        assert!(latency(&refused).is_err());
        let failed = serde_json::json!({
            "summary": {"requestsPerSec": 1.0, "slowest": 0.0},
            "latencyPercentiles": {"p50": 0.001, "p99": 0.001},
            "statusCodeDistribution": {"200": 10},
            "errorDistribution": {"connection closed": 1}
        });
        assert!(latency(&failed).is_err());
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
