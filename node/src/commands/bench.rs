//! `archy bench`: performance figures, printed, never asserted.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::ensure;
use archy_node::bench;

use crate::cli::BenchCommand;
use crate::output::Output;

pub fn run(cmd: BenchCommand, out: &Output) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Apps {
            app,
            runs,
            apps,
            passes,
            cycles,
            podman,
        } => {
            ensure!(
                runs >= 1 && passes >= 1 && cycles >= 1,
                "--runs, --passes and --cycles must be at least 1"
            );
            super::apps::bench(app, runs, apps, passes, cycles, &podman, out)?;
        }
        BenchCommand::Fetch {
            size,
            cap,
            capped_size,
            dir,
        } => {
            debug_build_note();
            super::bench_fetch::run(
                super::bench_fetch::FetchBench {
                    size,
                    cap,
                    capped_size,
                    dir,
                },
                out,
            )?;
        }
        BenchCommand::Discovery {
            listings,
            publishers,
            queries,
            deadline,
            one_core,
            runs,
            alongside,
        } => {
            ensure!(
                listings >= 1 && publishers >= 1 && queries >= 1 && runs >= 1,
                "--listings, --publishers, --queries and --runs must be at least 1"
            );
            debug_build_note();
            let plan = archy_node::discovery_bench::Plan {
                listings,
                publishers,
                queries,
                runs,
                alongside,
                deadline: std::time::Duration::from_secs(deadline),
            };
            super::bench_discovery::run(plan, one_core, out)?;
        }
        BenchCommand::DiscoveryRelay {
            listings,
            publishers,
            cpu,
        } => super::bench_discovery::relay(listings, publishers, cpu)?,
        BenchCommand::Manifest { seconds } => {
            ensure!(
                seconds > 0.0 && seconds <= 600.0,
                "--seconds must be more than 0 and at most 600"
            );
            debug_build_note();
            let figures = bench::manifest(Duration::from_secs_f64(seconds));
            out.result(&figures, || {
                let mut text = format!(
                    "sample: {} bytes of manifest YAML, {} bytes of signed envelope; one thread\n",
                    figures.manifest_yaml_bytes, figures.envelope_bytes
                );
                for f in [
                    &figures.raw_ed25519_verify,
                    &figures.envelope_verify,
                    &figures.signed_manifest_verify,
                    &figures.manifest_parse_validate,
                ] {
                    text += &format!(
                        "{:<44} {:>10.0} /s  {:>8.2} µs/op\n",
                        f.name, f.per_second, f.micros_per_op
                    );
                }
                text += "steps of signed manifest verify:\n";
                for f in &figures.breakdown {
                    text += &format!(
                        "  {:<42} {:>10.0} /s  {:>8.2} µs/op\n",
                        f.name, f.per_second, f.micros_per_op
                    );
                }
                text += &format!(
                    "of the raw Ed25519 verify rate: envelope verify {:.0}%, signed manifest verify {:.0}%",
                    figures.envelope_to_raw_ratio * 100.0,
                    figures.signed_manifest_to_raw_ratio * 100.0
                );
                text
            });
        }
        BenchCommand::Signatures { seconds } => {
            ensure!(
                seconds > 0.0 && seconds <= 600.0,
                "--seconds must be more than 0 and at most 600"
            );
            debug_build_note();
            let figures = archy_node::signatures_bench::signatures(
                Duration::from_secs_f64(seconds),
                archy_node::signatures_bench::BatchSizes::default(),
            );
            out.result(&figures, || {
                let mut lines = vec!["signature checks on one thread, per signature:".to_owned()];
                lines.extend(figures.iter().map(|f| {
                    format!(
                        "  {:<48} {:>9.0} /s  {:>7.2} µs",
                        f.name, f.per_second, f.micros_per_signature
                    )
                }));
                lines.join("\n")
            });
        }
        BenchCommand::Catalog { targets, refreshes } => {
            debug_build_note();
            let f = super::bench_catalog::run(targets, refreshes)?;
            out.result(&f, || {
                [
                    format!(
                        "catalog of {} targets (targets.json {} bytes), served over HTTP on loopback",
                        f.targets, f.targets_json_bytes
                    ),
                    format!(
                        "first refresh, archy-tuf-client process: {:.1} ms, peak RSS {} KiB",
                        f.first_refresh_process_ms, f.first_refresh_process_peak_rss_kib
                    ),
                    format!(
                        "first refresh, in process:               {:.1} ms, {} requests",
                        f.first_refresh_in_process_ms, f.first_refresh_requests
                    ),
                    format!(
                        "refresh of the unchanged catalog ({} runs): {:.2} requests each, median {:.0} µs in all, {:.0} µs of local work",
                        f.unchanged_refreshes,
                        f.unchanged_requests_per_refresh,
                        f.unchanged_refresh_median_us,
                        f.unchanged_local_median_us
                    ),
                ]
                .join("\n")
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Figures from a debug build mislead; says so.
fn debug_build_note() {
    if cfg!(debug_assertions) {
        eprintln!("note: this is a debug build; build with --release for meaningful figures");
    }
}
