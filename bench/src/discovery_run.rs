//! `archy-bench discovery`: runs the relay in a child process (so this
//! process's memory is the ingest's alone) and measures against it.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use archy_registry::tuf::UtcTime;

use crate::discovery::{self, DiscoveryFigures, Plan};
use crate::output::Output;
use archy_node::shutdown::stop_requested;

use crate::runtime;

/// Longest first line the relay process may print (its URL).
const MAX_URL_LINE: u64 = 4096;

/// Starts the relay process, measures against it and prints the figures.
pub fn run(plan: Plan, one_core: bool, out: &Output) -> anyhow::Result<()> {
    let Plan {
        listings,
        publishers,
        ..
    } = plan;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if one_core && cpus < 2 {
        eprintln!("note: one CPU here, so the relay shares it with the node");
    }
    eprintln!("making {listings} signed listings from {publishers} publishers in a relay process…");
    let cpu = one_core.then(|| cpus - 1);
    let relay = RelayProcess::start(listings, publishers, cpu, plan.deadline)?;
    let url = relay.url.clone();
    eprintln!("relay up at {url}; following it…");
    if one_core {
        discovery::pin_to_cpu(0)?;
    }
    let dir = tempfile::tempdir().context("making a directory for the index")?;
    let figures = runtime()?.block_on(discovery::measure(&url, dir.path(), plan));
    let relay_cpu = relay.cpu_seconds();
    relay.stop();
    let f: DiscoveryFigures = figures?;
    eprintln!(
        "(the relay process used {relay_cpu:.1} CPU seconds in all, making the listings included)"
    );
    out.result(&f, || {
        let several = f.runs.len() > 1;
        let runs: Vec<String> = f
            .runs
            .iter()
            .enumerate()
            .map(|(i, run)| {
                let yardstick = match run.alongside {
                    Some(beside) => format!(
                        "yardstick beside it: Schnorr verify ran {:.0}/s per CPU second on that \
                         core ({:.0}/s alone before the ingest, {:.0} after); the node ingested \
                         {:.0} events per CPU second of its own: {:.0} % of it",
                        beside.schnorr_per_cpu_second,
                        run.schnorr_before,
                        run.schnorr_after,
                        beside.node_per_cpu_second,
                        100.0 * run.share,
                    ),
                    None => format!(
                        "yardstick: Schnorr verify alone runs {:.0}/s on that core ({:.0} before \
                         the ingest, {:.0} after); the ingest is {:.0} % of it{}",
                        run.yardstick(),
                        run.schnorr_before,
                        run.schnorr_after,
                        100.0 * run.share,
                        if run.steady {
                            ""
                        } else {
                            " (unsteady: the machine changed speed during the run)"
                        },
                    ),
                };
                format!(
                    "    {}{:.1} s, {:.0} events/s wall, {:.0} events per CPU second of the node\n    \
                     {}{yardstick}",
                    if several { format!("run {}: ", i + 1) } else { String::new() },
                    run.seconds,
                    run.per_second,
                    run.per_cpu_second,
                    if several { "       " } else { "" },
                )
            })
            .collect();
        let median = if several {
            let among = match f.steady_runs {
                0 => format!("{} runs, none of them steady", f.runs.len()),
                n if n == f.runs.len() => format!("{n} runs"),
                n => format!("the {n} steady runs of {}", f.runs.len()),
            };
            let rate = if f.runs.iter().any(|r| r.alongside.is_some()) {
                format!(
                    "{:.0} events per CPU second, {:.0} % of Schnorr verify beside it",
                    f.ingest_per_cpu_second,
                    100.0 * f.share
                )
            } else {
                format!(
                    "{:.0} events/s, {:.0} % of Schnorr verify alone",
                    f.ingest_per_second,
                    100.0 * f.share
                )
            };
            format!("\n    median of {among}: {rate}")
        } else {
            String::new()
        };
        format!(
            "ingest of {} listings from {} publishers over a local relay, verified and indexed \
             on {} core(s):\n{}{median}\n\
             search over {} listings ({} queries, 20 results each): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms\n\
             resident memory with all of them indexed: {:.0} MB",
            f.listings,
            f.publishers,
            f.cores,
            runs.join("\n"),
            f.listings,
            f.queries,
            f.search_p50_ms,
            f.search_p99_ms,
            f.search_max_ms,
            f.rss_mb
        )
    });
    Ok(())
}

/// The relay child process (`archy-bench discovery-relay`): it makes the
/// listings, serves them on loopback and runs until stopped.
pub struct RelayProcess {
    child: Child,
    /// Its `ws://` URL.
    pub url: String,
}

impl RelayProcess {
    /// Starts it with `listings` from `publishers`, kept to `cpu` if given,
    /// and waits at most `deadline` for its URL.
    pub fn start(
        listings: usize,
        publishers: usize,
        cpu: Option<usize>,
        deadline: Duration,
    ) -> anyhow::Result<Self> {
        let mut relay = Command::new(std::env::current_exe().context("finding archy-bench")?);
        relay
            .arg("discovery-relay")
            .args(["--listings", &listings.to_string()])
            .args(["--publishers", &publishers.to_string()]);
        if let Some(cpu) = cpu {
            relay.args(["--cpu", &cpu.to_string()]);
        }
        let mut child = relay
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the relay process")?;
        let stdout = child.stdout.take().context("the relay process's output")?;
        let (sender, first_line) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout)
                .take(MAX_URL_LINE)
                .read_line(&mut line);
            let _ = sender.send(read.map(|_| line));
        });
        match first_line.recv_timeout(deadline) {
            Ok(Ok(line)) if line.starts_with("ws://") => Ok(Self {
                child,
                url: line.trim().to_owned(),
            }),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "the relay process did not start within {} s: {other:?}",
                    deadline.as_secs()
                );
            }
        }
    }

    /// CPU seconds it has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        discovery::cpu_seconds(Some(self.child.id()))
    }

    /// Tells it to stop (closing its stdin), then makes sure it has.
    pub fn stop(mut self) {
        if let Some(mut stdin) = self.child.stdin.take() {
            let _ = stdin.write_all(b"done\n");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child: makes the listings, serves them, prints the URL, and runs
/// until its parent closes stdin or it is stopped.
pub fn relay(listings: usize, publishers: usize, cpu: Option<usize>) -> anyhow::Result<()> {
    if let Some(cpu) = cpu {
        discovery::pin_to_cpu(cpu)?;
    }
    let now = u64::try_from(UtcTime::now().unix()).unwrap_or(0);
    let events = discovery::generate(listings, publishers, now)?;
    runtime()?.block_on(async {
        let (_relay, url) = discovery::serve(&events).await?;
        drop(events);
        println!("{url}");
        std::io::stdout().flush()?;
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        });
        tokio::select! {
            _ = stdin_closed => {}
            _ = stop_requested() => {}
        }
        anyhow::Ok(())
    })
}
