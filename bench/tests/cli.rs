//! End-to-end: the real `archy-bench` binary, each system benchmark run at
//! a small size. Figures are never asserted, only that each was measured.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// `archy-bench args --json`, bounded in time, which must succeed.
fn json(args: &[&str]) -> Value {
    let out = bench(&[args, &["--json"]].concat());
    assert!(
        out.status.success(),
        "archy-bench {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("archy-bench prints JSON")
}

fn bench(args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("600")
        .arg(env!("CARGO_BIN_EXE_archy-bench"))
        .args(args)
        .output()
        .expect("archy-bench runs")
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The `archy` binary cargo built next to `archy-bench` (with
/// `archy-tuf-client`), which `cargo test --workspace` builds but
/// `cargo test -p archy-bench` alone does not: a test that needs it says
/// it was skipped when it is missing.
fn built_archy() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_BIN_EXE_archy-bench"))
        .parent()
        .unwrap();
    let archy = dir.join("archy");
    if archy.is_file() && dir.join("archy-tuf-client").is_file() {
        Some(archy)
    } else {
        eprintln!(
            "SKIPPED: no archy binary in {} (build it with `cargo build -p archy-node`)",
            dir.display()
        );
        None
    }
}

#[test]
fn help_lists_every_system_benchmark() {
    let out = bench(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for command in [
        "catalog",
        "fetch",
        "discovery",
        "apps",
        "market",
        "memory",
        "federation",
    ] {
        assert!(help.contains(&format!("  {command} ")), "{command}: {help}");
    }
    assert!(!help.contains("discovery-relay"), "a hidden child: {help}");
}

#[test]
fn a_missing_archy_binary_is_named_with_how_to_build_it() {
    let out = bench(&["fetch", "--size", "1kB", "--archy", "/nonexistent/archy"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/archy") && err.contains("cargo build"),
        "{err}"
    );
}

#[test]
fn fetch_bench_drives_archy_nodes_and_measures_one_and_two_providers() {
    let Some(archy) = built_archy() else {
        return;
    };
    let f = json(&[
        "fetch",
        "--size",
        "200kB",
        "--capped-size",
        "100kB",
        "--cap",
        "10MB",
        "--archy",
        s(&archy),
    ]);
    let single = f["single"].as_array().unwrap();
    assert_eq!(single[0]["tool"], "archy fetch", "{f}");
    assert!(single[0]["seconds"].as_f64().unwrap() > 0.0, "{f}");
    assert!(f["size_bytes"].as_u64().unwrap() > 200_000, "{f}");
    for run in ["one_provider", "two_providers"] {
        assert!(
            f[run]["megabytes_per_second"].as_f64().unwrap() > 0.0,
            "{run}: {f}"
        );
    }
}

#[test]
fn catalog_bench_refreshes_an_unchanged_catalog_with_one_request() {
    let Some(archy) = built_archy() else {
        return;
    };
    let f = json(&[
        "catalog",
        "--targets",
        "200",
        "--refreshes",
        "3",
        "--archy",
        s(&archy),
    ]);
    assert_eq!(f["targets"], 200);
    assert_eq!(
        f["first_refresh_requests"], 4,
        "root probe, timestamp, snapshot, targets"
    );
    assert_eq!(f["unchanged_requests_per_refresh"], 1.0, "{f}");
    assert!(f["first_refresh_process_peak_rss_kib"].as_i64().unwrap() > 0);
}

#[test]
fn discovery_bench_alongside_compares_per_cpu_second() {
    let f = json(&[
        "discovery",
        "--listings",
        "200",
        "--publishers",
        "2",
        "--queries",
        "10",
        "--deadline",
        "300",
        "--one-core",
        "--alongside",
    ]);
    let run = &f["runs"][0];
    let beside = &run["alongside"];
    let (schnorr, node) = (
        beside["schnorr_per_cpu_second"].as_f64().unwrap(),
        beside["node_per_cpu_second"].as_f64().unwrap(),
    );
    assert!(schnorr > 0.0 && node > 0.0, "{f}");
    assert!(
        (run["share"].as_f64().unwrap() - node / schnorr).abs() < 1e-9,
        "{f}"
    );
    assert_eq!(f["share"], run["share"], "{f}");
}

#[test]
fn discovery_bench_on_one_core_indexes_every_listing() {
    let f = json(&[
        "discovery",
        "--listings",
        "300",
        "--publishers",
        "3",
        "--queries",
        "20",
        "--deadline",
        "300",
        "--one-core",
        "--runs",
        "2",
    ]);
    assert_eq!(f["listings"], 300);
    assert_eq!(f["cores"], 1, "the node kept to one CPU: {f}");
    assert!(f["ingest_per_second"].as_f64().unwrap() > 0.0, "{f}");
    let runs = f["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{f}");
    assert!(
        runs.iter().any(|run| run["share"] == f["share"]),
        "the figures are one of the runs': {f}"
    );
    assert_eq!(
        f["steady_runs"].as_u64(),
        Some(runs.iter().filter(|run| run["steady"] == true).count() as u64),
        "{f}"
    );
    assert!(f["share"].as_f64().unwrap() > 0.0, "{f}");
    assert!(f["search_p99_ms"].as_f64().unwrap() > 0.0, "{f}");
    for yardstick in ["schnorr_per_second", "schnorr_before", "schnorr_after"] {
        assert!(f[yardstick].as_f64().unwrap() > 0.0, "{yardstick}: {f}");
    }
}

#[test]
fn market_bench_serves_the_market_and_a_file_of_its_size_from_one_server() {
    if which("oha").is_none() {
        eprintln!("SKIPPED: oha is not on PATH (cargo install oha --locked)");
        return;
    }
    let f = json(&[
        "market",
        "--listings",
        "200",
        "--publishers",
        "2",
        "--seconds",
        "1",
        "--warmup",
        "0",
        "--runs",
        "1",
        "--rate",
        "50",
    ]);
    assert_eq!(f["indexed"], 200, "{f}");
    assert_eq!(f["page_listings"], 24, "the default page: {f}");
    let run = &f["runs"][0];
    for path in ["market", "static_file"] {
        assert_eq!(run[path]["ok"], run[path]["requests"], "{path}: {f}");
        assert!(run[path]["p99_ms"].as_f64().unwrap() > 0.0, "{path}: {f}");
    }
    assert!(f["ratio_p99"].as_f64().unwrap() > 0.0, "{f}");
}

#[test]
fn memory_bench_reads_the_daemon_idle_and_at_its_peak() {
    let Some(archy) = built_archy() else {
        return;
    };
    let f = json(&[
        "memory",
        "--size",
        "2MB",
        "--runs",
        "1",
        "--idle",
        "1",
        "--archy",
        s(&archy),
    ]);
    let run = &f["runs"][0];
    let idle = run["idle"]["status"]["vm_rss"].as_u64().unwrap();
    assert!(idle > 0, "{f}");
    assert!(run["peak_kib"].as_u64().unwrap() > 0, "{f}");
    assert!(
        run["idle"]["regions"]
            .as_object()
            .is_some_and(|r| !r.is_empty()),
        "the mappings were read: {f}"
    );
    assert!(f["size_bytes"].as_u64().unwrap() > 2_000_000, "{f}");
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(tool))
        .find(|p| p.is_file())
}
